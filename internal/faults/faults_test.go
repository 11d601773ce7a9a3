package faults

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"xhad/internal/netbed"
	"xhad/internal/testbed"
)

const wait = 20 * time.Second

// newBed makes a bed whose test ends with the simulator's invariant check.
func newBed(t *testing.T, o netbed.Options) *netbed.Bed {
	t.Helper()
	if testing.Short() {
		t.Skip("namespace fault matrix")
	}
	b := netbed.New(t, o)
	t.Cleanup(func() {
		if err := b.Check(); err != nil {
			t.Error(err)
		}
	})
	return b
}

// startPair starts both daemons and waits for a ACTIVE with the service
// address answering from a, and b STANDBY.
func startPair(t *testing.T, b *netbed.Bed) {
	t.Helper()
	b.A.Start()
	b.B.Start()
	b.A.WaitRole("main", "ACTIVE", wait)
	b.B.WaitRole("main", "STANDBY", wait)
	serviceOn(t, b, "a")
}

// serviceOn waits until the service address is held by node alone and
// answers the client from it ("" = held by nobody).
func serviceOn(t *testing.T, b *netbed.Bed, node string) {
	t.Helper()
	testbed.WaitFor(t, wait, fmt.Sprintf("service address on %q only", node), func() (bool, string) { return b.ServiceOn(node) })
}

// expectOn fails unless domain dom runs exactly on node.
func expectOn(t *testing.T, b *netbed.Bed, dom, node string) {
	t.Helper()
	if on := b.RunningOn(dom); on != node {
		t.Fatalf("domain %s runs on %q, want %q", dom, on, node)
	}
}

func TestStartupInNamespaces(t *testing.T) {
	b := newBed(t, netbed.Options{})
	startPair(t, b)
	expectOn(t, b, "web", "a")
}

// status returns a one-line summary of node's view, for waits.
func group(n *netbed.Node) (role string, alive bool, waiting string, ineligible bool, seen string) {
	st, err := n.Status()
	if err != nil {
		return "", false, "", false, err.Error()
	}
	if len(st.Groups) == 0 {
		return "", st.Peer.Alive, "", false, "no groups"
	}
	g := st.Groups[0]
	return g.Role, st.Peer.Alive, g.Waiting, g.Ineligible,
		fmt.Sprintf("%s: %s peer-alive=%v waiting=%q ineligible=%v last=%+v", n.Name, g.Role, st.Peer.Alive, g.Waiting, g.Ineligible, st.LastDecision)
}

