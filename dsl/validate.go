package dsl

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	clusterNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	nameRE        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	nftTableRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,31}$`)
)

// fileCheck is a secret file whose owner, mode and size Load checks.
type fileCheck struct {
	keyPath  string
	path     string
	minBytes int64
	what     string
}

// builder turns the decoded TOML into a Plan, recording every problem.
type builder struct {
	*checker
	plan  *Plan
	files []fileCheck

	// What later sections need from earlier ones; the *OK flags say whether
	// the value is usable (its own problem was already reported otherwise).
	udpPort    int
	udpPortOK  bool
	nodeNames  []string // valid names of the nodes, in file order
	nodesOK    bool
	keepalive  time.Duration
	deadtime   time.Duration
	timingOK   bool
	deadtimeOK bool

	failoverTable *tableView // for problems found once [fencing] is read
	graceGiven    bool       // failover.isolation-grace is in the file
}

func (b *builder) build(m map[string]any) {
	p := b.plan
	root := newTableView(b.checker, "", "", m)

	if s, st := root.str("cluster"); st == given {
		if clusterNameRE.MatchString(s) {
			p.Cluster = s
		} else {
			root.problem("cluster", fmt.Sprintf("%q is not a valid cluster name", s),
				fmt.Sprintf("write cluster = %q: lower-case letters, digits and \"-\", at most 32, starting with a letter or digit", suggestClusterName(s)))
		}
	}
	if s, st := root.absPath("auth-key-file"); st == given && s != "" {
		p.AuthKeyFile = s
		b.files = append(b.files, fileCheck{keyPath: "auth-key-file", path: s, minBytes: 16, what: "auth key file"})
	}
	p.StateDir, _ = root.absPath("state-dir")
	if s, st := root.absPath("control-socket"); st.ok() {
		if len(s) > maxUnixSocketPathLen {
			root.problem("control-socket", fmt.Sprintf("%q is %d bytes long; a unix socket path has at most %d", s, len(s), maxUnixSocketPathLen),
				fmt.Sprintf("write control-socket = %q", lookupSpec("control-socket").def))
		} else {
			p.ControlSocket = s
		}
	}
	if s, st := root.str("metrics-address"); st.ok() {
		if s == "" || b.checkMetricsAddress(root, s) {
			p.MetricsAddr = s
		}
	}
	p.LogLevel, _ = root.enum("log-level", "debug", "info", "warn", "error")
	if n, st := root.intRange("parallel", 1, maxParallel); st.ok() {
		p.Parallel = int(n)
	}

	b.links(root)
	b.nodes(root)
	b.timing(root)
	b.failover(root)
	b.fencing(root)
	b.isolationWatchdog()
	b.tools(root)
	b.groups(root)
	root.finish(childKeys("", ""))

	if b.timingOK {
		tick := p.Timing.Tick
		p.Ticks = Ticks{
			Keepalive:      ticks(p.Timing.Keepalive, tick),
			Warn:           ticks(p.Timing.Warntime, tick),
			Dead:           ticks(p.Timing.Deadtime, tick),
			Initdead:       ticks(p.Timing.Initdead, tick),
			Monitor:        ticks(p.Timing.MonitorInterval, tick),
			FlapWindow:     ticks(p.Failover.FlapWindow, tick),
			IsolationGrace: ticks(p.Failover.IsolationGrace, tick),
		}
	}
}

// ticks converts d to ticks of length tick, rounding up.
func ticks(d, tick time.Duration) int {
	if tick <= 0 {
		return 0
	}
	return int((d + tick - 1) / tick)
}

func suggestClusterName(s string) string {
	var out []byte
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			out = append(out, byte(r))
		case len(out) > 0 && out[len(out)-1] != '-':
			out = append(out, '-')
		}
	}
	name := strings.Trim(string(out), "-")
	if len(name) > 32 {
		name = strings.TrimRight(name[:32], "-")
	}
	if name == "" {
		return "xenpair"
	}
	return name
}

// absPath reads a string that must be empty or an absolute path; a required
// key must not be empty.
func (t *tableView) absPath(key string) (string, presence) {
	s, p := t.str(key)
	if p != given || s == "" && !t.spec(key).required {
		return s, p
	}
	example := t.spec(key).example
	if d, ok := t.spec(key).def.(string); ok && d != "" {
		example = strconv.Quote(d)
	}
	switch {
	case s == "":
		t.problem(key, "must not be empty", "write "+key+" = "+example)
	case strings.ContainsRune(s, 0):
		t.problem(key, fmt.Sprintf("%q contains a NUL character", s), "write "+key+" = "+example)
	case !strings.HasPrefix(s, "/"):
		t.problem(key, fmt.Sprintf("%q is not an absolute path", s), "write an absolute path, e.g. "+key+" = "+example)
	default:
		return s, given
	}
	return "", invalid
}

func (b *builder) checkMetricsAddress(t *tableView, s string) bool {
	fix := `write metrics-address = "127.0.0.1:9465" (host:port, the host an IP address, "localhost" or empty), or "" for no metrics`
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		t.problem("metrics-address", fmt.Sprintf("%q is not host:port", s), fix)
		return false
	}
	if _, err := netip.ParseAddr(host); err != nil && host != "" && host != "localhost" {
		t.problem("metrics-address", fmt.Sprintf("host %q is not an IP address", host), fix)
		return false
	}
	if _, ok := parsePort(port); !ok {
		t.problem("metrics-address", fmt.Sprintf("port %q is not a number from 1 to 65535", port), fix)
		return false
	}
	return true
}

func parsePort(s string) (uint16, bool) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint16(n), true
}

// parseIPPort parses "ip" or "ip:port" ("[ipv6]:port"); port 0 in the
// result means none was written.
func parseIPPort(s string) (netip.Addr, uint16, string) {
	if host, port, err := net.SplitHostPort(s); err == nil {
		addr, err := netip.ParseAddr(host)
		if err != nil {
			return netip.Addr{}, 0, fmt.Sprintf("%q is not an IP address", host)
		}
		n, ok := parsePort(port)
		if !ok {
			return netip.Addr{}, 0, fmt.Sprintf("port %q is not a number from 1 to 65535", port)
		}
		return addr, n, ""
	}
	addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.Addr{}, 0, fmt.Sprintf("%q is not an IP address", s)
	}
	return addr, 0, ""
}

// unicastProblem says why addr cannot be a node's or a service's address.
func unicastProblem(addr netip.Addr) string {
	switch {
	case addr.IsUnspecified():
		return "is the unspecified address"
	case addr.IsMulticast():
		return "is a multicast address"
	case addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "is the broadcast address"
	}
	return ""
}

func (b *builder) links(root *tableView) {
	t, _ := root.table("links")
	if n, st := t.intRange("udp-port", 1, 65535); st.ok() {
		b.plan.Links.UDPPort = int(n)
		b.udpPort, b.udpPortOK = int(n), true
	}
	if n, st := t.baud("serial-baud"); st.ok() {
		b.plan.Links.SerialBaud = int(n)
	}
	b.plan.Links.UDP = true
	t.finish(childKeys("links", ""))
}

func (t *tableView) baud(key string) (int64, presence) {
	n, p := t.integer(key)
	if p == given && !slices.Contains(standardBauds, n) {
		rates := make([]string, len(standardBauds))
		for i, r := range standardBauds {
			rates[i] = strconv.FormatInt(r, 10)
		}
		t.problem(key, fmt.Sprintf("%d is not a standard serial rate", n), "write "+key+" = 115200, or one of "+strings.Join(rates, ", "))
		return 0, invalid
	}
	return n, p
}

// nodeRead is what nodes() learned about one [[node]] table.
type nodeRead struct {
	t                 *tableView
	node              Node
	nameOK            bool
	addr, addr2       netip.AddrPort
	addrOK, addr2OK   bool
	hasAddr2          bool
	hasSerial, baudOK bool
}

func (b *builder) nodes(root *tableView) {
	if !root.has("node") {
		root.markUsed("node")
		b.problemAt("node", position{1, 1}, "no [[node]] tables; a cluster has exactly two nodes",
			`add two [[node]] tables, each with name and address`, nil)
		return
	}
	tables, st := root.tables("node")
	if !st.ok() {
		return
	}
	var reads []*nodeRead
	for _, t := range tables {
		reads = append(reads, b.node(t))
	}
	switch {
	case len(tables) == 0:
		b.problem("node", "no [[node]] tables; a cluster has exactly two nodes", "add two [[node]] tables, each with name and address")
	case len(tables) == 1:
		b.problem(tables[0].path, "found 1 [[node]] table; a cluster has exactly two nodes", "add a [[node]] table for the other host")
	case len(tables) > 2:
		for _, t := range tables[2:] {
			b.problem(t.path, fmt.Sprintf("found %d [[node]] tables; a cluster has exactly two nodes", len(tables)), "remove this [[node]] table")
		}
	}
	seen := map[string]*nodeRead{}
	for _, r := range reads {
		if !r.nameOK {
			continue
		}
		if first, dup := seen[r.node.Name]; dup {
			r.t.problem("name", fmt.Sprintf("%q is already the name of %s (line %d)", r.node.Name, first.t.path, first.t.at("name").line),
				"give each node its own name, normally its hostname")
			r.nameOK = false
			continue
		}
		seen[r.node.Name] = r
		b.nodeNames = append(b.nodeNames, r.node.Name)
	}
	if len(reads) != 2 {
		return
	}
	a, c := reads[0], reads[1]
	ok := a.nameOK && c.nameOK && a.addrOK && c.addrOK
	if a.addrOK && c.addrOK {
		if a.addr == c.addr {
			c.t.problem("address", fmt.Sprintf("%q is also %s's address", c.node.Address, a.t.path), "give each node its own address on the dedicated link")
			ok = false
		} else if a.addr.Addr().Is4() != c.addr.Addr().Is4() {
			c.t.problem("address", fmt.Sprintf("%q and %s's %q are of different IP versions", c.node.Address, a.t.path, a.node.Address), "use IPv4 on both nodes or IPv6 on both")
			ok = false
		}
	}
	if a.hasAddr2 != c.hasAddr2 {
		with, without := a, c
		if c.hasAddr2 {
			with, without = c, a
		}
		b.problem(without.t.path, fmt.Sprintf("%s has address2 but this node has none", with.t.path),
			"give both nodes an address2 (a second heartbeat network needs both ends), or neither")
		ok = false
	} else if a.addr2OK && c.addr2OK {
		if a.addr2 == c.addr2 {
			c.t.problem("address2", fmt.Sprintf("%q is also %s's address2", c.node.Address2, a.t.path), "give each node its own address on the second network")
			ok = false
		} else if a.addr2.Addr().Is4() != c.addr2.Addr().Is4() {
			c.t.problem("address2", fmt.Sprintf("%q and %s's %q are of different IP versions", c.node.Address2, a.t.path, a.node.Address2), "use IPv4 on both nodes or IPv6 on both")
			ok = false
		}
	}
	if a.hasSerial != c.hasSerial {
		with, without := a, c
		if c.hasSerial {
			with, without = c, a
		}
		b.problem(without.t.path, fmt.Sprintf("%s has a serial-device but this node has none", with.t.path),
			"give both nodes a serial-device (the two ends of the null-modem cable), or neither")
		ok = false
	} else if a.hasSerial && a.baudOK && c.baudOK && a.node.SerialBaud != c.node.SerialBaud {
		c.t.problem("serial-baud", fmt.Sprintf("%d differs from %s's %d; both ends of a serial cable must use the same rate", c.node.SerialBaud, a.t.path, a.node.SerialBaud),
			fmt.Sprintf("write serial-baud = %d on both nodes", a.node.SerialBaud))
		ok = false
	}
	if ok {
		b.plan.Nodes = [2]Node{a.node, c.node}
		b.plan.Links.UDP2 = a.hasAddr2
		b.plan.Links.Serial = a.hasSerial
		b.nodesOK = true
	}
}

func (b *builder) node(t *tableView) *nodeRead {
	r := &nodeRead{t: t}
	if s, st := t.str("name"); st == given {
		if nameRE.MatchString(s) {
			r.node.Name, r.nameOK = s, true
		} else {
			t.problem("name", fmt.Sprintf("%q is not a valid node name", s), `write the host's name: letters, digits, ".", "_" and "-", starting with a letter or digit, e.g. name = "xen1"`)
		}
	}
	if s, st := t.str("address"); st == given {
		r.node.Address, r.addr, r.addrOK = b.nodeAddress(t, "address", s)
	}
	switch s, st := t.str("address2"); {
	case st == given && s != "":
		r.node.Address2, r.addr2, r.addr2OK = b.nodeAddress(t, "address2", s)
		r.hasAddr2 = true
	case st == invalid:
		r.hasAddr2 = true // reported; do not add a both-or-neither problem
	}
	dev, devSt := t.absPath("serial-device")
	r.hasSerial = devSt == invalid || devSt == given && dev != ""
	if r.hasSerial {
		r.node.SerialDevice = dev
	}
	if n, st := t.baud("serial-baud"); st == given {
		if !r.hasSerial {
			t.problem("serial-baud", "is set but the node has no serial-device", "add serial-device, or remove serial-baud")
		} else {
			r.node.SerialBaud, r.baudOK = int(n), true
		}
	} else if st == absent && r.hasSerial && b.plan.Links.SerialBaud != 0 {
		r.node.SerialBaud, r.baudOK = b.plan.Links.SerialBaud, true
	}
	if s, st := t.str("public-address"); st == given && s != "" {
		addr, err := netip.ParseAddr(s)
		switch {
		case err != nil:
			t.problem("public-address", fmt.Sprintf("%q is not an IP address", s), `write public-address = "192.0.2.1", an IP address without port`)
		case unicastProblem(addr) != "":
			t.problem("public-address", fmt.Sprintf("%q %s", s, unicastProblem(addr)), "write the node's own IP address outside the heartbeat links")
		default:
			r.node.PublicAddr = addr.String()
		}
	}
	t.finish(childKeys("node", ""))
	return r
}

