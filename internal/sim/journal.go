package sim

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Journal event kinds.
const (
	kindInit                  = "init"
	kindSet                   = "set"
	kindAddDRBD               = "drbd-added"
	kindDomainStart           = "domain-start"
	kindDomainRunning         = "domain-running"
	kindDomainStop            = "domain-stop"
	kindDomainShutdownRequest = "domain-shutdown-request"
	kindDomainCrash           = "domain-crash"
	kindDomainMode            = "domain-mode"
	kindDRBDUp                = "drbd-up"
	kindDRBDDown              = "drbd-down"
	kindDRBDPrimary           = "drbd-primary"
	kindDRBDSecondary         = "drbd-secondary"
	kindDRBDDisk              = "drbd-disk"
	kindDRBDWantConnect       = "drbd-connect-wanted"
	kindIOSuspended           = "io-suspended"
	kindIOResumed             = "io-resumed"
	kindConnect               = "connect"
	kindDisconnect            = "disconnect"
	kindLinkCut               = "link-cut"
	kindLinkHealed            = "link-healed"
	kindSyncStart             = "sync-start"
	kindSyncDone              = "sync-done"
	kindSyncAborted           = "sync-aborted"
	kindSplitBrain            = "split-brain"
	kindFenceHandler          = "fence-handler"
	kindRefusal               = "refusal"
	kindHostCrash             = "host-crash"
	kindHostBoot              = "host-boot"
)

// Event is one line of the journal: a state change of the simulated pair.
//
// Its text form is `SEQ TIME NODE KIND key=value ...`, with TIME in
// RFC 3339 (nanoseconds, UTC), NODE "-" for events of the pair as a whole,
// and values quoted Go-style when they hold spaces, quotes or '='.
type Event struct {
	Seq   uint64
	Time  time.Time
	Node  string
	Kind  string
	Attrs []Attr
}

// Attr is one key=value of an event.
type Attr struct {
	Key   string
	Value string
}

// Attr returns the value of key, or "" when the event has none.
func (e Event) Attr(key string) string {
	for _, a := range e.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

// String renders the event as its journal line (without the newline).
func (e Event) String() string {
	var b strings.Builder
	node := e.Node
	if node == "" {
		node = "-"
	}
	fmt.Fprintf(&b, "%d %s %s %s", e.Seq, e.Time.UTC().Format(time.RFC3339Nano), node, e.Kind)
	for _, a := range e.Attrs {
		b.WriteByte(' ')
		b.WriteString(a.Key)
		b.WriteByte('=')
		b.WriteString(quoteValue(a.Value))
	}
	return b.String()
}

func quoteValue(v string) string {
	if v == "" {
		return `""`
	}
	for _, r := range v {
		if r == '"' || r == '=' || r == '\\' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return strconv.Quote(v)
		}
	}
	return v
}

// parseEvent reads one journal line.
func parseEvent(line string) (Event, error) {
	var ev Event
	seq, rest, ok := strings.Cut(line, " ")
	if !ok {
		return ev, errors.New("too few fields")
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return ev, fmt.Errorf("sequence number: %w", err)
	}
	ev.Seq = n
	stamp, rest, ok := strings.Cut(rest, " ")
	if !ok {
		return ev, errors.New("too few fields")
	}
	if ev.Time, err = time.Parse(time.RFC3339Nano, stamp); err != nil {
		return ev, fmt.Errorf("timestamp: %w", err)
	}
	if y := ev.Time.UTC().Year(); y < 1 || y > 9999 {
		return ev, fmt.Errorf("timestamp %s: year %d in UTC is out of range", stamp, y)
	}
	node, rest, ok := strings.Cut(rest, " ")
	if !ok {
		return ev, errors.New("too few fields")
	}
	if node != "-" {
		ev.Node = node
	}
	ev.Kind, rest, _ = strings.Cut(rest, " ")
	if ev.Kind == "" {
		return ev, errors.New("no event kind")
	}
	for rest = strings.TrimLeft(rest, " "); rest != ""; rest = strings.TrimLeft(rest, " ") {
		key, after, ok := strings.Cut(rest, "=")
		if !ok || key == "" || strings.Contains(key, " ") {
			return ev, fmt.Errorf("attribute %q is not key=value", rest)
		}
		var value string
		if strings.HasPrefix(after, `"`) {
			quoted, err := strconv.QuotedPrefix(after)
			if err != nil {
				return ev, fmt.Errorf("attribute %s: %w", key, err)
			}
			if value, err = strconv.Unquote(quoted); err != nil {
				return ev, fmt.Errorf("attribute %s: %w", key, err)
			}
			rest = after[len(quoted):]
		} else {
			value, rest, _ = strings.Cut(after, " ")
		}
		ev.Attrs = append(ev.Attrs, Attr{Key: key, Value: value})
	}
	return ev, nil
}

