// Package testbed runs real xhad daemons for end-to-end tests: it builds the
// binary once, wires two nodes through UDP proxies that can cut each
// direction, a serial cable made of two relayed PTYs that can be cut, the
// simulated xl and drbdadm first in PATH, and a fake systemd notify socket.
// Every wait is for a condition with a deadline, and a failed wait prints
// what was last seen and the tail of both daemons' logs.
package testbed

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Binary builds xhad once per test process and returns its path and a bin
// directory holding `xl` and `drbdadm` links to it (the simulators).
func Binary(t testing.TB) (xhad, binDir string) {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "xhad-testbed-bin-")
		if buildErr != nil {
			return
		}
		root := moduleRoot()
		cmd := exec.Command("go", "build", "-o", filepath.Join(buildDir, "xhad"), ".")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		for _, name := range []string{"xl", "drbdadm", "ping", "vgchange", "vgs"} {
			if err := os.Symlink("xhad", filepath.Join(buildDir, name)); err != nil {
				buildErr = err
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("build xhad: %v", buildErr)
	}
	return filepath.Join(buildDir, "xhad"), buildDir
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// WaitFor polls cond until it reports true or the deadline passes; then the
// test fails with what cond last said.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ok, seen := cond()
		last = seen
		if ok {
			return seen
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last seen: %s", timeout, what, last)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not a wait for an outcome
	}
}

// FreeUDPPorts returns n UDP ports free on 127.0.0.1 at the time of the call.
func FreeUDPPorts(t testing.TB, n int) []int {
	t.Helper()
	var conns []*net.UDPConn
	var ports []int
	for i := 0; i < n; i++ {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		ports = append(ports, c.LocalAddr().(*net.UDPAddr).Port)
	}
	for _, c := range conns {
		c.Close()
	}
	return ports
}

// FreeTCPPort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreeTCPPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Proxy forwards UDP datagrams one way, from a listening port to a target,
// and can drop them (a cut) or record them (for replay tests).
type Proxy struct {
	conn   *net.UDPConn
	target *net.UDPAddr
	mu     sync.Mutex
	cut    bool
	last   []byte
	done   chan struct{}
}

// NewProxy listens on 127.0.0.1:listen and forwards to 127.0.0.1:target.
func NewProxy(t testing.TB, listen, target int) *Proxy {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: listen})
	if err != nil {
		t.Fatalf("proxy listen %d: %v", listen, err)
	}
	p := &Proxy{conn: c, target: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: target}, done: make(chan struct{})}
	go p.run()
	t.Cleanup(p.Close)
	return p
}

func (p *Proxy) run() {
	defer close(p.done)
	buf := make([]byte, 65536)
	for {
		n, _, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		pkt := append([]byte(nil), buf[:n]...)
		p.mu.Lock()
		cut := p.cut
		p.last = pkt
		p.mu.Unlock()
		if !cut {
			_, _ = p.conn.WriteToUDP(pkt, p.target)
		}
	}
}

// Cut drops every datagram until Heal.
func (p *Proxy) Cut() { p.mu.Lock(); p.cut = true; p.mu.Unlock() }

// Heal forwards again.
func (p *Proxy) Heal() { p.mu.Lock(); p.cut = false; p.mu.Unlock() }

// Last returns a copy of the last datagram seen.
func (p *Proxy) Last() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]byte(nil), p.last...)
}

// Inject sends a datagram to the target from the proxy's socket, as if it
// came through the link (a replay or a forgery).
func (p *Proxy) Inject(pkt []byte) error {
	_, err := p.conn.WriteToUDP(pkt, p.target)
	return err
}

// Close stops the proxy.
func (p *Proxy) Close() {
	p.conn.Close()
	<-p.done
}

// LogBuffer collects a daemon's output safely.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Tail returns the last n lines.
func (l *LogBuffer) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(l.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Contains reports whether s was logged.
func (l *LogBuffer) Contains(s string) bool { return strings.Contains(l.String(), s) }

// Notify is a fake systemd notify socket.
type Notify struct {
	Path string
	conn *net.UnixConn
	mu   sync.Mutex
	msgs []NotifyMsg
	done chan struct{}
}

// NotifyMsg is one datagram with its arrival time.
type NotifyMsg struct {
	At   time.Time
	Text string
}

// NewNotify listens on a unixgram socket in dir.
func NewNotify(t testing.TB, dir string) *Notify {
	t.Helper()
	path := filepath.Join(dir, "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &Notify{Path: path, conn: c, done: make(chan struct{})}
	go func() {
		defer close(n.done)
		buf := make([]byte, 4096)
		for {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, NotifyMsg{At: time.Now(), Text: string(buf[:k])})
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-n.done })
	return n
}

// Messages returns every datagram received so far.
func (n *Notify) Messages() []NotifyMsg {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]NotifyMsg(nil), n.msgs...)
}

// Has reports whether a datagram containing s arrived.
func (n *Notify) Has(s string) bool {
	for _, m := range n.Messages() {
		if strings.Contains(m.Text, s) {
			return true
		}
	}
	return false
}

// LastWatchdog returns the time of the last WATCHDOG=1 (zero if none).
func (n *Notify) LastWatchdog() time.Time {
	var last time.Time
	for _, m := range n.Messages() {
		if strings.Contains(m.Text, "WATCHDOG=1") {
			last = m.At
		}
	}
	return last
}

// Run runs the built xhad with args and returns its combined output.
func Run(ctx context.Context, t testing.TB, env []string, args ...string) (string, error) {
	t.Helper()
	xhad, bin := Binary(t)
	cmd := exec.CommandContext(ctx, xhad, args...)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