// nodeAddress reads a heartbeat address and returns it as host:port.
func (b *builder) nodeAddress(t *tableView, key, s string) (string, netip.AddrPort, bool) {
	example := `"10.0.0.1"`
	if key == "address2" {
		example = `"192.168.1.1"`
	}
	fix := fmt.Sprintf("write %s = %s or %s, an IP address with an optional port (heartbeats must not depend on DNS)", key, example, strings.TrimSuffix(example, `"`)+`:694"`)
	if s == "" {
		t.problem(key, "must not be empty", fix)
		return "", netip.AddrPort{}, false
	}
	addr, port, msg := parseIPPort(s)
	if msg != "" {
		t.problem(key, msg, fix)
		return "", netip.AddrPort{}, false
	}
	if why := unicastProblem(addr); why != "" {
		t.problem(key, fmt.Sprintf("%q %s", s, why), "write the node's own address on that link")
		return "", netip.AddrPort{}, false
	}
	if port == 0 {
		if !b.udpPortOK {
			return "", netip.AddrPort{}, false
		}
		port = uint16(b.udpPort)
	}
	ap := netip.AddrPortFrom(addr, port)
	return ap.String(), ap, true
}

// described names a value for a message, saying whether it is the default.
func described(d time.Duration, st presence) string {
	if st == given {
		return strconv.Quote(formatDuration(d))
	}
	return fmt.Sprintf("the default %q", formatDuration(d))
}

