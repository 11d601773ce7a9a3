package sim

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"xhad/internal/runner"
)

// TestMain lets the test binary act as xl or drbdadm when it is started
// through a symlink of that name, as the xhad binary does.
func TestMain(m *testing.M) {
	switch tool := filepath.Base(os.Args[0]); tool {
	case "xl", "drbdadm":
		os.Exit(Run(tool, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
	}
	os.Exit(m.Run())
}

// toolDir returns a directory with xl and drbdadm symlinks to this test
// binary, to put first in PATH.
func toolDir(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tool := range []string{"xl", "drbdadm"} {
		if err := os.Symlink(exe, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fakeClock is a manual clock; Sleep advances it (and calls onSleep first,
// so a test can look at the state in the middle of a delayed command).
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	onSleep func(d time.Duration)
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Sleep(d time.Duration) {
	f.mu.Lock()
	hook := f.onSleep
	f.mu.Unlock()
	if hook != nil {
		hook(d)
	}
	f.Advance(d)
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

var epoch = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// pair is a simulated pair in a temporary directory, driven in process on a
// fake clock.
type pair struct {
	t     *testing.T
	dir   string
	clock *fakeClock
}

func newPair(t *testing.T, opts InitOptions) *pair {
	t.Helper()
	p := &pair{t: t, dir: t.TempDir(), clock: &fakeClock{now: epoch}}
	if opts.Nodes[0] == "" {
		opts.Nodes = [2]string{"a", "b"}
	}
	if err := p.sim().init(opts); err != nil {
		t.Fatal(err)
	}
	return p
}

func r0(fencing, handler string) []DRBDResource {
	return []DRBDResource{{Name: "r0", Minor: 0, Disk: "/dev/vg0/r0", Port: 7789, Fencing: fencing, Handler: handler}}
}

func (p *pair) sim() *sim { return &sim{dir: p.dir, clock: p.clock, runner: runner.Exec{}} }

// run runs one tool command on node.
func (p *pair) run(node, tool string, args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	code = p.sim().run(tool, node, args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// must runs a command that has to succeed and returns its stdout.
func (p *pair) must(node, tool string, args ...string) string {
	p.t.Helper()
	out, errOut, code := p.run(node, tool, args...)
	if code != 0 {
		p.t.Fatalf("%s %s on %s: exit %d\nstdout: %s\nstderr: %s", tool, strings.Join(args, " "), node, code, out, errOut)
	}
	return out
}

func (p *pair) ctl(args ...string) {
	p.t.Helper()
	p.must("", "ctl", args...)
}

// cfg writes an xl domain config file and returns its path.
func (p *pair) cfg(name, text string) string {
	p.t.Helper()
	path := filepath.Join(p.t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		p.t.Fatal(err)
	}
	return path
}

func (p *pair) journal() []Event {
	p.t.Helper()
	events, err := ReadJournal(p.dir)
	if err != nil {
		p.t.Fatal(err)
	}
	return events
}

// kinds lists the journal events of the given kinds as "node kind k=v..."
// without sequence numbers and times.
func (p *pair) kinds(kinds ...string) []string {
	var out []string
	for _, ev := range p.journal() {
		for _, k := range kinds {
			if ev.Kind == k {
				line := ev.String()
				// Drop "SEQ TIME ".
				parts := strings.SplitN(line, " ", 3)
				out = append(out, parts[2])
			}
		}
	}
	return out
}

func (p *pair) checkInvariants() {
	p.t.Helper()
	events := p.journal()
	if err := checkContiguous(events); err != nil {
		p.t.Fatal(err)
	}
	if err := CheckInvariants(events, nil); err != nil {
		p.t.Fatal(err)
	}
}

const webCfg = `# web server
name = "web"
memory = 512
vcpus = 2
disk = [ 'phy:/dev/drbd0,xvda,w' ]
`
