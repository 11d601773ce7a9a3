package resources

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"xhad/dsl"
	"xhad/internal/runner"
	"xhad/internal/runner/runnertest"
)

// skipOrFail skips a test whose environment is missing, or fails it in CI.
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s", why)
	}
	t.Skip(why)
}

func needNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "network namespace tests need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skipOrFail(t, "network namespace tests need iproute2's ip to create namespaces: "+err.Error())
	}
}

// testbedNet is two network namespaces joined by a veth pair: "va" in A
// (where the resource acts) and "vb" in B (where the test listens), both up.
type testbedNet struct{ a, b string }

var nsSeq atomic.Int32

func newTestbedNet(t *testing.T) testbedNet {
	t.Helper()
	needNetns(t)
	n := nsSeq.Add(1)
	tb := testbedNet{a: fmt.Sprintf("xhad-ip-%d-%d-a", os.Getpid(), n), b: fmt.Sprintf("xhad-ip-%d-%d-b", os.Getpid(), n)}
	ipCmd := func(args ...string) error {
		_, err := runner.Exec{}.Run(context.Background(), runner.Cmd{Path: "ip", Args: args, Timeout: 20 * time.Second})
		return err
	}
	t.Cleanup(func() {
		for _, ns := range []string{tb.a, tb.b} {
			if _, err := os.Stat("/var/run/netns/" + ns); err == nil {
				if err := ipCmd("netns", "del", ns); err != nil {
					t.Errorf("remove network namespace %s: %v", ns, err)
				}
			}
		}
	})
	for _, args := range [][]string{
		{"netns", "add", tb.a},
		{"netns", "add", tb.b},
		{"-n", tb.a, "link", "add", "name", "va", "type", "veth", "peer", "name", "vb", "netns", tb.b},
		{"-n", tb.a, "link", "set", "va", "up"},
		{"-n", tb.b, "link", "set", "vb", "up"},
		{"-n", tb.a, "link", "add", "name", "vdown", "type", "veth", "peer", "name", "vdownp"},
	} {
		if err := ipCmd(args...); err != nil {
			if strings.Contains(err.Error(), "Unknown device type") || strings.Contains(err.Error(), "Operation not supported") {
				skipOrFail(t, "veth interfaces are not available: "+err.Error())
			}
			t.Fatalf("set up network namespaces: %v", err)
		}
	}
	return tb
}

// enterNS moves the calling test goroutine's thread into network namespace
// ns. The thread stays locked and is discarded when the test ends, so no
// other goroutine ever runs in the namespace.
func enterNS(t *testing.T, ns string) {
	t.Helper()
	runtime.LockOSThread()
	fd, err := unix.Open("/var/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open network namespace %s: %v", ns, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		t.Fatalf("enter network namespace %s: %v", ns, err)
	}
}

func ipRes(t *testing.T, addr, ifname string, lifetime time.Duration, arps int) *IP {
	t.Helper()
	spec := dsl.Resource{Name: "vip", Kind: dsl.KindIP, IP: &dsl.IPSpec{Address: addr, Interface: ifname, Lifetime: lifetime, ARPCount: arps}}
	res := mustNew(t, spec, dsl.Tools{}, &runnertest.Fake{})
	ip, ok := res.(*IP)
	if !ok {
		t.Fatalf("New built %T, want *IP", res)
	}
	ip.ARPInterval = 10 * time.Millisecond
	return ip
}

// addrsOn lists the addresses of addr's family on ifname, in the calling
// thread's namespace, independently of the resource.
func addrsOn(t *testing.T, ifname string, family uint8) []ifAddr {
	t.Helper()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dialRoute()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addrs, err := listAddrs(context.Background(), c, family, ifi.Index)
	if err != nil {
		t.Fatal(err)
	}
	return addrs
}

func countAddr(addrs []ifAddr, p netip.Prefix) (n int, a ifAddr) {
	for _, x := range addrs {
		if x.Prefix == p {
			n, a = n+1, x
		}
	}
	return n, a
}

