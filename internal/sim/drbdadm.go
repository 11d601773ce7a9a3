package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Texts printed by drbdadm 9.22.0 (measured, and drbd-utils' sources).
const (
	drbdadmGeneralOptions = "GENERAL OPTIONS:\n" +
		"  --stacked, -S\n" +
		"  --dry-run, -d\n" +
		"  --verbose, -v\n" +
		"  --config-file=..., -c ...\n" +
		"  --config-to-test=..., -t ...\n" +
		"  --config-to-exclude=..., -E ...\n" +
		"  --drbdsetup=..., -s ...\n" +
		"  --drbdmeta=..., -m ...\n" +
		"  --drbd-proxy-ctl=..., -p ...\n" +
		"  --sh-varname=..., -n ...\n" +
		"  --version, -V\n" +
		"  --setup-option=..., -W ...\n" +
		"  --help, -h\n"
	drbdadmVersion = "Version: 9.22.0 (api:2)\n" +
		"GIT-hash: 409097fe02187f83790b88ac3e0d94f3c167adab reproducible build, 2023-01-09 14:51:18\n"
	drbdadmCommandsList = "COMMANDS:\n" +
		" adjust                              invalidate-remote                  \n" +
		" adjust-with-progress                net-options                        \n" +
		" apply-al                            new-path                           \n" +
		" attach                              new-peer                           \n" +
		" connect                             outdate                            \n" +
		" create-md                           pause-sync                         \n" +
		" cstate                              peer-device-options                \n" +
		" del-path                            primary                            \n" +
		" del-peer                            resize                             \n" +
		" detach                              resource-options                   \n" +
		" disconnect                          resume-sync                        \n" +
		" disk-options                        role                               \n" +
		" down                                secondary                          \n" +
		" dstate                              show-gi                            \n" +
		" dump                                status                             \n" +
		" dump-md                             up                                 \n" +
		" dump-xml                            verify                             \n" +
		" forget-peer                         wait-con-int                       \n" +
		" get-gi                              wait-connect                       \n" +
		" hidden-commands                     wait-sync                          \n" +
		" invalidate                          wipe-md                            \n"
)

// State-change errors (drbd_strings.c) the simulator can produce.
var stateChangeErrors = map[int]string{
	-1:  "Multiple primaries not allowed by config",
	-2:  "Need access to UpToDate data",
	-6:  "Refusing to be Outdated while Connected",
	-7:  "Refusing to be Primary while peer is not outdated",
	-12: "Device is held open by someone",
	-16: "Disk state is lower than outdated",
}

// stateChangeExit is drbdsetup's exit code for a state-change error.
func stateChangeExit(code int) int {
	switch code {
	case -2:
		return 17
	case -16:
		return 5
	case -4:
		return 16
	}
	return 11
}

// drbdadmCommand is one simulated drbdadm command.
type drbdadmCommand struct {
	name string
	// resourceRequired: without resource names drbdadm prints its usage.
	resourceRequired bool
	// options are the command's own long options, as its usage lists them.
	options []string
	run     func(c *call, res string, opts drbdadmOptions) int
}

type drbdadmOptions struct {
	force         bool
	discardMyData bool
}

var drbdadmCommands = []drbdadmCommand{
	{name: "role", resourceRequired: true, run: (*call).drbdRole},
	{name: "cstate", resourceRequired: true, run: (*call).drbdCstate},
	{name: "dstate", resourceRequired: true, run: (*call).drbdDstate},
	{name: "status", run: (*call).drbdStatusOne},
	{name: "primary", resourceRequired: true, options: []string{"force"}, run: (*call).drbdPrimary},
	{name: "secondary", resourceRequired: true, options: []string{"force"}, run: (*call).drbdSecondary},
	{name: "outdate", resourceRequired: true, run: (*call).drbdOutdate},
	{name: "up", resourceRequired: true, run: (*call).drbdUp},
	{name: "down", resourceRequired: true, run: (*call).drbdDown},
	{name: "connect", resourceRequired: true, options: []string{"tentative", "discard-my-data"}, run: (*call).drbdConnect},
	{name: "disconnect", resourceRequired: true, options: []string{"force"}, run: (*call).drbdDisconnect},
	{name: "resume-io", resourceRequired: true, run: (*call).drbdResumeIO},
	{name: "sh-resources", run: nil},
	{name: "sh-dev", resourceRequired: true, run: (*call).drbdShDev},
	{name: "sh-minor", resourceRequired: true, run: (*call).drbdShMinor},
	{name: "sh-ll-dev", resourceRequired: true, run: (*call).drbdShLLDev},
}

// simulatedButUnsupportedOptions are real options of simulated commands
// that the simulator does not model; it refuses them rather than ignore them.
var simulatedButUnsupportedOptions = map[string]bool{"tentative": true}

func lookupDrbdadmCommand(name string) *drbdadmCommand {
	if name == "state" {
		name = "role"
	}
	for i := range drbdadmCommands {
		if drbdadmCommands[i].name == name {
			return &drbdadmCommands[i]
		}
	}
	return nil
}

func (c *call) drbdadmUsage(cmd *drbdadmCommand, why string) int {
	var b strings.Builder
	fmt.Fprintf(&b, "\nUSAGE: drbdadm %s [OPTION...] {all|RESOURCE...}\n\n", cmd.name)
	b.WriteString(drbdadmGeneralOptions)
	if len(cmd.options) > 0 {
		fmt.Fprintf(&b, "\nOPTIONS FOR %s:\n", cmd.name)
		for _, o := range cmd.options {
			fmt.Fprintf(&b, "  --%s[=...]\n", o)
		}
	}
	b.WriteString("\n" + drbdadmVersion + "\n" + why + "\n")
	fmt.Fprint(c.stdout, b.String())
	return 1
}

// drbdadm runs one simulated `drbdadm` command line.
func (c *call) drbdadm(args []string) int {
	var name string
	var names, options []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-c" || a == "--config-file":
			i++ // the simulator has no config file; the value is ignored
		case strings.HasPrefix(a, "--config-file="), strings.HasPrefix(a, "-c") && !strings.HasPrefix(a, "--"):
		case strings.HasPrefix(a, "-") && len(a) > 1:
			options = append(options, a)
		case name == "":
			name = a
		default:
			names = append(names, a)
		}
	}
	if name == "" {
		fmt.Fprint(c.stdout, "\nUSAGE: drbdadm COMMAND [OPTION...] {all|RESOURCE...}\n\n"+drbdadmGeneralOptions+"\n"+
			drbdadmCommandsList+"\n"+drbdadmVersion+"\nNo command specified\n")
		return 1
	}
	cmd := lookupDrbdadmCommand(name)
	if cmd == nil {
		fmt.Fprintf(c.stderr, "drbdadm: Unknown command '%s'\n", name)
		return 1
	}
	var opts drbdadmOptions
	for _, o := range options {
		key, value, hasValue := strings.Cut(strings.TrimLeft(o, "-"), "=")
		if !strings.HasPrefix(o, "--") || !slices.Contains(cmd.options, key) || simulatedButUnsupportedOptions[key] {
			fmt.Fprintf(c.stderr, "drbdadm: unrecognized option '%s'\ntry 'drbdadm help'\n", o)
			return 1
		}
		on := !hasValue || (value != "no" && value != "0" && value != "false")
		switch key {
		case "force":
			opts.force = on
		case "discard-my-data":
			opts.discardMyData = on
		}
	}
	st, err := c.peek()
	if err != nil {
		return c.simFailed("drbdadm", err)
	}
	switch {
	case cmd.name == "sh-resources":
		if len(names) > 0 {
			fmt.Fprintln(c.stderr, "This command will ignore resource names!")
		}
		for _, r := range st.Resources {
			fmt.Fprintln(c.stdout, r.Name)
		}
		return 0
	case cmd.name == "status" && len(names) == 0:
		return c.drbdStatusAll()
	case len(names) == 0 && cmd.resourceRequired:
		return c.drbdadmUsage(cmd, "No resource names specified")
	}
	if names[0] == "all" {
		names = names[:0]
		for _, r := range st.Resources {
			names = append(names, r.Name)
		}
		if len(names) == 0 {
			fmt.Fprintln(c.stderr, "no resources defined!")
			return 1
		}
	}
	rv := 0
	for _, res := range names {
		if st.resource(res) == nil {
			fmt.Fprintf(c.stderr, "'%s' not defined in your config (for this host).\n", res)
			return 1
		}
		code := cmd.run(c, res, opts)
		if code >= 20 {
			return code
		}
		rv = max(rv, code)
	}
	return rv
}

