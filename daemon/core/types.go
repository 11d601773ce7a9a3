package core

import (
	"fmt"
	"strings"
)

// Role is the state of one group on one node.
type Role uint8

const (
	Standby  Role = iota // not running the group here
	Starting             // resources coming up in order
	Active               // running the group
	Stopping             // resources going down in reverse order
	Failed               // a stop failed: self-fenced, waiting for an operator
)

var roleNames = [...]string{"STANDBY", "STARTING", "ACTIVE", "STOPPING", "FAILED"}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// ParseRole is the inverse of Role.String.
func ParseRole(s string) (Role, error) {
	for i, n := range roleNames {
		if strings.EqualFold(n, s) {
			return Role(i), nil
		}
	}
	return 0, fmt.Errorf("unknown role %q", s)
}

// holds reports whether a node in this role may have the group's resources
// running (or coming up, or not yet verified down).
func (r Role) holds() bool { return r != Standby }

// GroupConfig is what the core needs to know of a group.
type GroupConfig struct {
	Name      string
	Preferred string // node name, or "" for none
	// MaxRestarts local restarts of a failed resource within RestartWindowTicks
	// before the group fails over; 0 means fail over at the first failure.
	MaxRestarts        int
	RestartWindowTicks int
}

// Config is the static input of a Machine.
type Config struct {
	Self, Peer string
	Epoch      uint64   // this run's boot epoch (strictly increasing across runs)
	Links      []string // names of the heartbeat links
	Groups     []GroupConfig

	KeepaliveTicks int // send a heartbeat at least this often
	WarnTicks      int // a link silent this long is late
	DeadTicks      int // a link silent this long is down; all links down = peer dead
	InitdeadTicks  int // how long a starting node waits for its peer before saying so

	AutoFailback    bool
	PingConfigured  bool // a ping tie-breaker is configured; PingResult events follow
	MaxTakeovers    int  // automatic takeovers per FlapWindowTicks; 0 = unlimited
	FlapWindowTicks int
	ForceMain       bool // `xhad run --force-main`: a lone node may take over
	// PeerProbe: the peer has a public address outside the heartbeat links.
	// Before taking over from a silent peer the daemon pings it there
	// (ProbePeer); a peer host that answers is partitioned, not dead.
	PeerProbe bool
	// IsolationStop (with PingConfigured): an active node that finds the
	// peer silent on every link and no ping target reachable is probably
	// the isolated one: it self-fences and stops its groups at once. Its
	// peer, in turn, waits IsolationGraceTicks after declaring it dead
	// before an automatic takeover, so that it has stopped.
	IsolationStop       bool
	IsolationGraceTicks int
}

// GroupState is one group as a node publishes it in its heartbeats.
type GroupState struct {
	Name       string `json:"name"`
	Role       Role   `json:"role"`
	Gen        uint64 `json:"gen"`                  // takeover generation of the last start
	Want       bool   `json:"want,omitempty"`       // an operator asked this node to take the group
	Yield      bool   `json:"yield,omitempty"`      // this node hands the group to its peer
	Ineligible bool   `json:"ineligible,omitempty"` // the last start here was refused or failed
	Grant      string `json:"grant,omitempty"`      // who this node says should start the group
}

// NodeState is what a node publishes in every heartbeat.
type NodeState struct {
	Node        string       `json:"node"`
	Epoch       uint64       `json:"epoch"`
	Version     uint64       `json:"version"`      // bumps on every change of the published state
	SeenEpoch   uint64       `json:"seen-epoch"`   // the peer epoch the Seen version belongs to
	SeenVersion uint64       `json:"seen-version"` // latest version of the peer this node has seen
	Maintenance bool         `json:"maintenance,omitempty"`
	Leaving     bool         `json:"leaving,omitempty"` // goodbye: this node stopped everything and exits
	FlapHold    bool         `json:"flap-hold,omitempty"`
	Groups      []GroupState `json:"groups"`
}

func (s *NodeState) group(name string) (GroupState, bool) {
	for _, g := range s.Groups {
		if g.Name == name {
			return g, true
		}
	}
	return GroupState{}, false
}

// Persisted is what the daemon writes to the state file before announcing it.
type Persisted struct {
	Epoch    uint64            `json:"epoch"`
	Gens     map[string]uint64 `json:"gens"`  // group -> takeover generation
	Roles    map[string]string `json:"roles"` // group -> role, for the operator
	FlapHold bool              `json:"flap-hold"`
}

// Event is an input of Step.
type Event interface{ isEvent() }

// Heard: a valid heartbeat arrived from the peer on a link.
type Heard struct {
	Link  string
	State NodeState
}

// ProbeDone: the start-up probe of a group finished. Running counts the
// group's exclusive resources found running, of Total.
type ProbeDone struct {
	Group          string
	Running, Total int
}

// Op is a group operation.
type Op uint8

const (
	OpStart Op = iota + 1
	OpStop
)