func mustProbe(t *testing.T, r Resource, want State) Status {
	t.Helper()
	st, err := r.Probe(context.Background())
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if st.State != want {
		t.Fatalf("probe: %s (%s), want %s", st.State, st.Detail, want)
	}
	return st
}

// waitFor polls cond until it reports true or the deadline passes; then it
// fails with what cond last described.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last seen: %s", what, limit, seen)
		}
		time.Sleep(50 * time.Millisecond) // poll interval, not a wait for an outcome
	}
}

func TestIPAddProbeRemove(t *testing.T) {
	for _, addr := range []string{"10.232.1.1/24", "fd00:232::1/64"} {
		t.Run(addr, func(t *testing.T) {
			tb := newTestbedNet(t)
			enterNS(t, tb.a)
			ctx := context.Background()
			ip := ipRes(t, addr, "va", 0, 0)
			p := netip.MustParsePrefix(addr)
			fam := addrFamily(p.Addr())

			st := mustProbe(t, ip, Stopped)
			if !strings.Contains(st.Detail, addr+" not on va") {
				t.Fatalf("detail %q", st.Detail)
			}
			if err := ip.Stop(ctx); err != nil {
				t.Fatalf("stop of an absent address: %v", err)
			}
			for i := range 2 { // the second start is idempotent
				if err := ip.Start(ctx); err != nil {
					t.Fatalf("start %d: %v", i+1, err)
				}
				if n, a := countAddr(addrsOn(t, "va", fam), p); n != 1 || !a.Permanent() {
					t.Fatalf("after start %d: %d copies of %s, permanent %v", i+1, n, p, a.Permanent())
				}
			}
			st = mustProbe(t, ip, Running)
			if want := addr + " on va, permanent"; st.Detail != want {
				t.Fatalf("detail %q, want %q", st.Detail, want)
			}
			// iproute2 sees the same thing.
			out, err := runner.Exec{}.Run(ctx, runner.Cmd{Path: "ip", Args: []string{"-n", tb.a, "-o", "addr", "show", "dev", "va"}})
			if err != nil || !strings.Contains(string(out.Stdout), addr) {
				t.Fatalf("ip addr show: %q %v", out.Stdout, err)
			}
			if p.Addr().Is4() && !strings.Contains(string(out.Stdout), addr+" brd 10.232.1.255 ") {
				t.Fatalf("ip addr show: %q, want broadcast 10.232.1.255", out.Stdout)
			}
			for i := range 2 {
				if err := ip.Stop(ctx); err != nil {
					t.Fatalf("stop %d: %v", i+1, err)
				}
				if n, _ := countAddr(addrsOn(t, "va", fam), p); n != 0 {
					t.Fatalf("after stop %d: address still listed", i+1)
				}
			}
			mustProbe(t, ip, Stopped)
		})
	}
}

func TestIPOtherPrefixLengthIsNotOurs(t *testing.T) {
	tb := newTestbedNet(t)
	enterNS(t, tb.a)
	ctx := context.Background()
	other := ipRes(t, "10.232.2.1/16", "va", 0, 0)
	if err := other.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ip := ipRes(t, "10.232.2.1/24", "va", 0, 0)
	st := mustProbe(t, ip, Stopped)
	if !strings.Contains(st.Detail, "but 10.232.2.1/16 is") {
		t.Fatalf("detail %q does not name the other prefix length", st.Detail)
	}
	if err := ip.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	mustProbe(t, other, Running) // stopping /24 left /16 alone
}

