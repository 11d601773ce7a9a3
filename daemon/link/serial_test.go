package link_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"xhad/daemon/link"
)

// cable is a null-modem cable made of two PTYs: the code under test opens
// the two slave paths (through symlinks, as it would open /dev/ttyS0), and
// the test relays bytes between the two masters. It can be unplugged (the
// PTYs are destroyed and the device paths vanish) and plugged back (new
// PTYs behind the same paths).
type cable struct {
	t            *testing.T
	pathA, pathB string
	masters      [2]*os.File
	slaves       [2]*os.File // held open so a master never reads EIO for lack of a slave
	relays       sync.WaitGroup
}

func newCable(t *testing.T) *cable {
	dir := t.TempDir()
	c := &cable{t: t, pathA: filepath.Join(dir, "ttyA"), pathB: filepath.Join(dir, "ttyB")}
	c.plug()
	t.Cleanup(c.unplug)
	return c
}

func (c *cable) plug() {
	c.t.Helper()
	for i, path := range []string{c.pathA, c.pathB} {
		master, slave, err := pty.Open()
		if err != nil {
			c.t.Fatalf("open pty: %v", err)
		}
		makeRaw(c.t, slave)
		master = pollable(c.t, master)
		if err := os.Symlink(slave.Name(), path); err != nil {
			c.t.Fatal(err)
		}
		c.masters[i], c.slaves[i] = master, slave
	}
	c.relays.Add(2)
	go c.relay(c.masters[1], c.masters[0])
	go c.relay(c.masters[0], c.masters[1])
}

// relay copies what one side's slave writes to the other side's slave.
func (c *cable) relay(dst, src *os.File) {
	defer c.relays.Done()
	io.Copy(dst, src) // ends when the cable is unplugged
}

func (c *cable) unplug() {
	if c.masters[0] == nil {
		return
	}
	for i := range c.masters {
		c.masters[i].Close()
		c.slaves[i].Close()
		c.masters[i], c.slaves[i] = nil, nil
	}
	os.Remove(c.pathA)
	os.Remove(c.pathB)
	c.relays.Wait()
}

// toB writes bytes onto the line as if side A had sent them: side B reads them.
func (c *cable) toB(b []byte) {
	c.t.Helper()
	if _, err := c.masters[1].Write(b); err != nil {
		c.t.Fatalf("write to the line: %v", err)
	}
}

// pollable returns f as a file driven by the runtime poller, so that Close
// interrupts a blocked Read. pty.Open hands out files that went through Fd(),
// which made them blocking for good.
func pollable(t *testing.T, f *os.File) *os.File {
	t.Helper()
	defer f.Close()
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	return os.NewFile(uintptr(fd), f.Name())
}

func makeRaw(t *testing.T, tty *os.File) {
	t.Helper()
	conn, err := tty.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var termErr error
	err = conn.Control(func(fd uintptr) {
		tio, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
		if err != nil {
			termErr = err
			return
		}
		tio.Iflag, tio.Oflag, tio.Lflag = 0, 0, 0
		tio.Cflag = unix.CS8 | unix.CREAD | unix.CLOCAL | unix.B115200
		termErr = unix.IoctlSetTermios(int(fd), unix.TCSETS, tio)
	})
	if err != nil || termErr != nil {
		t.Fatalf("make %s raw: %v %v", tty.Name(), err, termErr)
	}
}

// serialLinks opens both ends of the cable as links and runs them.
func serialLinks(t *testing.T, c *cable) (sa, sb *link.Serial, la, lb *link.Link, outA, outB <-chan link.Received) {
	t.Helper()
	var err error
	if sa, err = link.NewSerial(c.pathA, 115200); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sa.Close() })
	if sb, err = link.NewSerial(c.pathB, 115200); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	for _, s := range []*link.Serial{sa, sb} {
		if up, why := s.State(); !up {
			t.Fatalf("serial not up after NewSerial: %v", why)
		}
	}
	ca, cb := codecs()
	la, lb = link.NewLink("serial", sa, ca), link.NewLink("serial", sb, cb)
	outA, _ = runLink(t, t.Context(), la, 64)
	outB, _ = runLink(t, t.Context(), lb, 64)
	return sa, sb, la, lb, outA, outB
}

