package sim

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// xlCommand is one entry of xl's command table (tools/xl/xl_cmdtable.c).
type xlCommand struct {
	name      string
	canDryrun bool
	modifies  bool
	desc      string
	usage     string
	options   string
}

var xlCommands = []xlCommand{
	{"create", true, true, "Create a domain from config file <filename>", "<ConfigFile> [options] [vars]",
		"-c                      Connect to the console after the domain is created.\n" +
			"-d                      Enable debug messages.\n" +
			"-e                      Do not wait in the background for the death of the domain.\n" +
			"-F                      Run in foreground until death of the domain.\n" +
			"-f FILE, --defconfig=FILE\n                     Use the given configuration file.\n" +
			"-h                      Print this help.\n" +
			"-n, --dryrun            Dry run - prints the resulting configuration\n" +
			"                         (deprecated in favour of global -N option).\n" +
			"-p                      Leave the domain paused after it is created.\n" +
			"-q, --quiet             Quiet.\n" +
			"-V, --vncviewer         Connect to the VNC display after the domain is created.\n" +
			"-A, --vncviewer-autopass\n" +
			"                        Pass VNC password to viewer via stdin.\n" +
			"--ignore-global-affinity-masks Ignore global masks in xl.conf."},
	{"list", false, false, "List information about all/some domains", "[options] [Domain]\n",
		"-l, --long              Output all VM details\n" +
			"-v, --verbose           Prints out UUIDs and security context\n" +
			"-Z, --context           Prints out security context\n" +
			"-c, --cpupool           Prints the cpupool the domain is in\n" +
			"-n, --numa              Prints out NUMA node affinity"},
	{"destroy", false, true, "Terminate a domain immediately", "[options] <Domain>\n",
		"-f                      Permit destroying domain 0, which will only succeed\n" +
			"                        when run from disaggregated toolstack domain with a\n" +
			"                        hardware domain distinct from domain 0."},
	{"shutdown", false, true, "Issue a shutdown signal to a domain", "[options] <-a|Domain>",
		"-a, --all               Shutdown all guest domains.\n" +
			"-h                      Print this help.\n" +
			"-F                      Fallback to ACPI power event for HVM guests with\n" +
			"                        no PV drivers.\n" +
			"-w, --wait              Wait for guest(s) to shutdown.\n"},
	{"domid", false, false, "Convert a domain name to domain id", "<DomainName>", ""},
}

func lookupXLCommand(name string) *xlCommand {
	for i := range xlCommands {
		if xlCommands[i].name == name {
			return &xlCommands[i]
		}
	}
	return nil
}

// xlHelp prints what xl's help() prints (to stdout).
func (c *call) xlHelp(command string) {
	if command == "" || command == "help" {
		fmt.Fprint(c.stdout, "Usage xl [-vfNtT] <subcommand> [args]\n\nxl full list of subcommands:\n\n")
		for _, cmd := range xlCommands {
			fmt.Fprintf(c.stdout, " %-19s ", cmd.name)
			fmt.Fprintf(c.stdout, "%s\n", cmd.desc)
		}
		return
	}
	cmd := lookupXLCommand(command)
	if cmd == nil {
		fmt.Fprintf(c.stdout, "command \"%s\" not implemented\n", command)
		return
	}
	f, n := "", ""
	if cmd.modifies {
		f = "f"
	}
	if cmd.canDryrun {
		n = "N"
	}
	fmt.Fprintf(c.stdout, "Usage: xl [-vtT%s%s] %s %s\n\n%s.\n\n", f, n, cmd.name, cmd.usage, cmd.desc)
	if cmd.options != "" {
		fmt.Fprintf(c.stdout, "Options:\n\n%s\n", cmd.options)
	}
}

// xlOpts is the result of xl's def_getopt over one command's arguments.
type xlOpts struct {
	flags    []rune
	values   map[rune]string
	operands []string
}

func (o xlOpts) count(flag rune) int {
	n := 0
	for _, f := range o.flags {
		if f == flag {
			n++
		}
	}
	return n
}

