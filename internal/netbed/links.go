package netbed

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Link is a path between the two hosts.
type Link int

// The links between the hosts.
const (
	Dedicated Link = iota // the veth dl0 (the UDP heartbeat link)
	Serial                // the PTY cable
	Public                // host to host over the public segment (partition check, VRRP)
)

func (l Link) String() string {
	switch l {
	case Dedicated:
		return "dedicated"
	case Serial:
		return "serial"
	case Public:
		return "public"
	}
	return fmt.Sprintf("link(%d)", int(l))
}

// Direction is which way a cut drops traffic.
type Direction int

// The directions of a cut.
const (
	Both Direction = iota
	AToB
	BToA
)

func (d Direction) String() string {
	return [...]string{"both ways", "a->b", "b->a"}[d]
}

type cut struct {
	link Link
	dir  Direction // AToB or BToA
}

// Cut drops traffic on link l in direction d. Dedicated both ways sets dl0
// down on both hosts (the daemons see the carrier go); one way, and every
// public cut, is an nftables drop rule in table inet netbed of the
// receiving host's namespace (the public cut matches the sender's public
// address, so the client still reaches both hosts). The serial cable drops
// the bytes of the cut direction in its relay.
func (b *Bed) Cut(l Link, d Direction) {
	b.t.Helper()
	switch {
	case l == Serial:
		if b.Cable == nil {
			b.t.Fatal("netbed: Cut(Serial) on a bed without a cable (Options.NoSerial)")
		}
		switch d {
		case Both:
			b.Cable.Cut()
		case AToB:
			b.Cable.CutAToB()
		case BToA:
			b.Cable.CutBToA()
		}
		return
	case l == Dedicated && d == Both:
		for _, n := range []*Node{b.A, b.B} {
			b.mustIP("-n", n.NS, "link", "set", "dl0", "down")
		}
		return
	}
	b.mu.Lock()
	if b.cuts == nil {
		b.cuts = map[cut]bool{}
	}
	if d == Both {
		b.cuts[cut{l, AToB}], b.cuts[cut{l, BToA}] = true, true
	} else {
		b.cuts[cut{l, d}] = true
	}
	b.mu.Unlock()
	b.applyCuts()
}

// Heal undoes Cut(l, d).
func (b *Bed) Heal(l Link, d Direction) {
	b.t.Helper()
	switch l {
	case Serial:
		if b.Cable == nil {
			return
		}
		switch d {
		case Both:
			b.Cable.Heal()
		case AToB:
			b.Cable.HealAToB()
		case BToA:
			b.Cable.HealBToA()
		}
		return
	case Dedicated:
		if d == Both {
			for _, n := range []*Node{b.A, b.B} {
				b.mustIP("-n", n.NS, "link", "set", "dl0", "up")
			}
		}
	}
	b.mu.Lock()
	if d == Both || d == AToB {
		delete(b.cuts, cut{l, AToB})
	}
	if d == Both || d == BToA {
		delete(b.cuts, cut{l, BToA})
	}
	b.mu.Unlock()
	b.applyCuts()
}

// CutAll cuts every link between the hosts both ways; HealAll heals them.
func (b *Bed) CutAll() {
	b.t.Helper()
	b.Cut(Dedicated, Both)
	if b.Cable != nil {
		b.Cut(Serial, Both)
	}
	b.Cut(Public, Both)
}

// HealAll heals every link between the hosts.
func (b *Bed) HealAll() {
	b.t.Helper()
	b.Heal(Dedicated, Both)
	b.Heal(Serial, Both)
	b.Heal(Public, Both)
}

// Isolate takes the host off every network: dl0 and pub0 down, the cable
// cut. Unisolate brings them back.
func (b *Bed) Isolate(n *Node) {
	b.t.Helper()
	b.mustIP("-n", n.NS, "link", "set", "pub0", "down")
	b.mustIP("-n", n.NS, "link", "set", "dl0", "down")
	if b.Cable != nil {
		b.Cable.Cut()
	}
}

// Unisolate brings the host's links back up and heals the cable.
func (b *Bed) Unisolate(n *Node) {
	b.t.Helper()
	b.mustIP("-n", n.NS, "link", "set", "pub0", "up")
	for _, m := range []*Node{b.A, b.B} {
		b.mustIP("-n", m.NS, "link", "set", "dl0", "up")
	}
	if b.Cable != nil {
		b.Cable.Heal()
	}
}

// CrashHost plays a power failure of n's host: its links go first (a dying
// host sends nothing more), then kill -9 of the daemon, the simulator's
// host-crash (its domains and DRBD gone), and what a reboot loses: the
// service address and every nftables table in its namespace.
func (b *Bed) CrashHost(n *Node) {
	b.t.Helper()
	b.Isolate(n)
	n.Kill()
	b.Sim("host-crash", n.Name)
	_, _ = b.IP("-n", n.NS, "addr", "del", b.ServiceIP+"/24", "dev", "pub0")
	if err := b.withNFT(n, func(c *nftables.Conn) { c.FlushRuleset() }); err != nil {
		b.t.Fatalf("flush the nftables of crashed host %s: %v", n.Name, err)
	}
}

