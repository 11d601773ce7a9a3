package fence

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"xhad/internal/runner"
)

// needRoot skips a test that needs root and real namespaces, or fails it when
// CI=true says the environment must provide them.
func needRoot(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root (network namespaces, nftables)"
	} else if _, err := os.Stat("/usr/sbin/ip"); err != nil {
		if _, err2 := os.Stat("/sbin/ip"); err2 != nil {
			why = "needs the ip command (iproute2)"
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s, and CI=true requires it", why)
	}
	t.Skip(why)
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	res, err := runner.Exec{}.Run(context.Background(), runner.Cmd{Path: args[0], Args: args[1:], Timeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("%s: %v", strings.Join(args, " "), err)
	}
	return string(res.Stdout)
}

// netns creates a network namespace with lo up and removes it in Cleanup.
func netns(t *testing.T, name string) string {
	t.Helper()
	name = fmt.Sprintf("xhadf%d%s", os.Getpid()%100000, name)
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		_, _ = runner.Exec{}.Run(context.Background(), runner.Cmd{Path: "ip", Args: []string{"netns", "del", name}})
	})
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

func nsPath(name string) string { return filepath.Join("/var/run/netns", name) }

// veth connects two namespaces: ifA with addrA in a, ifB with addrB in b.
func veth(t *testing.T, a, ifA, addrA, b, ifB, addrB string) {
	t.Helper()
	run(t, "ip", "link", "add", ifA, "netns", a, "type", "veth", "peer", "name", ifB, "netns", b)
	run(t, "ip", "-n", a, "addr", "add", addrA, "dev", ifA)
	run(t, "ip", "-n", b, "addr", "add", addrB, "dev", ifB)
	run(t, "ip", "-n", a, "link", "set", ifA, "up")
	run(t, "ip", "-n", b, "link", "set", ifB, "up")
}

