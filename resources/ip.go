package resources

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"xhad/dsl"
)

// ErrNoSuchInterface is wrapped by the error of an ip resource whose
// interface does not exist on this host.
var ErrNoSuchInterface = errors.New("no such interface")

// ErrAddressGone is wrapped by the error of Refresh when the address is no
// longer on its interface (it expired or someone removed it).
var ErrAddressGone = errors.New("address is no longer on its interface")

// Refresher is implemented by resources whose hold lapses unless renewed:
// *IP with a lifetime. The daemon calls Refresh on the active node well
// within RefreshWithin.
type Refresher interface {
	Resource
	Refresh(ctx context.Context) error
	// RefreshWithin is the time after which the hold lapses without a
	// Refresh; zero means it never does (Refresh is then not needed).
	RefreshWithin() time.Duration
}

var _ Refresher = (*IP)(nil)

// IP keeps a service address on an interface, through rtnetlink; no `ip`
// binary is needed.
//
// Start adds the address (RTM_NEWADDR, IPv6 without duplicate address
// detection), or refreshes it when it is already there, checks that the
// kernel lists it, and announces it: ARP-count gratuitous ARPs for IPv4 (ARP
// requests with sender = target = the address, to the broadcast address) or
// unsolicited neighbour advertisements to ff02::1 for IPv6, ARPInterval
// apart; the first before Start returns, the rest in the background until
// the next Start or Stop. With a lifetime the address is added with
// valid_lft = preferred_lft = lifetime, so it disappears by itself unless
// Refresh is called in time: a daemon that is killed or hangs loses it.
//
// Stop ends the announcements, deletes the address (RTM_DELADDR; an address
// or interface that is not there is success) and checks that it is gone.
// Deleting the primary IPv4 address of a subnet also deletes its secondaries
// unless net.ipv4.conf.IF.promote_secondaries is set; service addresses are
// normally secondaries. Probe lists the interface's addresses (RTM_GETADDR):
// Running when the address is there with its prefix length, with the time
// left in Detail; Failed when IPv6 duplicate address detection failed.
//
// Sockets are opened on the calling goroutine, so the resource acts in the
// network namespace of the thread that calls it.
type IP struct {
	base
	prefix netip.Prefix
	// ARPInterval is the wait between two announcements of one start;
	// zero means DefaultARPInterval.
	ARPInterval time.Duration

	mu  sync.Mutex
	ann *announcer // announcements still being sent, nil when none
}

func newIP(b base) (*IP, error) {
	spec := b.spec.IP
	if spec == nil || spec.Address == "" {
		return nil, fmt.Errorf("new ip resource %s: no address", b.spec.Name)
	}
	p, err := netip.ParsePrefix(spec.Address)
	if err != nil {
		return nil, fmt.Errorf("new ip resource %s: address %q is not an address with prefix length, e.g. 192.0.2.10/24: %w", b.spec.Name, spec.Address, err)
	}
	if spec.Interface == "" {
		return nil, fmt.Errorf("new ip resource %s: no interface for address %s", b.spec.Name, spec.Address)
	}
	if spec.Lifetime < 0 {
		return nil, fmt.Errorf("new ip resource %s: negative lifetime %s", b.spec.Name, spec.Lifetime)
	}
	return &IP{base: b, prefix: p, ARPInterval: DefaultARPInterval}, nil
}

// Prefix returns the address with its prefix length.
func (x *IP) Prefix() netip.Prefix { return x.prefix }

func (x *IP) ipSpec() *dsl.IPSpec { return x.spec.IP }

func (x *IP) what(op string) string {
	return fmt.Sprintf("%s ip %s (%s on %s)", op, x.Name(), x.prefix, x.ipSpec().Interface)
}

// link finds the interface by name, with an error that names the fix.
func (x *IP) link() (*net.Interface, error) {
	name := x.ipSpec().Interface
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	for i := range ifs {
		if ifs[i].Name == name {
			return &ifs[i], nil
		}
	}
	return nil, fmt.Errorf("interface %s does not exist on this host; check resource %s's interface: %w", name, x.Name(), ErrNoSuchInterface)
}

// Start adds the address (or refreshes it) and announces it.
func (x *IP) Start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, x.startTimeout())
	defer cancel()
	what := x.what("start")

	ifi, err := x.link()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if ifi.Flags&net.FlagUp == 0 {
		return fmt.Errorf("%s: interface %s is down; bring it up (ip link set %s up) or check resource %s's interface",
			what, ifi.Name, ifi.Name, x.Name())
	}
	c, err := dialRoute()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer c.Close()

	op := fmt.Sprintf("add %s to %s", x.prefix, ifi.Name)
	_, err = c.do(ctx, op, unix.RTM_NEWADDR, unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL,
		addrRequest(x.prefix, ifi.Index, true, x.ipSpec().Lifetime))
	if errors.Is(err, unix.EEXIST) {
		err = x.replace(ctx, c, ifi)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	a, found, _, err := x.find(ctx, c, ifi)
	if err != nil {
		return fmt.Errorf("%s: check after adding: %w", what, err)
	}
	if !found {
		return fmt.Errorf("%s: the kernel accepted the address but does not list it on %s", what, ifi.Name)
	}
	if a.Flags&unix.IFA_F_DADFAILED != 0 {
		return fmt.Errorf("%s: duplicate address detection failed: another host on %s uses %s", what, ifi.Name, x.prefix.Addr())
	}

	x.mu.Lock()
	defer x.mu.Unlock()
	x.ann.stop()
	x.ann = nil
	ann, err := announce(ifi, x.prefix.Addr(), x.ipSpec().ARPCount, x.arpInterval())
	if err != nil {
		return fmt.Errorf("%s: address added, but neighbours cannot be told: %w", what, err)
	}
	x.ann = ann
	return nil
}

