package resources

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DRBDStatus is one resource as printed by `drbdadm status RES` (DRBD 9).
type DRBDStatus struct {
	Resource        string
	Role            string   // Primary, Secondary
	Suspended       []string // why I/O is suspended (user, no-data, fencing, quorum); empty when not
	ForceIOFailures bool
	Devices         []DRBDDevice
	Connections     []DRBDConnection
}

// DRBDDevice is a local volume (a device line).
type DRBDDevice struct {
	Volume     int
	Disk       string // UpToDate, Inconsistent, Diskless, …
	Client     bool   // client:yes, a diskless client
	QuorumLost bool   // quorum:no
	Open       string // "yes", "no", or "" when not printed (drbd-utils before mid-2024)
}

// DRBDConnection is a peer (a connection line) with its peer devices.
type DRBDConnection struct {
	Peer       string
	Connection string // Connected, Connecting, StandAlone, …
	Role       string // the peer's role; "" unless Connected
	Devices    []DRBDPeerDevice
}

// DRBDPeerDevice is the replication state of one volume towards one peer.
type DRBDPeerDevice struct {
	Volume          int
	Replication     string // Established unless printed (SyncSource, SyncTarget, …)
	PeerDisk        string
	Done            float64 // resync progress in percent, valid when HasDone
	HasDone         bool
	ResyncSuspended []string
	PeerClient      bool
}

// ParseDRBDStatus parses the output of `drbdadm status RES` for one resource.
// Unknown keys are ignored; a line that does not fit the format is an error
// that quotes it.
func ParseDRBDStatus(out string) (DRBDStatus, error) {
	var st DRBDStatus
	seen, ended := false, false
	var comment string
	var conn *DRBDConnection
	for i, line := range strings.Split(out, "\n") {
		n := i + 1
		bad := func(why string) error {
			return fmt.Errorf("drbdadm status line %d: %s: %q", n, why, line)
		}
		if strings.TrimSpace(line) == "" {
			if seen {
				ended = true
			}
			continue
		}
		if strings.HasPrefix(line, "#") {
			comment = line
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if strings.ContainsAny(line, "\t\r") {
			return st, bad("unexpected tab or carriage return")
		}
		tokens := strings.Fields(line)
		switch indent {
		case 0:
			if seen {
				return st, bad("more than one resource")
			}
			if strings.Contains(tokens[0], ":") {
				return st, bad("resource line does not start with a name")
			}
			seen = true
			st.Resource = tokens[0]
			kv, err := keyValues(tokens[1:])
			if err != nil {
				return st, bad(err.Error())
			}
			st.Role = kv["role"]
			if st.Role == "" {
				return st, bad("resource line has no role")
			}
			if s := kv["suspended"]; s != "" && s != "no" {
				st.Suspended = strings.Split(s, ",")
			}
			st.ForceIOFailures = kv["force-io-failures"] == "yes"
		case 2:
			if !seen || ended {
				return st, bad("device or connection line outside a resource")
			}
			if strings.Contains(tokens[0], ":") {
				kv, err := keyValues(tokens)
				if err != nil {
					return st, bad(err.Error())
				}
				vol, err := volumeOf(kv)
				if err != nil {
					return st, bad(err.Error())
				}
				dev := DRBDDevice{Volume: vol, Disk: kv["disk"], Client: kv["client"] == "yes",
					QuorumLost: kv["quorum"] == "no", Open: kv["open"]}
				if dev.Disk == "" {
					return st, bad("device line has no disk")
				}
				st.Devices = append(st.Devices, dev)
				conn = nil
				continue
			}
			kv, err := keyValues(tokens[1:])
			if err != nil {
				return st, bad(err.Error())
			}
			c := DRBDConnection{Peer: tokens[0], Connection: kv["connection"], Role: kv["role"]}
			if c.Connection == "" {
				if c.Role == "" {
					return st, bad("connection line has neither connection: nor role:")
				}
				c.Connection = "Connected"
			}
			st.Connections = append(st.Connections, c)
			conn = &st.Connections[len(st.Connections)-1]
		case 4:
			if conn == nil || ended {
				return st, bad("peer-device line without a connection")
			}
			kv, err := keyValues(tokens)
			if err != nil {
				return st, bad(err.Error())
			}
			vol, err := volumeOf(kv)
			if err != nil {
				return st, bad(err.Error())
			}
			pd := DRBDPeerDevice{Volume: vol, Replication: kv["replication"], PeerDisk: kv["peer-disk"],
				PeerClient: kv["peer-client"] == "yes"}
			if pd.PeerDisk == "" {
				return st, bad("peer-device line has no peer-disk")
			}
			if pd.Replication == "" {
				pd.Replication = "Established"
			}
			if d, ok := kv["done"]; ok {
				pd.Done, err = strconv.ParseFloat(d, 64)
				if err != nil {
					return st, bad("done is not a number")
				}
				pd.HasDone = true
			}
			if s := kv["resync-suspended"]; s != "" && s != "no" {
				pd.ResyncSuspended = strings.Split(s, ",")
			}
			conn.Devices = append(conn.Devices, pd)
		default:
			return st, bad(fmt.Sprintf("unexpected indentation of %d spaces", indent))
		}
	}
	if !seen {
		if comment != "" {
			return st, fmt.Errorf("drbdadm status: no resource in output: %q", comment)
		}
		return st, fmt.Errorf("drbdadm status: no resource in output")
	}
	if len(st.Devices) == 0 {
		return st, fmt.Errorf("drbdadm status: resource %s has no device line", st.Resource)
	}
	return st, nil
}

// keyValues splits "key:value" tokens; a token without a colon is an error.
func keyValues(tokens []string) (map[string]string, error) {
	kv := make(map[string]string, len(tokens))
	for _, t := range tokens {
		k, v, ok := strings.Cut(t, ":")
		if !ok || k == "" {
			return nil, fmt.Errorf("token %q is not key:value", t)
		}
		kv[k] = v
	}
	return kv, nil
}

func volumeOf(kv map[string]string) (int, error) {
	v, ok := kv["volume"]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("volume %q is not a number", v)
	}
	return n, nil
}

