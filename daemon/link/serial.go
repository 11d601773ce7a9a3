package link

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Reopen backoff of a serial device that failed, and queue sizes.
const (
	serialMinBackoff = 50 * time.Millisecond
	serialMaxBackoff = 2 * time.Second
	serialRecvQueue  = 64 // deframed frames waiting for Recv
	serialSendQueue  = 16 // frames waiting for the device
	serialReadBuf    = 4096
)

// supportedBauds are the line speeds NewSerial accepts, in order.
func supportedBauds() []int {
	return []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400,
		460800, 500000, 576000, 921600, 1000000, 1152000, 1500000, 2000000,
		2500000, 3000000, 3500000, 4000000}
}

// baudConstant returns the termios speed constant of a line speed.
func baudConstant(baud int) (uint32, bool) {
	speeds := []uint32{unix.B1200, unix.B2400, unix.B4800, unix.B9600,
		unix.B19200, unix.B38400, unix.B57600, unix.B115200, unix.B230400,
		unix.B460800, unix.B500000, unix.B576000, unix.B921600, unix.B1000000,
		unix.B1152000, unix.B1500000, unix.B2000000, unix.B2500000,
		unix.B3000000, unix.B3500000, unix.B4000000}
	if i := slices.Index(supportedBauds(), baud); i >= 0 {
		return speeds[i], true
	}
	return 0, false
}

// Serial is a Transport over a serial line (an RS-232 null-modem cable, or
// any tty), raw 8N1 without flow control, framed by Frame and Deframer.
//
// The device is opened non-blocking and driven by the Go runtime poller, so
// Close interrupts a blocked read or write. When the device fails (EIO or
// end of file when the other end of a PTY closes, the device vanishes) it is
// closed and reopened in the background with a backoff from 50 ms doubling
// to 2 s, until Close. While it is down, Send fails at once with
// ErrLinkDown. Send never waits for the device: frames go through a short
// queue to a writer goroutine. It is safe for concurrent use.
type Serial struct {
	device    string
	baud      int
	speed     uint32
	frames    chan []byte   // deframed frames for Recv
	done      chan struct{} // closed by Close
	wg        sync.WaitGroup
	closeOnce sync.Once

	// Used only by the supervising goroutine.
	deframer Deframer

	mu         sync.Mutex
	port       *os.File    // nil while down
	sendq      chan []byte // the current session's writer queue, nil while down
	lastErr    error       // why the device is down
	dropped    map[string]uint64
	sendErrors uint64 // frames the writer failed to write
	reconnects uint64
}

// NewSerial opens device at baud (one of the standard line speeds) and keeps
// it open until Close. It fails only for an unsupported baud rate: when the
// device cannot be opened now, the Serial starts down, State says why, and it
// keeps trying in the background.
func NewSerial(device string, baud int) (*Serial, error) {
	speed, ok := baudConstant(baud)
	if !ok {
		return nil, fmt.Errorf("serial link %s: unsupported baud rate %d (supported: %v)", device, baud, supportedBauds())
	}
	s := &Serial{
		device:  device,
		baud:    baud,
		speed:   speed,
		frames:  make(chan []byte, serialRecvQueue),
		done:    make(chan struct{}),
		dropped: map[string]uint64{},
	}
	port, err := openTTY(device, speed)
	if err != nil {
		s.lastErr = err
	} else {
		s.register(port)
	}
	s.wg.Add(1)
	go s.supervise(port)
	return s, nil
}

// openTTY opens path non-blocking and sets it raw, 8N1, no flow control.
func openTTY(path string, speed uint32) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open serial device %s: %w", path, err)
	}
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("serial device %s is not a tty: %w", path, err)
	}
	t.Iflag = 0
	t.Oflag = 0
	t.Lflag = 0
	t.Cflag = unix.CS8 | unix.CREAD | unix.CLOCAL | speed
	t.Ispeed, t.Ospeed = speed, speed
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set serial device %s raw: %w", path, err)
	}
	if err := unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCIOFLUSH); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("flush serial device %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// supervise runs sessions on the device and reopens it after each failure.
func (s *Serial) supervise(port *os.File) {
	defer s.wg.Done()
	wasOpen := port != nil
	backoff := serialMinBackoff
	for {
		if port != nil && s.session(port) {
			backoff = serialMinBackoff
		}
		timer := time.NewTimer(backoff)
		select {
		case <-s.done:
			timer.Stop()
			return
		case <-timer.C:
		}
		backoff = min(2*backoff, serialMaxBackoff)
		var err error
		if port, err = openTTY(s.device, s.speed); err != nil {
			s.mu.Lock()
			s.lastErr = err
			s.mu.Unlock()
			continue
		}
		if !s.register(port) {
			port.Close()
			return
		}
		if wasOpen {
			s.mu.Lock()
			s.reconnects++
			s.mu.Unlock()
		}
		wasOpen = true
	}
}

// register makes port the open device, unless Close came first.
func (s *Serial) register(port *os.File) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return false
	default:
	}
	s.port, s.sendq, s.lastErr = port, make(chan []byte, serialSendQueue), nil
	return true
}

