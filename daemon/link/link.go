package link

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultBacklogTimeout is how long Run waits for a stuck consumer before it
// drops a message and counts it as "backlog".
const DefaultBacklogTimeout = time.Second

// recvErrorPause is how long Run's reader waits after a transient receive
// error before it tries again, so a failing transport cannot spin the CPU.
const recvErrorPause = 100 * time.Millisecond

// Received is one accepted message and the link it came in on.
type Received struct {
	Link string
	Msg  Message
	At   time.Time // when this node accepted it
}

// Stats is a snapshot of a link's counters.
type Stats struct {
	Name       string
	LastRx     time.Time         // when the last message was accepted; zero before the first
	Rx         uint64            // messages accepted (authenticated, not replayed)
	Tx         uint64            // messages handed to the transport
	SendErrors uint64            // messages the transport refused or failed to send
	RecvErrors uint64            // transient receive errors of the transport
	Dropped    map[string]uint64 // frames dropped, by Reason label, "source" and "backlog"
	Reconnects uint64            // serial reopen count
}

// Option adjusts a Link.
type Option func(*Link)

// WithBacklogTimeout sets how long Run waits for the consumer of its output
// channel before dropping a message (DefaultBacklogTimeout by default).
func WithBacklogTimeout(d time.Duration) Option {
	return func(l *Link) { l.backlogTimeout = d }
}

// Link is one heartbeat link: a transport, the cluster's codec, a replay
// guard of its own, and counters. Send and Stats are safe from any
// goroutine; Run is meant to run in one goroutine at a time.
type Link struct {
	name           string
	transport      Transport
	codec          *Codec
	backlogTimeout time.Duration
	guard          Guard // used by Run only

	mu         sync.Mutex
	lastRx     time.Time
	rx, tx     uint64
	sendErrors uint64
	recvErrors uint64
	dropped    map[string]uint64
}

// NewLink returns the link called name (as shown in logs, status and
// metrics) over t, sealing and opening frames with c.
func NewLink(name string, t Transport, c *Codec, opts ...Option) *Link {
	l := &Link{
		name:           name,
		transport:      t,
		codec:          c,
		backlogTimeout: DefaultBacklogTimeout,
		dropped:        map[string]uint64{},
	}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Name is the link's name.
func (l *Link) Name() string { return l.name }

// Run reads frames, drops and counts bad, replayed and stale ones, and sends
// each accepted message to out. It returns when ctx is done or the transport
// is closed. When the consumer does not take a message within the backlog
// timeout, the message is dropped and counted as "backlog"; Run never blocks
// forever on out.
//
// A ctx that is done does not close the transport, so a last Goodbye can
// still be sent; Close the link to release it. The transport is read by a
// goroutine that ends at the first frame after Run returned, or at Close.
func (l *Link) Run(ctx context.Context, out chan<- Received) {
	frames := make(chan []byte)
	stop := make(chan struct{})
	defer close(stop)
	readerEnded := make(chan struct{})
	go l.read(frames, stop, readerEnded)
	for {
		select {
		case <-ctx.Done():
			return
		case <-readerEnded:
			return
		case f := <-frames:
			if r, ok := l.accept(f); ok {
				l.deliver(ctx, out, r)
			}
		}
	}
}

// read hands frames from the transport to Run until the transport is closed
// or Run has returned.
func (l *Link) read(frames chan<- []byte, stop <-chan struct{}, ended chan<- struct{}) {
	defer close(ended)
	for {
		f, err := l.transport.Recv()
		if err != nil {
			if errors.Is(err, ErrClosed) {
				return
			}
			l.mu.Lock()
			l.recvErrors++
			l.mu.Unlock()
			pause := time.NewTimer(recvErrorPause)
			select {
			case <-stop:
				pause.Stop()
				return
			case <-pause.C:
			}
			continue
		}
		select {
		case frames <- f:
		case <-stop:
			return
		}
	}
}

// accept opens f and checks it against the guard, counting a drop.
func (l *Link) accept(f []byte) (Received, bool) {
	m, err := l.codec.Open(f)
	if err == nil {
		err = l.guard.Accept(m.Epoch, m.Seq)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.dropped[Reason(err)]++
		return Received{}, false
	}
	now := time.Now()
	l.rx++
	l.lastRx = now
	return Received{Link: l.name, Msg: m, At: now}, true
}

// deliver sends r to out, waiting at most the backlog timeout.
func (l *Link) deliver(ctx context.Context, out chan<- Received, r Received) {
	select {
	case out <- r:
		return
	default:
	}
	timer := time.NewTimer(l.backlogTimeout)
	defer timer.Stop()
	select {
	case out <- r:
	case <-ctx.Done():
	case <-timer.C:
		l.mu.Lock()
		l.dropped["backlog"]++
		l.mu.Unlock()
	}
}

// Send seals m and sends it on this link.
func (l *Link) Send(m Message) error {
	f, err := l.codec.Seal(m)
	if err == nil {
		err = l.transport.Send(f)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.sendErrors++
		return fmt.Errorf("link %s: send %s: %w", l.name, m.Kind, err)
	}
	l.tx++
	return nil
}

// Close closes the transport; Run returns.
func (l *Link) Close() error {
	if err := l.transport.Close(); err != nil {
		return fmt.Errorf("close link %s: %w", l.name, err)
	}
	return nil
}

// Stats returns a snapshot of the counters, the transport's own included.
func (l *Link) Stats() Stats {
	var tc Counters
	if c, ok := l.transport.(Counting); ok {
		tc = c.Counters()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Stats{
		Name:       l.name,
		LastRx:     l.lastRx,
		Rx:         l.rx,
		Tx:         l.tx,
		SendErrors: l.sendErrors + tc.SendErrors,
		RecvErrors: l.recvErrors,
		Dropped:    copyCounts(l.dropped),
		Reconnects: tc.Reconnects,
	}
	for reason, n := range tc.Dropped {
		if n > 0 {
			s.Dropped[reason] += n
		}
	}
	return s
}
