package core

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

type group struct {
	cfg        GroupConfig
	role       Role
	gen        uint64
	probed     bool
	want       bool // operator takeover pending
	force      bool // ... with --force
	yield      bool // handed to the peer (one-shot)
	isolated   bool // ... because this node was isolated (for the message)
	ineligible bool // last start here failed or was refused
	failedAt   int  // tick of the last failed start
	stopAfter  bool // stop as soon as the start in flight finishes
	restarts   []int
	restarting bool
	blocked    string // why the group does not start, as last reported
}

type linkState struct {
	heard     bool
	lastHeard int
	up, late  bool
}

// Machine is the decision machine of one node. It is not safe for
// concurrent use; the daemon's event loop owns it.
type Machine struct {
	cfg    Config
	now    int
	groups []*group
	links  map[string]*linkState

	version  uint64
	lastPub  NodeState    // last published state, Version and Seen excluded
	scratch  []GroupState // reused by flush to compare without allocating
	names    []string     // sorted link names (linkNames)
	lastPers Persisted
	lastSent int
	sentOnce bool
	seenSent [2]uint64 // peer (epoch, version) acknowledged in our last send

	peer        NodeState // latest state heard from the peer
	peerKnown   bool      // heard during this run
	peerAlive   bool
	peerLeft    bool // said goodbye
	deadReason  string
	deadAt      int  // tick the peer was declared dead
	fencing     bool // FencePeer in flight
	fenced      bool // FencePeer succeeded during this peer-dead episode
	fenceFailed string
	fenceRetry  int // tick after which a failed fence is tried again

	probing      bool // ProbePeer in flight
	probed       bool // a probe answered during this peer-silent episode
	probeAnswers bool
	probeAt      int

	pingKnown, pingReachable bool
	maintenance              bool
	flapHold                 bool
	takeovers                []int
	episodeCounted           bool

	shutdown, exited, exitSent bool

	bump     bool // force a version bump (after a stall)
	out      []Action
	reports  []Action
	lastNote Report
}

// New returns a machine for cfg, continuing from a previous run's persisted
// state (generations and the anti-flapping hold survive restarts).
func New(cfg Config, prev Persisted) *Machine {
	m := &Machine{cfg: cfg, links: map[string]*linkState{}}
	for _, l := range cfg.Links {
		m.links[l] = &linkState{}
	}
	for _, gc := range cfg.Groups {
		m.groups = append(m.groups, &group{cfg: gc, gen: prev.Gens[gc.Name]})
	}
	m.flapHold = prev.FlapHold
	m.lastPers = m.persisted()
	m.lastPers.Epoch = 0 // force the first persist of this run's epoch
	return m
}

// Now returns the number of ticks since start.
func (m *Machine) Now() int { return m.now }

// Tick advances time by one tick.
func (m *Machine) Tick() []Action {
	m.now++
	m.updateLinks()
	m.decide()
	return m.flush(false)
}

// Step feeds one event.
func (m *Machine) Step(ev Event) []Action {
	switch e := ev.(type) {
	case Heard:
		m.heard(e)
	case ProbeDone:
		m.probeDone(e)
	case GroupDone:
		m.groupDone(e)
	case ResourceFailed:
		m.resourceFailed(e)
	case RestartDone:
		m.restartDone(e)
	case FenceDone:
		m.fenceDone(e)
	case PingResult:
		if !m.pingKnown || m.pingReachable != e.Reachable {
			m.report(Info, "", "ping", fmt.Sprintf("ping tie-breaker: reachable=%v", e.Reachable), "ping result changed")
		}
		m.pingKnown, m.pingReachable = true, e.Reachable
	case Command:
		m.command(e)
	case PeerProbeDone:
		if m.probing {
			changed := !m.probed || m.probeAnswers != e.Answers
			m.probing, m.probed, m.probeAnswers, m.probeAt = false, true, e.Answers, m.now
			switch {
			case !changed:
			case e.Answers:
				m.report(Warn, "", "partition", fmt.Sprintf("peer %s is silent on every link but its host answers on its public address", m.cfg.Peer), "a partition, not a death: not taking over ("+e.Why+")")
			default:
				m.report(Info, "", "peer-probe", fmt.Sprintf("peer %s does not answer on its public address either", m.cfg.Peer), e.Why)
			}
		}
	case Stalled:
		m.bump = true
		m.report(Warn, "", "stalled", fmt.Sprintf("decision loop stalled for %d ticks", e.Ticks), "heartbeats that waited meanwhile may be stale: grants received before are void")
	default:
		panic(fmt.Sprintf("core: unknown event %T", ev))
	}
	m.updateLinks()
	m.decide()
	return m.flush(false)
}

