package dsl

import "time"

// Plan is a validated configuration: every default filled in, every duration
// also converted to ticks, every cross-reference checked. The daemon and
// `xhad check-config` read only a Plan, never the TOML.
type Plan struct {
	File string `json:"file"` // path the plan was read from

	Cluster       string `json:"cluster"`         // carried in every heartbeat; both nodes must agree
	AuthKeyFile   string `json:"auth-key-file"`   // shared HMAC key, mode 0600
	StateDir      string `json:"state-dir"`       // persisted role/epoch, fences
	ControlSocket string `json:"control-socket"`  // unix socket of the CLI
	MetricsAddr   string `json:"metrics-address"` // "" = metrics off
	LogLevel      string `json:"log-level"`       // debug|info|warn|error

	Nodes [2]Node `json:"nodes"` // in file order
	Links Links   `json:"links"`

	Timing Timing `json:"timing"`
	Ticks  Ticks  `json:"ticks"`

	Failover Failover `json:"failover"`
	Fencing  Fencing  `json:"fencing"`
	Tools    Tools    `json:"tools"`

	// Parallel is the default limit of resources a group starts or stops at once.
	Parallel int `json:"parallel"`

	Groups []Group `json:"groups"` // in file order
}

// Node is one of the two dom0 hosts.
type Node struct {
	Name         string `json:"name"`
	Address      string `json:"address"`                 // dedicated-link UDP address, host:port (port filled from links.udp-port)
	Address2     string `json:"address2,omitempty"`      // optional second network, host:port
	SerialDevice string `json:"serial-device,omitempty"` // e.g. /dev/ttyS0; "" = no serial link on this node
	SerialBaud   int    `json:"serial-baud,omitempty"`
	PublicAddr   string `json:"public-address,omitempty"` // optional: an address of this node outside the heartbeat links, pinged as a partition check
}

// Links says which heartbeat links exist. A link is used only when both nodes
// configure it (both have address2, both have a serial device).
type Links struct {
	UDPPort    int  `json:"udp-port"`
	UDP        bool `json:"udp"`    // the dedicated link (always true in a valid plan)
	UDP2       bool `json:"udp2"`   // both nodes have address2
	Serial     bool `json:"serial"` // both nodes have serial-device
	SerialBaud int  `json:"serial-baud"`
}

// Timing holds the wall-clock settings as written (defaults filled in).
type Timing struct {
	Tick            time.Duration `json:"tick"`
	Keepalive       time.Duration `json:"keepalive"`
	Warntime        time.Duration `json:"warntime"`
	Deadtime        time.Duration `json:"deadtime"`
	Initdead        time.Duration `json:"initdead"`
	MonitorInterval time.Duration `json:"monitor-interval"`
}

// Ticks is Timing converted to decision-loop ticks (rounded up), the only
// form the decision core sees.
type Ticks struct {
	Keepalive int `json:"keepalive"`
	Warn      int `json:"warn"`
	Dead      int `json:"dead"`
	Initdead  int `json:"initdead"`
	Monitor   int `json:"monitor"`
	// FlapWindow is Failover.FlapWindow in ticks.
	FlapWindow int `json:"flap-window"`
	// IsolationGrace is Failover.IsolationGrace in ticks.
	IsolationGrace int `json:"isolation-grace"`
}

// Failover is the takeover policy.
type Failover struct {
	AutoFailback bool          `json:"auto-failback"`
	PingTargets  []string      `json:"ping-targets"` // IP addresses; empty = no tie-breaker
	PingTimeout  time.Duration `json:"ping-timeout"` //
	OnIsolation  string        `json:"on-isolation"` // "stop" or "keep"
	// IsolationGrace: the survivor's wait before an automatic takeover when
	// ping targets are set and OnIsolation is "stop"; 0 otherwise.
	IsolationGrace time.Duration `json:"isolation-grace"`
	MaxTakeovers   int           `json:"max-takeovers"` // automatic takeovers allowed per window; 0 = unlimited
	FlapWindow     time.Duration `json:"flap-window"`
}

// Fencing configures the fences that need no power switch.
type Fencing struct {
	PeerFence         bool          `json:"peer-fence"`         // nftables: drop the peer's replication traffic after takeover
	SelfFence         bool          `json:"self-fence"`         // nftables: cut own service traffic when losing
	Table             string        `json:"table"`              // nftables table owned by xhad
	ReplicationPorts  []int         `json:"replication-ports"`  // DRBD ports dropped by the peer fence
	ServiceInterfaces []string      `json:"service-interfaces"` // bridges whose forwarding the self fence cuts
	FencePeerTimeout  time.Duration `json:"fence-peer-timeout"` // bound of `xhad fence-peer`
	WatchdogDevice    string        `json:"watchdog-device"`    // "" = off
	WatchdogTimeout   time.Duration `json:"watchdog-timeout"`   //
}

// Tools are the external programs; a bare name is looked up in PATH when run.
type Tools struct {
	XL       string `json:"xl"`
	Drbdadm  string `json:"drbdadm"`
	Vgchange string `json:"vgchange"`
	Vgs      string `json:"vgs"`
}

// Group is a set of resources that fails over as a unit.
type Group struct {
	Name          string        `json:"name"`
	Preferred     string        `json:"preferred,omitempty"` // node name; "" = the lower name wins at start-up
	Parallel      int           `json:"parallel"`
	StrictOrder   bool          `json:"strict-order"`
	MaxRestarts   int           `json:"max-restarts"` // local restarts per window before failing over
	RestartWindow time.Duration `json:"restart-window"`
	Resources     []Resource    `json:"resources"`  // start order
	StopOrder     []string      `json:"stop-order"` // resource names, in stop order
	// ExplicitStopOrder is true when StopOrder was written in the file; the
	// resources then stop one after another in that order (see StopStages).
	ExplicitStopOrder bool `json:"explicit-stop-order"`
}

// StartStages returns the group's resource names in start stages: every
// resource of a stage may start once all earlier stages are running, and the
// resources of one stage start in parallel (at most Parallel at once). A
// resource's stage is one more than the latest stage of its After. Within a
// stage, names are in file order.
func (g Group) StartStages() [][]string {
	level := map[string]int{}
	var stages [][]string
	for _, r := range g.Resources {
		l := 0
		for _, dep := range r.After {
			l = max(l, level[dep]+1)
		}
		level[r.Name] = l
		for len(stages) <= l {
			stages = append(stages, nil)
		}
		stages[l] = append(stages[l], r.Name)
	}
	return stages
}

// StopStages returns the group's resource names in stop stages. With an
// explicit stop order every resource is a stage of its own, in that order.
// Otherwise a resource may stop once every resource that starts after it has
// stopped, and the resources of one stage stop in parallel (at most Parallel
// at once): the first stage holds the resources nothing depends on. Within a
// stage, names are in file order. Resources that are not Exclusive are in
// the stages too; a failover leaves them running.
func (g Group) StopStages() [][]string {
	if g.ExplicitStopOrder {
		stages := make([][]string, len(g.StopOrder))
		for i, name := range g.StopOrder {
			stages[i] = []string{name}
		}
		return stages
	}
	level := map[string]int{}
	for i := len(g.Resources) - 1; i >= 0; i-- {
		r := g.Resources[i]
		for _, dep := range r.After {
			level[dep] = max(level[dep], level[r.Name]+1)
		}
	}
	var stages [][]string
	for _, r := range g.Resources {
		l := level[r.Name]
		for len(stages) <= l {
			stages = append(stages, nil)
		}
		stages[l] = append(stages[l], r.Name)
	}
	return stages
}

// Kind is a resource kind.
type Kind string

const (
	KindDRBD     Kind = "drbd"
	KindLVM      Kind = "lvm"
	KindXen      Kind = "xen"
	KindIP       Kind = "ip"
	KindSystemd  Kind = "systemd"
	KindExec     Kind = "exec"
	KindDatabase Kind = "database"
)

// Resource is one protected thing. Only the fields of its Kind are set.
type Resource struct {
	Name         string        `json:"name"`
	Kind         Kind          `json:"kind"`
	After        []string      `json:"after"` // resolved dependencies (explicit, or implied by order)
	StartTimeout time.Duration `json:"start-timeout"`
	StopTimeout  time.Duration `json:"stop-timeout"`
	Monitor      bool          `json:"monitor"`

	DRBD     *DRBDSpec     `json:"drbd,omitempty"`
	LVM      *LVMSpec      `json:"lvm,omitempty"`
	Xen      *XenSpec      `json:"xen,omitempty"`
	IP       *IPSpec       `json:"ip,omitempty"`
	Systemd  *SystemdSpec  `json:"systemd,omitempty"`
	Exec     *ExecSpec     `json:"exec,omitempty"`
	Database *DatabaseSpec `json:"database,omitempty"`
}

// Exclusive reports whether the resource may run on one node only.
// Only Xen domains in mode "both" are not exclusive.
func (r Resource) Exclusive() bool {
	return !(r.Kind == KindXen && r.Xen != nil && r.Xen.Mode == XenBoth)
}

type DRBDSpec struct {
	Resource string `json:"resource"` // DRBD resource name
}

type LVMSpec struct {
	VolumeGroup string `json:"volume-group"`
}

// XenMode says where a domain runs.
type XenMode string

const (
	XenExclusive XenMode = "exclusive" // on the active node only
	XenBoth      XenMode = "both"      // on both nodes always; never stopped by failover
)

type XenSpec struct {
	Domain          string        `json:"domain"` // domain name
	Config          string        `json:"config"` // path given to `xl create`
	Mode            XenMode       `json:"mode"`
	ShutdownTimeout time.Duration `json:"shutdown-timeout"` // graceful shutdown before destroy
}

type IPSpec struct {
	Address   string        `json:"address"`   // CIDR, e.g. 192.0.2.10/24
	Interface string        `json:"interface"` //
	Lifetime  time.Duration `json:"lifetime"`  // 0 = permanent; else valid_lft/preferred_lft refreshed by the loop
	ARPCount  int           `json:"arp-count"` // gratuitous ARPs sent on start
}

type SystemdSpec struct {
	Unit string `json:"unit"`
}

type ExecSpec struct {
	Script  string            `json:"script,omitempty"`   // LSB-style script: start|stop|status
	Agent   string            `json:"agent,omitempty"`    // OCF agent "ocf:PROVIDER:TYPE"
	OCFRoot string            `json:"ocf-root,omitempty"` //
	Params  map[string]string `json:"params,omitempty"`   // OCF_RESKEY_<name>
}

// Engine is a database engine.
type Engine string

const (
	EngineMariaDB    Engine = "mariadb" // also MySQL
	EnginePostgreSQL Engine = "postgresql"
)

type DatabaseSpec struct {
	Engine          Engine            `json:"engine"`
	Addresses       map[string]string `json:"addresses"`        // node name -> host:port of that node's server
	Database        string            `json:"database"`         // database to connect to
	CredentialsFile string            `json:"credentials-file"` // "user:password" or key=value lines, mode 0600
	MaxLagBytes     int64             `json:"max-lag-bytes"`    // PostgreSQL
	//lint:ignore ST1011 named after the key max-lag-seconds; other packages use this name
	MaxLagSeconds  time.Duration `json:"max-lag-seconds"`      // MariaDB: seconds behind master
	MaxLagTrx      int64         `json:"max-lag-transactions"` // MariaDB: GTID seq_no difference
	CatchupTimeout time.Duration `json:"catchup-timeout"`      // bounded wait for the relay log / WAL replay
	ConnectTimeout time.Duration `json:"connect-timeout"`
}

// NodeByName returns the node and true, or false when name is not a node.
func (p *Plan) NodeByName(name string) (Node, bool) {
	for _, n := range p.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// Peer returns the other node of self.
func (p *Plan) Peer(self string) Node {
	if p.Nodes[0].Name == self {
		return p.Nodes[1]
	}
	return p.Nodes[0]
}