func TestKill9ActiveHostThenOldActiveRestartsAsStandby(t *testing.T) {
	b := newBed(t, netbed.Options{})
	startPair(t, b)
	start := time.Now()
	b.CrashHost(b.A) // links down, kill -9, domains and DRBD gone
	b.B.WaitRole("main", "ACTIVE", wait)
	serviceOn(t, b, "b")
	t.Logf("service answering from b %s after the crash of a (deadtime 1s)", time.Since(start).Round(time.Millisecond))
	expectOn(t, b, "web", "b")
	if !b.B.Log.Contains("does not answer on its public address") {
		t.Errorf("b did not log the public-address check:\n%s", b.B.Log.Tail(30))
	}
	if tables, err := b.Tables(b.B); err != nil || !contains(tables, "xhad") {
		t.Errorf("b's namespace after the takeover has tables %v (%v); want the peer fence in table xhad", tables, err)
	}
	// The old active comes back: it must stay STANDBY.
	b.BootHost(b.A)
	b.A.Start()
	b.A.WaitPeer(true, wait)
	b.B.WaitPeer(true, wait)
	b.B.WaitHeartbeats("udp", 20, wait)
	if role, seen := b.A.Role("main"); role != "STANDBY" {
		t.Fatalf("the restarted old active: %s, want STANDBY", seen)
	}
	if role, seen := b.B.Role("main"); role != "ACTIVE" {
		t.Fatalf("b after a came back: %s, want ACTIVE", seen)
	}
	serviceOn(t, b, "b")
	expectOn(t, b, "web", "b")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestKill9ActiveDaemonHostAlive(t *testing.T) {
	// kill -9 of the daemon only: the host still answers on its public
	// address and DRBD is still Primary there. b must not take over.
	b := newBed(t, netbed.Options{})
	startPair(t, b)
	b.A.Kill()
	testbed.WaitFor(t, wait, "b to see a dead and hold back", func() (bool, string) {
		role, alive, waiting, inel, seen := group(b.B)
		return role == "STANDBY" && !alive && (waiting != "" || inel), seen
	})
	b.B.WaitRole("main", "STANDBY", wait)
	serviceOn(t, b, "a")
	expectOn(t, b, "web", "a")
	b.A.Start() // adopts what runs instead of starting it twice
	b.A.WaitRole("main", "ACTIVE", wait)
	b.B.WaitPeer(true, wait)
	serviceOn(t, b, "a")
	expectOn(t, b, "web", "a")
}

func TestSIGSTOPPastDeadtimeThenSIGCONT(t *testing.T) {
	b := newBed(t, netbed.Options{})
	startPair(t, b)
	b.A.Signal(syscall.SIGSTOP)
	testbed.WaitFor(t, wait, "b to see the stopped a dead and hold back", func() (bool, string) {
		role, alive, waiting, inel, seen := group(b.B)
		return role == "STANDBY" && !alive && (waiting != "" || inel), seen
	})
	// The stopped daemon still holds the address; its host answers.
	serviceOn(t, b, "a")
	expectOn(t, b, "web", "a")
	b.A.Signal(syscall.SIGCONT)
	b.B.WaitPeer(true, wait)
	b.A.WaitPeer(true, wait)
	b.B.WaitHeartbeats("udp", 20, wait)
	if role, seen := b.A.Role("main"); role != "ACTIVE" {
		t.Fatalf("a after SIGCONT: %s, want ACTIVE", seen)
	}
	if role, seen := b.B.Role("main"); role != "STANDBY" {
		t.Fatalf("b after SIGCONT of a: %s, want STANDBY", seen)
	}
	serviceOn(t, b, "a")
	expectOn(t, b, "web", "a")
}

func TestOneLinkCutAlone(t *testing.T) {
	for _, c := range []struct {
		link        netbed.Link
		name, other string
	}{{netbed.Dedicated, "udp", "serial"}, {netbed.Serial, "serial", "udp"}} {
		t.Run(c.link.String(), func(t *testing.T) {
			b := newBed(t, netbed.Options{})
			startPair(t, b)
			b.Cut(c.link, netbed.Both)
			for _, n := range []*netbed.Node{b.A, b.B} {
				testbed.WaitFor(t, wait, n.Name+" to report "+c.name+" down", func() (bool, string) {
					up, seen := n.LinkUp(c.name)
					return !up, seen
				})
			}
			b.B.WaitHeartbeats(c.other, 24, wait) // 2.4 x deadtime on the other link
			if role, seen := b.B.Role("main"); role != "STANDBY" {
				t.Fatalf("b took over with only %s cut: %s", c.name, seen)
			}
			if role, seen := b.A.Role("main"); role != "ACTIVE" {
				t.Fatalf("a gave up with only %s cut: %s", c.name, seen)
			}
			for _, n := range []*netbed.Node{b.A, b.B} {
				testbed.WaitFor(t, wait, "DEGRADED in "+n.Name+"'s STATUS=", func() (bool, string) {
					return n.Notify.Has("DEGRADED"), fmt.Sprint(len(n.Notify.Messages()), " notify messages")
				})
			}
			serviceOn(t, b, "a")
			b.Heal(c.link, netbed.Both)
			testbed.WaitFor(t, wait, c.name+" up again at b", func() (bool, string) { return b.B.LinkUp(c.name) })
			expectOn(t, b, "web", "a")
		})
	}
}

func TestBothLinksCutWhileBothLive(t *testing.T) {
	// Dedicated and serial cut, DRBD's replication link with them; the
	// public segment still carries b's partition check: no takeover.
	b := newBed(t, netbed.Options{})
	startPair(t, b)
	b.Cut(netbed.Dedicated, netbed.Both)
	b.Cut(netbed.Serial, netbed.Both)
	b.Sim("disconnect", "r0")
	testbed.WaitFor(t, wait, "b to see a silent and call it a partition", func() (bool, string) {
		role, alive, waiting, _, seen := group(b.B)
		return role == "STANDBY" && !alive && strings.Contains(waiting, "partition"), seen
	})
	serviceOn(t, b, "a")
	expectOn(t, b, "web", "a")
	b.Heal(netbed.Dedicated, netbed.Both)
	b.Heal(netbed.Serial, netbed.Both)
	b.Sim("connect", "r0")
	b.B.WaitPeer(true, wait)
	b.B.WaitHeartbeats("udp", 10, wait)
	if role, seen := b.B.Role("main"); role != "STANDBY" {
		t.Fatalf("b after the partition healed: %s", seen)
	}
	serviceOn(t, b, "a")
}

// TestOneWayLoss: one node's heartbeats stop reaching the other on both
// links while the other direction works. When the standby goes deaf it sees
// the active dead, but the active answers on its public address: no
// takeover. When the active goes deaf it sees the standby dead and keeps
// what it runs; the standby, still hearing it ACTIVE, stays STANDBY.
func TestOneWayLoss(t *testing.T) {
	for _, dir := range []netbed.Direction{netbed.AToB, netbed.BToA} {
		t.Run(dir.String(), func(t *testing.T) {
			b := newBed(t, netbed.Options{})
			startPair(t, b)
			deaf, hearing := b.B, b.A // the node that no longer hears its peer
			if dir == netbed.BToA {
				deaf, hearing = b.A, b.B
			}
			b.Cut(netbed.Dedicated, dir)
			b.Cut(netbed.Serial, dir)
			roles := func(when string) {
				t.Helper()
				for _, c := range []struct {
					n    *netbed.Node
					role string
				}{{b.A, "ACTIVE"}, {b.B, "STANDBY"}} {
					if role, seen := c.n.Role("main"); role != c.role {
						t.Fatalf("%s: %s, want %s", when, seen, c.role)
					}
				}
				serviceOn(t, b, "a")
				expectOn(t, b, "web", "a")
			}
			testbed.WaitFor(t, wait, deaf.Name+" to see its peer silent", func() (bool, string) {
				_, alive, _, _, seen := group(deaf)
				return !alive, seen
			})
			hearing.WaitHeartbeats("udp", 20, wait) // still heard, 2 x deadtime
			hearing.WaitHeartbeats("serial", 20, wait)
			roles("with " + dir.String() + " lost")
			b.Heal(netbed.Dedicated, dir)
			b.Heal(netbed.Serial, dir)
			deaf.WaitPeer(true, wait)
			deaf.WaitHeartbeats("udp", 10, wait)
			roles("after the heal")
		})
	}
}

func TestLinkFlapping(t *testing.T) {
	// The dedicated link goes down and up ten times while the serial line
	// stays: degraded each time, never a failover. Then both links flap
	// for a minute, faster than deadtime: nothing moves, nothing restarts.
	b := newBed(t, netbed.Options{})
	startPair(t, b)
	for i := 0; i < 10; i++ {
		b.Cut(netbed.Dedicated, netbed.Both)
		testbed.WaitFor(t, wait, fmt.Sprintf("flap %d: udp down at b", i), func() (bool, string) {
			up, seen := b.B.LinkUp("udp")
			return !up, seen
		})
		b.Heal(netbed.Dedicated, netbed.Both)
		testbed.WaitFor(t, wait, fmt.Sprintf("flap %d: udp up at b", i), func() (bool, string) { return b.B.LinkUp("udp") })
	}
	// And flaps shorter than a link's timeout, counted in serial heartbeats.
	for i := 0; i < 10; i++ {
		b.Cut(netbed.Dedicated, netbed.Both)
		b.B.WaitHeartbeats("serial", 3, wait)
		b.Heal(netbed.Dedicated, netbed.Both)
		b.B.WaitHeartbeats("udp", 1, wait)
	}
	// Then for a minute (XHAD_FLAP, default 1m): the dedicated link changes
	// state every 300 ms and the serial cable every 700 ms, so both are
	// sometimes down together, never for deadtime (1s). The schedule is the
	// fault itself, not a wait.
	period := time.Minute
	if s := os.Getenv("XHAD_FLAP"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("XHAD_FLAP=%q: want a duration", s)
		}
		period = d
	}
	flapStart := time.Now()
	udpFlip, serialFlip := time.NewTicker(300*time.Millisecond), time.NewTicker(700*time.Millisecond)
	udpDown, serialDown, flips := false, false, 0
	for end := time.After(period); ; flips++ {
		select {
		case <-udpFlip.C:
			if udpDown {
				b.Heal(netbed.Dedicated, netbed.Both)
			} else {
				b.Cut(netbed.Dedicated, netbed.Both)
			}
			udpDown = !udpDown
			continue
		case <-serialFlip.C:
			if serialDown {
				b.Heal(netbed.Serial, netbed.Both)
			} else {
				b.Cut(netbed.Serial, netbed.Both)
			}
			serialDown = !serialDown
			continue
		case <-end:
		}
		break
	}
	udpFlip.Stop()
	serialFlip.Stop()
	b.Heal(netbed.Dedicated, netbed.Both)
	b.Heal(netbed.Serial, netbed.Both)
	t.Logf("%d link state changes in %s", flips, time.Since(flapStart).Round(time.Second))
	b.B.WaitHeartbeats("udp", 10, wait)
	for _, n := range []*netbed.Node{b.A, b.B} {
		for _, bad := range []string{"peer-dead", "-> STOPPING", "-> STARTING", "restarting"} {
			allowed := 0
			if n == b.A && bad == "-> STARTING" {
				allowed = 1 // the start-up
			}
			if got := strings.Count(n.Log.String(), bad); got > allowed {
				t.Errorf("%s logged %q %d times (want at most %d):\n%s", n.Name, bad, got, allowed, n.Log.Tail(30))
			}
		}
	}
	for _, c := range []struct {
		n    *netbed.Node
		role string
	}{{b.A, "ACTIVE"}, {b.B, "STANDBY"}} {
		if role, seen := c.n.Role("main"); role != c.role {
			t.Fatalf("after flapping: %s, want %s", seen, c.role)
		}
	}
	if b.B.Log.Contains("STANDBY -> STARTING") {
		t.Fatalf("b started the group during the flapping:\n%s", b.B.Log.Tail(30))
	}
	serviceOn(t, b, "a")
	expectOn(t, b, "web", "a")
}

