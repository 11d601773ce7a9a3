package sim

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func ev(seq uint64, node, kind string, kv ...string) Event {
	e := Event{Seq: seq, Time: epoch.Add(time.Duration(seq) * time.Millisecond), Node: node, Kind: kind}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Attrs = append(e.Attrs, Attr{kv[i], kv[i+1]})
	}
	return e
}

func TestEventTextRoundTrip(t *testing.T) {
	tests := []struct {
		event Event
		line  string
	}{
		{ev(1, "", kindInit, "nodes", "a,b"), "1 2026-11-22T10:00:00.001Z - init nodes=a,b"},
		{ev(12, "a", kindRefusal, "cmd", "drbdadm primary r0", "code", "11", "why", `say "no"=x`),
			`12 2026-11-22T10:00:00.012Z a refusal cmd="drbdadm primary r0" code=11 why="say \"no\"=x"`},
		{ev(3, "b", kindSet, "key", "", "value", "tab\there"), `3 2026-11-22T10:00:00.003Z b set key="" value="tab\there"`},
	}
	for _, tc := range tests {
		if got := tc.event.String(); got != tc.line {
			t.Errorf("String:\n got %s\nwant %s", got, tc.line)
		}
		back, err := parseEvent(tc.line)
		if err != nil {
			t.Fatalf("parse %q: %v", tc.line, err)
		}
		if back.String() != tc.line || !back.Time.Equal(tc.event.Time) || back.Node != tc.event.Node || len(back.Attrs) != len(tc.event.Attrs) {
			t.Errorf("round trip of %q gave %+v", tc.line, back)
		}
	}
	for _, bad := range []string{"", "x 2026-11-22T10:00:00Z a k", "1 yesterday a k", "1 2026-11-22T10:00:00Z a", "1 2026-11-22T10:00:00Z a k novalue", `1 2026-11-22T10:00:00Z a k v="open`} {
		if _, err := parseEvent(bad); err == nil {
			t.Errorf("parseEvent(%q) accepted a malformed line", bad)
		}
	}
}

func TestCheckInvariants(t *testing.T) {
	start := func(seq uint64, node, dom string) Event { return ev(seq, node, kindDomainStart, "dom", dom, "id", "1") }
	stop := func(seq uint64, node, dom string) Event {
		return ev(seq, node, kindDomainStop, "dom", dom, "id", "1", "how", "shutdown")
	}
	promote := func(seq uint64, node string) Event { return ev(seq, node, kindDRBDPrimary, "res", "r0") }
	demote := func(seq uint64, node string) Event { return ev(seq, node, kindDRBDSecondary, "res", "r0") }
	onlyWebExclusive := func(dom string) bool { return dom == "web" }
	tests := []struct {
		name      string
		events    []Event
		exclusive func(string) bool
		// violation names the two clashing events by sequence number; 0 0
		// means the journal must pass.
		first, second uint64
		errText       string
	}{
		{name: "failover without overlap", events: []Event{start(1, "a", "web"), stop(2, "a", "web"), start(3, "b", "web")}},
		{name: "overlap", events: []Event{start(1, "a", "web"), start(2, "b", "web"), stop(3, "a", "web")}, first: 1, second: 2},
		{name: "overlap found in sequence order, not slice order", events: []Event{stop(3, "a", "web"), start(2, "b", "web"), start(1, "a", "web")}, first: 1, second: 2},
		{name: "stop on the wrong node does not end it", events: []Event{start(1, "a", "web"), stop(2, "b", "web"), start(3, "b", "web")}, first: 1, second: 3},
		{name: "a domain that may run on both", events: []Event{start(1, "a", "router"), start(2, "b", "router")}, exclusive: onlyWebExclusive},
		{name: "other domains stay exclusive", events: []Event{start(1, "a", "router"), start(2, "b", "router"), start(3, "a", "web"), start(4, "b", "web")},
			exclusive: onlyWebExclusive, first: 3, second: 4},
		{name: "restart on the same node", events: []Event{start(1, "a", "web"), start(2, "a", "web")}},
		{name: "host crash ends everything there", events: []Event{start(1, "a", "web"), promote(2, "a"), ev(3, "a", kindHostCrash), promote(4, "b"), start(5, "b", "web")}},
		{name: "two primaries", events: []Event{promote(1, "a"), promote(2, "b")}, first: 1, second: 2},
		{name: "demote then promote", events: []Event{promote(1, "a"), demote(2, "a"), promote(3, "b")}},
		{name: "down ends a Primary", events: []Event{promote(1, "a"), ev(2, "a", kindDRBDDown, "res", "r0"), promote(3, "b")}},
		{name: "other resources are separate", events: []Event{promote(1, "a"), ev(2, "b", kindDRBDPrimary, "res", "r1")}},
		{name: "duplicate sequence number", events: []Event{start(1, "a", "x"), start(1, "b", "y")}, errText: "two events with sequence number 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckInvariants(tc.events, tc.exclusive)
			switch {
			case tc.errText != "":
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("error %v, want one saying %q", err, tc.errText)
				}
			case tc.first == 0:
				if err != nil {
					t.Fatalf("a safe journal failed: %v", err)
				}
			default:
				var v *ViolationError
				if !errors.As(err, &v) {
					t.Fatalf("error %v, want a *ViolationError", err)
				}
				if v.First.Seq != tc.first || v.Second.Seq != tc.second {
					t.Fatalf("violation names events %d and %d, want %d and %d: %v", v.First.Seq, v.Second.Seq, tc.first, tc.second, err)
				}
				for _, e := range []Event{v.First, v.Second} {
					if !strings.Contains(err.Error(), e.String()) {
						t.Fatalf("message %q does not show event %q", err, e)
					}
				}
			}
		})
	}
}

