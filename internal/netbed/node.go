package netbed

import (
	"os/exec"
	"syscall"
	"time"

	"xhad/internal/testbed"
)

// Node is one host of a Bed: its namespace, addresses and daemon.
type Node struct {
	testbed.Control        // Name ("a" or "b"), Socket, status and waits
	NS              string // its network namespace
	LinkIP          string // on dl0, the dedicated link
	PubIP           string // on pub0, the public segment
	MAC             string // of pub0
	Dir             string
	Config          string
	Log             *testbed.LogBuffer
	Notify          *testbed.Notify
	Env             []string      // extra environment of the daemon
	Watchdog        *FakeWatchdog // its watchdog-device, with Options.Watchdog

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
	cmd.Env = append(n.bed.Env(n.Name), "NOTIFY_SOCKET="+n.Notify.Path)
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