func TestBothStartInTheSameSecond(t *testing.T) {
	b := newBed(t, netbed.Options{})
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, n := range []*netbed.Node{b.B, b.A} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			n.Start()
		}()
	}
	close(start)
	wg.Wait()
	b.A.WaitRole("main", "ACTIVE", wait) // the lower name wins
	b.B.WaitRole("main", "STANDBY", wait)
	serviceOn(t, b, "a")
	expectOn(t, b, "web", "a")
}

func TestSIGHUPOnActive(t *testing.T) {
	b := newBed(t, netbed.Options{})
	startPair(t, b)
	b.A.Signal(syscall.SIGHUP)
	b.B.WaitRole("main", "ACTIVE", wait)
	b.A.WaitRole("main", "STANDBY", wait)
	serviceOn(t, b, "b")
	expectOn(t, b, "web", "b")
	if !b.A.Log.Contains("SIGHUP") {
		t.Errorf("a did not log SIGHUP as the reason:\n%s", b.A.Log.Tail(20))
	}
}

func TestSIGUSR1OnLoneStandby(t *testing.T) {
	// b starts alone (a's host is up, its daemon never started): it waits;
	// SIGUSR1 makes it take over alone.
	b := newBed(t, netbed.Options{Initdead: "1s"})
	b.B.Start()
	testbed.WaitFor(t, wait, "b to wait alone after initdead", func() (bool, string) {
		role, alive, waiting, _, seen := group(b.B)
		return role == "STANDBY" && !alive && waiting != "", seen
	})
	serviceOn(t, b, "")
	expectOn(t, b, "web", "")
	b.B.Signal(syscall.SIGUSR1)
	b.B.WaitRole("main", "ACTIVE", wait)
	serviceOn(t, b, "b")
	expectOn(t, b, "web", "b")
}

