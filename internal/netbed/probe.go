package netbed

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// InNetns runs fn on an OS thread that has entered network namespace ns;
// sockets fn opens belong to ns and stay usable from any goroutine.
func InNetns(ns string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open own network namespace: %w", err)
	}
	defer orig.Close()
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open namespace %s: %w", ns, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter namespace %s: %w", ns, err)
	}
	ferr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked and dies with its goroutine: it is
		// never reused in the wrong namespace.
		return errors.Join(ferr, fmt.Errorf("return from namespace %s: %w", ns, err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// Prober sends ICMP echo requests to the service address from the client
// namespace over a raw socket, for latency measurements finer than the
// ping tool's.
type Prober struct {
	fd     int
	dst    [4]byte
	id     uint16
	seq    uint16
	sentAt map[uint16]time.Time
}

// NewProber opens the raw ICMP socket in the client namespace; the caller
// closes it.
func (b *Bed) NewProber() (*Prober, error) {
	p := &Prober{id: uint16(os.Getpid()), sentAt: map[uint16]time.Time{}}
	copy(p.dst[:], parseIPv4(b.ServiceIP))
	err := InNetns(b.Client, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
		if err != nil {
			return fmt.Errorf("raw ICMP socket in %s: %w", b.Client, err)
		}
		p.fd = fd
		return nil
	})
	if err != nil {
		return nil, err
	}
	tv := unix.NsecToTimeval(int64(2 * time.Millisecond))
	if err := unix.SetsockoptTimeval(p.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(p.fd)
		return nil, fmt.Errorf("prober receive timeout: %w", err)
	}
	return p, nil
}

func parseIPv4(s string) []byte {
	var out []byte
	for _, part := range strings.Split(s, ".") {
		n, _ := strconv.Atoi(part)
		out = append(out, byte(n))
	}
	return out
}

// Close closes the socket.
func (p *Prober) Close() { unix.Close(p.fd) }

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

func (p *Prober) send() error {
	p.seq++
	msg := make([]byte, 16)
	msg[0] = 8 // echo request
	binary.BigEndian.PutUint16(msg[4:], p.id)
	binary.BigEndian.PutUint16(msg[6:], p.seq)
	binary.BigEndian.PutUint16(msg[2:], checksum(msg))
	p.sentAt[p.seq] = time.Now()
	return unix.Sendto(p.fd, msg, 0, &unix.SockaddrInet4{Addr: p.dst})
}

// WaitAnswer sends an echo request every interval and returns how long
// after since the first answer arrived to a request sent at or after since.
// Send errors (no route, no neighbour) count as no answer.
func (p *Prober) WaitAnswer(since time.Time, interval, timeout time.Duration) (time.Duration, error) {
	deadline := since.Add(timeout)
	buf := make([]byte, 1500)
	next := time.Now()
	for time.Now().Before(deadline) {
		if !time.Now().Before(next) {
			_ = p.send()
			next = time.Now().Add(interval)
		}
		n, _, err := unix.Recvfrom(p.fd, buf, 0)
		if err != nil {
			continue // receive timeout: send again when due
		}
		now := time.Now()
		if n < 20 {
			continue
		}
		ihl := int(buf[0]&0x0f) * 4
		if n < ihl+8 || [4]byte(buf[12:16]) != p.dst {
			continue
		}
		icmp := buf[ihl:n]
		if icmp[0] != 0 || binary.BigEndian.Uint16(icmp[4:]) != p.id {
			continue
		}
		at, ok := p.sentAt[binary.BigEndian.Uint16(icmp[6:])]
		if ok && !at.Before(since) {
			return now.Sub(since), nil
		}
	}
	return 0, fmt.Errorf("no answer from the service address within %s", timeout)
}

// Usage is the CPU time and resident memory of the processes in a
// namespace.
type Usage struct {
	CPU time.Duration // user + system, summed
	RSS int64         // bytes, summed
}

// NSUsage sums /proc usage over every process in namespace ns.
func (b *Bed) NSUsage(ns string) (Usage, error) {
	out, err := b.IP("netns", "pids", ns)
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	tick := time.Second / 100 // USER_HZ on Linux
	for _, f := range strings.Fields(out) {
		stat, err := os.ReadFile(filepath.Join("/proc", f, "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		s := string(stat)
		rest := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(rest) < 22 {
			continue
		}
		ut, _ := strconv.ParseInt(rest[11], 10, 64)
		st, _ := strconv.ParseInt(rest[12], 10, 64)
		rss, _ := strconv.ParseInt(rest[21], 10, 64)
		u.CPU += time.Duration(ut+st) * tick
		u.RSS += rss * int64(os.Getpagesize())
	}
	return u, nil
}