// Messages of drbdsetup and drbdadm.

func (c *call) terminated(cmdline string, code int) {
	if code >= 10 {
		fmt.Fprintf(c.stderr, "Command '%s' terminated with exit code %d\n", cmdline, code)
	}
}

func (c *call) stateChangeFailed(obj string, code int, cmdline string) int {
	rc := stateChangeExit(code)
	fmt.Fprintf(c.stderr, "%s: State change failed: (%d) %s\n", obj, code, stateChangeErrors[code])
	c.terminated(cmdline, rc)
	return rc
}

func (c *call) configFailure(obj string, code int, text string, info []string, cmdline string) int {
	fmt.Fprintf(c.stderr, "%s: Failure: (%d) %s\n", obj, code, text)
	if len(info) > 0 {
		fmt.Fprintln(c.stderr, "additional info from kernel:")
		for _, line := range info {
			fmt.Fprintln(c.stderr, line)
		}
	}
	c.terminated(cmdline, 10)
	return 10
}

// unknownResource is drbdsetup's answer for a resource that is not up.
func (c *call) unknownResource(res, cmdline string) int {
	return c.configFailure(res, 158, "Unknown resource", []string{"unknown resource"}, cmdline)
}

// refusal journals a refused drbdadm command.
func (t *txn) refusal(node, cmdline string, exit int, why string) {
	t.journal(node, kindRefusal, "cmd", cmdline, "code", strconv.Itoa(exit), "why", why)
}

