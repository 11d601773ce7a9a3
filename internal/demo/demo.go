// Package demo runs `xhad demo`: a complete two-node cluster on this one
// machine, made of two real `xhad run` processes (this same binary) with
// simulated Xen and DRBD, UDP heartbeats on loopback and a serial cable made
// of two pseudo-terminals. It walks through start-up agreement, a manual
// standby, a crash of the active node and the takeover, and the return of the
// crashed node as standby, explaining each step in one line and printing both
// nodes' state as it changes. It needs no root and no network beyond
// loopback, and leaves nothing behind.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"xhad/daemon"
	"xhad/daemon/control"
	"xhad/internal/ptycable"
	"xhad/internal/sim"
)

// Options configure a demo run.
type Options struct {
	Out    io.Writer
	JSON   bool   // one JSON object per event, then a summary
	Script string // "tour" (default) or "failover"
	Keep   bool   // keep the work directory (logs, state) for a look afterwards
}

// Scripts names the scenarios `xhad demo --script` accepts.
var Scripts = []string{"tour", "failover"}

type node struct {
	name, dir, config, socket string
	cmd                       *exec.Cmd
	log                       *os.File
	done                      chan struct{}
}

type demo struct {
	o      Options
	dir    string
	simDir string
	bin    string
	self   string
	nodes  [2]*node
	cable  *ptycable.Cable
	start  time.Time
	events int
	lastSt [2]string
}

const domains = "web db mail"

// Run runs the demo; it returns an error when an expectation did not hold.
func Run(ctx context.Context, o Options) error {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Script == "" {
		o.Script = "tour"
	}
	if o.Script != "tour" && o.Script != "failover" {
		return fmt.Errorf("unknown demo script %q; choose one of %s", o.Script, strings.Join(Scripts, ", "))
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the xhad binary: %w", err)
	}
	d := &demo{o: o, self: self, start: time.Now()}
	if d.dir, err = os.MkdirTemp("", "xhad-demo-"); err != nil {
		return err
	}
	defer d.cleanup()
	if err := d.setup(); err != nil {
		return err
	}
	err = d.script(ctx)
	d.summary(err)
	return err
}

func (d *demo) say(step, text string) {
	d.events++
	if d.o.JSON {
		d.emit(map[string]any{"event": "step", "step": step, "text": text})
		return
	}
	fmt.Fprintf(d.o.Out, "\n==> %s\n", text)
}

func (d *demo) emit(v map[string]any) {
	v["t"] = time.Since(d.start).Seconds()
	v["time"] = time.Now().UTC().Format(time.RFC3339Nano)
	b, _ := json.Marshal(v)
	fmt.Fprintln(d.o.Out, string(b))
}

func (d *demo) setup() error {
	d.simDir = filepath.Join(d.dir, "sim")
	d.bin = filepath.Join(d.dir, "bin")
	if err := os.MkdirAll(d.bin, 0o755); err != nil {
		return err
	}
	for _, tool := range []string{"xl", "drbdadm", "ping", "vgchange", "vgs"} {
		if err := os.Symlink(d.self, filepath.Join(d.bin, tool)); err != nil {
			return err
		}
	}
	if err := sim.Init(d.simDir, sim.InitOptions{
		Nodes:     [2]string{"xen1", "xen2"},
		Addresses: [2]string{"127.0.0.11", "127.0.0.12"},
		DRBD:      []sim.DRBDResource{{Name: "r0", Minor: 0, Disk: "/dev/vg0/r0", Port: 7789}},
	}); err != nil {
		return fmt.Errorf("simulated pair: %w", err)
	}
	// Domains take a moment to boot and shut down, as real ones do.
	if err := sim.Ctl(d.simDir, "set", "create-delay", "150ms"); err != nil {
		return err
	}
	if err := sim.Ctl(d.simDir, "set", "shutdown-delay", "300ms"); err != nil {
		return err
	}
	key := filepath.Join(d.dir, "authkey")
	if err := os.WriteFile(key, []byte("demo-key-demo-key-demo-key-demo!"), 0o600); err != nil {
		return err
	}
	var groups strings.Builder
	groups.WriteString("[[group]]\nname = \"main\"\n\n  [[group.resource]]\n  name = \"r0\"\n  kind = \"drbd\"\n")
	for i, dom := range strings.Fields(domains) {
		cfg := filepath.Join(d.dir, dom+".cfg")
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf("name = %q\nmemory = 512\nvcpus = 1\ndisk = [ 'phy:/dev/drbd0,xvda%d,w' ]\n", dom, i)), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&groups, "\n  [[group.resource]]\n  name = %q\n  kind = \"xen\"\n  config = %q\n  shutdown-timeout = \"3s\"\n", dom, cfg)
	}
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	if d.cable, err = ptycable.Open(); err != nil {
		return err
	}
	for i, name := range []string{"xen1", "xen2"} {
		n := &node{name: name, dir: filepath.Join(d.dir, name)}
		if err := os.MkdirAll(n.dir, 0o700); err != nil {
			return err
		}
		n.config = filepath.Join(n.dir, "xhad.toml")
		n.socket = filepath.Join(n.dir, "xhad.sock")
		cfg := fmt.Sprintf(`cluster = "demo"
auth-key-file = %q
state-dir = %q
control-socket = %q

[[node]]
name = "xen1"
address = "127.0.0.1:%d"
serial-device = %q
public-address = "127.0.0.11"

[[node]]
name = "xen2"
address = "127.0.0.1:%d"
serial-device = %q
public-address = "127.0.0.12"

[timing]
keepalive = "100ms"
deadtime = "1s"
initdead = "5s"
monitor-interval = "1s"

[fencing]
# The demo has no nftables of its own; a real cluster keeps both on.
peer-fence = false
self-fence = false

%s`, key, filepath.Join(n.dir, "state"), n.socket, ports[0], d.cable.PathA, ports[1], d.cable.PathB, groups.String())
		if err := os.WriteFile(n.config, []byte(cfg), 0o600); err != nil {
			return err
		}
		d.nodes[i] = n
	}
	return nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var conns []net.PacketConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		conns = append(conns, c)
		ports = append(ports, c.LocalAddr().(*net.UDPAddr).Port)
	}
	return ports, nil
}