func (m *Machine) group(name string) *group {
	for _, g := range m.groups {
		if g.cfg.Name == name {
			return g
		}
	}
	return nil
}

func (m *Machine) report(l Level, grp, event, msg, why string) {
	r := Report{Level: l, Group: grp, Event: event, Msg: msg, Why: why}
	m.reports = append(m.reports, r)
	if !strings.HasPrefix(event, "link-") && event != "ping" && event != "peer-seen" {
		m.lastNote = r
	}
}

func (m *Machine) setRole(g *group, r Role, why string) {
	if g.role == r {
		return
	}
	lvl := Info
	if r == Failed {
		lvl = Error
	}
	m.report(lvl, g.cfg.Name, "transition", fmt.Sprintf("%s -> %s", g.role, r), why)
	g.role = r
}

// --- inputs -------------------------------------------------------------

func (m *Machine) heard(e Heard) {
	if e.State.Node != m.cfg.Peer {
		return // the link layer already drops other nodes; be safe
	}
	ls, ok := m.links[e.Link]
	if !ok {
		ls = &linkState{}
		m.links[e.Link] = ls
	}
	ls.heard, ls.lastHeard = true, m.now
	newer := !m.peerKnown || e.State.Epoch > m.peer.Epoch ||
		(e.State.Epoch == m.peer.Epoch && e.State.Version >= m.peer.Version)
	if !newer {
		return // an older copy that came late over a slower link
	}
	if m.peerKnown && e.State.Epoch > m.peer.Epoch {
		m.report(Info, "", "peer-restart", fmt.Sprintf("peer %s restarted (epoch %d -> %d)", m.cfg.Peer, m.peer.Epoch, e.State.Epoch), "new boot epoch in heartbeat")
	}
	if !m.peerKnown {
		m.report(Info, "", "peer-seen", fmt.Sprintf("peer %s seen on link %s (epoch %d)", m.cfg.Peer, e.Link, e.State.Epoch), "first heartbeat of this run")
	}
	m.peer = e.State
	m.peerKnown = true
	if e.State.Leaving && !m.peerLeft {
		m.peerLeft = true
		m.report(Info, "", "peer-goodbye", fmt.Sprintf("peer %s said goodbye", m.cfg.Peer), "peer stopped its groups and is exiting")
	} else if !e.State.Leaving {
		m.peerLeft = false
	}
}

func (m *Machine) probeDone(e ProbeDone) {
	g := m.group(e.Group)
	if g == nil {
		return
	}
	first := !g.probed
	g.probed = true
	switch {
	case e.Running == 0:
		if g.role == Active {
			m.setRole(g, Standby, "probe found no resource running")
		}
	case e.Running == e.Total:
		if g.role != Active {
			why := "all resources already running: adopted"
			if first {
				why = "found running at start-up: adopted, not started twice"
			}
			m.setRole(g, Active, why)
		}
	default:
		m.setRole(g, Starting, fmt.Sprintf("%d of %d resources running: adopting them and starting the rest", e.Running, e.Total))
		m.out = append(m.out, StartGroup{Group: g.cfg.Name})
	}
}