func stateChangeWhy(code int) string { return fmt.Sprintf("(%d) %s", code, stateChangeErrors[code]) }

// peerID is the peer's node id, as drbdadm puts it on drbdsetup lines.
func (c *call) peerID() int {
	st, err := c.peek()
	if err != nil {
		return 1
	}
	return st.nodeID(st.peerOf(c.node))
}

// query runs fn on a settled state for a read-only answer.
func (c *call) query(res string, fn func(t *txn, r *Resource, rn *ResNode)) error {
	return c.transact(func(t *txn) error {
		r := t.st.resource(res)
		fn(t, r, r.Nodes[c.node])
		return nil
	})
}

func (c *call) drbdRole(res string, _ drbdadmOptions) int {
	out := ""
	if err := c.query(res, func(_ *txn, _ *Resource, rn *ResNode) {
		if rn.Up {
			out = rn.Role + "\n"
		}
	}); err != nil {
		return c.simFailed("drbdadm", err)
	}
	if out == "" {
		fmt.Fprintf(c.stderr, "%s: Unknown resource\n", res)
		c.terminated("drbdsetup role "+res, 10)
		return 10
	}
	fmt.Fprint(c.stdout, out)
	return 0
}

func (c *call) drbdCstate(res string, _ drbdadmOptions) int {
	out := ""
	if err := c.query(res, func(t *txn, r *Resource, rn *ResNode) {
		if rn.Up {
			out = t.view(c.node, r).cstate + "\n"
		}
	}); err != nil {
		return c.simFailed("drbdadm", err)
	}
	if out == "" {
		fmt.Fprintf(c.stderr, "%s: No such connection\n", res)
		c.terminated(fmt.Sprintf("drbdsetup cstate %s %d", res, c.peerID()), 10)
		return 10
	}
	fmt.Fprint(c.stdout, out)
	return 0
}

