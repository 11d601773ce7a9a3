package core

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of scenario files")

// TestScenarios runs every testdata/*.txt file. A file opens with one line of
// prose (starting with '#'), then blocks of
//
//	command
//	----
//	expected output
//
// separated by blank lines. Output is every Report, operation and fence of
// both nodes, in order; `show send` adds heartbeats. Invariants are checked
// after every round; `check` commands assert roles and the world.
func TestScenarios(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) < 30 {
		t.Errorf("only %d scenario files; the decision core needs at least 30", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScenario(t, f) })
	}
}

type block struct {
	cmd      string
	expected string
	line     int
}

func parseScenario(data string) (prose string, blocks []block, err error) {
	lines := strings.Split(data, "\n")
	i := 0
	for i < len(lines) && strings.HasPrefix(lines[i], "#") {
		prose += lines[i] + "\n"
		i++
	}
	if prose == "" {
		return "", nil, fmt.Errorf("a scenario must open with a line of prose starting with '#'")
	}
	for i < len(lines) {
		if strings.TrimSpace(lines[i]) == "" || strings.HasPrefix(lines[i], "#") {
			i++
			continue
		}
		b := block{cmd: strings.TrimSpace(lines[i]), line: i + 1}
		i++
		if i >= len(lines) || lines[i] != "----" {
			return "", nil, fmt.Errorf("line %d: command %q must be followed by ----", b.line, b.cmd)
		}
		i++
		var exp []string
		for i < len(lines) && lines[i] != "" {
			exp = append(exp, lines[i])
			i++
		}
		b.expected = strings.Join(exp, "\n")
		blocks = append(blocks, b)
	}
	return prose, blocks, nil
}

