package link

import "fmt"

// Guard drops replayed and stale messages on one link. The same message
// arrives on every link, so each link needs a Guard of its own. The zero
// Guard accepts any first message. A Guard is not safe for concurrent use;
// a Link calls it from its Run goroutine only.
type Guard struct {
	seen  bool
	epoch uint64
	seq   uint64
}

// Accept records (epoch, seq) and returns nil when it is newer than anything
// accepted before: a higher epoch (the sender restarted), or the same epoch
// and a higher seq. Otherwise it returns ErrStaleEpoch (an older epoch) or
// ErrReplay (same epoch, seq not above the last), and records nothing.
func (g *Guard) Accept(epoch, seq uint64) error {
	if g.seen {
		switch {
		case epoch < g.epoch:
			return fmt.Errorf("epoch %d, last accepted %d: %w", epoch, g.epoch, ErrStaleEpoch)
		case epoch == g.epoch && seq <= g.seq:
			return fmt.Errorf("epoch %d seq %d, last accepted seq %d: %w", epoch, seq, g.seq, ErrReplay)
		}
	}
	g.seen, g.epoch, g.seq = true, epoch, seq
	return nil
}

// Last returns the newest (epoch, seq) accepted, and false before the first.
func (g *Guard) Last() (epoch, seq uint64, ok bool) {
	return g.epoch, g.seq, g.seen
}
