package link_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"xhad/daemon/link"
	"xhad/daemon/link/linktest"
)

const waitLong = 10 * time.Second

// runLink starts l.Run and returns its output and a channel closed when Run
// returns. The test's end closes the link and waits for Run.
func runLink(t *testing.T, ctx context.Context, l *link.Link, buffer int) (<-chan link.Received, <-chan struct{}) {
	t.Helper()
	out := make(chan link.Received, buffer)
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(ctx, out)
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return out, done
}

func TestLinkExchangeAndStats(t *testing.T) {
	ca, cb := codecs()
	ta, tb := linktest.Pair()
	la, lb := link.NewLink("mem", ta, ca), link.NewLink("mem", tb, cb)
	outA, _ := runLink(t, t.Context(), la, 8)
	outB, _ := runLink(t, t.Context(), lb, 8)

	before := time.Now()
	for seq := uint64(1); seq <= 3; seq++ {
		if err := la.Send(link.Message{Kind: link.Heartbeat, Epoch: 1, Seq: seq, Body: []byte("A")}); err != nil {
			t.Fatal(err)
		}
		r := receive(t, outB, waitLong)
		if err := sameMessage(r.Msg, link.Message{Cluster: testCluster, From: "a", Kind: link.Heartbeat, Epoch: 1, Seq: seq, Body: []byte("A")}); err != nil {
			t.Fatal(err)
		}
		if r.Link != "mem" || r.At.Before(before) {
			t.Fatalf("received on %q at %v (test started %v)", r.Link, r.At, before)
		}
	}
	if err := lb.Send(link.Message{Kind: link.Goodbye, Epoch: 9, Seq: 1}); err != nil {
		t.Fatal(err)
	}
	if r := receive(t, outA, waitLong); r.Msg.Kind != link.Goodbye || r.Msg.From != "b" {
		t.Fatalf("a received %+v", r.Msg)
	}
	sa, sb := la.Stats(), lb.Stats()
	if sa.Name != "mem" || sa.Tx != 3 || sa.Rx != 1 || sb.Tx != 1 || sb.Rx != 3 || sa.SendErrors != 0 {
		t.Fatalf("stats a: %+v\nstats b: %+v", sa, sb)
	}
	if sb.LastRx.Before(before) || len(sb.Dropped) != 0 {
		t.Fatalf("stats b: %+v", sb)
	}
}

func TestLinkDropsAndCountsBadFrames(t *testing.T) {
	ca, cb := codecs()
	ta, tb := linktest.Pair()
	lb := link.NewLink("mem", tb, cb)
	outB, _ := runLink(t, t.Context(), lb, 16)

	heartbeat := func(epoch, seq uint64) link.Message {
		return link.Message{Kind: link.Heartbeat, Epoch: epoch, Seq: seq}
	}
	first := mustSeal(t, ca, heartbeat(5, 10))
	if err := ta.Send(first); err != nil {
		t.Fatal(err)
	}
	if r := receive(t, outB, waitLong); r.Msg.Seq != 10 {
		t.Fatalf("got %+v", r.Msg)
	}
	forgeries := []struct {
		frame  []byte
		reason string
	}{
		{first, "replay"},
		{mustSeal(t, ca, heartbeat(5, 9)), "replay"},
		{mustSeal(t, ca, heartbeat(4, 11)), "stale-epoch"},
		{mustSeal(t, link.NewCodec(otherKey, testCluster, "a"), heartbeat(5, 11)), "auth"},
		{mustSeal(t, link.NewCodec(testKey, "other", "a"), heartbeat(5, 12)), "cluster"},
		{mustSeal(t, cb, heartbeat(5, 13)), "self"},
		{first[:30], "truncated"},
		{[]byte("junk junk junk"), "corrupt"},
		{make([]byte, link.MaxFrameSize+1), "oversize"},
	}
	want := map[string]uint64{}
	for _, f := range forgeries {
		tb.Inject(f.frame)
		want[f.reason]++
	}
	// A good frame after all of them is still accepted, so they were all
	// processed (in order) before it.
	if err := ta.Send(mustSeal(t, ca, heartbeat(5, 20))); err != nil {
		t.Fatal(err)
	}
	if r := receive(t, outB, waitLong); r.Msg.Seq != 20 {
		t.Fatalf("a forged frame was accepted: %+v", r.Msg)
	}
	expectNone(t, outB)
	s := lb.Stats()
	if !maps.Equal(s.Dropped, want) || s.Rx != 2 {
		t.Fatalf("dropped %v rx %d, want dropped %v rx 2", s.Dropped, s.Rx, want)
	}
}