// xlGetopt parses args like getopt_long with permutation. short lists the
// accepted letters (a ':' after one that takes a value); long maps long
// names to letters. On -h, an unknown option or too few operands it prints
// what xl prints and returns the exit code with ok false.
func (c *call) xlGetopt(command string, args []string, short string, long map[string]rune, required int) (xlOpts, int, bool) {
	o := xlOpts{values: map[rune]string{}}
	takesValue := func(r rune) (known, value bool) {
		i := strings.IndexRune(short, r)
		if i < 0 {
			return false, false
		}
		return true, i+1 < len(short) && short[i+1] == ':'
	}
	unsupported := func(r string) (xlOpts, int, bool) {
		if r == "h" {
			c.xlHelp(command)
			return o, 0, false
		}
		fmt.Fprintf(c.stderr, "option `%s' not supported.\n", r)
		return o, 2, false
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			o.operands = append(o.operands, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a[2:], "=")
			if name == "help" {
				return unsupported("h")
			}
			r, ok := long[name]
			if !ok {
				return unsupported(name)
			}
			if _, needs := takesValue(r); needs {
				if !hasValue {
					if i+1 >= len(args) {
						return unsupported(name)
					}
					i++
					value = args[i]
				}
				o.values[r] = value
			}
			o.flags = append(o.flags, r)
		case strings.HasPrefix(a, "-") && a != "-":
			letters := []rune(a[1:])
			for j, r := range letters {
				known, needs := takesValue(r)
				if !known || r == 'h' {
					return unsupported(string(r))
				}
				o.flags = append(o.flags, r)
				if needs {
					value := string(letters[j+1:])
					if value == "" {
						if i+1 >= len(args) {
							return unsupported(string(r))
						}
						i++
						value = args[i]
					}
					o.values[r] = value
					break
				}
			}
		default:
			o.operands = append(o.operands, a)
		}
	}
	if len(o.operands) < required {
		s := ""
		if required > 1 {
			s = "s"
		}
		fmt.Fprintf(c.stderr, "'xl %s' requires at least %d argument%s.\n\n", command, required, s)
		c.xlHelp(command)
		return o, 2, false
	}
	return o, 0, true
}

// xl runs one simulated `xl` command line.
func (c *call) xl(args []string) int {
	i := 0
	for ; i < len(args) && strings.HasPrefix(args[i], "-") && len(args[i]) > 1; i++ {
		for _, r := range args[i][1:] {
			switch r {
			case 'v', 'f', 't', 'T':
			case 'N':
				fmt.Fprintln(c.stderr, "xhad sim xl: the global -N (dry run) option is not simulated")
				return 1
			default:
				fmt.Fprintln(c.stderr, "unknown global option")
				return 1
			}
		}
	}
	if i == len(args) {
		c.xlHelp("")
		return 1
	}
	command, rest := args[i], args[i+1:]
	switch command {
	case "list":
		return c.xlList(rest)
	case "domid":
		return c.xlDomid(rest)
	case "create":
		return c.xlCreate(rest)
	case "shutdown":
		return c.xlShutdown(rest)
	case "destroy":
		return c.xlDestroy(rest)
	case "help":
		topic := ""
		if len(rest) > 0 {
			topic = rest[0]
		}
		c.xlHelp(topic)
		return 0
	}
	fmt.Fprintln(c.stderr, "command not implemented")
	return 1
}

// findDomain is xl's find_domain(): an all-digit qualifier is a domain id
// (not checked here); anything else must name a domain. id -1 with ok false
// means xl already printed the error and exits 1.
func (c *call) findDomain(h *Host, qualifier string) (id int, ok bool) {
	if qualifier != "" && strings.Trim(qualifier, "0123456789") == "" {
		n, err := strconv.ParseUint(qualifier, 10, 32)
		if err == nil {
			return int(n), true
		}
	}
	if qualifier == "Domain-0" {
		return 0, true
	}
	if d := h.domainByName(qualifier); d != nil {
		return d.ID, true
	}
	fmt.Fprintf(c.stderr, "%s is an invalid domain identifier (rc=-6)\n", qualifier)
	return -1, false
}

const xlListHeader = "Name                                        ID   Mem VCPUs\tState\tTime(s)\n"