func TestDRBDRefusesOutdatedDisk(t *testing.T) {
	// b's disk is Outdated when a's host dies: b must not promote; nothing
	// runs and nobody holds the address.
	b := newBed(t, netbed.Options{})
	startPair(t, b)
	b.Sim("disconnect", "r0")
	b.Sim("disk", "r0", "b", "Outdated")
	b.CrashHost(b.A)
	testbed.WaitFor(t, wait, "b to refuse the takeover with DRBD's reason", func() (bool, string) {
		role, alive, _, inel, seen := group(b.B)
		return role == "STANDBY" && !alive && inel, seen
	})
	serviceOn(t, b, "")
	expectOn(t, b, "web", "")
	if out, _ := b.Tool("b", "sim", "drbdadm", "role", "r0"); !strings.HasPrefix(out, "Secondary") {
		t.Fatalf("b's DRBD role: %q, want Secondary", out)
	}
}

func TestDomainIgnoringShutdownIsDestroyed(t *testing.T) {
	b := newBed(t, netbed.Options{ShutdownTimeout: "1s"})
	startPair(t, b)
	b.Sim("domain", "a", "web", "ignore-shutdown")
	b.A.Signal(syscall.SIGHUP)
	b.B.WaitRole("main", "ACTIVE", wait)
	serviceOn(t, b, "b")
	expectOn(t, b, "web", "b")
	j := b.Sim("journal")
	if !strings.Contains(j, "destroy") {
		t.Fatalf("the journal shows no destroy of the domain that ignored shutdown:\n%s", j)
	}
}

