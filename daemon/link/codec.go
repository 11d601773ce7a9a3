package link

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// Limits of the wire format.
const (
	Version      = 1    // the wire format version this package writes and reads
	MaxBody      = 4096 // bytes of Message.Body
	MaxName      = 255  // bytes of a cluster or node name
	macSize      = sha256.Size
	headerSize   = 26                                                             // magic .. seq
	minFrameSize = headerSize + 1 + 1 + 1 + 2 + macSize                           // one-byte cluster and node names, empty body
	MaxFrameSize = headerSize + 1 + MaxName + 1 + MaxName + 2 + MaxBody + macSize // the largest valid frame
)

var magic = [4]byte{'X', 'H', 'A', 'D'}

// Errors of Open, Seal and Guard. Callers branch on them with errors.Is and
// count them with Reason.
var (
	ErrTruncated  = errors.New("truncated frame")
	ErrOversize   = errors.New("frame too large")
	ErrMagic      = errors.New("not an xhad frame (bad magic)")
	ErrVersion    = errors.New("unsupported frame version")
	ErrAuth       = errors.New("frame failed authentication (altered, or sealed with another key)")
	ErrCluster    = errors.New("frame from another cluster")
	ErrSelf       = errors.New("frame sent by this node (reflected back)")
	ErrCorrupt    = errors.New("malformed frame")
	ErrReplay     = errors.New("replayed frame (sequence number not above the last accepted)")
	ErrStaleEpoch = errors.New("frame from an older boot epoch of the sender")
)

// Reason gives the counter label of an error returned by Open or
// Guard.Accept: "truncated", "oversize", "version", "auth", "cluster",
// "self", "replay", "stale-epoch" or "corrupt" (bad magic or a malformed
// frame). It returns "" for nil and "other" for an error of another origin.
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrTruncated):
		return "truncated"
	case errors.Is(err, ErrOversize):
		return "oversize"
	case errors.Is(err, ErrVersion):
		return "version"
	case errors.Is(err, ErrAuth):
		return "auth"
	case errors.Is(err, ErrCluster):
		return "cluster"
	case errors.Is(err, ErrSelf):
		return "self"
	case errors.Is(err, ErrReplay):
		return "replay"
	case errors.Is(err, ErrStaleEpoch):
		return "stale-epoch"
	case errors.Is(err, ErrMagic), errors.Is(err, ErrCorrupt):
		return "corrupt"
	}
	return "other"
}

// Codec seals and opens frames of one cluster with one shared key, on behalf
// of one node. It is safe for concurrent use.
type Codec struct {
	cluster string
	self    string
	macs    sync.Pool // of hash.Hash: HMAC-SHA256 keyed with the shared key
}

// NewCodec returns a codec for node self of cluster, keyed with key (the
// contents of the shared key file, see LoadKey). The key is copied.
func NewCodec(key []byte, cluster, self string) *Codec {
	key = append([]byte(nil), key...)
	c := &Codec{cluster: cluster, self: self}
	c.macs.New = func() any { return hmac.New(sha256.New, key) }
	return c
}

// sum appends the MAC of data to dst.
func (c *Codec) sum(dst, data []byte) []byte {
	h := c.macs.Get().(hash.Hash)
	h.Reset()
	h.Write(data)
	dst = h.Sum(dst)
	c.macs.Put(h)
	return dst
}

// Seal encodes and authenticates m. An empty m.Cluster or m.From is filled
// with the codec's cluster and node name; a different one is refused, as are
// an invalid kind and a body over MaxBody (ErrOversize).
func (c *Codec) Seal(m Message) ([]byte, error) {
	if m.Cluster == "" {
		m.Cluster = c.cluster
	}
	if m.From == "" {
		m.From = c.self
	}
	switch {
	case m.Cluster != c.cluster:
		return nil, fmt.Errorf("seal %s: cluster %q is not this codec's cluster %q", m.Kind, m.Cluster, c.cluster)
	case m.From != c.self:
		return nil, fmt.Errorf("seal %s: sender %q is not this codec's node %q", m.Kind, m.From, c.self)
	case !m.Kind.valid():
		return nil, fmt.Errorf("seal %s: invalid message kind", m.Kind)
	case len(m.Cluster) == 0 || len(m.Cluster) > MaxName:
		return nil, fmt.Errorf("seal %s: cluster name of %d bytes, want 1..%d", m.Kind, len(m.Cluster), MaxName)
	case len(m.From) == 0 || len(m.From) > MaxName:
		return nil, fmt.Errorf("seal %s: node name of %d bytes, want 1..%d", m.Kind, len(m.From), MaxName)
	case len(m.Body) > MaxBody:
		return nil, fmt.Errorf("seal %s: body of %d bytes exceeds %d: %w", m.Kind, len(m.Body), MaxBody, ErrOversize)
	}
	size := headerSize + 1 + len(m.Cluster) + 1 + len(m.From) + 2 + len(m.Body) + macSize
	f := make([]byte, 0, size)
	f = append(f, magic[:]...)
	f = append(f, Version)
	f = binary.BigEndian.AppendUint16(f, uint16(size))
	f = binary.BigEndian.AppendUint16(f, ^uint16(size))
	f = append(f, byte(m.Kind))
	f = binary.BigEndian.AppendUint64(f, m.Epoch)
	f = binary.BigEndian.AppendUint64(f, m.Seq)
	f = append(f, byte(len(m.Cluster)))
	f = append(f, m.Cluster...)
	f = append(f, byte(len(m.From)))
	f = append(f, m.From...)
	f = binary.BigEndian.AppendUint16(f, uint16(len(m.Body)))
	f = append(f, m.Body...)
	return c.sum(f, f), nil
}