// drbdDstate prints local/peer disk states; for a resource that is not up
// drbdadm falls back to drbdmeta, which prints the disk state kept in the
// metadata.
func (c *call) drbdDstate(res string, _ drbdadmOptions) int {
	out := ""
	if err := c.query(res, func(t *txn, r *Resource, rn *ResNode) {
		if !rn.Up {
			out = rn.Disk + "\n"
			return
		}
		v := t.view(c.node, r)
		out = v.disk + "/" + v.peerDisk + "\n"
	}); err != nil {
		return c.simFailed("drbdadm", err)
	}
	fmt.Fprint(c.stdout, out)
	return 0
}

func (c *call) drbdStatusOne(res string, _ drbdadmOptions) int {
	out := ""
	if err := c.query(res, func(t *txn, r *Resource, rn *ResNode) {
		if rn.Up {
			out = drbdStatus(t.st, c.node, r, t.now)
		}
	}); err != nil {
		return c.simFailed("drbdadm", err)
	}
	if out == "" {
		fmt.Fprintf(c.stderr, "%s: No such resource\n", res)
		c.terminated("drbdsetup status "+res, 10)
		return 10
	}
	fmt.Fprint(c.stdout, out)
	return 0
}

// drbdStatusAll is `drbdadm status` without names: one `drbdsetup status`
// over every resource that is up, sorted by name.
func (c *call) drbdStatusAll() int {
	var out strings.Builder
	err := c.transact(func(t *txn) error {
		resources := slices.Clone(t.st.Resources)
		slices.SortFunc(resources, func(x, y *Resource) int { return strings.Compare(x.Name, y.Name) })
		for _, r := range resources {
			if r.Nodes[c.node].Up {
				out.WriteString(drbdStatus(t.st, c.node, r, t.now))
			}
		}
		return nil
	})
	if err != nil {
		return c.simFailed("drbdadm", err)
	}
	if out.Len() == 0 {
		out.WriteString("# No currently configured DRBD found.\n")
	}
	fmt.Fprint(c.stdout, out.String())
	return 0
}

// promoteDecision is what the simulated kernel does with one attempt of
// `drbdsetup primary` (drbd_set_role).
type promoteDecision struct {
	action string // "promote", "nothing", "refuse", "fence", "unknown-resource"
	code   int    // the state-change error of a refusal
	// localUpToDate: a Consistent disk with the peer fenced, or --force.
	localUpToDate bool
	// peerOutdated: --force after fencing failed ("Forced into split brain").
	peerOutdated bool
}

func (t *txn) decidePromote(node string, r *Resource, force, fenced bool) promoteDecision {
	rn := r.Nodes[node]
	peer := r.Nodes[t.st.peerOf(node)]
	switch {
	case !rn.Up:
		return promoteDecision{action: "unknown-resource"}
	case rn.Role == rolePrimary:
		return promoteDecision{action: "nothing"}
	case r.Connected && peer.Role == rolePrimary:
		return promoteDecision{action: "refuse", code: -1}
	}
	d := promoteDecision{action: "promote"}
	accessible := rn.Disk == diskUpToDate
	if !accessible && rn.Disk == diskConsistent && !r.Connected && !force {
		switch {
		case r.Fencing == fencingDontCare:
			accessible, d.localUpToDate = true, true
		case rn.PeerDisk == diskDUnknown && !fenced:
			return promoteDecision{action: "fence"}
		}
	}
	if !accessible && force && rn.Disk != diskDiskless {
		accessible, d.localUpToDate = true, true
	}
	if !accessible {
		return promoteDecision{action: "refuse", code: -2}
	}
	if !r.Connected && r.Fencing != fencingDontCare && !isKnownOutdated(rn.PeerDisk) {
		switch {
		case !fenced:
			return promoteDecision{action: "fence"}
		case force:
			d.peerOutdated = true
		default:
			return promoteDecision{action: "refuse", code: -7}
		}
	}
	return d
}

