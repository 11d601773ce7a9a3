package fence

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// Fence kinds.
const (
	KindPeer = "peer" // the peer's DRBD replication traffic is dropped
	KindSelf = "self" // this node's service interfaces and addresses are cut
)

// Chains of the xhad tables, each a base chain with policy accept: input,
// output and forward in the inet table, forward in the bridge table.
const (
	ChainInput   = "input"
	ChainOutput  = "output"
	ChainForward = "forward"
)

// Table families.
const (
	FamilyInet   = "inet"   // routed and local traffic
	FamilyBridge = "bridge" // frames switched between the ports of a Linux bridge (Xen vifs)
)

// maxComment is the longest comment nft(8) accepts (NFT_USERDATA_MAXLEN is
// 256 in the kernel, but nft refuses comments above 128 characters).
const maxComment = 128

// Config says what the fences drop.
type Config struct {
	Table            string         // table name, family inet, e.g. "xhad"; owned by xhad, replaced whole
	PeerAddrs        []netip.Addr   // the peer's addresses whose replication traffic the peer fence drops
	ReplicationPorts []int          // DRBD TCP ports (the `address` ports of the DRBD resources)
	ServiceIfaces    []string       // interfaces (Xen vifs, routed bridges) whose forwarding the self fence cuts
	ServiceAddrs     []netip.Prefix // service IPs: traffic to and from them is dropped by the self fence
	NetNS            string         // path of a network namespace (/var/run/netns/NAME); "" = the current one
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.Table == "" || len(c.Table) > 255 {
		errs = append(errs, fmt.Errorf("fence config: table name %q: give a name of 1 to 255 characters, e.g. \"xhad\"", c.Table))
	}
	for _, a := range c.PeerAddrs {
		if !a.IsValid() {
			errs = append(errs, errors.New("fence config: a peer address is empty; list the peer's replication addresses"))
		}
	}
	for _, p := range c.ReplicationPorts {
		if p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("fence config: replication port %d: a TCP port is 1..65535", p))
		}
	}
	for _, i := range c.ServiceIfaces {
		if i == "" || len(i) >= unix.IFNAMSIZ {
			errs = append(errs, fmt.Errorf("fence config: interface name %q: give a name of 1 to %d characters", i, unix.IFNAMSIZ-1))
		}
	}
	for _, p := range c.ServiceAddrs {
		if !p.IsValid() {
			errs = append(errs, errors.New("fence config: a service address is empty; write it as ADDR/BITS, e.g. 192.0.2.10/32"))
		}
	}
	return errors.Join(errs...)
}

// Fence is one installed fence, as read back from the kernel.
type Fence struct {
	Kind  string    // KindPeer or KindSelf
	Since time.Time // when it was installed (second precision, UTC)
	Why   string    // the reason given when it was installed
}

// Rule is one rendered rule of the xhad table.
type Rule struct {
	Kind    string     // KindPeer or KindSelf
	Family  string     // FamilyInet or FamilyBridge
	Chain   string     // ChainInput, ChainOutput or ChainForward
	Text    string     // the rule as `nft list table` prints it, without counter values and comment
	Comment string     // stored in the rule's UserData; carries the fence's since and why
	Exprs   []expr.Any // what is sent to the kernel
}

// ErrNothingToFence is returned when the configuration gives a fence nothing to drop.
var ErrNothingToFence = errors.New("nothing to fence")

// ErrVerify is wrapped by the error of a write whose read-back differs from
// what was written: the fence is not in place as intended.
var ErrVerify = errors.New("read-back of the nftables table differs from what was written")