// Open checks and decodes one frame; the order of the checks is in the
// package documentation. It does not check for replays: that is the Guard's
// job, per link. The returned Body does not alias frame.
func (c *Codec) Open(frame []byte) (Message, error) {
	n := len(frame)
	if n > MaxFrameSize {
		return Message{}, fmt.Errorf("open frame of %d bytes, limit %d: %w", n, MaxFrameSize, ErrOversize)
	}
	if m := min(n, len(magic)); string(frame[:m]) != string(magic[:m]) {
		return Message{}, ErrMagic
	}
	if n > len(magic) && frame[4] != Version {
		return Message{}, fmt.Errorf("open frame: version %d, this node speaks %d: %w", frame[4], Version, ErrVersion)
	}
	if n < 9 {
		return Message{}, fmt.Errorf("open frame: %d bytes, shorter than the header: %w", n, ErrTruncated)
	}
	size := int(binary.BigEndian.Uint16(frame[5:7]))
	if binary.BigEndian.Uint16(frame[7:9]) != ^uint16(size) {
		return Message{}, fmt.Errorf("open frame: length check disagrees with length: %w", ErrAuth)
	}
	switch {
	case size > MaxFrameSize:
		return Message{}, fmt.Errorf("open frame: header says %d bytes, limit %d: %w", size, MaxFrameSize, ErrOversize)
	case n < size:
		return Message{}, fmt.Errorf("open frame: %d of %d bytes: %w", n, size, ErrTruncated)
	case n > size:
		return Message{}, fmt.Errorf("open frame: %d bytes after the %d-byte frame: %w", n-size, size, ErrCorrupt)
	case size < minFrameSize:
		return Message{}, fmt.Errorf("open frame: %d bytes, below the minimum %d: %w", size, minFrameSize, ErrCorrupt)
	}
	var want [macSize]byte
	body := frame[:size-macSize]
	if !hmac.Equal(c.sum(want[:0], body), frame[size-macSize:]) {
		return Message{}, ErrAuth
	}
	// Authenticated: what follows can only fail for a sender's bug.
	m := Message{
		Kind:  Kind(body[9]),
		Epoch: binary.BigEndian.Uint64(body[10:18]),
		Seq:   binary.BigEndian.Uint64(body[18:26]),
	}
	if !m.Kind.valid() {
		return Message{}, fmt.Errorf("open frame: %s: %w", m.Kind, ErrCorrupt)
	}
	rest := body[headerSize:]
	var ok bool
	if m.Cluster, rest, ok = cutName(rest); !ok {
		return Message{}, fmt.Errorf("open frame: bad cluster name field: %w", ErrCorrupt)
	}
	if m.From, rest, ok = cutName(rest); !ok {
		return Message{}, fmt.Errorf("open frame: bad node name field: %w", ErrCorrupt)
	}
	if len(rest) < 2 || int(binary.BigEndian.Uint16(rest)) != len(rest)-2 || len(rest)-2 > MaxBody {
		return Message{}, fmt.Errorf("open frame: body length disagrees with the frame: %w", ErrCorrupt)
	}
	m.Body = append([]byte{}, rest[2:]...)
	if m.Cluster != c.cluster {
		return Message{}, fmt.Errorf("open frame from %q: cluster %q, ours is %q: %w", m.From, m.Cluster, c.cluster, ErrCluster)
	}
	if m.From == c.self {
		return Message{}, fmt.Errorf("open frame: sender is this node %q: %w", c.self, ErrSelf)
	}
	return m, nil
}

// cutName splits a one-byte-length-prefixed, non-empty name off b.
func cutName(b []byte) (name string, rest []byte, ok bool) {
	if len(b) < 1 {
		return "", nil, false
	}
	n := int(b[0])
	if n == 0 || len(b) < 1+n {
		return "", nil, false
	}
	return string(b[1 : 1+n]), b[1+n:], true
}