func (b *builder) timing(root *tableView) {
	t, _ := root.table("timing")
	tm := &b.plan.Timing
	defer t.finish(childKeys("timing", ""))

	ka, kaSt := t.duration("keepalive")
	if kaSt == given && ka < minTick {
		t.problem("keepalive", fmt.Sprintf("%q is shorter than %s", formatDuration(ka), formatDuration(minTick)), `write keepalive = "500ms"`)
		kaSt = invalid
	}
	if !kaSt.ok() {
		t.markUsed("tick", "warntime", "deadtime", "initdead", "monitor-interval")
		return
	}
	tm.Keepalive, b.keepalive = ka, ka
	ok := true

	dead, deadSt := t.duration("deadtime")
	switch {
	case deadSt == absent:
		dead, deadSt = 6*ka, defaulted
	case deadSt == given && dead <= 2*ka:
		t.problem("deadtime", fmt.Sprintf("%q must be more than 2 x keepalive (%s)", formatDuration(dead), formatDuration(ka)),
			fmt.Sprintf("write deadtime = %q or more", formatDuration(3*ka)))
		deadSt = invalid
	}
	if deadSt.ok() {
		tm.Deadtime, b.deadtime, b.deadtimeOK = dead, dead, true
	} else {
		ok = false
	}

	warn, warnSt := t.duration("warntime")
	switch {
	case !deadSt.ok():
	case warnSt == absent:
		warn, warnSt = dead/2, defaulted
	case warnSt == given && (warn <= ka || warn >= dead):
		t.problem("warntime", fmt.Sprintf("%q must be more than keepalive (%s) and less than deadtime (%s)", formatDuration(warn), formatDuration(ka), formatDuration(dead)),
			fmt.Sprintf("write warntime = %q", formatDuration(dead/2)))
		warnSt = invalid
	}
	if warnSt.ok() {
		tm.Warntime = warn
	} else {
		ok = false
	}

	initdead, initSt := t.duration("initdead")
	switch {
	case !deadSt.ok():
	case initSt == absent:
		initdead, initSt = max(30*time.Second, 2*dead), defaulted
	case initSt == given && initdead < dead:
		t.problem("initdead", fmt.Sprintf("%q must be at least deadtime (%s)", formatDuration(initdead), formatDuration(dead)),
			fmt.Sprintf("write initdead = %q or more", formatDuration(max(30*time.Second, 2*dead))))
		initSt = invalid
	}
	if initSt.ok() {
		tm.Initdead = initdead
	} else {
		ok = false
	}

	tick, tickSt := t.duration("tick")
	switch {
	case tickSt == absent:
		tick, tickSt = min(100*time.Millisecond, ka), defaulted
	case tickSt == given && tick < minTick:
		t.problem("tick", fmt.Sprintf("%q is shorter than %s", formatDuration(tick), formatDuration(minTick)), fmt.Sprintf("write tick = %q", formatDuration(min(100*time.Millisecond, ka))))
		tickSt = invalid
	case tickSt == given && tick > ka:
		t.problem("tick", fmt.Sprintf("%q must not be more than keepalive (%s)", formatDuration(tick), formatDuration(ka)), fmt.Sprintf("write tick = %q", formatDuration(min(100*time.Millisecond, ka))))
		tickSt = invalid
	}
	if tickSt.ok() {
		tm.Tick = tick
	} else {
		ok = false
	}

	mon, monSt := t.positiveDuration("monitor-interval")
	if monSt.ok() && tickSt.ok() && mon < tick {
		t.problem("monitor-interval", fmt.Sprintf("%s is shorter than tick (%s)", described(mon, monSt), formatDuration(tick)), fmt.Sprintf("write monitor-interval = %q or more", formatDuration(tick)))
		monSt = invalid
	}
	if monSt.ok() {
		tm.MonitorInterval = mon
	} else {
		ok = false
	}

	// Rounding to ticks must keep the relations the durations have.
	if ok {
		kaT, warnT, deadT := ticks(ka, tick), ticks(warn, tick), ticks(dead, tick)
		if deadT <= 2*kaT || warnT <= kaT || warnT >= deadT {
			fix := "make keepalive, warntime and deadtime multiples of tick"
			if g := gcdDuration(gcdDuration(ka, warn), dead); g >= minTick && g < tick {
				fix = fmt.Sprintf("write tick = %q, or make keepalive, warntime and deadtime multiples of tick", formatDuration(g))
			}
			t.problem("tick", fmt.Sprintf("with tick %q, keepalive is %d ticks, warntime %d and deadtime %d: rounded up to ticks, warntime is no longer between keepalive and deadtime or deadtime no longer above 2 x keepalive",
				formatDuration(tick), kaT, warnT, deadT), fix)
			ok = false
		}
	}
	b.timingOK = ok
}

