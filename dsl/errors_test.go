package dsl

import (
	"errors"
	"strings"
	"testing"
)

// minimal is a valid configuration of 8 lines. Most cases append to it, so
// their own lines start at line 9.
const minimal = `cluster = "pair"
auth-key-file = "/etc/xhad/authkey"
[[node]]
name = "xen1"
address = "10.0.0.1"
[[node]]
name = "xen2"
address = "10.0.0.2"
`

// dropLines removes the 1-based lines from..to of s.
func dropLines(s string, from, to int) string {
	lines := strings.SplitAfter(s, "\n")
	return strings.Join(append(lines[:from-1:from-1], lines[to:]...), "")
}

// replaceLine replaces the 1-based line n of s.
func replaceLine(s string, n int, line string) string {
	lines := strings.SplitAfter(s, "\n")
	lines[n-1] = line + "\n"
	return strings.Join(lines, "")
}

// badConfigs are configurations with the exact errors Parse must report;
// FuzzParse uses them as seeds too.
var badConfigs = []struct {
	name string
	toml string
	want string // every line of the error, in order
}{
	{
		name: "unknown key suggests the closest",
		toml: minimal + "[timing]\ndeadtme = \"3s\"\n",
		want: `x.toml:10:1: timing.deadtme: unknown key; did you mean deadtime?`,
	},
	{
		name: "unknown key in snake_case",
		toml: "log_level = \"debug\"\n" + minimal,
		want: `x.toml:1:1: log_level: unknown key; did you mean log-level?`,
	},
	{
		name: "unknown table",
		toml: minimal + "[timming]\nkeepalive = \"1s\"\n",
		want: `x.toml:9:1: timming: unknown table; did you mean timing?`,
	},
	{
		name: "unknown key with nothing close lists the keys",
		toml: minimal + "[links]\nmtu = 1500\n",
		want: `x.toml:10:1: links.mtu: unknown key; remove it, or use one of: udp-port, serial-baud`,
	},
	{
		name: "string for an integer",
		toml: "parallel = \"8\"\n" + minimal,
		want: `x.toml:1:1: parallel: "8" is a string, want an integer; write parallel = 8, without quotes`,
	},
	{
		name: "number for a duration",
		toml: minimal + "[timing]\nkeepalive = 2\n",
		want: `x.toml:10:1: timing.keepalive: 2 is an integer, want a duration string such as "500ms"; write keepalive = "2s" or "2ms", a quoted duration with its unit`,
	},
	{
		name: "string for an array",
		toml: minimal + "[failover]\nping-targets = \"10.0.0.254\"\n",
		want: `x.toml:10:1: failover.ping-targets: "10.0.0.254" is a string, want an array of strings; write ping-targets = ["10.0.0.254"]`,
	},
	{
		name: "on-isolation misspelt",
		toml: minimal + "[failover]\non-isolation = \"stpo\"\n",
		want: `x.toml:10:1: failover.on-isolation: "stpo" is not one of "stop" or "keep"; write on-isolation = "stop"`,
	},
	{
		name: "negative isolation-grace",
		toml: minimal + "[failover]\nisolation-grace = \"-1s\"\n",
		want: `x.toml:10:1: failover.isolation-grace: "-1s" is negative; write isolation-grace = "1s"`,
	},
	{
		name: "isolation-grace shorter than the watchdog needs",
		toml: minimal + "[failover]\nping-targets = [\"192.0.2.254\"]\nisolation-grace = \"2s\"\n[fencing]\nwatchdog-device = \"/dev/watchdog\"\n",
		want: `x.toml:11:1: failover.isolation-grace: "2s" is too short for the hardware watchdog to reset an isolated node whose stop hangs before its peer takes over: it needs watchdog-timeout (2s) plus how much the ping round outlasts deadtime plus 1s; write isolation-grace = "3s" or more, or remove it (the default follows the watchdog)`,
	},
	{
		name: "table for an array of tables",
		toml: "cluster = \"pair\"\nauth-key-file = \"/k\"\n[node]\nname = \"xen1\"\naddress = \"10.0.0.1\"\n",
		want: `x.toml:3:1: node: is a table, want an array of tables; write it as an array of tables: [[node]] on a line of its own, its keys below, once per element`,
	},
	{
		name: "missing required top-level key",
		toml: dropLines(minimal, 1, 1),
		want: `x.toml:1:1: cluster: missing required key; write cluster = "xenpair"`,
	},
	{
		name: "missing key of a table points at its header",
		toml: dropLines(minimal, 4, 4),
		want: `x.toml:3:1: node[0].name: missing required key; write name = "xen1"`,
	},
	{
		name: "no nodes",
		toml: dropLines(minimal, 3, 8),
		want: `x.toml:1:1: node: no [[node]] tables; a cluster has exactly two nodes; add two [[node]] tables, each with name and address`,
	},
	{
		name: "one node",
		toml: dropLines(minimal, 6, 8),
		want: `x.toml:3:1: node[0]: found 1 [[node]] table; a cluster has exactly two nodes; add a [[node]] table for the other host`,
	},
	{
		name: "three nodes",
		toml: minimal + "[[node]]\nname = \"xen3\"\naddress = \"10.0.0.3\"\n",
		want: `x.toml:9:1: node[2]: found 3 [[node]] tables; a cluster has exactly two nodes; remove this [[node]] table`,
	},
	{
		name: "duplicate node name",
		toml: replaceLine(minimal, 7, `name = "xen1"`),
		want: `x.toml:7:1: node[1].name: "xen1" is already the name of node[0] (line 4); give each node its own name, normally its hostname`,
	},
	{
		name: "host name instead of an address",
		toml: replaceLine(minimal, 8, `address = "xen2.example"`),
		want: `x.toml:8:1: node[1].address: "xen2.example" is not an IP address; write address = "10.0.0.1" or "10.0.0.1:694", an IP address with an optional port (heartbeats must not depend on DNS)`,
	},
	{
		name: "address port out of range",
		toml: replaceLine(minimal, 8, `address = "10.0.0.2:70000"`),
		want: `x.toml:8:1: node[1].address: port "70000" is not a number from 1 to 65535; write address = "10.0.0.1" or "10.0.0.1:694", an IP address with an optional port (heartbeats must not depend on DNS)`,
	},
	{
		name: "address2 on one node only",
		toml: replaceLine(minimal, 5, "address = \"10.0.0.1\"\naddress2 = \"192.168.1.1\""),
		want: `x.toml:7:1: node[1]: node[0] has address2 but this node has none; give both nodes an address2 (a second heartbeat network needs both ends), or neither`,
	},
	{
		name: "serial rates differ",
		toml: replaceLine(replaceLine(minimal, 8, "address = \"10.0.0.2\"\nserial-device = \"/dev/ttyS0\"\nserial-baud = 57600"), 5, "address = \"10.0.0.1\"\nserial-device = \"/dev/ttyS0\""),
		want: `x.toml:11:1: node[1].serial-baud: 57600 differs from node[0]'s 115200; both ends of a serial cable must use the same rate; write serial-baud = 115200 on both nodes`,
	},
	{
		name: "deadtime not above 2 x keepalive",
		toml: minimal + "[timing]\n  keepalive = \"500ms\"\n  deadtime = \"1s\"\n",
		want: `x.toml:11:3: timing.deadtime: "1s" must be more than 2 x keepalive (500ms); write deadtime = "1.5s" or more`,
	},
	{
		name: "warntime not between keepalive and deadtime",
		toml: minimal + "[timing]\nwarntime = \"5s\"\n",
		want: `x.toml:10:1: timing.warntime: "5s" must be more than keepalive (500ms) and less than deadtime (3s); write warntime = "1.5s"`,
	},
	{
		name: "initdead below deadtime",
		toml: minimal + "[timing]\ninitdead = \"2s\"\n",
		want: `x.toml:10:1: timing.initdead: "2s" must be at least deadtime (3s); write initdead = "30s" or more`,
	},
	{
		name: "tick above keepalive",
		toml: minimal + "[timing]\ntick = \"1s\"\n",
		want: `x.toml:10:1: timing.tick: "1s" must not be more than keepalive (500ms); write tick = "100ms"`,
	},
	{
		name: "duration in words",
		toml: minimal + "[timing]\ndeadtime = \"5 seconds\"\n",
		want: `x.toml:10:1: timing.deadtime: "5 seconds" is not a duration; write deadtime = "5s"`,
	},
	{
		name: "watchdog timeout not below deadtime",
		toml: minimal + "[fencing]\nwatchdog-device = \"/dev/watchdog\"\nwatchdog-timeout = \"3s\"\n",
		want: `x.toml:11:1: fencing.watchdog-timeout: "3s" must be shorter than deadtime (3s), so a hung node resets before its peer takes over; write watchdog-timeout = "2s" or less`,
	},
	{
		name: "default watchdog timeout with a deadtime of 1s",
		toml: minimal + "[timing]\nkeepalive = \"200ms\"\ndeadtime = \"1s\"\n[fencing]\nwatchdog-device = \"/dev/watchdog\"\n",
		want: `x.toml:13:1: fencing.watchdog-device: watchdog-timeout (by default 1s) must be shorter than deadtime (1s), so a hung node resets before its peer takes over; raise timing.deadtime above 1s, or remove watchdog-device`,
	},
	{
		name: "replication port is the heartbeat port",
		toml: minimal + "[fencing]\nreplication-ports = [7788, 694]\n",
		want: `x.toml:10:28: fencing.replication-ports[1]: 694 is the heartbeat port (links.udp-port); the peer fence would cut the heartbeats; list only the DRBD ports of /etc/drbd.d/*.res`,
	},
	{
		name: "invalid cluster name",
		toml: replaceLine(minimal, 1, `cluster = "Xen Pair"`),
		want: `x.toml:1:1: cluster: "Xen Pair" is not a valid cluster name; write cluster = "xen-pair": lower-case letters, digits and "-", at most 32, starting with a letter or digit`,
	},
	{
		name: "negative parallel",
		toml: "parallel = -1\n" + minimal,
		want: `x.toml:1:1: parallel: -1 is out of range; write a number from 1 to 1000`,
	},
	{
		name: "duplicate resource names across groups",
		toml: minimal + `[[group]]
name = "g1"
  [[group.resource]]
  name = "r0"
  kind = "drbd"
[[group]]
name = "g2"
  [[group.resource]]
  name = "r0"
  kind = "drbd"
  resource = "r1"
`,
		want: `x.toml:17:3: group[1].resource[0].name: "r0" is already the name of a resource in group "g1" (line 12); resource names must be unique across all groups; rename one`,
	},
	{
		name: "preferred is not a node",
		toml: minimal + "[[group]]\nname = \"g\"\npreferred = \"xen3\"\n  [[group.resource]]\n  name = \"r0\"\n  kind = \"drbd\"\n",
		want: `x.toml:11:1: group[0].preferred: "xen3" is not a node; the nodes are "xen1" and "xen2"; write preferred = "xen1" or "xen2"`,
	},
	{
		name: "group without resources",
		toml: minimal + "[[group]]\nname = \"g\"\n",
		want: `x.toml:9:1: group[0].resource: missing required key; add a [[group.resource]] table`,
	},
	{
		name: "misspelt kind",
		toml: minimal + "[[group]]\nname = \"g\"\n  [[group.resource]]\n  name = \"r0\"\n  kind = \"drdb\"\n",
		want: `x.toml:13:3: group[0].resource[0].kind: "drdb" is not a resource kind; write kind = "drbd"`,
	},
	{
		name: "unknown kind",
		toml: minimal + "[[group]]\nname = \"g\"\n  [[group.resource]]\n  name = \"r0\"\n  kind = \"container\"\n",
		want: `x.toml:13:3: group[0].resource[0].kind: "container" is not a resource kind; write kind = "drbd", "lvm", "xen", "ip", "systemd", "exec" or "database"`,
	},
	{
		name: "key of another kind",
		toml: minimal + "[[group]]\nname = \"g\"\n  [[group.resource]]\n  name = \"r0\"\n  kind = \"drbd\"\n  config = \"/etc/xen/r0.cfg\"\n",
		want: `x.toml:14:3: group[0].resource[0].config: is a key of kind "xen", not "drbd"; remove it, or set kind = "xen"`,
	},
	{
		name: "xen without config",
		toml: minimal + "[[group]]\nname = \"g\"\n  [[group.resource]]\n  name = \"web\"\n  kind = \"xen\"\n",
		want: `x.toml:11:3: group[0].resource[0].config: missing required key; write config = "/etc/xen/web.cfg"`,
	},
	{
		name: "xen shutdown not below stop timeout",
		toml: minimal + "[[group]]\nname = \"g\"\n  [[group.resource]]\n  name = \"web\"\n  kind = \"xen\"\n  config = \"/etc/xen/web.cfg\"\n  stop-timeout = \"2m\"\n  shutdown-timeout = \"5m\"\n",
		want: "x.toml:16:3: group[0].resource[0].shutdown-timeout: \"5m\" must be less than stop-timeout (2m), or `xl destroy` never gets its turn; write stop-timeout = \"6m\", or a shorter shutdown-timeout",
	},
	{
		name: "one domain managed twice",
		toml: minimal + `[[group]]
name = "g"
  [[group.resource]]
  name = "web"
  kind = "xen"
  config = "/etc/xen/web.cfg"
  [[group.resource]]
  name = "web2"
  kind = "xen"
  domain = "web"
  config = "/etc/xen/web.cfg"
`,
		want: `x.toml:18:3: group[0].resource[1].domain: domain "web" is already managed by resource "web" (line 12); two resources would fight over it; manage each domain with one resource only`,
	},
	{
		name: "domain in mode both after an exclusive resource",
		toml: minimal + `[[group]]
name = "g"
  [[group.resource]]
  name = "r0"
  kind = "drbd"
  [[group.resource]]
  name = "db"
  kind = "xen"
  config = "/etc/xen/db.cfg"
  mode = "both"
`,
		want: `x.toml:18:3: group[0].resource[1].mode: a domain in mode "both" runs on both nodes, but it starts after "r0" (drbd), which runs on the active node only; move it above the exclusive resources of the group, or list only mode "both" domains in its after`,
	},
	{
		name: "exec with script and agent",
		toml: minimal + "[[group]]\nname = \"g\"\n  [[group.resource]]\n  name = \"app\"\n  kind = \"exec\"\n  script = \"/etc/xhad/scripts/app\"\n  agent = \"ocf:heartbeat:IPaddr2\"\n",
		want: `x.toml:15:3: group[0].resource[0].agent: both script and agent are set; a resource runs one of them; remove script or agent`,
	},
	{
		name: "systemd unit without suffix",
		toml: minimal + "[[group]]\nname = \"g\"\n  [[group.resource]]\n  name = \"web\"\n  kind = \"systemd\"\n  unit = \"nginx\"\n",
		want: `x.toml:14:3: group[0].resource[0].unit: "nginx" is not a systemd unit name; write unit = "nginx.service"`,
	},
	{
		name: "ip without prefix length",
		toml: minimal + "[[group]]\nname = \"g\"\n  [[group.resource]]\n  name = \"vip\"\n  kind = \"ip\"\n  address = \"192.0.2.10\"\n  interface = \"xenbr0\"\n",
		want: `x.toml:14:3: group[0].resource[0].address: "192.0.2.10" has no prefix length; write address = "192.0.2.10/24", with the prefix length of the network`,
	},
	{
		name: "ip lifetime too short",
		toml: minimal + "[[group]]\nname = \"g\"\n  [[group.resource]]\n  name = \"vip\"\n  kind = \"ip\"\n  address = \"192.0.2.10/24\"\n  interface = \"xenbr0\"\n  lifetime = \"1s\"\n",
		want: `x.toml:16:3: group[0].resource[0].lifetime: "1s" must be at least 3 x keepalive (1.5s), or the address expires between refreshes; write lifetime = "2s" or more, or "0s" for a permanent address`,
	},
	{
		name: "database without credentials file",
		toml: minimal + "[[group]]\nname = \"g\"\n  [[group.resource]]\n  name = \"gate\"\n  kind = \"database\"\n  engine = \"mariadb\"\n  addresses = { xen1 = \"10.0.1.11\", xen2 = \"10.0.1.12\" }\n",
		want: `x.toml:11:3: group[0].resource[0].credentials-file: missing required key; write credentials-file = "/etc/xhad/db.cred"`,
	},
	{
		name: "database address for one node only",
		toml: minimal + "[[group]]\nname = \"g\"\n  [[group.resource]]\n  name = \"gate\"\n  kind = \"database\"\n  engine = \"mariadb\"\n  addresses = { xen1 = \"10.0.1.11\" }\n  credentials-file = \"/etc/xhad/db.cred\"\n",
		want: `x.toml:15:3: group[0].resource[0].addresses: no address for node "xen2"; the gate must reach the database of both nodes; add xen2 = "HOST:3306" to addresses`,
	},
	{
		name: "database engine mysql",
		toml: minimal + "[[group]]\nname = \"g\"\n  [[group.resource]]\n  name = \"gate\"\n  kind = \"database\"\n  engine = \"mysql\"\n  addresses = { xen1 = \"10.0.1.11\", xen2 = \"10.0.1.12\" }\n  credentials-file = \"/etc/xhad/db.cred\"\n",
		want: `x.toml:14:3: group[0].resource[0].engine: "mysql" is not a database engine; write engine = "mariadb" (it covers MySQL too)`,
	},
	{
		name: "lag limit of the other engine",
		toml: minimal + "[[group]]\nname = \"g\"\n  [[group.resource]]\n  name = \"gate\"\n  kind = \"database\"\n  engine = \"mariadb\"\n  addresses = { xen1 = \"10.0.1.11\", xen2 = \"10.0.1.12\" }\n  credentials-file = \"/etc/xhad/db.cred\"\n  max-lag-bytes = 1024\n",
		want: `x.toml:17:3: group[0].resource[0].max-lag-bytes: applies to engine "postgresql" only; remove it`,
	},
	{
		name: "after names a later resource",
		toml: minimal + `[[group]]
name = "g"
  [[group.resource]]
  name = "vg0"
  kind = "lvm"
  volume-group = "vg0"
  after = ["r0"]
  [[group.resource]]
  name = "r0"
  kind = "drbd"
`,
		want: `x.toml:15:12: group[0].resource[0].after[0]: "r0" is declared later in the group (line 17); a resource may only start after resources above it; move this resource below "r0", or remove "r0" from after`,
	},
	{
		name: "after names a resource of another group",
		toml: minimal + `[[group]]
name = "g1"
  [[group.resource]]
  name = "r0"
  kind = "drbd"
[[group]]
name = "g2"
  [[group.resource]]
  name = "r1"
  kind = "drbd"
  after = ["r0"]
`,
		want: `x.toml:19:12: group[1].resource[0].after[0]: "r0" is in group "g1"; after names resources of the same group only; remove it; groups fail over independently`,
	},
	{
		name: "stop-order not a permutation",
		toml: minimal + `[[group]]
name = "g"
stop-order = ["r0"]
  [[group.resource]]
  name = "r0"
  kind = "drbd"
  [[group.resource]]
  name = "vg0"
  kind = "lvm"
  volume-group = "vg0"
`,
		want: `x.toml:11:1: group[0].stop-order: is not a permutation of the group's resources: it lacks "vg0"; list every resource of the group once, or remove stop-order to stop in reverse start order`,
	},
	{
		name: "stop-order stops a dependency first",
		toml: minimal + `[[group]]
name = "g"
stop-order = ["r0", "vg0"]
  [[group.resource]]
  name = "r0"
  kind = "drbd"
  [[group.resource]]
  name = "vg0"
  kind = "lvm"
  volume-group = "vg0"
`,
		want: `x.toml:11:15: group[0].stop-order[0]: "r0" stops before "vg0", which starts after it; move "vg0" before "r0"`,
	},
	{
		name: "TOML syntax error at the parser's position",
		toml: minimal + "[timing]\nkeepalive = \"500ms\n",
		want: `x.toml:10:19: timing.keepalive: TOML syntax: strings cannot contain newlines; correct the syntax at this position (see https://toml.io)`,
	},
	{
		name: "TOML duplicate key",
		toml: "cluster = \"a\"\n" + minimal,
		want: `x.toml:2:1: cluster: TOML syntax: Key 'cluster' has already been defined; correct the syntax at this position (see https://toml.io)`,
	},
	{
		name: "every problem at once, in file order",
		toml: "parallel = 0\n" + replaceLine(minimal, 8, `address = "10.0.0.2:0"`) + "[timing]\nkeepalive = \"1 s\"\n[fencing]\nwatchdog-device = \"dev/watchdog\"\n",
		want: `x.toml:1:1: parallel: 0 is out of range; write a number from 1 to 1000
x.toml:9:1: node[1].address: port "0" is not a number from 1 to 65535; write address = "10.0.0.1" or "10.0.0.1:694", an IP address with an optional port (heartbeats must not depend on DNS)
x.toml:11:1: timing.keepalive: "1 s" is not a duration; write keepalive = "1s"
x.toml:13:1: fencing.watchdog-device: "dev/watchdog" is not an absolute path; write an absolute path, e.g. watchdog-device = "/dev/watchdog"`,
	},
}

