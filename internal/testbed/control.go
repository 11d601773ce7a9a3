package testbed

import (
	"context"
	"fmt"
	"testing"
	"time"

	"xhad/daemon"
	"xhad/daemon/control"
)

// Control talks to one running daemon over its control socket: status,
// commands, and waits for roles, peers and heartbeats. testbed.Node and
// netbed.Node embed it.
type Control struct {
	T      testing.TB
	Name   string // node name
	Socket string // control socket path
}

// Status asks the daemon for its status over the control socket (what
// `xhad status --json` prints).
func (n *Control) Status() (daemon.StatusReport, error) {
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
func (n *Control) Command(cmd string, args map[string]string) (control.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return control.Call(ctx, n.Socket, control.Request{Cmd: cmd, Args: args})
}

// Role returns the node's role for group ("" when it cannot tell) and a
// one-line summary of what it saw.
func (n *Control) Role(group string) (string, string) {
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
func (n *Control) WaitRole(group, role string, timeout time.Duration) {
	n.T.Helper()
	WaitFor(n.T, timeout, fmt.Sprintf("node %s group %s %s", n.Name, group, role), func() (bool, string) {
		got, seen := n.Role(group)
		return got == role, seen
	})
}

// WaitPeer waits until the node sees its peer alive (true) or not (false).
func (n *Control) WaitPeer(alive bool, timeout time.Duration) {
	n.T.Helper()
	WaitFor(n.T, timeout, fmt.Sprintf("node %s to see its peer alive=%v", n.Name, alive), func() (bool, string) {
		st, err := n.Status()
		if err != nil {
			return false, err.Error()
		}
		return st.Peer.Alive == alive, fmt.Sprintf("peer alive=%v links=%+v", st.Peer.Alive, st.Links)
	})
}

// LinkUp reports whether the daemon sees its heartbeat link name ("udp",
// "serial") up.
func (n *Control) LinkUp(name string) (bool, string) {
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
func (n *Control) Heartbeats(name string) uint64 {
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
func (n *Control) WaitHeartbeats(name string, count uint64, timeout time.Duration) {
	n.T.Helper()
	base := n.Heartbeats(name)
	WaitFor(n.T, timeout, fmt.Sprintf("%d more heartbeats on %s at %s", count, name, n.Name), func() (bool, string) {
		got := n.Heartbeats(name)
		return got >= base+count, fmt.Sprintf("rx %d (from %d)", got, base)
	})
}
