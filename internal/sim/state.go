package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// Files inside the state directory of a simulated pair.
const (
	stateFile    = "state.json"
	lockFile     = "lock"
	journalFile  = "journal"
	handlerLog   = "fence-handler.log"
	drbdConfFile = "drbd.conf"
	nodesDir     = "nodes"
	procDRBDFile = "proc-drbd"
)

const stateVersion = 1

// DRBD and Xen names exactly as the tools print them.
const (
	diskUpToDate     = "UpToDate"
	diskConsistent   = "Consistent"
	diskOutdated     = "Outdated"
	diskInconsistent = "Inconsistent"
	diskDiskless     = "Diskless"
	diskDUnknown     = "DUnknown"

	rolePrimary   = "Primary"
	roleSecondary = "Secondary"
	roleUnknown   = "Unknown"

	connConnected  = "Connected"
	connConnecting = "Connecting"
	connStandAlone = "StandAlone"

	replOff         = "Off"
	replEstablished = "Established"
	replSyncSource  = "SyncSource"
	replSyncTarget  = "SyncTarget"

	fencingDontCare     = "dont-care"
	fencingResourceOnly = "resource-only"
	fencingStonith      = "resource-and-stonith"
)

// errNotInitialised is wrapped when the state directory holds no pair.
var errNotInitialised = errors.New("not initialised")

// Duration is a time.Duration written as text ("50ms") in the state file.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// State is everything the simulated pair knows; it lives in state.json.
type State struct {
	Version   int              `json:"version"`
	Nodes     [2]string        `json:"nodes"`
	Addresses [2]string        `json:"addresses"`
	Seq       uint64           `json:"seq"`
	Settings  Settings         `json:"settings"`
	Hosts     map[string]*Host `json:"hosts"`
	Resources []*Resource      `json:"resources"`
	VGs       []*VG            `json:"vgs,omitempty"`
}

// Settings are the tunables set by `ctl set`.
type Settings struct {
	CreateDelay    Duration `json:"create-delay"`
	ShutdownDelay  Duration `json:"shutdown-delay"`
	DestroyDelay   Duration `json:"destroy-delay"`
	ResyncTime     Duration `json:"resync-time"`
	ResyncKB       int64    `json:"resync-kb"`
	ShutdownWait   Duration `json:"shutdown-wait"`
	HandlerTimeout Duration `json:"handler-timeout"`
}

func defaultSettings() Settings {
	return Settings{
		ResyncTime:     Duration(2 * time.Second),
		ResyncKB:       1 << 20,
		ShutdownWait:   Duration(30 * time.Second),
		HandlerTimeout: Duration(60 * time.Second),
	}
}

// Host is one simulated dom0.
type Host struct {
	Down         bool         `json:"down"`
	BootedAt     time.Time    `json:"booted-at"`
	Dom0MemoryMB int          `json:"dom0-memory-mb"`
	Dom0VCPUs    int          `json:"dom0-vcpus"`
	NextDomID    int          `json:"next-domid"`
	Domains      []*Domain    `json:"domains"`
	Gone         []GoneDomain `json:"gone,omitempty"`
	// PendingModes holds `ctl domain` modes set before the domain exists;
	// xl create applies them.
	PendingModes map[string]string `json:"pending-modes,omitempty"`
}

// GoneDomain remembers how a recent domain ended, for `xl shutdown -w`.
type GoneDomain struct {
	ID  int    `json:"id"`
	How string `json:"how"`
}

const maxGone = 64