func (x *IP) arpInterval() time.Duration {
	if x.ARPInterval > 0 {
		return x.ARPInterval
	}
	return DefaultARPInterval
}

// replace re-adds the address with fresh lifetimes (NLM_F_REPLACE).
func (x *IP) replace(ctx context.Context, c *nlConn, ifi *net.Interface) error {
	op := fmt.Sprintf("refresh %s on %s", x.prefix, ifi.Name)
	_, err := c.do(ctx, op, unix.RTM_NEWADDR, unix.NLM_F_ACK|unix.NLM_F_REPLACE,
		addrRequest(x.prefix, ifi.Index, true, x.ipSpec().Lifetime))
	return err
}

// RefreshWithin returns the address's lifetime: zero for a permanent one.
func (x *IP) RefreshWithin() time.Duration { return x.ipSpec().Lifetime }

// Refresh renews the address's lifetime (valid_lft = preferred_lft =
// lifetime from now). The daemon calls it on the active node well within
// the lifetime. With no lifetime it does nothing. An address that is no
// longer there is not re-added: Refresh returns an error wrapping
// ErrAddressGone, and the resource must be started again (which announces
// it), because a lapsed address may have moved to the peer meanwhile. (The
// check and the renewal are two requests: an address that expires in the
// microseconds between them is re-added.)
func (x *IP) Refresh(ctx context.Context) error {
	if x.ipSpec().Lifetime <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, x.startTimeout())
	defer cancel()
	what := x.what("refresh")
	ifi, err := x.link()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	c, err := dialRoute()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer c.Close()
	_, found, _, err := x.find(ctx, c, ifi)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !found {
		return fmt.Errorf("%s: %w (expired or removed); not re-adding it, start the resource again", what, ErrAddressGone)
	}
	if err := x.replace(ctx, c, ifi); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Stop ends the announcements, deletes the address and checks it is gone.
func (x *IP) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, x.stopTimeout())
	defer cancel()
	what := x.what("stop")

	x.mu.Lock()
	x.ann.stop()
	x.ann = nil
	x.mu.Unlock()

	ifi, err := x.link()
	if errors.Is(err, ErrNoSuchInterface) {
		return nil // no interface, no address
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	c, err := dialRoute()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer c.Close()
	op := fmt.Sprintf("delete %s from %s", x.prefix, ifi.Name)
	_, delErr := c.do(ctx, op, unix.RTM_DELADDR, unix.NLM_F_ACK, addrRequest(x.prefix, ifi.Index, false, 0))
	if errors.Is(delErr, unix.EADDRNOTAVAIL) || errors.Is(delErr, unix.ENODEV) {
		delErr = nil // not there
	}
	_, found, _, err := x.find(ctx, c, ifi)
	switch {
	case err != nil && delErr != nil:
		return fmt.Errorf("%s: %w; and the addresses cannot be listed: %w", what, delErr, err)
	case err != nil:
		return fmt.Errorf("%s: check after deleting: %w", what, err)
	case !found:
		return nil
	case delErr != nil:
		return fmt.Errorf("%s: %w", what, delErr)
	}
	return fmt.Errorf("%s: the kernel acknowledged the deletion but still lists the address", what)
}

// Probe reports whether the address is on the interface.
func (x *IP) Probe(ctx context.Context) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	ifi, err := x.link()
	if errors.Is(err, ErrNoSuchInterface) {
		return Status{State: Stopped, Detail: fmt.Sprintf("interface %s does not exist", x.ipSpec().Interface)}, nil
	}
	if err != nil {
		return Status{}, fmt.Errorf("%s: %w", x.what("probe"), err)
	}
	c, err := dialRoute()
	if err != nil {
		return Status{}, fmt.Errorf("%s: %w", x.what("probe"), err)
	}
	defer c.Close()
	a, found, others, err := x.find(ctx, c, ifi)
	if err != nil {
		return Status{}, fmt.Errorf("%s: %w", x.what("probe"), err)
	}
	if !found {
		detail := fmt.Sprintf("%s not on %s", x.prefix, ifi.Name)
		if len(others) > 0 {
			detail += fmt.Sprintf(" (but %s is)", others[0])
		}
		return Status{State: Stopped, Detail: detail}, nil
	}
	return ipStatusOf(a, ifi), nil
}

func ipStatusOf(a ifAddr, ifi *net.Interface) Status {
	detail := fmt.Sprintf("%s on %s", a.Prefix, ifi.Name)
	if a.Permanent() {
		detail += ", permanent"
	} else {
		detail += fmt.Sprintf(", valid %ds left", a.Valid)
	}
	if ifi.Flags&net.FlagUp == 0 {
		detail += ", interface down"
	}
	switch {
	case a.Flags&unix.IFA_F_DADFAILED != 0:
		return Status{State: Failed, Detail: detail + ", duplicate address detection failed"}
	case a.Flags&unix.IFA_F_TENTATIVE != 0:
		detail += ", tentative"
	}
	return Status{State: Running, Detail: detail}
}

// find looks for the address with its prefix length on ifi; others are the
// same address with another prefix length.
func (x *IP) find(ctx context.Context, c *nlConn, ifi *net.Interface) (ifAddr, bool, []netip.Prefix, error) {
	addrs, err := listAddrs(ctx, c, addrFamily(x.prefix.Addr()), ifi.Index)
	if err != nil {
		return ifAddr{}, false, nil, err
	}
	var others []netip.Prefix
	for _, a := range addrs {
		if a.Prefix.Addr() != x.prefix.Addr() {
			continue
		}
		if a.Prefix.Bits() == x.prefix.Bits() {
			return a, true, nil, nil
		}
		others = append(others, a.Prefix)
	}
	return ifAddr{}, false, others, nil
}
