package core

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// The harness wires two Machines through an in-memory network of links and
// a simulated world (which host really runs which group), carries out their
// actions, and checks the safety invariants after every round. Scenario files
// and the randomized simulation both drive it.

type hop struct {
	op     Op
	group  string
	doneAt int
}

type hnode struct {
	name        string
	m           *Machine
	epoch       uint64
	persisted   Persisted
	up          bool // daemon process running
	frozen      bool // SIGSTOP
	exited      bool
	running     map[string]bool // the world: resources of the group run on this host
	ops         []hop
	fence       int // tick at which a requested fence completes; -1 none
	probe       int // tick at which a requested peer probe completes; 0 none
	probeAnswer bool
	hostDown    bool // the host itself is down (crash), not only the daemon
	restarts    []RestartDone
	failNext    map[string]string // "main/start" -> error ("refused:..." for a refusal)
	selfFence   []string
	inbox       []hmsg
}

type hmsg struct {
	link  string
	at    int
	state NodeState
}

type hlink struct{ ab, ba bool } // direction a->b works, b->a works

type cluster struct {
	cfg     Config // template; Self/Peer/Epoch filled per node
	nodes   [2]*hnode
	links   map[string]*hlink
	order   []string
	now     int
	opTicks int
	delay   int
	show    map[string]bool
	out     []string
	// invariant bookkeeping
	dualSince map[string]int // group -> round since which both nodes run it while talking
	violation string
}

func newCluster(cfg Config, a, b string, opTicks int) *cluster {
	c := &cluster{cfg: cfg, links: map[string]*hlink{}, opTicks: opTicks, show: map[string]bool{}, dualSince: map[string]int{}}
	for _, l := range cfg.Links {
		c.links[l] = &hlink{true, true}
		c.order = append(c.order, l)
	}
	for i, n := range []string{a, b} {
		c.nodes[i] = &hnode{name: n, running: map[string]bool{}, fence: -1, failNext: map[string]string{}}
	}
	return c
}

func (c *cluster) node(name string) *hnode {
	for _, n := range c.nodes {
		if n.name == name {
			return n
		}
	}
	panic("no node " + name)
}

func (c *cluster) other(n *hnode) *hnode {
	if c.nodes[0] == n {
		return c.nodes[1]
	}
	return c.nodes[0]
}

func (c *cluster) printf(format string, args ...any) {
	c.out = append(c.out, fmt.Sprintf(format, args...))
}

func (c *cluster) boot(n *hnode, forceMain bool) {
	cfg := c.cfg
	cfg.Self, cfg.Peer = n.name, c.other(n).name
	n.epoch++
	cfg.Epoch = n.epoch
	cfg.ForceMain = forceMain
	n.m = New(cfg, n.persisted)
	n.up, n.frozen, n.exited, n.hostDown = true, false, false, false
	n.ops, n.fence, n.restarts, n.inbox = nil, -1, nil, nil
	c.printf("%s: boot epoch=%d", n.name, n.epoch)
	for _, g := range cfg.Groups {
		running := 0
		if n.running[g.Name] {
			running = 3
		}
		c.apply(n, n.m.Step(ProbeDone{Group: g.Name, Running: running, Total: 3}))
	}
}

// apply carries out a node's actions.
func (c *cluster) apply(n *hnode, acts []Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case Report:
			grp := a.Group
			if grp == "" {
				grp = "-"
			}
			c.printf("%s: %s %s %s: %s (%s)", n.name, a.Level, grp, a.Event, a.Msg, a.Why)
		case Persist:
			n.persisted = a.State
			if c.show["persist"] {
				c.printf("%s: persist gens=%v flap-hold=%v", n.name, a.State.Gens, a.State.FlapHold)
			}
		case Send:
			for _, g := range a.State.Groups {
				if n.persisted.Gens[g.Name] != g.Gen {
					c.fail("%s announced generation %d of %s before persisting it (persisted %d)", n.name, g.Gen, g.Name, n.persisted.Gens[g.Name])
				}
			}
			if c.show["send"] {
				c.printf("%s: send v=%d seen=%d %s", n.name, a.State.Version, a.State.SeenVersion, fmtGroups(a.State))
			}
			peer := c.other(n)
			for _, l := range c.order {
				if c.linkWorks(l, n, peer) {
					peer.inbox = append(peer.inbox, hmsg{link: l, at: c.now + c.delay, state: a.State})
				}
			}
		case StartGroup:
			c.printf("%s: start %s%s", n.name, a.Group, map[bool]string{true: " --force"}[a.Force])
			c.checkStart(n, a.Group)
			n.running[a.Group] = true // resources come up from now on
			n.ops = append(n.ops, hop{op: OpStart, group: a.Group, doneAt: c.now + c.opTicks})
		case StopGroup:
			c.printf("%s: stop %s%s", n.name, a.Group, map[bool]string{true: " (immediate)"}[a.Immediate])
			n.ops = append(n.ops, hop{op: OpStop, group: a.Group, doneAt: c.now + c.opTicks})
		case RestartResource:
			c.printf("%s: restart %s/%s", n.name, a.Group, a.Resource)
			n.restarts = append(n.restarts, RestartDone{Group: a.Group, Resource: a.Resource})
		case FencePeer:
			c.printf("%s: fence-peer (%s)", n.name, a.Why)
			n.fence = c.now + 1
		case SelfFence:
			c.printf("%s: self-fence %s (%s)", n.name, strings.Join(a.Groups, ","), a.Why)
			n.selfFence = append(n.selfFence, a.Groups...)
		case ProbePeer:
			c.printf("%s: probe-peer", n.name)
			peer := c.other(n)
			n.probe = c.now + 1
			n.probeAnswer = c.hostAlive(peer)
		case ProbeGroups:
			c.printf("%s: probe", n.name)
			for _, g := range c.cfg.Groups {
				running := 0
				if n.running[g.Name] {
					running = 3
				}
				defer func(g string, running int) {
					c.apply(n, n.m.Step(ProbeDone{Group: g, Running: running, Total: 3}))
				}(g.Name, running)
			}
		case Exit:
			c.printf("%s: exit", n.name)
			n.up, n.exited = false, true
		default:
			panic(fmt.Sprintf("unknown action %T", a))
		}
	}
}

