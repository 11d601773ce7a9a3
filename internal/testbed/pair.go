package testbed

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// PairOptions describe a two-node cluster on loopback.
type PairOptions struct {
	Keepalive, Deadtime, Initdead string // Go durations; defaults 100ms, 1s, 3s
	Serial                        bool   // add the PTY cable as a serial link
	Groups                        string // TOML of the [[group]] tables
	Extra                         string // more TOML tables (e.g. [failover])
	Top                           string // top-level keys
	MetricsPorts                  [2]int // metrics-address ports of a and b on 127.0.0.1 (0: off)
	Fencing                       string // more keys of the [fencing] table
	SimInit                       []string
	// Public gives the nodes public addresses 127.0.0.11 and 127.0.0.12,
	// answered by the simulated ping while the simulated host is up.
	Public bool
}

// Pair is two xhad nodes "a" and "b" on 127.0.0.1. Each node's heartbeats to
// the other pass a Proxy (ToA, ToB) that can cut that direction; the serial
// link is a Cable.
type Pair struct {
	Dir    string
	SimEnv // simulated tools: Sim, SimOutput, Env
	A, B   *Node
	ToA    *Proxy // carries b -> a
	ToB    *Proxy // carries a -> b
	Cable  *Cable
	t      testing.TB
}

// Node is one daemon of a Pair.
type Node struct {
	Control // Name, Socket, status and waits
	Dir     string
	Config  string
	Log     *LogBuffer
	Notify  *Notify
	Env     []string // extra environment of the daemon (e.g. WATCHDOG_USEC)
	pair    *Pair
	cmd     *exec.Cmd
	exited  chan struct{}
	err     error
}

const configTemplate = `cluster = "testpair"
auth-key-file = "{{.Dir}}/authkey"
state-dir = "{{.NodeDir}}/state"
control-socket = "{{.NodeDir}}/xhad.sock"
{{.Top}}
{{if .Metrics}}metrics-address = "127.0.0.1:{{.Metrics}}"{{end}}

[[node]]
name = "a"
address = "127.0.0.1:{{.AddrA}}"
{{if .Serial}}serial-device = "{{.SerialA}}"{{end}}
{{if .Public}}public-address = "127.0.0.11"{{end}}

[[node]]
name = "b"
address = "127.0.0.1:{{.AddrB}}"
{{if .Serial}}serial-device = "{{.SerialB}}"{{end}}
{{if .Public}}public-address = "127.0.0.12"{{end}}

[timing]
keepalive = "{{.Keepalive}}"
deadtime = "{{.Deadtime}}"
warntime = "{{.Warntime}}"
initdead = "{{.Initdead}}"
monitor-interval = "200ms"

[fencing]
peer-fence = false
self-fence = false
{{.Fencing}}

{{.Extra}}

{{.Groups}}
`

