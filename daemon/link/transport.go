package link

import "errors"

// Transport moves whole frames between the two nodes. Send must not block
// for long; Recv blocks until a frame arrives and returns an error wrapping
// ErrClosed once Close was called. Other Recv errors are transient.
type Transport interface {
	Send(frame []byte) error
	Recv() ([]byte, error)
	Close() error
}

// Counting is implemented by transports that drop frames themselves (a UDP
// datagram from a stranger, a serial frame with a bad CRC) or reconnect.
// Link.Stats adds these counters to its own.
type Counting interface {
	Counters() Counters
}

// Counters is a transport's own tally.
type Counters struct {
	Dropped    map[string]uint64 // by reason: "source", "corrupt", "oversize", "backlog"
	Reconnects uint64            // times the device was reopened after a failure
	SendErrors uint64            // frames accepted by Send that the transport then failed to send
}

// Errors of transports.
var (
	ErrClosed   = errors.New("link transport closed")
	ErrLinkDown = errors.New("link down")
)