func TestSerialExchange(t *testing.T) {
	c := newCable(t)
	_, _, la, lb, outA, outB := serialLinks(t, c)

	rng := rand.New(rand.NewPCG(3, 4))
	for seq := uint64(1); seq <= 20; seq++ {
		body := make([]byte, rng.IntN(300))
		for i := range body {
			body[i] = []byte{0xC0, 0xDB, 0xDC, 0xDD, byte(i)}[rng.IntN(5)]
		}
		if err := la.Send(link.Message{Kind: link.Heartbeat, Epoch: 1, Seq: seq, Body: body}); err != nil {
			t.Fatal(err)
		}
		if err := lb.Send(link.Message{Kind: link.Heartbeat, Epoch: 2, Seq: seq, Body: body}); err != nil {
			t.Fatal(err)
		}
		if err := sameMessage(receive(t, outB, waitLong).Msg, link.Message{Cluster: testCluster, From: "a", Kind: link.Heartbeat, Epoch: 1, Seq: seq, Body: body}); err != nil {
			t.Fatalf("a -> b: %v", err)
		}
		if err := sameMessage(receive(t, outA, waitLong).Msg, link.Message{Cluster: testCluster, From: "b", Kind: link.Heartbeat, Epoch: 2, Seq: seq, Body: body}); err != nil {
			t.Fatalf("b -> a: %v", err)
		}
	}
	// The largest message crosses the line too.
	big := make([]byte, link.MaxBody)
	for i := range big {
		big[i] = byte(i)
	}
	if err := la.Send(link.Message{Kind: link.Reply, Epoch: 1, Seq: 21, Body: big}); err != nil {
		t.Fatal(err)
	}
	if r := receive(t, outB, waitLong); r.Msg.Seq != 21 || len(r.Msg.Body) != link.MaxBody {
		t.Fatalf("got seq %d with %d body bytes", r.Msg.Seq, len(r.Msg.Body))
	}
	for _, l := range []*link.Link{la, lb} {
		if s := l.Stats(); len(s.Dropped) != 0 || s.Reconnects != 0 {
			t.Errorf("clean line: %s", droppedString(s))
		}
	}
}

func TestSerialResynchronisesAfterNoise(t *testing.T) {
	c := newCable(t)
	_, _, la, lb, _, outB := serialLinks(t, c)
	ca, _ := codecs()
	sealed := func(seq uint64) []byte {
		return link.Frame(mustSeal(t, ca, link.Message{Kind: link.Heartbeat, Epoch: 1, Seq: seq}))
	}
	rng := rand.New(rand.NewPCG(5, 6))
	noise := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			for b[i] = byte(rng.UintN(256)); b[i] == 0xC0; b[i] = byte(rng.UintN(256)) {
			}
		}
		return b
	}
	tests := []struct {
		name    string
		junk    func(seq uint64) []byte // seq: a number the good frame after it does not use
		corrupt uint64                  // expected increase of the "corrupt" count
		over    uint64                  // expected increase of the "oversize" count
	}{
		{"noise between frames", func(uint64) []byte { return noise(50) }, 1, 0},
		{"noise holding END bytes", func(uint64) []byte { return concat(noise(5), []byte{0xC0}, noise(7)) }, 2, 0},
		{"noise inside a frame", func(seq uint64) []byte {
			f := sealed(seq)
			return concat(f[:20], noise(3), f[20:])
		}, 1, 0},
		{"byte flipped inside a frame", func(seq uint64) []byte {
			f := sealed(seq)
			f[30] ^= 0x04
			return f
		}, 1, 0},
		{"partial frame", func(seq uint64) []byte {
			f := sealed(seq)
			return f[:len(f)/2]
		}, 1, 0},
		{"bad escape", func(uint64) []byte { return []byte{0xC0, 'n', 0xDB, 'z', 'x', 'y', 'z'} }, 1, 0},
		{"endless garbage", func(uint64) []byte { return concat([]byte{0xC0}, bytes.Repeat([]byte("x"), 2*link.MaxFrameSize)) }, 0, 1},
	}
	seq := uint64(0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq += 2
			before := lb.Stats()
			c.toB(tt.junk(seq - 1))
			if err := la.Send(link.Message{Kind: link.Heartbeat, Epoch: 1, Seq: seq}); err != nil {
				t.Fatal(err)
			}
			if r := receive(t, outB, waitLong); r.Msg.Seq != seq {
				t.Fatalf("got seq %d after the junk, want %d", r.Msg.Seq, seq)
			}
			expectNone(t, outB)
			after := lb.Stats()
			if got := after.Dropped["corrupt"] - before.Dropped["corrupt"]; got != tt.corrupt {
				t.Errorf("corrupt count rose by %d, want %d (%s)", got, tt.corrupt, droppedString(after))
			}
			if got := after.Dropped["oversize"] - before.Dropped["oversize"]; got != tt.over {
				t.Errorf("oversize count rose by %d, want %d (%s)", got, tt.over, droppedString(after))
			}
		})
	}
}