// Domain is one simulated Xen guest.
type Domain struct {
	Name        string    `json:"name"`
	ID          int       `json:"id"`
	UUID        string    `json:"uuid"`
	ConfigPath  string    `json:"config"`
	Type        string    `json:"type"`
	MemoryMB    int       `json:"memory-mb"`
	MaxMemoryMB int       `json:"maxmem-mb"`
	VCPUs       int       `json:"vcpus"`
	Disks       []Disk    `json:"disks,omitempty"`
	Nics        []Nic     `json:"nics,omitempty"`
	OnPoweroff  string    `json:"on-poweroff"`
	OnReboot    string    `json:"on-reboot"`
	OnCrash     string    `json:"on-crash"`
	CreatedAt   time.Time `json:"created-at"`
	// RunningSince is zero while the domain is paused (being built, or -p).
	RunningSince time.Time `json:"running-since,omitzero"`
	// CPUSeconds is the CPU time accrued before RunningSince.
	CPUSeconds float64 `json:"cpu-seconds"`
	// ShutdownDoneAt is when a requested shutdown completes; zero when none.
	ShutdownDoneAt time.Time `json:"shutdown-done-at,omitzero"`
	IgnoreShutdown bool      `json:"ignore-shutdown,omitempty"`
	NoPV           bool      `json:"no-pv,omitempty"`
	Undestroyable  bool      `json:"undestroyable,omitempty"` // xl destroy fails (a stuck backend)
	Crashed        bool      `json:"crashed,omitempty"`
	Dying          bool      `json:"dying,omitempty"`
}

// Disk is one entry of an xl `disk = [...]` list.
type Disk struct {
	Target  string `json:"target"`
	Vdev    string `json:"vdev"`
	Backend string `json:"backend"`
	Format  string `json:"format"`
	Script  string `json:"script,omitempty"`
	Write   bool   `json:"write"`
}

// Nic is one entry of an xl `vif = [...]` list.
type Nic struct {
	Bridge string `json:"bridge,omitempty"`
	Mac    string `json:"mac,omitempty"`
}

// Resource is one DRBD resource of the pair (a single volume, number 0).
type Resource struct {
	Name    string `json:"name"`
	Minor   int    `json:"minor"`
	Disk    string `json:"disk"`
	Port    int    `json:"port"`
	Fencing string `json:"fencing"`
	Handler string `json:"handler,omitempty"`
	// LinkCut is set by `ctl disconnect`: the replication link is down.
	LinkCut bool `json:"link-cut,omitempty"`
	// Connected is the established connection as last computed.
	Connected bool `json:"connected"`
	// ConnEpoch counts connection changes; a fence-peer result that comes
	// back in another epoch is ignored, as the kernel does.
	ConnEpoch int                 `json:"conn-epoch"`
	Nodes     map[string]*ResNode `json:"nodes"`
	Sync      *Resync             `json:"sync,omitempty"`
}

// ResNode is one node's side of a DRBD resource.
type ResNode struct {
	Up   bool   `json:"up"`
	Role string `json:"role"`
	// Disk is the local disk state; it is kept (as in the metadata) while down.
	Disk string `json:"disk"`
	// WantConnect is false after `drbdadm disconnect` or a split brain.
	WantConnect bool `json:"want-connect"`
	// PeerDisk is what this node knows of the peer's disk while not connected.
	PeerDisk string `json:"peer-disk"`
	// Diverged: this node was Primary while not connected (it wrote alone).
	Diverged         bool `json:"diverged,omitempty"`
	SuspendedFencing bool `json:"suspended-fencing,omitempty"`
	FailIO           bool `json:"fail-io,omitempty"`
	DiscardMyData    bool `json:"discard-my-data,omitempty"`
}

// Resync is a running resynchronisation.
type Resync struct {
	Source   string    `json:"source"`
	Target   string    `json:"target"`
	Start    time.Time `json:"start"`
	Duration Duration  `json:"duration"`
	TotalKB  int64     `json:"total-kb"`
}

func (st *State) hasNode(node string) bool { return node == st.Nodes[0] || node == st.Nodes[1] }

func (st *State) nodeID(node string) int {
	if node == st.Nodes[1] {
		return 1
	}
	return 0
}

func (st *State) peerOf(node string) string { return st.Nodes[1-st.nodeID(node)] }

func (st *State) resource(name string) *Resource {
	for _, r := range st.Resources {
		if r.Name == name {
			return r
		}
	}
	return nil
}

func (h *Host) domainByName(name string) *Domain {
	for _, d := range h.Domains {
		if d.Name == name {
			return d
		}
	}
	return nil
}

func (h *Host) domainByID(id int) *Domain {
	for _, d := range h.Domains {
		if d.ID == id {
			return d
		}
	}
	return nil
}

func (h *Host) goneHow(id int) string {
	for _, g := range h.Gone {
		if g.ID == id {
			return g.How
		}
	}
	return ""
}

