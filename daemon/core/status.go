package core

import "sort"

// Status is a snapshot of the machine for `xhad status` and metrics.
type Status struct {
	Node         string        `json:"node"`
	Epoch        uint64        `json:"epoch"`
	Version      uint64        `json:"version"`
	Tick         int           `json:"tick"`
	Maintenance  bool          `json:"maintenance"`
	FlapHold     bool          `json:"flap-hold"`
	ShuttingDown bool          `json:"shutting-down"`
	Isolated     bool          `json:"isolated"` // see Machine.Isolated
	Peer         PeerStatus    `json:"peer"`
	Links        []LinkStatus  `json:"links"`
	Groups       []GroupStatus `json:"groups"`
	LastDecision *Report       `json:"last-decision,omitempty"`
}

// PeerStatus is what this node knows of its peer.
type PeerStatus struct {
	Node        string `json:"node"`
	Known       bool   `json:"known"` // heard during this run
	Alive       bool   `json:"alive"`
	Left        bool   `json:"left"` // said goodbye
	Epoch       uint64 `json:"epoch,omitempty"`
	Maintenance bool   `json:"maintenance,omitempty"`
	Fenced      bool   `json:"fenced"`
	FenceError  string `json:"fence-error,omitempty"`
	DeadReason  string `json:"dead-reason,omitempty"`
}

// LinkStatus is one heartbeat link as the core sees it.
type LinkStatus struct {
	Name      string `json:"name"`
	Up        bool   `json:"up"`
	Late      bool   `json:"late"`
	Heard     bool   `json:"heard"`
	SilentFor int    `json:"silent-ticks"` // ticks since the last heartbeat (0 if never heard)
}

// GroupStatus is one group on this node.
type GroupStatus struct {
	Name       string `json:"name"`
	Role       string `json:"role"`
	PeerRole   string `json:"peer-role,omitempty"`
	Gen        uint64 `json:"generation"`
	Want       bool   `json:"takeover-pending,omitempty"`
	Yield      bool   `json:"handed-to-peer,omitempty"`
	Ineligible bool   `json:"last-start-failed,omitempty"`
	Waiting    string `json:"waiting,omitempty"` // why it does not start, when it does not
}

// Status returns a snapshot.
func (m *Machine) Status() Status {
	s := Status{
		Node: m.cfg.Self, Epoch: m.cfg.Epoch, Version: m.version, Tick: m.now,
		Maintenance: m.maintenance, FlapHold: m.flapHold, ShuttingDown: m.shutdown, Isolated: m.Isolated(),
		Peer: PeerStatus{
			Node: m.cfg.Peer, Known: m.peerKnown, Alive: m.peerAlive, Left: m.peerLeft,
			Fenced: m.fenced, FenceError: m.fenceFailed,
		},
	}
	if m.peerKnown {
		s.Peer.Epoch, s.Peer.Maintenance = m.peer.Epoch, m.peer.Maintenance
	}
	if !m.peerAlive && m.peerKnown {
		s.Peer.DeadReason = m.deadReason
	}
	names := make([]string, 0, len(m.links))
	for n := range m.links {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ls := m.links[n]
		st := LinkStatus{Name: n, Up: ls.up, Late: ls.late, Heard: ls.heard}
		if ls.heard {
			st.SilentFor = m.now - ls.lastHeard
		}
		s.Links = append(s.Links, st)
	}
	for _, g := range m.groups {
		gs := GroupStatus{Name: g.cfg.Name, Role: g.role.String(), Gen: g.gen, Want: g.want, Yield: g.yield, Ineligible: g.ineligible}
		if g.role == Standby || g.role == Failed {
			gs.Waiting = g.blocked
		}
		if p, ok := m.peer.group(g.cfg.Name); ok && m.peerAlive {
			gs.PeerRole = p.Role.String() // only while heard: a silent peer's last role is stale
		}
		s.Groups = append(s.Groups, gs)
	}
	if m.lastNote.Event != "" {
		r := m.lastNote
		s.LastDecision = &r
	}
	return s
}

// Role returns the role of a group on this node.
func (m *Machine) Role(group string) Role {
	if g := m.group(group); g != nil {
		return g.role
	}
	return Standby
}

// Maintenance reports whether maintenance mode is on.
func (m *Machine) Maintenance() bool { return m.maintenance }

// Isolated reports whether this node considers itself the isolated one: the
// peer silent on every link, no ping target reachable, and on-isolation
// "stop" configured. The daemon starves its hardware watchdog while it is
// isolated and still holds a group.
func (m *Machine) Isolated() bool { return !m.peerAlive && m.isolated() }