func xlListRow(name string, id, memMB, vcpus int, state string, cpuSeconds float64) string {
	// xl prints (float)cpu_time / 1e9 with %8.1f: single precision first.
	cpu := float64(float32(cpuSeconds*1e9)) / 1e9
	return fmt.Sprintf("%-40s %5d %5d %5d     %s  %8.1f\n", name, id, memMB, vcpus, state, cpu)
}

// dom0CPURate and domUCPURate are the simulated CPU seconds per wall second.
const (
	dom0CPURate = 0.1
	domUCPURate = 0.01
)

func (d *Domain) cpuSeconds(now time.Time) float64 {
	s := d.CPUSeconds
	if !d.RunningSince.IsZero() {
		s += now.Sub(d.RunningSince).Seconds() * domUCPURate
	}
	return s
}

// stateLetters are xl list's six state letters: a guest that is up idles
// (blocked), a paused one is being built or was created with -p, a crashed
// one kept by on_crash="preserve" is shut down with reason crash.
func (d *Domain) stateLetters() string {
	letters := []byte("-b----")
	switch {
	case d.Crashed:
		letters = []byte("---sc-")
	case d.RunningSince.IsZero():
		letters = []byte("--p---")
	}
	if d.Dying {
		letters[1], letters[5] = '-', 'd'
	}
	return string(letters)
}

func (c *call) xlList(args []string) int {
	o, code, ok := c.xlGetopt("list", args, "l", map[string]rune{"long": 'l'}, 0)
	if !ok {
		return code
	}
	if len(o.operands) > 1 {
		c.xlHelp("list")
		return 1
	}
	var out strings.Builder
	code = 0
	err := c.transact(func(t *txn) error {
		h := t.st.Hosts[c.node]
		dom0 := dom0Domain(h, t.now)
		domains := append([]*Domain{dom0}, h.Domains...)
		if len(o.operands) == 1 {
			id, ok := c.findDomain(h, o.operands[0])
			if !ok {
				code = 1
				return nil
			}
			domains = slices.DeleteFunc(domains, func(d *Domain) bool { return d.ID != id })
			if len(domains) == 0 {
				fmt.Fprintf(c.stderr, "Error: Domain '%s' does not exist.\n", o.operands[0])
				code = 1
				return nil
			}
		}
		if o.count('l') > 0 {
			text, err := xlListLong(domains)
			if err != nil {
				return err
			}
			out.WriteString(text)
			return nil
		}
		out.WriteString(xlListHeader)
		for _, d := range domains {
			letters := d.stateLetters()
			if d.ID == 0 {
				letters = "r-----"
			}
			out.WriteString(xlListRow(d.Name, d.ID, d.MemoryMB, d.VCPUs, letters, d.cpuSeconds(t.now)))
		}
		return nil
	})
	if err != nil {
		return c.simFailed("xl", err)
	}
	fmt.Fprint(c.stdout, out.String())
	return code
}

// dom0Domain is Domain-0 of a host as xl shows it.
func dom0Domain(h *Host, now time.Time) *Domain {
	return &Domain{Name: "Domain-0", ID: 0, UUID: "00000000-0000-0000-0000-000000000000", Type: "pv",
		MemoryMB: h.Dom0MemoryMB, MaxMemoryMB: h.Dom0MemoryMB, VCPUs: h.Dom0VCPUs,
		CPUSeconds: now.Sub(h.BootedAt).Seconds() * dom0CPURate}
}

// The JSON of `xl list -l`: libxl_domain_config, reduced to what the
// simulator knows, keys in libxl_types.idl order.
type xlJSONEntry struct {
	Domid  int          `json:"domid"`
	Config xlJSONConfig `json:"config"`
}

type xlJSONConfig struct {
	CInfo      xlJSONCInfo  `json:"c_info"`
	BInfo      xlJSONBInfo  `json:"b_info"`
	Disks      []xlJSONDisk `json:"disks,omitempty"`
	Nics       []xlJSONNic  `json:"nics,omitempty"`
	OnPoweroff string       `json:"on_poweroff,omitempty"`
	OnReboot   string       `json:"on_reboot,omitempty"`
	OnCrash    string       `json:"on_crash,omitempty"`
}