func (b *builder) failover(root *tableView) {
	t, _ := root.table("failover")
	f := &b.plan.Failover
	f.AutoFailback, _ = t.boolean("auto-failback")
	if targets, st := t.strings("ping-targets"); st.ok() {
		f.PingTargets = []string{}
		seen := map[netip.Addr]bool{}
		for i, s := range targets {
			path := indexPath(t.keyPath("ping-targets"), i)
			addr, err := netip.ParseAddr(s)
			switch {
			case err != nil:
				b.problem(path, fmt.Sprintf("%q is not an IP address", s), `write ping-targets = ["10.0.0.254"], IP addresses such as the default gateway`)
			case unicastProblem(addr) != "":
				b.problem(path, fmt.Sprintf("%q %s", s, unicastProblem(addr)), "list addresses that answer ping, such as the default gateway")
			case seen[addr]:
				b.problem(path, fmt.Sprintf("%q is listed twice", s), "list each target once")
			default:
				seen[addr] = true
				f.PingTargets = append(f.PingTargets, addr.String())
			}
		}
	}
	f.PingTimeout, _ = t.positiveDuration("ping-timeout")
	f.OnIsolation, _ = t.enum("on-isolation", "stop", "keep")
	grace, graceSt := t.duration("isolation-grace")
	b.failoverTable, b.graceGiven = t, graceSt == given
	switch {
	case graceSt == given:
		f.IsolationGrace = grace
	case graceSt == absent && b.deadtimeOK:
		f.IsolationGrace = DefaultIsolationGrace(b.plan.Timing.Keepalive, f.PingTimeout, b.deadtime)
	}
	if len(f.PingTargets) == 0 || f.OnIsolation != "stop" {
		f.IsolationGrace = 0 // nothing to wait for: no peer stops on isolation
	}
	if n, st := t.intRange("max-takeovers", 0, 1000); st.ok() {
		f.MaxTakeovers = int(n)
	}
	f.FlapWindow, _ = t.positiveDuration("flap-window")
	t.finish(childKeys("failover", ""))
}