func appendJournal(dir string, events []Event) error {
	var b strings.Builder
	for _, ev := range events {
		b.WriteString(ev.String())
		b.WriteByte('\n')
	}
	f, err := os.OpenFile(filepath.Join(dir, journalFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("append to journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync journal: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close journal: %w", err)
	}
	return nil
}

// ReadJournal reads the journal of the simulated pair in dir, in file order
// (which is sequence order).
func ReadJournal(dir string) ([]Event, error) {
	f, err := os.Open(filepath.Join(dir, journalFile))
	if err != nil {
		return nil, fmt.Errorf("read simulator journal: %w", err)
	}
	defer f.Close()
	var events []Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for lineNo := 1; sc.Scan(); lineNo++ {
		if sc.Text() == "" {
			continue
		}
		ev, err := parseEvent(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("simulator journal %s line %d: %w", f.Name(), lineNo, err)
		}
		events = append(events, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read simulator journal: %w", err)
	}
	return events, nil
}

// ViolationError is a broken safety invariant found by CheckInvariants.
type ViolationError struct {
	// What names the broken rule and its object.
	What string
	// First is the event that started the state still in force on one node;
	// Second the event that started the same state on the other node.
	First, Second Event
}

func (e *ViolationError) Error() string {
	return fmt.Sprintf("%s: %q is still in force when %q happens", e.What, e.First.String(), e.Second.String())
}

// CheckInvariants replays events in sequence order and returns a
// *ViolationError naming both events when an exclusive domain was ever
// running on both nodes at once, or a DRBD resource was ever Primary on both
// nodes at once. exclusive tells which domains must never run twice; nil
// means all of them. A domain counts as running from its domain-start (the
// moment `xl create` made it, still paused) to its domain-stop.
func CheckInvariants(events []Event, exclusive func(domain string) bool) error {
	sorted := slices.Clone(events)
	slices.SortStableFunc(sorted, func(a, b Event) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Seq == sorted[i-1].Seq {
			return fmt.Errorf("journal has two events with sequence number %d: %q and %q",
				sorted[i].Seq, sorted[i-1].String(), sorted[i].String())
		}
	}
	running := map[string]map[string]Event{} // domain -> node -> domain-start
	primary := map[string]map[string]Event{} // resource -> node -> drbd-primary
	active := map[string]map[string]Event{}  // volume group -> node -> vg-activate
	begin := func(m map[string]map[string]Event, key string, ev Event) *Event {
		holders := m[key]
		if holders == nil {
			holders = map[string]Event{}
			m[key] = holders
		}
		var clash *Event
		for node, prev := range holders {
			if node != ev.Node {
				clash = &prev
			}
		}
		holders[ev.Node] = ev
		return clash
	}
	for _, ev := range sorted {
		switch ev.Kind {
		case kindDomainStart:
			dom := ev.Attr("dom")
			prev := begin(running, dom, ev)
			if prev != nil && (exclusive == nil || exclusive(dom)) {
				return &ViolationError{What: fmt.Sprintf("exclusive domain %s running on both nodes at once", dom), First: *prev, Second: ev}
			}
		case kindDomainStop:
			delete(running[ev.Attr("dom")], ev.Node)
		case kindDRBDPrimary:
			res := ev.Attr("res")
			if prev := begin(primary, res, ev); prev != nil {
				return &ViolationError{What: fmt.Sprintf("DRBD resource %s Primary on both nodes at once", res), First: *prev, Second: ev}
			}
		case kindDRBDSecondary, kindDRBDDown:
			delete(primary[ev.Attr("res")], ev.Node)
		case kindVGActivate:
			vg := ev.Attr("vg")
			if prev := begin(active, vg, ev); prev != nil {
				return &ViolationError{What: fmt.Sprintf("volume group %s active on both nodes at once", vg), First: *prev, Second: ev}
			}
		case kindVGDeactivate:
			delete(active[ev.Attr("vg")], ev.Node)
		case kindHostCrash:
			for _, holders := range active {
				delete(holders, ev.Node)
			}
			for _, holders := range running {
				delete(holders, ev.Node)
			}
			for _, holders := range primary {
				delete(holders, ev.Node)
			}
		}
	}
	return nil
}

// checkContiguous reports a journal whose sequence numbers do not run
// 1, 2, 3, ... without gaps (a lost or duplicated line).
func checkContiguous(events []Event) error {
	for i, ev := range events {
		if ev.Seq != uint64(i+1) {
			return fmt.Errorf("journal line %d has sequence number %d, want %d: the journal is incomplete or reordered", i+1, ev.Seq, i+1)
		}
	}
	return nil
}