func TestParseReportsProblems(t *testing.T) {
	if len(badConfigs) < 30 {
		t.Fatalf("only %d bad configurations; the brief asks for at least 30", len(badConfigs))
	}
	for _, tc := range badConfigs {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Parse("x.toml", []byte(tc.toml), Options{SkipFileChecks: true})
			if err == nil {
				t.Fatalf("Parse accepted the configuration, want:\n%s\nplan: %+v", tc.want, plan)
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want *Errors: %v", err, err)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("wrong error\n got: %s\nwant: %s", got, tc.want)
			}
			for _, p := range errs.Problems {
				if p.Line < 1 || p.Col < 1 || p.Fix == "" || p.Msg == "" {
					t.Errorf("problem lacks a position, a message or a fix: %#v", p)
				}
			}
		})
	}
}

// TestParseAcceptsEdgeCases guards against rules that are too strict.
func TestParseAcceptsEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		toml string
	}{
		{"minimal", minimal},
		{"IPv6 nodes with ports", replaceLine(replaceLine(minimal, 8, `address = "[fd00::2]:7000"`), 5, `address = "fd00::1"`)},
		{"same IP, different ports (one machine)", replaceLine(minimal, 8, `address = "10.0.0.1:695"`)},
		{"nodes as an array of inline tables", "cluster = \"pair\"\nauth-key-file = \"/k\"\nnode = [ { name = \"a\", address = \"127.0.0.1:7001\" },\n  { name = \"b\", address = \"127.0.0.2:7002\" } ]\n"},
		{"empty after is the implied order", minimal + "[[group]]\nname = \"g\"\n  [[group.resource]]\n  name = \"r0\"\n  kind = \"drbd\"\n  after = []\n"},
		{"lifetime 0 is permanent", minimal + "[[group]]\nname = \"g\"\n  [[group.resource]]\n  name = \"vip\"\n  kind = \"ip\"\n  address = \"192.0.2.10/24\"\n  interface = \"xenbr0\"\n  lifetime = \"0s\"\n"},
		{"max-takeovers 0 is unlimited", minimal + "[failover]\nmax-takeovers = 0\n"},
		{"quoted keys", "\"cluster\" = \"pair\"\n'auth-key-file' = \"/k\"\n" + dropLines(minimal, 1, 2)},
		{"dotted keys", "timing.keepalive = \"1s\"\nfailover.max-takeovers = 1\n" + minimal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse("x.toml", []byte(tc.toml), Options{SkipFileChecks: true}); err != nil {
				t.Fatalf("Parse rejected a valid configuration:\n%v\n--- input:\n%s", err, tc.toml)
			}
		})
	}
}