func TestIPLifetimeExpiresAndRefreshDoesNotResurrect(t *testing.T) {
	tb := newTestbedNet(t)
	enterNS(t, tb.a)
	ctx := context.Background()
	ip := ipRes(t, "10.232.3.1/24", "va", 2*time.Second, 0)
	if err := ip.Start(ctx); err != nil {
		t.Fatal(err)
	}
	_, a := countAddr(addrsOn(t, "va", unix.AF_INET), ip.Prefix())
	if a.Permanent() || a.Valid > 2 || a.Preferred > 2 {
		t.Fatalf("lifetimes after start: valid %d preferred %d, want <= 2 s", a.Valid, a.Preferred)
	}
	st := mustProbe(t, ip, Running)
	if !strings.Contains(st.Detail, "valid ") || !strings.Contains(st.Detail, "s left") {
		t.Fatalf("detail %q does not report the lifetime left", st.Detail)
	}
	waitFor(t, 20*time.Second, "address expires by itself", func() (bool, string) {
		st, err := ip.Probe(ctx)
		return err == nil && st.State == Stopped, fmt.Sprintf("%s %q %v", st.State, st.Detail, err)
	})
	err := ip.Refresh(ctx)
	if !errors.Is(err, ErrAddressGone) {
		t.Fatalf("refresh of an expired address: %v, want ErrAddressGone", err)
	}
	mustProbe(t, ip, Stopped)
	// Start brings it back.
	if err := ip.Start(ctx); err != nil {
		t.Fatal(err)
	}
	mustProbe(t, ip, Running)
}

func TestIPRefreshExtendsLifetime(t *testing.T) {
	tb := newTestbedNet(t)
	enterNS(t, tb.a)
	ctx := context.Background()
	const life = 5
	ip := ipRes(t, "10.232.4.1/24", "va", life*time.Second, 0)
	if err := ip.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "lifetime runs down to 3 s", func() (bool, string) {
		n, a := countAddr(addrsOn(t, "va", unix.AF_INET), ip.Prefix())
		return n == 1 && a.Valid <= life-2, fmt.Sprintf("%d copies, valid %d", n, a.Valid)
	})
	if err := ip.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	n, a := countAddr(addrsOn(t, "va", unix.AF_INET), ip.Prefix())
	if n != 1 || a.Valid < life-1 || a.Preferred < life-1 || a.Permanent() {
		t.Fatalf("after refresh: %d copies, valid %d preferred %d, want >= %d", n, a.Valid, a.Preferred, life-1)
	}
	// Start on a present address refreshes too, and a permanent spec makes
	// it permanent.
	perm := ipRes(t, "10.232.4.1/24", "va", 0, 0)
	if err := perm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n, a := countAddr(addrsOn(t, "va", unix.AF_INET), ip.Prefix()); n != 1 || !a.Permanent() {
		t.Fatalf("after start without lifetime: %d copies, valid %d", n, a.Valid)
	}
	if err := perm.Refresh(ctx); err != nil {
		t.Fatalf("refresh without lifetime: %v", err)
	}
}

// capture is an AF_PACKET socket on an interface of the calling thread's
// namespace.
type capture struct {
	fd    int
	proto uint16
}

func openCapture(t *testing.T, ifname string, proto uint16) *capture {
	t.Helper()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(proto)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
	return &capture{fd: fd, proto: proto}
}

type frame struct {
	data    []byte
	pkttype uint8
	from    net.HardwareAddr
}

// collect reads frames until keep has accepted n of them or the deadline
// passes; it fails with what it saw.
func (c *capture) collect(t *testing.T, n int, limit time.Duration, keep func(frame) bool) []frame {
	t.Helper()
	deadline := time.Now().Add(limit)
	var got []frame
	seen := 0
	buf := make([]byte, 2048)
	for len(got) < n {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("captured %d matching of %d frames (of proto %#x) within %s, want %d", len(got), seen, c.proto, limit, n)
		}
		tv := unix.NsecToTimeval(left.Nanoseconds())
		if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			t.Fatal(err)
		}
		m, from, err := unix.Recvfrom(c.fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		seen++
		f := frame{data: append([]byte(nil), buf[:m]...)}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok {
			f.pkttype = ll.Pkttype
			f.from = net.HardwareAddr(ll.Addr[:ll.Halen])
		}
		if keep(f) {
			got = append(got, f)
		}
	}
	return got
}