func TestCheckContiguous(t *testing.T) {
	ok := []Event{ev(1, "", kindInit), ev(2, "a", kindSet), ev(3, "b", kindSet)}
	if err := checkContiguous(ok); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]Event{{ev(1, "", kindInit), ev(3, "a", kindSet)}, {ev(2, "", kindInit)}, {ev(1, "", kindInit), ev(1, "a", kindSet)}} {
		if err := checkContiguous(bad); err == nil {
			t.Errorf("checkContiguous accepted %v", bad)
		}
	}
}

// The checker on a real journal: the same exclusive domain started on both
// nodes (no DRBD disk to stop it) is caught; naming it non-exclusive passes.
func TestCtlCheckOnARealJournal(t *testing.T) {
	p := newPair(t, InitOptions{})
	cfg := p.cfg("x.cfg", "name = \"router\"\n")
	p.must("a", "xl", "create", cfg)
	p.ctl("check")
	p.must("b", "xl", "create", cfg)
	_, errOut, code := p.run("", "ctl", "check")
	if code != 1 || !strings.Contains(errOut, "exclusive domain router running on both nodes at once") ||
		!strings.Contains(errOut, " a domain-start dom=router id=1") || !strings.Contains(errOut, " b domain-start dom=router id=1") {
		t.Fatalf("ctl check: exit %d\n%s", code, errOut)
	}
	p.ctl("check", "--both", "router")
	events, err := ReadJournal(p.dir)
	if err != nil {
		t.Fatal(err)
	}
	out := p.must("", "ctl", "journal")
	var lines []string
	for _, e := range events {
		lines = append(lines, e.String())
	}
	if out != strings.Join(lines, "\n")+"\n" {
		t.Fatalf("ctl journal and ReadJournal disagree:\n%s\n---\n%s", out, strings.Join(lines, "\n"))
	}
	if err := checkContiguous(events); err != nil {
		t.Fatal(err)
	}
	if events[0].Kind != kindInit || fmt.Sprint(events[0].Seq) != "1" {
		t.Fatalf("first event %v", events[0])
	}
}