type xlJSONCInfo struct {
	Type string `json:"type"`
	Name string `json:"name"`
	UUID string `json:"uuid,omitempty"`
}

type xlJSONBInfo struct {
	MaxVcpus    int   `json:"max_vcpus"`
	MaxMemkb    int64 `json:"max_memkb"`
	TargetMemkb int64 `json:"target_memkb"`
}

type xlJSONDisk struct {
	PdevPath  string `json:"pdev_path"`
	Vdev      string `json:"vdev"`
	Backend   string `json:"backend"`
	Format    string `json:"format"`
	Script    string `json:"script,omitempty"`
	Readwrite int    `json:"readwrite"`
}

type xlJSONNic struct {
	Bridge string `json:"bridge,omitempty"`
	Mac    string `json:"mac,omitempty"`
}

// xlListLong renders `xl list -l`: a JSON array pretty-printed with four
// spaces (yajl's beautify mode), then a newline (puts).
func xlListLong(domains []*Domain) (string, error) {
	entries := []xlJSONEntry{}
	for _, d := range domains {
		e := xlJSONEntry{Domid: d.ID, Config: xlJSONConfig{
			CInfo: xlJSONCInfo{Type: d.Type, Name: d.Name, UUID: d.UUID},
			BInfo: xlJSONBInfo{MaxVcpus: d.VCPUs, MaxMemkb: int64(d.MaxMemoryMB) * 1024, TargetMemkb: int64(d.MemoryMB) * 1024},
		}}
		if d.ID != 0 {
			e.Config.OnPoweroff, e.Config.OnReboot, e.Config.OnCrash = d.OnPoweroff, d.OnReboot, d.OnCrash
		}
		for _, disk := range d.Disks {
			rw := 0
			if disk.Write {
				rw = 1
			}
			e.Config.Disks = append(e.Config.Disks, xlJSONDisk{PdevPath: disk.Target, Vdev: disk.Vdev,
				Backend: disk.Backend, Format: disk.Format, Script: disk.Script, Readwrite: rw})
		}
		for _, n := range d.Nics {
			e.Config.Nics = append(e.Config.Nics, xlJSONNic(n))
		}
		entries = append(entries, e)
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(entries); err != nil {
		return "", fmt.Errorf("encode xl list -l: %w", err)
	}
	return b.String(), nil
}

func (c *call) xlDomid(args []string) int {
	o, code, ok := c.xlGetopt("domid", args, "", nil, 1)
	if !ok {
		return code
	}
	name := o.operands[0]
	id := -1
	err := c.transact(func(t *txn) error {
		if name == "Domain-0" {
			id = 0
		} else if d := t.st.Hosts[c.node].domainByName(name); d != nil {
			id = d.ID
		}
		return nil
	})
	if err != nil {
		return c.simFailed("xl", err)
	}
	if id < 0 {
		fmt.Fprintf(c.stderr, "Can't get domid of domain name '%s', maybe this domain does not exist.\n", name)
		return 1
	}
	fmt.Fprintf(c.stdout, "%d\n", id)
	return 0
}

// libxlError formats a libxl log line as xl prints it to stderr.
func libxlError(fileLine, function string, domid int, msg string) string {
	dom := ""
	if domid > 0 && domid < 0x7FF0 {
		dom = fmt.Sprintf("Domain %d:", domid)
	}
	return fmt.Sprintf("libxl: error: %s:%s: %s%s\n", fileLine, function, dom, msg)
}

func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("read random bytes for a domain uuid: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (c *call) xlCreate(args []string) int {
	configFile := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") && !strings.Contains(args[0], "=") {
		configFile, args = args[0], args[1:]
	}
	o, code, ok := c.xlGetopt("create", args, "eqpf:", map[string]rune{"defconfig": 'f', "quiet": 'q'}, 0)
	if !ok {
		return code
	}
	if f, ok := o.values['f']; ok {
		configFile = f
	}
	var extra []string
	for _, a := range o.operands {
		switch {
		case strings.Contains(a, "="):
			extra = append(extra, a)
		case configFile == "":
			configFile = a
		default:
			c.xlHelp("create")
			return 2
		}
	}
	if configFile == "" {
		// xl create with neither a file nor a saved image.
		fmt.Fprintln(c.stderr, "Config file not specified and none in save file")
		return 6
	}
	data, err := os.ReadFile(configFile)
	if err != nil {
		errno := syscall.ENOENT
		var se syscall.Errno
		if errors.As(err, &se) {
			errno = se
		}
		fmt.Fprintf(c.stderr, "Failed to read config file: %s: %s\n", configFile, cStrerror(errno))
		return 3
	}
	text := string(data)
	if len(extra) > 0 {
		text += "\n" + strings.Join(extra, "\n") + "\n" + "\n"
	}
	if o.count('q') == 0 {
		fmt.Fprintf(c.stderr, "Parsing config from %s\n", configFile)
	}
	settings, err := parseXLConfig(configFile, text)
	if err != nil {
		fmt.Fprintln(c.stderr, err)
		fmt.Fprintln(c.stderr, "Failed to parse config: Invalid argument")
		return 1
	}
	dc, err := domainFromConfig(configFile, settings)
	if err != nil {
		fmt.Fprintln(c.stderr, err)
		return 1
	}
	if dc.name == "" {
		fmt.Fprintln(c.stderr, "Domain name must be specified.")
		return 1
	}
	paused := o.count('p') > 0
	var made *Domain
	var refusal string
	err = c.transact(func(t *txn) error {
		h := t.st.Hosts[c.node]
		id := h.NextDomID
		h.NextDomID++
		if h.domainByName(dc.name) != nil || dc.name == "Domain-0" {
			refusal = libxlError("libxl_domain.c:81", "libxl__domain_rename", id, fmt.Sprintf("Domain with name \"%s\" already exists.", dc.name)) +
				libxlError("libxl_create.c:1309", "initiate_domain_create", id, "cannot make domain: -6")
			t.journal(c.node, kindRefusal, "cmd", "xl create "+configFile, "code", "3", "why", "domain "+dc.name+" already exists")
			return nil
		}
		for _, disk := range dc.disks {
			r := t.resourceOfDevice(disk)
			if r == nil || !disk.Write {
				continue
			}
			if rn := r.Nodes[c.node]; !rn.Up || rn.Role != rolePrimary {
				refusal = libxlError("libxl_device.c:1194", "device_backend_callback", id,
					fmt.Sprintf("unable to add device with path /local/domain/0/backend/vbd/%d/%d - rc -3", id, vbdNumber(disk.Vdev))) +
					libxlError("libxl_create.c:1685", "domcreate_launch_dm", id, "unable to add disk devices")
				t.journal(c.node, kindRefusal, "cmd", "xl create "+configFile, "code", "3",
					"why", fmt.Sprintf("disk %s: DRBD resource %s is not Primary here", disk.Target, r.Name))
				return nil
			}
		}
		uuid := dc.uuid
		if uuid == "" {
			uuid = newUUID()
		}
		made = &Domain{Name: dc.name, ID: id, UUID: uuid, ConfigPath: configFile, Type: dc.typ,
			MemoryMB: dc.memoryMB, MaxMemoryMB: dc.maxMemoryMB, VCPUs: dc.vcpus, Disks: dc.disks, Nics: dc.nics,
			OnPoweroff: dc.onPoweroff, OnReboot: dc.onReboot, OnCrash: dc.onCrash, CreatedAt: t.now}
		if mode := h.pendingMode(dc.name); mode != "" {
			made.applyMode(mode)
		}
		h.Domains = append(h.Domains, made)
		t.journal(c.node, kindDomainStart, "dom", made.Name, "id", fmt.Sprint(id), "cfg", configFile)
		return nil
	})
	if err != nil {
		return c.simFailed("xl", err)
	}
	if refusal != "" {
		fmt.Fprint(c.stderr, refusal)
		return 3
	}
	if delay := c.createDelay(); delay > 0 {
		c.clock.Sleep(delay)
	}
	if paused {
		return 0
	}
	vanished := false
	err = c.transact(func(t *txn) error {
		d := t.st.Hosts[c.node].domainByID(made.ID)
		if d == nil || d.Name != made.Name {
			vanished = true
			return nil
		}
		if d.RunningSince.IsZero() && !d.Dying {
			d.RunningSince = t.now
			t.journal(c.node, kindDomainRunning, "dom", d.Name, "id", fmt.Sprint(d.ID))
		}
		return nil
	})
	if err != nil {
		return c.simFailed("xl", err)
	}
	if vanished {
		fmt.Fprint(c.stderr, libxlError("libxl_create.c:1309", "initiate_domain_create", made.ID, "domain vanished while it was being built"))
		return 3
	}
	return 0
}