func (b *builder) fencing(root *tableView) {
	t, _ := root.table("fencing")
	f := &b.plan.Fencing
	f.PeerFence, _ = t.boolean("peer-fence")
	f.SelfFence, _ = t.boolean("self-fence")
	if s, st := t.str("table"); st.ok() {
		if nftTableRE.MatchString(s) {
			f.Table = s
		} else {
			t.problem("table", fmt.Sprintf("%q is not a usable nftables table name", s), `write table = "xhad": a letter, then letters, digits, "_" or "-", at most 32`)
		}
	}
	if ports, st := t.integers("replication-ports"); st.ok() {
		f.ReplicationPorts = []int{}
		seen := map[int64]bool{}
		for i, port := range ports {
			path := indexPath(t.keyPath("replication-ports"), i)
			switch {
			case port < 1 || port > 65535:
				b.problem(path, fmt.Sprintf("%d is not a port", port), "write a number from 1 to 65535, e.g. replication-ports = [7788]")
			case seen[port]:
				b.problem(path, fmt.Sprintf("%d is listed twice", port), "list each port once")
			case b.udpPortOK && int(port) == b.udpPort:
				b.problem(path, fmt.Sprintf("%d is the heartbeat port (links.udp-port); the peer fence would cut the heartbeats", port),
					"list only the DRBD ports of /etc/drbd.d/*.res")
			default:
				seen[port] = true
				f.ReplicationPorts = append(f.ReplicationPorts, int(port))
			}
		}
	}
	if ifaces, st := t.strings("service-interfaces"); st.ok() {
		f.ServiceInterfaces = []string{}
		seen := map[string]bool{}
		for i, s := range ifaces {
			path := indexPath(t.keyPath("service-interfaces"), i)
			if why := interfaceNameProblem(s); why != "" {
				b.problem(path, fmt.Sprintf("%q %s", s, why), `write an interface name such as "xenbr0"`)
			} else if seen[s] {
				b.problem(path, fmt.Sprintf("%q is listed twice", s), "list each interface once")
			} else {
				seen[s] = true
				f.ServiceInterfaces = append(f.ServiceInterfaces, s)
			}
		}
	}
	if d, st := t.positiveDuration("fence-peer-timeout"); st == given && d >= maxFencePeerTimeout {
		t.problem("fence-peer-timeout", fmt.Sprintf("%q must be less than %s: DRBD freezes the resource's I/O while the handler runs", formatDuration(d), formatDuration(maxFencePeerTimeout)),
			`write fence-peer-timeout = "20s"`)
	} else {
		f.FencePeerTimeout = d
	}
	f.WatchdogDevice, _ = t.absPath("watchdog-device")
	wd, wdSt := t.duration("watchdog-timeout")
	if wdSt == absent && b.deadtimeOK {
		wd, wdSt = max(time.Second, (b.deadtime+time.Second-1)/time.Second*time.Second-time.Second), defaulted
	}
	if wdSt.ok() {
		whole := wd >= time.Second && wd%time.Second == 0
		switch {
		case wdSt == given && !whole:
			t.problem("watchdog-timeout", fmt.Sprintf("%q is not a whole number of seconds; the watchdog counts seconds", formatDuration(wd)),
				fmt.Sprintf("write watchdog-timeout = %q", formatDuration(max(time.Second, wd.Truncate(time.Second)))))
		case f.WatchdogDevice != "" && b.deadtimeOK && wd >= b.deadtime:
			key := "watchdog-timeout"
			if wdSt != given {
				key = "watchdog-device"
			}
			fix := fmt.Sprintf("write watchdog-timeout = %q or less", formatDuration((b.deadtime - time.Nanosecond).Truncate(time.Second)))
			if b.deadtime <= time.Second {
				fix = "raise timing.deadtime above 1s, or remove watchdog-device"
			}
			what := strconv.Quote(formatDuration(wd))
			if wdSt != given {
				what = fmt.Sprintf("watchdog-timeout (by default %s)", formatDuration(wd))
			}
			t.problem(key, fmt.Sprintf("%s must be shorter than deadtime (%s), so a hung node resets before its peer takes over", what, formatDuration(b.deadtime)), fix)
		default:
			f.WatchdogTimeout = wd
		}
	}
	t.finish(childKeys("fencing", ""))
}

