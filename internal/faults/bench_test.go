package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"xhad/internal/netbed"
	"xhad/internal/testbed"
)

// BenchmarkFailover measures, from the client namespace, how long the
// service address is silent when the active host dies (kill: links down and
// kill -9 at once) and when it loses every link while its daemon lives on
// (cut), for xhad with the default timing (keepalive 500ms, deadtime 3s)
// and a tight one (keepalive 10ms, deadtime 50ms, ping-timeout 100ms for
// the partition check), and for keepalived
// (VRRPv3 on the public segment) with advert_int 1 and 0.01. Each
// measurement prints one line; nothing is asserted. Then idle CPU and RSS
// of each daemon over a period. XHAD_BENCH_TRIALS (default 20) and
// XHAD_BENCH_IDLE (default 60s) change the sizes.
func BenchmarkFailover(b *testing.B) {
	netbed.RequireRoot(b)
	trials := 20
	if s := os.Getenv("XHAD_BENCH_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("XHAD_BENCH_TRIALS=%q: want a positive number", s)
		}
		trials = n
	}
	idle := time.Minute
	if s := os.Getenv("XHAD_BENCH_IDLE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("XHAD_BENCH_IDLE=%q: want a duration such as 10s", s)
		}
		idle = d
	}
	timings := []struct{ name, keepalive, deadtime, pingTimeout, advert string }{
		{"default", "500ms", "3s", "1s", "1"},
		{"tight", "10ms", "50ms", "100ms", "0.01"},
	}
	for _, tm := range timings {
		for _, how := range []string{"kill", "cut"} {
			b.Run("xhad/"+tm.name+"/"+how, func(b *testing.B) {
				benchXhad(b, tm.name, tm.keepalive, tm.deadtime, tm.pingTimeout, how, trials, idle)
			})
		}
	}
	if _, err := exec.LookPath("keepalived"); err != nil {
		if os.Getenv("CI") == "true" {
			b.Fatal("keepalived not installed (Debian package keepalived); CI=true, so this is a failure")
		}
		b.Log("keepalived not installed (Debian package keepalived): no comparison")
		return
	}
	for _, tm := range timings {
		for _, how := range []string{"kill", "cut"} {
			b.Run("keepalived/"+tm.advert+"/"+how, func(b *testing.B) {
				benchKeepalived(b, tm.advert, how, trials, idle)
			})
		}
	}
}

// summary prints one line for a series of latencies.
func summary(b *testing.B, label string, lat []time.Duration, failed int) {
	slices.Sort(lat)
	pick := func(q float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		i := int(q*float64(len(lat))+0.999999) - 1
		return lat[max(0, min(i, len(lat)-1))]
	}
	line := fmt.Sprintf("failover %s trials=%d median=%s p95=%s max=%s", label, len(lat),
		pick(0.5).Round(time.Millisecond), pick(0.95).Round(time.Millisecond), pick(1).Round(time.Millisecond))
	if failed > 0 {
		line += fmt.Sprintf(" no-answer=%d", failed)
	}
	fmt.Println(line)
	if len(lat) > 0 {
		b.ReportMetric(float64(pick(0.5).Milliseconds()), "median-ms")
		b.ReportMetric(float64(pick(0.95).Milliseconds()), "p95-ms")
		b.ReportMetric(float64(pick(1).Milliseconds()), "max-ms")
	}
}

// idleUsage prints the CPU% and RSS of each host's processes over period.
func idleUsage(b *testing.B, bed *netbed.Bed, label string, period time.Duration) {
	var before [2]netbed.Usage
	for i, n := range []*netbed.Node{bed.A, bed.B} {
		u, err := bed.NSUsage(n.NS)
		if err != nil {
			b.Fatal(err)
		}
		before[i] = u
	}
	start := time.Now()
	time.Sleep(period) // the measurement period itself, not a wait for an outcome
	el := time.Since(start)
	for i, n := range []*netbed.Node{bed.A, bed.B} {
		u, err := bed.NSUsage(n.NS)
		if err != nil {
			b.Fatal(err)
		}
		cpu := float64(u.CPU-before[i].CPU) / float64(el) * 100
		fmt.Printf("idle %s node=%s period=%s cpu=%.2f%% rss=%.1fMiB\n", label, n.Name, el.Round(time.Second), cpu, float64(u.RSS)/(1<<20))
	}
}