func TestIPStartSendsGratuitousARP(t *testing.T) {
	tb := newTestbedNet(t)
	enterNS(t, tb.b)
	capt := openCapture(t, "vb", unix.ETH_P_ARP)
	enterNS(t, tb.a)
	va, err := net.InterfaceByName("va")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const count = 3
	ip := ipRes(t, "10.232.5.1/24", "va", 0, count)
	if err := ip.Start(ctx); err != nil {
		t.Fatal(err)
	}
	want := ip.Prefix().Addr().As4()
	frames := capt.collect(t, count, 10*time.Second, func(f frame) bool {
		return len(f.data) >= 28 && string(f.data[14:18]) == string(want[:])
	})
	for i, f := range frames {
		d := f.data
		htype, ptype, op := binary.BigEndian.Uint16(d[0:2]), binary.BigEndian.Uint16(d[2:4]), binary.BigEndian.Uint16(d[6:8])
		sha, spa, tha, tpa := net.HardwareAddr(d[8:14]), d[14:18], d[18:24], d[24:28]
		switch {
		case htype != 1 || ptype != 0x0800 || d[4] != 6 || d[5] != 4:
			t.Fatalf("ARP %d: htype %d ptype %#x hlen %d plen %d", i, htype, ptype, d[4], d[5])
		case op != 1:
			t.Fatalf("ARP %d: op %d, want 1 (request)", i, op)
		case sha.String() != va.HardwareAddr.String() || f.from.String() != va.HardwareAddr.String():
			t.Fatalf("ARP %d: sender %s from %s, want va's %s", i, sha, f.from, va.HardwareAddr)
		case string(spa) != string(tpa):
			t.Fatalf("ARP %d: sender %v target %v, want both %v", i, spa, tpa, want)
		case string(tha) != string(make([]byte, 6)):
			t.Fatalf("ARP %d: target hardware %x, want zero", i, tha)
		case f.pkttype != unix.PACKET_BROADCAST:
			t.Fatalf("ARP %d: packet type %d, want broadcast", i, f.pkttype)
		}
	}
	if err := ip.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestIPStopEndsAnnouncements(t *testing.T) {
	tb := newTestbedNet(t)
	enterNS(t, tb.a)
	ctx := context.Background()
	ip := ipRes(t, "10.232.7.1/24", "va", 0, 1000) // 10 s of ARPs at 10 ms
	if err := ip.Start(ctx); err != nil {
		t.Fatal(err)
	}
	first := ip.ann
	if first == nil {
		t.Fatal("no announcements running after start")
	}
	if err := ip.Start(ctx); err != nil { // a second start replaces them
		t.Fatal(err)
	}
	select {
	case <-first.done:
	default:
		t.Fatal("the first start's announcements still run after the second start")
	}
	second := ip.ann
	if err := ip.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-second.done:
	default:
		t.Fatal("announcements still run after stop")
	}
	if ip.ann != nil {
		t.Fatal("stop left an announcer behind")
	}
	if r, ok := Resource(ip).(Refresher); !ok || r.RefreshWithin() != 0 {
		t.Fatalf("*IP as Refresher: %v", ok)
	}
}