func (d *demo) startNode(n *node) error {
	var err error
	if n.log, err = os.OpenFile(filepath.Join(n.dir, "xhad.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return err
	}
	n.cmd = exec.Command(d.self, "run", "--config", n.config, "--node", n.name)
	n.cmd.Env = append(os.Environ(), "PATH="+d.bin+":"+os.Getenv("PATH"), sim.EnvDir+"="+d.simDir, sim.EnvNode+"="+n.name)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", n.name, err)
	}
	n.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(n.cmd, n.done)
	if d.o.JSON {
		d.emit(map[string]any{"event": "process", "node": n.name, "pid": n.cmd.Process.Pid, "action": "started"})
	}
	return nil
}

func (d *demo) kill(n *node) {
	if n.cmd == nil || n.done == nil {
		return
	}
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Kill()
	<-n.done
}

func (d *demo) cleanup() {
	for _, n := range d.nodes {
		if n != nil {
			d.kill(n)
			if n.log != nil {
				n.log.Close()
			}
		}
	}
	if d.cable != nil {
		d.cable.Close()
	}
	if d.o.Keep {
		fmt.Fprintf(d.o.Out, "work directory kept: %s\n", d.dir)
		return
	}
	os.RemoveAll(d.dir)
}

func (d *demo) status(n *node) (daemon.StatusReport, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := control.Call(ctx, n.socket, control.Request{Cmd: "status"})
	if err != nil {
		return daemon.StatusReport{}, err
	}
	if !resp.OK {
		return daemon.StatusReport{}, errors.New(resp.Error)
	}
	return daemon.DecodeStatus(resp.Data)
}

// where returns the node running each domain, from the simulator.
func (d *demo) where() map[string]string {
	out := map[string]string{}
	for _, dom := range strings.Fields(domains) {
		var on []string
		for _, n := range d.nodes {
			if _, _, code := sim.Exec(d.simDir, n.name, "xl", "list", dom); code == 0 {
				on = append(on, n.name)
			}
		}
		out[dom] = strings.Join(on, "+")
		if out[dom] == "" {
			out[dom] = "-"
		}
	}
	return out
}

// show prints both nodes' state when it changed.
func (d *demo) show() {
	for i, n := range d.nodes {
		line := n.name + ": "
		st, err := d.status(n)
		switch {
		case err != nil:
			line += "(no daemon)"
		default:
			g := st.Groups[0]
			line += fmt.Sprintf("%-8s", g.Role)
			if g.Progress != "" {
				line += " (" + g.Progress + ")"
			}
			peer := "peer " + map[bool]string{true: "alive", false: "silent"}[st.Peer.Alive]
			var links []string
			for _, l := range st.Links {
				if l.Up {
					links = append(links, l.Name)
				}
			}
			line += fmt.Sprintf("  %s via [%s]", peer, strings.Join(links, " "))
			if g.Waiting != "" {
				line += "  waiting: " + g.Waiting
			}
		}
		if line == d.lastSt[i] {
			continue
		}
		d.lastSt[i] = line
		if d.o.JSON {
			d.emit(map[string]any{"event": "status", "node": n.name, "line": line})
		} else {
			fmt.Fprintf(d.o.Out, "    %s\n", line)
		}
	}
}