func runScenario(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	prose, blocks, err := parseScenario(string(data))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var c *cluster
	var rewritten strings.Builder
	rewritten.WriteString(prose)
	for _, b := range blocks {
		words := strings.Fields(b.cmd)
		if words[0] == "cluster" {
			c = clusterFromArgs(words[1:])
		} else if c == nil {
			t.Fatalf("%s:%d: the first command must be `cluster`", path, b.line)
		} else if err := c.exec(words); err != nil {
			t.Fatalf("%s:%d: %s: %v", path, b.line, b.cmd, err)
		}
		got := strings.Join(c.out, "\n")
		c.out = nil
		if c.violation != "" {
			t.Fatalf("%s:%d: after %q: invariant violated: %s\nroles:\n%s\noutput:\n%s", path, b.line, b.cmd, c.violation, c.roles(), got)
		}
		fmt.Fprintf(&rewritten, "\n%s\n----\n%s\n", b.cmd, got)
		if !*rewrite && got != b.expected {
			t.Errorf("%s:%d: %s\n--- got:\n%s\n--- want:\n%s", path, b.line, b.cmd, got, b.expected)
		}
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(rewritten.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// exec runs one scenario command.
func (c *cluster) exec(w []string) error {
	arg := func(i int) string {
		if i < len(w) {
			return w[i]
		}
		return ""
	}
	switch w[0] {
	case "boot": // boot a [b] [force-main]
		force := false
		var names []string
		for _, x := range w[1:] {
			if x == "force-main" {
				force = true
			} else {
				names = append(names, x)
			}
		}
		for _, n := range names {
			c.boot(c.node(n), force)
		}
	case "tick":
		n := atoi(arg(1), 1)
		for i := 0; i < n; i++ {
			c.round()
		}
	case "run-until": // run-until a main ACTIVE [max]
		n := c.node(arg(1))
		want, err := ParseRole(arg(3))
		if err != nil {
			return err
		}
		limit := atoi(arg(4), 200)
		for i := 0; ; i++ {
			if n.m != nil && n.m.group(arg(2)).role == want {
				break
			}
			if i == limit {
				return fmt.Errorf("%s %s not %s after %d rounds\n%s", arg(1), arg(2), want, limit, c.roles())
			}
			c.round()
		}
		c.printf("(after %d rounds)", c.now)
	case "cut", "heal": // cut udp|all [a>b]
		links := []string{arg(1)}
		if arg(1) == "all" {
			links = c.order
		}
		for _, l := range links {
			hl, ok := c.links[l]
			if !ok {
				return fmt.Errorf("no link %q", l)
			}
			v := w[0] == "heal"
			switch arg(2) {
			case "":
				hl.ab, hl.ba = v, v
			case c.nodes[0].name + ">" + c.nodes[1].name:
				hl.ab = v
			case c.nodes[1].name + ">" + c.nodes[0].name:
				hl.ba = v
			default:
				return fmt.Errorf("direction %q is not a>b or b>a", arg(2))
			}
		}
	case "crash": // the host dies: daemon and resources
		n := c.node(arg(1))
		n.up, n.hostDown = false, true
		n.running = map[string]bool{}
		n.inbox, n.ops = nil, nil
	case "kill": // kill -9 of the daemon only: resources keep running
		n := c.node(arg(1))
		n.up = false
		n.inbox, n.ops = nil, nil
	case "stop":
		c.node(arg(1)).frozen = true
	case "cont": // SIGCONT: the daemon notices its loop stalled
		n := c.node(arg(1))
		n.frozen = false
		if n.up {
			c.apply(n, n.m.Step(Stalled{Ticks: 99}))
		}
	case "cmd": // cmd a standby|takeover|takeover-force|maintenance-on|maintenance-off|shutdown
		n := c.node(arg(1))
		var cmd Command
		switch arg(2) {
		case "standby":
			cmd.Op = CmdStandby
		case "takeover":
			cmd.Op = CmdTakeover
		case "takeover-force":
			cmd = Command{Op: CmdTakeover, Force: true}
		case "maintenance-on":
			cmd.Op = CmdMaintenanceOn
		case "maintenance-off":
			cmd.Op = CmdMaintenanceOff
		case "shutdown":
			cmd.Op = CmdShutdown
		default:
			return fmt.Errorf("unknown command %q", arg(2))
		}
		c.apply(n, n.m.Step(cmd))
	case "fail": // fail a main/start|main/stop|main/restart|fence MESSAGE...
		c.node(arg(1)).failNext[arg(2)] = strings.Join(w[3:], " ")
	case "resource-fail": // resource-fail a main web why...
		n := c.node(arg(1))
		c.apply(n, n.m.Step(ResourceFailed{Group: arg(2), Resource: arg(3), Why: strings.Join(w[4:], " ")}))
	case "ping": // ping a reachable|unreachable
		n := c.node(arg(1))
		c.apply(n, n.m.Step(PingResult{Reachable: arg(2) == "reachable"}))
	case "show":
		c.show[arg(1)] = true
	case "hide":
		delete(c.show, arg(1))
	case "roles":
		c.printf("%s", c.roles())
	case "check": // check a main ACTIVE
		n := c.node(arg(1))
		want, err := ParseRole(arg(3))
		if err != nil {
			return err
		}
		if got := n.m.group(arg(2)).role; got != want {
			return fmt.Errorf("%s %s is %s, want %s\n%s", arg(1), arg(2), got, want, c.roles())
		}
	case "check-running": // check-running main a|b|none|both
		g := arg(1)
		a, b := c.nodes[0].running[g], c.nodes[1].running[g]
		got := map[[2]bool]string{{true, false}: c.nodes[0].name, {false, true}: c.nodes[1].name, {false, false}: "none", {true, true}: "both"}[[2]bool{a, b}]
		if got != arg(2) {
			return fmt.Errorf("%s runs on %s, want %s\n%s", g, got, arg(2), c.roles())
		}
	case "check-peer": // check-peer a alive|dead
		n := c.node(arg(1))
		if got := map[bool]string{true: "alive", false: "dead"}[n.m.peerAlive]; got != arg(2) {
			return fmt.Errorf("%s sees its peer %s, want %s", arg(1), got, arg(2))
		}
	default:
		return fmt.Errorf("unknown scenario command %q", w[0])
	}
	return nil
}
