package sim

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// InitOptions describes a new simulated pair.
type InitOptions struct {
	// Nodes are the two node names (XHAD_SIM_NODE values, DRBD host names).
	Nodes [2]string
	// Addresses are the nodes' replication addresses, only used in the
	// fence-peer handler's environment; default 10.0.0.1 and 10.0.0.2.
	Addresses [2]string
	// DRBD lists the resources; each starts up, Secondary, UpToDate and
	// Connected on both nodes.
	DRBD []DRBDResource
	// Fencing is the default fencing policy: dont-care (the default),
	// resource-only or resource-and-stonith.
	Fencing string
	// Handler is the default fence-peer handler command line.
	Handler string
	// Dom0MemoryMB and Dom0VCPUs describe Domain-0 (default 2048 and 2).
	Dom0MemoryMB int
	Dom0VCPUs    int
}

// DRBDResource is one DRBD resource (one volume, number 0).
type DRBDResource struct {
	Name  string
	Minor int
	Disk  string // backing device, e.g. /dev/vg0/r0
	Port  int
	// Fencing and Handler override InitOptions' defaults when not empty.
	Fencing string
	Handler string
}

var validFencing = []string{fencingDontCare, fencingResourceOnly, fencingStonith}

func validName(s string) bool {
	return s != "" && s != "-" && !strings.ContainsAny(s, " \t\n/=\"'\\:,") && s != "all"
}

// Init creates the state directory of a new simulated pair. It fails when dir
// already holds one.
func Init(dir string, opts InitOptions) error {
	s := &sim{dir: dir, clock: realClock{}}
	return s.init(opts)
}

// Ctl runs one `xhad sim ctl` subcommand in process; its error carries what
// the subcommand printed on stderr. The output of the querying subcommands
// (journal, proc-drbd, dump) is dropped: use Exec(dir, "", "ctl", ...).
func Ctl(dir string, args ...string) error {
	_, stderr, code := Exec(dir, "", "ctl", args...)
	if code != 0 {
		return fmt.Errorf("xhad sim ctl %s: exit code %d: %s", strings.Join(args, " "), code, strings.TrimSpace(stderr))
	}
	return nil
}

func (s *sim) init(opts InitOptions) error {
	if opts.Nodes[0] == opts.Nodes[1] || !validName(opts.Nodes[0]) || !validName(opts.Nodes[1]) {
		return fmt.Errorf("init: need two different node names without spaces, '/', ':' or ',', got %q and %q", opts.Nodes[0], opts.Nodes[1])
	}
	if opts.Addresses[0] == "" && opts.Addresses[1] == "" {
		opts.Addresses = [2]string{"10.0.0.1", "10.0.0.2"}
	}
	for _, a := range opts.Addresses {
		if _, err := netip.ParseAddr(a); err != nil {
			return fmt.Errorf("init: replication address %q: %w", a, err)
		}
	}
	if opts.Fencing == "" {
		opts.Fencing = fencingDontCare
	}
	if !slices.Contains(validFencing, opts.Fencing) {
		return fmt.Errorf("init: fencing %q: want one of %s", opts.Fencing, strings.Join(validFencing, ", "))
	}
	if opts.Dom0MemoryMB <= 0 {
		opts.Dom0MemoryMB = 2048
	}
	if opts.Dom0VCPUs <= 0 {
		opts.Dom0VCPUs = 2
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("init: create state directory: %w", err)
	}
	lock, err := lockDir(s.dir)
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	defer lock.Close()
	if _, err := os.Stat(filepath.Join(s.dir, stateFile)); err == nil {
		return fmt.Errorf("init: %s already holds a simulated pair; use a new directory", s.dir)
	}
	now := s.clock.Now()
	st := &State{Version: stateVersion, Nodes: opts.Nodes, Addresses: opts.Addresses, Settings: defaultSettings(), Hosts: map[string]*Host{}}
	for _, node := range st.Nodes {
		st.Hosts[node] = &Host{BootedAt: now, Dom0MemoryMB: opts.Dom0MemoryMB, Dom0VCPUs: opts.Dom0VCPUs, NextDomID: 1}
	}
	t := &txn{dir: s.dir, st: st, now: now}
	t.journal("", kindInit, "nodes", st.Nodes[0]+","+st.Nodes[1])
	for _, spec := range opts.DRBD {
		if spec.Fencing == "" {
			spec.Fencing = opts.Fencing
		}
		if spec.Handler == "" {
			spec.Handler = opts.Handler
		}
		if err := t.addResource(spec); err != nil {
			return fmt.Errorf("init: %w", err)
		}
	}
	if err := writeDRBDConf(s.dir, st); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if err := s.commit(t); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	return nil
}