func (m *Machine) groupDone(e GroupDone) {
	g := m.group(e.Group)
	if g == nil {
		return
	}
	switch {
	case e.Op == OpStart && g.role == Starting && e.Err == "":
		g.want, g.force, g.ineligible, g.blocked = false, false, false, ""
		m.setRole(g, Active, "all resources started")
		if g.stopAfter || m.shutdown {
			g.stopAfter = false
			m.stop(g, "stop requested while starting")
		}
	case e.Op == OpStart && g.role == Starting:
		g.want, g.force, g.stopAfter = false, false, false
		g.ineligible, g.failedAt = true, m.now
		what := "start failed"
		if e.Refused {
			what = "start refused"
		}
		if e.RolledBack {
			m.setRole(g, Standby, fmt.Sprintf("%s, rolled back: %s", what, e.Err))
		} else {
			m.enterFailed(g, fmt.Sprintf("%s and the rollback did not finish: %s", what, e.Err))
		}
	case e.Op == OpStop && g.role == Stopping && e.Err == "":
		m.setRole(g, Standby, "all resources stopped")
	case e.Op == OpStop && g.role == Stopping:
		m.enterFailed(g, "stop failed: "+e.Err)
	default:
		panic(fmt.Sprintf("core: %s of group %s finished while %s", e.Op, e.Group, g.role))
	}
}

func (m *Machine) enterFailed(g *group, why string) {
	m.setRole(g, Failed, why+"; self-fenced, an operator must act (xhad standby retries the stop)")
	m.out = append(m.out, SelfFence{Groups: []string{g.cfg.Name}, Why: why})
}

func (m *Machine) resourceFailed(e ResourceFailed) {
	g := m.group(e.Group)
	if g == nil || g.role != Active || m.maintenance || g.restarting || m.shutdown {
		return
	}
	window := g.cfg.RestartWindowTicks
	kept := g.restarts[:0]
	for _, t := range g.restarts {
		if window <= 0 || m.now-t < window {
			kept = append(kept, t)
		}
	}
	g.restarts = kept
	if len(g.restarts) < g.cfg.MaxRestarts {
		g.restarts = append(g.restarts, m.now)
		g.restarting = true
		m.report(Warn, g.cfg.Name, "restart", fmt.Sprintf("restarting %s locally (%d of %d in window)", e.Resource, len(g.restarts), g.cfg.MaxRestarts), e.Why)
		m.out = append(m.out, RestartResource{Group: g.cfg.Name, Resource: e.Resource})
		return
	}
	m.failover(g, fmt.Sprintf("%s failed (%s) and the restart limit %d is reached", e.Resource, e.Why, g.cfg.MaxRestarts))
}

func (m *Machine) restartDone(e RestartDone) {
	g := m.group(e.Group)
	if g == nil {
		return
	}
	g.restarting = false
	if e.Err != "" && g.role == Active {
		m.failover(g, fmt.Sprintf("restart of %s failed: %s", e.Resource, e.Err))
	}
}

// failover gives the group up here so that the peer takes it.
func (m *Machine) failover(g *group, why string) {
	g.yield, g.ineligible = true, true
	m.report(Warn, g.cfg.Name, "failover", "giving the group to the peer", why)
	m.stop(g, why)
}

func (m *Machine) fenceDone(e FenceDone) {
	if !m.fencing {
		return
	}
	m.fencing = false
	if e.OK {
		m.fenced, m.fenceFailed = true, ""
		m.report(Info, "", "fenced", fmt.Sprintf("peer %s fenced", m.cfg.Peer), e.Why)
		return
	}
	m.fenceFailed = e.Why
	m.fenceRetry = m.now + m.cfg.DeadTicks
	m.report(Error, "", "fence-failed", fmt.Sprintf("fencing peer %s failed; not taking over", m.cfg.Peer), e.Why)
}

