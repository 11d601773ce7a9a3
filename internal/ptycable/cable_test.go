package ptycable

import (
	"bytes"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// end opens a slave path the way a node opens /dev/ttyS*, non-blocking so
// that reads honour deadlines.
func end(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// expect reads from f until want has arrived, failing on anything else or
// after a deadline.
func expect(t *testing.T, f *os.File, want string) {
	t.Helper()
	var got []byte
	buf := make([]byte, 256)
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < len(want) {
		if err := f.SetReadDeadline(deadline); err != nil {
			t.Fatal(err)
		}
		n, err := f.Read(buf)
		if err != nil {
			t.Fatalf("read %s: got %q so far, want %q: %v", f.Name(), got, want, err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, []byte(want)) {
		t.Fatalf("read %s: got %q, want %q", f.Name(), got, want)
	}
}

func write(t *testing.T, f *os.File, s string) {
	t.Helper()
	if _, err := f.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// waitDropped waits until the cable has dropped n bytes in direction dir.
func waitDropped(t *testing.T, c *Cable, dir, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.Dropped()[dir] < n {
		if time.Now().After(deadline) {
			t.Fatalf("direction %d dropped %v bytes, want %d", dir, c.Dropped(), n)
		}
		time.Sleep(time.Millisecond) // poll interval of the relay's counter
	}
}

// TestCutEachDirection: a one-way cut drops that direction's bytes only
// and the other direction keeps flowing; healing relays again.
func TestCutEachDirection(t *testing.T) {
	c, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, b := end(t, c.PathA), end(t, c.PathB)
	write(t, a, "a1")
	expect(t, b, "a1")
	write(t, b, "b1")
	expect(t, a, "b1")

	c.CutBToA()
	write(t, b, "lost-b")
	waitDropped(t, c, 1, len("lost-b"))
	write(t, a, "a2") // a->b still flows
	expect(t, b, "a2")
	c.HealBToA()
	write(t, b, "b2")
	expect(t, a, "b2") // "lost-b" never arrives

	c.CutAToB()
	write(t, a, "lost-a")
	waitDropped(t, c, 0, len("lost-a"))
	write(t, b, "b3")
	expect(t, a, "b3")
	c.HealAToB()
	write(t, a, "a3")
	expect(t, b, "a3")

	c.Cut()
	write(t, a, "xa")
	write(t, b, "xb")
	waitDropped(t, c, 0, len("lost-a")+2)
	waitDropped(t, c, 1, len("lost-b")+2)
	c.Heal()
	write(t, a, "a4")
	expect(t, b, "a4")
	write(t, b, "b4")
	expect(t, a, "b4")
}