// ProcDevice is one minor of DRBD 8.4's /proc/drbd.
type ProcDevice struct {
	Minor        int
	Unconfigured bool   // " N: cs:Unconfigured"; nothing else is set
	Connection   string // cs: WFConnection, Connected, SyncSource, …
	Role         string
	PeerRole     string
	Disk         string
	PeerDisk     string
	Protocol     string // "A", "B", "C"; "" without a network configuration
	Flags        string // the six flag letters as printed, e.g. "r-----"
	IOSuspended  bool   // first flag letter is 's'
	// Counters holds the numeric fields of the second line (ns nr dw dr al bm
	// lo pe ua ap ep oos, kB or counts as documented by DRBD).
	Counters      map[string]int64
	WriteOrdering string    // wo: f (flush), d (drain), n (none), b (barrier)
	Sync          *ProcSync // set during SyncSource/SyncTarget/VerifyS/VerifyT
}

// ProcSync is the resync (or online verify) progress of a ProcDevice.
type ProcSync struct {
	Verify       bool    // "verified:" instead of "sync'ed:"
	Percent      float64 // done
	Left, Total  int64   // in Unit
	Unit         string  // "K" or "M"
	Finish       time.Duration
	Speed        int64 // K/sec, recent
	AverageSpeed int64 // K/sec since the resync started
	Want         int64 // K/sec target; 0 when not printed
	Stalled      bool
}

var (
	procDeviceLine = regexp.MustCompile(`^ *(\d+): (.*)$`)
	procProgress   = regexp.MustCompile(`^\t\[[=>.]*\] (sync'ed|verified): *(\d+\.\d)% \((\d+)/(\d+)\)([KM])$`)
	procFinish     = regexp.MustCompile(`^\tfinish: (\d+):(\d\d):(\d\d) speed: ([\d,]+) \(([\d,]+)(?: -- ([\d,]+))?\)(?: want: ([\d,]+))? K/sec( \(stalled\))?$`)
	procDetail     = regexp.MustCompile(`^\t(\S+: used:\d+/\d+ .*|\s*\d+% sector pos: .*|blocked on activity log: \d+)$`)
)

