package statefile

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// state is a stand-in for what the daemon persists.
type state struct {
	Node   string            `json:"node"`
	Epoch  uint64            `json:"epoch"`
	Role   string            `json:"role"`
	Fenced bool              `json:"fenced"`
	Groups map[string]string `json:"groups,omitempty"`
	Note   string            `json:"note,omitempty"`
}

// helperEnv makes the test binary act as a helper process (see TestMain).
const helperEnv = "XHAD_STATEFILE_TEST_HELPER"

// childTimeout bounds every wait on a helper process.
const childTimeout = 20 * time.Second

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Getenv("XHAD_STATEFILE_TEST_DIR")))
	}
	os.Exit(m.Run())
}

// runHelper is the child side of the cross-process tests. It reports on
// stdout with one line and, for the holding modes, waits for stdin to close.
func runHelper(mode, dir string) int {
	switch mode {
	case "try-lock":
		unlock, err := Lock(dir)
		if err != nil {
			fmt.Println(err)
			return 3
		}
		fmt.Println("locked")
		if err := unlock(); err != nil {
			fmt.Println(err)
			return 1
		}
		return 0
	case "hold-lock":
		unlock, err := Lock(dir)
		if err != nil {
			fmt.Println(err)
			return 3
		}
		fmt.Println("locked")
		io.Copy(io.Discard, os.Stdin)
		if err := unlock(); err != nil {
			fmt.Println(err)
			return 1
		}
		return 0
	case "wait":
		fmt.Println("waiting")
		io.Copy(io.Discard, os.Stdin)
		return 0
	}
	fmt.Println("unknown helper mode", mode)
	return 2
}

func TestSaveLoadRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		saves []state
	}{
		{"one save", []state{{Node: "a", Epoch: 1, Role: "STANDBY"}}},
		{"overwrite", []state{
			{Node: "a", Epoch: 1, Role: "STANDBY", Groups: map[string]string{"g1": "ACTIVE", "g2": "STANDBY"}, Note: strings.Repeat("x", 10000)},
			{Node: "a", Epoch: 2, Role: "ACTIVE", Fenced: true},
		}},
		{"unicode and control characters", []state{{Node: "узел-1", Role: "ACTIVE", Note: "line1\nline2\t\"quoted\"\x00"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			for _, want := range tt.saves {
				if err := Save(path, want); err != nil {
					t.Fatalf("Save: %v", err)
				}
				var got state
				found, err := Load(path, &got)
				if err != nil || !found {
					t.Fatalf("Load = %v, %v; want found", found, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("loaded %+v, saved %+v", got, want)
				}
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if mode := info.Mode().Perm(); mode != 0o600 {
				t.Errorf("state file mode %v, want 0600", mode)
			}
			assertDirHolds(t, dir, "state.json")
		})
	}
}

// assertDirHolds checks that dir holds exactly the named files.
func assertDirHolds(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !reflect.DeepEqual(got, names) {
		t.Errorf("directory holds %q, want %q", got, names)
	}
}

func TestLoadMissing(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{filepath.Join(dir, "state.json"), filepath.Join(dir, "no-such-dir", "state.json")} {
		v := state{Node: "untouched"}
		found, err := Load(path, &v)
		if found || err != nil {
			t.Errorf("Load(%s) = %v, %v; want false, nil", path, found, err)
		}
		if v.Node != "untouched" {
			t.Errorf("Load(%s) changed the value to %+v", path, v)
		}
	}
}

// TestCrashBeforeRenameKeepsOldState leaves, for every possible crash point,
// a partly written temporary file next to the state, as a Save interrupted
// between write and rename would: Load must return the old state whole, and
// the next Save must clean up and succeed.
func TestCrashBeforeRenameKeepsOldState(t *testing.T) {
	old := state{Node: "a", Epoch: 4, Role: "ACTIVE"}
	next := state{Node: "a", Epoch: 5, Role: "STOPPING", Groups: map[string]string{"g": "STOPPING"}}
	newData, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for _, withOld := range []bool{true, false} {
		t.Run(fmt.Sprintf("previous state %v", withOld), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			if withOld {
				if err := Save(path, old); err != nil {
					t.Fatal(err)
				}
			}
			for cut := 0; cut <= len(newData); cut += 7 {
				leftover, err := os.CreateTemp(dir, tempPattern(path))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := leftover.Write(newData[:cut]); err != nil {
					t.Fatal(err)
				}
				leftover.Close()
				var got state
				found, err := Load(path, &got)
				if err != nil {
					t.Fatalf("crash after %d bytes: Load: %v", cut, err)
				}
				if found != withOld || (withOld && !reflect.DeepEqual(got, old)) {
					t.Fatalf("crash after %d bytes: Load = %v, %+v; want %v, %+v", cut, found, got, withOld, old)
				}
			}
			if err := Save(path, next); err != nil {
				t.Fatalf("Save after the crashes: %v", err)
			}
			var got state
			if found, err := Load(path, &got); err != nil || !found || !reflect.DeepEqual(got, next) {
				t.Fatalf("Load after Save = %v, %+v, %v; want %+v", found, got, err, next)
			}
			assertDirHolds(t, dir, "state.json")
		})
	}
}

// TestSaveReplacesNotRewrites checks that Save never writes into the current
// file: a reader that opened the old version keeps reading it whole.
func TestSaveReplacesNotRewrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	old := state{Node: "a", Epoch: 1, Role: "ACTIVE", Note: strings.Repeat("old ", 1000)}
	if err := Save(path, old); err != nil {
		t.Fatal(err)
	}
	reader, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if err := Save(path, state{Node: "a", Epoch: 2, Role: "STANDBY"}); err != nil {
		t.Fatal(err)
	}
	var got state
	if err := json.NewDecoder(reader).Decode(&got); err != nil || !reflect.DeepEqual(got, old) {
		t.Fatalf("the old file changed under its reader: %+v, %v", got, err)
	}
	oldInfo, err := reader.Stat()
	if err != nil {
		t.Fatal(err)
	}
	newInfo, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(oldInfo, newInfo) {
		t.Error("Save wrote into the existing file instead of replacing it")
	}
}

