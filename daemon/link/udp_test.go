package link_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"xhad/daemon/link"
)

// udpPair binds two UDP transports on 127.0.0.1 and 127.0.0.2, each sending
// to the other. Ports are picked by the kernel first; another process could
// take one in between, so binding is retried.
func udpPair(t *testing.T) (a, b *link.UDP) {
	t.Helper()
	var lastErr error
	for range 10 {
		pa, pb := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.2")
		addrA, addrB := fmt.Sprintf("127.0.0.1:%d", pa), fmt.Sprintf("127.0.0.2:%d", pb)
		a, err := link.NewUDP(addrA, addrB)
		if err != nil {
			lastErr = err
			continue
		}
		b, err := link.NewUDP(addrB, addrA)
		if err != nil {
			a.Close()
			lastErr = err
			continue
		}
		t.Cleanup(func() { a.Close(); b.Close() })
		return a, b
	}
	t.Fatalf("bind a UDP pair: %v", lastErr)
	return nil, nil
}

func freePort(t *testing.T, ip string) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// stranger is a third socket on ip, for forged datagrams.
func stranger(t *testing.T, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sendFrom(t *testing.T, c *net.UDPConn, to netip.AddrPort, frame []byte) {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort(frame, to); err != nil {
		t.Fatal(err)
	}
}

func TestUDPExchange(t *testing.T) {
	ua, ub := udpPair(t)
	ca, cb := codecs()
	la, lb := link.NewLink("udp", ua, ca), link.NewLink("udp", ub, cb)
	outA, _ := runLink(t, t.Context(), la, 8)
	outB, _ := runLink(t, t.Context(), lb, 8)

	big := make([]byte, link.MaxBody)
	for i := range big {
		big[i] = byte(i)
	}
	for seq := uint64(1); seq <= 5; seq++ {
		body := []byte(fmt.Sprintf("beat %d", seq))
		if seq == 5 {
			body = big
		}
		if err := la.Send(link.Message{Kind: link.Heartbeat, Epoch: 2, Seq: seq, Body: body}); err != nil {
			t.Fatal(err)
		}
		r := receive(t, outB, waitLong)
		if err := sameMessage(r.Msg, link.Message{Cluster: testCluster, From: "a", Kind: link.Heartbeat, Epoch: 2, Seq: seq, Body: body}); err != nil {
			t.Fatal(err)
		}
		if err := lb.Send(link.Message{Kind: link.Reply, Epoch: 7, Seq: seq, Body: body}); err != nil {
			t.Fatal(err)
		}
		if r := receive(t, outA, waitLong); r.Msg.From != "b" || r.Msg.Seq != seq || r.Link != "udp" {
			t.Fatalf("a got %+v on %s", r.Msg, r.Link)
		}
	}
	if sa, sb := la.Stats(), lb.Stats(); sa.Tx != 5 || sa.Rx != 5 || sb.Tx != 5 || sb.Rx != 5 || len(sa.Dropped)+len(sb.Dropped) != 0 {
		t.Fatalf("a: %s\nb: %s", droppedString(sa), droppedString(sb))
	}
}

func TestUDPDropsForgedDatagrams(t *testing.T) {
	ua, ub := udpPair(t)
	ca, cb := codecs()
	lb := link.NewLink("udp", ub, cb)
	outB, _ := runLink(t, t.Context(), lb, 8)
	la := link.NewLink("udp", ua, ca)

	hb := func(epoch, seq uint64) link.Message {
		return link.Message{Kind: link.Heartbeat, Epoch: epoch, Seq: seq}
	}
	if err := la.Send(hb(5, 10)); err != nil {
		t.Fatal(err)
	}
	if r := receive(t, outB, waitLong); r.Msg.Seq != 10 {
		t.Fatalf("got %+v", r.Msg)
	}
	// A third socket on the peer's IP passes the source check: the codec
	// and the guard must stop it.
	forger := stranger(t, "127.0.0.1")
	to := ub.LocalAddr()
	forgeries := []struct {
		frame  []byte
		reason string
	}{
		{mustSeal(t, ca, hb(5, 10)), "replay"},
		{mustSeal(t, ca, hb(4, 99)), "stale-epoch"},
		{mustSeal(t, link.NewCodec(otherKey, testCluster, "a"), hb(5, 11)), "auth"},
		{mustSeal(t, link.NewCodec(testKey, "other", "a"), hb(5, 12)), "cluster"},
		{mustSeal(t, cb, hb(5, 13)), "self"},
		{[]byte("XHAD"), "truncated"},
		{[]byte("definitely not a heartbeat"), "corrupt"},
		{make([]byte, link.MaxFrameSize+100), "oversize"},
	}
	want := map[string]uint64{}
	for _, f := range forgeries {
		sendFrom(t, forger, to, f.frame)
		want[f.reason]++
	}
	waitFor(t, waitLong, "every forged datagram counted", func() (bool, string) {
		s := lb.Stats()
		for reason, n := range want {
			if s.Dropped[reason] != n {
				return false, droppedString(s)
			}
		}
		return len(s.Dropped) == len(want), droppedString(s)
	})
	expectNone(t, outB)
	if err := la.Send(hb(5, 11)); err != nil {
		t.Fatal(err)
	}
	if r := receive(t, outB, waitLong); r.Msg.Seq != 11 {
		t.Fatalf("got %+v", r.Msg)
	}
	if s := lb.Stats(); s.Rx != 2 {
		t.Fatalf("rx %d, want 2", s.Rx)
	}
}

func TestUDPDropsNonPeerSource(t *testing.T) {
	_, ub := udpPair(t)
	ca, cb := codecs()
	lb := link.NewLink("udp", ub, cb)
	outB, _ := runLink(t, t.Context(), lb, 8)

	// A perfectly valid frame, but from 127.0.0.3: not the peer.
	outsider := stranger(t, "127.0.0.3")
	for seq := uint64(1); seq <= 3; seq++ {
		sendFrom(t, outsider, ub.LocalAddr(), mustSeal(t, ca, link.Message{Kind: link.Heartbeat, Epoch: 1, Seq: seq}))
	}
	waitFor(t, waitLong, "datagrams from a non-peer counted as source", func() (bool, string) {
		s := lb.Stats()
		return s.Dropped["source"] == 3, droppedString(s)
	})
	expectNone(t, outB)
	if s := lb.Stats(); s.Rx != 0 || len(s.Dropped) != 1 {
		t.Fatalf("%s, want only 3 source drops", droppedString(s))
	}
}

func TestUDPRecvAfterClose(t *testing.T) {
	ua, _ := udpPair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := ua.Recv()
		errc <- err
	}()
	if err := ua.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, link.ErrClosed) {
		t.Fatalf("Recv after Close: %v, want ErrClosed", err)
	}
	if err := ua.Send([]byte("x")); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}
}

func TestNewUDPErrors(t *testing.T) {
	tests := []struct{ local, peer string }{
		{"127.0.0.1:0", "no-port"},
		{"nonsense::::", "127.0.0.2:1"},
		{"192.0.2.77:0", "127.0.0.2:1"}, // not an address of this host
	}
	for _, tt := range tests {
		if u, err := link.NewUDP(tt.local, tt.peer); err == nil {
			u.Close()
			t.Errorf("NewUDP(%q, %q) succeeded", tt.local, tt.peer)
		}
	}
}
