package netbed

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// FakeWatchdog stands in for a node's hardware watchdog: a FIFO that the
// daemon opens as fencing.watchdog-device. Like the kernel's watchdog it is
// armed by the first write, every byte restarts the countdown, and 'V' (the
// magic close) disarms it. When an armed countdown runs out, the time is
// sent on Expired: the test then resets the host (Bed.CrashHost), as the
// hardware would.
type FakeWatchdog struct {
	Path    string
	Expired chan time.Time // one value per expiry

	timeout time.Duration
	f       *os.File
	mu      sync.Mutex
	pets    int
	done    chan struct{}
}

// FakeWatchdog creates the FIFO <node dir>/watchdog with the given timeout
// and starts watching it; it stops when the test ends. With
// Options.Watchdog the bed makes one per node (Node.Watchdog) and writes it
// into the node's configuration as watchdog-device.
func (b *Bed) FakeWatchdog(n *Node, timeout time.Duration) *FakeWatchdog {
	b.t.Helper()
	path := filepath.Join(n.Dir, "watchdog")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		b.t.Fatalf("fake watchdog of %s: %v", n.Name, err)
	}
	// Read-write: the FIFO always has a reader (the daemon's non-blocking
	// open for writing succeeds) and never reports end-of-file when the
	// daemon closes it.
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NONBLOCK, 0)
	if err != nil {
		b.t.Fatalf("fake watchdog of %s: %v", n.Name, err)
	}
	w := &FakeWatchdog{Path: path, Expired: make(chan time.Time, 4), timeout: timeout, f: f, done: make(chan struct{})}
	go w.watch()
	b.t.Cleanup(func() {
		f.Close()
		<-w.done
	})
	return w
}

// Pets returns how many pets (bytes other than 'V') arrived.
func (w *FakeWatchdog) Pets() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pets
}

func (w *FakeWatchdog) watch() {
	defer close(w.done)
	buf := make([]byte, 64)
	armed := false
	var last time.Time
	for {
		deadline := time.Time{}
		if armed {
			deadline = last.Add(w.timeout)
		}
		if err := w.f.SetReadDeadline(deadline); err != nil {
			return
		}
		n, err := w.f.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			armed = false
			w.Expired <- time.Now()
			continue
		}
		if err != nil {
			return // closed at the end of the test
		}
		for _, c := range buf[:n] {
			if c == 'V' {
				armed = false
				continue
			}
			armed, last = true, time.Now()
			w.mu.Lock()
			w.pets++
			w.mu.Unlock()
		}
	}
}
