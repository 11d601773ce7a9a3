package linktest_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"xhad/daemon/link"
	"xhad/daemon/link/linktest"
)

// recvNow returns the frame waiting at t, if any, without blocking: Recv
// runs in a goroutine that the synctest bubble lets settle.
func recvNow(t *testing.T, tr *linktest.Transport) ([]byte, bool) {
	t.Helper()
	got := make(chan []byte, 1)
	go func() {
		f, err := tr.Recv()
		if err == nil {
			got <- f
		}
	}()
	synctest.Wait()
	select {
	case f := <-got:
		return f, true
	default:
		tr.Close() // ends the blocked Recv; the test is done with this end
		return nil, false
	}
}

func TestPairDeliversInOrderBothWays(t *testing.T) {
	a, b := linktest.Pair()
	for i := range 5 {
		if err := a.Send([]byte{'a', byte(i)}); err != nil {
			t.Fatal(err)
		}
		if err := b.Send([]byte{'b', byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		for _, tc := range []struct {
			end  *linktest.Transport
			want []byte
		}{{b, []byte{'a', byte(i)}}, {a, []byte{'b', byte(i)}}} {
			f, err := tc.end.Recv()
			if err != nil || !slices.Equal(f, tc.want) {
				t.Fatalf("Recv = %q, %v; want %q", f, err, tc.want)
			}
		}
	}
}

func TestPairSendCopiesTheFrame(t *testing.T) {
	a, b := linktest.Pair()
	frame := []byte("original")
	a.Send(frame)
	copy(frame, "changed!")
	if f, _ := b.Recv(); string(f) != "original" {
		t.Fatalf("received %q: the pair kept the caller's buffer", f)
	}
}

func TestPairCuts(t *testing.T) {
	tests := []struct {
		name       string
		act        func(a, b *linktest.Transport)
		aToB, bToA bool // whether frames get through afterwards
	}{
		{"nothing", func(a, b *linktest.Transport) {}, true, true},
		{"cut", func(a, b *linktest.Transport) { a.Cut() }, false, false},
		{"cut from the other end", func(a, b *linktest.Transport) { b.Cut() }, false, false},
		{"cut one way from a", func(a, b *linktest.Transport) { a.CutOneWay() }, false, true},
		{"cut one way from b", func(a, b *linktest.Transport) { b.CutOneWay() }, true, false},
		{"cut one way both", func(a, b *linktest.Transport) { a.CutOneWay(); b.CutOneWay() }, false, false},
		{"cut then heal", func(a, b *linktest.Transport) { a.Cut(); b.Heal() }, true, true},
		{"one way then heal", func(a, b *linktest.Transport) { b.CutOneWay(); a.Heal() }, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a, b := linktest.Pair()
				tt.act(a, b)
				a.Send([]byte("from a"))
				b.Send([]byte("from b"))
				for _, d := range []struct {
					name     string
					from, to *linktest.Transport
					want     bool
				}{{"a -> b", a, b, tt.aToB}, {"b -> a", b, a, tt.bToA}} {
					sent, delivered := d.from.Counts()
					f, got := recvNow(t, d.to)
					if got != d.want || sent != 1 || (delivered == 1) != d.want {
						t.Errorf("%s: received %q (%v), sent %d, delivered %d; want through=%v", d.name, f, got, sent, delivered, d.want)
					}
				}
			})
		})
	}
}

func TestPairHealDoesNotReplayCutFrames(t *testing.T) {
	a, b := linktest.Pair()
	a.Cut()
	a.Send([]byte("lost"))
	a.Heal()
	a.Send([]byte("after heal"))
	if f, err := b.Recv(); err != nil || string(f) != "after heal" {
		t.Fatalf("Recv = %q, %v; want the frame sent after Heal", f, err)
	}
}

// lossPattern sends n frames from a with loss p and seed and returns which
// arrived.
func lossPattern(t *testing.T, p float64, seed int64, n int) []int {
	t.Helper()
	a, b := linktest.Pair()
	a.SetLoss(p, seed)
	for i := range n {
		a.Send([]byte(fmt.Sprint(i)))
	}
	sent, delivered := a.Counts()
	if sent != uint64(n) {
		t.Fatalf("sent %d, want %d", sent, n)
	}
	var got []int
	for range delivered {
		f, err := b.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var i int
		fmt.Sscan(string(f), &i)
		got = append(got, i)
	}
	return got
}

