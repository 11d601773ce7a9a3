package fence

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests use fake paths only: they never open /dev/watchdog or load softdog.

func TestWatchdogRegularFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "watchdog")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := OpenWatchdog(path, 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if w.Timeout() != 1500*time.Millisecond {
		t.Errorf("Timeout of a fake = %s, want the requested 1.5s", w.Timeout())
	}
	for range 3 {
		if err := w.Pet(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "...V" {
		t.Errorf("device got %q, want three pets and the magic close: %q", got, "...V")
	}
	if err := w.Pet(); !errors.Is(err, ErrWatchdogClosed) {
		t.Errorf("Pet after Close = %v, want ErrWatchdogClosed", err)
	}
	if err := w.Close(); !errors.Is(err, ErrWatchdogClosed) {
		t.Errorf("second Close = %v, want ErrWatchdogClosed", err)
	}
}

func TestWatchdogFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "watchdog")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	// Nobody reads: opening fails at once rather than hanging.
	if w, err := OpenWatchdog(path, time.Second); err == nil {
		w.Close()
		t.Fatal("OpenWatchdog on a FIFO without a reader succeeded")
	}
	r, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w, err := OpenWatchdog(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Pet(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r) // ends at EOF: the writer closed
	if err != nil {
		t.Fatalf("read the fake device: %v (got %q)", err, got)
	}
	if string(got) != ".V" {
		t.Errorf("device got %q, want %q", got, ".V")
	}
}

func TestWatchdogErrors(t *testing.T) {
	if _, err := OpenWatchdog(filepath.Join(t.TempDir(), "missing"), time.Second); err == nil {
		t.Error("OpenWatchdog on a missing path succeeded")
	}
	path := filepath.Join(t.TempDir(), "wd")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenWatchdog(path, 0); err == nil {
		t.Error("OpenWatchdog with a zero timeout succeeded")
	}
	// A character device that is not a watchdog: the ioctl fails, the open is refused.
	if _, err := OpenWatchdog("/dev/null", time.Second); err == nil {
		t.Error("OpenWatchdog on /dev/null (not a watchdog) succeeded")
	}
}