func benchXhad(b *testing.B, timing, keepalive, deadtime, pingTimeout, how string, trials int, idle time.Duration) {
	bed := netbed.New(b, netbed.Options{Keepalive: keepalive, Deadtime: deadtime, Initdead: "3s",
		Failover: fmt.Sprintf("ping-timeout = %q", pingTimeout)})
	const wait = 60 * time.Second
	bed.A.Start()
	bed.B.Start()
	bed.A.WaitRole("main", "ACTIVE", wait)
	testbed.WaitFor(b, wait, "service on a", func() (bool, string) { return bed.ServiceOn("a") })
	if how == "kill" {
		idleUsage(b, bed, "daemon=xhad timing="+timing+" (a active, b standby)", idle)
	}
	p, err := bed.NewProber()
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	xhad, _ := testbed.Binary(b)
	var lat []time.Duration
	failed := 0
	for i := 0; i < trials; i++ {
		holders, err := bed.Holders()
		if err != nil || len(holders) != 1 {
			b.Fatalf("trial %d: service held by %v (%v), want one node", i, holders, err)
		}
		act := bed.Node(holders[0])
		sb := bed.Peer(act)
		t0 := time.Now()
		if how == "kill" {
			bed.CrashHost(act)
		} else {
			bed.Isolate(act)
			bed.Sim("disconnect", "r0") // the replication link goes with them
		}
		d, err := p.WaitAnswer(t0, 2*time.Millisecond, 30*time.Second)
		if err != nil {
			failed++
			b.Logf("trial %d (%s): %v\n%s", i, how, err, sb.Log.Tail(10))
		} else {
			lat = append(lat, d)
		}
		// Recovery, not measured: the old active's host goes down and
		// comes back, its daemon restarts as STANDBY, the survivor's peer
		// fence is lifted, DRBD resyncs.
		if how == "cut" {
			bed.CrashHost(act)
		}
		sb.WaitRole("main", "ACTIVE", wait)
		bed.BootHost(act)
		if how == "cut" {
			// Both were Primary while apart: resolve the split brain as an
			// operator would, discarding the old active's data.
			bed.Sim("connect", "r0")
			for _, c := range [][]string{{act.Name, "connect", "--discard-my-data", "r0"}, {sb.Name, "connect", "r0"}} {
				if out, err := bed.Tool(c[0], "sim", append([]string{"drbdadm"}, c[1:]...)...); err != nil {
					b.Logf("drbdadm %s on %s: %v\n%s", strings.Join(c[1:], " "), c[0], err, out)
				}
			}
		}
		if out, err := bed.Exec(sb.NS, 20*time.Second, xhad, "unfence", "--peer", "--config", sb.Config); err != nil {
			b.Fatalf("unfence on %s: %v\n%s", sb.Name, err, out)
		}
		act.Start()
		act.WaitRole("main", "STANDBY", wait)
		act.WaitPeer(true, wait)
		sb.WaitPeer(true, wait)
		testbed.WaitFor(b, wait, "DRBD UpToDate on "+act.Name, func() (bool, string) {
			out, _ := bed.Tool(act.Name, "sim", "drbdadm", "dstate", "r0")
			return strings.HasPrefix(out, "UpToDate/UpToDate"), out
		})
		testbed.WaitFor(b, wait, "service on "+sb.Name, func() (bool, string) { return bed.ServiceOn(sb.Name) })
	}
	summary(b, fmt.Sprintf("daemon=xhad timing=%s how=%s keepalive=%s deadtime=%s ping-timeout=%s", timing, how, keepalive, deadtime, pingTimeout), lat, failed)
}

