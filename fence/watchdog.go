package fence

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Watchdog is an open watchdog device: a hardware watchdog (/dev/watchdog)
// resets the host unless Pet is called within the timeout. A regular file or
// a FIFO (a fake, for tests) just receives the writes.
type Watchdog struct {
	mu      sync.Mutex
	f       *os.File
	path    string
	timeout time.Duration // as set in the device (whole seconds); the requested one for fakes
}

// ErrWatchdogClosed is returned by Pet and Close after Close.
var ErrWatchdogClosed = errors.New("watchdog already closed")

// OpenWatchdog opens path for writing. On a character device (a real
// watchdog; opening it arms it) the timeout is set with WDIOC_SETTIMEOUT,
// rounded up to whole seconds; the driver may choose another value, which
// Timeout reports. A FIFO must already have a reader.
func OpenWatchdog(path string, timeout time.Duration) (*Watchdog, error) {
	if timeout <= 0 {
		return nil, fmt.Errorf("open watchdog %s: timeout %s: give a positive timeout, e.g. 10s", path, timeout)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open watchdog %s: %w", path, err)
	}
	flags := os.O_WRONLY
	if fi.Mode().Type() == os.ModeNamedPipe {
		flags |= unix.O_NONBLOCK // fail at once (ENXIO) instead of hanging when nobody reads
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		return nil, fmt.Errorf("open watchdog %s: %w", path, err)
	}
	w := &Watchdog{f: f, path: path, timeout: timeout}
	if fi.Mode()&os.ModeCharDevice != 0 {
		secs := int(math.Ceil(timeout.Seconds()))
		rc, err := f.SyscallConn()
		if err == nil {
			ctlErr := rc.Control(func(fd uintptr) {
				err = unix.IoctlSetPointerInt(int(fd), unix.WDIOC_SETTIMEOUT, secs)
				if err == nil {
					secs, err = unix.IoctlGetInt(int(fd), unix.WDIOC_GETTIMEOUT)
				}
			})
			if err == nil {
				err = ctlErr
			}
		}
		if err != nil {
			_ = w.Close() // magic close, so the failed open does not reset the host
			return nil, fmt.Errorf("set watchdog timeout of %s to %ds: %w (is it a watchdog device?)", path, secs, err)
		}
		w.timeout = time.Duration(secs) * time.Second
	}
	return w, nil
}

// Timeout is the timeout in force.
func (w *Watchdog) Timeout() time.Duration { return w.timeout }

// Pet writes one byte ('.'), which restarts the watchdog's countdown.
func (w *Watchdog) Pet() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("pet watchdog %s: %w", w.path, ErrWatchdogClosed)
	}
	if _, err := w.f.Write([]byte{'.'}); err != nil {
		return fmt.Errorf("pet watchdog %s: %w", w.path, err)
	}
	return nil
}

// Close disarms the watchdog with the magic close ('V', then close), so a
// clean exit does not reset the host. (A driver built with nowayout ignores
// it and resets the host anyway once pets stop.)
func (w *Watchdog) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("close watchdog %s: %w", w.path, ErrWatchdogClosed)
	}
	_, werr := w.f.Write([]byte{'V'})
	cerr := w.f.Close()
	w.f = nil
	if werr != nil {
		return fmt.Errorf("close watchdog %s: magic close not written, the host may be reset: %w", w.path, werr)
	}
	if cerr != nil {
		return fmt.Errorf("close watchdog %s: %w", w.path, cerr)
	}
	return nil
}