func (m *Machine) command(c Command) {
	if m.shutdown && c.Op != CmdShutdown {
		m.report(Warn, "", "refused", fmt.Sprintf("%s ignored: shutting down", c.Op), "an orderly shutdown is in progress")
		return
	}
	switch c.Op {
	case CmdShutdown:
		if m.shutdown {
			m.report(Warn, "", "shutdown", "already shutting down", "second stop signal")
			return
		}
		m.shutdown = true
		if m.maintenance {
			m.report(Info, "", "shutdown", "exiting in maintenance mode: resources are left as they are", "operator stop")
			return
		}
		m.report(Info, "", "shutdown", "stopping every group, then saying goodbye", "operator stop")
		for _, g := range m.groups {
			switch g.role {
			case Active:
				m.stop(g, "shutdown")
			case Starting:
				g.stopAfter = true
			}
		}
	case CmdMaintenanceOn:
		if !m.maintenance {
			m.maintenance = true
			m.report(Info, "", "maintenance", "maintenance on: no failover, no monitoring, resources left as they are", "operator")
		}
	case CmdMaintenanceOff:
		if m.maintenance {
			m.maintenance = false
			m.report(Info, "", "maintenance", "maintenance off: probing resources, then acting again", "operator")
			for _, g := range m.groups {
				if g.role == Active || g.role == Standby {
					g.probed = false
				}
			}
			m.out = append(m.out, ProbeGroups{})
		}
	case CmdStandby:
		if m.maintenance {
			m.report(Warn, "", "refused", "standby refused: maintenance mode is on", "turn it off first: xhad maintenance off")
			return
		}
		m.report(Info, "", "standby", "handing every group to the peer", "operator standby")
		for _, g := range m.groups {
			g.want, g.force = false, false
			g.yield = true
			switch g.role {
			case Active, Failed:
				m.stop(g, "operator standby")
			case Starting:
				g.stopAfter = true
			}
		}
	case CmdTakeover:
		if m.maintenance {
			m.report(Warn, "", "refused", "takeover refused: maintenance mode is on", "turn it off first: xhad maintenance off")
			return
		}
		why := "operator takeover"
		if c.Force {
			why += " (--force: the database gate is overridden)"
		}
		if m.flapHold {
			m.flapHold = false
			m.takeovers = nil
			m.report(Info, "", "flap-ack", "anti-flapping hold acknowledged", "operator takeover")
		}
		m.report(Info, "", "takeover", "taking every group over", why)
		for _, g := range m.groups {
			g.yield, g.isolated, g.ineligible, g.stopAfter = false, false, false, false
			switch g.role {
			case Standby:
				g.want, g.force = true, c.Force
			case Failed:
				g.want, g.force = true, c.Force // decided like a standby group, see decide
			}
		}
	default:
		panic(fmt.Sprintf("core: unknown command %d", c.Op))
	}
}

// --- time and liveness ----------------------------------------------------

func (m *Machine) updateLinks() {
	var up []string
	for _, name := range m.linkNames() {
		ls := m.links[name]
		silent := m.now - ls.lastHeard
		nowUp := ls.heard && silent < m.cfg.DeadTicks
		nowLate := nowUp && silent >= m.cfg.WarnTicks
		if ls.heard && nowLate && !ls.late {
			m.report(Warn, "", "link-late", fmt.Sprintf("link %s: late heartbeat (%d ticks)", name, silent), "silent past warntime")
		}
		ls.late = nowLate
		if nowUp != ls.up {
			ls.up = nowUp
			if nowUp {
				m.report(Info, "", "link-up", fmt.Sprintf("link %s up", name), "heartbeat received")
			} else {
				m.report(Warn, "", "link-down", fmt.Sprintf("link %s down", name), fmt.Sprintf("silent for %d ticks", silent))
			}
		}
		if nowUp {
			up = append(up, name)
		}
	}
	alive := len(up) > 0 && !m.peerLeft
	if alive == m.peerAlive {
		return
	}
	m.peerAlive = alive
	if alive {
		m.report(Info, "", "peer-alive", fmt.Sprintf("peer %s alive on %s", m.cfg.Peer, strings.Join(up, ",")), "heartbeats received")
		m.fenced, m.fencing, m.fenceFailed = false, false, ""
		m.episodeCounted = false
		m.probing, m.probed = false, false
		// A group given up while isolated was handed to the peer for the
		// isolation only: now that both talk, the handshake decides.
		for _, g := range m.groups {
			if g.isolated {
				g.yield, g.isolated = false, false
			}
		}
		return
	}
	if !m.peerKnown {
		return
	}
	why := fmt.Sprintf("silent on all links for %d ticks", m.cfg.DeadTicks)
	if m.peerLeft {
		why = "peer said goodbye"
	}
	m.deadReason, m.deadAt = why, m.now
	m.report(Warn, "", "peer-dead", fmt.Sprintf("peer %s is gone", m.cfg.Peer), why)
	// One-shot moves end with the peer: what it was handed or refused here
	// may be taken back now that nobody else can run it.
	for _, g := range m.groups {
		g.yield, g.isolated, g.ineligible = false, false, false
	}
}

