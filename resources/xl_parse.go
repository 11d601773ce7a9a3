package resources

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// XLListHeader is the first line `xl list` prints; the separators before
// State and Time(s) are TABs.
const XLListHeader = "Name                                        ID   Mem VCPUs\tState\tTime(s)"

// XLDomain is one row of `xl list`.
type XLDomain struct {
	Name    string
	ID      int
	MemMiB  int64
	VCPUs   int
	State   string  // the six state letters as printed, e.g. "-b----"
	CPUTime float64 // seconds

	Running  bool // r
	Blocked  bool // b
	Paused   bool // p
	Shutdown bool // s
	// ShutdownReason is set when Shutdown, or when the reason letter is not
	// '-': poweroff, reboot, suspend, crash, watchdog, soft_reset, or unknown.
	ShutdownReason string
	Crashed        bool // shutdown reason letter c
	Dying          bool // d
}

var xlRow = regexp.MustCompile(`^(.*\S)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S{6})\s+(\d+\.\d+)$`)

var xlShutdownReasons = map[byte]string{
	'-': "poweroff", 'r': "reboot", 's': "suspend", 'c': "crash", 'w': "watchdog", 'S': "soft_reset", '?': "unknown",
}

// ParseXLList parses the output of `xl list [DOM]`: the exact header, then
// one row per domain (printf "%-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f").
// A row that does not fit is an error that quotes it.
func ParseXLList(out string) ([]XLDomain, error) {
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if lines[0] != XLListHeader {
		return nil, fmt.Errorf("xl list: unexpected header %q", lines[0])
	}
	var doms []XLDomain
	for i, line := range lines[1:] {
		if strings.TrimSpace(line) == "" {
			continue
		}
		d, err := parseXLRow(line)
		if err != nil {
			return nil, fmt.Errorf("xl list line %d: %w: %q", i+2, err, line)
		}
		doms = append(doms, d)
	}
	return doms, nil
}

func parseXLRow(line string) (XLDomain, error) {
	m := xlRow.FindStringSubmatch(line)
	if m == nil {
		return XLDomain{}, fmt.Errorf("row does not have name, id, memory, vcpus, state and time")
	}
	d := XLDomain{Name: m[1], State: m[5]}
	var err error
	if d.ID, err = strconv.Atoi(m[2]); err != nil {
		return d, fmt.Errorf("bad id")
	}
	if d.MemMiB, err = strconv.ParseInt(m[3], 10, 64); err != nil {
		return d, fmt.Errorf("bad memory")
	}
	if d.VCPUs, err = strconv.Atoi(m[4]); err != nil {
		return d, fmt.Errorf("bad vcpus")
	}
	if d.CPUTime, err = strconv.ParseFloat(m[6], 64); err != nil {
		return d, fmt.Errorf("bad time")
	}
	s := d.State
	flag := func(pos int, letter byte) (bool, error) {
		switch s[pos] {
		case letter:
			return true, nil
		case '-':
			return false, nil
		}
		return false, fmt.Errorf("state %q: letter %d is neither %c nor -", s, pos+1, letter)
	}
	for _, f := range []struct {
		pos    int
		letter byte
		dst    *bool
	}{{0, 'r', &d.Running}, {1, 'b', &d.Blocked}, {2, 'p', &d.Paused}, {3, 's', &d.Shutdown}, {5, 'd', &d.Dying}} {
		if *f.dst, err = flag(f.pos, f.letter); err != nil {
			return d, err
		}
	}
	reason, ok := xlShutdownReasons[s[4]]
	if !ok {
		return d, fmt.Errorf("state %q: unknown shutdown reason letter %c", s, s[4])
	}
	if d.Shutdown || s[4] != '-' {
		d.ShutdownReason = reason
	}
	d.Crashed = s[4] == 'c'
	return d, nil
}

// XLDomainLong is one element of `xl list -l` (JSON output format).
type XLDomainLong struct {
	DomID       int
	Type        string // pv, hvm, pvh
	Name        string
	UUID        string
	MaxVCPUs    int
	MaxMemKB    int64
	TargetMemKB int64
	Disks       []XLDisk
	NICs        []XLNIC
	OnPoweroff  string
	OnReboot    string
	OnCrash     string
	// Config is the whole "config" object, for keys not decoded above.
	Config json.RawMessage
}

// XLDisk is one entry of config.disks.
type XLDisk struct {
	PdevPath  string `json:"pdev_path"`
	Vdev      string `json:"vdev"`
	Backend   string `json:"backend"`
	Format    string `json:"format"`
	Readwrite int    `json:"readwrite"`
}

// XLNIC is one entry of config.nics.
type XLNIC struct {
	DevID  int    `json:"devid"`
	MAC    string `json:"mac"`
	Bridge string `json:"bridge"`
	IP     string `json:"ip"`
	Script string `json:"script"`
}

type xlLongJSON struct {
	DomID  *int            `json:"domid"`
	Config json.RawMessage `json:"config"`
}

type xlLongConfig struct {
	CInfo struct {
		Type string `json:"type"`
		Name string `json:"name"`
		UUID string `json:"uuid"`
	} `json:"c_info"`
	BInfo struct {
		MaxVCPUs    int   `json:"max_vcpus"`
		MaxMemKB    int64 `json:"max_memkb"`
		TargetMemKB int64 `json:"target_memkb"`
	} `json:"b_info"`
	Disks      []XLDisk `json:"disks"`
	NICs       []XLNIC  `json:"nics"`
	OnPoweroff string   `json:"on_poweroff"`
	OnReboot   string   `json:"on_reboot"`
	OnCrash    string   `json:"on_crash"`
}

// ParseXLListLong parses the JSON array `xl list -l` prints. Unknown keys are
// ignored. SXP output (output_format="sxp" in xl.conf) is reported as such.
func ParseXLListLong(out []byte) ([]XLDomainLong, error) {
	trimmed := bytes.TrimSpace(out)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("xl list -l: empty output")
	}
	if trimmed[0] == '(' {
		return nil, fmt.Errorf("xl list -l: output is SXP, not JSON (output_format=\"sxp\" in xl.conf?)")
	}
	var raw []xlLongJSON
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		return nil, fmt.Errorf("xl list -l: %w", err)
	}
	doms := make([]XLDomainLong, 0, len(raw))
	for i, r := range raw {
		if r.DomID == nil {
			return nil, fmt.Errorf("xl list -l: element %d has no domid", i)
		}
		if len(r.Config) == 0 || string(r.Config) == "null" {
			return nil, fmt.Errorf("xl list -l: domain %d has no config", *r.DomID)
		}
		var c xlLongConfig
		if err := json.Unmarshal(r.Config, &c); err != nil {
			return nil, fmt.Errorf("xl list -l: config of domain %d: %w", *r.DomID, err)
		}
		doms = append(doms, XLDomainLong{
			DomID: *r.DomID, Type: c.CInfo.Type, Name: c.CInfo.Name, UUID: c.CInfo.UUID,
			MaxVCPUs: c.BInfo.MaxVCPUs, MaxMemKB: c.BInfo.MaxMemKB, TargetMemKB: c.BInfo.TargetMemKB,
			Disks: c.Disks, NICs: c.NICs, OnPoweroff: c.OnPoweroff, OnReboot: c.OnReboot, OnCrash: c.OnCrash,
			Config: r.Config,
		})
	}
	return doms, nil
}
