package sim

import (
	"strings"
	"testing"
)

func TestCtlErrors(t *testing.T) {
	p := newPair(t, InitOptions{DRBD: r0("", "")})
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"init", "--nodes", "a,b"}, 1, "already holds a simulated pair"},
		{[]string{"set", "warp-speed", "9"}, 2, `unknown setting "warp-speed"`},
		{[]string{"set", "create-delay", "soon"}, 2, "create-delay wants a duration"},
		{[]string{"disk", "r9", "a", "UpToDate"}, 1, `no DRBD resource "r9"`},
		{[]string{"disk", "r0", "c", "UpToDate"}, 1, `no node "c"`},
		{[]string{"disk", "r0", "a", "Great"}, 2, `disk state "Great"`},
		{[]string{"domain", "a", "nosuch", "crash"}, 1, `no domain "nosuch" on a`},
		{[]string{"domain", "a", "x", "explode"}, 2, `domain mode "explode"`},
		{[]string{"host-boot", "a"}, 1, "host a is not down"},
		{[]string{"add-drbd", "r0:1:/dev/x:7790"}, 1, "drbd resource r0 is already configured"},
		{[]string{"add-drbd", "r1:0:/dev/x:7790"}, 1, "minor 0 is already used by r0"},
		{[]string{"add-drbd", "r1:x:/dev/x:7790"}, 2, `minor "x" is not a number`},
		{[]string{"fly"}, 2, `unknown subcommand "fly"`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, errOut, code := p.run("", "ctl", tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("exit %d stderr %q, want exit %d and %q", code, errOut, tc.code, tc.stderr)
			}
		})
	}
	if err := Ctl(p.dir, "host-boot", "a"); err == nil || !strings.Contains(err.Error(), "host a is not down") {
		t.Fatalf("Ctl error %v", err)
	}
	for _, bad := range []InitOptions{
		{Nodes: [2]string{"a", "a"}},
		{Nodes: [2]string{"a", "b c"}},
		{Nodes: [2]string{"a", "b"}, Fencing: "maybe"},
		{Nodes: [2]string{"a", "b"}, Addresses: [2]string{"10.0.0.1", "nowhere"}},
	} {
		if err := Init(t.TempDir(), bad); err == nil {
			t.Errorf("Init accepted %+v", bad)
		}
	}
}

func TestCtlAddDRBDAndInitFlags(t *testing.T) {
	p := &pair{t: t, dir: t.TempDir(), clock: &fakeClock{now: epoch}}
	p.ctl("init", "--nodes", "left,right", "--drbd", "r0:0:/dev/vg0/r0:7789", "--fencing", "resource-only",
		"--handler", "/usr/lib/xhad/fence-peer", "--addresses", "192.0.2.1,192.0.2.2", "--dom0-memory", "4096", "--dom0-vcpus", "8")
	p.ctl("add-drbd", "r1:1:/dev/vg0/r1:7790", "--fencing", "resource-and-stonith")
	if got := p.must("left", "drbdadm", "sh-resources"); got != "r0\nr1\n" {
		t.Fatalf("sh-resources %q", got)
	}
	if got := p.must("right", "drbdadm", "cstate", "all"); got != "Connected\nConnected\n" {
		t.Fatalf("cstate all %q", got)
	}
	if got := p.must("left", "xl", "list", "0"); !strings.Contains(got, "Domain-0                                     0  4096     8     r-----") {
		t.Fatalf("Domain-0 %q", got)
	}
	conf := p.must("", "ctl", "dump")
	for _, want := range []string{`"fencing": "resource-and-stonith"`, `"handler": "/usr/lib/xhad/fence-peer"`, `"192.0.2.2"`} {
		if !strings.Contains(conf, want) {
			t.Errorf("state lacks %s", want)
		}
	}
}

func TestPingAnswersWhileHostIsUp(t *testing.T) {
	dir := t.TempDir()
	if _, errOut, code := Exec(dir, "", "ctl", "init", "--nodes", "a,b", "--addresses", "127.0.0.11,127.0.0.12"); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	cases := []struct {
		addr string
		want int
	}{{"127.0.0.11", 0}, {"127.0.0.12", 0}, {"127.0.0.13", 1}}
	for _, c := range cases {
		if out, _, code := Exec(dir, "a", "ping", "-n", "-c", "1", "-W", "1", c.addr); code != c.want {
			t.Errorf("ping %s: exit %d, want %d\n%s", c.addr, code, c.want, out)
		}
	}
	if _, errOut, code := Exec(dir, "", "ctl", "host-crash", "b"); code != 0 {
		t.Fatalf("host-crash: %s", errOut)
	}
	if out, _, code := Exec(dir, "a", "ping", "-n", "-c", "1", "127.0.0.12"); code != 1 || !strings.Contains(out, "100% packet loss") {
		t.Errorf("ping of a crashed host: exit %d\n%s", code, out)
	}
}