func (m *Machine) linkNames() []string {
	if len(m.names) == len(m.links) {
		return m.names // links are only ever added
	}
	m.names = m.names[:0]
	for n := range m.links {
		m.names = append(m.names, n)
	}
	sort.Strings(m.names)
	return m.names
}

// --- decisions ------------------------------------------------------------

func (m *Machine) allProbed() bool {
	for _, g := range m.groups {
		if !g.probed {
			return false
		}
	}
	return true
}

func (m *Machine) busy() bool {
	for _, g := range m.groups {
		if g.role == Starting || g.role == Stopping {
			return true
		}
	}
	return false
}

func (m *Machine) decide() {
	if m.exited {
		return
	}
	if m.shutdown {
		if !m.maintenance && m.busy() {
			return
		}
		m.exited = true
		return
	}
	if !m.allProbed() || m.maintenance {
		return
	}
	for _, g := range m.groups {
		switch g.role {
		case Standby:
			m.decideStandby(g)
		case Active:
			m.decideActive(g)
		case Failed:
			// Only an operator moves a FAILED group. Its resources may run
			// here, and the peer never starts a group this node holds, so
			// with a living peer that holds nothing it is started (adopting
			// what runs) at once; with a silent peer, after fencing it.
			if !g.want {
				continue
			}
			if !m.peerAlive {
				m.decideAlone(g)
			} else if p, ok := m.peer.group(g.cfg.Name); ok && p.Role.holds() {
				m.block(g, Warn, fmt.Sprintf("peer %s holds the group too (%s)", m.cfg.Peer, p.Role))
			} else if ok && m.peer.SeenEpoch == m.cfg.Epoch && m.peer.SeenVersion == m.version && p.Grant == m.cfg.Self {
				// Through the handshake like any start: the peer has
				// probed and seen this request, and holds nothing.
				m.start(g, fmt.Sprintf("operator takeover of a FAILED group, granted by peer %s", m.cfg.Peer))
			}
		}
	}
}

func (m *Machine) block(g *group, lvl Level, why string) {
	if g.blocked == why {
		return
	}
	g.blocked = why
	m.report(lvl, g.cfg.Name, "waiting", "not starting", why)
}

func (m *Machine) decideStandby(g *group) {
	if m.peerAlive {
		m.decideWithPeer(g)
		return
	}
	m.decideAlone(g)
}

// decideWithPeer: both nodes alive; start only through the handshake.
func (m *Machine) decideWithPeer(g *group) {
	name := g.cfg.Name
	p, ok := m.peer.group(name)
	if !ok {
		m.block(g, Warn, fmt.Sprintf("peer %s does not know group %s: are both configs identical?", m.cfg.Peer, name))
		return
	}
	if p.Role.holds() {
		m.block(g, Info, fmt.Sprintf("peer %s holds the group (%s)", m.cfg.Peer, p.Role))
		return
	}
	self := m.publishedSelf()
	w, why := Grant(g.cfg, sideOf(&self, name), sideOf(&m.peer, name))
	if w != m.cfg.Self {
		if w == "" {
			m.block(g, Info, "nobody starts it: "+why)
		} else {
			m.block(g, Info, fmt.Sprintf("%s starts it: %s", w, why))
		}
		return
	}
	if m.peer.SeenEpoch != m.cfg.Epoch || m.peer.SeenVersion != m.version || p.Grant != m.cfg.Self {
		return // handshake in progress: the peer has not yet granted our current state
	}
	m.start(g, fmt.Sprintf("granted by peer %s: %s", m.cfg.Peer, why))
}

