package netbed

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"xhad/internal/ptycable"
	"xhad/internal/runner"
	"xhad/internal/testbed"
)

// Options describe a Bed. Zero values give the defaults.
type Options struct {
	Keepalive, Deadtime, Initdead string   // Go durations; defaults 100ms, 1s, 3s
	NoSerial                      bool     // no PTY cable (UDP link only)
	Domains                       []string // xen domains of group "main" after DRBD r0; default ["web"]
	ShutdownTimeout               string   // of each domain; default "2s"
	Lifetime                      string   // of the service address; default "0s" (permanent)
	Top                           string   // more top-level keys
	Failover                      string   // more keys of the [failover] table (e.g. ping-timeout)
	PingClient                    bool     // ping-targets = [the client's address]: the tie-breaker (it stands in for the gateway)
	NoPublicAddress               bool     // no public-address: no partition check before a takeover
	Watchdog                      string   // watchdog-timeout (e.g. "1s"): each node's watchdog-device is a FakeWatchdog (Node.Watchdog)
	Fencing                       string   // more keys of the [fencing] table
	GroupKeys                     string   // more keys of the [[group]] table (e.g. max-restarts = 1)
	NoDaemonConfig                bool     // write no xhad configuration (a bed for another daemon)
	Database                      string   // "" none, DatabaseMariaDB or DatabasePostgreSQL: a server per host on its dl0 address, replicating over dl0, and group "db" guarding it (db.go)
	DatabaseKeys                  string   // keys of the database resource; default max-lag-seconds = "10s", catchup-timeout = "3s" (mariadb), max-lag-bytes = 1048576, catchup-timeout = "3s" (postgresql)
}

// Bed is two hosts, a switch and a client in network namespaces.
type Bed struct {
	ID             string // random suffix of every name
	Net            int    // X of 10.240.X.0/24 and 10.241.X.0/24
	Switch         string // namespace of the public bridge
	Client         string // namespace of the client
	ClientIP       string // 10.241.X.100
	ServiceIP      string // 10.241.X.50 (without prefix length)
	Dir            string
	testbed.SimEnv // BinDir (xl, drbdadm, vgchange, vgs), SimDir, Sim, SimOutput
	Cable          *ptycable.Cable
	A, B           *Node

	t     testing.TB
	run   runner.Runner
	mu    sync.Mutex
	procs []*Proc
	cuts  map[cut]bool
	db    bedDatabase // Options.Database (db.go)
}

// RequireRoot skips the test when not root, and fails it instead when the
// environment variable CI=true (CI must run every namespace test).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("network namespace tests need root; CI=true, so this is a failure: run the tests as root")
	}
	t.Skip("network namespace tests need root")
}

func randID() string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func randNet() int {
	n, err := rand.Int(rand.Reader, big.NewInt(254))
	if err != nil {
		panic(err)
	}
	return int(n.Int64()) + 1
}

