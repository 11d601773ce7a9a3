package notify

import (
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// receiveTimeout bounds how long a test waits for a datagram that should
// already be queued: sends on a unix datagram socket are synchronous.
const receiveTimeout = 5 * time.Second

// listener is a stand-in for systemd's notification socket.
type listener struct {
	t    *testing.T
	name string
	conn *net.UnixConn
}

// listen opens a unixgram socket: a file in a temporary directory, or an
// abstract socket when abstract is set.
func listen(t *testing.T, abstract bool) *listener {
	t.Helper()
	name := filepath.Join(t.TempDir(), "notify.sock")
	if abstract {
		name = "@xhad-notify-test-" + strconv.Itoa(os.Getpid()) + "-" + rand.Text()
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen on %s: %v", name, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &listener{t: t, name: name, conn: conn}
}

// next returns the next datagram, failing the test if none arrives in time.
func (l *listener) next() string {
	l.t.Helper()
	if err := l.conn.SetReadDeadline(time.Now().Add(receiveTimeout)); err != nil {
		l.t.Fatalf("set read deadline: %v", err)
	}
	buf := make([]byte, 4096)
	n, _, err := l.conn.ReadFromUnix(buf)
	if err != nil {
		l.t.Fatalf("no datagram on %s within %v: %v", l.name, receiveTimeout, err)
	}
	return string(buf[:n])
}

// expectNothingMore sends a marker datagram of its own and checks that it is
// the next one received, so nothing else was queued before it.
func (l *listener) expectNothingMore() {
	l.t.Helper()
	const marker = "TEST-MARKER=1"
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: l.name, Net: "unixgram"})
	if err != nil {
		l.t.Fatalf("dial %s for the marker: %v", l.name, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(marker)); err != nil {
		l.t.Fatalf("send marker: %v", err)
	}
	if got := l.next(); got != marker {
		l.t.Fatalf("unexpected datagram before the marker: %q", got)
	}
}

func monotonicMicros(t *testing.T) int64 {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatalf("clock_gettime: %v", err)
	}
	return ts.Nano() / 1000
}

func TestMessagesArriveExactly(t *testing.T) {
	tests := []struct {
		name string
		send func(*Notifier) error
		want string
	}{
		{"ready", (*Notifier).Ready, "READY=1"},
		{"status", func(n *Notifier) error { return n.Status("ACTIVE, links 2/2, resources 5/5") }, "STATUS=ACTIVE, links 2/2, resources 5/5"},
		{"status with line breaks", func(n *Notifier) error { return n.Status("ACTIVE\nlinks 1/2\r\nserial down\r") }, "STATUS=ACTIVE links 1/2 serial down"},
		{"empty status", func(n *Notifier) error { return n.Status("") }, "STATUS="},
		{"watchdog", (*Notifier).Watchdog, "WATCHDOG=1"},
		{"extend timeout", func(n *Notifier) error { return n.ExtendTimeout(90 * time.Second) }, "EXTEND_TIMEOUT_USEC=90000000"},
		{"extend timeout sub-second", func(n *Notifier) error { return n.ExtendTimeout(1500 * time.Microsecond) }, "EXTEND_TIMEOUT_USEC=1500"},
		{"stopping", (*Notifier).Stopping, "STOPPING=1"},
	}
	for _, abstract := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(socketKind(abstract)+"/"+tt.name, func(t *testing.T) {
				l := listen(t, abstract)
				t.Setenv("NOTIFY_SOCKET", l.name)
				n := New()
				if !n.Enabled() {
					t.Fatalf("Enabled() = false with NOTIFY_SOCKET=%s", l.name)
				}
				if err := tt.send(n); err != nil {
					t.Fatalf("send: %v", err)
				}
				if got := l.next(); got != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
				l.expectNothingMore()
				if got := os.Getenv("NOTIFY_SOCKET"); got != l.name {
					t.Errorf("NOTIFY_SOCKET changed to %q", got)
				}
			})
		}
	}
}

func socketKind(abstract bool) string {
	if abstract {
		return "abstract"
	}
	return "path"
}