func TestSaveFailureKeepsOldState(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	old := state{Node: "a", Epoch: 9}
	if err := Save(path, old); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		value   any
		wantErr []string
	}{
		{"value JSON cannot encode", path, map[string]any{"bad": make(chan int)}, []string{"save state " + path + ": encode:", "unsupported type"}},
		{"missing directory", filepath.Join(dir, "gone", "state.json"), old, []string{"save state " + filepath.Join(dir, "gone", "state.json"), "no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Save(tt.path, tt.value)
			if err == nil {
				t.Fatal("Save succeeded, want an error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			var got state
			if found, err := Load(path, &got); err != nil || !found || !reflect.DeepEqual(got, old) {
				t.Errorf("after the failed Save, Load = %v, %+v, %v; want %+v", found, got, err, old)
			}
			assertDirHolds(t, dir, "state.json")
		})
	}
}

func TestLoadCorrupt(t *testing.T) {
	tests := []struct {
		name    string
		content string
		cause   string
	}{
		{"empty", "", "file is empty"},
		{"blank", " \n\t\n", "file is empty"},
		{"zeros left by a power cut", "\x00\x00\x00\x00", "invalid JSON: invalid character"},
		{"truncated", `{"node": "a", "epo`, "invalid JSON: unexpected EOF"},
		{"trailing garbage", `{"node": "a"} x`, "invalid JSON: unexpected data after offset"},
		{"two values", `{"node": "a"}{"node": "b"}`, "invalid JSON: unexpected data after offset"},
		{"wrong shape", `["a", 1]`, "invalid JSON: json: cannot unmarshal array"},
		{"wrong field type", `{"epoch": "five"}`, "invalid JSON: json: cannot unmarshal string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			var got state
			found, err := Load(path, &got)
			if err == nil || found {
				t.Fatalf("Load = %v, %v; want an error", found, err)
			}
			for _, want := range []string{
				"state file " + path + " is corrupt (",
				tt.cause,
				"move it aside (mv " + path + " " + path + ".corrupt)",
			} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestLoadIgnoresUnknownFields(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte(`{"node": "a", "epoch": 3, "added-later": {"x": 1}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var got state
	found, err := Load(path, &got)
	if err != nil || !found || got.Node != "a" || got.Epoch != 3 {
		t.Fatalf("Load = %v, %+v, %v; want node a epoch 3", found, got, err)
	}
}

func TestLockInProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatalf("first Lock: %v", err)
	}
	info, err := os.Stat(dir)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("created state dir: %v, %v; want mode 0700", info, err)
	}
	pidText, err := os.ReadFile(filepath.Join(dir, LockFileName))
	if err != nil || strings.TrimSpace(string(pidText)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file holds %q, %v; want our pid %d", pidText, err, os.Getpid())
	}
	want := fmt.Sprintf("state dir %s is in use by another xhad (pid %d)", dir, os.Getpid())
	if _, err := Lock(dir); err == nil || err.Error() != want {
		t.Fatalf("second Lock: %v; want %q", err, want)
	}
	if err := unlock(); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatalf("second unlock: %v", err)
	}
	unlockAgain, err := Lock(dir)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	if err := unlockAgain(); err != nil {
		t.Fatal(err)
	}
}

func TestLockNoPIDRecorded(t *testing.T) {
	dir := t.TempDir()
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	// A holder that crashed between flock and writing its pid, or wrote junk.
	for _, content := range []string{"", "junk\n"} {
		if err := os.WriteFile(filepath.Join(dir, LockFileName), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("state dir %s is in use by another xhad (pid unknown)", dir)
		if _, err := Lock(dir); err == nil || err.Error() != want {
			t.Errorf("with lock file %q: Lock = %v; want %q", content, err, want)
		}
	}
}

// child is a helper process running this test binary.
type child struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

func startChild(t *testing.T, mode, dir string) *child {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "XHAD_STATEFILE_TEST_DIR="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper %s: %v", mode, err)
	}
	c := &child{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return c
}

// line waits for the child's next line of output.
func (c *child) line() string {
	c.t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			c.t.Fatalf("helper %v exited without a line", c.cmd.Args)
		}
		return l
	case <-time.After(childTimeout):
		c.t.Fatalf("helper %v said nothing within %v", c.cmd.Args, childTimeout)
	}
	return ""
}

// wait waits for the child to exit and returns its exit code.
func (c *child) wait() int {
	c.t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return exitErr.ExitCode()
		}
		if err != nil {
			c.t.Fatalf("wait for helper: %v", err)
		}
		return 0
	case <-time.After(childTimeout):
		c.t.Fatalf("helper %v did not exit within %v", c.cmd.Args, childTimeout)
	}
	return -1
}

func TestLockExcludesOtherProcess(t *testing.T) {
	t.Run("child refused while we hold it", func(t *testing.T) {
		dir := t.TempDir()
		unlock, err := Lock(dir)
		if err != nil {
			t.Fatal(err)
		}
		c := startChild(t, "try-lock", dir)
		want := fmt.Sprintf("state dir %s is in use by another xhad (pid %d)", dir, os.Getpid())
		if got := c.line(); got != want {
			t.Errorf("child said %q, want %q", got, want)
		}
		if code := c.wait(); code != 3 {
			t.Errorf("child exit code %d, want 3", code)
		}
		if err := unlock(); err != nil {
			t.Fatal(err)
		}
		c = startChild(t, "try-lock", dir)
		if got := c.line(); got != "locked" {
			t.Errorf("child after unlock said %q, want locked", got)
		}
	})

	t.Run("we are refused while child holds it", func(t *testing.T) {
		dir := t.TempDir()
		c := startChild(t, "hold-lock", dir)
		if got := c.line(); got != "locked" {
			t.Fatalf("child said %q, want locked", got)
		}
		want := fmt.Sprintf("state dir %s is in use by another xhad (pid %d)", dir, c.cmd.Process.Pid)
		if _, err := Lock(dir); err == nil || err.Error() != want {
			t.Fatalf("Lock while the child holds it: %v; want %q", err, want)
		}
		c.stdin.Close()
		if code := c.wait(); code != 0 {
			t.Fatalf("child exit code %d", code)
		}
		unlock, err := Lock(dir)
		if err != nil {
			t.Fatalf("Lock after the child released it: %v", err)
		}
		unlock()
	})

	t.Run("released when the holder is killed", func(t *testing.T) {
		dir := t.TempDir()
		c := startChild(t, "hold-lock", dir)
		if got := c.line(); got != "locked" {
			t.Fatalf("child said %q, want locked", got)
		}
		if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if code := c.wait(); code != -1 {
			t.Fatalf("killed child exit code %d, want -1 (killed by a signal)", code)
		}
		unlock, err := Lock(dir)
		if err != nil {
			t.Fatalf("Lock after the holder was killed: %v", err)
		}
		unlock()
	})

	t.Run("not inherited by programs we start", func(t *testing.T) {
		dir := t.TempDir()
		unlock, err := Lock(dir)
		if err != nil {
			t.Fatal(err)
		}
		c := startChild(t, "wait", dir)
		if got := c.line(); got != "waiting" {
			t.Fatalf("child said %q, want waiting", got)
		}
		if err := unlock(); err != nil {
			t.Fatal(err)
		}
		// The child still runs: had it inherited the descriptor, it would
		// keep the lock.
		unlockAgain, err := Lock(dir)
		if err != nil {
			t.Fatalf("Lock while a child started under the lock runs: %v", err)
		}
		unlockAgain()
	})
}

func BenchmarkSave(b *testing.B) {
	path := filepath.Join(b.TempDir(), "state.json")
	v := state{Node: "a", Epoch: 1, Role: "ACTIVE", Groups: map[string]string{"g1": "ACTIVE", "g2": "STANDBY"}}
	for b.Loop() {
		v.Epoch++
		if err := Save(path, v); err != nil {
			b.Fatal(err)
		}
	}
}