func gcdDuration(a, b time.Duration) time.Duration {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// interfaceNameProblem says why s is not a Linux interface name.
func interfaceNameProblem(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > 15:
		return "is longer than 15 bytes"
	case s == "." || s == "..":
		return "is not an interface name"
	case strings.ContainsAny(s, "/: \t\n\r\x00"):
		return `contains "/", ":" or white space`
	}
	return ""
}

func (b *builder) tools(root *tableView) {
	t, _ := root.table("tools")
	tools := &b.plan.Tools
	for _, tool := range []struct {
		key string
		dst *string
	}{{"xl", &tools.XL}, {"drbdadm", &tools.Drbdadm}, {"vgchange", &tools.Vgchange}, {"vgs", &tools.Vgs}} {
		s, st := t.str(tool.key)
		if !st.ok() {
			continue
		}
		if s == "" || strings.ContainsAny(s, " \t\n\r\x00") || strings.Contains(s, "/") && !strings.HasPrefix(s, "/") {
			t.problem(tool.key, fmt.Sprintf("%q is neither a program name nor an absolute path", s),
				fmt.Sprintf("write %s = %q (looked up in PATH) or %s = \"/usr/sbin/%s\"", tool.key, tool.key, tool.key, tool.key))
			continue
		}
		*tool.dst = s
	}
	t.finish(childKeys("tools", ""))
}

