package resources

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultARPInterval is the wait between two gratuitous ARPs (or unsolicited
// neighbour advertisements) of one start, as IPaddr2's send_arp uses.
const DefaultARPInterval = 200 * time.Millisecond

// arpPacket renders an ARP announcement for ip from mac (RFC 5227 section
// 2.3, what `arping -U` sends): an ARP request whose sender and target
// protocol addresses are both ip, target hardware address zero, to be sent
// to the Ethernet broadcast address.
func arpPacket(mac net.HardwareAddr, ip netip.Addr) []byte {
	p := make([]byte, 8, 28)
	binary.BigEndian.PutUint16(p[0:2], 1)      // htype Ethernet
	binary.BigEndian.PutUint16(p[2:4], 0x0800) // ptype IPv4
	p[4], p[5] = 6, 4                          // hlen, plen
	binary.BigEndian.PutUint16(p[6:8], 1)      // op request
	a := ip.As4()
	p = append(p, mac[:6]...)
	p = append(p, a[:]...)
	p = append(p, make([]byte, 6)...)
	p = append(p, a[:]...)
	return p
}

// naPacket renders an unsolicited ICMPv6 neighbour advertisement for ip
// from mac (RFC 4861 section 7.2.6): Override set, Solicited clear, with a
// target link-layer address option. The kernel fills in the checksum of a
// raw ICMPv6 socket.
func naPacket(mac net.HardwareAddr, ip netip.Addr) []byte {
	p := make([]byte, 8, 32)
	p[0] = 136     // type neighbour advertisement
	p[4] = 1 << 5  // flags: Override
	a := ip.As16() // target
	p = append(p, a[:]...)
	p = append(p, 2, 1) // option target link-layer address, 8 bytes
	p = append(p, mac[:6]...)
	return p
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// announcer sends the announcements of one start that follow the first.
type announcer struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// stop ends the announcements and waits until none can be sent any more.
func (a *announcer) stop() {
	if a == nil {
		return
	}
	a.cancel()
	<-a.done
}

// announce tells the neighbours on ifi that addr is here now: count
// gratuitous ARPs for IPv4, count unsolicited neighbour advertisements to
// all-nodes for IPv6, interval apart. The socket is opened and the first
// packet sent before it returns (so an error is the caller's to report, and
// the socket belongs to the caller's network namespace); the rest go out in
// the background until the returned announcer is stopped. Interfaces without
// an Ethernet address or with NOARP (loopback, tunnels) get none.
func announce(ifi *net.Interface, addr netip.Addr, count int, interval time.Duration) (*announcer, error) {
	if count <= 0 || len(ifi.HardwareAddr) != 6 || ifi.Flags&net.FlagLoopback != 0 {
		return nil, nil
	}
	var (
		fd   int
		pkt  []byte
		to   unix.Sockaddr
		what string
		err  error
	)
	if addr.Is4() {
		what = "gratuitous ARP"
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ARP)))
		if err != nil {
			return nil, fmt.Errorf("open packet socket for %s on %s: %w", what, ifi.Name, err)
		}
		pkt = arpPacket(ifi.HardwareAddr, addr)
		to = &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: ifi.Index, Halen: 6,
			Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	} else {
		what = "unsolicited neighbour advertisement"
		fd, err = ndSocket(ifi, addr)
		if err != nil {
			return nil, fmt.Errorf("open ICMPv6 socket for %s on %s: %w", what, ifi.Name, err)
		}
		pkt = naPacket(ifi.HardwareAddr, addr)
		to = &unix.SockaddrInet6{Addr: netip.MustParseAddr("ff02::1").As16(), ZoneId: uint32(ifi.Index)}
	}
	if err := unix.Sendto(fd, pkt, 0, to); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("send %s for %s on %s: %w", what, addr, ifi.Name, err)
	}
	if count == 1 {
		unix.Close(fd)
		return nil, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &announcer{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		defer unix.Close(fd)
		t := time.NewTicker(interval)
		defer t.Stop()
		for sent := 1; sent < count; sent++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			// Best effort: the address is up; a lost repeat only delays
			// caches that missed the first one.
			_ = unix.Sendto(fd, pkt, 0, to)
		}
	}()
	return a, nil
}

// ndSocket opens a raw ICMPv6 socket that sends from addr on ifi with hop
// limit 255, as neighbour discovery requires.
func ndSocket(ifi *net.Interface, addr netip.Addr) (int, error) {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMPV6)
	if err != nil {
		return -1, err
	}
	for _, o := range []struct{ opt, val int }{
		{unix.IPV6_MULTICAST_HOPS, 255},
		{unix.IPV6_UNICAST_HOPS, 255},
		{unix.IPV6_MULTICAST_IF, ifi.Index},
		{unix.IPV6_MULTICAST_LOOP, 0},
	} {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, o.opt, o.val); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	sa := &unix.SockaddrInet6{Addr: addr.As16()}
	if addr.IsLinkLocalUnicast() {
		sa.ZoneId = uint32(ifi.Index)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind to %s: %w", addr, err)
	}
	return fd, nil
}