func TestReloadingCarriesMonotonicTime(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		t.Run(socketKind(abstract), func(t *testing.T) {
			l := listen(t, abstract)
			t.Setenv("NOTIFY_SOCKET", l.name)
			n := New()
			before := monotonicMicros(t)
			if err := n.Reloading(); err != nil {
				t.Fatalf("Reloading: %v", err)
			}
			after := monotonicMicros(t)
			got := l.next()
			stamp, ok := strings.CutPrefix(got, "RELOADING=1\nMONOTONIC_USEC=")
			if !ok {
				t.Fatalf("got %q, want RELOADING=1 then MONOTONIC_USEC=", got)
			}
			usec, err := strconv.ParseInt(stamp, 10, 64)
			if err != nil {
				t.Fatalf("MONOTONIC_USEC %q: %v", stamp, err)
			}
			if usec < before || usec > after {
				t.Errorf("MONOTONIC_USEC=%d not between %d and %d", usec, before, after)
			}
			l.expectNothingMore()
		})
	}
}

func TestStatusSkipsUnchanged(t *testing.T) {
	l := listen(t, false)
	t.Setenv("NOTIFY_SOCKET", l.name)
	n := New()
	for _, s := range []string{"STANDBY", "STANDBY", "STANDBY\n", "ACTIVE", "ACTIVE", "STANDBY"} {
		if err := n.Status(s); err != nil {
			t.Fatalf("Status(%q): %v", s, err)
		}
	}
	// Other messages do not reset what Status remembers.
	if err := n.Watchdog(); err != nil {
		t.Fatalf("Watchdog: %v", err)
	}
	if err := n.Status("STANDBY"); err != nil {
		t.Fatalf("Status: %v", err)
	}
	for _, want := range []string{"STATUS=STANDBY", "STATUS=ACTIVE", "STATUS=STANDBY", "WATCHDOG=1"} {
		if got := l.next(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	l.expectNothingMore()
}

func TestStatusResentAfterFailedSend(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "notify.sock")
	t.Setenv("NOTIFY_SOCKET", path)
	n := New()
	if err := n.Status("ACTIVE"); err == nil {
		t.Fatal("Status to a missing socket succeeded")
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	l := &listener{t: t, name: path, conn: conn}
	if err := n.Status("ACTIVE"); err != nil {
		t.Fatalf("Status once the socket exists: %v", err)
	}
	if got := l.next(); got != "STATUS=ACTIVE" {
		t.Fatalf("got %q, want STATUS=ACTIVE", got)
	}
}

// TestNoSocketSendsNothing makes Notifiers without NOTIFY_SOCKET and only
// then points NOTIFY_SOCKET at a listener: a Notifier reads it once, so
// nothing may arrive.
func TestNoSocketSendsNothing(t *testing.T) {
	setOrUnset(t, "NOTIFY_SOCKET", "")
	notifiers := map[string]*Notifier{"New": New(), "zero value": {}}
	l := listen(t, false)
	t.Setenv("NOTIFY_SOCKET", l.name)
	for name, n := range notifiers {
		t.Run(name, func(t *testing.T) {
			if n.Enabled() {
				t.Error("Enabled() = true without NOTIFY_SOCKET")
			}
			calls := map[string]func() error{
				"Ready":         n.Ready,
				"Status":        func() error { return n.Status("ACTIVE") },
				"Watchdog":      n.Watchdog,
				"ExtendTimeout": func() error { return n.ExtendTimeout(time.Minute) },
				"Stopping":      n.Stopping,
				"Reloading":     n.Reloading,
			}
			for call, f := range calls {
				if err := f(); err != nil {
					t.Errorf("%s without a socket: %v", call, err)
				}
			}
			l.expectNothingMore()
		})
	}
}

// TestSocketReadOnce changes NOTIFY_SOCKET after New: messages still go to
// the socket named when the Notifier was made.
func TestSocketReadOnce(t *testing.T) {
	first, second := listen(t, false), listen(t, true)
	t.Setenv("NOTIFY_SOCKET", first.name)
	n := New()
	t.Setenv("NOTIFY_SOCKET", second.name)
	if err := n.Ready(); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if got := first.next(); got != "READY=1" {
		t.Errorf("first socket got %q, want READY=1", got)
	}
	second.expectNothingMore()
}

func TestSendErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone.sock")
	tests := []struct {
		name    string
		socket  string
		send    func(*Notifier) error
		wantErr []string
	}{
		{"missing socket file", missing, (*Notifier).Ready, []string{"sd_notify READY=1 to " + missing, "no such file or directory"}},
		{"missing abstract socket", "@xhad-notify-test-absent-" + rand.Text(), (*Notifier).Watchdog, []string{"sd_notify WATCHDOG=1 to @xhad-notify-test-absent-", "connection refused"}},
		{"zero extension", missing, func(n *Notifier) error { return n.ExtendTimeout(0) }, []string{"EXTEND_TIMEOUT_USEC", "must be positive, got 0s"}},
		{"negative extension", missing, func(n *Notifier) error { return n.ExtendTimeout(-time.Second) }, []string{"must be positive, got -1s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NOTIFY_SOCKET", tt.socket)
			err := tt.send(New())
			if err == nil {
				t.Fatal("send succeeded, want an error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestConcurrentSends(t *testing.T) {
	l := listen(t, false)
	t.Setenv("NOTIFY_SOCKET", l.name)
	n := New()
	const goroutines, perGoroutine = 8, 25
	errs := make(chan error, goroutines*perGoroutine)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				if g%2 == 0 {
					errs <- n.Watchdog()
				} else {
					errs <- n.Status("status " + strconv.Itoa(g) + "/" + strconv.Itoa(i))
				}
			}
		})
	}
	counts := map[string]int{}
	for range goroutines * perGoroutine {
		msg := l.next()
		if !strings.HasPrefix(msg, "STATUS=status ") {
			counts[msg]++
		} else {
			counts["STATUS"]++
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("send: %v", err)
		}
	}
	want := map[string]int{"WATCHDOG=1": goroutines / 2 * perGoroutine, "STATUS": goroutines / 2 * perGoroutine}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("got %d %s messages, want %d (all: %v)", counts[k], k, v, counts)
		}
	}
	l.expectNothingMore()
}