func fmtGroups(s NodeState) string {
	var parts []string
	for _, g := range s.Groups {
		p := fmt.Sprintf("%s=%s/%d", g.Name, g.Role, g.Gen)
		if g.Grant != "" {
			p += "->" + g.Grant
		}
		parts = append(parts, p)
	}
	flags := ""
	if s.Leaving {
		flags += " leaving"
	}
	if s.Maintenance {
		flags += " maintenance"
	}
	return strings.Join(parts, " ") + flags
}

// hostAlive: whether a node's host answers on its public address (the
// public network is never cut in the harness; a crashed host is down until
// its daemon boots again).
func (c *cluster) hostAlive(n *hnode) bool { return !n.hostDown }

func (c *cluster) linkWorks(l string, from, to *hnode) bool {
	hl := c.links[l]
	if from == c.nodes[0] {
		return hl.ab
	}
	return hl.ba
}

// checkStart enforces, at the moment a node starts a group, that it was
// allowed to: through the handshake with a living peer that does not hold the
// group, or after the peer was declared dead and fenced (or said goodbye), and
// never as a lone node without an operator or --force-main.
func (c *cluster) checkStart(n *hnode, group string) {
	m := n.m
	peer := c.other(n)
	g := m.group(group)
	if m.peerAlive {
		// Handshake path: the peer really must not hold the group, whatever
		// our possibly stale view of it says, and its host must not run it.
		if peer.m != nil && peer.up && peer.m.group(group).role.holds() {
			c.fail("%s started %s through the handshake while %s holds it (%s)", n.name, group, peer.name, peer.m.group(group).role)
		}
		if peer.running[group] {
			c.fail("%s started %s through the handshake while %s's host runs it", n.name, group, peer.name)
		}
		return
	}
	if !m.peerKnown && !m.cfg.ForceMain && !g.want {
		c.fail("%s started %s alone without an operator or --force-main", n.name, group)
	}
	if !m.peerLeft && !m.fenced {
		c.fail("%s took %s over from a silent peer without fencing it", n.name, group)
	}
}

func (c *cluster) allLinksBoth() bool {
	for _, l := range c.links {
		if !l.ab || !l.ba {
			return false
		}
	}
	return true
}

func (c *cluster) fail(format string, args ...any) {
	if c.violation == "" {
		c.violation = fmt.Sprintf("round %d: ", c.now) + fmt.Sprintf(format, args...)
	}
}

// round advances time by one tick: deliver messages, finish operations,
// tick every running node, then check the invariants.
func (c *cluster) round() {
	c.now++
	for _, n := range c.nodes {
		if !n.up || n.frozen {
			continue
		}
		var keep, arrived []hmsg
		for _, msg := range n.inbox {
			if msg.at > c.now {
				keep = append(keep, msg)
			} else {
				arrived = append(arrived, msg)
			}
		}
		n.inbox = keep
		for _, msg := range arrived {
			c.apply(n, n.m.Step(Heard{Link: msg.link, State: msg.state}))
		}
		var pending, due []hop
		for _, op := range n.ops {
			if op.doneAt > c.now {
				pending = append(pending, op)
			} else {
				due = append(due, op)
			}
		}
		n.ops = pending // actions applied below may add operations
		for _, op := range due {
			key := op.group + "/" + op.op.String()
			ev := GroupDone{Group: op.group, Op: op.op, RolledBack: true}
			if msg, ok := n.failNext[key]; ok {
				delete(n.failNext, key)
				ev.Err = strings.TrimPrefix(msg, "refused:")
				ev.Refused = strings.HasPrefix(msg, "refused:")
				if op.op == OpStart {
					n.running[op.group] = false // rolled back
				}
			} else if op.op == OpStop {
				n.running[op.group] = false
			}
			c.apply(n, n.m.Step(ev))
		}
		if n.fence >= 0 && n.fence <= c.now {
			n.fence = -1
			ev := FenceDone{OK: true, Why: "peer fence installed"}
			if msg, ok := n.failNext["fence"]; ok {
				delete(n.failNext, "fence")
				ev = FenceDone{OK: false, Why: msg}
			}
			c.apply(n, n.m.Step(ev))
		}
		if n.probe > 0 && n.probe <= c.now {
			n.probe = 0
			c.apply(n, n.m.Step(PeerProbeDone{Answers: n.probeAnswer, Why: "ping"}))
		}
		rs := n.restarts
		n.restarts = nil
		for _, r := range rs {
			if msg, ok := n.failNext[r.Group+"/restart"]; ok {
				delete(n.failNext, r.Group+"/restart")
				r.Err = msg
			}
			c.apply(n, n.m.Step(r))
		}
		c.apply(n, n.m.Tick())
	}
	c.checkRound()
}