// New creates the namespaces, links, configurations and simulator state; no
// daemon runs yet. Everything is removed when the test ends.
func New(t testing.TB, o Options) *Bed {
	t.Helper()
	RequireRoot(t)
	xhad, _ := testbed.Binary(t)
	if o.Keepalive == "" {
		o.Keepalive = "100ms"
	}
	if o.Deadtime == "" {
		o.Deadtime = "1s"
	}
	if o.Initdead == "" {
		o.Initdead = "3s"
	}
	if o.Domains == nil {
		o.Domains = []string{"web"}
	}
	if o.ShutdownTimeout == "" {
		o.ShutdownTimeout = "2s"
	}
	if o.Lifetime == "" {
		o.Lifetime = "0s"
	}
	id := randID()
	b := &Bed{ID: id, Net: randNet(), Switch: "xhadS-" + id, Client: "xhadC-" + id, t: t, run: runner.Exec{}}
	b.ClientIP = fmt.Sprintf("10.241.%d.100", b.Net)
	b.ServiceIP = fmt.Sprintf("10.241.%d.50", b.Net)
	b.A = &Node{Control: testbed.Control{T: t, Name: "a"}, NS: "xhadA-" + id, LinkIP: fmt.Sprintf("10.240.%d.1", b.Net), PubIP: fmt.Sprintf("10.241.%d.1", b.Net), bed: b}
	b.B = &Node{Control: testbed.Control{T: t, Name: "b"}, NS: "xhadB-" + id, LinkIP: fmt.Sprintf("10.240.%d.2", b.Net), PubIP: fmt.Sprintf("10.241.%d.2", b.Net), bed: b}

	dir, err := os.MkdirTemp("", "xhad-netbed-"+id+"-")
	if err != nil {
		t.Fatal(err)
	}
	b.Dir, b.SimEnv = dir, testbed.SimEnv{T: t, BinDir: filepath.Join(dir, "bin"), SimDir: filepath.Join(dir, "sim")}
	// Registered first, so it runs last: after the daemons and the
	// namespaces are gone.
	t.Cleanup(func() { removeDir(t, dir) })
	if err := os.MkdirAll(b.BinDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The simulators, but not ping: the partition check pings for real
	// inside the namespace.
	for _, tool := range []string{"xl", "drbdadm", "vgchange", "vgs"} {
		if err := os.Symlink(xhad, filepath.Join(b.BinDir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(b.teardown)
	if err := b.build(); err != nil {
		t.Fatalf("build the namespaces of bed %s: %v", id, err)
	}
	if !o.NoSerial {
		c, err := ptycable.Open()
		if err != nil {
			t.Fatal(err)
		}
		b.Cable = c
	}
	if !o.NoDaemonConfig {
		b.writeConfigs(o)
		b.Sim("init", "--nodes", "a,b", "--drbd", "r0:0:/dev/vg0/r0:7789")
	}
	t.Cleanup(func() {
		b.stopDaemons()
		if t.Failed() && !o.NoDaemonConfig {
			for _, n := range []*Node{b.A, b.B} {
				t.Logf("log of node %s (last 60 lines):\n%s", n.Name, n.Log.Tail(60))
			}
			if j, err := b.SimOutput("journal"); err == nil {
				t.Logf("simulator journal (tail):\n%s", tailLines(j, 40))
			}
		}
	})
	return b
}

func removeDir(t testing.TB, dir string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := os.RemoveAll(dir)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("remove %s: %v", dir, err)
			return
		}
		time.Sleep(50 * time.Millisecond) // retry interval of the removal
	}
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Namespaces returns the four namespaces of the bed.
func (b *Bed) Namespaces() []string { return []string{b.A.NS, b.B.NS, b.Switch, b.Client} }

// IP runs the ip tool with args (in the root namespace unless args say
// -n NS) and returns its standard output.
func (b *Bed) IP(args ...string) (string, error) {
	res, err := b.run.Run(context.Background(), runner.Cmd{Path: "ip", Args: args, Timeout: 10 * time.Second})
	if err != nil {
		return string(res.Stdout), fmt.Errorf("bed %s: %w", b.ID, err)
	}
	return string(res.Stdout), nil
}

// Exec runs argv inside namespace ns (ip netns exec) and returns its
// combined output.
func (b *Bed) Exec(ns string, timeout time.Duration, argv ...string) (string, error) {
	res, err := b.run.Run(context.Background(), runner.Cmd{Path: "ip", Args: append([]string{"netns", "exec", ns}, argv...), Timeout: timeout})
	out := string(res.Stdout) + string(res.Stderr)
	if err != nil {
		return out, fmt.Errorf("in namespace %s: %w", ns, err)
	}
	return out, nil
}

func (b *Bed) build() error {
	a, bb, s, c := b.A.NS, b.B.NS, b.Switch, b.Client
	steps := [][]string{
		{"netns", "add", a}, {"netns", "add", bb}, {"netns", "add", s}, {"netns", "add", c},
		// The dedicated link, never seen in the root namespace.
		{"link", "add", "dl0", "netns", a, "type", "veth", "peer", "name", "dl0", "netns", bb},
		// The public segment: a bridge in the switch namespace.
		{"-n", s, "link", "add", "br0", "type", "bridge"},
		{"link", "add", "pub0", "netns", a, "type", "veth", "peer", "name", "pa", "netns", s},
		{"link", "add", "pub0", "netns", bb, "type", "veth", "peer", "name", "pb", "netns", s},
		{"link", "add", "eth0", "netns", c, "type", "veth", "peer", "name", "pc", "netns", s},
		{"-n", s, "link", "set", "pa", "master", "br0", "up"},
		{"-n", s, "link", "set", "pb", "master", "br0", "up"},
		{"-n", s, "link", "set", "pc", "master", "br0", "up"},
		{"-n", s, "link", "set", "br0", "up"},
		{"-n", a, "addr", "add", b.A.LinkIP + "/24", "dev", "dl0"},
		{"-n", bb, "addr", "add", b.B.LinkIP + "/24", "dev", "dl0"},
		{"-n", a, "addr", "add", b.A.PubIP + "/24", "dev", "pub0"},
		{"-n", bb, "addr", "add", b.B.PubIP + "/24", "dev", "pub0"},
		{"-n", c, "addr", "add", b.ClientIP + "/24", "dev", "eth0"},
	}
	for _, ns := range []string{a, bb, s, c} {
		steps = append(steps, []string{"-n", ns, "link", "set", "lo", "up"})
	}
	for _, st := range [][2]string{{a, "dl0"}, {a, "pub0"}, {bb, "dl0"}, {bb, "pub0"}, {c, "eth0"}} {
		steps = append(steps, []string{"-n", st[0], "link", "set", st[1], "up"})
	}
	for _, step := range steps {
		if _, err := b.IP(step...); err != nil {
			return err
		}
	}
	for _, n := range []*Node{b.A, b.B} {
		out, err := b.IP("-n", n.NS, "-o", "link", "show", "dev", "pub0")
		if err != nil {
			return err
		}
		f := strings.Fields(out)
		for i := range f {
			if f[i] == "link/ether" && i+1 < len(f) {
				n.MAC = f[i+1]
			}
		}
		if n.MAC == "" {
			return fmt.Errorf("no MAC address of pub0 in %s: %q", n.NS, out)
		}
	}
	return nil
}

// teardown kills what runs in the namespaces and deletes them.
func (b *Bed) teardown() {
	b.stopDaemons()
	b.mu.Lock()
	procs := b.procs
	b.mu.Unlock()
	for _, p := range procs {
		p.Kill()
	}
	if b.Cable != nil {
		b.Cable.Close()
	}
	for _, ns := range b.Namespaces() {
		// Whatever still runs inside (a tool started by a killed daemon)
		// keeps the namespace alive: kill it first.
		b.killAll(ns)
		if _, err := b.IP("netns", "del", ns); err != nil && !strings.Contains(err.Error(), "No such file") {
			b.t.Errorf("remove namespace: %v", err)
		}
	}
}

// killAll sends SIGKILL to every process in namespace ns and returns how
// many it found.
func (b *Bed) killAll(ns string) int {
	out, err := b.IP("netns", "pids", ns)
	if err != nil {
		return 0
	}
	n := 0
	for _, f := range strings.Fields(out) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			n++
		}
	}
	return n
}

// KillNamespace kills every process in namespace ns (a power-off of that
// host) and waits until none is left.
func (b *Bed) KillNamespace(ns string) {
	b.t.Helper()
	testbed.WaitFor(b.t, 10*time.Second, "no process left in "+ns, func() (bool, string) {
		n := b.killAll(ns)
		return n == 0, fmt.Sprintf("%d processes killed in %s", n, ns)
	})
}

func (b *Bed) stopDaemons() {
	for _, n := range []*Node{b.A, b.B} {
		if n != nil {
			n.Kill()
		}
	}
}

// Tool runs `xhad SUB ARGS` (e.g. `sim xl list`) as node, in the
// simulator environment and returns its combined output.
func (b *Bed) Tool(node, sub string, args ...string) (string, error) {
	xhad, _ := testbed.Binary(b.t)
	env := b.Env(node)
	env = env[len(os.Environ()):]
	res, err := b.run.Run(context.Background(), runner.Cmd{Path: xhad, Args: append([]string{sub}, args...), Env: env, Timeout: 20 * time.Second})
	return string(res.Stdout) + string(res.Stderr), err
}

// Check runs the simulator's invariant check over the whole journal: no
// exclusive domain ran on both nodes, no DRBD resource was Primary on both.
func (b *Bed) Check() error {
	out, err := b.SimOutput("check")
	if err != nil {
		return fmt.Errorf("simulator invariant check: %w\n%s", err, out)
	}
	return nil
}

// RunningOn reports on which nodes the simulator runs domain dom ("a",
// "b", "a,b" or "").
func (b *Bed) RunningOn(dom string) string {
	var on []string
	for _, n := range []string{"a", "b"} {
		out, err := b.Tool(n, "sim", "xl", "list", dom)
		if err == nil && strings.Contains(out, dom) {
			on = append(on, n)
		}
	}
	return strings.Join(on, ",")
}

// Node returns a or b; Peer the other one.
func (b *Bed) Node(name string) *Node {
	if name == "a" {
		return b.A
	}
	return b.B
}

// Peer returns the other node.
func (b *Bed) Peer(n *Node) *Node {
	if n == b.A {
		return b.B
	}
	return b.A
}

const configTemplate = `cluster = "netbed"
auth-key-file = "{{.Dir}}/authkey"
state-dir = "{{.NodeDir}}/state"
control-socket = "{{.NodeDir}}/xhad.sock"
{{.Top}}

[[node]]
name = "a"
address = "{{.LinkA}}"
{{if .Serial}}serial-device = "{{.SerialA}}"{{end}}
{{if .Public}}public-address = "{{.PubA}}"{{end}}

[[node]]
name = "b"
address = "{{.LinkB}}"
{{if .Serial}}serial-device = "{{.SerialB}}"{{end}}
{{if .Public}}public-address = "{{.PubB}}"{{end}}

[timing]
keepalive = "{{.Keepalive}}"
deadtime = "{{.Deadtime}}"
warntime = "{{.Warntime}}"
initdead = "{{.Initdead}}"
monitor-interval = "200ms"

[failover]
{{if .PingClient}}ping-targets = ["{{.ClientIP}}"]{{end}}
{{.Failover}}

[fencing]
peer-fence = true
self-fence = true
replication-ports = [7789]
service-interfaces = ["pub0"]
{{if .Watchdog}}watchdog-device = "{{.WatchdogPath}}"
watchdog-timeout = "{{.Watchdog}}"{{end}}
{{.Fencing}}

[[group]]
name = "main"
{{.GroupKeys}}

  [[group.resource]]
  name = "r0"
  kind = "drbd"
{{range .Domains}}
  [[group.resource]]
  name = "{{.Name}}"
  kind = "xen"
  config = "{{.Config}}"
  shutdown-timeout = "{{$.ShutdownTimeout}}"
  stop-timeout = "{{$.StopTimeout}}"
{{end}}
  [[group.resource]]
  name = "service-ip"
  kind = "ip"
  address = "{{.Service}}/24"
  interface = "pub0"
  lifetime = "{{.Lifetime}}"
{{.DBGroup}}`

type domain struct{ Name, Config string }

func (b *Bed) writeConfigs(o Options) {
	t := b.t
	t.Helper()
	if err := os.WriteFile(filepath.Join(b.Dir, "authkey"), []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	dead, err := time.ParseDuration(o.Deadtime)
	if err != nil {
		t.Fatalf("netbed: deadtime %q: %v", o.Deadtime, err)
	}
	ka, err := time.ParseDuration(o.Keepalive)
	if err != nil {
		t.Fatalf("netbed: keepalive %q: %v", o.Keepalive, err)
	}
	shut, err := time.ParseDuration(o.ShutdownTimeout)
	if err != nil {
		t.Fatalf("netbed: shutdown timeout %q: %v", o.ShutdownTimeout, err)
	}
	var doms []domain
	for i, d := range o.Domains {
		cfg := filepath.Join(b.Dir, d+".cfg")
		body := fmt.Sprintf("name = %q\nmemory = 256\nvcpus = 1\ndisk = [ 'phy:/dev/drbd0,xvda%d,w' ]\n", d, i)
		if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		doms = append(doms, domain{d, cfg})
	}
	serialA, serialB := "", ""
	if b.Cable != nil {
		serialA, serialB = b.Cable.PathA, b.Cable.PathB
	}
	dbGroup := ""
	if o.Database != "" {
		dbGroup = b.startDatabase(o)
	}
	tmpl := template.Must(template.New("cfg").Parse(configTemplate))
	for _, n := range []*Node{b.A, b.B} {
		n.Dir = filepath.Join(b.Dir, n.Name)
		n.Log = &testbed.LogBuffer{}
		if err := os.MkdirAll(n.Dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if o.Watchdog != "" {
			timeout, err := time.ParseDuration(o.Watchdog)
			if err != nil {
				t.Fatalf("netbed: watchdog timeout %q: %v", o.Watchdog, err)
			}
			n.Watchdog = b.FakeWatchdog(n, timeout)
		}
		wdPath := ""
		if n.Watchdog != nil {
			wdPath = n.Watchdog.Path
		}
		var buf bytes.Buffer
		err := tmpl.Execute(&buf, map[string]any{
			"Dir": b.Dir, "NodeDir": n.Dir, "Top": o.Top,
			"LinkA": b.A.LinkIP, "LinkB": b.B.LinkIP, "PubA": b.A.PubIP, "PubB": b.B.PubIP,
			"Serial": b.Cable != nil, "SerialA": serialA, "SerialB": serialB,
			"Keepalive": o.Keepalive, "Deadtime": o.Deadtime, "Initdead": o.Initdead,
			"Warntime": ((dead + ka) / 2).String(), "Fencing": o.Fencing, "Failover": o.Failover,
			"Public": !o.NoPublicAddress, "PingClient": o.PingClient, "ClientIP": b.ClientIP,
			"Watchdog": o.Watchdog, "WatchdogPath": wdPath,
			"GroupKeys": o.GroupKeys, "Domains": doms, "ShutdownTimeout": o.ShutdownTimeout,
			"StopTimeout": (shut + 3*time.Second).String(), "Service": b.ServiceIP, "Lifetime": o.Lifetime,
			"DBGroup": dbGroup,
		})
		if err != nil {
			t.Fatal(err)
		}
		n.Config = filepath.Join(n.Dir, "xhad.toml")
		n.Socket = filepath.Join(n.Dir, "xhad.sock")
		if err := os.WriteFile(n.Config, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		n.Notify = testbed.NewNotify(t, n.Dir)
	}
}

// Proc is a process the bed started inside a namespace (e.g. keepalived);
// it is killed with its process group when the test ends.
type Proc struct {
	Name   string
	Log    *testbed.LogBuffer
	cmd    *exec.Cmd
	exited chan struct{}
}

// Spawn starts argv inside namespace ns in a process group of its own.
func (b *Bed) Spawn(ns, name string, argv ...string) *Proc {
	b.t.Helper()
	p := &Proc{Name: name, Log: &testbed.LogBuffer{}, exited: make(chan struct{})}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Stdout, cmd.Stderr = p.Log, p.Log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("start %s in %s: %v", name, ns, err)
	}
	p.cmd = cmd
	go func() { _ = cmd.Wait(); close(p.exited) }()
	b.mu.Lock()
	b.procs = append(b.procs, p)
	b.mu.Unlock()
	return p
}

// Kill sends SIGKILL to the process group and waits for the process.
func (p *Proc) Kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
}

// Pid is the process id (also its process group id).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }
