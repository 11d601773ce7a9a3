package dsl

import (
	"fmt"
	"strings"
	"time"
)

// KeyDoc documents one configuration key. Keys() is the single place where
// the defaults live: the parser reads its fixed defaults from the same table,
// RenderText and the xhad.toml(5) man page print it.
type KeyDoc struct {
	// Path is the dotted key path without array indices: "timing.deadtime",
	// "node.name" (the name of every [[node]]), "group.resource.config".
	Path string `json:"path"`
	// Type is the TOML type: string, integer, boolean, duration (a string in
	// Go syntax such as "500ms"), array of strings, array of integers,
	// table of strings, table, array of tables.
	Type string `json:"type"`
	// Default is the value used when the key is left out: a TOML literal
	// ("500ms", 694, true), a rule ("6 x keepalive"), or "" when the key is
	// required or simply unset.
	Default string `json:"default,omitempty"`
	// Unit names the unit of a number ("baud", "bytes"); durations carry
	// their own unit.
	Unit string `json:"unit,omitempty"`
	// Doc is one or two sentences for a sysadmin.
	Doc string `json:"doc"`
	// Kind is set for the keys that belong to one resource kind only.
	Kind Kind `json:"kind,omitempty"`
	// Required keys have no default.
	Required bool `json:"required,omitempty"`
	// Example is a value to write, as a TOML literal.
	Example string `json:"example,omitempty"`
}

// valueType is the TOML type a key must have.
type valueType string

const (
	typeString    valueType = "string"
	typeInteger   valueType = "integer"
	typeBool      valueType = "boolean"
	typeDuration  valueType = "duration"
	typeStrings   valueType = "array of strings"
	typeIntegers  valueType = "array of integers"
	typeStringMap valueType = "table of strings"
	typeTable     valueType = "table"
	typeTables    valueType = "array of tables"
)

// keySpec is one row of the schema. def holds a fixed default as the Go value
// the parser uses (string, int64, bool, time.Duration, []string, []int64);
// rule describes a default computed from other keys (the parser computes it
// next to where the key is read, and the two are kept together by tests).
type keySpec struct {
	path     string
	typ      valueType
	def      any
	rule     string
	unit     string
	kind     Kind
	required bool
	example  string
	doc      string
}

// kindTimeouts are the default start and stop timeouts per resource kind.
// A xen domain's stop timeout is its shutdown-timeout plus xenStopMargin.
var kindTimeouts = []struct {
	kind        Kind
	start, stop time.Duration
}{
	{KindDRBD, 30 * time.Second, 30 * time.Second},
	{KindLVM, 30 * time.Second, 30 * time.Second},
	{KindXen, 60 * time.Second, 0},
	{KindIP, 10 * time.Second, 10 * time.Second},
	{KindSystemd, 90 * time.Second, 90 * time.Second},
	{KindExec, 60 * time.Second, 60 * time.Second},
	{KindDatabase, 60 * time.Second, 30 * time.Second},
}

// xenStopMargin is what a xen domain's default stop-timeout adds to its
// shutdown-timeout: time for `xl destroy` after a graceful shutdown timed out.
const xenStopMargin = 60 * time.Second

// Fixed limits that the validation and the documentation share.
const (
	minTick              = 10 * time.Millisecond
	maxFencePeerTimeout  = 60 * time.Second
	maxParallel          = 1000
	maxUnixSocketPathLen = 107 // sizeof(sun_path) - 1
	pgDefaultDatabase    = "postgres"
)

// standardBauds are the serial rates a node may use.
var standardBauds = []int64{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600}