// checkRound: two nodes that can talk both ways, unfrozen, must not keep
// running the same group for longer than it takes to notice and stop it.
func (c *cluster) checkRound() {
	a, b := c.nodes[0], c.nodes[1]
	talking := a.up && b.up && !a.frozen && !b.frozen && c.allLinksBoth()
	limit := 4*c.cfg.KeepaliveTicks + 3*c.opTicks + 4*c.delay + 6
	for _, g := range c.cfg.Groups {
		// A FAILED group is self-fenced: its resources may still run but
		// cannot answer clients, and the node waits for an operator.
		dual := talking && a.running[g.Name] && b.running[g.Name] &&
			a.m.group(g.Name).role != Failed && b.m.group(g.Name).role != Failed
		if !dual {
			delete(c.dualSince, g.Name)
			continue
		}
		since, ok := c.dualSince[g.Name]
		if !ok {
			c.dualSince[g.Name] = c.now
			continue
		}
		if c.now-since > limit {
			c.fail("both %s and %s run %s for %d rounds while they can talk", a.name, b.name, g.Name, c.now-since)
		}
	}
}

func (c *cluster) roles() string {
	var lines []string
	for _, n := range c.nodes {
		state := "up"
		switch {
		case n.exited:
			state = "exited"
		case !n.up:
			state = "down"
		case n.frozen:
			state = "frozen"
		}
		var gs []string
		for _, g := range c.cfg.Groups {
			role := "-"
			if n.m != nil {
				role = n.m.group(g.Name).role.String()
			}
			run := ""
			if n.running[g.Name] {
				run = "*"
			}
			gs = append(gs, fmt.Sprintf("%s=%s%s", g.Name, role, run))
		}
		lines = append(lines, fmt.Sprintf("%s(%s): %s", n.name, state, strings.Join(gs, " ")))
	}
	return strings.Join(lines, "\n")
}

// parseKV parses "k=v k2=v2" words.
func parseKV(words []string) map[string]string {
	kv := map[string]string{}
	for _, w := range words {
		k, v, _ := strings.Cut(w, "=")
		kv[k] = v
	}
	return kv
}

func atoi(s string, def int) int {
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return v
}

// clusterFromArgs builds a cluster from a `cluster` command line:
// cluster a b groups=main:pref=b,web links=udp,serial keepalive=1 warn=3 dead=5 initdead=20 ops=2 ping=on isolation=stop grace=8
func clusterFromArgs(words []string) *cluster {
	kv := parseKV(words[2:])
	cfg := Config{
		KeepaliveTicks:      atoi(kv["keepalive"], 1),
		WarnTicks:           atoi(kv["warn"], 3),
		DeadTicks:           atoi(kv["dead"], 5),
		InitdeadTicks:       atoi(kv["initdead"], 20),
		AutoFailback:        kv["failback"] == "on",
		PingConfigured:      kv["ping"] == "on",
		MaxTakeovers:        atoi(kv["max-takeovers"], 0),
		FlapWindowTicks:     atoi(kv["window"], 1000),
		PeerProbe:           kv["probe"] == "on",
		IsolationStop:       kv["isolation"] == "stop",
		IsolationGraceTicks: atoi(kv["grace"], 0),
	}
	links := kv["links"]
	if links == "" {
		links = "udp,serial"
	}
	cfg.Links = strings.Split(links, ",")
	groups := kv["groups"]
	if groups == "" {
		groups = "main"
	}
	for _, spec := range strings.Split(groups, ",") {
		parts := strings.Split(spec, ":")
		gc := GroupConfig{Name: parts[0], MaxRestarts: atoi(kv["max-restarts"], 2), RestartWindowTicks: atoi(kv["restart-window"], 100)}
		for _, p := range parts[1:] {
			if v, ok := strings.CutPrefix(p, "pref="); ok {
				gc.Preferred = v
			}
		}
		cfg.Groups = append(cfg.Groups, gc)
	}
	sort.SliceStable(cfg.Groups, func(i, j int) bool { return false })
	c := newCluster(cfg, words[0], words[1], atoi(kv["ops"], 2))
	c.delay = atoi(kv["delay"], 0)
	return c
}
