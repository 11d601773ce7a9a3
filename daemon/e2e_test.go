package daemon_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"xhad/internal/testbed"
)

// These tests run two real `xhad run` processes on loopback: UDP heartbeats
// through proxies that can cut each direction, a serial cable made of two
// relayed PTYs, and simulated xl and drbdadm first in PATH sharing one state
// dir. After each test the simulator's journal must show that no exclusive
// domain ran on both nodes and DRBD was never Primary on both.

const wait = 20 * time.Second

// groupTOML is one group: DRBD r0, then domains that live on it.
func groupTOML(dir string, domains ...string) string {
	var b strings.Builder
	b.WriteString("[[group]]\nname = \"main\"\n\n  [[group.resource]]\n  name = \"r0\"\n  kind = \"drbd\"\n")
	for _, d := range domains {
		fmt.Fprintf(&b, "\n  [[group.resource]]\n  name = %q\n  kind = \"xen\"\n  config = %q\n  shutdown-timeout = \"2s\"\n  stop-timeout = \"5s\"\n",
			d, filepath.Join(dir, d+".cfg"))
	}
	return b.String()
}

func writeDomainConfigs(t *testing.T, dir string, domains ...string) {
	t.Helper()
	for i, d := range domains {
		cfg := fmt.Sprintf("name = %q\nmemory = 256\nvcpus = 1\ndisk = [ 'phy:/dev/drbd0,xvda%d,w' ]\n", d, i)
		if err := os.WriteFile(filepath.Join(dir, d+".cfg"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func newPair(t *testing.T, serial bool, extra string, domains ...string) *testbed.Pair {
	t.Helper()
	return newPairOpts(t, testbed.PairOptions{Serial: serial, Extra: extra}, domains...)
}

func newPairOpts(t *testing.T, o testbed.PairOptions, domains ...string) *testbed.Pair {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end daemon test")
	}
	cfgDir := t.TempDir()
	writeDomainConfigs(t, cfgDir, domains...)
	o.Groups = groupTOML(cfgDir, domains...)
	o.SimInit = []string{"--drbd", "r0:0:/dev/vg0/r0:7789"}
	p := testbed.NewPair(t, o)
	t.Cleanup(func() {
		if out, err := p.SimOutput("check"); err != nil {
			t.Errorf("simulator invariant check failed: %v\n%s", err, out)
		}
	})
	return p
}

// expectOn fails the test unless dom runs exactly on node ("a", "b", "a,b").
func expectOn(t *testing.T, p *testbed.Pair, dom, node, format string) {
	t.Helper()
	if on := running(p, dom); on != node {
		t.Fatalf(format, on)
	}
}

// crashHost kills a node's daemon with -9 and powers its simulated host off.
func crashHost(p *testbed.Pair, n *testbed.Node) {
	n.Kill()
	p.Sim("host-crash", n.Name)
}

// running reports on which nodes the simulator runs domain dom.
func running(p *testbed.Pair, dom string) string {
	var on []string
	for _, n := range []string{"a", "b"} {
		out, err := p.Tool(n, "xl", "list", dom)
		if err == nil && strings.Contains(out, dom) {
			on = append(on, n)
		}
	}
	return strings.Join(on, ",")
}

func TestStartupAgreement(t *testing.T) {
	p := newPair(t, true, "", "web", "db")
	p.A.Start()
	p.B.Start()
	p.A.WaitRole("main", "ACTIVE", wait)
	p.B.WaitRole("main", "STANDBY", wait)
	testbed.WaitFor(t, wait, "web and db running on a", func() (bool, string) {
		w, d := running(p, "web"), running(p, "db")
		return w == "a" && d == "a", "web on " + w + ", db on " + d
	})
	for _, n := range []*testbed.Node{p.A, p.B} {
		testbed.WaitFor(t, wait, n.Name+" READY=1 and STATUS=", func() (bool, string) {
			return n.Notify.Has("READY=1") && n.Notify.Has("STATUS=main"), fmt.Sprint(n.Notify.Messages())
		})
	}
	st, err := p.B.Status()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range st.Links {
		if !l.Up || l.Rx == 0 {
			t.Errorf("link %s on b: up=%v rx=%d, want up with heartbeats", l.Name, l.Up, l.Rx)
		}
	}
	if len(st.Links) != 2 {
		t.Errorf("b has %d links, want udp and serial: %+v", len(st.Links), st.Links)
	}
}

func TestSignalsMoveTheGroup(t *testing.T) {
	p := newPair(t, false, "", "web")
	p.A.Start()
	p.B.Start()
	p.A.WaitRole("main", "ACTIVE", wait)

	p.A.Signal(syscall.SIGHUP) // standby: hand over to b
	p.B.WaitRole("main", "ACTIVE", wait)
	p.A.WaitRole("main", "STANDBY", wait)
	expectOn(t, p, "web", "b", "after SIGHUP on a, web runs on %q, want b")

	p.A.Signal(syscall.SIGUSR1) // take over again
	p.A.WaitRole("main", "ACTIVE", wait)
	p.B.WaitRole("main", "STANDBY", wait)
	expectOn(t, p, "web", "a", "after SIGUSR1 on a, web runs on %q, want a")
	if !p.A.Log.Contains("SIGHUP") || !p.A.Log.Contains("SIGUSR1") {
		t.Errorf("signals not logged with a reason:\n%s", p.A.Log.Tail(40))
	}
}

func TestHostDeathTakeover(t *testing.T) {
	p := newPair(t, true, "", "web")
	p.A.Start()
	p.B.Start()
	p.A.WaitRole("main", "ACTIVE", wait)
	p.B.WaitRole("main", "STANDBY", wait)

	start := time.Now()
	crashHost(p, p.A) // kill -9 of the daemon and its host: domains gone, DRBD down
	p.B.WaitRole("main", "ACTIVE", wait)
	t.Logf("takeover after kill -9 of the active: %s (deadtime 1s)", time.Since(start).Round(time.Millisecond))
	expectOn(t, p, "web", "b", "web runs on %q, want b")
	if !p.B.Log.Contains("peer a is gone") {
		t.Errorf("b did not log the reason of the takeover:\n%s", p.B.Log.Tail(30))
	}
}

func TestDaemonKilledHostAliveDRBDRefuses(t *testing.T) {
	// kill -9 of the daemon only: the domains and the DRBD Primary stay on
	// a. b declares a dead and tries to take over, but DRBD refuses to
	// promote while a is Primary and connected: nothing runs twice, and b
	// says why.
	p := newPair(t, false, "", "web")
	p.A.Start()
	p.B.Start()
	p.A.WaitRole("main", "ACTIVE", wait)
	p.B.WaitRole("main", "STANDBY", wait)
	p.A.Kill()
	testbed.WaitFor(t, wait, "b to refuse the takeover with DRBD's reason", func() (bool, string) {
		st, err := p.B.Status()
		if err != nil {
			return false, err.Error()
		}
		g := st.Groups[0]
		return g.Role == "STANDBY" && g.Ineligible, fmt.Sprintf("%s waiting=%q last=%+v", g.Role, g.Waiting, st.LastDecision)
	})
	expectOn(t, p, "web", "a", "web runs on %q, want a only")
	// The restarted daemon adopts what runs instead of starting it twice.
	p.A.Start()
	p.A.WaitRole("main", "ACTIVE", wait)
	if !p.A.Log.Contains("adopted") {
		t.Errorf("a did not log the adoption:\n%s", p.A.Log.Tail(30))
	}
}

func TestOneLinkCutIsNoFailover(t *testing.T) {
	for _, which := range []string{"udp", "serial"} {
		t.Run(which, func(t *testing.T) {
			p := newPair(t, true, "", "web")
			p.A.Start()
			p.B.Start()
			p.A.WaitRole("main", "ACTIVE", wait)
			other := "serial"
			if which == "udp" {
				p.CutUDP()
			} else {
				p.Cable.Cut()
				other = "udp"
			}
			for _, n := range []*testbed.Node{p.A, p.B} {
				testbed.WaitFor(t, wait, n.Name+" to report "+which+" down", func() (bool, string) {
					up, seen := n.LinkUp(which)
					return !up, seen
				})
			}
			// 2.4 x deadtime worth of heartbeats on the remaining link.
			p.B.WaitHeartbeats(other, 24, wait)
			if role, seen := p.B.Role("main"); role != "STANDBY" {
				t.Fatalf("b took over with only %s cut: %s", which, seen)
			}
			if role, seen := p.A.Role("main"); role != "ACTIVE" {
				t.Fatalf("a gave up with only %s cut: %s", which, seen)
			}
			testbed.WaitFor(t, wait, "DEGRADED in b's STATUS=", func() (bool, string) {
				return p.B.Notify.Has("DEGRADED"), fmt.Sprint(p.B.Notify.Messages())
			})
			if which == "udp" {
				p.HealUDP()
			} else {
				p.Cable.Heal()
			}
			testbed.WaitFor(t, wait, which+" up again at b", func() (bool, string) { return p.B.LinkUp(which) })
		})
	}
}

func TestForgedAndReplayedPacketsHaveNoEffect(t *testing.T) {
	p := newPair(t, false, "", "web")
	p.A.Start()
	p.B.Start()
	p.A.WaitRole("main", "ACTIVE", wait)
	captured := p.ToB.Last() // a real heartbeat of a, seen on its way to b
	if len(captured) == 0 {
		t.Fatal("no heartbeat captured")
	}
	forged := append([]byte(nil), captured...)
	forged[len(forged)/2] ^= 0x40 // any change breaks the HMAC
	for i := 0; i < 20; i++ {
		if err := p.ToB.Inject(captured); err != nil {
			t.Fatal(err)
		}
		if err := p.ToB.Inject(forged); err != nil {
			t.Fatal(err)
		}
		_ = p.ToB.Inject([]byte("garbage that is not a heartbeat at all"))
	}
	testbed.WaitFor(t, wait, "b to count replayed, forged and garbage datagrams", func() (bool, string) {
		st, err := p.B.Status()
		if err != nil {
			return false, err.Error()
		}
		d := st.Links[0].Dropped
		return d["replay"] >= 20 && d["auth"] >= 20 && d["corrupt"] >= 20, fmt.Sprintf("dropped %v", d)
	})
	if role, seen := p.B.Role("main"); role != "STANDBY" {
		t.Fatalf("b changed role after forged packets: %s", seen)
	}
	if role, seen := p.A.Role("main"); role != "ACTIVE" {
		t.Fatalf("a changed role: %s", seen)
	}
}

func TestSIGSTOPStopsWatchdogThenPeerTakesOver(t *testing.T) {
	// The test plays systemd and the hardware watchdog: the daemon pings
	// WATCHDOG=1 from its decision loop only, so a SIGSTOPped daemon falls
	// silent; the watchdog then resets the host (domains and DRBD gone), and
	// the peer takes over. While a is stopped but its host still runs the
	// domain, b must not start a second copy: DRBD refuses while a is
	// Primary and connected.
	p := newPair(t, true, "", "web")
	p.A.Env = []string{"WATCHDOG_USEC=300000"}
	p.A.Start()
	p.B.Start()
	p.A.WaitRole("main", "ACTIVE", wait)
	testbed.WaitFor(t, wait, "a's WATCHDOG=1 pings", func() (bool, string) {
		return !p.A.Notify.LastWatchdog().IsZero(), fmt.Sprint(len(p.A.Notify.Messages()), " messages")
	})
	p.A.Signal(syscall.SIGSTOP)
	testbed.WaitFor(t, wait, "a's watchdog pings to stop for longer than WatchdogSec", func() (bool, string) {
		age := time.Since(p.A.Notify.LastWatchdog())
		return age > 600*time.Millisecond, "last ping " + age.String() + " ago"
	})
	testbed.WaitFor(t, wait, "b to see a dead and be refused by DRBD", func() (bool, string) {
		st, err := p.B.Status()
		if err != nil {
			return false, err.Error()
		}
		return !st.Peer.Alive && st.Groups[0].Ineligible, fmt.Sprintf("peer alive=%v group=%+v", st.Peer.Alive, st.Groups[0])
	})
	expectOn(t, p, "web", "a", "while a is stopped, web runs on %q, want a only")
	// The watchdog fires: the host of a resets.
	crashHost(p, p.A)
	p.B.WaitRole("main", "ACTIVE", wait)
	expectOn(t, p, "web", "b", "after the reset of a, web runs on %q, want b")
}

func TestReloadRefusesInvalidConfig(t *testing.T) {
	p := newPair(t, false, "", "web")
	p.A.Start()
	p.B.Start()
	p.A.WaitRole("main", "ACTIVE", wait)
	good, err := os.ReadFile(p.A.Config)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(good), `deadtime = "1s"`, `deadtime = "40ms"`, 1)
	if err := os.WriteFile(p.A.Config, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	resp, err := p.A.Command("reload", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.OK || !strings.Contains(resp.Error, "xhad.toml:") || !strings.Contains(resp.Error, "deadtime") {
		t.Fatalf("reload of an invalid file: ok=%v error=%q; want a refusal naming file:line and deadtime", resp.OK, resp.Error)
	}
	p.A.Signal(syscall.SIGUSR2) // the same through the signal
	testbed.WaitFor(t, wait, "a to log the refused SIGUSR2 reload", func() (bool, string) {
		return strings.Count(p.A.Log.String(), "reload refused") >= 2, p.A.Log.Tail(5)
	})
	if role, seen := p.A.Role("main"); role != "ACTIVE" {
		t.Fatalf("a changed role after a refused reload: %s", seen)
	}
	p.B.WaitHeartbeats("udp", 5, wait) // the old plan keeps running
}

func TestAllLinksCut(t *testing.T) {
	t.Run("peer host answers publicly: partition, no takeover", func(t *testing.T) {
		p := newPairOpts(t, testbed.PairOptions{Serial: true, Public: true}, "web")
		p.A.Start()
		p.B.Start()
		p.A.WaitRole("main", "ACTIVE", wait)
		p.CutUDP()
		p.Cable.Cut()
		p.Sim("disconnect", "r0") // the replication link goes with them
		testbed.WaitFor(t, wait, "b to see a silent and call it a partition", func() (bool, string) {
			st, err := p.B.Status()
			if err != nil {
				return false, err.Error()
			}
			return !st.Peer.Alive && strings.Contains(st.Groups[0].Waiting, "partition"), fmt.Sprintf("alive=%v waiting=%q", st.Peer.Alive, st.Groups[0].Waiting)
		})
		expectOn(t, p, "web", "a", "web runs on %q during the partition, want a only")
		p.HealUDP()
		p.Cable.Heal()
		p.B.WaitPeer(true, wait)
		if role, seen := p.B.Role("main"); role != "STANDBY" {
			t.Fatalf("b after the partition healed: %s", seen)
		}
	})
	t.Run("peer host dead: takeover", func(t *testing.T) {
		p := newPairOpts(t, testbed.PairOptions{Serial: true, Public: true}, "web")
		p.A.Start()
		p.B.Start()
		p.A.WaitRole("main", "ACTIVE", wait)
		p.CutUDP()
		p.Cable.Cut()
		crashHost(p, p.A)
		p.B.WaitRole("main", "ACTIVE", wait)
		expectOn(t, p, "web", "b", "web runs on %q, want b")
		if !p.B.Log.Contains("does not answer on its public address") {
			t.Errorf("b did not log the public-address check:\n%s", p.B.Log.Tail(30))
		}
	})
}

func TestOrderlyStopKeepsHeartbeatsAndExtendsTimeout(t *testing.T) {
	// A domain that takes 2 s to shut down: during the orderly stop the
	// daemon keeps sending heartbeats and watchdog pings, tells systemd
	// STOPPING=1 and EXTEND_TIMEOUT_USEC, and the peer takes over only after
	// the goodbye, without waiting for deadtime.
	p := newPair(t, false, "", "web")
	p.Sim("set", "shutdown-delay", "2s")
	p.A.Env = []string{"WATCHDOG_USEC=400000"}
	p.A.Start()
	p.B.Start()
	p.A.WaitRole("main", "ACTIVE", wait)
	p.A.Signal(syscall.SIGTERM)
	p.A.WaitRole("main", "STOPPING", wait)
	stopAt := time.Now()
	p.B.WaitHeartbeats("udp", 8, wait) // 0.8 s of heartbeats while a stops
	if role, seen := p.B.Role("main"); role != "STANDBY" {
		t.Fatalf("b took over while a was still stopping: %s", seen)
	}
	if err := p.A.WaitExit(wait); err != nil {
		t.Fatalf("a exited with %v\n%s", err, p.A.Log.Tail(20))
	}
	p.B.WaitRole("main", "ACTIVE", wait)
	if !p.B.Log.Contains("said goodbye") {
		t.Errorf("b did not take over on the goodbye:\n%s", p.B.Log.Tail(20))
	}
	var extends, pingsDuringStop int
	for _, m := range p.A.Notify.Messages() {
		if strings.Contains(m.Text, "EXTEND_TIMEOUT_USEC=") {
			extends++
		}
		if strings.Contains(m.Text, "WATCHDOG=1") && m.At.After(stopAt.Add(time.Second)) {
			pingsDuringStop++
		}
	}
	if !p.A.Notify.Has("STOPPING=1") || extends == 0 || pingsDuringStop == 0 {
		t.Errorf("notify during the stop: STOPPING=%v extends=%d watchdog pings after 1 s=%d\n%v",
			p.A.Notify.Has("STOPPING=1"), extends, pingsDuringStop, p.A.Notify.Messages())
	}
}

// TestFiftyDomainsOverLVMOverDRBD fails a group of one DRBD resource, one
// volume group on it and 50 domains on its logical volumes over, by hand and
// by a host crash. The simulator refuses to activate the VG where DRBD is not
// Primary and to demote DRBD under an active VG, so order matters; the
// journal proves nothing ran on both nodes.
func TestFiftyDomainsOverLVMOverDRBD(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end daemon test")
	}
	cfgDir := t.TempDir()
	var doms []string
	var b strings.Builder
	b.WriteString("[[group]]\nname = \"main\"\nparallel = 16\n\n  [[group.resource]]\n  name = \"r0\"\n  kind = \"drbd\"\n")
	b.WriteString("\n  [[group.resource]]\n  name = \"vg0\"\n  kind = \"lvm\"\n  volume-group = \"vg0\"\n")
	for i := 0; i < 50; i++ {
		d := fmt.Sprintf("dom%02d", i)
		doms = append(doms, d)
		cfg := filepath.Join(cfgDir, d+".cfg")
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf("name = %q\nmemory = 128\ndisk = [ 'phy:/dev/vg0/%s,xvda,w' ]\n", d, d)), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "\n  [[group.resource]]\n  name = %q\n  kind = \"xen\"\n  config = %q\n  shutdown-timeout = \"2s\"\n  stop-timeout = \"5s\"\n", d, cfg)
	}
	p := testbed.NewPair(t, testbed.PairOptions{Serial: true, Public: true, Groups: b.String(),
		SimInit: []string{"--drbd", "r0:0:/dev/sdb1:7789"}})
	p.Sim("add-vg", "vg0", "r0", strings.Join(doms, ","))
	p.Sim("set", "create-delay", "20ms")
	p.Sim("set", "shutdown-delay", "30ms")
	t.Cleanup(func() {
		if out, err := p.SimOutput("check"); err != nil {
			t.Errorf("simulator invariant check failed: %v\n%s", err, out)
		}
	})
	allOn := func(node string) func() (bool, string) {
		return func() (bool, string) {
			n := 0
			for _, d := range doms {
				if running(p, d) == node {
					n++
				}
			}
			return n == len(doms), fmt.Sprintf("%d of %d domains on %s only", n, len(doms), node)
		}
	}
	p.A.Start()
	p.B.Start()
	p.A.WaitRole("main", "ACTIVE", wait)
	testbed.WaitFor(t, wait, "50 domains on a", allOn("a"))

	start := time.Now()
	p.A.Signal(syscall.SIGHUP)
	p.B.WaitRole("main", "ACTIVE", wait)
	testbed.WaitFor(t, wait, "50 domains on b", allOn("b"))
	t.Logf("hand-over of 50 domains (stop on a, start on b, parallel 16): %s", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	crashHost(p, p.B)
	p.A.WaitRole("main", "ACTIVE", wait)
	testbed.WaitFor(t, wait, "50 domains back on a", allOn("a"))
	t.Logf("takeover of 50 domains after a host crash: %s", time.Since(start).Round(time.Millisecond))
}

// TestCrashedDomainRestartedThenFailover: the monitor finds a crashed domain
// on the active node, restarts it locally, and past max-restarts moves the
// group to the peer.
func TestCrashedDomainRestartedThenFailover(t *testing.T) {
	p := newPair(t, false, "", "web")
	p.A.Start()
	p.B.Start()
	p.A.WaitRole("main", "ACTIVE", wait)
	p.Sim("domain", "a", "web", "crash")
	testbed.WaitFor(t, wait, "a to restart web locally", func() (bool, string) {
		return p.A.Log.Contains("restarting web locally") && running(p, "web") == "a", p.A.Log.Tail(3)
	})
	// The default max-restarts is reached by crashing it again and again.
	for i := 0; i < 10 && !p.B.Log.Contains("STANDBY -> STARTING"); i++ {
		testbed.WaitFor(t, wait, "web running again somewhere", func() (bool, string) {
			on := running(p, "web")
			return on != "", "web on " + on
		})
		on := running(p, "web")
		if on == "b" {
			break
		}
		p.Sim("domain", on, "web", "crash")
		testbed.WaitFor(t, wait, "web restarted or moved after crash "+fmt.Sprint(i+2), func() (bool, string) {
			st, _ := p.A.Status()
			return running(p, "web") != "" || len(st.Groups) > 0 && st.Groups[0].Role != "ACTIVE", running(p, "web")
		})
	}
	p.B.WaitRole("main", "ACTIVE", wait)
	testbed.WaitFor(t, wait, "web on b", func() (bool, string) { on := running(p, "web"); return on == "b", "web on " + on })
	if !p.A.Log.Contains("restart limit") {
		t.Errorf("a did not log the restart limit:\n%s", p.A.Log.Tail(20))
	}
}

func TestMetrics(t *testing.T) {
	port := testbed.FreeTCPPort(t)
	p := newPairOpts(t, testbed.PairOptions{MetricsPorts: [2]int{port, testbed.FreeTCPPort(t)}}, "web")
	p.A.Start()
	p.B.Start()
	p.A.WaitRole("main", "ACTIVE", wait)
	var body string
	testbed.WaitFor(t, wait, "metrics of a", func() (bool, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return strings.Contains(body, `xhad_group_role{group="main",role="ACTIVE"} 1`), body
	})
	for _, want := range []string{`xhad_peer_alive{peer="b"} 1`, `xhad_link_up{link="udp"} 1`, `xhad_link_received_total{link="udp"}`,
		`xhad_resource_state{group="main",resource="web",state="running"} 1`, `xhad_decisions_total{event="transition",level="info"}`,
		`xhad_group_operation_seconds_count{group="main",op="start",result="ok"} 1`, "xhad_link_heartbeat_age_seconds", "xhad_isolated 0"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestFencePeerHandler runs `xhad fence-peer` as DRBD would on node b and
// checks every answer path: the peer is Primary (6), reachable over the
// serial cable alone (6), Secondary and outdated (4), silent on every link
// for deadtime (5: unreachable, assumed dead, so that a takeover can
// promote), and the local daemon down with no peer fence in place (100).
func TestFencePeerHandler(t *testing.T) {
	p := newPairOpts(t, testbed.PairOptions{Serial: true, Fencing: `fence-peer-timeout = "1s"`}, "web")
	p.A.Start()
	p.B.Start()
	p.A.WaitRole("main", "ACTIVE", wait)
	p.B.WaitPeer(true, wait)

	if code, errOut := p.FencePeer(p.B, "r0"); code != 6 {
		t.Fatalf("peer Primary: exit %d, want 6\n%s", code, errOut)
	}
	p.CutUDP()
	testbed.WaitFor(t, wait, "udp down at b", func() (bool, string) { up, seen := p.B.LinkUp("udp"); return !up, seen })
	if code, errOut := p.FencePeer(p.B, "r0"); code != 6 {
		t.Fatalf("peer Primary over serial only: exit %d, want 6\n%s", code, errOut)
	}
	p.HealUDP()

	p.A.Signal(syscall.SIGHUP) // the group moves to b: a is Secondary
	p.B.WaitRole("main", "ACTIVE", wait)
	p.Sim("disconnect", "r0")
	if code, errOut := p.FencePeer(p.B, "r0"); code != 4 {
		t.Fatalf("peer Secondary and disconnected: exit %d, want 4 (outdated)\n%s", code, errOut)
	}
	if out, _ := p.Tool("a", "drbdadm", "dstate", "r0"); !strings.HasPrefix(out, "Outdated") {
		t.Fatalf("a's disk after fence-peer: %q, want Outdated", out)
	}

	p.Cable.Cut()
	p.CutUDP()
	p.B.WaitPeer(false, wait)
	if code, errOut := p.FencePeer(p.B, "r0"); code != 5 || !strings.Contains(errOut, "unreachable") {
		t.Fatalf("peer silent: exit %d, want 5 (unreachable)\n%s", code, errOut)
	}
	p.B.Kill()
	if code, errOut := p.FencePeer(p.B, "r0"); code != 100 || !strings.Contains(errOut, "not running") {
		t.Fatalf("local daemon down: exit %d, want 100\n%s", code, errOut)
	}
}

// TestHardwareWatchdogArmedWhileActive uses a regular file as a fake
// watchdog device: the active node writes pets to it, the standby node
// never opens it, and a handover disarms it with the magic close 'V'.
func TestHardwareWatchdogArmedWhileActive(t *testing.T) {
	dir := t.TempDir()
	dev := filepath.Join(dir, "watchdog")
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p := newPairOpts(t, testbed.PairOptions{Fencing: fmt.Sprintf("watchdog-device = %q\nwatchdog-timeout = \"1s\"", dev), Deadtime: "2s", Initdead: "4s"}, "web")
	p.A.Start()
	p.B.Start()
	p.A.WaitRole("main", "ACTIVE", wait)
	testbed.WaitFor(t, wait, "pets written by a", func() (bool, string) {
		b, _ := os.ReadFile(dev)
		return strings.Count(string(b), ".") >= 3, fmt.Sprintf("%q", b)
	})
	if !p.A.Log.Contains("hardware watchdog armed") || p.B.Log.Contains("hardware watchdog armed") {
		t.Fatalf("armed on the wrong node:\na: %s\nb: %s", p.A.Log.Tail(5), p.B.Log.Tail(5))
	}
	p.A.Signal(syscall.SIGHUP)
	p.B.WaitRole("main", "ACTIVE", wait)
	testbed.WaitFor(t, wait, "a's magic close", func() (bool, string) {
		return p.A.Log.Contains("hardware watchdog disarmed"), p.A.Log.Tail(3)
	})
	if b, _ := os.ReadFile(dev); !strings.Contains(string(b), "V") {
		t.Fatalf("no magic close in the device: %q", b)
	}
}