func TestCrashedResourceRestartedThenFailover(t *testing.T) {
	b := newBed(t, netbed.Options{GroupKeys: "max-restarts = 1"})
	startPair(t, b)
	b.Sim("domain", "a", "web", "crash")
	testbed.WaitFor(t, wait, "a to restart web locally", func() (bool, string) {
		return b.A.Log.Contains("restarting web locally") && b.RunningOn("web") == "a", b.A.Log.Tail(3)
	})
	if role, seen := b.A.Role("main"); role != "ACTIVE" {
		t.Fatalf("a after one local restart: %s", seen)
	}
	b.Sim("domain", "a", "web", "crash")
	b.B.WaitRole("main", "ACTIVE", wait)
	serviceOn(t, b, "b")
	testbed.WaitFor(t, wait, "web on b", func() (bool, string) { on := b.RunningOn("web"); return on == "b", "web on " + on })
	if !b.A.Log.Contains("restart limit") {
		t.Errorf("a did not log the restart limit:\n%s", b.A.Log.Tail(20))
	}
}

func TestReloadFailingValidation(t *testing.T) {
	b := newBed(t, netbed.Options{})
	startPair(t, b)
	good, err := os.ReadFile(b.A.Config)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(good), `deadtime = "1s"`, `deadtime = "40ms"`, 1)
	if bad == string(good) {
		t.Fatal("the test could not break the configuration")
	}
	if err := os.WriteFile(b.A.Config, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	resp, err := b.A.Command("reload", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.OK || !strings.Contains(resp.Error, "deadtime") {
		t.Fatalf("reload of an invalid file: ok=%v error=%q; want a refusal naming deadtime", resp.OK, resp.Error)
	}
	b.A.Signal(syscall.SIGUSR2)
	testbed.WaitFor(t, wait, "a to log the refused SIGUSR2 reload", func() (bool, string) {
		return strings.Count(b.A.Log.String(), "reload refused") >= 2, b.A.Log.Tail(5)
	})
	b.B.WaitHeartbeats("udp", 10, wait) // the old plan keeps running
	if role, seen := b.A.Role("main"); role != "ACTIVE" {
		t.Fatalf("a after a refused reload: %s", seen)
	}
	serviceOn(t, b, "a")
}

// TestIsolatedActiveStepsDown: every link cut while both daemons live, the
// active's public side with them, so that it reaches neither its peer nor
// the ping target (the client's address, standing in for the gateway).
// The active is the isolated one: it self-fences and destroys its domain at
// once; the standby, which still reaches the ping target, waits
// isolation-grace, fences and takes over. At no instant do both run the
// domain or hold DRBD primary (the journal check). After the heal the old
// active rejoins as STANDBY, self-fenced, and when the group is handed back
// to it the self fence is lifted and the service answers from it.
func TestIsolatedActiveStepsDown(t *testing.T) {
	b := newBed(t, netbed.Options{PingClient: true, Failover: `ping-timeout = "500ms"`})
	startPair(t, b)
	waitPingReachable(t, b)
	b.Isolate(b.A)
	b.Sim("disconnect", "r0") // DRBD's replication ran over the dedicated link
	testbed.WaitFor(t, wait, "a to give the group up as the isolated node", func() (bool, string) {
		role, _, waiting, _, seen := group(b.A)
		return role == "STANDBY" && strings.Contains(waiting, "isolated"), seen
	})
	if st, err := b.A.Status(); err != nil || !st.Isolated {
		t.Errorf("a's status does not say isolated: %v", err)
	}
	if !b.A.Log.Contains("immediate stop") {
		t.Errorf("a did not log the immediate stop:\n%s", b.A.Log.Tail(30))
	}
	if tables, err := b.Tables(b.A); err != nil || !contains(tables, "xhad") {
		t.Errorf("a's namespace after the isolation has tables %v (%v); want the self fence in table xhad", tables, err)
	}
	b.B.WaitRole("main", "ACTIVE", wait)
	if !b.B.Log.Contains("isolation-grace") {
		t.Errorf("b did not log its isolation-grace wait:\n%s", b.B.Log.Tail(30))
	}
	expectOn(t, b, "web", "b")
	j := b.Sim("journal")
	if !strings.Contains(j, "destroy") || strings.Contains(j, "shutdown") {
		t.Errorf("the isolated node's domain was not destroyed at once (want a destroy and no shutdown):\n%s", j)
	}

	b.Unisolate(b.A)
	b.Sim("connect", "r0")
	// a wrote to its disk between the cut and the destroy, b since its
	// promotion: DRBD sees a split brain and stays disconnected. The
	// operator's recovery (or after-sb-1pri discard-secondary) throws the
	// isolated node's unreplicated writes away.
	if j := b.Sim("journal"); !strings.Contains(j, "split-brain") {
		t.Fatalf("DRBD reconnected without a split brain after both sides wrote:\n%s", j)
	}
	for _, c := range [][]string{{"a", "connect", "--discard-my-data", "r0"}, {"b", "connect", "r0"}} {
		if out, err := b.Tool(c[0], "sim", append([]string{"drbdadm"}, c[1:]...)...); err != nil {
			t.Fatalf("drbdadm %v on %s: %v: %s", c[1:], c[0], err, out)
		}
	}
	testbed.WaitFor(t, wait, "DRBD resynced from b", func() (bool, string) {
		out, err := b.Tool("a", "sim", "drbdadm", "dstate", "r0")
		return err == nil && strings.HasPrefix(out, "UpToDate/UpToDate"), fmt.Sprint(out, err)
	})
	b.A.WaitPeer(true, wait)
	b.B.WaitPeer(true, wait)
	serviceOn(t, b, "b")
	b.A.WaitHeartbeats("udp", 10, wait)
	if st, err := b.A.Status(); err != nil || st.Isolated {
		t.Errorf("a's status still says isolated after the heal (%v)", err)
	}
	if role, seen := b.A.Role("main"); role != "STANDBY" {
		t.Fatalf("the old active after the heal: %s, want STANDBY", seen)
	}
	expectOn(t, b, "web", "b")

	// Hand the group back: a starts it and lifts its own self fence.
	b.B.Signal(syscall.SIGHUP)
	b.A.WaitRole("main", "ACTIVE", wait)
	serviceOn(t, b, "a")
	expectOn(t, b, "web", "a")
	if !b.A.Log.Contains("self fence lifted") {
		t.Errorf("a did not log the lifted self fence:\n%s", b.A.Log.Tail(30))
	}
}

// TestSIGSTOPWithoutPartitionCheck: the active daemon is stopped past
// deadtime on hosts without public-address, so the standby cannot tell a
// hung daemon from a dead host. Without a watchdog, DRBD itself refuses
// the second promotion (the stopped node is still Primary and connected):
// no second copy, and after SIGCONT the old active carries on and nobody
// fights. With a hardware watchdog (timeout 1s < deadtime 2s), the stopped
// loop stops petting it, the watchdog resets the host before the standby's
// deadtime ends, and the standby takes over; the host comes back STANDBY.
func TestSIGSTOPWithoutPartitionCheck(t *testing.T) {
	for _, withWatchdog := range []bool{false, true} {
		t.Run(fmt.Sprintf("watchdog=%v", withWatchdog), func(t *testing.T) {
			o := netbed.Options{Deadtime: "2s", Initdead: "4s", NoPublicAddress: true}
			if withWatchdog {
				o.Watchdog = "1s"
			}
			b := newBed(t, o)
			startPair(t, b)
			if withWatchdog {
				testbed.WaitFor(t, wait, "a to pet its watchdog", func() (bool, string) {
					return b.A.Watchdog.Pets() > 0 && b.A.Log.Contains("hardware watchdog armed"), fmt.Sprint(b.A.Watchdog.Pets(), " pets")
				})
			}
			b.A.Signal(syscall.SIGSTOP)
			if !withWatchdog {
				testbed.WaitFor(t, wait, "b to see a dead and be refused by DRBD", func() (bool, string) {
					role, alive, _, inel, seen := group(b.B)
					return role == "STANDBY" && !alive && inel, seen
				})
				expectOn(t, b, "web", "a")
				serviceOn(t, b, "a")
				b.A.Signal(syscall.SIGCONT)
				b.B.WaitPeer(true, wait)
				b.B.WaitHeartbeats("udp", 20, wait)
				for _, c := range []struct {
					n    *netbed.Node
					role string
				}{{b.A, "ACTIVE"}, {b.B, "STANDBY"}} {
					if role, seen := c.n.Role("main"); role != c.role {
						t.Fatalf("after SIGCONT: %s, want %s", seen, c.role)
					}
				}
				if !b.A.Log.Contains("stalled") {
					t.Errorf("a did not log its stall:\n%s", b.A.Log.Tail(20))
				}
				expectOn(t, b, "web", "a")
				serviceOn(t, b, "a")
				return
			}
			var fired time.Time
			select {
			case fired = <-b.A.Watchdog.Expired:
			case <-time.After(wait):
				t.Fatalf("a's watchdog did not expire within %s after SIGSTOP (%d pets)", wait, b.A.Watchdog.Pets())
			}
			// The reset comes before b's deadtime ends: b has not acted.
			if role, seen := b.B.Role("main"); role != "STANDBY" {
				t.Fatalf("b when a's watchdog fired: %s, want STANDBY", seen)
			}
			expectOn(t, b, "web", "a")
			b.CrashHost(b.A) // the watchdog resets a's host
			b.B.WaitRole("main", "ACTIVE", wait)
			serviceOn(t, b, "b")
			expectOn(t, b, "web", "b")
			t.Logf("a's watchdog fired; b served %s later", time.Since(fired).Round(time.Millisecond))
			testbed.WaitFor(t, wait, "b to arm its own watchdog", func() (bool, string) {
				return b.B.Watchdog.Pets() > 0, fmt.Sprint(b.B.Watchdog.Pets(), " pets")
			})
			armedBefore := strings.Count(b.A.Log.String(), "hardware watchdog armed")
			b.BootHost(b.A)
			b.A.Start()
			b.A.WaitPeer(true, wait)
			b.A.WaitHeartbeats("udp", 10, wait)
			if role, seen := b.A.Role("main"); role != "STANDBY" {
				t.Fatalf("a after the reset: %s, want STANDBY", seen)
			}
			if strings.Count(b.A.Log.String(), "hardware watchdog armed") != armedBefore {
				t.Errorf("a armed its watchdog again while STANDBY:\n%s", b.A.Log.Tail(20))
			}
			expectOn(t, b, "web", "b")
		})
	}
}

// waitPingReachable waits until both nodes reach their ping target.
func waitPingReachable(t *testing.T, b *netbed.Bed) {
	t.Helper()
	testbed.WaitFor(t, wait, "both nodes to reach the ping target", func() (bool, string) {
		return b.A.Log.Contains("reachable=true") && b.B.Log.Contains("reachable=true"), b.A.Log.Tail(2) + b.B.Log.Tail(2)
	})
}

// TestIsolatedActiveWhoseStopHangsIsReset: as TestIsolatedActiveStepsDown,
// but the isolated node's domain cannot be destroyed (a stuck backend). With
// a hardware watchdog, the isolated node stops petting it as soon as it
// notices its isolation; its stop does not finish, so the watchdog resets
// the host, and that happens before the peer's isolation-grace ends (the
// configuration makes the default grace outlast watchdog-timeout). The peer
// then takes over; the journal shows no instant with the domain on both.
func TestIsolatedActiveWhoseStopHangsIsReset(t *testing.T) {
	b := newBed(t, netbed.Options{Deadtime: "2s", Initdead: "4s", Watchdog: "1s", PingClient: true, Failover: `ping-timeout = "500ms"`})
	startPair(t, b)
	waitPingReachable(t, b)
	testbed.WaitFor(t, wait, "a to pet its watchdog", func() (bool, string) {
		return b.A.Watchdog.Pets() > 0, fmt.Sprint(b.A.Watchdog.Pets(), " pets")
	})
	b.Sim("domain", "a", "web", "undestroyable")
	b.Isolate(b.A)
	b.Sim("disconnect", "r0")
	var fired time.Time
	select {
	case fired = <-b.A.Watchdog.Expired:
	case <-time.After(wait):
		t.Fatalf("a's watchdog did not expire within %s of the isolation:\n%s", wait, b.A.Log.Tail(20))
	}
	if role, seen := b.B.Role("main"); role != "STANDBY" {
		t.Fatalf("b when a's watchdog fired: %s, want STANDBY (still in isolation-grace)", seen)
	}
	if !b.A.Log.Contains("no longer petting the hardware watchdog") {
		t.Errorf("a did not log that it starves its watchdog:\n%s", b.A.Log.Tail(20))
	}
	expectOn(t, b, "web", "a") // the stuck domain is still there ...
	b.CrashHost(b.A)           // ... until the watchdog resets the host
	b.B.WaitRole("main", "ACTIVE", wait)
	serviceOn(t, b, "b")
	expectOn(t, b, "web", "b")
	t.Logf("a's watchdog fired; b served %s later", time.Since(fired).Round(time.Millisecond))
}