func TestIPv6StartSendsNeighbourAdvertisement(t *testing.T) {
	tb := newTestbedNet(t)
	enterNS(t, tb.b)
	capt := openCapture(t, "vb", unix.ETH_P_IPV6)
	enterNS(t, tb.a)
	va, err := net.InterfaceByName("va")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ip := ipRes(t, "fd00:232::5/64", "va", 0, 2)
	if err := ip.Start(ctx); err != nil {
		t.Fatal(err)
	}
	target := ip.Prefix().Addr().As16()
	allNodes := netip.MustParseAddr("ff02::1").As16()
	frames := capt.collect(t, 2, 10*time.Second, func(f frame) bool {
		d := f.data // IPv6 header (40) + ICMPv6
		return len(d) >= 40+32 && d[6] == unix.IPPROTO_ICMPV6 && d[40] == 136 && string(d[48:64]) == string(target[:])
	})
	for i, f := range frames {
		d := f.data
		icmp := d[40:]
		switch {
		case d[7] != 255:
			t.Fatalf("NA %d: hop limit %d, want 255", i, d[7])
		case string(d[8:24]) != string(target[:]):
			t.Fatalf("NA %d: source %x, want the address", i, d[8:24])
		case string(d[24:40]) != string(allNodes[:]):
			t.Fatalf("NA %d: destination %x, want ff02::1", i, d[24:40])
		case icmp[4]&(1<<5) == 0 || icmp[4]&(1<<6) != 0:
			t.Fatalf("NA %d: flags %#x, want Override without Solicited", i, icmp[4])
		case icmp[24] != 2 || icmp[25] != 1 || net.HardwareAddr(icmp[26:32]).String() != va.HardwareAddr.String():
			t.Fatalf("NA %d: option % x, want target link-layer address %s", i, icmp[24:32], va.HardwareAddr)
		case icmpv6Checksum(d[8:24], d[24:40], icmp) != 0:
			t.Fatalf("NA %d: bad checksum", i)
		}
	}
	if err := ip.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// icmpv6Checksum sums the pseudo-header and message; 0 means valid.
func icmpv6Checksum(src, dst, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src)
	add(dst)
	var l [8]byte
	binary.BigEndian.PutUint32(l[0:4], uint32(len(msg)))
	l[7] = unix.IPPROTO_ICMPV6
	add(l[:])
	add(msg)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func TestIPErrors(t *testing.T) {
	tb := newTestbedNet(t)
	enterNS(t, tb.a)
	ctx := context.Background()

	missing := ipRes(t, "10.232.6.1/24", "eth9", 0, 3)
	err := missing.Start(ctx)
	if err == nil || !errors.Is(err, ErrNoSuchInterface) ||
		!strings.Contains(err.Error(), "interface eth9 does not exist on this host; check resource vip's interface") {
		t.Fatalf("start on a missing interface: %v", err)
	}
	st := mustProbe(t, missing, Stopped)
	if !strings.Contains(st.Detail, "interface eth9 does not exist") {
		t.Fatalf("probe detail %q", st.Detail)
	}
	if err := missing.Stop(ctx); err != nil {
		t.Fatalf("stop on a missing interface: %v", err)
	}
	if err := ipRes(t, "10.232.6.1/24", "eth9", 3*time.Second, 0).Refresh(ctx); !errors.Is(err, ErrNoSuchInterface) {
		t.Fatalf("refresh on a missing interface: %v", err)
	}

	down := ipRes(t, "10.232.6.1/24", "vdown", 0, 3)
	err = down.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "interface vdown is down; bring it up (ip link set vdown up)") {
		t.Fatalf("start on a down interface: %v", err)
	}
	mustProbe(t, down, Stopped)

	// The kernel's refusal reaches the caller with the errno and the
	// operation.
	c, err := dialRoute()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.do(ctx, "add 10.232.6.1/24 to index 999999", unix.RTM_NEWADDR, unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL,
		addrRequest(netip.MustParsePrefix("10.232.6.1/24"), 999999, true, 0))
	var nle *netlinkError
	if !errors.As(err, &nle) || !errors.Is(err, unix.ENODEV) || !strings.Contains(err.Error(), "add 10.232.6.1/24 to index 999999") {
		t.Fatalf("add to a missing index: %v", err)
	}
	// A request the kernel rejects carries its extended acknowledgement.
	bad := addrRequest(netip.MustParsePrefix("10.232.6.1/24"), 1, true, 0)
	bad[1] = 40 // prefix length 40 for IPv4
	_, err = c.do(ctx, "add with prefix length 40", unix.RTM_NEWADDR, unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL, bad)
	if !errors.As(err, &nle) || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("add with prefix length 40: %v, want EINVAL", err)
	}
	if nle.Msg != "" && !strings.Contains(err.Error(), "(kernel: "+nle.Msg+")") {
		t.Fatalf("error %q does not carry the kernel's message %q", err, nle.Msg)
	}
	t.Logf("kernel said: %v", err)
	// An expired context is reported before anything is sent.
	dead, cancel := context.WithCancel(ctx)
	cancel()
	if err := ipRes(t, "10.232.6.2/24", "va", 0, 0).Start(dead); !errors.Is(err, context.Canceled) {
		t.Fatalf("start with a cancelled context: %v", err)
	}
	mustProbe(t, ipRes(t, "10.232.6.2/24", "va", 0, 0), Stopped)
}