// addResource configures a new DRBD resource, up and connected where the
// hosts are up.
func (t *txn) addResource(spec DRBDResource) error {
	if !validName(spec.Name) {
		return fmt.Errorf("drbd resource name %q is not usable", spec.Name)
	}
	if !slices.Contains(validFencing, spec.Fencing) {
		return fmt.Errorf("drbd resource %s: fencing %q: want one of %s", spec.Name, spec.Fencing, strings.Join(validFencing, ", "))
	}
	for _, r := range t.st.Resources {
		switch {
		case r.Name == spec.Name:
			return fmt.Errorf("drbd resource %s is already configured", spec.Name)
		case r.Minor == spec.Minor:
			return fmt.Errorf("drbd resource %s: minor %d is already used by %s", spec.Name, spec.Minor, r.Name)
		}
	}
	r := &Resource{Name: spec.Name, Minor: spec.Minor, Disk: spec.Disk, Port: spec.Port, Fencing: spec.Fencing,
		Handler: spec.Handler, Nodes: map[string]*ResNode{}}
	for _, node := range t.st.Nodes {
		r.Nodes[node] = &ResNode{Role: roleSecondary, Disk: diskUpToDate, PeerDisk: diskDUnknown}
	}
	t.st.Resources = append(t.st.Resources, r)
	t.journal("", kindAddDRBD, "res", r.Name, "minor", strconv.Itoa(r.Minor), "disk", r.Disk,
		"port", strconv.Itoa(r.Port), "fencing", r.Fencing, "handler", r.Handler)
	for _, node := range t.st.Nodes {
		if !t.st.Hosts[node].Down {
			t.bringUp(node, r, "configured")
		}
	}
	return nil
}

// writeDRBDConf writes DIR/drbd.conf, a DRBD 9 configuration equivalent to
// the simulated resources (DRBD_CONF of the fence-peer handler points at it).
func writeDRBDConf(dir string, st *State) error {
	var b strings.Builder
	b.WriteString("# Written by the xhad simulator: the DRBD resources of this simulated pair.\n")
	for _, r := range st.Resources {
		fmt.Fprintf(&b, "resource %s {\n", r.Name)
		fmt.Fprintf(&b, "  net { protocol C; fencing %s; }\n", r.Fencing)
		if r.Handler != "" {
			fmt.Fprintf(&b, "  handlers { fence-peer %q; }\n", r.Handler)
		}
		for i, node := range st.Nodes {
			fmt.Fprintf(&b, "  on %s { node-id %d; device %s; disk %s; address %s; meta-disk internal; }\n",
				node, i, r.device(), r.Disk, netip.AddrPortFrom(netip.MustParseAddr(st.Addresses[i]), uint16(r.Port)))
		}
		b.WriteString("}\n")
	}
	return writeFileAtomic(filepath.Join(dir, drbdConfFile), []byte(b.String()))
}

// usageError is a ctl command line that does not parse (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

const ctlUsage = `usage: xhad sim ctl SUBCOMMAND ARGS
  init --nodes A,B [--drbd NAME:MINOR:DISK:PORT ...] [--fencing POLICY] [--handler CMD]
       [--addresses IP,IP] [--dom0-memory MB] [--dom0-vcpus N]
  add-drbd NAME:MINOR:DISK:PORT [--fencing POLICY] [--handler CMD]
  add-vg VG DRBD-RESOURCE LV[,LV...]     a volume group on a DRBD resource (vgchange, vgs)
  set create-delay|shutdown-delay|destroy-delay|resync-time|shutdown-wait|handler-timeout DURATION
  set resync-kb KB
  disconnect RES | connect RES          cut or heal the DRBD replication link
  disk RES NODE UpToDate|Consistent|Outdated|Inconsistent|Diskless
  domain NODE DOM ignore-shutdown|no-pv|undestroyable|crash|normal
  host-crash NODE | host-boot NODE
  journal | check [--both DOM,...] | proc-drbd NODE | dump
`

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// parseInterspersed parses flags placed before, between or after operands.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, &usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			return operands, nil
		}
		operands = append(operands, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(new(bytes.Buffer))
	return fs
}