func (t *txn) promote(node string, r *Resource, d promoteDecision, force bool) {
	rn := r.Nodes[node]
	peer := t.st.peerOf(node)
	if d.localUpToDate {
		t.setDisk(node, r, diskUpToDate, "forced to consider local data as UpToDate")
	}
	if d.peerOutdated {
		rn.PeerDisk = diskOutdated
	}
	var kv []string
	if force {
		kv = []string{"force", "yes"}
	}
	t.setRole(node, r, rolePrimary, "drbdadm primary", kv...)
	rn.FailIO = false
	if !r.Connected {
		rn.Diverged = true
		return
	}
	if d.localUpToDate && r.Sync == nil && r.Nodes[peer].Disk != diskDiskless {
		r.Sync = &Resync{Source: node, Target: peer, Start: t.now, Duration: t.st.Settings.ResyncTime, TotalKB: t.st.Settings.ResyncKB}
		t.setDisk(peer, r, diskInconsistent, "sync-target after forced primary")
		t.journal("", kindSyncStart, "res", r.Name, "source", node, "target", peer)
	}
}

func (c *call) drbdPrimary(res string, opts drbdadmOptions) int {
	cmdline := "drbdsetup primary " + res
	if opts.force {
		cmdline += " --force"
	}
	fenced := false
	for {
		var d promoteDecision
		var job fenceJob
		err := c.transact(func(t *txn) error {
			r := t.st.resource(res)
			d = t.decidePromote(c.node, r, opts.force, fenced)
			switch d.action {
			case "promote":
				t.promote(c.node, r, d, opts.force)
			case "refuse":
				t.refusal(c.node, "drbdadm primary "+res, stateChangeExit(d.code), stateChangeWhy(d.code))
			case "fence":
				job = t.newFenceJob(c.node, r, "promote")
			}
			return nil
		})
		if err != nil {
			return c.simFailed("drbdadm", err)
		}
		switch d.action {
		case "unknown-resource":
			return c.unknownResource(res, cmdline)
		case "refuse":
			return c.stateChangeFailed(res, d.code, cmdline)
		case "fence":
			code := c.runFenceHandler(job)
			err := c.transact(func(t *txn) error {
				t.applyFenceResult(job, code)
				return nil
			})
			if err != nil {
				return c.simFailed("drbdadm", err)
			}
			fenced = true
			continue
		}
		return 0
	}
}

func (c *call) drbdSecondary(res string, opts drbdadmOptions) int {
	cmdline := "drbdsetup secondary " + res
	if opts.force {
		cmdline += " --force"
	}
	action := ""
	err := c.query(res, func(t *txn, r *Resource, rn *ResNode) {
		switch {
		case !rn.Up:
			action = "unknown-resource"
		case rn.Role != rolePrimary:
		case len(t.openers(c.node, r)) > 0 && !opts.force:
			action = "held-open"
			t.refusal(c.node, "drbdadm secondary "+res, 11, stateChangeWhy(-12)+" by domain "+t.openers(c.node, r)[0].Name)
		case t.vgHolds(c.node, r) && !opts.force:
			action = "held-open"
			t.refusal(c.node, "drbdadm secondary "+res, 11, stateChangeWhy(-12)+" by an active volume group")
		default:
			if len(t.openers(c.node, r)) > 0 {
				rn.FailIO = true
			}
			t.setRole(c.node, r, roleSecondary, "drbdadm secondary")
		}
	})
	if err != nil {
		return c.simFailed("drbdadm", err)
	}
	switch action {
	case "unknown-resource":
		return c.unknownResource(res, cmdline)
	case "held-open":
		return c.stateChangeFailed(res, -12, cmdline)
	}
	return 0
}

