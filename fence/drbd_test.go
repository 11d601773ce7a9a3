package fence

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"xhad/internal/runner"
)

// The test binary doubles as a DRBD handler: drbdadm runs it (through
// /bin/sh -c) when XHAD_FENCE_TEST_HANDLER names a file. It records its
// arguments, its environment and what ParseHandlerEnv made of it, then exits
// with ExitFor of the outcome in XHAD_FENCE_TEST_OUTCOME.
const handlerOutVar = "XHAD_FENCE_TEST_HANDLER"

type handlerRecord struct {
	Args   []string          `json:"args"`
	Env    map[string]string `json:"env"`
	Parsed HandlerEnv        `json:"parsed"`
	Err    string            `json:"err"`
	Code   int               `json:"code"`
}

func TestMain(m *testing.M) {
	if out := os.Getenv(handlerOutVar); out != "" {
		os.Exit(actAsHandler(out))
	}
	os.Exit(m.Run())
}

func actAsHandler(out string) int {
	rec := handlerRecord{Args: os.Args[1:], Env: map[string]string{}}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "DRBD_") || k == "UP_TO_DATE_NODES" {
			rec.Env[k] = v
		}
	}
	env, err := ParseHandlerEnv(os.Getenv)
	rec.Parsed = env
	o := Outcome{}
	kind, arg, _ := strings.Cut(os.Getenv("XHAD_FENCE_TEST_OUTCOME"), ":")
	switch kind {
	case "replied":
		o.Kind = PeerReplied
		o.Code, _ = strconv.Atoi(arg)
	case "unreachable":
		o.Kind = PeerUnreachable
	case "timeout":
		o.Kind = TimedOut
	case "daemon":
		o.Kind = DaemonNotRunning
		o.PeerFenceInPlace = arg == "fenced"
	}
	rec.Code, _ = ExitFor(o)
	if err != nil {
		rec.Err = err.Error()
		rec.Code = ExitNotFenced
	}
	b, _ := json.Marshal(rec)
	if werr := os.WriteFile(out, b, 0o600); werr != nil {
		fmt.Fprintln(os.Stderr, werr)
		return 99
	}
	return rec.Code
}

// needDrbdadm returns the path of a drbdadm program, skipping (or failing
// under CI=true) when drbd-utils is not installed.
func needDrbdadm(t *testing.T, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing and CI=true: apt-get install -y --no-install-recommends drbd-utils kmod", path)
		}
		t.Skipf("%s missing: install drbd-utils", path)
	}
	return path
}

var snippets = []struct {
	version int
	file    string
	drbdadm string
	other   string // the other version's drbdadm, which must refuse the file
}{
	{9, "xhad-drbd9.res.example", "/usr/sbin/drbdadm", "/usr/lib/drbd/drbdadm-84"},
	{84, "xhad-drbd84.res.example", "/usr/lib/drbd/drbdadm-84", "/usr/sbin/drbdadm"},
}

// resourceFile builds a complete config from a shipped snippet: a global
// section (the addresses are not this host's), this host as the first node,
// and, when handler is not empty, xhad replaced by handler.
func resourceFile(t *testing.T, file, handler string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "packaging", "drbd", file))
	if err != nil {
		t.Fatal(err)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`(?m)^(\s*on) xen1 \{`).ReplaceAllString(string(b), "$1 "+host+" {")
	if !strings.Contains(text, "on "+host+" {") {
		t.Fatalf("%s: no `on xen1 {` section to make this host (%s)", file, host)
	}
	if handler != "" {
		if n := strings.Count(text, `"/usr/sbin/xhad `); n != 3 {
			t.Fatalf("%s: want 3 handlers calling /usr/sbin/xhad, found %d", file, n)
		}
		text = strings.ReplaceAll(text, `"/usr/sbin/xhad `, `"`+handler+` `)
	}
	path := filepath.Join(t.TempDir(), "drbd.conf")
	conf := "global { usage-count no; disable-ip-verification; }\n" + text
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func drbdadm(t *testing.T, prog string, env []string, args ...string) (runner.Result, int) {
	t.Helper()
	res, err := runner.Exec{}.Run(context.Background(), runner.Cmd{Path: prog, Args: args, Env: env, Timeout: 30 * time.Second})
	code := 0
	if err != nil {
		code = runner.ExitCode(err)
		if code < 0 {
			t.Fatalf("%s %s: %v", prog, strings.Join(args, " "), err)
		}
	}
	return res, code
}