// Render returns the rules of the table for the wanted fences (nil = not
// fenced), in chain order input, output, forward. It is pure.
func Render(cfg Config, peer, self *Fence) ([]Rule, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var rules []Rule
	if peer != nil {
		if len(cfg.PeerAddrs) == 0 || len(cfg.ReplicationPorts) == 0 {
			return nil, fmt.Errorf("peer fence: %w: give the peer's addresses and the DRBD replication ports", ErrNothingToFence)
		}
		c := comment(*peer)
		for _, chain := range []string{ChainInput, ChainOutput} {
			dir := "saddr"
			if chain == ChainOutput {
				dir = "daddr"
			}
			for _, a := range cfg.PeerAddrs {
				for _, port := range cfg.ReplicationPorts {
					// Both ends connect to each other's port: drop the
					// connections the peer opens and the ones we open.
					for _, pdir := range []string{"dport", "sport"} {
						ex := addrMatch(netip.PrefixFrom(a, a.BitLen()), dir)
						ex = append(ex, tcpPortMatch(port, pdir)...)
						ex = append(ex, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})
						rules = append(rules, Rule{Kind: KindPeer, Family: FamilyInet, Chain: chain, Comment: c, Exprs: ex,
							Text: fmt.Sprintf("%s %s %s tcp %s %d counter drop", ipWord(a), dir, a.Unmap(), pdir, port)})
					}
				}
			}
		}
	}
	if self != nil {
		if len(cfg.ServiceIfaces) == 0 && len(cfg.ServiceAddrs) == 0 {
			return nil, fmt.Errorf("self fence: %w: give the service interfaces or the service addresses", ErrNothingToFence)
		}
		c := comment(*self)
		add := func(chain, text string, ex []expr.Any) {
			family := FamilyInet
			if chain == "bridge-forward" {
				family, chain = FamilyBridge, ChainForward
			}
			ex = append(ex, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})
			rules = append(rules, Rule{Kind: KindSelf, Family: family, Chain: chain, Comment: c, Exprs: ex, Text: text + " counter drop"})
		}
		for _, p := range cfg.ServiceAddrs {
			add(ChainInput, fmt.Sprintf("%s daddr %s", ipWord(p.Addr()), prefixText(p)), addrMatch(p, "daddr"))
		}
		for _, p := range cfg.ServiceAddrs {
			add(ChainOutput, fmt.Sprintf("%s saddr %s", ipWord(p.Addr()), prefixText(p)), addrMatch(p, "saddr"))
		}
		for _, i := range cfg.ServiceIfaces {
			add(ChainForward, fmt.Sprintf("iifname %q", i), ifaceMatch(i, expr.MetaKeyIIFNAME))
			add(ChainForward, fmt.Sprintf("oifname %q", i), ifaceMatch(i, expr.MetaKeyOIFNAME))
		}
		for _, p := range cfg.ServiceAddrs {
			add(ChainForward, fmt.Sprintf("%s daddr %s", ipWord(p.Addr()), prefixText(p)), addrMatch(p, "daddr"))
			add(ChainForward, fmt.Sprintf("%s saddr %s", ipWord(p.Addr()), prefixText(p)), addrMatch(p, "saddr"))
		}
		// Bridged Xen networking: frames between a domain's vif and the
		// other bridge ports never reach the inet forward hook (unless
		// br_netfilter is loaded); the bridge table cuts them.
		for _, i := range cfg.ServiceIfaces {
			add("bridge-forward", fmt.Sprintf("iifname %q", i), ifaceMatch(i, expr.MetaKeyIIFNAME))
			add("bridge-forward", fmt.Sprintf("oifname %q", i), ifaceMatch(i, expr.MetaKeyOIFNAME))
		}
	}
	order := map[string]int{ChainInput: 0, ChainOutput: 1, ChainForward: 2}
	slices.SortStableFunc(rules, func(a, b Rule) int {
		if a.Family != b.Family {
			return strings.Compare(b.Family, a.Family) // inet before bridge
		}
		return order[a.Chain] - order[b.Chain]
	})
	return rules, nil
}

func ipWord(a netip.Addr) string {
	if a.Unmap().Is4() {
		return "ip"
	}
	return "ip6"
}

func prefixText(p netip.Prefix) string {
	p = p.Masked()
	if p.Bits() == p.Addr().BitLen() {
		return p.Addr().String()
	}
	return p.String()
}