// isolationStopBudget is what the default isolation-grace allows an isolated
// node for its immediate stop (destroy the domains, demote DRBD, deactivate
// the volume groups, drop the addresses).
const isolationStopBudget = 5 * time.Second

// DefaultIsolationGrace is the default failover.isolation-grace: an isolated
// node notices its isolation when the peer has been silent for deadtime and
// a ping round (every max(keepalive, 1s), each ping waiting ping-timeout) has
// found no target; the survivor declares the peer dead after deadtime. The
// grace covers the difference and the immediate stop.
func DefaultIsolationGrace(keepalive, pingTimeout, deadtime time.Duration) time.Duration {
	round := max(keepalive, time.Second) + pingTimeout
	return max(0, round-deadtime) + isolationStopBudget
}

// WatchdogIsolationGrace is the shortest isolation-grace with a hardware
// watchdog: an isolated node stops petting it when it notices its isolation
// (after deadtime or its ping round, whichever ends later), so a node whose
// stop hangs is reset within watchdog-timeout of that; the survivor must
// not start before (1s margin).
func WatchdogIsolationGrace(keepalive, pingTimeout, deadtime, watchdogTimeout time.Duration) time.Duration {
	round := max(keepalive, time.Second) + pingTimeout
	return watchdogTimeout + max(0, round-deadtime) + time.Second
}

