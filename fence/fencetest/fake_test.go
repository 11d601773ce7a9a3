package fencetest

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"xhad/fence"
)

func TestFake(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	clock := t0
	f := New(fence.Config{Table: "xhad", PeerAddrs: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, ReplicationPorts: []int{7789}},
		func() time.Time { return clock })
	if err := f.FencePeer(ctx, "peer dead"); err != nil {
		t.Fatal(err)
	}
	clock = t0.Add(time.Minute)
	if err := f.FencePeer(ctx, "again"); err != nil { // idempotent: keeps since and why
		t.Fatal(err)
	}
	got, _ := f.Fences(ctx)
	if len(got) != 1 || got[0] != (fence.Fence{Kind: fence.KindPeer, Since: t0, Why: "peer dead"}) {
		t.Errorf("Fences = %+v", got)
	}
	if r, err := f.Rules(); err != nil || len(r) != 4 {
		t.Errorf("Rules: %d, %v", len(r), err)
	}
	// Like the real table, a self fence with nothing to cut is refused.
	if err := f.SelfFence(ctx, "lost"); !errors.Is(err, fence.ErrNothingToFence) {
		t.Errorf("SelfFence without interfaces: %v", err)
	}
	boom := errors.New("netlink: operation not permitted")
	f.Fail("Unfence", boom)
	if err := f.Unfence(ctx, true, true); !errors.Is(err, boom) {
		t.Errorf("Unfence with a failure: %v", err)
	}
	if got, _ := f.Fences(ctx); len(got) != 1 {
		t.Errorf("a failed Unfence changed the table: %+v", got)
	}
	f.Fail("Unfence", nil)
	if err := f.Unfence(ctx, true, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Fences(ctx); len(got) != 0 {
		t.Errorf("after Unfence: %+v", got)
	}
	want := []string{"FencePeer(peer dead)", "FencePeer(again)", "SelfFence(lost)", "Unfence(peer=true,self=true)", "Unfence(peer=true,self=false)"}
	if c := f.Calls(); len(c) != len(want) {
		t.Errorf("Calls = %q, want %q", c, want)
	} else {
		for i := range want {
			if c[i] != want[i] {
				t.Errorf("Calls = %q, want %q", c, want)
				break
			}
		}
	}
}

func TestDaemonDownOutcome(t *testing.T) {
	ctx := context.Background()
	f := New(fence.Config{Table: "xhad", PeerAddrs: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, ReplicationPorts: []int{7789}}, nil)
	if code, _ := fence.ExitFor(fence.DaemonDownOutcome(ctx, f)); code != fence.ExitNotFenced {
		t.Errorf("daemon down, no peer fence: exit %d, want %d", code, fence.ExitNotFenced)
	}
	if err := f.FencePeer(ctx, "peer dead"); err != nil {
		t.Fatal(err)
	}
	if code, _ := fence.ExitFor(fence.DaemonDownOutcome(ctx, f)); code != fence.ExitPeerUnreachable {
		t.Errorf("daemon down, peer fence in place: exit %d, want %d", code, fence.ExitPeerUnreachable)
	}
	f.Fail("Fences", errors.New("netlink: permission denied"))
	if code, _ := fence.ExitFor(fence.DaemonDownOutcome(ctx, f)); code != fence.ExitNotFenced {
		t.Errorf("daemon down, table unreadable: exit %d, want %d", code, fence.ExitNotFenced)
	}
}