// addrMatch matches the source ("saddr") or destination ("daddr") address
// against p. In an inet table the protocol is matched first.
func addrMatch(p netip.Prefix, dir string) []expr.Any {
	a := p.Addr().Unmap()
	p = netip.PrefixFrom(a, p.Bits()-(p.Addr().BitLen()-a.BitLen())).Masked()
	proto, off, n := byte(unix.NFPROTO_IPV4), uint32(12), uint32(4)
	if a.Is6() {
		proto, off, n = unix.NFPROTO_IPV6, 8, 16
	}
	if dir == "daddr" {
		off += n
	}
	ex := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{OperationType: expr.PayloadLoad, DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
	}
	if p.Bits() < a.BitLen() {
		mask := make([]byte, n)
		for i := 0; i < p.Bits(); i++ {
			mask[i/8] |= 0x80 >> (i % 8)
		}
		ex = append(ex, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)})
	}
	return append(ex, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Addr().AsSlice()})
}

// tcpPortMatch matches TCP with the source ("sport") or destination ("dport") port.
func tcpPortMatch(port int, dir string) []expr.Any {
	off := uint32(0)
	if dir == "dport" {
		off = 2
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{OperationType: expr.PayloadLoad, DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, uint16(port))},
	}
}

func ifaceMatch(name string, key expr.MetaKey) []expr.Any {
	data := make([]byte, unix.IFNAMSIZ)
	copy(data, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data},
	}
}

const commentTimeLayout = "2006-01-02T15:04:05Z"

// comment renders the rule comment that carries a fence's since and why:
// "xhad peer fence since 2026-11-22T03:51:37Z: why".
func comment(f Fence) string {
	why := strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '"' {
			return ' '
		}
		return r
	}, f.Why)
	c := fmt.Sprintf("xhad %s fence since %s: %s", f.Kind, f.Since.UTC().Format(commentTimeLayout), why)
	for len(c) > maxComment {
		_, size := utf8.DecodeLastRuneInString(c)
		c = c[:len(c)-size]
	}
	return c
}

// parseComment reverses comment.
func parseComment(c string) (Fence, bool) {
	rest, ok := strings.CutPrefix(c, "xhad ")
	if !ok {
		return Fence{}, false
	}
	kind, rest, ok := strings.Cut(rest, " fence since ")
	if !ok || (kind != KindPeer && kind != KindSelf) {
		return Fence{}, false
	}
	ts, why, ok := strings.Cut(rest, ": ")
	if !ok {
		return Fence{}, false
	}
	since, err := time.Parse(commentTimeLayout, ts)
	if err != nil {
		return Fence{}, false
	}
	return Fence{Kind: kind, Since: since, Why: why}, true
}

// NFT installs the fences as one nftables table through netlink (no nft
// binary). Every change rebuilds the whole table from the wanted state in one
// netlink batch and reads it back; a change counts as done only when the
// read-back matches. It is safe for concurrent use.
type NFT struct {
	cfg Config
	mu  sync.Mutex
	now func() time.Time

	// beforeFlush, when set by tests, adds to the batch just before Flush.
	beforeFlush func(c *nftables.Conn, t *nftables.Table)
	// mangleWant, when set by tests, changes what the read-back is compared with.
	mangleWant func([]Rule) []Rule
}

// NewNFT returns an NFT for cfg. Nothing is touched until a method is called.
func NewNFT(cfg Config) *NFT {
	return &NFT{cfg: cfg, now: time.Now}
}

// SetConfig replaces the configuration used by later changes, for example
// the current vif names of the exclusive domains before a self fence. The
// installed tables are not touched until the next change.
func (n *NFT) SetConfig(cfg Config) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cfg = cfg
}

// FencePeer installs the peer fence (keeping a self fence in place). It is
// idempotent: when the peer fence is already installed, its original since
// and why are kept and the table is left alone.
func (n *NFT) FencePeer(ctx context.Context, why string) error {
	return n.change(ctx, "install peer fence", func(peer, self *Fence) (*Fence, *Fence) {
		if peer == nil {
			peer = &Fence{Kind: KindPeer, Since: n.now().UTC().Truncate(time.Second), Why: why}
		}
		return peer, self
	})
}

// SelfFence installs the self fence (keeping a peer fence in place). It is
// idempotent like FencePeer.
func (n *NFT) SelfFence(ctx context.Context, why string) error {
	return n.change(ctx, "install self fence", func(peer, self *Fence) (*Fence, *Fence) {
		if self == nil {
			self = &Fence{Kind: KindSelf, Since: n.now().UTC().Truncate(time.Second), Why: why}
		}
		return peer, self
	})
}

