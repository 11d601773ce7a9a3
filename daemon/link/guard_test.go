package link_test

import (
	"errors"
	"testing"

	"xhad/daemon/link"
)

func TestGuard(t *testing.T) {
	type step struct {
		epoch, seq uint64
		want       error
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first message of any numbers", []step{{0, 0, nil}}},
		{"increasing seq", []step{{4, 1, nil}, {4, 2, nil}, {4, 10, nil}}},
		{"same seq is a replay", []step{{4, 1, nil}, {4, 1, link.ErrReplay}}},
		{"lower seq is a replay", []step{{4, 5, nil}, {4, 3, link.ErrReplay}, {4, 6, nil}}},
		{"a rejected frame changes nothing", []step{{4, 5, nil}, {3, 9, link.ErrStaleEpoch}, {4, 4, link.ErrReplay}, {4, 6, nil}}},
		{"restart: new epoch, seq from 1", []step{{4, 500, nil}, {5, 1, nil}, {5, 2, nil}}},
		{"older epoch is stale even with a high seq", []step{{5, 1, nil}, {4, 1000, link.ErrStaleEpoch}}},
		{"largest numbers", []step{{^uint64(0), ^uint64(0) - 1, nil}, {^uint64(0), ^uint64(0), nil}, {^uint64(0), ^uint64(0), link.ErrReplay}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g link.Guard
			if _, _, ok := g.Last(); ok {
				t.Fatal("a new guard reports a last message")
			}
			var lastEpoch, lastSeq uint64
			for i, s := range tt.steps {
				err := g.Accept(s.epoch, s.seq)
				if !errors.Is(err, s.want) || (s.want == nil && err != nil) {
					t.Fatalf("step %d Accept(%d, %d) = %v, want %v", i, s.epoch, s.seq, err, s.want)
				}
				if err == nil {
					lastEpoch, lastSeq = s.epoch, s.seq
				}
				if e, q, ok := g.Last(); !ok || e != lastEpoch || q != lastSeq {
					t.Fatalf("step %d: Last() = %d, %d, %v; want %d, %d, true", i, e, q, ok, lastEpoch, lastSeq)
				}
			}
		})
	}
}

func TestGuardReasons(t *testing.T) {
	var g link.Guard
	if err := g.Accept(2, 2); err != nil {
		t.Fatal(err)
	}
	if got := link.Reason(g.Accept(2, 2)); got != "replay" {
		t.Errorf("replay reason %q", got)
	}
	if got := link.Reason(g.Accept(1, 3)); got != "stale-epoch" {
		t.Errorf("stale epoch reason %q", got)
	}
}
