package netbed

import (
	"context"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	"xhad/daemon"
	"xhad/daemon/control"
	"xhad/internal/testbed"
)

// Node is one host of a Bed: its namespace, addresses and daemon.
type Node struct {
	Name   string // "a" or "b"
	NS     string // its network namespace
	LinkIP string // on dl0, the dedicated link
	PubIP  string // on pub0, the public segment
	MAC    string // of pub0
	Dir    string
	Config string
	Socket string
	Log    *testbed.LogBuffer
	Notify *testbed.Notify
	Env    []string // extra environment of the daemon

	bed    *Bed
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// Start starts `xhad run` inside the node's namespace with extra arguments
// (e.g. --force-main). `ip netns exec` execs the daemon, so the process is
// the daemon itself and signals reach it directly.
func (n *Node) Start(args ...string) {
	t := n.bed.t
	t.Helper()
	xhad, _ := testbed.Binary(t)
	argv := append([]string{"netns", "exec", n.NS, xhad, "run", "--config", n.Config, "--node", n.Name}, args...)
	cmd := exec.Command("ip", argv...)
	cmd.Env = append(n.bed.env(n.Name), "NOTIFY_SOCKET="+n.Notify.Path)
	cmd.Env = append(cmd.Env, n.Env...)
	cmd.Stdout, cmd.Stderr = n.Log, n.Log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node %s in %s: %v", n.Name, n.NS, err)
	}
	n.cmd = cmd
	done := make(chan struct{})
	n.exited = done
	go func() {
		n.err = cmd.Wait()
		close(done)
	}()
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

// Pid is the daemon's process id (0 when not started).
func (n *Node) Pid() int {
	if n.cmd == nil || n.cmd.Process == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Signal sends sig to the daemon.
func (n *Node) Signal(sig syscall.Signal) {
	if n.Running() {
		_ = n.cmd.Process.Signal(sig)
	}
}

// Kill sends SIGCONT and SIGKILL and waits for the process to be gone.
func (n *Node) Kill() {
	if !n.Running() {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGCONT)
	_ = n.cmd.Process.Kill()
	<-n.exited
}

// WaitExit waits for the daemon to exit and returns its error.
func (n *Node) WaitExit(timeout time.Duration) error {
	n.bed.t.Helper()
	select {
	case <-n.exited:
		return n.err
	case <-time.After(timeout):
		n.bed.t.Fatalf("node %s did not exit within %s\n%s", n.Name, timeout, n.Log.Tail(30))
		return nil
	}
}

// Status asks the daemon for its status over the control socket (what
// `xhad status --json` prints).
func (n *Node) Status() (daemon.StatusReport, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := control.Call(ctx, n.Socket, control.Request{Cmd: "status"})
	if err != nil {
		return daemon.StatusReport{}, fmt.Errorf("status of node %s: %w", n.Name, err)
	}
	if !resp.OK {
		return daemon.StatusReport{}, fmt.Errorf("status of node %s: %s", n.Name, resp.Error)
	}
	return daemon.DecodeStatus(resp.Data)
}

// Command sends a control request and returns the response.
func (n *Node) Command(cmd string, args map[string]string) (control.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return control.Call(ctx, n.Socket, control.Request{Cmd: cmd, Args: args})
}

// Role returns the node's role for group ("" when it cannot tell) and a
// one-line summary of what it saw.
func (n *Node) Role(group string) (string, string) {
	st, err := n.Status()
	if err != nil {
		return "", err.Error()
	}
	for _, g := range st.Groups {
		if g.Name == group {
			return g.Role, fmt.Sprintf("%s: %s %s (peer %s, waiting %q, ineligible %v)", n.Name, group, g.Role, g.PeerRole, g.Waiting, g.Ineligible)
		}
	}
	return "", fmt.Sprintf("%s: no group %s", n.Name, group)
}

// WaitRole waits until the node reports role for group.
func (n *Node) WaitRole(group, role string, timeout time.Duration) {
	n.bed.t.Helper()
	testbed.WaitFor(n.bed.t, timeout, fmt.Sprintf("node %s group %s %s", n.Name, group, role), func() (bool, string) {
		got, seen := n.Role(group)
		return got == role, seen
	})
}

// WaitPeer waits until the node sees its peer alive (true) or not (false).
func (n *Node) WaitPeer(alive bool, timeout time.Duration) {
	n.bed.t.Helper()
	testbed.WaitFor(n.bed.t, timeout, fmt.Sprintf("node %s to see its peer alive=%v", n.Name, alive), func() (bool, string) {
		st, err := n.Status()
		if err != nil {
			return false, err.Error()
		}
		return st.Peer.Alive == alive, fmt.Sprintf("peer alive=%v links=%+v", st.Peer.Alive, st.Links)
	})
}

// LinkUp reports whether the daemon sees its heartbeat link name ("udp",
// "serial") up.
func (n *Node) LinkUp(name string) (bool, string) {
	st, err := n.Status()
	if err != nil {
		return false, err.Error()
	}
	for _, l := range st.Links {
		if l.Name == name {
			return l.Up, fmt.Sprintf("%s: %+v", n.Name, l)
		}
	}
	return false, fmt.Sprintf("%s: no link %s", n.Name, name)
}

// Heartbeats returns how many heartbeats the daemon accepted on link name.
func (n *Node) Heartbeats(name string) uint64 {
	st, err := n.Status()
	if err != nil {
		return 0
	}
	for _, l := range st.Links {
		if l.Name == name {
			return l.Rx
		}
	}
	return 0
}

// WaitHeartbeats waits until the node has accepted count more heartbeats on
// link name than when called: time that passes counted in the daemon's own
// messages, not in sleeps.
func (n *Node) WaitHeartbeats(name string, count uint64, timeout time.Duration) {
	n.bed.t.Helper()
	base := n.Heartbeats(name)
	testbed.WaitFor(n.bed.t, timeout, fmt.Sprintf("%d more heartbeats on %s at %s", count, name, n.Name), func() (bool, string) {
		got := n.Heartbeats(name)
		return got >= base+count, fmt.Sprintf("rx %d (from %d)", got, base)
	})
}