// until shows the state while waiting for cond, with a deadline.
func (d *demo) until(what string, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		d.show()
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("expected %s within %s; it did not happen (logs in %s: run with --keep)", what, timeout, d.dir)
		}
		time.Sleep(100 * time.Millisecond) // the display's refresh period
	}
}

func (d *demo) role(n *node) string {
	st, err := d.status(n)
	if err != nil || len(st.Groups) == 0 {
		return "down"
	}
	return st.Groups[0].Role
}

func (d *demo) domainsOn(name string) func() bool {
	return func() bool {
		for _, on := range d.where() {
			if on != name {
				return false
			}
		}
		return true
	}
}

func (d *demo) placement() {
	w := d.where()
	var parts []string
	for _, dom := range strings.Fields(domains) {
		parts = append(parts, dom+" on "+w[dom])
	}
	if d.o.JSON {
		d.emit(map[string]any{"event": "domains", "where": w})
		return
	}
	fmt.Fprintf(d.o.Out, "    domains: %s\n", strings.Join(parts, ", "))
}

func (d *demo) script(ctx context.Context) error {
	x1, x2 := d.nodes[0], d.nodes[1]
	const wait = 30 * time.Second
	d.say("start", "Starting xen1 and xen2. Each waits for the other: resources start only once both have met, on the node whose name sorts lower.")
	for _, n := range d.nodes {
		if err := d.startNode(n); err != nil {
			return err
		}
	}
	if err := d.until("xen1 ACTIVE with every domain", wait, func() bool { return d.role(x1) == "ACTIVE" && d.domainsOn("xen1")() }); err != nil {
		return err
	}
	d.placement()
	active, standby := x1, x2
	if d.o.Script == "tour" {
		d.say("standby", "An operator sends SIGHUP to xen1 (xhad standby): it stops its domains in reverse order, demotes DRBD, and hands the group to xen2.")
		_ = x1.cmd.Process.Signal(syscall.SIGHUP)
		if err := d.until("xen2 ACTIVE with every domain", wait, func() bool { return d.role(x2) == "ACTIVE" && d.domainsOn("xen2")() }); err != nil {
			return err
		}
		d.placement()
		active, standby = x2, x1
	}
	d.say("crash", fmt.Sprintf("%s crashes: its daemon is killed with -9 and its host loses power (the simulated domains and DRBD go with it).", active.name))
	d.kill(active)
	if err := sim.Ctl(d.simDir, "host-crash", active.name); err != nil {
		return err
	}
	crashed := time.Now()
	if err := d.until(standby.name+" taking over", wait, func() bool { return d.role(standby) == "ACTIVE" && d.domainsOn(standby.name)() }); err != nil {
		return err
	}
	took := time.Since(crashed).Round(10 * time.Millisecond)
	d.say("takeover", fmt.Sprintf("%s noticed %s silent on every link (UDP and serial) for deadtime, checked that its host no longer answers, and took over in %s.", standby.name, active.name, took))
	d.placement()
	d.say("return", fmt.Sprintf("%s boots again. It comes back as STANDBY: auto-failback is off, and a node never starts resources on its own.", active.name))
	if err := sim.Ctl(d.simDir, "host-boot", active.name); err != nil {
		return err
	}
	if err := d.startNode(active); err != nil {
		return err
	}
	if err := d.until(active.name+" back as STANDBY, seeing its peer", wait, func() bool {
		st, err := d.status(active)
		return err == nil && st.Peer.Alive && st.Groups[0].Role == "STANDBY"
	}); err != nil {
		return err
	}
	d.placement()
	events, err := sim.ReadJournal(d.simDir)
	if err != nil {
		return err
	}
	if err := sim.CheckInvariants(events, nil); err != nil {
		return fmt.Errorf("safety check of the simulator journal: %w", err)
	}
	d.say("safe", fmt.Sprintf("The simulator's journal (%d events) shows no domain ever ran on both hosts and DRBD was never Primary on both.", len(events)))
	return ctx.Err()
}

func (d *demo) summary(err error) {
	if d.o.JSON {
		v := map[string]any{"event": "summary", "script": d.o.Script, "ok": err == nil, "seconds": time.Since(d.start).Seconds()}
		if err != nil {
			v["error"] = err.Error()
		}
		d.emit(v)
		return
	}
	if err != nil {
		fmt.Fprintf(d.o.Out, "\ndemo FAILED: %v\n", err)
		return
	}
	fmt.Fprintf(d.o.Out, "\ndemo done in %s. Try `xhad demo --script failover --json` for the machine-readable form.\n", time.Since(d.start).Round(100*time.Millisecond))
}
