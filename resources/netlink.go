package resources

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// This file speaks just enough rtnetlink (RTM_NEWADDR, RTM_DELADDR,
// RTM_GETADDR) for the ip kind, over a NETLINK_ROUTE socket of
// golang.org/x/sys/unix. Every socket is opened, used and closed on the
// calling goroutine, so it belongs to the network namespace of the calling
// thread (the tests rely on that).

// infinityLife is the kernel's INFINITY_LIFE_TIME: a permanent address.
const infinityLife = 0xFFFFFFFF

// netlinkError is a negative acknowledgement from the kernel. It wraps the
// errno, so errors.Is(err, unix.EEXIST) works.
type netlinkError struct {
	Op    string     // "add address 10.0.0.1/24 to eth0"
	Errno unix.Errno // the kernel's answer
	Msg   string     // extended ack message, may be empty
}

func (e *netlinkError) Error() string {
	if e.Msg != "" {
		return fmt.Sprintf("%s: %v (kernel: %s)", e.Op, e.Errno, e.Msg)
	}
	return fmt.Sprintf("%s: %v", e.Op, e.Errno)
}

func (e *netlinkError) Unwrap() error { return e.Errno }

// nlConn is one NETLINK_ROUTE socket.
type nlConn struct {
	fd  int
	seq uint32
}

func dialRoute() (*nlConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind rtnetlink socket: %w", err)
	}
	// Best effort: kernels without them still work, with plainer errors.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	return &nlConn{fd: fd, seq: uint32(time.Now().UnixNano())}, nil
}

func (c *nlConn) Close() error { return unix.Close(c.fd) }

// setDeadline bounds every receive by ctx's deadline (or by limit when ctx
// has none).
func (c *nlConn) setDeadline(ctx context.Context, limit time.Duration) error {
	d := limit
	if deadline, ok := ctx.Deadline(); ok {
		d = time.Until(deadline)
	}
	if d <= 0 {
		return context.DeadlineExceeded
	}
	tv := unix.NsecToTimeval(d.Nanoseconds())
	if tv.Sec == 0 && tv.Usec == 0 {
		tv.Usec = 1
	}
	return unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
}

// nlMsg is one received netlink message.
type nlMsg struct {
	typ  uint16
	data []byte // after the 16-byte header
}

// do sends one request and collects the answer: for a dump every message up
// to NLMSG_DONE, otherwise the acknowledgement. op names the request in
// errors.
func (c *nlConn) do(ctx context.Context, op string, typ, flags uint16, body []byte) ([]nlMsg, error) {
	if err := ctxDone(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := c.setDeadline(ctx, ProbeTimeout); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	c.seq++
	seq := c.seq
	msg := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(body))
	msg = append(msg, body...)
	binary.NativeEndian.PutUint32(msg[0:4], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:6], typ)
	binary.NativeEndian.PutUint16(msg[6:8], flags|unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(msg[8:12], seq)
	if err := unix.Sendto(c.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("%s: send to the kernel: %w", op, err)
	}
	var out []nlMsg
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if errors.Is(err, unix.EAGAIN) {
				return nil, fmt.Errorf("%s: no answer from the kernel: %w", op, context.DeadlineExceeded)
			}
			return nil, fmt.Errorf("%s: receive from the kernel: %w", op, err)
		}
		b := buf[:n]
		for len(b) >= unix.NLMSG_HDRLEN {
			l := int(binary.NativeEndian.Uint32(b[0:4]))
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				return nil, fmt.Errorf("%s: malformed netlink message (length %d of %d)", op, l, len(b))
			}
			mtyp := binary.NativeEndian.Uint16(b[4:6])
			mflags := binary.NativeEndian.Uint16(b[6:8])
			mseq := binary.NativeEndian.Uint32(b[8:12])
			data := b[unix.NLMSG_HDRLEN:l]
			b = b[min(nlAlign(l), len(b)):]
			if mseq != seq {
				continue // a late answer to an earlier request
			}
			switch mtyp {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(data) < 4 {
					return nil, fmt.Errorf("%s: short netlink error message", op)
				}
				code := int32(binary.NativeEndian.Uint32(data[0:4]))
				if code == 0 {
					return out, nil // the acknowledgement
				}
				return nil, &netlinkError{Op: op, Errno: unix.Errno(-code), Msg: extAckMsg(data, mflags)}
			default:
				// A dump's part, or an answer before its ack: keep reading
				// until NLMSG_DONE or the ack.
				out = append(out, nlMsg{typ: mtyp, data: append([]byte(nil), data...)})
			}
		}
	}
}

