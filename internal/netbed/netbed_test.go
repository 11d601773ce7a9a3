package netbed

import (
	"os"
	"strings"
	"testing"
	"time"
)

func pingable(t *testing.T, b *Bed, ns, addr string) bool {
	t.Helper()
	_, err := b.Exec(ns, 5*time.Second, "ping", "-n", "-c", "1", "-W", "1", addr)
	return err == nil
}

// TestBedTopologyCutsAndCleanup builds a bed without daemons, checks who
// reaches whom before and after each kind of cut, and that every namespace
// is gone once the test that made it has ended.
func TestBedTopologyCutsAndCleanup(t *testing.T) {
	RequireRoot(t)
	var names []string
	t.Run("bed", func(t *testing.T) {
		b := New(t, Options{NoDaemonConfig: true, NoSerial: true})
		names = b.Namespaces()
		a, bb := b.A, b.B
		for _, c := range []struct{ ns, addr string }{
			{a.NS, bb.LinkIP}, {bb.NS, a.LinkIP}, {a.NS, bb.PubIP}, {b.Client, a.PubIP}, {b.Client, bb.PubIP},
		} {
			if !pingable(t, b, c.ns, c.addr) {
				t.Fatalf("%s cannot reach %s before any cut", c.ns, c.addr)
			}
		}
		b.Cut(Dedicated, AToB)
		if pingable(t, b, a.NS, bb.LinkIP) {
			t.Errorf("a reaches b over dl0 with a->b cut")
		}
		if tables, err := b.Tables(bb); err != nil || strings.Join(tables, ",") != "netbed" {
			t.Errorf("tables in b's namespace: %v, %v; want netbed", tables, err)
		}
		b.Heal(Dedicated, AToB)
		if !pingable(t, b, a.NS, bb.LinkIP) {
			t.Errorf("a does not reach b over dl0 after the heal")
		}
		b.Cut(Public, Both)
		if pingable(t, b, a.NS, bb.PubIP) {
			t.Errorf("a reaches b's public address with the public path cut")
		}
		if !pingable(t, b, b.Client, a.PubIP) || !pingable(t, b, b.Client, bb.PubIP) {
			t.Errorf("the client lost a host when only the host-to-host public path was cut")
		}
		b.Heal(Public, Both)
		b.Cut(Dedicated, Both)
		if pingable(t, b, a.NS, bb.LinkIP) {
			t.Errorf("a reaches b over dl0 with dl0 down")
		}
		b.Heal(Dedicated, Both)
		if !pingable(t, b, bb.NS, a.LinkIP) {
			t.Errorf("b does not reach a over dl0 after the heal")
		}
	})
	if len(names) != 4 {
		t.Fatalf("bed had namespaces %v, want 4", names)
	}
	for _, ns := range names {
		if _, err := os.Stat("/run/netns/" + ns); !os.IsNotExist(err) {
			t.Errorf("namespace %s left behind (stat: %v)", ns, err)
		}
	}
}