func TestPairLossIsDeterministic(t *testing.T) {
	const n = 1000
	first := lossPattern(t, 0.3, 42, n)
	again := lossPattern(t, 0.3, 42, n)
	other := lossPattern(t, 0.3, 43, n)
	if !slices.Equal(first, again) {
		t.Fatalf("same seed, different losses:\n%v\n%v", first, again)
	}
	if slices.Equal(first, other) {
		t.Fatal("seeds 42 and 43 lose the same frames")
	}
	if !slices.IsSorted(first) {
		t.Fatal("lossy link reordered frames")
	}
	if len(first) < 600 || len(first) > 800 {
		t.Fatalf("%d of %d frames arrived with 30%% loss", len(first), n)
	}
	if got := lossPattern(t, 0, 42, n); len(got) != n {
		t.Fatalf("loss 0: %d of %d arrived", len(got), n)
	}
	if got := lossPattern(t, 1, 42, n); len(got) != 0 {
		t.Fatalf("loss 1: %d of %d arrived", len(got), n)
	}
}

func TestPairLossIsOneWay(t *testing.T) {
	a, b := linktest.Pair()
	a.SetLoss(1, 1)
	b.Send([]byte("b is not lossy"))
	if f, err := a.Recv(); err != nil || string(f) != "b is not lossy" {
		t.Fatalf("Recv = %q, %v", f, err)
	}
}

func TestPairDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := linktest.Pair()
		a.SetDelay(2 * time.Second)
		a.Send([]byte("slow"))
		a.SetDelay(0)
		a.Send([]byte("fast but behind")) // order is kept
		start := time.Now()
		f, err := b.Recv()
		if err != nil || string(f) != "slow" {
			t.Fatalf("Recv = %q, %v", f, err)
		}
		if waited := time.Since(start); waited != 2*time.Second {
			t.Fatalf("delayed frame arrived after %s (bubble time), want 2s", waited)
		}
		if f, err := b.Recv(); err != nil || string(f) != "fast but behind" {
			t.Fatalf("Recv = %q, %v", f, err)
		}
		if time.Since(start) != 2*time.Second {
			t.Fatal("the second frame waited longer than the first")
		}
	})
}

func TestPairInject(t *testing.T) {
	a, b := linktest.Pair()
	a.Cut()
	b.Inject([]byte("forged"))
	if f, err := b.Recv(); err != nil || string(f) != "forged" {
		t.Fatalf("Recv = %q, %v; want the injected frame despite the cut", f, err)
	}
	if sent, _ := a.Counts(); sent != 0 {
		t.Fatalf("an injected frame counted as sent by the other end: %d", sent)
	}
}

func TestPairClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := linktest.Pair()
		errc := make(chan error, 1)
		go func() {
			_, err := b.Recv()
			errc <- err
		}()
		synctest.Wait()
		b.Close()
		if err := <-errc; !errors.Is(err, link.ErrClosed) {
			t.Fatalf("blocked Recv after Close: %v", err)
		}
		if err := b.Send([]byte("x")); !errors.Is(err, link.ErrClosed) {
			t.Fatalf("Send after Close: %v", err)
		}
		if err := a.Send([]byte("to a closed end")); err != nil {
			t.Fatalf("Send to a closed end: %v, want nil as UDP would", err)
		}
		if _, delivered := a.Counts(); delivered != 0 {
			t.Fatalf("delivered %d frames to a closed end", delivered)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

func TestPairQueueLimit(t *testing.T) {
	a, b := linktest.Pair()
	for i := range linktest.QueueLimit + 10 {
		a.Send([]byte{byte(i)})
	}
	if sent, delivered := a.Counts(); sent != linktest.QueueLimit+10 || delivered != linktest.QueueLimit {
		t.Fatalf("sent %d delivered %d, want %d and %d", sent, delivered, linktest.QueueLimit+10, linktest.QueueLimit)
	}
	if f, _ := b.Recv(); f[0] != 0 {
		t.Fatalf("first frame %d, want 0 (the newest are dropped)", f[0])
	}
}

// The pair plugs into a link.Link.
var _ link.Transport = (*linktest.Transport)(nil)