// Unfence removes the peer fence, the self fence, or both. With neither
// left, the table is deleted.
func (n *NFT) Unfence(ctx context.Context, peer, self bool) error {
	return n.change(ctx, "remove fences", func(p, s *Fence) (*Fence, *Fence) {
		if peer {
			p = nil
		}
		if self {
			s = nil
		}
		return p, s
	})
}

// Fences reads the installed fences back from the kernel, so they survive a
// daemon restart. The order is peer, then self.
func (n *NFT) Fences(ctx context.Context) ([]Fence, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	st, err := n.read(ctx)
	if err != nil {
		return nil, err
	}
	peer, self := st.fences()
	var out []Fence
	for _, f := range []*Fence{peer, self} {
		if f != nil {
			out = append(out, *f)
		}
	}
	return out, nil
}

// Rules returns the rules installed in the kernel's table, in the form of
// Render (Text is empty: it is not read back).
func (n *NFT) Rules(ctx context.Context) ([]Rule, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	st, err := n.read(ctx)
	if err != nil {
		return nil, err
	}
	return st.rules, nil
}

func (n *NFT) change(ctx context.Context, what string, next func(peer, self *Fence) (*Fence, *Fence)) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	st, err := n.read(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	peer, self := next(st.fences())
	want, err := Render(n.cfg, peer, self)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if st.matches(want) == nil && n.mangleWant == nil {
		return nil // already so; keep the counters
	}
	if err := n.write(ctx, st, want); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n.mangleWant != nil {
		want = n.mangleWant(want)
	}
	got, err := n.read(ctx)
	if err != nil {
		return fmt.Errorf("%s: read back: %w", what, err)
	}
	if err := got.matches(want); err != nil {
		return fmt.Errorf("%s: %w: %v", what, ErrVerify, err)
	}
	return nil
}

// conn opens a netlink connection in the configured namespace; done closes it.
func (n *NFT) conn(ctx context.Context) (c *nftables.Conn, done func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if n.cfg.NetNS == "" {
		c, err = nftables.New()
		if err != nil {
			return nil, nil, fmt.Errorf("open nftables netlink socket: %w", err)
		}
		return c, func() {}, nil
	}
	fd, err := unix.Open(n.cfg.NetNS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open network namespace %s: %w", n.cfg.NetNS, err)
	}
	c, err = nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("open nftables netlink socket in %s: %w", n.cfg.NetNS, err)
	}
	return c, func() { unix.Close(fd) }, nil
}

type chainSpec struct {
	name string
	hook *nftables.ChainHook
	prio *nftables.ChainPriority
}

// tableSpecs are the two tables xhad owns (both named Config.Table).
var tableSpecs = []struct {
	family string
	nf     nftables.TableFamily
	chains []chainSpec
}{
	{FamilyInet, nftables.TableFamilyINet, []chainSpec{
		{ChainInput, nftables.ChainHookInput, nftables.ChainPriorityFilter},
		{ChainOutput, nftables.ChainHookOutput, nftables.ChainPriorityFilter},
		{ChainForward, nftables.ChainHookForward, nftables.ChainPriorityFilter},
	}},
	// NF_BR_FORWARD is 2 like NF_INET_FORWARD; "priority filter" is -200 in a bridge table.
	{FamilyBridge, nftables.TableFamilyBridge, []chainSpec{
		{ChainForward, nftables.ChainHookForward, nftables.ChainPriorityRef(-200)},
	}},
}

// wanted says which tables the rules need: the inet table whenever any fence
// is installed, the bridge table only for bridge rules (so that a peer fence
// never depends on the kernel's bridge support).
func wanted(rules []Rule) map[string]bool {
	w := map[string]bool{}
	for _, r := range rules {
		w[FamilyInet] = true
		w[r.Family] = true
	}
	return w
}