// ParseProcDRBD parses DRBD 8.4's /proc/drbd. Header lines (version:,
// GIT-hash:, srcversion:) are skipped; a line that does not fit is an error
// that quotes it.
func ParseProcDRBD(text string) ([]ProcDevice, error) {
	var devs []ProcDevice
	var cur *ProcDevice
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		bad := func(why string) error {
			return fmt.Errorf("/proc/drbd line %d: %s: %q", n, why, line)
		}
		switch {
		case strings.TrimSpace(line) == "":
			continue
		case strings.HasPrefix(line, "version:"), strings.HasPrefix(line, "GIT-hash:"), strings.HasPrefix(line, "srcversion:"):
			continue
		case procDeviceLine.MatchString(line):
			m := procDeviceLine.FindStringSubmatch(line)
			dev, err := parseProcDevice(m[1], m[2])
			if err != nil {
				return nil, bad(err.Error())
			}
			devs = append(devs, dev)
			cur = &devs[len(devs)-1]
		case strings.HasPrefix(line, "\t["):
			if cur == nil || cur.Unconfigured {
				return nil, bad("progress line without a device")
			}
			m := procProgress.FindStringSubmatch(line)
			if m == nil {
				return nil, bad("unreadable progress line")
			}
			s := &ProcSync{Verify: m[1] == "verified", Unit: m[5]}
			s.Percent, _ = strconv.ParseFloat(m[2], 64)
			s.Left, _ = strconv.ParseInt(m[3], 10, 64)
			s.Total, _ = strconv.ParseInt(m[4], 10, 64)
			cur.Sync = s
		case strings.HasPrefix(line, "\tfinish:"):
			if cur == nil || cur.Sync == nil {
				return nil, bad("finish line without a progress line")
			}
			m := procFinish.FindStringSubmatch(line)
			if m == nil {
				return nil, bad("unreadable finish line")
			}
			h, _ := strconv.Atoi(m[1])
			mi, _ := strconv.Atoi(m[2])
			se, _ := strconv.Atoi(m[3])
			s := cur.Sync
			s.Finish = time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(se)*time.Second
			s.Speed = thousands(m[4])
			s.AverageSpeed = thousands(m[5])
			if m[6] != "" { // with proc details: (recent -- average)
				s.AverageSpeed = thousands(m[6])
			}
			s.Want = thousands(m[7])
			s.Stalled = m[8] != ""
		case procDetail.MatchString(line):
			if cur == nil {
				return nil, bad("detail line without a device")
			}
		case strings.HasPrefix(line, " "):
			if cur == nil || cur.Unconfigured {
				return nil, bad("counter line without a device")
			}
			for _, t := range strings.Fields(line) {
				k, v, ok := strings.Cut(t, ":")
				if !ok || k == "" {
					return nil, bad(fmt.Sprintf("token %q is not key:value", t))
				}
				if k == "wo" {
					cur.WriteOrdering = v
					continue
				}
				if num, err := strconv.ParseInt(v, 10, 64); err == nil {
					cur.Counters[k] = num
				}
			}
		default:
			return nil, bad("unexpected line")
		}
	}
	return devs, nil
}

func parseProcDevice(minor, rest string) (ProcDevice, error) {
	var d ProcDevice
	d.Minor, _ = strconv.Atoi(minor)
	if strings.TrimSpace(rest) == "cs:Unconfigured" {
		d.Unconfigured = true
		return d, nil
	}
	tokens := strings.Fields(rest)
	if len(tokens) < 4 || len(tokens) > 5 {
		return d, fmt.Errorf("want cs: ro: ds: [protocol] flags, got %d fields", len(tokens))
	}
	for i, key := range []string{"cs", "ro", "ds"} {
		k, v, ok := strings.Cut(tokens[i], ":")
		if !ok || k != key || v == "" {
			return d, fmt.Errorf("field %d is not %s:VALUE", i+1, key)
		}
		switch key {
		case "cs":
			d.Connection = v
		case "ro", "ds":
			local, peer, ok := strings.Cut(v, "/")
			if !ok || local == "" || peer == "" {
				return d, fmt.Errorf("%s %q is not local/peer", key, v)
			}
			if key == "ro" {
				d.Role, d.PeerRole = local, peer
			} else {
				d.Disk, d.PeerDisk = local, peer
			}
		}
	}
	flags := tokens[len(tokens)-1]
	if len(tokens) == 5 {
		d.Protocol = tokens[3]
		if len(d.Protocol) != 1 || !strings.Contains("ABC", d.Protocol) {
			return d, fmt.Errorf("protocol %q is not A, B or C", d.Protocol)
		}
	}
	if len(flags) != 6 || !strings.ContainsRune("rs", rune(flags[0])) {
		return d, fmt.Errorf("flags %q are not six letters starting with r or s", flags)
	}
	d.Flags = flags
	d.IOSuspended = flags[0] == 's'
	d.Counters = make(map[string]int64)
	return d, nil
}

// thousands parses DRBD's "1,234" speed notation; "" gives 0.
func thousands(s string) int64 {
	n, _ := strconv.ParseInt(strings.ReplaceAll(s, ",", ""), 10, 64)
	return n
}
