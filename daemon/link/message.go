package link

import "strconv"

// Kind says what a message is for.
type Kind uint8

// The message kinds. The zero Kind is not valid on the wire.
const (
	Heartbeat Kind = 1 // periodic "I am alive", with the sender's role summary
	Goodbye   Kind = 2 // the sender is leaving on purpose
	Request   Kind = 3 // a question to the peer (e.g. fence-peer: outdate a resource)
	Reply     Kind = 4 // the answer to a Request
)

// String names the kind for logs and metrics labels.
func (k Kind) String() string {
	switch k {
	case Heartbeat:
		return "heartbeat"
	case Goodbye:
		return "goodbye"
	case Request:
		return "request"
	case Reply:
		return "reply"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

func (k Kind) valid() bool { return k >= Heartbeat && k <= Reply }

// Message is what one daemon tells the other. The same message (same Seq) is
// sent on every link.
type Message struct {
	Cluster string // cluster name from the config
	From    string // sender node name
	Epoch   uint64 // sender's boot epoch (strictly increases on every daemon start)
	Seq     uint64 // sender's message counter within the epoch
	Kind    Kind
	Body    []byte // opaque to this package, at most MaxBody bytes
}
