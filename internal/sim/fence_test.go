package sim

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// envHandler is a fence-peer handler that writes its arguments and sorted
// environment to OUT/argv and OUT/env, then exits with CODE; the handler
// string passes both: "fence-peer.sh OUT CODE".
const envHandler = `out=$1
echo "$0 $*" > "$out/argv"
env | sort > "$out/env"
exit "$2"
`

func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the handler did not run: %v", err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	return env
}

func TestPromoteRunsFencePeerHandlerWithDRBDEnvironment(t *testing.T) {
	script := writeHandler(t, envHandler)
	out := t.TempDir()
	p := newPair(t, InitOptions{DRBD: r0(fencingResourceOnly, script+" "+out+" 4")})
	p.ctl("disconnect", "r0")
	p.must("a", "drbdadm", "primary", "r0")

	argv, err := os.ReadFile(filepath.Join(out, "argv"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(argv)); got != script+" "+out+" 4" {
		t.Fatalf("handler argv %q: want the handler string split on spaces", got)
	}
	env := readEnv(t, filepath.Join(out, "env"))
	want := map[string]string{
		"DRBD_RESOURCE":      "r0",
		"DRBD_CONF":          filepath.Join(p.dir, "drbd.conf"),
		"DRBD_NODE_ID_0":     "a",
		"DRBD_NODE_ID_1":     "b",
		"DRBD_MY_NODE_ID":    "0",
		"DRBD_PEER_NODE_ID":  "1",
		"DRBD_MINOR":         "0",
		"DRBD_MINOR_0":       "0",
		"DRBD_VOLUME":        "0",
		"DRBD_LL_DISK":       "/dev/vg0/r0",
		"DRBD_BACKING_DEV_0": "/dev/vg0/r0",
		"DRBD_MY_ADDRESS":    "10.0.0.1",
		"DRBD_MY_AF":         "ipv4",
		"DRBD_PEER_ADDRESS":  "10.0.0.2",
		"DRBD_PEER_AF":       "ipv4",
		"DRBD_CSTATE":        "Connecting",
		"UP_TO_DATE_NODES":   "0x00000001",
		"XHAD_SIM_DIR":       p.dir,
		"XHAD_SIM_NODE":      "a",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("handler environment %s=%q, want %q", k, env[k], v)
		}
	}
	for _, absent := range []string{"DRBD_PEER", "DRBD_PEERS"} {
		if _, ok := env[absent]; ok {
			t.Errorf("DRBD 9 does not set %s", absent)
		}
	}
	if _, err := os.Stat(filepath.Join(p.dir, "drbd.conf")); err != nil {
		t.Errorf("DRBD_CONF names a file that does not exist: %v", err)
	}
}