// lockDir takes the exclusive lock of a state directory; closing the returned
// file releases it.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return f, nil
}

func loadState(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("state directory %s: %w (run `xhad sim ctl init --nodes A,B` first)", dir, errNotInitialised)
	}
	if err != nil {
		return nil, fmt.Errorf("read simulator state: %w", err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("decode simulator state %s: %w", filepath.Join(dir, stateFile), err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("simulator state %s has version %d, want %d", filepath.Join(dir, stateFile), st.Version, stateVersion)
	}
	return &st, nil
}

// writeFileAtomic writes data to path through a temporary file, fsync and
// rename, then fsyncs the directory.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("open directory of %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory of %s: %w", path, err)
	}
	return nil
}

// txn is one locked read-modify-write of the state.
type txn struct {
	dir    string
	st     *State
	now    time.Time
	events []Event
	dirty  bool
	fences []fenceJob
}

// journal records one event; kv are key, value pairs.
func (t *txn) journal(node, kind string, kv ...string) {
	t.st.Seq++
	ev := Event{Seq: t.st.Seq, Time: t.now, Node: node, Kind: kind}
	for i := 0; i+1 < len(kv); i += 2 {
		ev.Attrs = append(ev.Attrs, Attr{Key: kv[i], Value: kv[i+1]})
	}
	t.events = append(t.events, ev)
	t.dirty = true
}

// settle applies what time alone has done since the last command: shutdowns
// that completed and resyncs that finished.
func (t *txn) settle() {
	for _, node := range t.st.Nodes {
		h := t.st.Hosts[node]
		for _, d := range slices.Clone(h.Domains) {
			if d.ShutdownDoneAt.IsZero() || d.IgnoreShutdown || t.now.Before(d.ShutdownDoneAt) {
				continue
			}
			t.removeDomain(node, d, "shutdown")
		}
	}
	for _, r := range t.st.Resources {
		if r.Sync != nil && !t.now.Before(r.Sync.Start.Add(time.Duration(r.Sync.Duration))) {
			t.finishSync(r)
		}
	}
}

// removeDomain makes a domain vanish and journals how.
func (t *txn) removeDomain(node string, d *Domain, how string) {
	h := t.st.Hosts[node]
	h.Domains = slices.DeleteFunc(h.Domains, func(x *Domain) bool { return x == d })
	h.Gone = append(h.Gone, GoneDomain{ID: d.ID, How: how})
	if len(h.Gone) > maxGone {
		h.Gone = h.Gone[len(h.Gone)-maxGone:]
	}
	t.journal(node, kindDomainStop, "dom", d.Name, "id", fmt.Sprint(d.ID), "how", how)
}

// transact locks the directory, loads and settles the state, runs fn, and
// commits what changed (journal first, then the state, then /proc/drbd).
func (s *sim) transact(fn func(t *txn) error) error {
	lock, err := lockDir(s.dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	st, err := loadState(s.dir)
	if err != nil {
		return err
	}
	t := &txn{dir: s.dir, st: st, now: s.clock.Now()}
	t.settle()
	fnErr := fn(t)
	if t.dirty {
		if err := s.commit(t); err != nil {
			return errors.Join(fnErr, err)
		}
	}
	return fnErr
}

func (s *sim) commit(t *txn) error {
	if len(t.events) > 0 {
		if err := appendJournal(s.dir, t.events); err != nil {
			return err
		}
	}
	data, err := json.MarshalIndent(t.st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode simulator state: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(s.dir, stateFile), append(data, '\n')); err != nil {
		return err
	}
	for _, node := range t.st.Nodes {
		dir := filepath.Join(s.dir, nodesDir, node)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create node directory: %w", err)
		}
		text := renderProcDRBD(t.st, node, t.now)
		if err := os.WriteFile(filepath.Join(dir, procDRBDFile), []byte(text), 0o644); err != nil {
			return fmt.Errorf("write proc-drbd of %s: %w", node, err)
		}
	}
	return nil
}

// peek reads the state without the lock (the file is replaced atomically).
func (s *sim) peek() (*State, error) { return loadState(s.dir) }