// ctl runs one test-control subcommand.
func (c *call) ctl(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, ctlUsage)
		return exitSimError
	}
	sub, rest := args[0], args[1:]
	var err error
	switch sub {
	case "init":
		err = c.ctlInit(rest)
	case "add-vg":
		err = c.ctlAddVG(rest)
	case "add-drbd":
		err = c.ctlAddDRBD(rest)
	case "set":
		err = c.ctlSet(rest)
	case "disconnect", "connect":
		err = c.ctlLink(sub, rest)
	case "disk":
		err = c.ctlDisk(rest)
	case "domain":
		err = c.ctlDomain(rest)
	case "host-crash":
		err = c.ctlHostCrash(rest)
	case "host-boot":
		err = c.ctlHostBoot(rest)
	case "journal":
		err = c.ctlJournal(rest)
	case "check":
		err = c.ctlCheck(rest)
	case "proc-drbd":
		err = c.ctlProcDRBD(rest)
	case "dump":
		err = c.ctlDump(rest)
	case "help", "-h", "--help":
		fmt.Fprint(c.stdout, ctlUsage)
		return 0
	default:
		err = usagef("unknown subcommand %q", sub)
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(c.stderr, "xhad sim ctl %s: %v\n", sub, err)
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprint(c.stderr, ctlUsage)
		return exitSimError
	}
	return 1
}

func (c *call) ctlInit(args []string) error {
	fs := newFlagSet("init")
	nodes := fs.String("nodes", "", "")
	var drbd multiFlag
	fs.Var(&drbd, "drbd", "")
	fencing := fs.String("fencing", "", "")
	handler := fs.String("handler", "", "")
	addresses := fs.String("addresses", "", "")
	dom0Memory := fs.Int("dom0-memory", 0, "")
	dom0VCPUs := fs.Int("dom0-vcpus", 0, "")
	operands, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(operands) > 0 {
		return usagef("unexpected argument %q", operands[0])
	}
	a, b, ok := strings.Cut(*nodes, ",")
	if !ok || strings.Contains(b, ",") {
		return usagef("--nodes wants two names: A,B")
	}
	opts := InitOptions{Nodes: [2]string{a, b}, Fencing: *fencing, Handler: *handler, Dom0MemoryMB: *dom0Memory, Dom0VCPUs: *dom0VCPUs}
	if *addresses != "" {
		x, y, ok := strings.Cut(*addresses, ",")
		if !ok {
			return usagef("--addresses wants two addresses: IP,IP")
		}
		opts.Addresses = [2]string{x, y}
	}
	for _, spec := range drbd {
		r, err := parseDRBDSpec(spec)
		if err != nil {
			return &usageError{err.Error()}
		}
		opts.DRBD = append(opts.DRBD, r)
	}
	return c.init(opts)
}

func (c *call) ctlAddDRBD(args []string) error {
	fs := newFlagSet("add-drbd")
	fencing := fs.String("fencing", "", "")
	handler := fs.String("handler", "", "")
	operands, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(operands) != 1 {
		return usagef("want one NAME:MINOR:DISK:PORT")
	}
	spec, err := parseDRBDSpec(operands[0])
	if err != nil {
		return &usageError{err.Error()}
	}
	spec.Fencing, spec.Handler = *fencing, *handler
	var jobs []fenceJob
	err = c.transact(func(t *txn) error {
		if spec.Fencing == "" {
			spec.Fencing = fencingDontCare
		}
		if err := t.addResource(spec); err != nil {
			return err
		}
		jobs = t.fences
		return writeDRBDConf(c.dir, t.st)
	})
	if err != nil {
		return err
	}
	return c.runConnectionLossFences(jobs)
}

func (c *call) ctlSet(args []string) error {
	if len(args) != 2 {
		return usagef("want KEY VALUE")
	}
	key, value := args[0], args[1]
	return c.transact(func(t *txn) error {
		s := &t.st.Settings
		durations := map[string]*Duration{
			"create-delay": &s.CreateDelay, "shutdown-delay": &s.ShutdownDelay, "destroy-delay": &s.DestroyDelay,
			"resync-time": &s.ResyncTime, "shutdown-wait": &s.ShutdownWait, "handler-timeout": &s.HandlerTimeout,
		}
		if into, ok := durations[key]; ok {
			d, err := time.ParseDuration(value)
			if err != nil || d < 0 {
				return usagef("%s wants a duration like 50ms or 2s, got %q", key, value)
			}
			*into = Duration(d)
		} else if key == "resync-kb" {
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n <= 0 {
				return usagef("resync-kb wants a positive number of KiB, got %q", value)
			}
			s.ResyncKB = n
		} else {
			return usagef("unknown setting %q", key)
		}
		t.journal("", kindSet, "key", key, "value", value)
		return nil
	})
}