func TestFencePeerExitCodesOnPromote(t *testing.T) {
	refused7 := "r0: State change failed: (-7) Refusing to be Primary while peer is not outdated\nCommand 'drbdsetup primary r0' terminated with exit code 11\n"
	refused2 := "r0: State change failed: (-2) Need access to UpToDate data\nCommand 'drbdsetup primary r0' terminated with exit code 17\n"
	tests := []struct {
		rc      string
		fencing string
		code    int
		stderr  string
		dstate  string
		effect  string
	}{
		{"3", fencingResourceOnly, 0, "", "UpToDate/Inconsistent\n", "peer is inconsistent or worse"},
		{"4", fencingResourceOnly, 0, "", "UpToDate/Outdated\n", "peer was fenced"},
		{"5", fencingResourceOnly, 0, "", "UpToDate/Outdated\n", "peer is unreachable, assumed to be dead"},
		{"6", fencingResourceOnly, 17, refused2, "Outdated/DUnknown\n", "peer is active, outdating myself"},
		{"7", fencingStonith, 0, "", "UpToDate/Outdated\n", "peer was stonithed"},
		{"7", fencingResourceOnly, 0, "", "UpToDate/Outdated\n", "peer was stonithed (fence-peer() = 7 && fencing != Stonith !!!)"},
		{"0", fencingResourceOnly, 11, refused7, "UpToDate/DUnknown\n", "fence-peer helper broken, returned 0"},
		{"1", fencingStonith, 11, refused7, "UpToDate/DUnknown\n", "fence-peer helper broken, returned 1"},
		{"11", fencingResourceOnly, 11, refused7, "UpToDate/DUnknown\n", "fence-peer helper broken, returned 11"},
	}
	for _, tc := range tests {
		t.Run(tc.rc+" "+tc.fencing, func(t *testing.T) {
			script := writeHandler(t, envHandler)
			out := t.TempDir()
			p := newPair(t, InitOptions{DRBD: r0(tc.fencing, script+" "+out+" "+tc.rc)})
			p.ctl("disconnect", "r0")
			_, errOut, code := p.run("a", "drbdadm", "primary", "r0")
			if code != tc.code || errOut != tc.stderr {
				t.Fatalf("primary: exit %d stderr %q\nwant exit %d stderr %q", code, errOut, tc.code, tc.stderr)
			}
			if got := p.must("a", "drbdadm", "dstate", "r0"); got != tc.dstate {
				t.Fatalf("dstate %q, want %q", got, tc.dstate)
			}
			readEnv(t, filepath.Join(out, "env"))
			handlerRuns := 0
			for _, ev := range p.journal() {
				if ev.Kind == kindFenceHandler {
					handlerRuns++
					if ev.Attr("rc") != tc.rc || ev.Attr("effect") != tc.effect || ev.Attr("why") != "promote" {
						t.Fatalf("journal %s", ev)
					}
				}
			}
			if handlerRuns != 1 {
				t.Fatalf("handler ran %d times, want once", handlerRuns)
			}
			p.checkInvariants()
		})
	}
}

func TestFencePeerSpecialCases(t *testing.T) {
	tests := []struct {
		name    string
		handler func(t *testing.T) string
		setup   func(p *pair)
		args    []string
		code    int
		rc      string // handler exit code journaled; "" when it must not run
		after   string // a dstate afterwards
	}{
		{name: "no handler configured counts as exit 0", handler: func(*testing.T) string { return "" },
			args: []string{"primary", "r0"}, code: 11, rc: "0", after: "UpToDate/DUnknown\n"},
		{name: "a handler that does not exist", handler: func(*testing.T) string { return "/nonexistent/fence-peer" },
			args: []string{"primary", "r0"}, code: 11, rc: "127", after: "UpToDate/DUnknown\n"},
		{name: "force after a failed handler", handler: func(t *testing.T) string { return exitHandler(t, "1") },
			args: []string{"primary", "--force", "r0"}, code: 0, rc: "1", after: "UpToDate/Outdated\n"},
		{name: "Consistent disk, peer fenced", handler: func(t *testing.T) string { return exitHandler(t, "4") },
			setup: func(p *pair) {
				p.ctl("disk", "r0", "a", "Consistent")
				p.ctl("disconnect", "r0")
			},
			args: []string{"primary", "r0"}, code: 0, rc: "4", after: "UpToDate/Outdated\n"},
		{name: "Consistent disk, fencing failed", handler: func(t *testing.T) string { return exitHandler(t, "1") },
			setup: func(p *pair) {
				p.ctl("disk", "r0", "a", "Consistent")
				p.ctl("disconnect", "r0")
			},
			args: []string{"primary", "r0"}, code: 17, rc: "1", after: "Consistent/DUnknown\n"},
		{name: "peer known Outdated: no handler", handler: func(t *testing.T) string { return exitHandler(t, "1") },
			setup: func(p *pair) {
				p.must("a", "drbdadm", "primary", "r0")
				p.must("b", "drbdadm", "disconnect", "r0") // graceful: b outdates itself
				p.must("a", "drbdadm", "secondary", "r0")
			},
			args: []string{"primary", "r0"}, code: 0, rc: "", after: "UpToDate/Outdated\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, InitOptions{DRBD: r0(fencingResourceOnly, tc.handler(t))})
			if tc.setup != nil {
				tc.setup(p)
			} else {
				p.ctl("disconnect", "r0")
			}
			_, errOut, code := p.run("a", "drbdadm", tc.args...)
			if code != tc.code {
				t.Fatalf("drbdadm %v: exit %d (%q), want %d", tc.args, code, errOut, tc.code)
			}
			var rcs []string
			for _, ev := range p.journal() {
				if ev.Kind == kindFenceHandler {
					rcs = append(rcs, ev.Attr("rc"))
				}
			}
			if (tc.rc == "" && len(rcs) > 0) || (tc.rc != "" && !slices.Contains(rcs, tc.rc)) {
				t.Fatalf("handler results journaled %q, want rc=%q (empty: the handler must not run)", rcs, tc.rc)
			}
			if got := p.must("a", "drbdadm", "dstate", "r0"); got != tc.after {
				t.Fatalf("dstate %q, want %q", got, tc.after)
			}
		})
	}
}

