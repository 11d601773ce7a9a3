package sim

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"xhad/internal/runner"
)

// Environment variables read by the simulators.
const (
	EnvDir  = "XHAD_SIM_DIR"
	EnvNode = "XHAD_SIM_NODE"
)

// clock is the simulator's time; tests replace it with a fake one.
type clock interface {
	Now() time.Time
	Sleep(time.Duration)
}

type realClock struct{}

func (realClock) Now() time.Time        { return time.Now() }
func (realClock) Sleep(d time.Duration) { time.Sleep(d) }

// sim is one invocation's view of a state directory.
type sim struct {
	dir    string
	clock  clock
	runner runner.Runner
}

// call is one command run on one node, with its output streams.
type call struct {
	*sim
	node   string
	stdout io.Writer
	stderr io.Writer
}

// Run runs one simulated tool ("xl", "drbdadm", "ctl") with its arguments and
// returns the process exit code. getenv supplies XHAD_SIM_DIR and XHAD_SIM_NODE.
func Run(tool string, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	s := &sim{dir: getenv(EnvDir), clock: realClock{}, runner: runner.Exec{}}
	return s.run(tool, getenv(EnvNode), args, stdout, stderr)
}

// Exec runs one simulated tool in process, as XHAD_SIM_DIR=dir
// XHAD_SIM_NODE=node tool args... would, and returns what it printed and its
// exit code. node is ignored for "ctl".
func Exec(dir, node, tool string, args ...string) (stdout, stderr string, code int) {
	s := &sim{dir: dir, clock: realClock{}, runner: runner.Exec{}}
	var out, errOut bytes.Buffer
	code = s.run(tool, node, args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// exitSimError is the exit code of a problem of the simulator itself (no
// state directory, unknown node), as opposed to an answer of the tool.
const exitSimError = 2

func (s *sim) run(tool, node string, args []string, stdout, stderr io.Writer) int {
	if s.dir == "" {
		fmt.Fprintf(stderr, "xhad sim %s: %s is not set: point it at the state directory of a simulated pair (made by `xhad sim ctl init`)\n", tool, EnvDir)
		return exitSimError
	}
	c := &call{sim: s, node: node, stdout: stdout, stderr: stderr}
	switch tool {
	case "ctl":
		return c.ctl(args)
	case "ping":
		return c.ping(args)
	case "xl", "drbdadm", "vgchange", "vgs":
		if code, ok := c.precheck(tool); !ok {
			return code
		}
		switch tool {
		case "xl":
			return c.xl(args)
		case "vgchange":
			return c.vgchange(args)
		case "vgs":
			return c.vgs(args)
		}
		return c.drbdadm(args)
	}
	fmt.Fprintf(stderr, "xhad sim: unknown tool %q: want xl, drbdadm, vgchange, vgs, ping or ctl\n", tool)
	return exitSimError
}

// precheck validates XHAD_SIM_NODE and refuses to run on a crashed host.
func (c *call) precheck(tool string) (int, bool) {
	if c.node == "" {
		fmt.Fprintf(c.stderr, "xhad sim %s: %s is not set: name the node this %s runs on\n", tool, EnvNode, tool)
		return exitSimError, false
	}
	st, err := c.peek()
	if err != nil {
		fmt.Fprintf(c.stderr, "xhad sim %s: %v\n", tool, err)
		return exitSimError, false
	}
	if !st.hasNode(c.node) {
		fmt.Fprintf(c.stderr, "xhad sim %s: %s=%q is not a node of this pair (%s, %s)\n", tool, EnvNode, c.node, st.Nodes[0], st.Nodes[1])
		return exitSimError, false
	}
	if st.Hosts[c.node].Down {
		fmt.Fprintf(c.stderr, "xhad sim %s: host %s is down (ctl host-crash); nothing runs there until `ctl host-boot %s`\n", tool, c.node, c.node)
		return 1, false
	}
	return 0, true
}

// simFailed reports an internal failure of the simulator (state unreadable,
// disk full) and returns the exit code for it.
func (c *call) simFailed(tool string, err error) int {
	fmt.Fprintf(c.stderr, "xhad sim %s: %v\n", tool, err)
	return exitSimError
}