// write replaces the tables in one batch; the kernel applies it whole or not
// at all. The inet table is added first so that deleting it cannot fail when
// it is missing, deleted, and added again with its chains and rules when
// wanted. The bridge table is only touched when it exists or is wanted.
func (n *NFT) write(ctx context.Context, st state, rules []Rule) error {
	c, done, err := n.conn(ctx)
	if err != nil {
		return err
	}
	defer done()
	want := wanted(rules)
	var last *nftables.Table
	for _, ts := range tableSpecs {
		t := &nftables.Table{Name: n.cfg.Table, Family: ts.nf}
		switch {
		case want[ts.family] || ts.family == FamilyInet:
			c.AddTable(t)
			c.DelTable(t)
		case st.tables[ts.family].exists:
			c.DelTable(t)
		}
		if !want[ts.family] {
			continue
		}
		t = c.AddTable(&nftables.Table{Name: n.cfg.Table, Family: ts.nf})
		last = t
		chains := map[string]*nftables.Chain{}
		accept := nftables.ChainPolicyAccept
		for _, ch := range ts.chains {
			chains[ch.name] = c.AddChain(&nftables.Chain{Name: ch.name, Table: t, Type: nftables.ChainTypeFilter,
				Hooknum: ch.hook, Priority: ch.prio, Policy: &accept})
		}
		for _, r := range rules {
			if r.Family == ts.family {
				c.AddRule(&nftables.Rule{Table: t, Chain: chains[r.Chain], Exprs: r.Exprs,
					UserData: userdata.AppendString(nil, userdata.TypeComment, r.Comment)})
			}
		}
	}
	if n.beforeFlush != nil {
		n.beforeFlush(c, last)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("replace nftables tables inet/bridge %s (the kernel applied nothing): %w", n.cfg.Table, err)
	}
	return nil
}

// tableState is one of the tables as read from the kernel.
type tableState struct {
	exists bool
	chains map[string]*nftables.Chain
}

// state is the tables as read from the kernel.
type state struct {
	tables map[string]tableState // by family
	rules  []Rule                // Text empty; Kind from the comment (UserData)
}

func (n *NFT) read(ctx context.Context) (state, error) {
	c, done, err := n.conn(ctx)
	if err != nil {
		return state{}, err
	}
	defer done()
	st := state{tables: map[string]tableState{}}
	for _, ts := range tableSpecs {
		tables, err := c.ListTablesOfFamily(ts.nf)
		if err != nil {
			return state{}, fmt.Errorf("list nftables %s tables: %w", ts.family, err)
		}
		var t *nftables.Table
		for _, tb := range tables {
			if tb.Name == n.cfg.Table {
				t = tb
			}
		}
		if t == nil {
			continue
		}
		tst := tableState{exists: true, chains: map[string]*nftables.Chain{}}
		chains, err := c.ListChainsOfTableFamily(ts.nf)
		if err != nil {
			return state{}, fmt.Errorf("list chains of table %s %s: %w", ts.family, n.cfg.Table, err)
		}
		for _, ch := range chains {
			if ch.Table.Name == n.cfg.Table {
				tst.chains[ch.Name] = ch
			}
		}
		st.tables[ts.family] = tst
		for _, cs := range ts.chains {
			ch, ok := tst.chains[cs.name]
			if !ok {
				continue
			}
			rules, err := c.GetRules(t, ch)
			if err != nil {
				return state{}, fmt.Errorf("list rules of chain %s in table %s %s: %w", cs.name, ts.family, n.cfg.Table, err)
			}
			for _, r := range rules {
				cm, _ := userdata.GetString(r.UserData, userdata.TypeComment)
				kind := ""
				if f, ok := parseComment(cm); ok {
					kind = f.Kind
				}
				st.rules = append(st.rules, Rule{Kind: kind, Family: ts.family, Chain: cs.name, Comment: cm, Exprs: r.Exprs})
			}
		}
	}
	return st, nil
}

// fences finds the installed fences from the rules' comments.
func (st state) fences() (peer, self *Fence) {
	for _, r := range st.rules {
		f, ok := parseComment(r.Comment)
		if !ok {
			continue
		}
		switch {
		case f.Kind == KindPeer && peer == nil:
			peer = &f
		case f.Kind == KindSelf && self == nil:
			self = &f
		}
	}
	return peer, self
}