// BootHost powers n's host on again: the simulator's host-boot and its
// links up. The daemon is not started.
func (b *Bed) BootHost(n *Node) {
	b.t.Helper()
	b.Sim("host-boot", n.Name)
	b.Unisolate(n)
}

func (b *Bed) mustIP(args ...string) {
	b.t.Helper()
	if _, err := b.IP(args...); err != nil {
		b.t.Fatal(err)
	}
}

func (b *Bed) withNFT(n *Node, fn func(*nftables.Conn)) error {
	f, err := os.Open("/run/netns/" + n.NS)
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", n.NS, err)
	}
	defer f.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		return fmt.Errorf("nftables in %s: %w", n.NS, err)
	}
	defer c.CloseLasting()
	fn(c)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables in %s: %w", n.NS, err)
	}
	return nil
}

func ifname(s string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, s)
	return b
}

// applyCuts replaces table inet netbed in both hosts' namespaces with the
// drop rules of the current one-way cuts, in one batch each.
func (b *Bed) applyCuts() {
	b.t.Helper()
	b.mu.Lock()
	cuts := make(map[cut]bool, len(b.cuts))
	for k, v := range b.cuts {
		cuts[k] = v
	}
	b.mu.Unlock()
	for _, recv := range []*Node{b.A, b.B} {
		from := b.Peer(recv)
		dir := AToB
		if recv == b.A {
			dir = BToA
		}
		err := b.withNFT(recv, func(c *nftables.Conn) {
			tbl := &nftables.Table{Family: nftables.TableFamilyINet, Name: "netbed"}
			c.AddTable(tbl) // so that the delete below cannot fail
			c.DelTable(tbl)
			var rules [][]expr.Any
			if cuts[cut{Dedicated, dir}] {
				rules = append(rules, []expr.Any{
					&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname("dl0")},
					&expr.Verdict{Kind: expr.VerdictDrop},
				})
			}
			if cuts[cut{Public, dir}] {
				rules = append(rules, []expr.Any{
					&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname("pub0")},
					&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
					&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: net.ParseIP(from.PubIP).To4()},
					&expr.Verdict{Kind: expr.VerdictDrop},
				})
			}
			if len(rules) == 0 {
				return
			}
			c.AddTable(tbl)
			ch := c.AddChain(&nftables.Chain{Name: "input", Table: tbl, Type: nftables.ChainTypeFilter,
				Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter})
			for _, r := range rules {
				c.AddRule(&nftables.Rule{Table: tbl, Chain: ch, Exprs: r})
			}
		})
		if err != nil {
			b.t.Fatalf("netbed: apply cuts %v: %v", cuts, err)
		}
	}
}

// Tables lists the nftables tables (family name) in n's namespace.
func (b *Bed) Tables(n *Node) ([]string, error) {
	f, err := os.Open("/run/netns/" + n.NS)
	if err != nil {
		return nil, fmt.Errorf("open namespace %s: %w", n.NS, err)
	}
	defer f.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		return nil, fmt.Errorf("nftables in %s: %w", n.NS, err)
	}
	defer c.CloseLasting()
	ts, err := c.ListTables()
	if err != nil {
		return nil, fmt.Errorf("list nftables tables in %s: %w", n.NS, err)
	}
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out, nil
}

// Holders returns the nodes whose pub0 carries the service address.
func (b *Bed) Holders() ([]string, error) {
	var on []string
	for _, n := range []*Node{b.A, b.B} {
		out, err := b.IP("-n", n.NS, "-o", "-4", "addr", "show", "dev", "pub0")
		if err != nil {
			return nil, err
		}
		if strings.Contains(out, " "+b.ServiceIP+"/") {
			on = append(on, n.Name)
		}
	}
	return on, nil
}

// AnswersFrom pings the service address once from the client namespace and
// returns the node whose MAC the client resolved it to ("" when there was
// no answer), with what it saw.
func (b *Bed) AnswersFrom() (string, string) {
	out, err := b.Exec(b.Client, 5*time.Second, "ping", "-n", "-c", "1", "-W", "1", b.ServiceIP)
	if err != nil {
		return "", "no answer from the client: " + strings.TrimSpace(out)
	}
	neigh, err := b.IP("-n", b.Client, "neigh", "show", b.ServiceIP, "dev", "eth0")
	if err != nil {
		return "", err.Error()
	}
	f := strings.Fields(neigh)
	mac := ""
	for i := range f {
		if f[i] == "lladdr" && i+1 < len(f) {
			mac = f[i+1]
		}
	}
	for _, n := range []*Node{b.A, b.B} {
		if strings.EqualFold(mac, n.MAC) {
			return n.Name, "answered from " + n.Name + " (" + strings.TrimSpace(neigh) + ")"
		}
	}
	return "", "answered, but the client's neighbour entry is " + strings.TrimSpace(neigh)
}

// ServiceOn reports whether the service address is held by exactly node
// (or by nobody when node is "") and, when held, answers the client from it.
func (b *Bed) ServiceOn(node string) (bool, string) {
	h, err := b.Holders()
	if err != nil {
		return false, err.Error()
	}
	held := strings.Join(h, ",")
	if held != node {
		return false, fmt.Sprintf("service address held by %q, want %q", held, node)
	}
	if node == "" {
		return true, "held by nobody"
	}
	from, seen := b.AnswersFrom()
	return from == node, "held by " + held + "; " + seen
}
