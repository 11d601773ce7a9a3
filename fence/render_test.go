package fence

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var since = time.Date(2026, 11, 22, 3, 51, 37, 0, time.UTC)

func TestRender(t *testing.T) {
	cfg := Config{Table: "xhad",
		PeerAddrs:        []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00::2")},
		ReplicationPorts: []int{7789},
		ServiceIfaces:    []string{"vif1.0"},
		ServiceAddrs:     []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32"), netip.MustParsePrefix("2001:db8:1::/48")}}
	peer := &Fence{Kind: KindPeer, Since: since, Why: "peer dead"}
	self := &Fence{Kind: KindSelf, Since: since, Why: "lost"}
	tests := []struct {
		name       string
		peer, self *Fence
		want       []string // chain: text
	}{
		{name: "nothing", want: nil},
		{name: "peer", peer: peer, want: []string{
			"input: ip saddr 10.0.0.2 tcp dport 7789 counter drop",
			"input: ip saddr 10.0.0.2 tcp sport 7789 counter drop",
			"input: ip6 saddr fd00::2 tcp dport 7789 counter drop",
			"input: ip6 saddr fd00::2 tcp sport 7789 counter drop",
			"output: ip daddr 10.0.0.2 tcp dport 7789 counter drop",
			"output: ip daddr 10.0.0.2 tcp sport 7789 counter drop",
			"output: ip6 daddr fd00::2 tcp dport 7789 counter drop",
			"output: ip6 daddr fd00::2 tcp sport 7789 counter drop",
		}},
		{name: "self", self: self, want: []string{
			"input: ip daddr 192.0.2.10 counter drop",
			"input: ip6 daddr 2001:db8:1::/48 counter drop",
			"output: ip saddr 192.0.2.10 counter drop",
			"output: ip6 saddr 2001:db8:1::/48 counter drop",
			`forward: iifname "vif1.0" counter drop`,
			`forward: oifname "vif1.0" counter drop`,
			"forward: ip daddr 192.0.2.10 counter drop",
			"forward: ip saddr 192.0.2.10 counter drop",
			"forward: ip6 daddr 2001:db8:1::/48 counter drop",
			"forward: ip6 saddr 2001:db8:1::/48 counter drop",
			`bridge forward: iifname "vif1.0" counter drop`,
			`bridge forward: oifname "vif1.0" counter drop`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := Render(cfg, tt.peer, tt.self)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rules {
				prefix := ""
				if r.Family == FamilyBridge {
					prefix = "bridge "
				}
				got = append(got, prefix+r.Chain+": "+r.Text)
				f := tt.peer
				if r.Kind == KindSelf {
					f = tt.self
				}
				if r.Comment != comment(*f) {
					t.Errorf("%s: comment %q", r.Text, r.Comment)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	// Both fences: the peer's rules come first in input and output.
	both, err := Render(cfg, peer, self)
	if err != nil || len(both) != 20 || both[0].Kind != KindPeer || both[4].Kind != KindSelf || both[4].Chain != ChainInput {
		t.Errorf("both fences: %d rules, %v", len(both), err)
	}
}

func TestRenderExprs(t *testing.T) {
	cfg := Config{Table: "xhad", PeerAddrs: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, ReplicationPorts: []int{7789},
		ServiceIfaces: []string{"xenbr1"}, ServiceAddrs: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}}
	rules, err := Render(cfg, &Fence{Kind: KindPeer, Since: since}, &Fence{Kind: KindSelf, Since: since})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ip saddr 10.0.0.2 tcp dport 7789 counter drop": "meta{key=15 sreg=false reg=1} cmp{op=0 reg=1 data=02} " +
			"payload{op=0 dreg=1 sreg=0 base=1 off=12 len=4 csum=0/0/0} cmp{op=0 reg=1 data=0a000002} " +
			"meta{key=16 sreg=false reg=1} cmp{op=0 reg=1 data=06} " +
			"payload{op=0 dreg=1 sreg=0 base=2 off=2 len=2 csum=0/0/0} cmp{op=0 reg=1 data=1e6d} counter verdict{0 }",
		"ip daddr 10.9.0.0/16 counter drop": "meta{key=15 sreg=false reg=1} cmp{op=0 reg=1 data=02} " +
			"payload{op=0 dreg=1 sreg=0 base=1 off=16 len=4 csum=0/0/0} bitwise{sreg=1 dreg=1 len=4 mask=ffff0000 xor=00000000} " +
			"cmp{op=0 reg=1 data=0a090000} counter verdict{0 }",
		`oifname "xenbr1" counter drop`: "meta{key=7 sreg=false reg=1} cmp{op=0 reg=1 data=78656e62723100000000000000000000} counter verdict{0 }",
	}
	seen := map[string]bool{}
	for _, r := range rules {
		if w, ok := want[r.Text]; ok {
			seen[r.Text] = true
			if got := CanonExprs(r.Exprs); got != w {
				t.Errorf("%s:\ngot  %s\nwant %s", r.Text, got, w)
			}
		}
	}
	if len(seen) != len(want) {
		t.Errorf("found %d of the %d rules checked: %v", len(seen), len(want), seen)
	}
}

func TestRenderMappedIPv6(t *testing.T) {
	cfg := Config{Table: "xhad", PeerAddrs: []netip.Addr{netip.MustParseAddr("::ffff:10.0.0.2")}, ReplicationPorts: []int{7789}}
	rules, err := Render(cfg, &Fence{Kind: KindPeer, Since: since}, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := Render(Config{Table: "xhad", PeerAddrs: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, ReplicationPorts: []int{7789}},
		&Fence{Kind: KindPeer, Since: since}, nil)
	for i := range rules {
		if rules[i].Text != plain[i].Text || CanonExprs(rules[i].Exprs) != CanonExprs(plain[i].Exprs) {
			t.Errorf("an IPv4-mapped address must render as IPv4: %s vs %s", rules[i].Text, plain[i].Text)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	f := &Fence{Kind: KindPeer, Since: since}
	tests := []struct {
		name string
		cfg  Config
		peer *Fence
		self *Fence
		want string
	}{
		{"no table", Config{}, nil, nil, "table name"},
		{"bad port", Config{Table: "x", ReplicationPorts: []int{0, 70000}}, nil, nil, "replication port 70000"},
		{"long iface", Config{Table: "x", ServiceIfaces: []string{"a-very-long-interface"}}, nil, nil, "interface name"},
		{"empty addr", Config{Table: "x", PeerAddrs: []netip.Addr{{}}}, nil, nil, "peer address is empty"},
		{"peer without ports", Config{Table: "x", PeerAddrs: []netip.Addr{netip.MustParseAddr("10.0.0.2")}}, f, nil, "nothing to fence"},
		{"self without targets", Config{Table: "x"}, nil, f, "nothing to fence"},
	}
	for _, tt := range tests {
		_, err := Render(tt.cfg, tt.peer, tt.self)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	_, err := Render(Config{Table: "x"}, nil, f)
	if !errors.Is(err, ErrNothingToFence) {
		t.Errorf("want ErrNothingToFence, got %v", err)
	}
}

func TestCommentRoundTrip(t *testing.T) {
	for _, why := range []string{"", "peer silent on all links for 3s", `quote " and newline` + "\n", strings.Repeat("é", 200)} {
		f := Fence{Kind: KindSelf, Since: since, Why: why}
		c := comment(f)
		if len(c) > maxComment || !utf8.ValidString(c) {
			t.Errorf("comment %q: %d bytes, valid UTF-8 %t", c, len(c), utf8.ValidString(c))
		}
		got, ok := parseComment(c)
		if !ok || got.Kind != KindSelf || !got.Since.Equal(since) || !strings.HasPrefix(strings.ReplaceAll(why, `"`, " "), strings.TrimRight(got.Why, " ")) {
			t.Errorf("parseComment(%q) = %+v, %t", c, got, ok)
		}
	}
	for _, c := range []string{"", "xhad", "xhad peer fence since yesterday: x", "xhad other fence since 2026-11-22T03:51:37Z: x", "someone else's rule"} {
		if f, ok := parseComment(c); ok {
			t.Errorf("parseComment(%q) = %+v, want not ok", c, f)
		}
	}
}
