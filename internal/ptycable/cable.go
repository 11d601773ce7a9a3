// Package ptycable makes a null-modem cable out of two pseudo-terminals
// whose masters are relayed to each other, for tests and the demo: each node
// opens one slave path like a /dev/ttyS* device. Each direction can be cut
// and healed, and noise can be injected.
package ptycable

import (
	"fmt"
	"os"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Cable is a null-modem cable made of two PTYs whose masters are relayed to
// each other: each node opens one slave path like a /dev/ttyS* device. Each
// direction can be cut (bytes are dropped) and healed.
type Cable struct {
	PathA, PathB string

	masters [2]*os.File
	slaves  [2]*os.File
	mu      sync.Mutex
	cut     [2]bool // [0]: A->B, [1]: B->A
	dropped [2]int  // bytes dropped by a cut, per direction
	noise   [2][]byte
	wg      sync.WaitGroup
}

// Open opens the two PTYs and starts the relay; the caller closes it.
func Open() (*Cable, error) {
	c := &Cable{}
	for i := 0; i < 2; i++ {
		m, s, err := pty.Open()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("open pty: %w", err)
		}
		if err := makeRaw(s); err != nil {
			c.Close()
			return nil, fmt.Errorf("raw pty: %w", err)
		}
		// A blocking *os.File is not woken by Close; a non-blocking copy
		// of the descriptor goes through the runtime poller, so Close
		// interrupts the relay's Read.
		nb, err := nonBlocking(m)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("pty master: %w", err)
		}
		c.masters[i], c.slaves[i] = nb, s
	}
	c.PathA, c.PathB = c.slaves[0].Name(), c.slaves[1].Name()
	c.wg.Add(2)
	go c.relay(0, 1)
	go c.relay(1, 0)
	return c, nil
}

func nonBlocking(f *os.File) (*os.File, error) {
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

func makeRaw(f *os.File) error {
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		return err
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	tio.Cc[unix.VMIN] = 1
	tio.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, tio)
}

func (c *Cable) relay(from, to int) {
	defer c.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, err := c.masters[from].Read(buf)
		if err != nil {
			return
		}
		c.mu.Lock()
		cut := c.cut[from]
		noise := c.noise[from]
		c.noise[from] = nil
		c.mu.Unlock()
		if cut {
			c.mu.Lock()
			c.dropped[from] += n
			c.mu.Unlock()
			continue
		}
		if len(noise) > 0 {
			_, _ = c.masters[to].Write(noise)
		}
		if _, err := c.masters[to].Write(buf[:n]); err != nil {
			return
		}
	}
}

// Cut drops bytes in both directions.
func (c *Cable) Cut() { c.set(true, true) }

// Heal relays both directions again.
func (c *Cable) Heal() { c.set(false, false) }

// CutAToB drops bytes from A to B only (B to A is left as it is).
func (c *Cable) CutAToB() { c.cutOne(0) }

// CutBToA drops bytes from B to A only (A to B is left as it is).
func (c *Cable) CutBToA() { c.cutOne(1) }

// HealAToB relays bytes from A to B again.
func (c *Cable) HealAToB() { c.healOne(0) }

// HealBToA relays bytes from B to A again.
func (c *Cable) HealBToA() { c.healOne(1) }

func (c *Cable) cutOne(dir int)  { c.mu.Lock(); c.cut[dir] = true; c.mu.Unlock() }
func (c *Cable) healOne(dir int) { c.mu.Lock(); c.cut[dir] = false; c.mu.Unlock() }

// Noise injects garbage into the A->B direction before the next relayed bytes.
func (c *Cable) Noise(b []byte) { c.mu.Lock(); c.noise[0] = append(c.noise[0], b...); c.mu.Unlock() }

// Dropped returns how many bytes cuts have dropped: [0] A->B, [1] B->A.
func (c *Cable) Dropped() [2]int { c.mu.Lock(); defer c.mu.Unlock(); return c.dropped }

func (c *Cable) set(ab, ba bool) {
	c.mu.Lock()
	c.cut = [2]bool{ab, ba}
	c.mu.Unlock()
}

// Close ends the relay.
func (c *Cable) Close() {
	for i := 0; i < 2; i++ {
		if c.masters[i] != nil {
			c.masters[i].Close()
		}
	}
	c.wg.Wait()
	for i := 0; i < 2; i++ {
		if c.slaves[i] != nil {
			c.slaves[i].Close()
		}
	}
}