// matches says how the read-back state differs from the wanted rules; nil
// when it is the same.
func (st state) matches(want []Rule) error {
	var diffs []string
	present := wanted(want)
	for _, ts := range tableSpecs {
		tst := st.tables[ts.family]
		if !present[ts.family] {
			if tst.exists {
				diffs = append(diffs, "table "+ts.family+" is still there")
			}
			continue
		}
		if !tst.exists {
			diffs = append(diffs, "table "+ts.family+" is missing")
			continue
		}
		for _, cs := range ts.chains {
			got, ok := tst.chains[cs.name]
			switch {
			case !ok:
				diffs = append(diffs, "chain "+ts.family+" "+cs.name+" is missing")
			case got.Hooknum == nil || *got.Hooknum != *cs.hook || got.Priority == nil || *got.Priority != *cs.prio ||
				got.Type != nftables.ChainTypeFilter || got.Policy == nil || *got.Policy != nftables.ChainPolicyAccept:
				diffs = append(diffs, "chain "+ts.family+" "+cs.name+" has the wrong hook, priority, type or policy")
			}
		}
		if len(tst.chains) != len(ts.chains) {
			diffs = append(diffs, fmt.Sprintf("table %s has %d chains instead of %d", ts.family, len(tst.chains), len(ts.chains)))
		}
	}
	for i := 0; i < max(len(want), len(st.rules)); i++ {
		switch {
		case i >= len(st.rules):
			diffs = append(diffs, fmt.Sprintf("rule %d (%s %s: %s) is missing", i, want[i].Family, want[i].Chain, want[i].Text))
		case i >= len(want):
			g := st.rules[i]
			diffs = append(diffs, fmt.Sprintf("rule %d in %s %s is extra: %s", i, g.Family, g.Chain, CanonExprs(g.Exprs)))
		default:
			w, g := want[i], st.rules[i]
			if w.Family != g.Family || w.Chain != g.Chain || w.Comment != g.Comment || CanonExprs(w.Exprs) != CanonExprs(g.Exprs) {
				diffs = append(diffs, fmt.Sprintf("rule %d: want %s %s: %s [%s] {%s}, got %s %s: [%s] {%s}", i,
					w.Family, w.Chain, w.Text, CanonExprs(w.Exprs), w.Comment, g.Family, g.Chain, CanonExprs(g.Exprs), g.Comment))
			}
		}
	}
	if len(diffs) > 0 {
		return errors.New(strings.Join(diffs, "; "))
	}
	return nil
}

// CanonExprs renders expressions in a canonical form for comparison: every
// field of every expression, except the counters' values.
func CanonExprs(ex []expr.Any) string {
	parts := make([]string, 0, len(ex))
	for _, e := range ex {
		switch v := e.(type) {
		case *expr.Counter:
			parts = append(parts, "counter")
		case *expr.Meta:
			parts = append(parts, fmt.Sprintf("meta{key=%d sreg=%t reg=%d}", v.Key, v.SourceRegister, v.Register))
		case *expr.Cmp:
			parts = append(parts, fmt.Sprintf("cmp{op=%d reg=%d data=%x}", v.Op, v.Register, v.Data))
		case *expr.Payload:
			parts = append(parts, fmt.Sprintf("payload{op=%d dreg=%d sreg=%d base=%d off=%d len=%d csum=%d/%d/%d}",
				v.OperationType, v.DestRegister, v.SourceRegister, v.Base, v.Offset, v.Len, v.CsumType, v.CsumOffset, v.CsumFlags))
		case *expr.Bitwise:
			parts = append(parts, fmt.Sprintf("bitwise{sreg=%d dreg=%d len=%d mask=%x xor=%x}", v.SourceRegister, v.DestRegister, v.Len, v.Mask, v.Xor))
		case *expr.Verdict:
			parts = append(parts, fmt.Sprintf("verdict{%d %s}", v.Kind, v.Chain))
		default:
			parts = append(parts, fmt.Sprintf("%T%+v", e, e))
		}
	}
	return strings.Join(parts, " ")
}
