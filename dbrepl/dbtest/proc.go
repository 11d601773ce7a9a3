package dbtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"xhad/internal/runner"
)

// Run is the runner every program of the harness goes through.
var Run runner.Runner = runner.Exec{}

var subreaper sync.Once

// Require skips t when servers cannot run here (not root, a binary or an OS
// user missing), and fails it instead when the environment has CI=true.
func Require(t testing.TB, binaries []string, users ...string) {
	t.Helper()
	var why []string
	if os.Geteuid() != 0 {
		why = append(why, "not root (servers run as their own users)")
	}
	for _, b := range binaries {
		if _, err := os.Stat(b); err != nil {
			why = append(why, fmt.Sprintf("%s missing (install the Debian package)", b))
		}
	}
	for _, u := range users {
		if _, err := user.Lookup(u); err != nil {
			why = append(why, fmt.Sprintf("OS user %s missing", u))
		}
	}
	if len(why) == 0 {
		return
	}
	msg := "database servers cannot run: " + strings.Join(why, "; ")
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Proc is a server process that is a child of the test process.
type Proc struct {
	PID    int
	Log    string
	exited chan struct{}
}

// Exited is closed once the process has exited and was reaped.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// startDaemon starts bin as user in the background and returns its process.
func startDaemon(ctx context.Context, osUser, logFile, pidFile, bin string, args ...string) (*Proc, error) {
	return startDaemonIn(ctx, "", osUser, logFile, pidFile, bin, args...)
}

// startDaemonIn is startDaemon inside network namespace netns ("" = this
// process's own): `ip netns exec NETNS start-stop-daemon ...`. The server
// still becomes a child of the test process (a subreaper).
func startDaemonIn(ctx context.Context, netns, osUser, logFile, pidFile, bin string, args ...string) (*Proc, error) {
	subreaper.Do(func() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) })
	_ = os.Remove(pidFile)
	ssd := []string{"--start", "--background", "--make-pidfile", "--pidfile", pidFile,
		"--chuid", osUser, "--output", logFile, "--exec", bin, "--"}
	cmd := runner.Cmd{Path: "start-stop-daemon", Args: append(ssd, args...), Timeout: 20 * time.Second}
	where := ""
	if netns != "" {
		cmd.Path, cmd.Args = "ip", append([]string{"netns", "exec", netns, "start-stop-daemon"}, cmd.Args...)
		where = " in network namespace " + netns
	}
	if _, err := Run.Run(ctx, cmd); err != nil {
		return nil, fmt.Errorf("start %s%s: %w", bin, where, err)
	}
	var pid int
	err := waitFor(ctx, 10*time.Second, func() (bool, string) {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return false, err.Error()
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0, fmt.Sprintf("pid file %q", b)
	})
	if err != nil {
		return nil, fmt.Errorf("start %s: no pid: %w", bin, err)
	}
	p := &Proc{PID: pid, Log: logFile, exited: make(chan struct{})}
	go p.reap()
	return p, nil
}

func (p *Proc) reap() {
	defer close(p.exited)
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(p.PID, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.ECHILD) {
			// Not our child (no subreaper): poll until it is gone.
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for range tick.C {
				if unix.Kill(p.PID, 0) != nil {
					return
				}
			}
		}
		return
	}
}

// Signal sends sig and waits up to grace for the exit; then SIGKILL.
func (p *Proc) Signal(sig unix.Signal, grace time.Duration) error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	if err := unix.Kill(p.PID, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signal %d to pid %d: %w", sig, p.PID, err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
	}
	_ = unix.Kill(p.PID, unix.SIGKILL)
	select {
	case <-p.exited:
		return fmt.Errorf("pid %d did not exit within %s of signal %d; killed", p.PID, grace, sig)
	case <-time.After(30 * time.Second):
		return fmt.Errorf("pid %d still there 30s after SIGKILL", p.PID)
	}
}

// waitFor polls cond until it holds or timeout passes; the error carries
// what was last seen.
func waitFor(ctx context.Context, timeout time.Duration, cond func() (bool, string)) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, seen := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s; last seen: %s", timeout, seen)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; last seen: %s", ctx.Err(), seen)
		case <-tick.C:
		}
	}
}

// WaitFor is waitFor for tests: it fails t with what was last seen.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	if err := waitFor(context.Background(), timeout, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ownedDir creates dir owned by osUser with mode perm.
func ownedDir(dir, osUser string, perm os.FileMode) error {
	u, err := user.Lookup(osUser)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.MkdirAll(dir, perm); err != nil {
		return err
	}
	if err := os.Chmod(dir, perm); err != nil {
		return err
	}
	return os.Chown(dir, uid, gid)
}

// traversable gives o+x to dir and its parents up to the filesystem's temp
// root, so a server user can reach its data directory below it.
func traversable(dir string) error {
	tmp := filepath.Clean(os.TempDir())
	for d := filepath.Clean(dir); d != tmp && d != "/" && d != "."; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if err := os.Chmod(d, st.Mode().Perm()|0o011); err != nil {
			return err
		}
	}
	return nil
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// reapOrphans reaps zombie children of the test process named comm: the
// backends of a killed postmaster are re-parented to the test process (it is
// a subreaper). Only processes with that name are touched, never a program
// that internal/runner is still waiting for.
func reapOrphans(comm string) {
	self := os.Getpid()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		fields := strings.Fields(s[closing+1:])
		if s[open+1:closing] != comm || len(fields) < 2 || fields[0] != "Z" || fields[1] != strconv.Itoa(self) {
			continue
		}
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	}
}