// extAckMsg returns NLMSGERR_ATTR_MSG of an error message, if any.
func extAckMsg(data []byte, flags uint16) string {
	if flags&unix.NLM_F_ACK_TLVS == 0 || len(data) < 4+unix.NLMSG_HDRLEN {
		return ""
	}
	// struct nlmsgerr: int error; struct nlmsghdr msg; then (with CAP_ACK
	// or on success) the TLVs. Without CAP_ACK the request follows the
	// header; its length is in the embedded header.
	off := 4 + unix.NLMSG_HDRLEN
	if flags&unix.NLM_F_CAPPED == 0 {
		off = 4 + nlAlign(int(binary.NativeEndian.Uint32(data[4:8])))
	}
	if off > len(data) {
		return ""
	}
	for typ, val := range rtAttrs(data[off:]) {
		if typ == unix.NLMSGERR_ATTR_MSG {
			return string(trimNUL(val))
		}
	}
	return ""
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

func nlAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

func rtaAlign(n int) int { return (n + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1) }

// rtAttrs iterates the route attributes in b, stopping at the first
// malformed one.
func rtAttrs(b []byte) func(yield func(uint16, []byte) bool) {
	return func(yield func(uint16, []byte) bool) {
		for len(b) >= unix.SizeofRtAttr {
			l := int(binary.NativeEndian.Uint16(b[0:2]))
			typ := binary.NativeEndian.Uint16(b[2:4])
			if l < unix.SizeofRtAttr || l > len(b) {
				return
			}
			if !yield(typ&^unix.NLA_F_NESTED, b[unix.SizeofRtAttr:l]) {
				return
			}
			b = b[min(rtaAlign(l), len(b)):]
		}
	}
}

func appendAttr(b []byte, typ uint16, val []byte) []byte {
	l := unix.SizeofRtAttr + len(val)
	var hdr [unix.SizeofRtAttr]byte
	binary.NativeEndian.PutUint16(hdr[0:2], uint16(l))
	binary.NativeEndian.PutUint16(hdr[2:4], typ)
	b = append(b, hdr[:]...)
	b = append(b, val...)
	for i := l; i < rtaAlign(l); i++ {
		b = append(b, 0)
	}
	return b
}

func u32(v uint32) []byte {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], v)
	return b[:]
}

func addrFamily(a netip.Addr) uint8 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// ifaddrmsg renders struct ifaddrmsg.
func ifaddrmsg(family, prefixLen, flags, scope uint8, index int) []byte {
	b := make([]byte, unix.SizeofIfAddrmsg)
	b[0], b[1], b[2], b[3] = family, prefixLen, flags, scope
	binary.NativeEndian.PutUint32(b[4:8], uint32(index))
	return b
}