func (o Op) String() string {
	switch o {
	case OpStart:
		return "start"
	case OpStop:
		return "stop"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// GroupDone: a StartGroup or StopGroup action finished. Err is empty on
// success. Refused is set when a start was refused as unsafe (for example
// DRBD data not UpToDate) rather than failing. RolledBack tells, for a failed
// start, whether everything started was stopped again.
type GroupDone struct {
	Group      string
	Op         Op
	Err        string
	Refused    bool
	RolledBack bool
}

// ResourceFailed: the monitor found a resource of an active group not running.
type ResourceFailed struct {
	Group, Resource, Why string
}

// RestartDone: a RestartResource action finished.
type RestartDone struct {
	Group, Resource, Err string
}

// FenceDone: the FencePeer action finished.
type FenceDone struct {
	OK  bool
	Why string
}

// Stalled: the daemon's loop did not run for Ticks tick periods (SIGSTOP, a
// hung disk, a live-locked host). Messages that waited in buffers meanwhile
// may be stale: every grant received before is void (the node's state
// version is bumped, so only replies to the new version count).
type Stalled struct{ Ticks int }

// PeerProbeDone: the answer to ProbePeer.
type PeerProbeDone struct {
	Answers bool
	Why     string
}

// PingResult: the tie-breaker reached (or not) any ping target.
type PingResult struct{ Reachable bool }

// Command is an operator command.
type Command struct {
	Op    CommandOp
	Force bool // takeover --force (passed to StartGroup for the database gate)
}

// CommandOp is an operator command.
type CommandOp uint8

const (
	CmdStandby        CommandOp = iota + 1 // SIGHUP, `xhad standby`
	CmdTakeover                            // SIGUSR1, `xhad takeover`
	CmdMaintenanceOn                       // `xhad maintenance on`
	CmdMaintenanceOff                      // `xhad maintenance off`
	CmdShutdown                            // SIGTERM, SIGINT
)

func (c CommandOp) String() string {
	switch c {
	case CmdStandby:
		return "standby"
	case CmdTakeover:
		return "takeover"
	case CmdMaintenanceOn:
		return "maintenance-on"
	case CmdMaintenanceOff:
		return "maintenance-off"
	case CmdShutdown:
		return "shutdown"
	}
	return fmt.Sprintf("CommandOp(%d)", uint8(c))
}

func (Heard) isEvent()          {}
func (ProbeDone) isEvent()      {}
func (GroupDone) isEvent()      {}
func (ResourceFailed) isEvent() {}
func (RestartDone) isEvent()    {}
func (FenceDone) isEvent()      {}
func (PingResult) isEvent()     {}
func (Stalled) isEvent()        {}
func (PeerProbeDone) isEvent()  {}
func (Command) isEvent()        {}

// Action is an output of Tick and Step, to be carried out in order.
type Action interface{ isAction() }

// Persist: write the state file (atomically, fsynced) before going on.
type Persist struct{ State Persisted }

// Send: send this state to the peer on every link (as a goodbye when
// State.Leaving is set).
type Send struct{ State NodeState }

// StartGroup: start a group's resources in order; report GroupDone.
type StartGroup struct {
	Group string
	Force bool // operator override of the database gate
}

// StopGroup: stop a group's resources in reverse order; report GroupDone.
type StopGroup struct {
	Group string
	// Immediate: this node is isolated and its peer is taking the group
	// over; domains are destroyed, not shut down (their disks no longer
	// replicate, so a graceful shutdown only prolongs two copies running).
	Immediate bool
}

// RestartResource: start a failed resource again; report RestartDone.
type RestartResource struct{ Group, Resource string }

// FencePeer: install the peer fence; report FenceDone.
type FencePeer struct{ Why string }

// SelfFence: cut this node's service traffic for the groups before stopping them.
type SelfFence struct {
	Groups []string
	Why    string
}

// Report: a decision or transition with its reason, to be logged once.
type Report struct {
	Level Level
	Group string // "" for node-wide reports
	Event string // short kebab-case name: "transition", "takeover", "refused", ...
	Msg   string
	Why   string
}

// ProbePeer: ping the peer's public address; report PeerProbeDone.
type ProbePeer struct{}

// ProbeGroups: probe every group again and report ProbeDone for each.
type ProbeGroups struct{}

// Exit: the orderly shutdown is complete; the daemon exits.
type Exit struct{}

// Level is the importance of a Report.
type Level uint8

const (
	Info Level = iota
	Warn
	Error
)

func (l Level) String() string {
	switch l {
	case Warn:
		return "warn"
	case Error:
		return "error"
	}
	return "info"
}

func (Persist) isAction()         {}
func (Send) isAction()            {}
func (StartGroup) isAction()      {}
func (StopGroup) isAction()       {}
func (RestartResource) isAction() {}
func (FencePeer) isAction()       {}
func (SelfFence) isAction()       {}
func (Report) isAction()          {}
func (Exit) isAction()            {}
func (ProbeGroups) isAction()     {}
func (ProbePeer) isAction()       {}