func (c *call) createDelay() time.Duration {
	st, err := c.peek()
	if err != nil {
		return 0
	}
	return time.Duration(st.Settings.CreateDelay)
}

// cStrerror is strerror(3) for the errors reading a config file can give.
func cStrerror(errno syscall.Errno) string {
	switch errno {
	case syscall.ENOENT:
		return "No such file or directory"
	case syscall.EACCES:
		return "Permission denied"
	case syscall.EISDIR:
		return "Is a directory"
	case syscall.ENOTDIR:
		return "Not a directory"
	}
	s := errno.Error()
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

func (c *call) xlShutdown(args []string) int {
	o, code, ok := c.xlGetopt("shutdown", args, "awF", map[string]rune{"all": 'a', "wait": 'w'}, 0)
	if !ok {
		return code
	}
	all, wait, acpi := o.count('a') > 0, o.count('w'), o.count('F') > 0
	if len(o.operands) == 0 && !all {
		fmt.Fprint(c.stderr, "You must specify -a or a domain id.\n\n")
		return 1
	}
	var waitFor []int
	// failed is printed after the transaction; findDomain prints its own
	// message and sets badQualifier.
	failed, badQualifier := "", false
	err := c.transact(func(t *txn) error {
		h := t.st.Hosts[c.node]
		var targets []int
		if all {
			for _, d := range h.Domains {
				targets = append(targets, d.ID)
			}
		} else {
			id, ok := c.findDomain(h, o.operands[0])
			if !ok {
				badQualifier = true
				return nil
			}
			targets = []int{id}
		}
		for _, id := range targets {
			fmt.Fprintf(c.stderr, "Shutting down domain %d\n", id)
			d := h.domainByID(id)
			if d == nil || id == 0 {
				failed = libxlError("libxl_dom.c:37", "libxl__domain_type", id, "unable to get dominfo: No such process") +
					"shutdown failed (rc=-3)\n"
				return nil
			}
			if d.NoPV {
				if !acpi {
					failed = "PV control interface not available: external graceful shutdown not possible.\n" +
						"Use \"-F\" to fallback to ACPI power event.\n" +
						"shutdown failed (rc=-10)\n"
					t.journal(c.node, kindRefusal, "cmd", "xl shutdown "+d.Name, "code", "1", "why", "no PV drivers")
					return nil
				}
				fmt.Fprintln(c.stderr, "PV control interface not available: sending ACPI power button event.")
			}
			ignored := "no"
			if d.IgnoreShutdown {
				ignored = "yes"
			} else if d.ShutdownDoneAt.IsZero() {
				d.ShutdownDoneAt = t.now.Add(time.Duration(t.st.Settings.ShutdownDelay))
			}
			t.journal(c.node, kindDomainShutdownRequest, "dom", d.Name, "id", fmt.Sprint(d.ID), "ignored", ignored)
			waitFor = append(waitFor, d.ID)
		}
		return nil
	})
	if err != nil {
		return c.simFailed("xl", err)
	}
	if badQualifier {
		return 1
	}
	if failed != "" {
		fmt.Fprint(c.stderr, failed)
		return 1
	}
	if wait == 0 || len(waitFor) == 0 {
		return 0
	}
	return c.waitForDeaths(waitFor, wait == 1)
}

// waitForDeaths is `xl shutdown -w`: real xl waits with no time limit; the
// simulator gives up after the shutdown-wait setting and exits 1.
func (c *call) waitForDeaths(ids []int, shutdownIsEnough bool) int {
	fmt.Fprintf(c.stderr, "Waiting for %d domains\n", len(ids))
	st, err := c.peek()
	if err != nil {
		return c.simFailed("xl", err)
	}
	limit := time.Duration(st.Settings.ShutdownWait)
	start := c.clock.Now()
	pending := slices.Clone(ids)
	for {
		var gone []GoneDomain
		err := c.transact(func(t *txn) error {
			h := t.st.Hosts[c.node]
			pending = slices.DeleteFunc(pending, func(id int) bool {
				if h.domainByID(id) != nil {
					return false
				}
				gone = append(gone, GoneDomain{ID: id, How: h.goneHow(id)})
				return true
			})
			return nil
		})
		if err != nil {
			return c.simFailed("xl", err)
		}
		for _, g := range gone {
			switch g.How {
			case "shutdown", "crash":
				reason := 0
				if g.How == "crash" {
					reason = 3
				}
				fmt.Fprintf(c.stderr, "Domain %d has been shut down, reason code %d\n", g.ID, reason)
				if !shutdownIsEnough {
					fmt.Fprintf(c.stderr, "Domain %d continue waiting for death\n", g.ID)
					fmt.Fprintf(c.stderr, "Domain %d has been destroyed\n", g.ID)
				}
			default:
				fmt.Fprintf(c.stderr, "Domain %d has been destroyed\n", g.ID)
			}
		}
		if len(pending) == 0 {
			return 0
		}
		waited := c.clock.Now().Sub(start)
		if waited >= limit {
			fmt.Fprintf(c.stderr, "xhad sim xl: stopped waiting after %s (shutdown-wait); domain %d is still there (real xl -w waits forever)\n", limit, pending[0])
			return 1
		}
		c.clock.Sleep(min(20*time.Millisecond, limit-waited))
	}
}

func (c *call) xlDestroy(args []string) int {
	o, code, ok := c.xlGetopt("destroy", args, "f", nil, 1)
	if !ok {
		return code
	}
	force := o.count('f') > 0
	var victim *Domain
	failed, badQualifier := "", false
	var delay time.Duration
	err := c.transact(func(t *txn) error {
		h := t.st.Hosts[c.node]
		id, ok := c.findDomain(h, o.operands[0])
		if !ok {
			badQualifier = true
			return nil
		}
		if id == 0 {
			if !force {
				failed = "Not destroying domain 0; use -f to force.\n" +
					"This can only be done when using a disaggregated hardware domain and toolstack.\n\n"
			} else {
				failed = "destroy failed (rc=-3)\n"
			}
			return nil
		}
		d := h.domainByID(id)
		if d == nil {
			failed = libxlError("libxl_domain.c:1181", "libxl__destroy_domid", id, "Non-existant domain") +
				libxlError("libxl_domain.c:1135", "domain_destroy_callback", id, "Unable to destroy guest") +
				libxlError("libxl_domain.c:1062", "domain_destroy_cb", id, "Destruction of domain failed") +
				"destroy failed (rc=-21)\n"
			return nil
		}
		if d.Undestroyable {
			failed = libxlError("libxl_domain.c:1135", "domain_destroy_callback", id, "Unable to destroy guest") +
				libxlError("libxl_domain.c:1062", "domain_destroy_cb", id, "Destruction of domain failed") +
				"destroy failed (rc=-3)\n"
			return nil
		}
		delay = time.Duration(t.st.Settings.DestroyDelay)
		if delay <= 0 {
			t.removeDomain(c.node, d, "destroy")
			return nil
		}
		d.Dying = true
		t.dirty = true
		victim = d
		return nil
	})
	if err != nil {
		return c.simFailed("xl", err)
	}
	if badQualifier {
		return 1
	}
	if failed != "" {
		fmt.Fprint(c.stderr, failed)
		return 1
	}
	if victim == nil {
		return 0
	}
	c.clock.Sleep(delay)
	err = c.transact(func(t *txn) error {
		if d := t.st.Hosts[c.node].domainByID(victim.ID); d != nil && d.Name == victim.Name {
			t.removeDomain(c.node, d, "destroy")
		}
		return nil
	})
	if err != nil {
		return c.simFailed("xl", err)
	}
	return 0
}