func timeoutRule(stop bool) string {
	var parts []string
	for _, kt := range kindTimeouts {
		d := kt.start
		if stop {
			d = kt.stop
		}
		if d == 0 {
			parts = append(parts, fmt.Sprintf("%s: shutdown-timeout + %s", kt.kind, xenStopMargin))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s", kt.kind, d))
	}
	return "per kind: " + strings.Join(parts, ", ")
}

// schema lists every key of xhad.toml in the order of the documentation.
var schema = []keySpec{
	{path: "cluster", typ: typeString, required: true, example: `"xenpair"`,
		doc: `Name of the cluster, carried in every heartbeat; both nodes must agree. Lower-case letters, digits and "-", at most 32 characters, starting with a letter or digit.`},
	{path: "auth-key-file", typ: typeString, required: true, example: `"/etc/xhad/authkey"`,
		doc: "Absolute path of the shared secret that authenticates every heartbeat (HMAC-SHA256). The same file on both nodes, at least 16 bytes, owned by root, mode 0600."},
	{path: "state-dir", typ: typeString, def: "/var/lib/xhad",
		doc: "Absolute path of the directory where the role, epoch and fences are persisted."},
	{path: "control-socket", typ: typeString, def: "/run/xhad/xhad.sock",
		doc: "Absolute path of the unix socket the xhad commands talk to (root only)."},
	{path: "metrics-address", typ: typeString, def: "", example: `"127.0.0.1:9465"`,
		doc: `host:port where Prometheus metrics are served; host is an IP address, "localhost" or empty (all addresses). Empty turns metrics off.`},
	{path: "log-level", typ: typeString, def: "info",
		doc: "One of debug, info, warn, error."},
	{path: "parallel", typ: typeInteger, def: int64(8), unit: "resources",
		doc: "How many independent resources of a group start or stop at once, unless the group sets its own (1 to 1000)."},

	{path: "node", typ: typeTables, required: true,
		doc: "The two dom0 hosts, one [[node]] table each; exactly two."},
	{path: "node.name", typ: typeString, required: true, example: `"xen1"`,
		doc: `The node's name, by default its hostname (see xhad run --node). Letters, digits, ".", "_" and "-"; unique.`},
	{path: "node.address", typ: typeString, required: true, example: `"10.0.0.1"`,
		doc: `IP address on the dedicated heartbeat link, "ip" or "ip:port" ("[ipv6]:port"); the port defaults to links.udp-port. No host names: heartbeats must not depend on DNS.`},
	{path: "node.address2", typ: typeString, example: `"192.168.1.1"`,
		doc: "Optional IP address on a second network, used as a second UDP heartbeat link. Give it to both nodes or to neither."},
	{path: "node.serial-device", typ: typeString, example: `"/dev/ttyS0"`,
		doc: "Optional serial port of the null-modem heartbeat cable. Give it to both nodes or to neither."},
	{path: "node.serial-baud", typ: typeInteger, rule: "links.serial-baud", unit: "baud",
		doc: "Rate of this node's serial port; both ends of the cable must use the same rate."},
	{path: "node.public-address", typ: typeString, example: `"192.0.2.1"`,
		doc: "Optional IP address of this node outside the heartbeat links, pinged as a partition check."},

	{path: "links", typ: typeTable, doc: "Settings shared by the heartbeat links."},
	{path: "links.udp-port", typ: typeInteger, def: int64(694),
		doc: "UDP port of the heartbeat links (694 is Heartbeat's port)."},
	{path: "links.serial-baud", typ: typeInteger, def: int64(115200), unit: "baud",
		doc: "Default serial rate: one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600."},

	{path: "timing", typ: typeTable, doc: "Heartbeat timing. Durations are strings in Go syntax: \"500ms\", \"3s\", \"1m30s\"."},
	{path: "timing.tick", typ: typeDuration, rule: "the shorter of 100ms and keepalive",
		doc: "Period of the decision loop; every other timing is counted in ticks (rounded up). At least 10ms, at most keepalive."},
	{path: "timing.keepalive", typ: typeDuration, def: 500 * time.Millisecond,
		doc: "How often a heartbeat is sent on every link. At least 10ms."},
	{path: "timing.warntime", typ: typeDuration, rule: "deadtime / 2",
		doc: "A heartbeat later than this is logged as late. More than keepalive, less than deadtime."},
	{path: "timing.deadtime", typ: typeDuration, rule: "6 x keepalive",
		doc: "The peer is dead when it has been silent on every link for this long. More than 2 x keepalive."},
	{path: "timing.initdead", typ: typeDuration, rule: "the longer of 30s and 2 x deadtime",
		doc: "At start-up, how long to wait for the peer before reporting it missing. At least deadtime."},
	{path: "timing.monitor-interval", typ: typeDuration, def: 10 * time.Second,
		doc: "How often the active node probes its resources. At least one tick."},

	{path: "failover", typ: typeTable, doc: "The takeover policy."},
	{path: "failover.auto-failback", typ: typeBool, def: false,
		doc: "Move a group back to its preferred node when that node returns."},
	{path: "failover.ping-targets", typ: typeStrings, def: []string{}, example: `["10.0.0.254"]`,
		doc: "IP addresses (e.g. the default gateway) used as tie-breaker: when every link dies at once, a node that reaches none of them does not take over. Empty: no tie-breaker."},
	{path: "failover.ping-timeout", typ: typeDuration, def: time.Second,
		doc: "How long to wait for a ping-target's answer."},
	{path: "failover.on-isolation", typ: typeString, def: "stop",
		doc: "With ping-targets: what an active node does when the peer is silent on every link and no ping target answers (it is probably the isolated one and the peer is taking over). \"stop\": self-fence, destroy its domains at once (their disks are cut off from the peer already) and stop the groups; the peer waits isolation-grace before starting them. \"keep\": keep running (the peer may then run them too until the links heal)."},
	{path: "failover.isolation-grace", typ: typeDuration, rule: "5s plus how much the ping round (the longer of keepalive and 1s, plus ping-timeout) outlasts deadtime; with a watchdog-device at least watchdog-timeout plus that plus 1s",
		doc: "With ping-targets and on-isolation = \"stop\": how long after declaring a silent peer dead a node waits before an automatic takeover, so that a peer that is alive but isolated has noticed and stopped (or, with a watchdog-device, been reset by its watchdog because its stop hung). Added to every automatic failover."},
	{path: "failover.max-takeovers", typ: typeInteger, def: int64(3),
		doc: "Automatic takeovers allowed per flap-window; beyond that the node stays put until an operator acknowledges. 0 = unlimited."},
	{path: "failover.flap-window", typ: typeDuration, def: time.Hour,
		doc: "The window max-takeovers counts in."},

	{path: "fencing", typ: typeTable, doc: "Fencing without a power switch: nftables and an optional hardware watchdog."},
	{path: "fencing.peer-fence", typ: typeBool, def: true,
		doc: "After a takeover, drop the peer's replication traffic (replication-ports) until `xhad unfence`."},
	{path: "fencing.self-fence", typ: typeBool, def: true,
		doc: "A node that loses cuts its own service-interfaces and service IPs before stopping its domains."},
	{path: "fencing.table", typ: typeString, def: "xhad",
		doc: "Name of the nftables table (family inet) that xhad owns and replaces as a whole."},
	{path: "fencing.replication-ports", typ: typeIntegers, def: []int64{7788, 7789},
		doc: "TCP ports dropped by the peer fence. xhad does not read the DRBD configuration: list the ports of the `address` lines in /etc/drbd.d/*.res. The default covers DRBD's customary first two."},
	{path: "fencing.service-interfaces", typ: typeStrings, def: []string{}, example: `["xenbr0"]`,
		doc: "Interfaces (usually the Xen bridges of the exclusive domains) whose forwarding the self fence cuts."},
	{path: "fencing.fence-peer-timeout", typ: typeDuration, def: 20 * time.Second,
		doc: "Bound of `xhad fence-peer`, the DRBD fence-peer handler. Less than 60s: DRBD freezes I/O of the resource while the handler runs."},
	{path: "fencing.watchdog-device", typ: typeString, def: "", example: `"/dev/watchdog"`,
		doc: "Hardware watchdog that resets a node whose decision loop stops. Empty: off."},
	{path: "fencing.watchdog-timeout", typ: typeDuration, rule: "deadtime minus 1s, in whole seconds (at least 1s)",
		doc: "Watchdog timeout in whole seconds; shorter than deadtime, so a hung node resets before its peer takes over."},

	{path: "tools", typ: typeTable, doc: "External programs: a bare name is looked up in PATH when run, or an absolute path."},
	{path: "tools.xl", typ: typeString, def: "xl", doc: "The Xen toolstack."},
	{path: "tools.drbdadm", typ: typeString, def: "drbdadm", doc: "DRBD's administration tool."},
	{path: "tools.vgchange", typ: typeString, def: "vgchange", doc: "LVM: activates and deactivates volume groups."},
	{path: "tools.vgs", typ: typeString, def: "vgs", doc: "LVM: reports volume groups."},

	{path: "group", typ: typeTables,
		doc: "A set of resources that fails over as a unit; one [[group]] table each."},
	{path: "group.name", typ: typeString, required: true, example: `"main"`,
		doc: "Unique name of the group."},
	{path: "group.preferred", typ: typeString, def: "", example: `"xen1"`,
		doc: "Node that runs the group when both are up at start-up. Empty: the node whose name sorts first."},
	{path: "group.parallel", typ: typeInteger, rule: "parallel", unit: "resources",
		doc: "How many resources of one stage start or stop at once (1 to 1000)."},
	{path: "group.strict-order", typ: typeBool, def: false,
		doc: "Every resource waits for the one before it: no parallel stages."},
	{path: "group.max-restarts", typ: typeInteger, def: int64(3),
		doc: "Local restarts of a failed resource within restart-window before the group fails over. 0: fail over at once."},
	{path: "group.restart-window", typ: typeDuration, def: 10 * time.Minute,
		doc: "The window max-restarts counts in."},
	{path: "group.stop-order", typ: typeStrings, rule: "reverse start order, in parallel stages",
		doc: "Explicit stop order: every resource of the group exactly once, stopped one after another. A resource must stop before the resources it starts after."},

	{path: "group.resource", typ: typeTables, required: true,
		doc: "The group's resources in start order; one [[group.resource]] table each."},
	{path: "group.resource.name", typ: typeString, required: true, example: `"r0"`,
		doc: "Name, unique across all groups."},
	{path: "group.resource.kind", typ: typeString, required: true, example: `"drbd"`,
		doc: "One of drbd, lvm, xen, ip, systemd, exec, database."},
	{path: "group.resource.after", typ: typeStrings, rule: "the resources of the previous stage",
		doc: "Names of resources of the same group, declared earlier, that must be running before this one starts. Left out or empty: consecutive resources of one kind form a stage that starts in parallel, and each stage waits for the whole previous stage."},
	{path: "group.resource.start-timeout", typ: typeDuration, rule: timeoutRule(false),
		doc: "Bound of one start."},
	{path: "group.resource.stop-timeout", typ: typeDuration, rule: timeoutRule(true),
		doc: "Bound of one stop."},
	{path: "group.resource.monitor", typ: typeBool, def: true,
		doc: "Probe the resource every monitor-interval on the active node and restart it when it failed."},

	{path: "group.resource.resource", typ: typeString, kind: KindDRBD, rule: "name",
		doc: "DRBD resource name as in /etc/drbd.d/*.res."},

	{path: "group.resource.volume-group", typ: typeString, kind: KindLVM, required: true, example: `"vg0"`,
		doc: "LVM volume group to activate."},

	{path: "group.resource.domain", typ: typeString, kind: KindXen, rule: "name",
		doc: "Xen domain name (the name line of its config)."},
	{path: "group.resource.config", typ: typeString, kind: KindXen, required: true, example: `"/etc/xen/web.cfg"`,
		doc: "Absolute path of the domain config given to `xl create`."},
	{path: "group.resource.mode", typ: typeString, kind: KindXen, def: string(XenExclusive),
		doc: `"exclusive": runs on the active node only. "both": runs on both nodes all the time and is never stopped by a failover (a router pair, a replicated database).`},
	{path: "group.resource.shutdown-timeout", typ: typeDuration, kind: KindXen, def: 120 * time.Second,
		doc: "Graceful `xl shutdown` time before `xl destroy`; less than stop-timeout."},

	{path: "group.resource.address", typ: typeString, kind: KindIP, required: true, example: `"192.0.2.10/24"`,
		doc: "Service IP with its prefix length (CIDR)."},
	{path: "group.resource.interface", typ: typeString, kind: KindIP, required: true, example: `"xenbr0"`,
		doc: "Interface the address is added to."},
	{path: "group.resource.lifetime", typ: typeDuration, kind: KindIP, def: time.Duration(0),
		doc: "0: permanent. Otherwise the address is added with this kernel lifetime (whole seconds, at least 3 x keepalive) and kept refreshed, so a daemon that is killed loses it by itself."},
	{path: "group.resource.arp-count", typ: typeInteger, kind: KindIP, def: int64(3),
		doc: "Gratuitous ARPs sent when the address is added (0 to 100)."},

	{path: "group.resource.unit", typ: typeString, kind: KindSystemd, required: true, example: `"nginx.service"`,
		doc: "systemd unit, with its suffix."},

	{path: "group.resource.script", typ: typeString, kind: KindExec, example: `"/etc/xhad/scripts/app"`,
		doc: "Absolute path of an LSB-style script called with start, stop, status. Exactly one of script and agent."},
	{path: "group.resource.agent", typ: typeString, kind: KindExec, example: `"ocf:heartbeat:IPaddr2"`,
		doc: "OCF resource agent, ocf:PROVIDER:TYPE. Exactly one of script and agent."},
	{path: "group.resource.ocf-root", typ: typeString, kind: KindExec, def: "/usr/lib/ocf",
		doc: "OCF root directory (agent only)."},
	{path: "group.resource.params", typ: typeStringMap, kind: KindExec, example: `{ ip = "192.0.2.10" }`,
		doc: "OCF parameters, passed as OCF_RESKEY_<name> (agent only)."},

	{path: "group.resource.engine", typ: typeString, kind: KindDatabase, required: true, example: `"mariadb"`,
		doc: `"mariadb" (also MySQL; master-master) or "postgresql" (streaming replication).`},
	{path: "group.resource.addresses", typ: typeStringMap, kind: KindDatabase, required: true, example: `{ xen1 = "10.0.1.11:3306", xen2 = "10.0.1.12:3306" }`,
		doc: "host:port of each node's database server, one entry per node name; the port defaults to 3306 (mariadb) or 5432 (postgresql)."},
	{path: "group.resource.database", typ: typeString, kind: KindDatabase, rule: `"postgres" for postgresql, "" for mariadb`,
		doc: "Database to connect to."},
	{path: "group.resource.credentials-file", typ: typeString, kind: KindDatabase, required: true, example: `"/etc/xhad/db.cred"`,
		doc: `Absolute path of a file with "user:password" or key=value lines; owned by root, mode 0600.`},
	{path: "group.resource.max-lag-bytes", typ: typeInteger, kind: KindDatabase, rule: "1048576 (postgresql only)", unit: "bytes",
		doc: "PostgreSQL: largest WAL distance between received and replayed, and to the last known primary position, that still allows promotion. 0: none."},
	{path: "group.resource.max-lag-seconds", typ: typeDuration, kind: KindDatabase, rule: `"10s" (mariadb only)`,
		doc: "MariaDB: largest Seconds_Behind_Master that still allows promotion. 0: none."},
	{path: "group.resource.max-lag-transactions", typ: typeInteger, kind: KindDatabase, rule: "0 (mariadb only)", unit: "transactions",
		doc: "MariaDB: largest GTID sequence difference to the old master that still allows promotion. 0: none."},
	{path: "group.resource.catchup-timeout", typ: typeDuration, kind: KindDatabase, def: 30 * time.Second,
		doc: "How long the gate waits for the relay log or WAL replay to catch up; with connect-timeout, less than start-timeout."},
	{path: "group.resource.connect-timeout", typ: typeDuration, kind: KindDatabase, def: 2 * time.Second,
		doc: "Bound of one connection to a database server."},
}

// Defaults of the database lag limits; the schema rows above name them.
const (
	pgDefaultMaxLagBytes      = 1 << 20
	mariadbDefaultMaxLagDelay = 10 * time.Second
	mariadbDefaultMaxLagTrx   = 0
)

// schemaIndex maps a key path to its row.
var schemaIndex = func() map[string]*keySpec {
	idx := make(map[string]*keySpec, len(schema))
	for i := range schema {
		if _, dup := idx[schema[i].path]; dup {
			panic("dsl: duplicate schema key " + schema[i].path)
		}
		idx[schema[i].path] = &schema[i]
	}
	return idx
}()

// lookupSpec returns the schema row of path; a missing row is a bug in this
// package, so it panics.
func lookupSpec(path string) *keySpec {
	s, ok := schemaIndex[path]
	if !ok {
		panic("dsl: key " + path + " is not in the schema table")
	}
	return s
}

// childKeys returns the names of the keys directly under parent ("" = top
// level). With kind set, only the common keys and that kind's keys; with kind
// "", all keys. Callers must not modify the result.
func childKeys(parent string, kind Kind) []string {
	return childKeysIndex[childKeysKey{parent, kind}]
}

type childKeysKey struct {
	parent string
	kind   Kind
}

// childKeysIndex holds childKeys for every parent and kind; built once.
var childKeysIndex = func() map[childKeysKey][]string {
	idx := map[childKeysKey][]string{}
	kinds := []Kind{"", KindDRBD, KindLVM, KindXen, KindIP, KindSystemd, KindExec, KindDatabase}
	for _, s := range schema {
		parent, name := splitPath(s.path)
		for _, kind := range kinds {
			if kind != "" && s.kind != "" && s.kind != kind {
				continue
			}
			k := childKeysKey{parent, kind}
			idx[k] = append(idx[k], name)
		}
	}
	return idx
}()

func splitPath(path string) (parent, name string) {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i], path[i+1:]
	}
	return "", path
}

// Keys returns the documentation of every key, tables included, in the order
// of the documentation.
func Keys() []KeyDoc {
	out := make([]KeyDoc, 0, len(schema))
	for _, s := range schema {
		def := s.rule
		if s.def != nil {
			def = formatTOMLValue(s.def)
		}
		out = append(out, KeyDoc{
			Path:     s.path,
			Type:     string(s.typ),
			Default:  def,
			Unit:     s.unit,
			Doc:      s.doc,
			Kind:     s.kind,
			Required: s.required,
			Example:  s.example,
		})
	}
	return out
}
