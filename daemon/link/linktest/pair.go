package linktest

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"xhad/daemon/link"
)

// QueueLimit is how many frames may wait for a receiver; more are dropped,
// as a full socket buffer would.
const QueueLimit = 1024

// Transport is one end of an in-memory link. Send delivers to the other end.
//
// Cut and Heal act on both directions. CutOneWay, SetLoss and SetDelay act
// on the frames this end sends. Inject puts a frame in this end's receive
// queue as if it had come from the other end.
type Transport struct {
	pair *pair
	side int // 0 for a, 1 for b
}

type pair struct {
	mu   sync.Mutex
	dirs [2]direction // dirs[i] carries frames sent by side i
	ends [2]end
}

// end is what one side receives.
type end struct {
	queue  []pending
	wake   chan struct{} // capacity 1: something was queued
	done   chan struct{} // closed by Close
	closed bool
}

// direction is the state of the frames one side sends.
type direction struct {
	cut       bool
	loss      float64
	rng       *rand.Rand
	delay     time.Duration
	sent      uint64 // frames given to Send
	delivered uint64 // frames queued at the other end
}

type pending struct {
	frame []byte
	at    time.Time // deliverable from then on
}

// Pair returns two connected ends, a and b.
func Pair() (a, b *Transport) {
	p := &pair{}
	for i := range p.ends {
		p.ends[i].wake = make(chan struct{}, 1)
		p.ends[i].done = make(chan struct{})
	}
	return &Transport{pair: p, side: 0}, &Transport{pair: p, side: 1}
}

func (t *Transport) name() string { return [2]string{"a", "b"}[t.side] }

// Send delivers frame to the other end unless the link drops it (cut, lost,
// other end closed or its queue full); like UDP it then still returns nil.
// It fails only after this end was closed.
func (t *Transport) Send(frame []byte) error {
	p := t.pair
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ends[t.side].closed {
		return fmt.Errorf("linktest send from %s: %w", t.name(), link.ErrClosed)
	}
	d := &p.dirs[t.side]
	d.sent++
	if d.cut {
		return nil
	}
	if d.loss > 0 && d.rng.Float64() < d.loss {
		return nil
	}
	to := &p.ends[1-t.side]
	if to.closed || len(to.queue) >= QueueLimit {
		return nil
	}
	d.delivered++
	to.push(pending{frame: append([]byte(nil), frame...), at: time.Now().Add(d.delay)})
	return nil
}

func (e *end) push(f pending) {
	e.queue = append(e.queue, f)
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Recv returns the next frame, in the order sent, once its delay has passed.
// It returns an error wrapping link.ErrClosed after Close.
func (t *Transport) Recv() ([]byte, error) {
	p := t.pair
	e := &p.ends[t.side]
	for {
		p.mu.Lock()
		if e.closed {
			p.mu.Unlock()
			return nil, fmt.Errorf("linktest receive on %s: %w", t.name(), link.ErrClosed)
		}
		var wait time.Duration
		if len(e.queue) > 0 {
			head := e.queue[0]
			if wait = time.Until(head.at); wait <= 0 {
				e.queue[0] = pending{}
				e.queue = e.queue[1:]
				p.mu.Unlock()
				return head.frame, nil
			}
		}
		p.mu.Unlock()
		var timer *time.Timer
		var timeout <-chan time.Time
		if wait > 0 {
			timer = time.NewTimer(wait)
			timeout = timer.C
		}
		select {
		case <-e.wake:
		case <-e.done:
		case <-timeout:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// Close closes this end: its Recv returns, its Send fails, frames sent to it
// are dropped.
func (t *Transport) Close() error {
	p := t.pair
	p.mu.Lock()
	defer p.mu.Unlock()
	e := &p.ends[t.side]
	if !e.closed {
		e.closed = true
		e.queue = nil
		close(e.done)
	}
	return nil
}

// Cut drops every frame, both ways, until Heal.
func (t *Transport) Cut() {
	p := t.pair
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dirs[0].cut, p.dirs[1].cut = true, true
}

// Heal undoes Cut and CutOneWay in both directions. Loss and delay stay as
// set.
func (t *Transport) Heal() {
	p := t.pair
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dirs[0].cut, p.dirs[1].cut = false, false
}

// CutOneWay drops every frame this end sends, until Heal; frames from the
// other end still arrive.
func (t *Transport) CutOneWay() {
	p := t.pair
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dirs[t.side].cut = true
}

// SetLoss drops each frame this end sends with probability p, decided by a
// generator seeded with seed: the same seed and the same sequence of sends
// lose the same frames. p <= 0 turns loss off.
func (t *Transport) SetLoss(p float64, seed int64) {
	pr := t.pair
	pr.mu.Lock()
	defer pr.mu.Unlock()
	d := &pr.dirs[t.side]
	d.loss = p
	d.rng = rand.New(rand.NewPCG(uint64(seed), uint64(t.side)))
}

// SetDelay delays each frame this end sends from now on by d; order is kept.
func (t *Transport) SetDelay(d time.Duration) {
	p := t.pair
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dirs[t.side].delay = max(d, 0)
}

// Inject queues frame at this end as if the other end had sent it, with no
// cut, loss or delay of its own (behind frames already in flight): for
// forged and replayed frames.
func (t *Transport) Inject(frame []byte) {
	p := t.pair
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := &p.ends[t.side]; !e.closed {
		e.push(pending{frame: append([]byte(nil), frame...)})
	}
}

// Counts reports how many frames this end has sent and how many of them
// reached the other end's queue.
func (t *Transport) Counts() (sent, delivered uint64) {
	p := t.pair
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.dirs[t.side]
	return d.sent, d.delivered
}
