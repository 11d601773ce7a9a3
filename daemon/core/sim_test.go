package core

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"
)

var (
	simSeeds = flag.Int("sim.seeds", 500, "number of seeds of the randomized two-node simulation")
	simSteps = flag.Int("sim.steps", 10000, "rounds per seed")
	simSeed  = flag.Int64("sim.seed", 0, "run only this seed (0 = seeds 1..sim.seeds)")
)

// TestRandomizedTwoNodes drives two machines through random link cuts (both
// ways and one way), delays, host crashes, daemon kills and restarts,
// SIGSTOP/SIGCONT, operator commands at random moments, failing operations
// and crashing resources, and checks after every round that:
//   - a node started a group through the handshake only when its peer really
//     held nothing and its host ran nothing;
//   - a node took a silent peer's group only after fencing it (or its goodbye),
//     and never alone after start-up without an operator or --force-main;
//   - two nodes that can talk never keep running the same group;
//   - no generation was announced before it was persisted.
//
// A failing seed is printed with the tail of the event log; turn it into a
// scenario file under testdata/.
func TestRandomizedTwoNodes(t *testing.T) {
	seeds := make([]int64, 0, *simSeeds)
	if *simSeed != 0 {
		seeds = append(seeds, *simSeed)
	} else {
		for s := 1; s <= *simSeeds; s++ {
			seeds = append(seeds, int64(s))
		}
	}
	if testing.Short() && *simSeed == 0 {
		seeds = seeds[:min(len(seeds), 5)]
	}
	for _, seed := range seeds {
		if err := runSim(seed, *simSteps); err != nil {
			t.Errorf("seed %d: %v", seed, err)
		}
	}
}

type simStats struct {
	takeovers, handshakes, crashes, kills, partitions, resolved int
}