// inNS runs fn on a thread switched into the namespace, so that sockets fn
// creates live there. A thread that cannot switch back is never reused.
func inNS(t *testing.T, ns string, fn func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(orig)
		fd, err := unix.Open(nsPath(ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back: %w (thread left locked)", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// tcpServer listens on addr inside ns and accepts until Cleanup.
func tcpServer(t *testing.T, ns, addr string) {
	t.Helper()
	var ln net.Listener
	var err error
	inNS(t, ns, func() { ln, err = net.Listen("tcp", addr) })
	if err != nil {
		t.Fatalf("listen %s in %s: %v", addr, ns, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// dial connects from ns to addr; a nil error means the connection was made.
func dial(t *testing.T, ns, addr string, timeout time.Duration) error {
	t.Helper()
	var err error
	inNS(t, ns, func() {
		var c net.Conn
		c, err = net.DialTimeout("tcp", addr, timeout)
		if err == nil {
			c.Close()
		}
	})
	return err
}

// udpPasses sends datagrams from ns to addr (a listener in dstNS) until one
// arrives or the deadline passes.
func udpPasses(t *testing.T, srcNS, dstNS, addr string) bool {
	t.Helper()
	var pc net.PacketConn
	var err error
	inNS(t, dstNS, func() { pc, err = net.ListenPacket("udp", addr) })
	if err != nil {
		t.Fatalf("listen udp %s in %s: %v", addr, dstNS, err)
	}
	defer pc.Close()
	var out net.Conn
	inNS(t, srcNS, func() { out, err = net.Dial("udp", addr) })
	if err != nil {
		t.Fatalf("udp socket in %s: %v", srcNS, err)
	}
	defer out.Close()
	buf := make([]byte, 64)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := out.Write([]byte("beat")); err != nil {
			return false
		}
		_ = pc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, _, err := pc.ReadFrom(buf); err == nil && string(buf[:n]) == "beat" {
			return true
		}
	}
	return false
}

// nftList returns `nft list table inet NAME` inside ns with counter values
// removed, or "" when nft is not installed (it is used only in tests).
func nftList(t *testing.T, ns, table string) (string, bool) {
	t.Helper()
	inet, ok := nftListFamily(t, ns, "inet", table)
	if !ok {
		return "", false
	}
	bridge, _ := nftListFamily(t, ns, "bridge", table)
	if bridge != "" {
		inet += "\n" + bridge
	}
	return inet, true
}

func nftListFamily(t *testing.T, ns, family, table string) (string, bool) {
	t.Helper()
	nft := ""
	for _, p := range []string{"/usr/sbin/nft", "/sbin/nft"} {
		if _, err := os.Stat(p); err == nil {
			nft = p
		}
	}
	if nft == "" {
		return "", false
	}
	res, err := runner.Exec{}.Run(context.Background(), runner.Cmd{Path: "ip",
		Args: []string{"netns", "exec", ns, nft, "list", "table", family, table}, Timeout: 20 * time.Second})
	if err != nil {
		if family == "bridge" && strings.Contains(err.Error(), "No such file or directory") {
			return "", true // no bridge table
		}
		t.Fatalf("nft list table %s %s: %v", family, table, err)
	}
	out := string(res.Stdout)
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if i := strings.Index(l, " counter packets "); i >= 0 {
			rest := l[i+len(" counter packets "):]
			f := strings.Fields(rest) // N bytes N ...
			l = l[:i] + " counter " + strings.Join(f[3:], " ")
		}
		if l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n"), true
}

// wantNFT renders what nft should print for rules in table.
func wantNFT(table string, rules []Rule) string {
	var lines []string
	for _, ts := range tableSpecs {
		if !wanted(rules)[ts.family] {
			continue
		}
		lines = append(lines, "table "+ts.family+" "+table+" {")
		for _, ch := range ts.chains {
			lines = append(lines, "chain "+ch.name+" {", "type filter hook "+ch.name+" priority filter; policy accept;")
			for _, r := range rules {
				if r.Family == ts.family && r.Chain == ch.name {
					lines = append(lines, r.Text+fmt.Sprintf(" comment %q", r.Comment))
				}
			}
			lines = append(lines, "}")
		}
		lines = append(lines, "}")
	}
	return strings.Join(lines, "\n")
}

func TestPeerFenceInNamespaces(t *testing.T) {
	needRoot(t)
	ctx := context.Background()
	a := netns(t, "a") // the survivor, which fences
	b := netns(t, "b") // the peer
	veth(t, a, "xfa0", "10.231.1.1/24", b, "xfb0", "10.231.1.2/24")

	tcpServer(t, a, "10.231.1.1:7789")
	tcpServer(t, a, "10.231.1.1:7790")
	tcpServer(t, b, "10.231.1.2:7789")

	cfg := Config{Table: "xhad", NetNS: nsPath(a),
		PeerAddrs:        []netip.Addr{netip.MustParseAddr("10.231.1.2")},
		ReplicationPorts: []int{7789}}
	n := NewNFT(cfg)
	fixed := time.Date(2026, 11, 22, 3, 51, 37, 0, time.UTC)
	n.now = func() time.Time { return fixed }

	if err := dial(t, b, "10.231.1.1:7789", 3*time.Second); err != nil {
		t.Fatalf("before fencing, peer -> replication port: %v", err)
	}
	if err := n.FencePeer(ctx, "peer silent on all links"); err != nil {
		t.Fatalf("FencePeer: %v", err)
	}
	fences, err := NewNFT(cfg).Fences(ctx) // a fresh instance: as after a daemon restart
	if err != nil {
		t.Fatal(err)
	}
	if len(fences) != 1 || fences[0] != (Fence{Kind: KindPeer, Since: fixed, Why: "peer silent on all links"}) {
		t.Fatalf("Fences after FencePeer = %+v", fences)
	}
	want, err := Render(cfg, &fences[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := nftList(t, a, "xhad"); ok {
		if w := wantNFT("xhad", want); got != w {
			t.Errorf("nft list table:\n%s\nwant:\n%s", got, w)
		}
	} else {
		t.Log("nft not installed: skipping the comparison with nft's listing")
	}

	err = dial(t, b, "10.231.1.1:7789", 700*time.Millisecond)
	if err == nil {
		t.Fatal("peer fenced, but the peer still connects to the replication port")
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("peer -> replication port: want a timeout (packets dropped), got %v", err)
	}
	if err := dial(t, a, "10.231.1.2:7789", 700*time.Millisecond); err == nil {
		t.Error("peer fenced, but we still connect to the peer's replication port")
	}
	if err := dial(t, b, "10.231.1.1:7790", 3*time.Second); err != nil {
		t.Errorf("peer fenced: another TCP port must still pass: %v", err)
	}
	if !udpPasses(t, b, a, "10.231.1.1:694") {
		t.Error("peer fenced: UDP heartbeats from the peer must still pass")
	}
	// The drop was counted by the rule that matched.
	rules, err := n.Rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dropped := uint64(0)
	for _, r := range rules {
		for _, e := range r.Exprs {
			if c, ok := e.(*expr.Counter); ok {
				dropped += c.Packets
			}
		}
	}
	if dropped == 0 {
		t.Errorf("no rule counted a dropped packet: %v", rules)
	}

	// Idempotent: a second FencePeer keeps the original since/why and counters.
	n.now = func() time.Time { return fixed.Add(time.Hour) }
	if err := n.FencePeer(ctx, "again"); err != nil {
		t.Fatal(err)
	}
	if f, _ := n.Fences(ctx); len(f) != 1 || f[0].Why != "peer silent on all links" || !f[0].Since.Equal(fixed) {
		t.Errorf("after a second FencePeer: %+v", f)
	}

	if err := n.Unfence(ctx, true, false); err != nil {
		t.Fatalf("Unfence: %v", err)
	}
	if f, err := n.Fences(ctx); err != nil || len(f) != 0 {
		t.Fatalf("Fences after Unfence = %v, %v", f, err)
	}
	if err := dial(t, b, "10.231.1.1:7789", 3*time.Second); err != nil {
		t.Errorf("unfenced, but the peer cannot connect: %v", err)
	}
}

func TestSelfFenceInNamespaces(t *testing.T) {
	needRoot(t)
	ctx := context.Background()
	a := netns(t, "s") // the node that loses: dom0 routing to a domain
	b := netns(t, "c") // a client (and the peer's heartbeats)
	d := netns(t, "d") // an exclusive domain behind a's interface xfd0
	e := netns(t, "e") // a both-mode domain behind xfe0: never cut
	veth(t, a, "xfs0", "10.231.1.1/24", b, "xfc0", "10.231.1.2/24")
	veth(t, a, "xfd0", "10.231.2.1/24", d, "xfdd", "10.231.2.2/24")
	veth(t, a, "xfe0", "10.231.3.1/24", e, "xfee", "10.231.3.2/24")
	run(t, "ip", "-n", a, "addr", "add", "10.231.1.10/32", "dev", "xfs0") // a service IP
	run(t, "ip", "netns", "exec", a, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	for _, r := range [][]string{{b, "10.231.1.1"}, {d, "10.231.2.1"}, {e, "10.231.3.1"}} {
		run(t, "ip", "-n", r[0], "route", "add", "default", "via", r[1])
	}
	tcpServer(t, d, "10.231.2.2:80")
	tcpServer(t, e, "10.231.3.2:80")
	tcpServer(t, a, "10.231.1.10:80")

	cfg := Config{Table: "xhad", NetNS: nsPath(a),
		ServiceIfaces: []string{"xfd0"},
		ServiceAddrs:  []netip.Prefix{netip.MustParsePrefix("10.231.1.10/32")}}
	n := NewNFT(cfg)
	for _, target := range []string{"10.231.2.2:80", "10.231.3.2:80", "10.231.1.10:80"} {
		if err := dial(t, b, target, 3*time.Second); err != nil {
			t.Fatalf("before fencing, client -> %s: %v", target, err)
		}
	}
	if err := n.SelfFence(ctx, "lost the split brain"); err != nil {
		t.Fatalf("SelfFence: %v", err)
	}
	f, err := n.Fences(ctx)
	if err != nil || len(f) != 1 || f[0].Kind != KindSelf || f[0].Why != "lost the split brain" {
		t.Fatalf("Fences = %+v, %v", f, err)
	}
	if got, ok := nftList(t, a, "xhad"); ok {
		want, _ := Render(cfg, nil, &f[0])
		if w := wantNFT("xhad", want); got != w {
			t.Errorf("nft list table:\n%s\nwant:\n%s", got, w)
		}
	}
	if err := dial(t, b, "10.231.2.2:80", 700*time.Millisecond); err == nil {
		t.Error("self-fenced, but the exclusive domain is still reachable through its interface")
	}
	if err := dial(t, b, "10.231.1.10:80", 700*time.Millisecond); err == nil {
		t.Error("self-fenced, but the service address still answers")
	}
	if err := dial(t, b, "10.231.3.2:80", 3*time.Second); err != nil {
		t.Errorf("self-fenced: the both-mode domain must stay reachable: %v", err)
	}
	if !udpPasses(t, b, a, "10.231.1.1:694") {
		t.Error("self-fenced: heartbeats to the node address must still pass")
	}
	// A peer fence added later keeps the self fence.
	n.cfg.PeerAddrs = []netip.Addr{netip.MustParseAddr("10.231.1.2")}
	n.cfg.ReplicationPorts = []int{7789, 7790}
	if err := n.FencePeer(ctx, "peer dead"); err != nil {
		t.Fatal(err)
	}
	if f, _ := n.Fences(ctx); len(f) != 2 || f[0].Kind != KindPeer || f[1].Kind != KindSelf || f[1].Why != "lost the split brain" {
		t.Errorf("after adding the peer fence: %+v", f)
	}
	if err := n.Unfence(ctx, false, true); err != nil {
		t.Fatal(err)
	}
	if f, _ := n.Fences(ctx); len(f) != 1 || f[0].Kind != KindPeer {
		t.Errorf("after removing the self fence: %+v", f)
	}
	for _, target := range []string{"10.231.2.2:80", "10.231.1.10:80"} {
		if err := dial(t, b, target, 3*time.Second); err != nil {
			t.Errorf("unfenced, client -> %s: %v", target, err)
		}
	}
	if err := n.Unfence(ctx, true, true); err != nil {
		t.Fatal(err)
	}
}

// A batch the kernel rejects leaves the old table whole; a read-back that
// does not match is an error, and the kernel then holds the new table whole.
func TestReplaceIsAtomic(t *testing.T) {
	needRoot(t)
	ctx := context.Background()
	a := netns(t, "x")
	cfg := Config{Table: "xhad", NetNS: nsPath(a),
		PeerAddrs:        []netip.Addr{netip.MustParseAddr("10.231.1.2"), netip.MustParseAddr("fd00:231::2")},
		ReplicationPorts: []int{7789, 7790},
		ServiceIfaces:    []string{"vif3.0"},
		ServiceAddrs:     []netip.Prefix{netip.MustParsePrefix("10.231.9.0/24")}}
	n := NewNFT(cfg)
	if err := n.FencePeer(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	old, err := n.Rules(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The kernel rejects the batch (a rule in a chain that does not exist):
	// nothing of it is applied.
	n.beforeFlush = func(c *nftables.Conn, tb *nftables.Table) {
		c.AddRule(&nftables.Rule{Table: tb, Chain: &nftables.Chain{Name: "no-such-chain", Table: tb},
			Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}})
	}
	err = n.SelfFence(ctx, "new")
	if err == nil {
		t.Fatal("SelfFence with a broken batch succeeded")
	}
	t.Logf("broken batch: %v", err)
	if err := kernelMatches(t, n, old); err != nil {
		t.Errorf("after a rejected batch the old table must be whole: %v", err)
	}
	if f, _ := n.Fences(ctx); len(f) != 1 || f[0].Kind != KindPeer {
		t.Errorf("after a rejected batch: fences %+v", f)
	}

	// The write succeeds but the read-back differs: an error wrapping ErrVerify.
	n.beforeFlush = nil
	n.mangleWant = func(r []Rule) []Rule { return r[:len(r)-1] }
	err = n.SelfFence(ctx, "new")
	if !errors.Is(err, ErrVerify) {
		t.Fatalf("SelfFence with a mismatching read-back: want ErrVerify, got %v", err)
	}
	n.mangleWant = nil
	f, err := n.Fences(ctx)
	if err != nil || len(f) != 2 {
		t.Fatalf("fences after the mismatch: %+v, %v", f, err)
	}
	want, _ := Render(cfg, &f[0], &f[1])
	if err := kernelMatches(t, n, want); err != nil {
		t.Errorf("after a verify mismatch the new table must be whole: %v", err)
	}
	if got, ok := nftList(t, a, "xhad"); ok { // IPv6, a prefix and an interface, as nft prints them
		if w := wantNFT("xhad", want); got != w {
			t.Errorf("nft list table:\n%s\nwant:\n%s", got, w)
		}
	}
	if err := n.Unfence(ctx, true, true); err != nil {
		t.Fatal(err)
	}
}

// kernelMatches compares the whole kernel state (tables, chains, rules) with want.
func kernelMatches(t *testing.T, n *NFT, want []Rule) error {
	t.Helper()
	st, err := n.read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.matches(want)
}

// The usual Xen layout: the domains' vifs are ports of a Linux bridge in
// dom0, so their traffic is switched, not routed; the bridge table cuts it.
func TestSelfFenceBridged(t *testing.T) {
	needRoot(t)
	ctx := context.Background()
	a := netns(t, "h") // dom0 with the bridge
	b := netns(t, "k") // a client on the LAN (and the peer's heartbeats)
	d := netns(t, "m") // an exclusive domain behind vif xfd1
	e := netns(t, "n") // a both-mode domain behind vif xfe1
	run(t, "ip", "-n", a, "link", "add", "xfbr", "type", "bridge")
	run(t, "ip", "-n", a, "addr", "add", "10.231.4.1/24", "dev", "xfbr")
	run(t, "ip", "-n", a, "addr", "add", "10.231.4.10/32", "dev", "xfbr") // a service IP on dom0
	run(t, "ip", "-n", a, "link", "set", "xfbr", "up")
	for _, p := range []struct{ ns, port, peer, addr string }{
		{b, "xfs1", "xfc1", "10.231.4.2/24"}, {d, "xfd1", "xfdd1", "10.231.4.3/24"}, {e, "xfe1", "xfee1", "10.231.4.4/24"},
	} {
		run(t, "ip", "link", "add", p.port, "netns", a, "type", "veth", "peer", "name", p.peer, "netns", p.ns)
		run(t, "ip", "-n", a, "link", "set", p.port, "master", "xfbr")
		run(t, "ip", "-n", a, "link", "set", p.port, "up")
		run(t, "ip", "-n", p.ns, "addr", "add", p.addr, "dev", p.peer)
		run(t, "ip", "-n", p.ns, "link", "set", p.peer, "up")
	}
	tcpServer(t, d, "10.231.4.3:80")
	tcpServer(t, e, "10.231.4.4:80")
	tcpServer(t, a, "10.231.4.10:80")
	for _, target := range []string{"10.231.4.3:80", "10.231.4.4:80", "10.231.4.10:80"} {
		if err := dial(t, b, target, 3*time.Second); err != nil {
			t.Fatalf("before fencing, client -> %s: %v", target, err)
		}
	}
	n := NewNFT(Config{Table: "xhad", NetNS: nsPath(a), ServiceIfaces: []string{"xfd1"},
		ServiceAddrs: []netip.Prefix{netip.MustParsePrefix("10.231.4.10/32")}})
	if err := n.SelfFence(ctx, "stopping exclusive domains"); err != nil {
		t.Fatal(err)
	}
	if err := dial(t, b, "10.231.4.3:80", 700*time.Millisecond); err == nil {
		t.Error("self-fenced, but the exclusive domain still answers across the bridge")
	}
	if err := dial(t, b, "10.231.4.10:80", 700*time.Millisecond); err == nil {
		t.Error("self-fenced, but the service address still answers")
	}
	if err := dial(t, b, "10.231.4.4:80", 3*time.Second); err != nil {
		t.Errorf("self-fenced: the both-mode domain must stay reachable: %v", err)
	}
	if !udpPasses(t, b, a, "10.231.4.1:694") {
		t.Error("self-fenced: heartbeats to dom0 must still pass")
	}
	if err := n.Unfence(ctx, false, true); err != nil {
		t.Fatal(err)
	}
	st, err := n.read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.tables[FamilyInet].exists || st.tables[FamilyBridge].exists {
		t.Errorf("after Unfence the tables must be gone: %+v", st.tables)
	}
	if err := dial(t, b, "10.231.4.3:80", 3*time.Second); err != nil {
		t.Errorf("unfenced, but the exclusive domain is unreachable: %v", err)
	}
}