// decideAlone: the peer is not alive (dead, gone, or never seen).
func (m *Machine) decideAlone(g *group) {
	switch {
	case !m.peerKnown && !g.want && !m.cfg.ForceMain:
		if m.now >= m.cfg.InitdeadTicks {
			m.block(g, Warn, fmt.Sprintf("alone: peer %s not seen for initdead; a lone node never takes over by itself (xhad takeover, SIGUSR1, or run --force-main)", m.cfg.Peer))
		} else {
			m.block(g, Info, fmt.Sprintf("waiting for peer %s (initdead)", m.cfg.Peer))
		}
		return
	case !m.peerKnown && !g.want && m.now < m.cfg.DeadTicks:
		m.block(g, Info, "force-main: listening for a living peer for deadtime first")
		return
	case g.yield && !g.want && g.isolated:
		m.block(g, Warn, fmt.Sprintf("given up while isolated; peer %s has probably taken it over: not taking it back before hearing the peer again (xhad takeover to override)", m.cfg.Peer))
		return
	case g.yield && !g.want:
		m.block(g, Info, "handed to the peer by an operator; the peer is gone (xhad takeover to take it back)")
		return
	case g.ineligible && !g.want && m.now-g.failedAt < retryFactor*m.cfg.DeadTicks:
		// Nobody else can run it: try again now and then (a refusal such
		// as DRBD's is checked before anything is done, so a retry is safe).
		m.block(g, Warn, fmt.Sprintf("the last start here failed; retrying every %d x deadtime (xhad takeover to retry now)", retryFactor))
		return
	case m.peerKnown && m.peer.Maintenance && !g.want:
		m.block(g, Warn, fmt.Sprintf("peer %s was in maintenance when it left; its resources may still run (xhad takeover to override)", m.cfg.Peer))
		return
	case m.cfg.PingConfigured && !(m.pingKnown && m.pingReachable) && !g.want:
		m.block(g, Warn, "no ping target reachable: this node may be the isolated one")
		return
	}
	if m.cfg.PeerProbe && m.peerKnown && !m.peerLeft && !g.want {
		if !m.probed {
			if !m.probing {
				m.probing = true
				m.out = append(m.out, ProbePeer{})
			}
			m.block(g, Info, "checking whether the peer's host answers on its public address")
			return
		}
		if m.probeAnswers {
			if !m.probing && m.now-m.probeAt >= m.cfg.DeadTicks {
				m.probing = true // ask again: the host may have died since
				m.out = append(m.out, ProbePeer{})
			}
			m.block(g, Warn, "the peer's host answers on its public address: a partition, not a death (xhad takeover to override)")
			return
		}
	}
	automatic := m.peerKnown && !g.want
	if automatic && !m.episodeCounted {
		if m.flapHold {
			m.block(g, Error, flapMsg)
			return
		}
		if m.cfg.MaxTakeovers > 0 {
			kept := m.takeovers[:0]
			for _, t := range m.takeovers {
				if m.cfg.FlapWindowTicks <= 0 || m.now-t < m.cfg.FlapWindowTicks {
					kept = append(kept, t)
				}
			}
			m.takeovers = kept
			if len(m.takeovers) >= m.cfg.MaxTakeovers {
				m.flapHold = true
				m.report(Error, "", "flap-hold", fmt.Sprintf("anti-flapping: %d automatic takeovers within the window already", len(m.takeovers)), "max-takeovers reached")
				m.block(g, Error, flapMsg)
				return
			}
		}
	}
	if automatic && !m.peerLeft && m.cfg.PingConfigured && m.cfg.IsolationStop &&
		m.now-m.deadAt < m.cfg.IsolationGraceTicks {
		m.block(g, Info, fmt.Sprintf("giving peer %s isolation-grace (%d ticks) to stop in case it is alive but isolated", m.cfg.Peer, m.cfg.IsolationGraceTicks))
		return
	}
	if !m.peerLeft && !m.fenced {
		if !m.fencing && m.now >= m.fenceRetry {
			m.fencing = true
			why := "peer " + m.deadReason
			if !m.peerKnown {
				why = "peer never seen in this run"
			}
			m.out = append(m.out, FencePeer{Why: why})
		}
		if m.fenceFailed != "" {
			m.block(g, Error, "peer fence failed, retrying every deadtime: "+m.fenceFailed)
		} else {
			m.block(g, Info, "fencing the peer before taking over")
		}
		return
	}
	if automatic && !m.episodeCounted {
		m.episodeCounted = true
		m.takeovers = append(m.takeovers, m.now)
	}
	why := "peer " + m.deadReason
	switch {
	case g.want:
		why = "operator takeover"
	case m.peerLeft:
		why = "peer said goodbye"
	case !m.peerKnown:
		why = "force-main: peer not seen"
	}
	if !m.peerLeft {
		why += ", peer fenced"
	}
	m.start(g, why)
}