func TestConnectionLossRunsHandlerOnThePrimary(t *testing.T) {
	tests := []struct {
		name      string
		rc        string
		status    string
		suspended bool
	}{
		{"peer fenced: I/O resumes", "4", "r0 role:Primary\n  disk:UpToDate\n  b connection:Connecting\n\n", false},
		{"handler failed: I/O stays frozen", "1", "r0 role:Primary suspended:fencing\n  disk:UpToDate\n  b connection:Connecting\n\n", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			script := writeHandler(t, envHandler)
			out := t.TempDir()
			p := newPair(t, InitOptions{DRBD: r0(fencingStonith, script+" "+out+" "+tc.rc)})
			p.must("a", "drbdadm", "primary", "r0")
			p.ctl("disconnect", "r0")
			env := readEnv(t, filepath.Join(out, "env"))
			if env["XHAD_SIM_NODE"] != "a" || env["UP_TO_DATE_NODES"] != "0x00000001" || env["DRBD_CSTATE"] != "Connecting" {
				t.Fatalf("handler ran with %v", env)
			}
			if got := p.must("a", "drbdadm", "status", "r0"); got != tc.status {
				t.Fatalf("status %q, want %q", got, tc.status)
			}
			if !tc.suspended {
				return
			}
			// The operator resumes I/O by hand, or the connection returns.
			p.must("a", "drbdadm", "resume-io", "r0")
			if got := p.must("a", "drbdadm", "status", "r0"); strings.Contains(got, "suspended") {
				t.Fatalf("still suspended after resume-io: %q", got)
			}
		})
	}
}

// A handler that really reaches the peer: it runs `drbdadm outdate` on the
// other node through the simulator (the lock is released while it runs) and
// maps the result like LINBIT's outdate-peer.sh.
func TestHandlerOutdatesThePeerThroughTheSimulator(t *testing.T) {
	tools := toolDir(t)
	script := writeHandler(t, `tools=$1
eval peer=\$DRBD_NODE_ID_$DRBD_PEER_NODE_ID
XHAD_SIM_NODE=$peer "$tools/drbdadm" outdate "$DRBD_RESOURCE"
case $? in 0) exit 4;; 5) exit 3;; 17) exit 6;; *) exit 5;; esac
`)
	p := newPair(t, InitOptions{DRBD: r0(fencingResourceOnly, script+" "+tools)})
	p.ctl("disconnect", "r0")
	p.must("a", "drbdadm", "primary", "r0")
	if got := p.must("b", "drbdadm", "dstate", "r0"); got != "Outdated/DUnknown\n" {
		t.Fatalf("b after a fenced it: %q", got)
	}
	// Now b tries: its handler finds a Primary (outdate exits 17 -> 6).
	p.ctl("disk", "r0", "b", "UpToDate")
	_, errOut, code := p.run("b", "drbdadm", "primary", "r0")
	if code != 17 || !strings.Contains(errOut, "(-2) Need access to UpToDate data") {
		t.Fatalf("b promote against a Primary: exit %d %q", code, errOut)
	}
	if got := p.must("b", "drbdadm", "dstate", "r0"); got != "Outdated/DUnknown\n" {
		t.Fatalf("b did not outdate itself: %q", got)
	}
	p.checkInvariants()
}