func TestDRBDSnippetsDump(t *testing.T) {
	for _, s := range snippets {
		t.Run(s.file, func(t *testing.T) {
			prog := needDrbdadm(t, s.drbdadm)
			conf := resourceFile(t, s.file, "")
			res, code := drbdadm(t, prog, nil, "-c", conf, "dump", "r0")
			if code != 0 {
				t.Fatalf("%s -c FILE dump r0: exit %d\n%s", prog, code, res.Stderr)
			}
			out := string(res.Stdout)
			section := "net"
			if s.version == 84 {
				section = "disk"
			}
			block := regexp.MustCompile(`(?m)^    ` + section + ` \{\n([^}]*)\}`).FindStringSubmatch(out)
			if block == nil || !strings.Contains(block[1], "fencing          resource-only;") {
				t.Errorf("dump: no fencing resource-only in the %s section:\n%s", section, out)
			}
			for _, want := range []string{
				`fence-peer       "/usr/sbin/xhad fence-peer";`,
				`unfence-peer     "/usr/sbin/xhad unfence --peer";`,
				`after-resync-target "/usr/sbin/xhad unfence --peer";`,
			} {
				if !strings.Contains(out, want) {
					t.Errorf("dump lacks %q:\n%s", want, out)
				}
			}
			// fencing is a net option in 9 and a disk option in 8.4: the
			// other version's parser refuses the snippet.
			other := needDrbdadm(t, s.other)
			res, code = drbdadm(t, other, nil, "-c", conf, "dump", "r0")
			if code != 10 || !strings.Contains(string(res.Stderr), "fencing") {
				t.Errorf("%s on the DRBD %d snippet: exit %d, want 10 with a parse error at fencing\n%s", other, s.version, code, res.Stderr)
			}
		})
	}
}

func TestDRBDFencePeerExitCodes(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(self, " \t\"'\\$`") {
		t.Skipf("test binary path %q cannot be written into a DRBD handler string", self)
	}
	// The kernel's variables, set by hand (reference 1.2).
	kernel9 := []string{"HOME=/", "TERM=linux", "DRBD_MY_ADDRESS=10.0.0.1", "DRBD_MY_AF=ipv4", "DRBD_PEER_ADDRESS=10.0.0.2",
		"DRBD_PEER_AF=ipv4", "DRBD_PEER_NODE_ID=1", "DRBD_CSTATE=Connecting", "DRBD_MINOR_0=0",
		"DRBD_BACKING_DEV_0=/dev/vg0/r0", "UP_TO_DATE_NODES=0x00000001"}
	kernel84 := []string{"HOME=/", "TERM=linux", "DRBD_PEER_AF=ipv4", "DRBD_PEER_ADDRESS=10.0.0.2"}
	outcomes := []struct {
		outcome string
		code    int
	}{
		{"replied:0", 4}, {"replied:5", 3}, {"replied:17", 6}, {"replied:20", 100},
		{"unreachable", 5}, {"timeout", 100}, {"daemon", 100}, {"daemon:fenced", 5},
	}
	for _, s := range snippets {
		prog := needDrbdadm(t, s.drbdadm)
		conf := resourceFile(t, s.file, self)
		kernel := kernel9
		if s.version == 84 {
			kernel = kernel84
		}
		for _, o := range outcomes {
			t.Run(fmt.Sprintf("drbd%d/%s", s.version, o.outcome), func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "handler.json")
				env := append([]string{handlerOutVar + "=" + out, "XHAD_FENCE_TEST_OUTCOME=" + o.outcome}, kernel...)
				res, code := drbdadm(t, prog, env, "-c", conf, "fence-peer", "r0")
				b, err := os.ReadFile(out)
				if err != nil {
					t.Fatalf("the handler did not run (drbdadm exit %d): %v\n%s", code, err, res.Stderr)
				}
				var rec handlerRecord
				if err := json.Unmarshal(b, &rec); err != nil {
					t.Fatal(err)
				}
				if rec.Code != o.code {
					t.Errorf("handler chose %d, want %d", rec.Code, o.code)
				}
				if code != rec.Code {
					t.Errorf("drbdadm exit %d, handler exit %d: drbdadm must pass it through\n%s", code, rec.Code, res.Stderr)
				}
				if code >= 10 && !strings.Contains(string(res.Stderr), fmt.Sprintf("terminated with exit code %d", code)) {
					t.Errorf("drbdadm stderr lacks its 'terminated with exit code %d' line:\n%s", code, res.Stderr)
				}
				if strings.Join(rec.Args, " ") != "fence-peer" || rec.Err != "" {
					t.Errorf("handler args %q, parse error %q", rec.Args, rec.Err)
				}
				p := rec.Parsed
				if p.Resource != "r0" || p.PeerNode != "xen2" || p.PeerAddress != "10.0.0.2" || p.Conf != conf ||
					strings.Join(p.Minors, " ") != "0" {
					t.Errorf("parsed environment %+v\nfrom %v", p, rec.Env)
				}
				if s.version == 9 && (p.Version != 9 || p.PeerNodeID != "1" || p.UpToDate != 1 || rec.Env["DRBD_PEER"] != "") {
					t.Errorf("DRBD 9: parsed %+v from %v", p, rec.Env)
				}
				if s.version == 84 && (p.Version != 8 || rec.Env["DRBD_PEERS"] != "xen2") {
					t.Errorf("DRBD 8.4: parsed %+v from %v", p, rec.Env)
				}
			})
		}
		t.Run(fmt.Sprintf("drbd%d/unfence-peer", s.version), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "handler.json")
			env := append([]string{handlerOutVar + "=" + out, "XHAD_FENCE_TEST_OUTCOME=replied:0"}, kernel...)
			res, _ := drbdadm(t, prog, env, "-c", conf, "unfence-peer", "r0")
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("the unfence-peer handler did not run: %v\n%s", err, res.Stderr)
			}
			var rec handlerRecord
			if err := json.Unmarshal(b, &rec); err != nil {
				t.Fatal(err)
			}
			if strings.Join(rec.Args, " ") != "unfence --peer" {
				t.Errorf("unfence-peer handler args %q, want \"unfence --peer\"", rec.Args)
			}
		})
	}
}