func TestLinkSameMessageOncePerLink(t *testing.T) {
	ca, cb := codecs()
	udpA, udpB := linktest.Pair()
	serA, serB := linktest.Pair()
	sendUDP, sendSerial := link.NewLink("udp", udpA, ca), link.NewLink("serial", serA, ca)
	recvUDP, recvSerial := link.NewLink("udp", udpB, cb), link.NewLink("serial", serB, cb)
	out := make(chan link.Received, 16)
	for _, l := range []*link.Link{recvUDP, recvSerial} {
		done := make(chan struct{})
		go func() { defer close(done); l.Run(t.Context(), out) }()
		t.Cleanup(func() { l.Close(); <-done })
	}
	m := link.Message{Kind: link.Heartbeat, Epoch: 3, Seq: 1}
	frame := mustSeal(t, ca, m)
	for _, l := range []*link.Link{sendUDP, sendSerial} {
		if err := l.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	// The same frame again on both links, as an attacker would replay it.
	udpB.Inject(frame)
	serB.Inject(frame)
	if err := sendUDP.Send(link.Message{Kind: link.Heartbeat, Epoch: 3, Seq: 2}); err != nil {
		t.Fatal(err)
	}
	if err := sendSerial.Send(link.Message{Kind: link.Heartbeat, Epoch: 3, Seq: 2}); err != nil {
		t.Fatal(err)
	}
	got := map[string][]uint64{}
	for range 4 {
		r := receive(t, out, waitLong)
		got[r.Link] = append(got[r.Link], r.Msg.Seq)
	}
	expectNone(t, out)
	for _, name := range []string{"udp", "serial"} {
		if seqs := got[name]; len(seqs) != 2 || seqs[0] != 1 || seqs[1] != 2 {
			t.Errorf("link %s delivered seqs %v, want [1 2]", name, seqs)
		}
	}
	for _, l := range []*link.Link{recvUDP, recvSerial} {
		if s := l.Stats(); s.Rx != 2 || s.Dropped["replay"] != 1 {
			t.Errorf("link %s: %s, want rx 2 and one replay", s.Name, droppedString(s))
		}
	}
}

func TestLinkBacklogDropsInsteadOfBlocking(t *testing.T) {
	ca, cb := codecs()
	ta, tb := linktest.Pair()
	lb := link.NewLink("mem", tb, cb, link.WithBacklogTimeout(5*time.Millisecond))
	out, _ := runLink(t, t.Context(), lb, 0) // nobody reads out
	for seq := uint64(1); seq <= 3; seq++ {
		if err := ta.Send(mustSeal(t, ca, link.Message{Kind: link.Heartbeat, Epoch: 1, Seq: seq})); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, waitLong, "three messages dropped as backlog", func() (bool, string) {
		s := lb.Stats()
		return s.Dropped["backlog"] == 3, droppedString(s)
	})
	// The consumer comes back: the link still delivers.
	if err := ta.Send(mustSeal(t, ca, link.Message{Kind: link.Heartbeat, Epoch: 1, Seq: 4})); err != nil {
		t.Fatal(err)
	}
	if r := receive(t, out, waitLong); r.Msg.Seq != 4 {
		t.Fatalf("got %+v", r.Msg)
	}
}

func TestLinkRunReturns(t *testing.T) {
	tests := []struct {
		name string
		stop func(cancel context.CancelFunc, l *link.Link)
	}{
		{"context done", func(cancel context.CancelFunc, _ *link.Link) { cancel() }},
		{"link closed", func(_ context.CancelFunc, l *link.Link) { l.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, cb := codecs()
			_, tb := linktest.Pair()
			lb := link.NewLink("mem", tb, cb)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			_, done := runLink(t, ctx, lb, 1)
			tt.stop(cancel, lb)
			select {
			case <-done:
			case <-time.After(waitLong):
				t.Fatal("Run did not return")
			}
			// After a cancelled context the link can still send (a goodbye).
			err := lb.Send(link.Message{Kind: link.Goodbye, Epoch: 1, Seq: 1})
			if closed := tt.name == "link closed"; closed != (err != nil) {
				t.Fatalf("send after Run returned: %v", err)
			}
		})
	}
}

func TestLinkSendErrors(t *testing.T) {
	ca, _ := codecs()
	ta, _ := linktest.Pair()
	la := link.NewLink("mem", ta, ca)
	if err := la.Send(link.Message{Kind: 0}); err == nil {
		t.Fatal("sent a message of an invalid kind")
	}
	ta.Close()
	err := la.Send(link.Message{Kind: link.Heartbeat, Epoch: 1, Seq: 1})
	if !errors.Is(err, link.ErrClosed) {
		t.Fatalf("send on a closed transport: %v", err)
	}
	if s := la.Stats(); s.SendErrors != 2 || s.Tx != 0 {
		t.Fatalf("stats %+v, want 2 send errors", s)
	}
}

// flakyTransport fails Recv a few times before it works.
type flakyTransport struct {
	link.Transport
	failures chan struct{}
}

func (f *flakyTransport) Recv() ([]byte, error) {
	select {
	case <-f.failures:
		return nil, errors.New("transient failure")
	default:
		return f.Transport.Recv()
	}
}

func TestLinkSurvivesTransientRecvErrors(t *testing.T) {
	ca, cb := codecs()
	ta, tb := linktest.Pair()
	flaky := &flakyTransport{Transport: tb, failures: make(chan struct{}, 2)}
	flaky.failures <- struct{}{}
	flaky.failures <- struct{}{}
	lb := link.NewLink("mem", flaky, cb)
	out, _ := runLink(t, t.Context(), lb, 1)
	if err := ta.Send(mustSeal(t, ca, link.Message{Kind: link.Heartbeat, Epoch: 1, Seq: 1})); err != nil {
		t.Fatal(err)
	}
	if r := receive(t, out, waitLong); r.Msg.Seq != 1 {
		t.Fatalf("got %+v", r.Msg)
	}
	if s := lb.Stats(); s.RecvErrors != 2 {
		t.Fatalf("recv errors %d, want 2", s.RecvErrors)
	}
}
