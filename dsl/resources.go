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
	vgNameRE      = regexp.MustCompile(`^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}$`)
	unitNameRE    = regexp.MustCompile(`^[A-Za-z0-9:_.\\@-]+\.(service|socket|device|mount|automount|swap|target|path|timer|slice|scope)$`)
	ocfAgentRE    = regexp.MustCompile(`^ocf:[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+$`)
	ocfParamRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	dbHostnameRE  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?$`)
	kindNames     = []string{"drbd", "lvm", "xen", "ip", "systemd", "exec", "database"}
	resourceNames = map[Kind]string{KindDRBD: "DRBD resource", KindLVM: "volume group", KindXen: "domain", KindIP: "address", KindSystemd: "unit"}
)

// resourceRead is what the walk learned about one [[group.resource]].
type resourceRead struct {
	t         *tableView
	group     *groupRead
	index     int // in the group
	res       Resource
	nameOK    bool     // the name is valid (it may still be a duplicate)
	kindOK    bool     // the kind is valid
	specOK    bool     // the kind's own keys are valid
	ok        bool     // nothing wrong with this resource
	after     []string // as written
	afterPath string   // indexed path of the after key
	afterOK   bool     // after was written, non-empty and well typed
}

// groupRead is what the walk learned about one [[group]].
type groupRead struct {
	t         *tableView
	group     Group
	resources []*resourceRead
	ok        bool
}

func (b *builder) groups(root *tableView) {
	b.plan.Groups = []Group{}
	tables, st := root.tables("group")
	if !st.ok() {
		return
	}
	var groups []*groupRead
	byName := map[string]*groupRead{}
	resourcesByName := map[string]*resourceRead{}
	identities := map[string]*resourceRead{}
	for _, t := range tables {
		g := b.group(t)
		groups = append(groups, g)
		if g.group.Name != "" {
			if first, dup := byName[g.group.Name]; dup {
				t.problem("name", fmt.Sprintf("%q is already the name of %s (line %d)", g.group.Name, first.t.path, first.t.at("name").line), "give each group its own name")
				g.ok = false
			} else {
				byName[g.group.Name] = g
			}
		}
		for _, r := range g.resources {
			if r.nameOK {
				if first, dup := resourcesByName[r.res.Name]; dup {
					r.t.problem("name", fmt.Sprintf("%q is already the name of a resource in group %q (line %d)", r.res.Name, first.group.group.Name, first.t.at("name").line),
						"resource names must be unique across all groups; rename one")
					r.nameOK, g.ok = false, false
				} else {
					resourcesByName[r.res.Name] = r
				}
			}
			b.uniqueIdentity(r, identities)
		}
	}
	for _, g := range groups {
		b.dependencies(g, resourcesByName)
		b.stopOrder(g, resourcesByName)
		if g.ok {
			b.plan.Groups = append(b.plan.Groups, g.group)
		}
	}
}

// uniqueIdentity reports two resources that manage the same thing (the same
// domain, volume group, DRBD resource, address or unit).
func (b *builder) uniqueIdentity(r *resourceRead, seen map[string]*resourceRead) {
	if !r.specOK {
		return
	}
	var key, id string
	switch res := r.res; res.Kind {
	case KindDRBD:
		key, id = "resource", res.DRBD.Resource
	case KindLVM:
		key, id = "volume-group", res.LVM.VolumeGroup
	case KindXen:
		key, id = "domain", res.Xen.Domain
	case KindIP:
		if p, err := netip.ParsePrefix(res.IP.Address); err == nil {
			key, id = "address", p.Addr().String()
		}
	case KindSystemd:
		key, id = "unit", res.Systemd.Unit
	}
	if id == "" {
		return
	}
	k := string(r.res.Kind) + "\x00" + id
	if first, dup := seen[k]; dup {
		r.t.problem(key, fmt.Sprintf("%s %q is already managed by resource %q (line %d); two resources would fight over it", resourceNames[r.res.Kind], id, first.res.Name, first.t.at("name").line),
			"manage each "+resourceNames[r.res.Kind]+" with one resource only")
		r.group.ok = false
		return
	}
	seen[k] = r
}

func (b *builder) group(t *tableView) *groupRead {
	g := &groupRead{t: t, ok: true}
	gr := &g.group
	if s, st := t.str("name"); st == given && nameRE.MatchString(s) {
		gr.Name = s
	} else {
		if st == given {
			t.problem("name", fmt.Sprintf("%q is not a valid group name", s), `write letters, digits, ".", "_" and "-", starting with a letter or digit, e.g. name = "main"`)
		}
		g.ok = false
	}
	if s, st := t.str("preferred"); st == given && s != "" {
		switch {
		case !b.nodesOK && !slices.Contains(b.nodeNames, s):
			g.ok = false // the nodes have problems of their own
		case !slices.Contains(b.nodeNames, s):
			fix := fmt.Sprintf("write preferred = %q or %q", b.nodeNames[0], b.nodeNames[1])
			t.problem("preferred", fmt.Sprintf("%q is not a node; the nodes are %q and %q", s, b.nodeNames[0], b.nodeNames[1]), fix)
			g.ok = false
		default:
			gr.Preferred = s
		}
	} else if !st.ok() {
		g.ok = false
	}
	if n, st := t.intRange("parallel", 1, maxParallel); st == given {
		gr.Parallel = int(n)
	} else if st == absent {
		gr.Parallel = b.plan.Parallel
	} else {
		g.ok = false
	}
	var st [4]presence
	gr.StrictOrder, st[0] = t.boolean("strict-order")
	var restarts int64
	restarts, st[1] = t.intRange("max-restarts", 0, 1000)
	gr.MaxRestarts = int(restarts)
	gr.RestartWindow, st[2] = t.positiveDuration("restart-window")
	for _, s := range st[:3] {
		if s == invalid {
			g.ok = false
		}
	}
	t.markUsed("stop-order") // read once the resources are known

	resources, rst := t.tables("resource")
	switch {
	case rst == given && len(resources) == 0:
		t.problem("resource", "the group has no resources", "add [[group.resource]] tables below the group")
		g.ok = false
	case rst != given:
		g.ok = false
	}
	for i, rt := range resources {
		r := b.resource(rt, g, i)
		g.resources = append(g.resources, r)
		if !r.ok {
			g.ok = false
		}
		gr.Resources = append(gr.Resources, r.res)
	}
	t.finish(childKeys("group", ""))
	return g
}

func (b *builder) resource(t *tableView, g *groupRead, index int) *resourceRead {
	r := &resourceRead{t: t, group: g, index: index}
	res := &r.res
	if s, st := t.str("name"); st == given {
		if nameRE.MatchString(s) {
			res.Name, r.nameOK = s, true
		} else {
			t.problem("name", fmt.Sprintf("%q is not a valid resource name", s), `write letters, digits, ".", "_" and "-", starting with a letter or digit, e.g. name = "web1"`)
		}
	}
	kind, kindSt := t.str("kind")
	if kindSt == given {
		if slices.Contains(kindNames, kind) {
			res.Kind, r.kindOK = Kind(kind), true
		} else {
			fix := "write kind = " + oneOf(kindNames...)
			if c := closest(kind, kindNames); c != "" {
				fix = fmt.Sprintf("write kind = %q", c)
			}
			t.problem("kind", fmt.Sprintf("%q is not a resource kind", kind), fix)
		}
	}
	ok := true
	if after, st := t.strings("after"); st == given && len(after) > 0 {
		r.after, r.afterOK = after, true
	} else if st == invalid {
		ok = false
	}
	r.afterPath = t.keyPath("after")
	var monSt presence
	if res.Monitor, monSt = t.boolean("monitor"); monSt == invalid {
		ok = false
	}

	// Keys of other kinds are reported as such; with no usable kind they
	// are skipped silently, the kind problem says enough.
	for _, k := range sortedKeys(t.m) {
		s, ok := schemaIndex["group.resource."+k]
		if !ok || s.kind == "" || (r.kindOK && s.kind == res.Kind) {
			continue
		}
		t.markUsed(k)
		if r.kindOK {
			t.problem(k, fmt.Sprintf("is a key of kind %q, not %q", s.kind, res.Kind), fmt.Sprintf("remove it, or set kind = %q", s.kind))
			ok = false
		}
	}

	var defStart, defStop time.Duration
	for _, kt := range kindTimeouts {
		if kt.kind == res.Kind {
			defStart, defStop = kt.start, kt.stop
		}
	}
	start, startSt := t.positiveDuration("start-timeout")
	if startSt == absent {
		start = defStart
	}
	stop, stopSt := t.positiveDuration("stop-timeout")
	if stopSt == absent {
		stop = defStop
	}
	if startSt == invalid || stopSt == invalid {
		ok = false
	}
	res.StartTimeout, res.StopTimeout = start, stop

	if r.kindOK {
		switch res.Kind {
		case KindDRBD:
			r.specOK = b.drbd(t, res)
		case KindLVM:
			r.specOK = b.lvm(t, res)
		case KindXen:
			r.specOK = b.xen(t, res, stopSt)
		case KindIP:
			r.specOK = b.ip(t, res)
		case KindSystemd:
			r.specOK = b.systemd(t, res)
		case KindExec:
			r.specOK = b.exec(t, res)
		case KindDatabase:
			r.specOK = b.database(t, res)
		}
		// A kind's keys left unread on an error path are not unknown.
		for _, k := range childKeys("group.resource", res.Kind) {
			if lookupSpec("group.resource."+k).kind == res.Kind {
				t.markUsed(k)
			}
		}
	}
	r.ok = ok && r.nameOK && r.kindOK && r.specOK
	t.finish(childKeys("group.resource", res.Kind))
	return r
}

// plainName reads a name of an outside thing (a DRBD resource, a domain):
// not empty, no white space, no "/".
func (t *tableView) plainName(key, fallback, what, example string) (string, bool) {
	s, st := t.str(key)
	switch st {
	case invalid:
		return "", false
	case given:
	default:
		return fallback, true
	}
	if s == "" || len(s) > 128 || strings.ContainsAny(s, "/ \t\n\r\x00") {
		t.problem(key, fmt.Sprintf("%q is not a %s name", s, what), fmt.Sprintf("write %s = %s, without white space or \"/\"", key, example))
		return "", false
	}
	return s, true
}

func (b *builder) drbd(t *tableView, res *Resource) bool {
	name, ok := t.plainName("resource", res.Name, "DRBD resource", `"r0"`)
	res.DRBD = &DRBDSpec{Resource: name}
	return ok
}

func (b *builder) lvm(t *tableView, res *Resource) bool {
	res.LVM = &LVMSpec{}
	vg, st := t.str("volume-group")
	if st != given {
		return false
	}
	if !vgNameRE.MatchString(vg) || vg == "." || vg == ".." {
		t.problem("volume-group", fmt.Sprintf("%q is not a volume group name", vg), `write volume-group = "vg0": letters, digits, "+", "_", "." and "-", not starting with "-"`)
		return false
	}
	res.LVM.VolumeGroup = vg
	return true
}

func (b *builder) xen(t *tableView, res *Resource, stopSt presence) bool {
	spec := &XenSpec{}
	res.Xen = spec
	domain, ok := t.plainName("domain", res.Name, "domain", `"web"`)
	spec.Domain = domain
	if cfg, st := t.absPath("config"); st == given {
		spec.Config = cfg
	} else {
		ok = false
	}
	if mode, st := t.enum("mode", string(XenExclusive), string(XenBoth)); st.ok() {
		spec.Mode = XenMode(mode)
	} else {
		ok = false
	}
	shutdown, st := t.positiveDuration("shutdown-timeout")
	if !st.ok() {
		return false
	}
	spec.ShutdownTimeout = shutdown
	if stopSt == absent {
		res.StopTimeout = shutdown + xenStopMargin
	} else if stopSt == given && res.StopTimeout <= shutdown {
		t.problem("shutdown-timeout", fmt.Sprintf("%s must be less than stop-timeout (%s), or `xl destroy` never gets its turn", described(shutdown, st), formatDuration(res.StopTimeout)),
			fmt.Sprintf("write stop-timeout = %q, or a shorter shutdown-timeout", formatDuration(shutdown+xenStopMargin)))
		ok = false
	}
	return ok
}

func (b *builder) ip(t *tableView, res *Resource) bool {
	spec := &IPSpec{}
	res.IP = spec
	ok := true
	if s, st := t.str("address"); st == given {
		prefix, err := netip.ParsePrefix(s)
		switch {
		case err == nil && unicastProblem(prefix.Addr()) != "":
			t.problem("address", fmt.Sprintf("%q %s", s, unicastProblem(prefix.Addr())), `write the service address, e.g. address = "192.0.2.10/24"`)
			ok = false
		case err == nil:
			spec.Address = prefix.String()
		default:
			if addr, err := netip.ParseAddr(s); err == nil {
				bits := 24
				if addr.Is6() {
					bits = 64
				}
				t.problem("address", fmt.Sprintf("%q has no prefix length", s), fmt.Sprintf("write address = \"%s/%d\", with the prefix length of the network", s, bits))
			} else {
				t.problem("address", fmt.Sprintf("%q is not an IP address with prefix length", s), `write address = "192.0.2.10/24"`)
			}
			ok = false
		}
	} else {
		ok = false
	}
	if s, st := t.str("interface"); st == given {
		if why := interfaceNameProblem(s); why != "" {
			t.problem("interface", fmt.Sprintf("%q %s", s, why), `write interface = "xenbr0", the device the address goes on`)
			ok = false
		} else {
			spec.Interface = s
		}
	} else {
		ok = false
	}
	if lifetime, st := t.duration("lifetime"); st.ok() {
		need := 3 * b.keepalive
		switch {
		case lifetime == 0:
		case lifetime%time.Second != 0:
			t.problem("lifetime", fmt.Sprintf("%q is not a whole number of seconds; the kernel counts address lifetimes in seconds", formatDuration(lifetime)),
				fmt.Sprintf("write lifetime = %q", formatDuration(max(lifetime.Truncate(time.Second)+time.Second, roundUpSeconds(need)))))
			ok = false
		case b.keepalive > 0 && lifetime < need:
			t.problem("lifetime", fmt.Sprintf("%q must be at least 3 x keepalive (%s), or the address expires between refreshes", formatDuration(lifetime), formatDuration(need)),
				fmt.Sprintf("write lifetime = %q or more, or \"0s\" for a permanent address", formatDuration(roundUpSeconds(need))))
			ok = false
		}
		spec.Lifetime = lifetime
	} else {
		ok = false
	}
	if n, st := t.intRange("arp-count", 0, 100); st.ok() {
		spec.ARPCount = int(n)
	} else {
		ok = false
	}
	return ok
}

func roundUpSeconds(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}

func (b *builder) systemd(t *tableView, res *Resource) bool {
	res.Systemd = &SystemdSpec{}
	unit, st := t.str("unit")
	if st != given {
		return false
	}
	if !unitNameRE.MatchString(unit) {
		fix := `write the full unit name with its suffix, e.g. unit = "nginx.service"`
		if unit != "" && !strings.Contains(unit, ".") && !strings.ContainsAny(unit, "/ \t") {
			fix = fmt.Sprintf("write unit = %q", unit+".service")
		}
		t.problem("unit", fmt.Sprintf("%q is not a systemd unit name", unit), fix)
		return false
	}
	res.Systemd.Unit = unit
	return true
}

func (b *builder) exec(t *tableView, res *Resource) bool {
	spec := &ExecSpec{}
	res.Exec = spec
	script, scriptSt := t.absPath("script")
	agent, agentSt := t.str("agent")
	hasScript, hasAgent := t.has("script"), t.has("agent")
	switch {
	case hasScript && hasAgent:
		t.problem("agent", "both script and agent are set; a resource runs one of them", "remove script or agent")
		return false
	case !hasScript && !hasAgent:
		t.problem("script", "neither script nor agent is set", `write script = "/etc/xhad/scripts/NAME" or agent = "ocf:heartbeat:TYPE"`)
		return false
	case hasScript:
		t.markUsed("ocf-root", "params")
		if t.has("ocf-root") || t.has("params") {
			key := "ocf-root"
			if !t.has(key) {
				key = "params"
			}
			t.problem(key, "applies to OCF agents only, and this resource runs a script", "remove it, or use agent instead of script")
			return false
		}
		if scriptSt != given || script == "" {
			if scriptSt == given {
				t.problem("script", "must not be empty", `write script = "/etc/xhad/scripts/NAME"`)
			}
			return false
		}
		spec.Script = script
		return true
	}
	ok := agentSt == given
	if ok && !ocfAgentRE.MatchString(agent) {
		t.problem("agent", fmt.Sprintf("%q is not an OCF agent name", agent), `write agent = "ocf:PROVIDER:TYPE", e.g. "ocf:heartbeat:IPaddr2"`)
		ok = false
	}
	spec.Agent = agent
	root, rootSt := t.absPath("ocf-root")
	ok = ok && rootSt.ok()
	spec.OCFRoot = root
	params, pst := t.stringMap("params")
	if pst == invalid {
		ok = false
	}
	for _, k := range sortedKeys(params) {
		if !ocfParamRE.MatchString(k) {
			b.problem(childPath(t.keyPath("params"), k), fmt.Sprintf("%q is not an OCF parameter name", k), "use letters, digits and \"_\", starting with a letter or \"_\"")
			ok = false
		}
	}
	if len(params) > 0 {
		spec.Params = params
	}
	return ok
}

func (b *builder) database(t *tableView, res *Resource) bool {
	spec := &DatabaseSpec{}
	res.Database = spec
	ok := true
	engine, st := t.str("engine")
	switch {
	case st != given:
		ok = false
	case engine == string(EngineMariaDB) || engine == string(EnginePostgreSQL):
		spec.Engine = Engine(engine)
	default:
		fix := `write engine = "mariadb" or "postgresql"`
		switch c := closest(engine, []string{"mariadb", "postgresql", "mysql", "postgres"}); c {
		case "mysql", "mariadb":
			fix = `write engine = "mariadb" (it covers MySQL too)`
		case "postgres", "postgresql":
			fix = `write engine = "postgresql"`
		}
		t.problem("engine", fmt.Sprintf("%q is not a database engine", engine), fix)
		ok = false
	}
	defaultPort := uint16(3306)
	if spec.Engine == EnginePostgreSQL {
		defaultPort = 5432
	}
	if addrs, st := t.stringMap("addresses"); st == given {
		spec.Addresses = map[string]string{}
		path := t.keyPath("addresses")
		for _, name := range sortedKeys(addrs) {
			if !slices.Contains(b.nodeNames, name) {
				if b.nodesOK {
					b.problem(childPath(path, name), fmt.Sprintf("%q is not a node; the nodes are %q and %q", name, b.nodeNames[0], b.nodeNames[1]), "give one address per node, keyed by the node's name")
				}
				ok = false
				continue
			}
			hostPort, why := databaseAddress(addrs[name], defaultPort)
			if why != "" {
				b.problem(childPath(path, name), why, fmt.Sprintf("write %s = \"10.0.1.11:%d\", the database server of that node", tomlKey(name), defaultPort))
				ok = false
				continue
			}
			spec.Addresses[name] = hostPort
		}
		if b.nodesOK {
			for _, name := range b.nodeNames {
				if _, has := addrs[name]; !has {
					t.problem("addresses", fmt.Sprintf("no address for node %q; the gate must reach the database of both nodes", name),
						fmt.Sprintf("add %s = \"HOST:%d\" to addresses", tomlKey(name), defaultPort))
					ok = false
				}
			}
		}
	} else {
		ok = false
	}
	if s, st := t.str("database"); st == given {
		if strings.ContainsAny(s, "\x00\n\r") {
			t.problem("database", fmt.Sprintf("%q is not a database name", s), `write database = "postgres"`)
			ok = false
		}
		spec.Database = s
	} else if st == invalid {
		ok = false
	} else if spec.Engine == EnginePostgreSQL {
		spec.Database = pgDefaultDatabase
	}
	if s, st := t.absPath("credentials-file"); st == given {
		spec.CredentialsFile = s
		b.files = append(b.files, fileCheck{keyPath: t.keyPath("credentials-file"), path: s, minBytes: 1, what: "credentials file"})
	} else {
		ok = false
	}

	// Lag limits: each belongs to one engine.
	onlyFor := func(key string, e Engine) bool {
		if t.has(key) && spec.Engine != "" && spec.Engine != e {
			t.markUsed(key)
			t.problem(key, fmt.Sprintf("applies to engine %q only", e), "remove it")
			return false
		}
		return true
	}
	if onlyFor("max-lag-bytes", EnginePostgreSQL) {
		n, st := t.intRange("max-lag-bytes", 0, 1<<62)
		switch {
		case st == given:
			spec.MaxLagBytes = n
		case st == invalid:
			ok = false
		case spec.Engine == EnginePostgreSQL:
			spec.MaxLagBytes = pgDefaultMaxLagBytes
		}
	} else {
		ok = false
	}
	if onlyFor("max-lag-seconds", EngineMariaDB) {
		d, st := t.duration("max-lag-seconds")
		switch {
		case st == given && d%time.Second != 0:
			t.problem("max-lag-seconds", fmt.Sprintf("%q is not a whole number of seconds; MariaDB reports lag in seconds", formatDuration(d)), fmt.Sprintf("write max-lag-seconds = %q", formatDuration(roundUpSeconds(d))))
			ok = false
		case st == given:
			spec.MaxLagSeconds = d
		case st == invalid:
			ok = false
		case spec.Engine == EngineMariaDB:
			spec.MaxLagSeconds = mariadbDefaultMaxLagDelay
		}
	} else {
		ok = false
	}
	if onlyFor("max-lag-transactions", EngineMariaDB) {
		n, st := t.intRange("max-lag-transactions", 0, 1<<62)
		switch {
		case st == given:
			spec.MaxLagTrx = n
		case st == invalid:
			ok = false
		case spec.Engine == EngineMariaDB:
			spec.MaxLagTrx = mariadbDefaultMaxLagTrx
		}
	} else {
		ok = false
	}
	catchup, cst := t.positiveDuration("catchup-timeout")
	connect, nst := t.positiveDuration("connect-timeout")
	spec.CatchupTimeout, spec.ConnectTimeout = catchup, connect
	if !cst.ok() || !nst.ok() {
		return false
	}
	if catchup+connect >= res.StartTimeout {
		key := "catchup-timeout"
		if cst != given && nst == given {
			key = "connect-timeout"
		}
		t.problem(key, fmt.Sprintf("catchup-timeout (%s) plus connect-timeout (%s) must be less than start-timeout (%s)", formatDuration(catchup), formatDuration(connect), formatDuration(res.StartTimeout)),
			fmt.Sprintf("write start-timeout = %q, or shorter timeouts", formatDuration(roundUpSeconds(catchup+connect+30*time.Second))))
		ok = false
	}
	return ok
}

// databaseAddress checks "host" or "host:port" and returns host:port.
func databaseAddress(s string, defaultPort uint16) (string, string) {
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	n := defaultPort
	if port != "" {
		var ok bool
		if n, ok = parsePort(port); !ok {
			return "", fmt.Sprintf("port %q is not a number from 1 to 65535", port)
		}
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if why := unicastProblem(addr); why != "" {
			return "", fmt.Sprintf("%q %s", host, why)
		}
		return netip.AddrPortFrom(addr, n).String(), ""
	}
	if !dbHostnameRE.MatchString(host) {
		return "", fmt.Sprintf("%q is neither an IP address nor a host name", host)
	}
	return net.JoinHostPort(host, strconv.Itoa(int(n))), ""
}

// dependencies resolves every resource's After: the explicit list, checked,
// or the previous stage of consecutive resources of one kind.
func (b *builder) dependencies(g *groupRead, all map[string]*resourceRead) {
	index := map[string]int{}
	for i, r := range g.resources {
		if r.nameOK {
			if _, dup := index[r.res.Name]; !dup {
				index[r.res.Name] = i
			}
		}
	}
	stage := make([]int, len(g.resources))
	for i := 1; i < len(g.resources); i++ {
		stage[i] = stage[i-1]
		if g.group.StrictOrder || g.resources[i].res.Kind != g.resources[i-1].res.Kind {
			stage[i]++
		}
	}
	for i, r := range g.resources {
		after := []string{}
		if !r.afterOK {
			for j := range i {
				if stage[j] == stage[i]-1 {
					after = append(after, g.resources[j].res.Name)
				}
			}
		} else {
			seen := map[string]bool{}
			for k, name := range r.after {
				path := indexPath(r.afterPath, k)
				j, inGroup := index[name]
				switch {
				case name == r.res.Name:
					b.problem(path, fmt.Sprintf("%q is this resource; it cannot start after itself", name), "remove it")
				case seen[name]:
					b.problem(path, fmt.Sprintf("%q is listed twice", name), "list it once")
				case inGroup && j > i:
					b.problem(path, fmt.Sprintf("%q is declared later in the group (line %d); a resource may only start after resources above it", name, g.resources[j].t.at("name").line),
						fmt.Sprintf("move this resource below %q, or remove %q from after", name, name))
				case inGroup:
					seen[name] = true
					after = append(after, name)
					continue
				case all[name] != nil:
					b.problem(path, fmt.Sprintf("%q is in group %q; after names resources of the same group only", name, all[name].group.group.Name),
						"remove it; groups fail over independently")
				default:
					var earlier []string
					for _, e := range g.resources[:i] {
						earlier = append(earlier, e.res.Name)
					}
					fix := "name a resource declared above this one in the group"
					if c := closest(name, earlier); c != "" {
						fix = fmt.Sprintf("did you mean %q?", c)
					}
					b.problem(path, fmt.Sprintf("no resource %q in group %q", name, g.group.Name), fix)
				}
				g.ok = false
			}
		}
		r.res.After = after
		g.group.Resources[i].After = after
	}
	// A domain that runs on both nodes cannot wait for something that runs
	// on the active node only.
	for _, r := range g.resources {
		if !r.specOK || r.res.Exclusive() {
			continue
		}
		for _, name := range r.res.After {
			j, found := index[name]
			if !found {
				continue
			}
			if d := g.resources[j]; d.kindOK && d.res.Exclusive() {
				r.t.problem("mode", fmt.Sprintf(`a domain in mode "both" runs on both nodes, but it starts after %q (%s), which runs on the active node only`, name, d.res.Kind),
					`move it above the exclusive resources of the group, or list only mode "both" domains in its after`)
				g.ok = false
				break
			}
		}
	}
}

// stopOrder sets the group's stop order: the reverse start order, or the
// explicit stop-order, which must list every resource once and stop each
// resource before the resources it starts after.
func (b *builder) stopOrder(g *groupRead, all map[string]*resourceRead) {
	gr := &g.group
	if !g.t.has("stop-order") {
		gr.StopOrder = make([]string, 0, len(gr.Resources))
		for i := len(gr.Resources) - 1; i >= 0; i-- {
			gr.StopOrder = append(gr.StopOrder, gr.Resources[i].Name)
		}
		return
	}
	order, st := g.t.strings("stop-order")
	if st != given {
		g.ok = false
		return
	}
	gr.ExplicitStopOrder = true
	gr.StopOrder = order
	path := g.t.keyPath("stop-order")
	inGroup := map[string]bool{}
	var names []string
	for _, r := range g.resources {
		inGroup[r.res.Name] = true
		names = append(names, r.res.Name)
	}
	pos := map[string]int{}
	for k, name := range order {
		p := indexPath(path, k)
		switch _, dup := pos[name]; {
		case dup:
			b.problem(p, fmt.Sprintf("%q is listed twice", name), "list every resource of the group once")
		case inGroup[name]:
			pos[name] = k
			continue
		case all[name] != nil:
			b.problem(p, fmt.Sprintf("%q is in group %q", name, all[name].group.group.Name), "list the resources of this group only")
		default:
			fix := "list the resources of this group only"
			if c := closest(name, names); c != "" {
				fix = fmt.Sprintf("did you mean %q?", c)
			}
			b.problem(p, fmt.Sprintf("no resource %q in group %q", name, gr.Name), fix)
		}
		g.ok = false
	}
	var missing []string
	for _, n := range names {
		if _, ok := pos[n]; !ok && n != "" {
			missing = append(missing, strconv.Quote(n))
		}
	}
	if len(missing) > 0 {
		b.problem(path, "is not a permutation of the group's resources: it lacks "+strings.Join(missing, ", "), "list every resource of the group once, or remove stop-order to stop in reverse start order")
		g.ok = false
	}
	if !g.ok {
		return
	}
	for _, r := range gr.Resources {
		for _, dep := range r.After {
			if pos[dep] < pos[r.Name] {
				b.problem(indexPath(path, pos[dep]), fmt.Sprintf("%q stops before %q, which starts after it", dep, r.Name),
					fmt.Sprintf("move %q before %q", r.Name, dep))
				g.ok = false
			}
		}
	}
}
