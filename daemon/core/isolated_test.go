package core

import (
	"strings"
	"testing"
)

// TestIsolatedReportsTheIsolation: Isolated is true only on the node that
// hears its peer on no link and reaches no ping target, with on-isolation
// "stop"; it ends when the peer is heard again.
func TestIsolatedReportsTheIsolation(t *testing.T) {
	for _, tc := range []struct {
		args string
		want bool
	}{
		{"a b groups=main dead=4 ping=on isolation=stop grace=8", true},
		{"a b groups=main dead=4 ping=on", false}, // on-isolation = "keep"
	} {
		c := clusterFromArgs(strings.Fields(tc.args))
		run := func(cmd string) {
			t.Helper()
			if err := c.exec(strings.Fields(cmd)); err != nil {
				t.Fatalf("%s: %s: %v", tc.args, cmd, err)
			}
		}
		for _, cmd := range []string{"boot a b", "ping a reachable", "ping b reachable", "run-until a main ACTIVE"} {
			run(cmd)
		}
		a, b := c.node("a").m, c.node("b").m
		if a.Isolated() || b.Isolated() {
			t.Fatalf("%s: isolated while both talk", tc.args)
		}
		run("cut all")
		run("ping a unreachable")
		run("tick 6")
		if got := a.Isolated(); got != tc.want {
			t.Fatalf("%s: a (no link, no ping target) Isolated() = %v, want %v", tc.args, got, tc.want)
		}
		if b.Isolated() {
			t.Fatalf("%s: b reaches its ping target but says it is isolated", tc.args)
		}
		run("heal all")
		run("tick 3")
		if a.Isolated() {
			t.Fatalf("%s: a still isolated after hearing its peer again", tc.args)
		}
	}
}