// retryFactor x deadtime is how long a node alone waits before it tries a
// failed start again.
const retryFactor = 4

const flapMsg = "anti-flapping hold: staying put until an operator acknowledges (xhad takeover)"

func (m *Machine) decideActive(g *group) {
	if !m.peerAlive {
		m.decideIsolated(g)
		return
	}
	name := g.cfg.Name
	p, ok := m.peer.group(name)
	if !ok {
		return
	}
	if p.Role != Active && p.Role != Starting {
		g.blocked = ""
	}
	switch {
	case p.Role == Active || p.Role == Starting:
		// Both run it: only possible after a partition. Resolve it the same
		// way on both sides.
		if g.gen > p.Gen || (g.gen == p.Gen && m.cfg.Self < m.cfg.Peer) {
			msg := fmt.Sprintf("peer %s also runs the group; keeping it (generation %d vs %d)", m.cfg.Peer, g.gen, p.Gen)
			if g.blocked != msg {
				g.blocked = msg
				m.report(Error, name, "split-brain", msg, "both nodes ran the group after a partition; the higher generation, then the lower name, keeps it")
			}
			return
		}
		why := fmt.Sprintf("peer %s also runs the group with generation %d >= ours %d: this node yields", m.cfg.Peer, p.Gen, g.gen)
		m.out = append(m.out, SelfFence{Groups: []string{name}, Why: why})
		m.report(Error, name, "split-brain", "giving up the group", why)
		m.stop(g, why)
	case p.Role == Standby && p.Want && !m.peer.Maintenance:
		g.yield = true
		m.stop(g, fmt.Sprintf("operator on %s asked to take the group over", m.cfg.Peer))
	case p.Role == Standby && m.cfg.AutoFailback && g.cfg.Preferred == m.cfg.Peer &&
		!p.Yield && !p.Ineligible && !m.peer.Maintenance && !m.peer.FlapHold && !m.peer.Leaving:
		g.yield = true
		m.stop(g, fmt.Sprintf("auto-failback: %s is the preferred node and is back", m.cfg.Peer))
	}
}

// isolation: the tie-breaker says this node, not the peer, lost the network.
func (m *Machine) isolated() bool {
	return m.cfg.PingConfigured && m.cfg.IsolationStop && m.peerKnown && !m.peerLeft &&
		m.pingKnown && !m.pingReachable
}

// decideIsolated: an active node whose peer is silent on every link. If no
// ping target answers either, this node is probably the one cut off, and the
// peer (which reaches them) is about to take the group over after
// isolation-grace: self-fence and stop at once.
func (m *Machine) decideIsolated(g *group) {
	if !m.isolated() {
		return
	}
	why := fmt.Sprintf("isolated: peer %s silent on every link and no ping target reachable; the peer takes the group over after isolation-grace", m.cfg.Peer)
	m.report(Error, g.cfg.Name, "isolated", "giving up the group: self-fence, destroy, stop", why)
	m.out = append(m.out, SelfFence{Groups: []string{g.cfg.Name}, Why: why})
	// Handed to the peer: not taken back by this node before it has heard
	// the peer again (the peer-dead episode that isolated it is not over).
	g.yield, g.isolated, g.blocked = true, true, ""
	m.setRole(g, Stopping, why)
	m.out = append(m.out, StopGroup{Group: g.cfg.Name, Immediate: true})
}

// start begins a takeover: the new generation is published (after being
// persisted) with the STARTING role, so that a peer that also runs the group
// after a partition sees at once who keeps it.
func (m *Machine) start(g *group, why string) {
	g.blocked = ""
	g.gen = max(g.gen, m.peerGen(g.cfg.Name)) + 1
	m.setRole(g, Starting, why)
	m.out = append(m.out, StartGroup{Group: g.cfg.Name, Force: g.force})
}

func (m *Machine) stop(g *group, why string) {
	g.blocked = ""
	m.setRole(g, Stopping, why)
	m.out = append(m.out, StopGroup{Group: g.cfg.Name})
}

func (m *Machine) peerGen(name string) uint64 {
	if p, ok := m.peer.group(name); ok && m.peerKnown {
		return p.Gen
	}
	return 0
}