// drbdOutdate is `drbdadm outdate`: `drbdsetup outdate` with its stderr
// suppressed, then drbdmeta as the fallback (adm_outdate).
func (c *call) drbdOutdate(res string, _ drbdadmOptions) int {
	const (
		outdated         = ""
		refusedPrimary   = "primary"      // drbdsetup 17, nothing printed
		metaInconsistent = "inconsistent" // drbdmeta on the backing disk: 5
		attachedLow      = "attached-low" // drbdsetup 5, drbdmeta: the device is attached
		connectedPrimary = "connected"    // drbdsetup 11, drbdmeta: the device is attached
	)
	outcome := outdated
	var minor, disk string
	err := c.query(res, func(t *txn, r *Resource, rn *ResNode) {
		minor, disk = strconv.Itoa(r.Minor), r.Disk
		v := t.view(c.node, r)
		switch {
		case !rn.Up && (rn.Disk == diskInconsistent || rn.Disk == diskDiskless):
			outcome = metaInconsistent
		case !rn.Up:
		case rn.Role == rolePrimary:
			outcome = refusedPrimary
		case rn.Disk == diskInconsistent:
			outcome = attachedLow
		case rn.Disk == diskDiskless:
			outcome = metaInconsistent
		case r.Connected && v.peerRole == rolePrimary:
			outcome = connectedPrimary
		}
		if outcome == outdated {
			t.setDisk(c.node, r, diskOutdated, "drbdadm outdate")
			return
		}
		t.refusal(c.node, "drbdadm outdate "+res, outdateExit[outcome], "local disk "+rn.Disk+", role "+rn.Role)
	})
	if err != nil {
		return c.simFailed("drbdadm", err)
	}
	meta := fmt.Sprintf("drbdmeta %s v09 %s internal outdate", minor, disk)
	switch outcome {
	case metaInconsistent:
		fmt.Fprintln(c.stderr, "Device is inconsistent.")
	case attachedLow, connectedPrimary:
		fmt.Fprintf(c.stderr, "Device '%s' is configured!\n", minor)
		c.terminated(meta, 20)
	}
	return outdateExit[outcome]
}

// outdateExit is drbdadm outdate's exit code per outcome.
var outdateExit = map[string]int{"": 0, "primary": 17, "inconsistent": 5, "attached-low": 5, "connected": 20}

func (c *call) drbdUp(res string, _ drbdadmOptions) int {
	var already bool
	var fencing string
	var jobs []fenceJob
	err := c.query(res, func(t *txn, r *Resource, rn *ResNode) {
		if rn.Up {
			already, fencing = true, r.Fencing
			return
		}
		t.bringUp(c.node, r, "drbdadm up")
		jobs = t.fences
	})
	if err != nil {
		return c.simFailed("drbdadm", err)
	}
	if already {
		st, err := c.peek()
		if err != nil {
			return c.simFailed("drbdadm", err)
		}
		peer := st.peerOf(c.node)
		line := fmt.Sprintf("drbdsetup new-peer %s %d --_name=%s", res, st.nodeID(peer), peer)
		if fencing != fencingDontCare {
			line += " --fencing=" + fencing
		}
		c.configFailure(res, 162, "Invalid configuration request",
			[]string{fmt.Sprintf("Connection for peer node id %d already exists", st.nodeID(peer))}, line+" --protocol=C")
		return 1
	}
	if err := c.runConnectionLossFences(jobs); err != nil {
		return c.simFailed("drbdadm", err)
	}
	return 0
}