const keepalivedConf = `global_defs {
  router_id {{NAME}}
  vrrp_version 3
  script_user root
  enable_script_security
}
vrrp_instance VI_1 {
  state BACKUP
  nopreempt
  interface pub0
  virtual_router_id 51
  priority {{PRIO}}
  advert_int {{ADVERT}}
  virtual_ipaddress {
    {{VIP}}/24 dev pub0
  }
}
`

func benchKeepalived(b *testing.B, advert, how string, trials int, idle time.Duration) {
	bed := netbed.New(b, netbed.Options{NoDaemonConfig: true, NoSerial: true})
	const wait = 60 * time.Second
	procs := map[string]*netbed.Proc{}
	start := func(n *netbed.Node) {
		prio := "150"
		if n.Name == "b" {
			prio = "100"
		}
		cfg := strings.NewReplacer("{{NAME}}", "xhad"+n.Name, "{{PRIO}}", prio, "{{ADVERT}}", advert, "{{VIP}}", bed.ServiceIP).Replace(keepalivedConf)
		dir := filepath.Join(bed.Dir, "keepalived-"+n.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		// A killed instance leaves its pid files, and its VRRP child may
		// linger as a zombie that keepalived takes for a running daemon.
		for _, f := range []string{"keepalived.pid", "vrrp.pid", "checkers.pid"} {
			_ = os.Remove(filepath.Join(dir, f))
		}
		path := filepath.Join(dir, "keepalived.conf")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			b.Fatal(err)
		}
		procs[n.Name] = bed.Spawn(n.NS, "keepalived-"+n.Name, "keepalived", "--dont-fork", "--log-console", "--log-detail",
			"--vrrp", "--use-file", path, "--pid", filepath.Join(dir, "keepalived.pid"),
			"--vrrp_pid", filepath.Join(dir, "vrrp.pid"), "--checkers_pid", filepath.Join(dir, "checkers.pid"))
		testbed.WaitFor(b, wait, "keepalived on "+n.Name+" in a VRRP state", func() (bool, string) {
			l := procs[n.Name].Log
			return l.Contains("Entering BACKUP STATE") || l.Contains("Entering MASTER STATE"), l.Tail(5)
		})
	}
	start(bed.A)
	testbed.WaitFor(b, wait, "service on a", func() (bool, string) { return bed.ServiceOn("a") })
	start(bed.B)
	if how == "kill" {
		idleUsage(b, bed, "daemon=keepalived advert_int="+advert+" (a master, b backup)", idle)
	}
	p, err := bed.NewProber()
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	var lat []time.Duration
	failed := 0
	for i := 0; i < trials; i++ {
		holders, err := bed.Holders()
		if err != nil || len(holders) != 1 {
			b.Fatalf("trial %d: service held by %v (%v), want one node", i, holders, err)
		}
		act := bed.Node(holders[0])
		sb := bed.Peer(act)
		t0 := time.Now()
		bed.Isolate(act)
		if how == "kill" {
			procs[act.Name].Kill()
		}
		d, err := p.WaitAnswer(t0, 2*time.Millisecond, 30*time.Second)
		if err != nil {
			failed++
			b.Logf("trial %d (%s): %v\n%s", i, how, err, procs[sb.Name].Log.Tail(10))
		} else {
			lat = append(lat, d)
		}
		procs[act.Name].Kill()
		bed.KillNamespace(act.NS) // its VRRP child too, whatever its process group
		_, _ = bed.IP("-n", act.NS, "addr", "del", bed.ServiceIP+"/24", "dev", "pub0")
		bed.Unisolate(act)
		start(act)
		testbed.WaitFor(b, wait, "service on "+sb.Name, func() (bool, string) { return bed.ServiceOn(sb.Name) })
	}
	summary(b, fmt.Sprintf("daemon=keepalived advert_int=%s how=%s", advert, how), lat, failed)
}