func runSim(seed int64, steps int) error {
	rng := rand.New(rand.NewSource(seed))
	groups := "main"
	if rng.Intn(2) == 0 {
		groups = "ga:pref=a,gb:pref=b"
	}
	args := []string{"a", "b",
		"groups=" + groups,
		fmt.Sprintf("dead=%d", 4+rng.Intn(6)),
		"warn=3",
		fmt.Sprintf("keepalive=%d", 1+rng.Intn(2)),
		"initdead=30",
		fmt.Sprintf("ops=%d", 1+rng.Intn(4)),
		fmt.Sprintf("delay=%d", rng.Intn(2)),
		fmt.Sprintf("max-takeovers=%d", rng.Intn(3)*3),
		"window=300",
	}
	if rng.Intn(3) == 0 {
		args = append(args, "failback=on")
	}
	if rng.Intn(2) == 0 {
		args = append(args, "probe=on")
	}
	if rng.Intn(2) == 0 {
		args = append(args, "ping=on")
		if rng.Intn(2) == 0 {
			args = append(args, "isolation=stop", fmt.Sprintf("grace=%d", rng.Intn(12)))
		}
	}
	c := clusterFromArgs(args)
	var log []string
	note := func(s string) { log = append(log, fmt.Sprintf("%d: %s", c.now, s)) }
	c.boot(c.nodes[0], false)
	c.boot(c.nodes[1], false)
	var st simStats
	var trace []string
	for step := 0; step < steps; step++ {
		if r := rng.Intn(1000); r < 40 {
			n := c.nodes[rng.Intn(2)]
			name := n.name
			switch k := rng.Intn(14); {
			case k < 2: // partition or heal, maybe one-way
				l := c.order[rng.Intn(len(c.order))]
				dir := ""
				if rng.Intn(3) == 0 {
					dir = map[bool]string{true: "a>b", false: "b>a"}[rng.Intn(2) == 0]
				}
				verb := map[bool]string{true: "cut", false: "heal"}[rng.Intn(2) == 0]
				w := []string{verb, l}
				if dir != "" {
					w = append(w, dir)
				}
				_ = c.exec(w)
				note(strings.Join(w, " "))
			case k == 2:
				_ = c.exec([]string{"cut", "all"})
				st.partitions++
				note("cut all")
			case k == 3:
				_ = c.exec([]string{"heal", "all"})
				note("heal all")
			case k == 4 && n.up:
				_ = c.exec([]string{"crash", name})
				st.crashes++
				note("crash " + name)
			case k == 5 && n.up:
				_ = c.exec([]string{"kill", name})
				st.kills++
				note("kill " + name)
			case k <= 7 && !n.up:
				c.boot(n, false)
				note("boot " + name)
			case k == 8 && n.up && !n.frozen:
				_ = c.exec([]string{"stop", name})
				note("stop " + name)
			case k == 8 && n.up:
				_ = c.exec([]string{"cont", name})
				note("cont " + name)
			case k == 9 && n.up && !n.frozen:
				op := []string{"standby", "takeover", "takeover-force", "shutdown"}[rng.Intn(4)]
				_ = c.exec([]string{"cmd", name, op})
				note("cmd " + name + " " + op)
			case k == 10:
				g := c.cfg.Groups[rng.Intn(len(c.cfg.Groups))].Name
				what := []string{"/start", "/stop", "/restart"}[rng.Intn(3)]
				msg := "simulated failure"
				if what == "/start" && rng.Intn(2) == 0 {
					msg = "refused:drbd not UpToDate"
				}
				n.failNext[g+what] = msg
				note("fail-next " + name + " " + g + what)
			case k == 11:
				n.failNext["fence"] = "simulated fence failure"
				note("fail-next fence " + name)
			case k == 12 && n.up && !n.frozen:
				g := c.cfg.Groups[rng.Intn(len(c.cfg.Groups))].Name
				if n.running[g] {
					c.apply(n, n.m.Step(ResourceFailed{Group: g, Resource: "dom1", Why: "crashed"}))
					note("resource-fail " + name + " " + g)
				}
			case k == 13 && n.up && !n.frozen:
				c.apply(n, n.m.Step(PingResult{Reachable: rng.Intn(4) != 0}))
			}
		}
		// A node that exited (shutdown) comes back after a while.
		for _, n := range c.nodes {
			if n.exited && rng.Intn(50) == 0 {
				c.boot(n, false)
				note("boot after exit " + n.name)
			}
		}
		// Keep partitions from lasting forever so that resolution is exercised.
		if rng.Intn(400) == 0 {
			_ = c.exec([]string{"heal", "all"})
			for _, n := range c.nodes {
				if n.frozen {
					_ = c.exec([]string{"cont", n.name})
				}
			}
			note("heal all, thaw")
		}
		pre := c.out
		c.out = nil
		c.round()
		for _, line := range append(pre, c.out...) {
			trace = append(trace, fmt.Sprintf("%d %s", c.now, line))
		}
		if len(trace) > 400 {
			trace = trace[len(trace)-200:]
		}
		for _, line := range c.out {
			if strings.Contains(line, "STANDBY -> STARTING") {
				if strings.Contains(line, "granted by peer") {
					st.handshakes++
				} else {
					st.takeovers++
				}
			}
			if strings.Contains(line, "this node yields") {
				st.resolved++
			}
		}
		c.out = nil
		if c.violation != "" {
			tail := log
			if len(tail) > 30 {
				tail = tail[len(tail)-30:]
			}
			out := ""
			if os.Getenv("XHAD_SIM_TRACE") != "" {
				n := min(len(trace), 120)
				out = "\ntrace:\n" + strings.Join(trace[len(trace)-n:], "\n")
			}
			return fmt.Errorf("%s\nconfig: %v\nroles:\n%s\nlast events:\n%s%s", c.violation, args, c.roles(), strings.Join(tail, "\n"), out)
		}
	}
	if os.Getenv("XHAD_SIM_VERBOSE") != "" {
		fmt.Printf("seed %d: %+v\n", seed, st)
	}
	if st.handshakes == 0 {
		return fmt.Errorf("no group was ever started through the handshake: the simulation exercised nothing (%+v)", st)
	}
	return nil
}