func (c *call) drbdDown(res string, _ drbdadmOptions) int {
	heldOpen := false
	err := c.query(res, func(t *txn, r *Resource, rn *ResNode) {
		switch {
		case !rn.Up:
		case rn.Role == rolePrimary && len(t.openers(c.node, r)) > 0:
			heldOpen = true
			t.refusal(c.node, "drbdadm down "+res, 11, stateChangeWhy(-12)+" by domain "+t.openers(c.node, r)[0].Name)
		default:
			t.bringDown(c.node, r, true, "drbdadm down")
		}
	})
	if err != nil {
		return c.simFailed("drbdadm", err)
	}
	if heldOpen {
		return c.stateChangeFailed(res, -12, "drbdsetup down "+res)
	}
	return 0
}

func (c *call) drbdConnect(res string, opts drbdadmOptions) int {
	cmdline := fmt.Sprintf("drbdsetup connect %s %d", res, c.peerID())
	if opts.discardMyData {
		cmdline += " --discard-my-data"
	}
	outcome := ""
	err := c.query(res, func(t *txn, r *Resource, rn *ResNode) {
		switch {
		case !rn.Up:
			outcome = "unknown-resource"
		case rn.WantConnect:
			outcome = "net-configured"
		default:
			rn.WantConnect, rn.DiscardMyData = true, opts.discardMyData
			kv := []string{"res", r.Name}
			if opts.discardMyData {
				kv = append(kv, "discard-my-data", "yes")
			}
			t.journal(c.node, kindDRBDWantConnect, kv...)
			t.updateConnection(r, lossCause{})
		}
	})
	if err != nil {
		return c.simFailed("drbdadm", err)
	}
	switch outcome {
	case "unknown-resource":
		return c.unknownResource(res, cmdline)
	case "net-configured":
		return c.configFailure(res, 125, "Device has a net-config (use disconnect first)", nil, cmdline)
	}
	return 0
}

func (c *call) drbdDisconnect(res string, _ drbdadmOptions) int {
	cmdline := fmt.Sprintf("drbdsetup disconnect %s %d", res, c.peerID())
	notUp := false
	err := c.query(res, func(t *txn, r *Resource, rn *ResNode) {
		switch {
		case !rn.Up:
			notUp = true
		case rn.WantConnect:
			rn.WantConnect = false
			t.journal(c.node, kindDRBDWantConnect, "res", r.Name, "want", "no")
			t.updateConnection(r, lossCause{graceful: true, by: c.node, why: "drbdadm disconnect"})
		}
	})
	if err != nil {
		return c.simFailed("drbdadm", err)
	}
	if notUp {
		return c.unknownResource(res, cmdline)
	}
	return 0
}

func (c *call) drbdResumeIO(res string, _ drbdadmOptions) int {
	notUp, minor := false, 0
	err := c.query(res, func(t *txn, r *Resource, rn *ResNode) {
		minor = r.Minor
		switch {
		case !rn.Up:
			notUp = true
		case rn.SuspendedFencing:
			rn.SuspendedFencing = false
			t.journal(c.node, kindIOResumed, "res", r.Name, "why", "drbdadm resume-io")
		}
	})
	if err != nil {
		return c.simFailed("drbdadm", err)
	}
	if notUp {
		obj := strconv.Itoa(minor)
		return c.configFailure(obj, 127, "Device minor not allocated", []string{"unknown minor"}, "drbdsetup resume-io "+obj)
	}
	return 0
}

func (c *call) drbdShow(res string, field func(r *Resource) string) int {
	st, err := c.peek()
	if err != nil {
		return c.simFailed("drbdadm", err)
	}
	fmt.Fprintln(c.stdout, field(st.resource(res)))
	return 0
}

func (c *call) drbdShDev(res string, _ drbdadmOptions) int {
	return c.drbdShow(res, (*Resource).device)
}

func (c *call) drbdShMinor(res string, _ drbdadmOptions) int {
	return c.drbdShow(res, func(r *Resource) string { return strconv.Itoa(r.Minor) })
}

func (c *call) drbdShLLDev(res string, _ drbdadmOptions) int {
	return c.drbdShow(res, func(r *Resource) string { return r.Disk })
}