func (c *call) ctlLink(sub string, args []string) error {
	if len(args) != 1 {
		return usagef("want RES")
	}
	var jobs []fenceJob
	err := c.transact(func(t *txn) error {
		r := t.st.resource(args[0])
		if r == nil {
			return fmt.Errorf("no DRBD resource %q", args[0])
		}
		if sub == "disconnect" {
			if !r.LinkCut {
				r.LinkCut = true
				t.journal("", kindLinkCut, "res", r.Name)
			}
		} else if r.LinkCut {
			r.LinkCut = false
			t.journal("", kindLinkHealed, "res", r.Name)
		}
		t.updateConnection(r, lossCause{by: "-", why: "link cut"})
		jobs = t.fences
		return nil
	})
	if err != nil {
		return err
	}
	return c.runConnectionLossFences(jobs)
}

var ctlDiskStates = []string{diskUpToDate, diskConsistent, diskOutdated, diskInconsistent, diskDiskless}

func (c *call) ctlDisk(args []string) error {
	if len(args) != 3 {
		return usagef("want RES NODE STATE")
	}
	res, node, disk := args[0], args[1], args[2]
	if !slices.Contains(ctlDiskStates, disk) {
		return usagef("disk state %q: want one of %s", disk, strings.Join(ctlDiskStates, ", "))
	}
	return c.transact(func(t *txn) error {
		r := t.st.resource(res)
		if r == nil {
			return fmt.Errorf("no DRBD resource %q", res)
		}
		if !t.st.hasNode(node) {
			return fmt.Errorf("no node %q", node)
		}
		if r.Sync != nil && (r.Sync.Target == node || r.Sync.Source == node) {
			t.journal("", kindSyncAborted, "res", r.Name, "source", r.Sync.Source, "target", r.Sync.Target)
			r.Sync = nil
		}
		t.setDisk(node, r, disk, "ctl disk")
		// The peer did not see this out-of-band change: whatever it knew
		// of this disk while disconnected is no longer known.
		if !r.Connected {
			r.Nodes[t.st.peerOf(node)].PeerDisk = diskDUnknown
		}
		return nil
	})
}

// applyMode sets a `ctl domain` mode on a domain.
func (d *Domain) applyMode(mode string) {
	switch mode {
	case "ignore-shutdown":
		d.IgnoreShutdown = true
	case "no-pv":
		d.NoPV = true
	case "undestroyable":
		d.Undestroyable = true
	case "normal":
		d.IgnoreShutdown, d.NoPV, d.Undestroyable = false, false, false
	}
}

func (h *Host) pendingMode(name string) string {
	mode := h.PendingModes[name]
	delete(h.PendingModes, name)
	return mode
}

func (c *call) ctlDomain(args []string) error {
	if len(args) != 3 {
		return usagef("want NODE DOM MODE")
	}
	node, name, mode := args[0], args[1], args[2]
	if !slices.Contains([]string{"ignore-shutdown", "no-pv", "undestroyable", "crash", "normal"}, mode) {
		return usagef("domain mode %q: want ignore-shutdown, no-pv, undestroyable, crash or normal", mode)
	}
	return c.transact(func(t *txn) error {
		if !t.st.hasNode(node) {
			return fmt.Errorf("no node %q", node)
		}
		h := t.st.Hosts[node]
		d := h.domainByName(name)
		if id, err := strconv.Atoi(name); err == nil && d == nil {
			d = h.domainByID(id)
		}
		if d == nil {
			if mode == "crash" {
				return fmt.Errorf("no domain %q on %s", name, node)
			}
			if h.PendingModes == nil {
				h.PendingModes = map[string]string{}
			}
			h.PendingModes[name] = mode
			t.journal(node, kindDomainMode, "dom", name, "mode", mode, "pending", "yes")
			return nil
		}
		if mode != "crash" {
			d.applyMode(mode)
			t.journal(node, kindDomainMode, "dom", d.Name, "id", strconv.Itoa(d.ID), "mode", mode)
			return nil
		}
		t.crashDomain(node, d)
		return nil
	})
}