// session reads from the registered device until it fails or Close, and
// reports whether any byte came in.
func (s *Serial) session(port *os.File) (gotData bool) {
	s.mu.Lock()
	sendq := s.sendq
	s.mu.Unlock()

	writerDone := make(chan error, 1)
	go s.write(port, sendq, writerDone)

	buf := make([]byte, serialReadBuf)
	var readErr error
	for {
		n, err := port.Read(buf)
		if n > 0 {
			gotData = true
			s.deliver(s.deframer.Feed(buf[:n]))
		}
		if err != nil {
			readErr = err
			break
		}
	}
	port.Close() // also stops a blocked write
	s.mu.Lock()
	s.port, s.sendq = nil, nil
	close(sendq)
	s.mu.Unlock()
	writeErr := <-writerDone

	var why error
	switch {
	case errors.Is(readErr, os.ErrClosed) && writeErr != nil:
		why = fmt.Errorf("write serial device %s: %w", s.device, writeErr)
	case errors.Is(readErr, os.ErrClosed):
		why = fmt.Errorf("serial device %s closed", s.device)
	case errors.Is(readErr, io.EOF):
		why = fmt.Errorf("read serial device %s: hung up (end of file)", s.device)
	default:
		why = fmt.Errorf("read serial device %s: %w", s.device, readErr)
	}
	s.mu.Lock()
	s.lastErr = why
	s.mu.Unlock()
	return gotData
}

// deliver queues frames for Recv, dropping them when Recv is not keeping up.
// The deframer's counts are published first, so a reader that got the frame
// after a bad one also sees the bad one counted.
func (s *Serial) deliver(frames [][]byte) {
	counts := s.deframer.Counts()
	s.mu.Lock()
	s.dropped["corrupt"] = counts.Corrupt
	s.dropped["oversize"] = counts.Oversize
	s.mu.Unlock()
	for _, f := range frames {
		select {
		case s.frames <- f:
		default:
			s.mu.Lock()
			s.dropped["backlog"]++
			s.mu.Unlock()
		}
	}
}

// write copies queued frames to the device until the queue is closed, and
// then reports the error that made it give up, if any. A failed write closes
// the device, which ends the session; a write that times out loses its frame
// (the next frame's leading END resynchronises the peer) and is counted.
func (s *Serial) write(port *os.File, sendq <-chan []byte, done chan<- error) {
	var failure error
	for f := range sendq {
		if failure != nil {
			continue
		}
		port.SetWriteDeadline(time.Now().Add(s.writeTimeout(len(f))))
		if _, err := port.Write(f); err != nil {
			s.mu.Lock()
			s.sendErrors++
			s.mu.Unlock()
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				failure = err
				port.Close()
			}
		}
	}
	done <- failure
}

// writeTimeout bounds the write of n bytes: twice their time on the line
// (10 bits a byte) plus a second.
func (s *Serial) writeTimeout(n int) time.Duration {
	return time.Second + 2*time.Duration(n)*10*time.Second/time.Duration(s.baud)
}

// Send queues frame for the device. It fails at once when the device is
// down or the queue is full.
func (s *Serial) Send(frame []byte) error {
	wire := Frame(frame)
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return fmt.Errorf("serial send on %s: %w", s.device, ErrClosed)
	default:
	}
	if s.sendq == nil {
		return fmt.Errorf("serial send: %w: %v", ErrLinkDown, s.lastErr)
	}
	select {
	case s.sendq <- wire:
		return nil
	default:
		return fmt.Errorf("serial send on %s: %d frames already waiting for the device", s.device, serialSendQueue)
	}
}

// Recv returns the next frame that passed its CRC.
func (s *Serial) Recv() ([]byte, error) {
	select {
	case <-s.done:
		return nil, fmt.Errorf("serial receive on %s: %w", s.device, ErrClosed)
	default:
	}
	select {
	case f := <-s.frames:
		return f, nil
	case <-s.done:
		return nil, fmt.Errorf("serial receive on %s: %w", s.device, ErrClosed)
	}
}

// Close closes the device, stops reopening it and waits for the goroutines.
func (s *Serial) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.done)
		if s.port != nil {
			s.port.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return nil
}

// State reports whether the device is open, and if not, why.
func (s *Serial) State() (up bool, why error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.port != nil, s.lastErr
}

// Counters implements Counting: frames dropped as "corrupt", "oversize" or
// "backlog", and the reopen count.
func (s *Serial) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Counters{Dropped: copyCounts(s.dropped), Reconnects: s.reconnects, SendErrors: s.sendErrors}
}