func TestWatchdogInterval(t *testing.T) {
	own := strconv.Itoa(os.Getpid())
	other := strconv.Itoa(os.Getppid())
	tests := []struct {
		name    string
		usec    string // "" means unset
		pid     string // "" means unset
		want    time.Duration
		enabled bool
	}{
		{name: "not set", want: 0, enabled: false},
		{name: "usec only", usec: "10000000", want: 5 * time.Second, enabled: true},
		{name: "usec and our pid", usec: "3000000", pid: own, want: 1500 * time.Millisecond, enabled: true},
		{name: "pid of another process", usec: "3000000", pid: other, enabled: false},
		{name: "pid without usec", pid: own, enabled: false},
		{name: "zero usec", usec: "0", enabled: false},
		{name: "negative usec", usec: "-5", enabled: false},
		{name: "garbage usec", usec: "5s", enabled: false},
		{name: "garbage pid", usec: "3000000", pid: "self", enabled: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setOrUnset(t, "WATCHDOG_USEC", tt.usec)
			setOrUnset(t, "WATCHDOG_PID", tt.pid)
			got, enabled := WatchdogInterval()
			if got != tt.want || enabled != tt.enabled {
				t.Errorf("WatchdogInterval() = %v, %v; want %v, %v", got, enabled, tt.want, tt.enabled)
			}
			if os.Getenv("WATCHDOG_USEC") != tt.usec || os.Getenv("WATCHDOG_PID") != tt.pid {
				t.Errorf("environment changed: WATCHDOG_USEC=%q WATCHDOG_PID=%q", os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"))
			}
		})
	}
}

// setOrUnset sets an environment variable for the test, or unsets it when
// value is empty; t.Setenv restores the old value afterwards.
func setOrUnset(t *testing.T, key, value string) {
	t.Helper()
	t.Setenv(key, value)
	if value == "" {
		if err := os.Unsetenv(key); err != nil {
			t.Fatalf("unset %s: %v", key, err)
		}
	}
}

func TestNotifyErrorWrapsCause(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone.sock"))
	err := New().Stopping()
	if !errors.Is(err, unix.ENOENT) {
		t.Errorf("error %v does not wrap ENOENT", err)
	}
}