// addrRequest renders the body of RTM_NEWADDR / RTM_DELADDR for p on the
// interface with this index. With withLifetime the body carries an
// IFA_CACHEINFO with valid = preferred = lifetime (whole seconds, 0 meaning
// permanent). IPv6 addresses are added without duplicate address detection:
// a service address that moves between hosts must answer at once.
func addrRequest(p netip.Prefix, index int, withLifetime bool, lifetime time.Duration) []byte {
	a := p.Addr()
	var flags uint32
	if a.Is6() {
		flags = unix.IFA_F_NODAD
	}
	b := ifaddrmsg(addrFamily(a), uint8(p.Bits()), uint8(flags), unix.RT_SCOPE_UNIVERSE, index)
	raw := a.AsSlice()
	b = appendAttr(b, unix.IFA_LOCAL, raw)
	b = appendAttr(b, unix.IFA_ADDRESS, raw)
	if withLifetime {
		if bc, ok := broadcastOf(p); ok {
			b = appendAttr(b, unix.IFA_BROADCAST, bc.AsSlice())
		}
		b = appendAttr(b, unix.IFA_FLAGS, u32(flags))
		life := uint32(infinityLife)
		if lifetime > 0 {
			life = uint32((lifetime + time.Second - 1) / time.Second)
		}
		ci := make([]byte, unix.SizeofIfaCacheinfo)
		binary.NativeEndian.PutUint32(ci[0:4], life) // ifa_prefered
		binary.NativeEndian.PutUint32(ci[4:8], life) // ifa_valid
		b = appendAttr(b, unix.IFA_CACHEINFO, ci)
	}
	return b
}

// broadcastOf returns the broadcast address of an IPv4 subnet (as `ip addr
// add … brd +` sets it); none for IPv6, /31 and /32.
func broadcastOf(p netip.Prefix) (netip.Addr, bool) {
	if !p.Addr().Is4() || p.Bits() > 30 {
		return netip.Addr{}, false
	}
	a := p.Addr().As4()
	host := ^uint32(0) >> p.Bits()
	binary.BigEndian.PutUint32(a[:], binary.BigEndian.Uint32(a[:])|host)
	return netip.AddrFrom4(a), true
}

// ifAddr is one address as RTM_GETADDR reports it.
type ifAddr struct {
	Prefix    netip.Prefix
	Index     int
	Flags     uint32 // IFA_F_*
	Preferred uint32 // seconds left, infinityLife when permanent
	Valid     uint32 // seconds left, infinityLife when permanent
}

// Permanent reports whether the address has no lifetime.
func (a ifAddr) Permanent() bool { return a.Valid == infinityLife }

// listAddrs dumps the addresses of one family on the interface with index.
func listAddrs(ctx context.Context, c *nlConn, family uint8, index int) ([]ifAddr, error) {
	msgs, err := c.do(ctx, "list addresses", unix.RTM_GETADDR, unix.NLM_F_DUMP, ifaddrmsg(family, 0, 0, 0, 0))
	if err != nil {
		return nil, err
	}
	var out []ifAddr
	for _, m := range msgs {
		if m.typ != unix.RTM_NEWADDR || len(m.data) < unix.SizeofIfAddrmsg {
			continue
		}
		fam, bits, flags8 := m.data[0], int(m.data[1]), m.data[2]
		idx := int(binary.NativeEndian.Uint32(m.data[4:8]))
		if fam != family || idx != index {
			continue
		}
		a := ifAddr{Index: idx, Flags: uint32(flags8), Preferred: infinityLife, Valid: infinityLife}
		var local, address netip.Addr
		for typ, val := range rtAttrs(m.data[nlAlign(unix.SizeofIfAddrmsg):]) {
			switch typ {
			case unix.IFA_LOCAL:
				local, _ = netip.AddrFromSlice(val)
			case unix.IFA_ADDRESS:
				address, _ = netip.AddrFromSlice(val)
			case unix.IFA_FLAGS:
				if len(val) >= 4 {
					a.Flags = binary.NativeEndian.Uint32(val)
				}
			case unix.IFA_CACHEINFO:
				if len(val) >= 8 {
					a.Preferred = binary.NativeEndian.Uint32(val[0:4])
					a.Valid = binary.NativeEndian.Uint32(val[4:8])
				}
			}
		}
		addr := local // IFA_LOCAL is the address itself; IPv6 has only IFA_ADDRESS
		if !addr.IsValid() {
			addr = address
		}
		if !addr.IsValid() {
			continue
		}
		a.Prefix = netip.PrefixFrom(addr, bits)
		out = append(out, a)
	}
	return out, nil
}