// NewPair writes the key, both configurations and the simulator state; the
// daemons are not started.
func NewPair(t testing.TB, o PairOptions) *Pair {
	t.Helper()
	Binary(t)
	// Not t.TempDir: a simulated tool started by a daemon just killed can
	// still be finishing in the simulator's directory; removal waits for it.
	dir, err := os.MkdirTemp("", "xhad-pair-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
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
	})
	_, bin := Binary(t)
	p := &Pair{Dir: dir, SimEnv: SimEnv{T: t, BinDir: bin, SimDir: filepath.Join(dir, "sim")}, t: t}
	// Generous enough that a loaded 2-core CI machine running several test
	// packages at once does not miss heartbeats for a whole deadtime.
	if o.Keepalive == "" {
		o.Keepalive = "100ms"
	}
	if o.Deadtime == "" {
		o.Deadtime = "1s"
	}
	if o.Initdead == "" {
		o.Initdead = "3s"
	}
	if err := os.WriteFile(filepath.Join(dir, "authkey"), []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	ports := FreeUDPPorts(t, 4) // a, b, proxy to a, proxy to b
	p.ToA = NewProxy(t, ports[2], ports[0])
	p.ToB = NewProxy(t, ports[3], ports[1])
	serialA, serialB := "", ""
	if o.Serial {
		p.Cable = NewCable(t)
		serialA, serialB = p.Cable.PathA, p.Cable.PathB
	}
	dead, err := time.ParseDuration(o.Deadtime)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := template.Must(template.New("cfg").Parse(configTemplate))
	for i, name := range []string{"a", "b"} {
		n := &Node{Control: Control{T: t, Name: name}, Dir: filepath.Join(dir, name), Log: &LogBuffer{}, pair: p}
		if err := os.MkdirAll(n.Dir, 0o700); err != nil {
			t.Fatal(err)
		}
		// Each node binds its own port and sends to the proxy in front of
		// the other: a's file says b is at the proxy to b, and so on.
		addrA, addrB := ports[0], ports[3]
		if i == 1 {
			addrA, addrB = ports[2], ports[1]
		}
		var buf bytes.Buffer
		err := tmpl.Execute(&buf, map[string]any{
			"Dir": dir, "NodeDir": n.Dir, "AddrA": addrA, "AddrB": addrB,
			"Serial": o.Serial, "Public": o.Public, "SerialA": serialA, "SerialB": serialB,
			"Keepalive": o.Keepalive, "Deadtime": o.Deadtime, "Warntime": (dead / 2).String(), "Initdead": o.Initdead,
			"Extra": o.Extra, "Top": o.Top, "Metrics": o.MetricsPorts[i], "Fencing": o.Fencing, "Groups": o.Groups,
		})
		if err != nil {
			t.Fatal(err)
		}
		n.Config = filepath.Join(n.Dir, "xhad.toml")
		n.Socket = filepath.Join(n.Dir, "xhad.sock")
		if err := os.WriteFile(n.Config, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		n.Notify = NewNotify(t, n.Dir)
		if i == 0 {
			p.A = n
		} else {
			p.B = n
		}
	}
	if len(o.SimInit) > 0 {
		p.Sim(append([]string{"init", "--nodes", "a,b", "--addresses", "127.0.0.11,127.0.0.12"}, o.SimInit...)...)
	}
	t.Cleanup(func() {
		for _, n := range []*Node{p.A, p.B} {
			n.stop()
		}
		if t.Failed() {
			for _, n := range []*Node{p.A, p.B} {
				t.Logf("log of node %s (last 60 lines):\n%s", n.Name, n.Log.Tail(60))
			}
			if j, err := p.SimOutput("journal"); err == nil {
				t.Logf("simulator journal (tail):\n%s", tail(j, 40))
			}
		}
	})
	return p
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Tool runs a simulated tool (`xl`, `drbdadm`) as node runs it.
func (p *Pair) Tool(node, tool string, args ...string) (string, error) {
	xhad, _ := Binary(p.t)
	cmd := exec.Command(xhad, append([]string{"sim", tool}, args...)...)
	cmd.Env = p.Env(node)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// FencePeer runs `xhad fence-peer` as DRBD would on node (DRBD 9 variables
// for resource res) and returns its exit code and standard error.
func (p *Pair) FencePeer(node *Node, res string) (int, string) {
	xhad, _ := Binary(p.t)
	cmd := exec.Command(xhad, "fence-peer", "--config", node.Config)
	cmd.Env = append(p.Env(node.Name), "DRBD_RESOURCE="+res, "DRBD_PEER_NODE_ID=1", "DRBD_NODE_ID_0=a", "DRBD_NODE_ID_1=b",
		"DRBD_MY_NODE_ID=0", "DRBD_MINOR=0", "DRBD_PEER_ADDRESS=127.0.0.1", "DRBD_PEER_AF=ipv4", "XHAD_NODE="+node.Name)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return code, stderr.String()
}

// Node returns a or b.
func (p *Pair) Node(name string) *Node {
	if name == "a" {
		return p.A
	}
	return p.B
}

// Start starts the node's daemon with extra arguments (e.g. --force-main).
func (n *Node) Start(args ...string) {
	t := n.pair.t
	t.Helper()
	xhad, _ := Binary(t)
	cmd := exec.Command(xhad, append([]string{"run", "--config", n.Config, "--node", n.Name}, args...)...)
	cmd.Env = append(n.pair.Env(n.Name), "NOTIFY_SOCKET="+n.Notify.Path)
	cmd.Env = append(cmd.Env, n.Env...)
	cmd.Stdout, cmd.Stderr = n.Log, n.Log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node %s: %v", n.Name, err)
	}
	n.cmd = cmd
	n.exited = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) {
		n.err = c.Wait()
		close(done)
	}(cmd, n.exited)
}

// Signal sends sig to the daemon.
func (n *Node) Signal(sig syscall.Signal) {
	if n.cmd != nil && n.cmd.Process != nil {
		_ = n.cmd.Process.Signal(sig)
	}
}

// Running reports whether the daemon process is alive.
func (n *Node) Running() bool {
	if n.exited == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// WaitExit waits for the daemon to exit and returns its error.
func (n *Node) WaitExit(timeout time.Duration) error {
	n.pair.t.Helper()
	select {
	case <-n.exited:
		return n.err
	case <-time.After(timeout):
		n.pair.t.Fatalf("node %s did not exit within %s\n%s", n.Name, timeout, n.Log.Tail(30))
		return nil
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (n *Node) Kill() {
	if !n.Running() {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGCONT)
	_ = n.cmd.Process.Kill()
	<-n.exited
}

func (n *Node) stop() {
	if !n.Running() {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGCONT)
	_ = n.cmd.Process.Kill()
	<-n.exited
}

// CutUDP drops heartbeats on the UDP link both ways; HealUDP restores them.
func (p *Pair) CutUDP()  { p.ToA.Cut(); p.ToB.Cut() }
func (p *Pair) HealUDP() { p.ToA.Heal(); p.ToB.Heal() }