func TestSerialRecoversAfterUnplug(t *testing.T) {
	c := newCable(t)
	sa, sb, la, lb, outA, outB := serialLinks(t, c)
	if err := la.Send(link.Message{Kind: link.Heartbeat, Epoch: 1, Seq: 1}); err != nil {
		t.Fatal(err)
	}
	receive(t, outB, waitLong)

	c.unplug()
	for name, s := range map[string]*link.Serial{"a": sa, "b": sb} {
		waitFor(t, waitLong, "serial "+name+" to notice the unplugged cable", func() (bool, string) {
			up, why := s.State()
			return !up, fmt.Sprintf("up=%v why=%v", up, why)
		})
		err := s.Send([]byte("x"))
		if !errors.Is(err, link.ErrLinkDown) {
			t.Fatalf("send on an unplugged cable: %v, want ErrLinkDown", err)
		}
		t.Logf("serial %s: %v", name, err)
	}
	if err := la.Send(link.Message{Kind: link.Heartbeat, Epoch: 1, Seq: 2}); !errors.Is(err, link.ErrLinkDown) {
		t.Fatalf("link send while down: %v", err)
	}

	c.plug()
	seq := uint64(10)
	// Send a heartbeat and give it a moment to arrive, until one does.
	exchanged := func(from *link.Link, to <-chan link.Received) func() (bool, string) {
		return func() (bool, string) {
			seq++
			err := from.Send(link.Message{Kind: link.Heartbeat, Epoch: 1, Seq: seq})
			timer := time.NewTimer(50 * time.Millisecond)
			defer timer.Stop()
			select {
			case <-to:
				return true, ""
			case <-timer.C:
			}
			return false, fmt.Sprintf("last send: %v; a: %s; b: %s", err, droppedString(la.Stats()), droppedString(lb.Stats()))
		}
	}
	waitFor(t, waitLong, "a -> b after the cable is back", exchanged(la, outB))
	waitFor(t, waitLong, "b -> a after the cable is back", exchanged(lb, outA))
	for _, l := range []*link.Link{la, lb} {
		if s := l.Stats(); s.Reconnects < 1 {
			t.Errorf("reconnects not counted: %s", droppedString(s))
		}
	}
}

func TestSerialMissingDevice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ttyS9")
	s, err := link.NewSerial(path, 9600)
	if err != nil {
		t.Fatal(err)
	}
	up, why := s.State()
	if up || why == nil || !errors.Is(why, os.ErrNotExist) {
		t.Fatalf("State() = %v, %v; want down because the device does not exist", up, why)
	}
	if err := s.Send([]byte("hello")); !errors.Is(err, link.ErrLinkDown) {
		t.Fatalf("Send on a missing device: %v, want ErrLinkDown", err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := s.Recv()
		errc <- err
	}()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, link.ErrClosed) {
		t.Fatalf("Recv after Close: %v", err)
	}
	if err := s.Send([]byte("x")); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
}

func TestSerialNotATTY(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := link.NewSerial(path, 115200)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if up, why := s.State(); up || why == nil {
		t.Fatalf("State() = %v, %v; want down: not a tty", up, why)
	}
}

func TestNewSerialBaud(t *testing.T) {
	tests := []struct {
		baud int
		ok   bool
	}{{0, false}, {-1, false}, {12345, false}, {115201, false}, {1200, true}, {9600, true}, {115200, true}, {4000000, true}}
	for _, tt := range tests {
		s, err := link.NewSerial(filepath.Join(t.TempDir(), "none"), tt.baud)
		if (err == nil) != tt.ok {
			t.Errorf("baud %d: error %v, want accepted=%v", tt.baud, err, tt.ok)
		}
		if err == nil {
			s.Close()
		} else if !strings.Contains(err.Error(), "115200") {
			t.Errorf("error %q does not list the supported rates", err)
		}
	}
}