// isolationWatchdog lengthens the default isolation-grace, or refuses a
// given one, so that the hardware watchdog resets an isolated node whose
// immediate stop hangs before its peer takes over.
func (b *builder) isolationWatchdog() {
	f, fe := &b.plan.Failover, b.plan.Fencing
	if f.IsolationGrace == 0 && !b.graceGiven || f.OnIsolation != "stop" || len(f.PingTargets) == 0 ||
		fe.WatchdogDevice == "" || fe.WatchdogTimeout <= 0 || !b.deadtimeOK || b.failoverTable == nil {
		return
	}
	need := WatchdogIsolationGrace(b.plan.Timing.Keepalive, f.PingTimeout, b.deadtime, fe.WatchdogTimeout)
	switch {
	case !b.graceGiven:
		f.IsolationGrace = max(f.IsolationGrace, need)
	case f.IsolationGrace < need:
		b.failoverTable.problem("isolation-grace", fmt.Sprintf("%q is too short for the hardware watchdog to reset an isolated node whose stop hangs before its peer takes over: it needs watchdog-timeout (%s) plus how much the ping round outlasts deadtime plus 1s",
			formatDuration(f.IsolationGrace), formatDuration(fe.WatchdogTimeout)),
			fmt.Sprintf("write isolation-grace = %q or more, or remove it (the default follows the watchdog)", formatDuration(need)))
	}
}