// --- output -------------------------------------------------------------

// publishedSelf is this node's state as it would be published now.
func (m *Machine) publishedSelf() NodeState {
	return m.publishInto(nil)
}

// publishInto is publishedSelf with its groups appended to buf[:0].
func (m *Machine) publishInto(buf []GroupState) NodeState {
	s := NodeState{
		Node:        m.cfg.Self,
		Epoch:       m.cfg.Epoch,
		Maintenance: m.maintenance,
		Leaving:     m.exited && m.shutdown,
		FlapHold:    m.flapHold,
		Groups:      buf[:0],
	}
	for _, g := range m.groups {
		s.Groups = append(s.Groups, GroupState{
			Name: g.cfg.Name, Role: g.role, Gen: g.gen,
			Want: g.want, Yield: g.yield, Ineligible: g.ineligible,
		})
	}
	if m.peerAlive && !m.exited {
		for i := range s.Groups {
			gs := &s.Groups[i]
			// Not before the probe: what runs here is not known yet.
			if gs.Role == Standby && m.groups[i].probed {
				gs.Grant, _ = Grant(m.groups[i].cfg, sideOf(&s, gs.Name), sideOf(&m.peer, gs.Name))
			}
		}
	}
	return s
}

// samePublished compares two published states, Version and Seen excluded.
func samePublished(a, b *NodeState) bool {
	return a.Node == b.Node && a.Epoch == b.Epoch && a.Maintenance == b.Maintenance &&
		a.Leaving == b.Leaving && a.FlapHold == b.FlapHold && slices.Equal(a.Groups, b.Groups)
}

// persistChanged reports whether persisted() differs from what was last
// persisted, without building it.
func (m *Machine) persistChanged() bool {
	p := &m.lastPers
	if p.Epoch != m.cfg.Epoch || p.FlapHold != m.flapHold || len(p.Gens) != len(m.groups) || len(p.Roles) != len(m.groups) {
		return true
	}
	for _, g := range m.groups {
		gen, ok := p.Gens[g.cfg.Name]
		if !ok || gen != g.gen || p.Roles[g.cfg.Name] != g.role.String() {
			return true
		}
	}
	return false
}

func (m *Machine) persisted() Persisted {
	p := Persisted{Epoch: m.cfg.Epoch, Gens: map[string]uint64{}, Roles: map[string]string{}, FlapHold: m.flapHold}
	for _, g := range m.groups {
		p.Gens[g.cfg.Name] = g.gen
		p.Roles[g.cfg.Name] = g.role.String()
	}
	return p
}

func (m *Machine) flush(_ bool) []Action {
	pub := m.publishInto(m.scratch)
	m.scratch = pub.Groups
	changed := m.bump || !samePublished(&pub, &m.lastPub)
	m.bump = false
	if changed {
		m.version++
		m.lastPub = pub
		m.lastPub.Groups = slices.Clone(pub.Groups)
	}
	pub.Version = m.version
	if m.peerKnown {
		pub.SeenEpoch, pub.SeenVersion = m.peer.Epoch, m.peer.Version
	}
	var acts []Action
	acts = append(acts, m.reports...)
	if m.persistChanged() {
		m.lastPers = m.persisted()
		acts = append(acts, Persist{State: m.lastPers})
	}
	// Fences first, then operations, in the order decided.
	for _, a := range m.out {
		if _, ok := a.(SelfFence); ok {
			acts = append(acts, a)
		}
	}
	for _, a := range m.out {
		if _, ok := a.(SelfFence); !ok {
			acts = append(acts, a)
		}
	}
	seen := [2]uint64{pub.SeenEpoch, pub.SeenVersion}
	due := !m.sentOnce || m.now-m.lastSent >= m.cfg.KeepaliveTicks
	if changed || seen != m.seenSent || due {
		m.sentOnce, m.lastSent, m.seenSent = true, m.now, seen
		pub.Groups = slices.Clone(pub.Groups) // the scratch buffer is reused
		acts = append(acts, Send{State: pub})
	}
	if m.exited && !m.exitSent {
		m.exitSent = true
		acts = append(acts, Exit{})
	}
	m.reports, m.out = nil, nil
	return acts
}