// crashDomain is a guest crash handled by xl's monitor per on_crash.
func (t *txn) crashDomain(node string, d *Domain) {
	t.journal(node, kindDomainCrash, "dom", d.Name, "id", strconv.Itoa(d.ID), "on_crash", d.OnCrash)
	switch d.OnCrash {
	case "preserve", "coredump-restart":
		d.CPUSeconds = d.cpuSeconds(t.now)
		d.RunningSince = time.Time{}
		d.Crashed = true
		t.dirty = true
	case "restart", "rename-restart":
		t.removeDomain(node, d, "crash")
		h := t.st.Hosts[node]
		again := *d
		again.ID, again.CreatedAt, again.RunningSince, again.CPUSeconds = h.NextDomID, t.now, t.now, 0
		again.ShutdownDoneAt = time.Time{}
		h.NextDomID++
		h.Domains = append(h.Domains, &again)
		t.journal(node, kindDomainStart, "dom", again.Name, "id", strconv.Itoa(again.ID), "cfg", again.ConfigPath, "why", "on_crash restart")
	default:
		t.removeDomain(node, d, "crash")
	}
}

func (c *call) ctlHostCrash(args []string) error {
	if len(args) != 1 {
		return usagef("want NODE")
	}
	node := args[0]
	var jobs []fenceJob
	err := c.transact(func(t *txn) error {
		if !t.st.hasNode(node) {
			return fmt.Errorf("no node %q", node)
		}
		h := t.st.Hosts[node]
		if h.Down {
			return fmt.Errorf("host %s is already down", node)
		}
		h.Down = true
		t.journal(node, kindHostCrash)
		for _, d := range slices.Clone(h.Domains) {
			t.removeDomain(node, d, "host-crash")
		}
		h.PendingModes = nil
		for _, v := range t.st.VGs {
			if v.Active[node] {
				v.Active[node] = false
				t.journal(node, kindVGDeactivate, "vg", v.Name, "how", "host-crash")
			}
		}
		for _, r := range t.st.Resources {
			if r.Nodes[node].Up {
				t.bringDown(node, r, false, "host-crash")
			}
		}
		jobs = t.fences
		return nil
	})
	if err != nil {
		return err
	}
	return c.runConnectionLossFences(jobs)
}

func (c *call) ctlHostBoot(args []string) error {
	if len(args) != 1 {
		return usagef("want NODE")
	}
	node := args[0]
	return c.transact(func(t *txn) error {
		if !t.st.hasNode(node) {
			return fmt.Errorf("no node %q", node)
		}
		h := t.st.Hosts[node]
		if !h.Down {
			return fmt.Errorf("host %s is not down", node)
		}
		h.Down, h.BootedAt, h.NextDomID, h.Gone = false, t.now, 1, nil
		t.journal(node, kindHostBoot)
		for _, r := range t.st.Resources {
			t.bringUp(node, r, "host-boot")
		}
		return nil
	})
}

func (c *call) ctlJournal(args []string) error {
	if len(args) != 0 {
		return usagef("journal takes no arguments")
	}
	data, err := os.ReadFile(filepath.Join(c.dir, journalFile))
	if err != nil {
		return fmt.Errorf("read journal: %w", err)
	}
	_, err = c.stdout.Write(data)
	return err
}

func (c *call) ctlCheck(args []string) error {
	fs := newFlagSet("check")
	both := fs.String("both", "", "")
	operands, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(operands) != 0 {
		return usagef("unexpected argument %q", operands[0])
	}
	events, err := ReadJournal(c.dir)
	if err != nil {
		return err
	}
	if err := checkContiguous(events); err != nil {
		return err
	}
	notExclusive := strings.Split(*both, ",")
	return CheckInvariants(events, func(dom string) bool { return !slices.Contains(notExclusive, dom) })
}

func (c *call) ctlProcDRBD(args []string) error {
	if len(args) != 1 {
		return usagef("want NODE")
	}
	var text string
	err := c.transact(func(t *txn) error {
		if !t.st.hasNode(args[0]) {
			return fmt.Errorf("no node %q", args[0])
		}
		text = renderProcDRBD(t.st, args[0], t.now)
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprint(c.stdout, text)
	return nil
}

func (c *call) ctlDump(args []string) error {
	if len(args) != 0 {
		return usagef("dump takes no arguments")
	}
	data, err := os.ReadFile(filepath.Join(c.dir, stateFile))
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	_, err = c.stdout.Write(data)
	return err
}