func TestNewIPRejects(t *testing.T) {
	for _, tt := range []struct {
		spec   *dsl.IPSpec
		errHas string
	}{
		{nil, "no address"},
		{&dsl.IPSpec{Interface: "eth0"}, "no address"},
		{&dsl.IPSpec{Address: "192.0.2.1", Interface: "eth0"}, "not an address with prefix length"},
		{&dsl.IPSpec{Address: "192.0.2.1/24"}, "no interface for address 192.0.2.1/24"},
		{&dsl.IPSpec{Address: "192.0.2.1/24", Interface: "eth0", Lifetime: -time.Second}, "negative lifetime"},
	} {
		_, err := New(dsl.Resource{Name: "vip", Kind: dsl.KindIP, IP: tt.spec}, dsl.Tools{}, &runnertest.Fake{})
		if err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("New(%+v): %v, want %q", tt.spec, err, tt.errHas)
		}
	}
}

func TestAnnouncementPackets(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	arp := arpPacket(mac, netip.MustParseAddr("10.232.0.9"))
	if len(arp) != 28 || string(arp[8:14]) != string(mac) || string(arp[14:18]) != string(arp[24:28]) || arp[17] != 9 {
		t.Fatalf("ARP packet % x", arp)
	}
	na := naPacket(mac, netip.MustParseAddr("fd00::9"))
	if len(na) != 32 || na[0] != 136 || na[23] != 9 || string(na[26:32]) != string(mac) {
		t.Fatalf("NA packet % x", na)
	}
	// A loopback or address-less interface gets no announcement.
	a, err := announce(&net.Interface{Name: "lo", Flags: net.FlagLoopback | net.FlagUp}, netip.MustParseAddr("10.232.0.9"), 3, time.Millisecond)
	if a != nil || err != nil {
		t.Fatalf("announce on loopback: %v %v", a, err)
	}
}

func TestBroadcastOf(t *testing.T) {
	for in, want := range map[string]string{
		"10.232.1.1/24": "10.232.1.255", "10.232.1.1/16": "10.232.255.255", "10.232.1.5/30": "10.232.1.7",
		"10.232.1.1/31": "", "10.232.1.1/32": "", "fd00::1/64": "",
	} {
		got, ok := broadcastOf(netip.MustParsePrefix(in))
		if (want == "") == ok || ok && got.String() != want {
			t.Errorf("broadcastOf(%s) = %v %v, want %q", in, got, ok, want)
		}
	}
}

func TestExtAckMessage(t *testing.T) {
	// struct nlmsgerr (error + capped header) followed by NLMSGERR_ATTR_MSG.
	data := make([]byte, 4+unix.NLMSG_HDRLEN)
	errno := -int32(unix.EINVAL)
	binary.NativeEndian.PutUint32(data[0:4], uint32(errno))
	data = appendAttr(data, unix.NLMSGERR_ATTR_MSG, []byte("Invalid prefix length\x00"))
	if got := extAckMsg(data, unix.NLM_F_CAPPED|unix.NLM_F_ACK_TLVS); got != "Invalid prefix length" {
		t.Fatalf("capped: %q", got)
	}
	if got := extAckMsg(data, unix.NLM_F_CAPPED); got != "" {
		t.Fatalf("without ACK_TLVS: %q", got)
	}
}
