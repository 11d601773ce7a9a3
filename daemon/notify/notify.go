package notify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends sd_notify messages to systemd. It is safe for concurrent
// use. The zero value, like a Notifier made without NOTIFY_SOCKET, sends
// nothing.
type Notifier struct {
	socket string // NOTIFY_SOCKET as read by New; empty: not under systemd

	mu         sync.Mutex
	lastStatus string
	statusSent bool
}

// New returns a Notifier for the socket named by NOTIFY_SOCKET. It does not
// unset the variable.
func New() *Notifier {
	return &Notifier{socket: os.Getenv("NOTIFY_SOCKET")}
}

// Enabled reports whether the Notifier has a socket to send to.
func (n *Notifier) Enabled() bool {
	return n.socket != ""
}

// Ready tells systemd that start-up is finished (READY=1).
func (n *Notifier) Ready() error {
	return n.send(daemon.SdNotifyReady)
}

// Status sets the one-line status systemctl shows (STATUS=...). Line breaks
// become spaces. A status equal to the last one sent is not sent again.
func (n *Notifier) Status(s string) error {
	line := strings.TrimSpace(strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s))
	if n.socket == "" {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.statusSent && line == n.lastStatus {
		return nil
	}
	if err := n.sendLocked("STATUS=" + line); err != nil {
		return err
	}
	n.lastStatus, n.statusSent = line, true
	return nil
}

// Watchdog pings systemd's watchdog (WATCHDOG=1).
func (n *Notifier) Watchdog() error {
	return n.send(daemon.SdNotifyWatchdog)
}

// ExtendTimeout asks systemd to allow d more for the current start, stop or
// reload, counted from now (EXTEND_TIMEOUT_USEC=...). d must be positive.
func (n *Notifier) ExtendTimeout(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("sd_notify EXTEND_TIMEOUT_USEC: timeout extension must be positive, got %v", d)
	}
	return n.send("EXTEND_TIMEOUT_USEC=" + strconv.FormatInt(d.Microseconds(), 10))
}

// Stopping tells systemd that the daemon is shutting down (STOPPING=1).
func (n *Notifier) Stopping() error {
	return n.send(daemon.SdNotifyStopping)
}

// Reloading tells systemd that the daemon is reloading its configuration
// (RELOADING=1), with the CLOCK_MONOTONIC time that systemd 253 and later
// require for Type=notify-reload (older versions ignore it). Send Ready when
// the reload is done.
func (n *Notifier) Reloading() error {
	msg := daemon.SdNotifyReloading
	if stamp := strings.TrimSuffix(daemon.SdNotifyMonotonicUsec(), "\n"); stamp != "" {
		msg += "\n" + stamp
	}
	return n.send(msg)
}

func (n *Notifier) send(msg string) error {
	if n.socket == "" {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sendLocked(msg)
}

// sendLocked sends one datagram on a fresh connection, as sd_notify(3) does,
// so a re-executed systemd that recreated its socket is still reached.
func (n *Notifier) sendLocked(msg string) error {
	what := strings.ReplaceAll(msg, "\n", " ")
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify %s to %s: %w", what, n.socket, err)
	}
	_, err = conn.Write([]byte(msg))
	err = errors.Join(err, conn.Close())
	if err != nil {
		return fmt.Errorf("sd_notify %s to %s: %w", what, n.socket, err)
	}
	return nil
}

// WatchdogInterval reports whether systemd's watchdog is on for this process
// (WATCHDOG_USEC is set and WATCHDOG_PID, if set, is our pid) and, if so, how
// often to send WATCHDOG=1: half of WATCHDOG_USEC, as sd_watchdog_enabled(3)
// recommends. An unparsable WATCHDOG_USEC or WATCHDOG_PID counts as off. The
// environment is left as it is.
func WatchdogInterval() (time.Duration, bool) {
	timeout, err := daemon.SdWatchdogEnabled(false)
	if err != nil || timeout <= 0 {
		return 0, false
	}
	return timeout / 2, true
}
