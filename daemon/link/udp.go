package link

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// UDP is a Transport over UDP unicast: one socket bound to the local
// address, sending to the peer's. Datagrams whose source IP is not the
// peer's are dropped and counted as "source". It is safe for concurrent use.
type UDP struct {
	conn *net.UDPConn
	peer netip.AddrPort
	buf  []byte // Recv's buffer; Recv is called from one goroutine

	mu      sync.Mutex
	dropped map[string]uint64
}

// maxDatagram is the largest UDP payload; reading into a buffer this big
// means a datagram is never silently cut.
const maxDatagram = 65535

// NewUDP binds local ("host:port") and sends to peer ("host:port").
func NewUDP(local, peer string) (*UDP, error) {
	peerAddr, err := net.ResolveUDPAddr("udp", peer)
	if err != nil {
		return nil, fmt.Errorf("udp link %s -> %s: resolve peer: %w", local, peer, err)
	}
	localAddr, err := net.ResolveUDPAddr("udp", local)
	if err != nil {
		return nil, fmt.Errorf("udp link %s -> %s: resolve local address: %w", local, peer, err)
	}
	conn, err := net.ListenUDP("udp", localAddr)
	if err != nil {
		return nil, fmt.Errorf("udp link %s -> %s: %w", local, peer, err)
	}
	p := peerAddr.AddrPort()
	return &UDP{
		conn:    conn,
		peer:    netip.AddrPortFrom(p.Addr().Unmap(), p.Port()),
		buf:     make([]byte, maxDatagram),
		dropped: map[string]uint64{},
	}, nil
}

// LocalAddr is the bound address (useful when local asked for port 0).
func (u *UDP) LocalAddr() netip.AddrPort {
	a := u.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// Send sends frame as one datagram to the peer.
func (u *UDP) Send(frame []byte) error {
	if _, err := u.conn.WriteToUDPAddrPort(frame, u.peer); err != nil {
		if errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("udp send to %s: %w", u.peer, ErrClosed)
		}
		return fmt.Errorf("udp send to %s: %w", u.peer, err)
	}
	return nil
}

// Recv returns the next datagram from the peer's IP address.
func (u *UDP) Recv() ([]byte, error) {
	for {
		n, from, err := u.conn.ReadFromUDPAddrPort(u.buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, fmt.Errorf("udp receive on %s: %w", u.conn.LocalAddr(), ErrClosed)
			}
			return nil, fmt.Errorf("udp receive on %s: %w", u.conn.LocalAddr(), err)
		}
		if from.Addr().Unmap() != u.peer.Addr() {
			u.mu.Lock()
			u.dropped["source"]++
			u.mu.Unlock()
			continue
		}
		return append([]byte(nil), u.buf[:n]...), nil
	}
}

// Close closes the socket; a blocked Recv returns ErrClosed.
func (u *UDP) Close() error {
	if err := u.conn.Close(); err != nil {
		return fmt.Errorf("close udp link on %s: %w", u.conn.LocalAddr(), err)
	}
	return nil
}

// Counters implements Counting.
func (u *UDP) Counters() Counters {
	u.mu.Lock()
	defer u.mu.Unlock()
	return Counters{Dropped: copyCounts(u.dropped)}
}

func copyCounts(m map[string]uint64) map[string]uint64 {
	c := make(map[string]uint64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
