package sim

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeHandler writes an executable fence-peer test script and returns its path.
func writeHandler(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fence-peer.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// exitHandler is a fence-peer handler that exits with code.
func exitHandler(t *testing.T, code string) string {
	return writeHandler(t, "exit "+code+"\n")
}

func TestDrbdadmStatusMatchesReferenceSamples(t *testing.T) {
	tests := []struct {
		name  string
		nodes [2]string
		drbd  func(t *testing.T) []DRBDResource
		setup func(p *pair)
		node  string
		want  string
	}{
		{name: "Primary connected to a Secondary", drbd: func(*testing.T) []DRBDResource { return r0("", "") },
			setup: func(p *pair) { p.must("a", "drbdadm", "primary", "r0") }, node: "a",
			want: "r0 role:Primary\n  disk:UpToDate\n  b role:Secondary\n    peer-disk:UpToDate\n\n"},
		{name: "suspended while fencing failed", drbd: func(t *testing.T) []DRBDResource { return r0(fencingStonith, exitHandler(t, "1")) },
			setup: func(p *pair) {
				p.must("a", "drbdadm", "primary", "r0")
				p.ctl("disconnect", "r0")
			}, node: "a",
			want: "r0 role:Primary suspended:fencing\n  disk:UpToDate\n  b connection:Connecting\n\n"},
		{name: "SyncTarget of a Primary", drbd: func(*testing.T) []DRBDResource { return r0("", "") },
			setup: func(p *pair) {
				p.ctl("set", "resync-time", "10000s")
				p.must("b", "drbdadm", "primary", "r0")
				p.ctl("disconnect", "r0")
				p.ctl("connect", "r0")
				p.clock.Advance(8 * time.Second)
			}, node: "a",
			want: "r0 role:Secondary\n  disk:Inconsistent\n  b role:Primary\n    replication:SyncTarget peer-disk:UpToDate done:0.08\n\n"},
		{name: "SyncSource side", drbd: func(*testing.T) []DRBDResource { return r0("", "") },
			setup: func(p *pair) {
				p.ctl("set", "resync-time", "100s")
				p.must("b", "drbdadm", "primary", "r0")
				p.ctl("disconnect", "r0")
				p.ctl("connect", "r0")
				p.clock.Advance(42170 * time.Millisecond)
			}, node: "b",
			want: "r0 role:Primary\n  disk:UpToDate\n  a role:Secondary\n    replication:SyncSource peer-disk:Inconsistent done:42.17\n\n"},
		{name: "StandAlone peer", nodes: [2]string{"colo-srv-1", "colo-srv-2"}, drbd: func(*testing.T) []DRBDResource { return r0("", "") },
			setup: func(p *pair) { p.must("colo-srv-1", "drbdadm", "disconnect", "r0") }, node: "colo-srv-1",
			want: "r0 role:Secondary\n  disk:UpToDate\n  colo-srv-2 connection:StandAlone\n\n"},
		{name: "force-io-failures after a forced demotion", drbd: func(*testing.T) []DRBDResource { return r0("", "") },
			setup: func(p *pair) {
				p.must("a", "drbdadm", "primary", "r0")
				p.must("a", "xl", "create", p.cfg("web.cfg", webCfg))
				p.must("a", "drbdadm", "secondary", "--force", "r0")
			}, node: "a",
			want: "r0 role:Secondary force-io-failures:yes\n  disk:UpToDate\n  b role:Secondary\n    peer-disk:UpToDate\n\n"},
		{name: "two resources, sorted, Diskless client", drbd: func(*testing.T) []DRBDResource {
			return []DRBDResource{{Name: "r1", Minor: 1, Disk: "/dev/vg0/r1", Port: 7790}, {Name: "r0", Minor: 0, Disk: "/dev/vg0/r0", Port: 7789}}
		},
			setup: func(p *pair) { p.ctl("disk", "r1", "a", "Diskless") }, node: "a",
			want: "r0 role:Secondary\n  disk:UpToDate\n  b role:Secondary\n    peer-disk:UpToDate\n\n" +
				"r1 role:Secondary\n  disk:Diskless client:no\n  b role:Secondary\n    peer-disk:UpToDate\n\n"},
		{name: "nothing up", drbd: func(*testing.T) []DRBDResource { return r0("", "") },
			setup: func(p *pair) { p.must("a", "drbdadm", "down", "r0") }, node: "a",
			want: "# No currently configured DRBD found.\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, InitOptions{Nodes: tc.nodes, DRBD: tc.drbd(t)})
			tc.setup(p)
			if got := p.must(tc.node, "drbdadm", "status"); got != tc.want {
				t.Fatalf("drbdadm status:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestDrbdStatusWrapsLikeDrbdsetup(t *testing.T) {
	long := strings.Repeat("x", 70)
	p := newPair(t, InitOptions{Nodes: [2]string{"a", long}, DRBD: r0("", "")})
	p.must("a", "drbdadm", "primary", "r0")
	// "  " + 70 + " role:Secondary" passes column 80: the piece goes to the
	// next line, without its leading space, indented by 6.
	want := "r0 role:Primary\n  disk:UpToDate\n  " + long + "\n      role:Secondary\n    peer-disk:UpToDate\n\n"
	if got := p.must("a", "drbdadm", "status", "r0"); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestDrbdadmRoleCstateDstate(t *testing.T) {
	tests := []struct {
		name  string
		setup func(p *pair)
		node  string
		cmd   string
		out   string
		err   string
		code  int
	}{
		{"role", nil, "a", "role", "Secondary\n", "", 0},
		{"role of a Primary", func(p *pair) { p.must("a", "drbdadm", "primary", "r0") }, "a", "role", "Primary\n", "", 0},
		{"cstate connected", nil, "a", "cstate", "Connected\n", "", 0},
		{"dstate connected", nil, "a", "dstate", "UpToDate/UpToDate\n", "", 0},
		{"cstate link cut", func(p *pair) { p.ctl("disconnect", "r0") }, "a", "cstate", "Connecting\n", "", 0},
		{"dstate link cut", func(p *pair) { p.ctl("disconnect", "r0") }, "a", "dstate", "UpToDate/DUnknown\n", "", 0},
		{"cstate disconnected", func(p *pair) { p.must("a", "drbdadm", "disconnect", "r0") }, "a", "cstate", "StandAlone\n", "", 0},
		{"cstate of the peer of a disconnected node", func(p *pair) { p.must("a", "drbdadm", "disconnect", "r0") }, "b", "cstate", "Connecting\n", "", 0},
		{"role down", func(p *pair) { p.must("a", "drbdadm", "down", "r0") }, "a", "role", "",
			"r0: Unknown resource\nCommand 'drbdsetup role r0' terminated with exit code 10\n", 10},
		{"cstate down", func(p *pair) { p.must("a", "drbdadm", "down", "r0") }, "a", "cstate", "",
			"r0: No such connection\nCommand 'drbdsetup cstate r0 1' terminated with exit code 10\n", 10},
		{"cstate down on node b", func(p *pair) { p.must("b", "drbdadm", "down", "r0") }, "b", "cstate", "",
			"r0: No such connection\nCommand 'drbdsetup cstate r0 0' terminated with exit code 10\n", 10},
		{"dstate down reads the metadata", func(p *pair) { p.must("a", "drbdadm", "down", "r0") }, "a", "dstate", "UpToDate\n", "", 0},
		{"status down", func(p *pair) { p.must("a", "drbdadm", "down", "r0") }, "a", "status r0", "",
			"r0: No such resource\nCommand 'drbdsetup status r0' terminated with exit code 10\n", 10},
		{"deprecated state is role", nil, "a", "state", "Secondary\n", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, InitOptions{DRBD: r0("", "")})
			if tc.setup != nil {
				tc.setup(p)
			}
			args := append(strings.Fields(tc.cmd), "r0")
			if strings.Contains(tc.cmd, " ") {
				args = strings.Fields(tc.cmd)
			}
			out, errOut, code := p.run(tc.node, "drbdadm", args...)
			if out != tc.out || errOut != tc.err || code != tc.code {
				t.Fatalf("drbdadm %v: exit %d stdout %q stderr %q\nwant exit %d stdout %q stderr %q", args, code, out, errOut, tc.code, tc.out, tc.err)
			}
		})
	}
}

const primaryUsage = "\nUSAGE: drbdadm primary [OPTION...] {all|RESOURCE...}\n\n" +
	"GENERAL OPTIONS:\n  --stacked, -S\n  --dry-run, -d\n  --verbose, -v\n  --config-file=..., -c ...\n" +
	"  --config-to-test=..., -t ...\n  --config-to-exclude=..., -E ...\n  --drbdsetup=..., -s ...\n" +
	"  --drbdmeta=..., -m ...\n  --drbd-proxy-ctl=..., -p ...\n  --sh-varname=..., -n ...\n" +
	"  --version, -V\n  --setup-option=..., -W ...\n  --help, -h\n\n" +
	"OPTIONS FOR primary:\n  --force[=...]\n\n" +
	"Version: 9.22.0 (api:2)\nGIT-hash: 409097fe02187f83790b88ac3e0d94f3c167adab reproducible build, 2023-01-09 14:51:18\n\n" +
	"No resource names specified\n"

func TestDrbdadmRefusals(t *testing.T) {
	const metaFails = "Device '0' is configured!\nCommand 'drbdmeta 0 v09 /dev/vg0/r0 internal outdate' terminated with exit code 20\n"
	tests := []struct {
		name    string
		fencing string
		handler string // exit code of the fence-peer handler, "" for none
		setup   func(p *pair)
		node    string
		args    string
		code    int
		stderr  string
		stdout  string
		after   string // "node cmd => stdout" checked afterwards
	}{
		{name: "promote while the peer is Primary", setup: func(p *pair) { p.must("b", "drbdadm", "primary", "r0") },
			args: "primary r0", code: 11,
			stderr: "r0: State change failed: (-1) Multiple primaries not allowed by config\nCommand 'drbdsetup primary r0' terminated with exit code 11\n",
			after:  "a role r0 => Secondary\n"},
		{name: "promote an Inconsistent disk", setup: func(p *pair) { p.ctl("disk", "r0", "a", "Inconsistent") },
			args: "primary r0", code: 17,
			stderr: "r0: State change failed: (-2) Need access to UpToDate data\nCommand 'drbdsetup primary r0' terminated with exit code 17\n"},
		{name: "promote an Outdated disk while disconnected", setup: func(p *pair) {
			p.ctl("disconnect", "r0")
			p.ctl("disk", "r0", "a", "Outdated")
		},
			args: "primary r0", code: 17,
			stderr: "r0: State change failed: (-2) Need access to UpToDate data\nCommand 'drbdsetup primary r0' terminated with exit code 17\n"},
		{name: "force promotes an Outdated disk", setup: func(p *pair) {
			p.ctl("disconnect", "r0")
			p.ctl("disk", "r0", "a", "Outdated")
		},
			args: "primary --force r0", code: 0, after: "a dstate r0 => UpToDate/DUnknown\n"},
		{name: "promote while resyncing as target", setup: func(p *pair) {
			p.must("b", "drbdadm", "primary", "r0")
			p.ctl("disconnect", "r0")
			p.must("b", "drbdadm", "secondary", "r0")
			p.ctl("connect", "r0")
		},
			args: "primary r0", code: 17,
			stderr: "r0: State change failed: (-2) Need access to UpToDate data\nCommand 'drbdsetup primary r0' terminated with exit code 17\n"},
		{name: "promote when not up", setup: func(p *pair) { p.must("a", "drbdadm", "down", "r0") },
			args: "primary r0", code: 10,
			stderr: "r0: Failure: (158) Unknown resource\nadditional info from kernel:\nunknown resource\nCommand 'drbdsetup primary r0' terminated with exit code 10\n"},
		{name: "promote disconnected, fencing on, handler fails", fencing: fencingResourceOnly, handler: "1",
			setup: func(p *pair) { p.ctl("disconnect", "r0") },
			args:  "primary r0", code: 11,
			stderr: "r0: State change failed: (-7) Refusing to be Primary while peer is not outdated\nCommand 'drbdsetup primary r0' terminated with exit code 11\n"},
		{name: "promote disconnected, no fencing", setup: func(p *pair) { p.ctl("disconnect", "r0") },
			args: "primary r0", code: 0, after: "a role r0 => Primary\n"},
		{name: "promote twice is nothing to do", setup: func(p *pair) { p.must("a", "drbdadm", "primary", "r0") },
			args: "primary r0", code: 0},
		{name: "demote with a running domain", setup: func(p *pair) {
			p.must("a", "drbdadm", "primary", "r0")
			p.must("a", "xl", "create", p.cfg("web.cfg", webCfg))
		},
			args: "secondary r0", code: 11,
			stderr: "r0: State change failed: (-12) Device is held open by someone\nCommand 'drbdsetup secondary r0' terminated with exit code 11\n",
			after:  "a role r0 => Primary\n"},
		{name: "demote after the domain is gone", setup: func(p *pair) {
			p.must("a", "drbdadm", "primary", "r0")
			p.must("a", "xl", "create", p.cfg("web.cfg", webCfg))
			p.must("a", "xl", "destroy", "web")
		},
			args: "secondary r0", code: 0, after: "a role r0 => Secondary\n"},
		{name: "down with a running domain", setup: func(p *pair) {
			p.must("a", "drbdadm", "primary", "r0")
			p.must("a", "xl", "create", p.cfg("web.cfg", "name='web'\ndisk=['/dev/drbd/by-res/r0/0,raw,xvda,w']\n"))
		},
			args: "down r0", code: 11,
			stderr: "r0: State change failed: (-12) Device is held open by someone\nCommand 'drbdsetup down r0' terminated with exit code 11\n"},
		{name: "demote when not up", setup: func(p *pair) { p.must("a", "drbdadm", "down", "r0") },
			args: "secondary r0", code: 10,
			stderr: "r0: Failure: (158) Unknown resource\nadditional info from kernel:\nunknown resource\nCommand 'drbdsetup secondary r0' terminated with exit code 10\n"},
		{name: "outdate a Primary", setup: func(p *pair) { p.must("a", "drbdadm", "primary", "r0") },
			args: "outdate r0", code: 17, after: "a dstate r0 => UpToDate/UpToDate\n"},
		{name: "outdate an Inconsistent disk", setup: func(p *pair) { p.ctl("disk", "r0", "a", "Inconsistent") },
			args: "outdate r0", code: 5, stderr: metaFails},
		{name: "outdate while connected to a Primary", setup: func(p *pair) { p.must("b", "drbdadm", "primary", "r0") },
			args: "outdate r0", code: 20, stderr: metaFails, after: "a dstate r0 => UpToDate/UpToDate\n"},
		{name: "outdate while connected to a Secondary", args: "outdate r0", code: 0, after: "b dstate r0 => UpToDate/Outdated\n"},
		{name: "outdate while disconnected", setup: func(p *pair) { p.ctl("disconnect", "r0") },
			args: "outdate r0", code: 0, after: "a dstate r0 => Outdated/DUnknown\n"},
		{name: "outdate when down", setup: func(p *pair) { p.must("a", "drbdadm", "down", "r0") },
			args: "outdate r0", code: 0, after: "a dstate r0 => Outdated\n"},
		{name: "outdate when down and Inconsistent", setup: func(p *pair) {
			p.ctl("disk", "r0", "a", "Inconsistent")
			p.must("a", "drbdadm", "down", "r0")
		},
			args: "outdate r0", code: 5, stderr: "Device is inconsistent.\n"},
		{name: "up when up", fencing: fencingResourceOnly, args: "up r0", code: 1,
			stderr: "r0: Failure: (162) Invalid configuration request\nadditional info from kernel:\nConnection for peer node id 1 already exists\n" +
				"Command 'drbdsetup new-peer r0 1 --_name=b --fencing=resource-only --protocol=C' terminated with exit code 10\n"},
		{name: "connect when connected", args: "connect r0", code: 10,
			stderr: "r0: Failure: (125) Device has a net-config (use disconnect first)\nCommand 'drbdsetup connect r0 1' terminated with exit code 10\n"},
		{name: "connect when down", setup: func(p *pair) { p.must("a", "drbdadm", "down", "r0") }, args: "connect r0", code: 10,
			stderr: "r0: Failure: (158) Unknown resource\nadditional info from kernel:\nunknown resource\nCommand 'drbdsetup connect r0 1' terminated with exit code 10\n"},
		{name: "disconnect when down", setup: func(p *pair) { p.must("a", "drbdadm", "down", "r0") }, args: "disconnect r0", code: 10,
			stderr: "r0: Failure: (158) Unknown resource\nadditional info from kernel:\nunknown resource\nCommand 'drbdsetup disconnect r0 1' terminated with exit code 10\n"},
		{name: "disconnect twice", setup: func(p *pair) { p.must("a", "drbdadm", "disconnect", "r0") }, args: "disconnect r0", code: 0},
		{name: "down when down", setup: func(p *pair) { p.must("a", "drbdadm", "down", "r0") }, args: "down r0", code: 0},
		{name: "resume-io when down", setup: func(p *pair) { p.must("a", "drbdadm", "down", "r0") }, args: "resume-io r0", code: 10,
			stderr: "0: Failure: (127) Device minor not allocated\nadditional info from kernel:\nunknown minor\nCommand 'drbdsetup resume-io 0' terminated with exit code 10\n"},
		{name: "unknown command", args: "adjust r0", code: 1, stderr: "drbdadm: Unknown command 'adjust'\n"},
		{name: "unknown option", args: "primary --bogus r0", code: 1, stderr: "drbdadm: unrecognized option '--bogus'\ntry 'drbdadm help'\n"},
		{name: "option of another command", args: "role --force r0", code: 1, stderr: "drbdadm: unrecognized option '--force'\ntry 'drbdadm help'\n"},
		{name: "no resource names", args: "primary", code: 1, stdout: primaryUsage},
		{name: "resource not in the config", args: "role r9", code: 1, stderr: "'r9' not defined in your config (for this host).\n"},
		{name: "sh-resources ignores names", args: "sh-resources r0", code: 0, stdout: "r0\n", stderr: "This command will ignore resource names!\n"},
		{name: "sh-dev", args: "sh-dev r0", code: 0, stdout: "/dev/drbd0\n"},
		{name: "sh-minor", args: "sh-minor r0", code: 0, stdout: "0\n"},
		{name: "sh-ll-dev", args: "sh-ll-dev all", code: 0, stdout: "/dev/vg0/r0\n"},
		{name: "config file option is accepted", args: "-c /etc/drbd.conf role r0", code: 0, stdout: "Secondary\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			handler := ""
			if tc.handler != "" {
				handler = exitHandler(t, tc.handler)
			}
			fencing := tc.fencing
			if fencing == "" {
				fencing = fencingDontCare
			}
			p := newPair(t, InitOptions{DRBD: r0(fencing, handler)})
			if tc.setup != nil {
				tc.setup(p)
			}
			node := tc.node
			if node == "" {
				node = "a"
			}
			out, errOut, code := p.run(node, "drbdadm", strings.Fields(tc.args)...)
			if code != tc.code || errOut != tc.stderr || out != tc.stdout {
				t.Fatalf("drbdadm %s: exit %d\nstdout %q\nstderr %q\nwant exit %d\nstdout %q\nstderr %q", tc.args, code, out, errOut, tc.code, tc.stdout, tc.stderr)
			}
			if tc.after != "" {
				cmd, want, _ := strings.Cut(tc.after, " => ")
				fields := strings.Fields(cmd)
				if got := p.must(fields[0], "drbdadm", fields[1:]...); got != want {
					t.Fatalf("afterwards %s: %q, want %q", cmd, got, want)
				}
			}
			if tc.code != 0 && tc.code != 1 && tc.code != 10 {
				if refusals := p.kinds(kindRefusal); len(refusals) == 0 {
					t.Fatalf("refusal with exit %d not journaled", tc.code)
				}
			}
			p.checkInvariants()
		})
	}
}

func TestDrbdadmNoCommand(t *testing.T) {
	p := newPair(t, InitOptions{DRBD: r0("", "")})
	out, errOut, code := p.run("a", "drbdadm")
	if code != 1 || errOut != "" || !strings.HasPrefix(out, "\nUSAGE: drbdadm COMMAND [OPTION...] {all|RESOURCE...}\n") ||
		!strings.HasSuffix(out, "\nNo command specified\n") || !strings.Contains(out, " adjust                              invalidate-remote                  \n") {
		t.Fatalf("exit %d stderr %q stdout:\n%s", code, errOut, out)
	}
}

func TestResyncAfterAPrimaryWroteAlone(t *testing.T) {
	p := newPair(t, InitOptions{DRBD: r0("", "")})
	p.ctl("set", "resync-time", "10s")
	p.must("a", "drbdadm", "primary", "r0")
	p.ctl("disconnect", "r0")
	p.ctl("connect", "r0")
	if got := p.must("b", "drbdadm", "dstate", "r0"); got != "Inconsistent/UpToDate\n" {
		t.Fatalf("b dstate during resync: %q", got)
	}
	p.clock.Advance(9 * time.Second)
	if got := p.must("b", "drbdadm", "dstate", "r0"); got != "Inconsistent/UpToDate\n" {
		t.Fatalf("b dstate at 9 of 10 s: %q", got)
	}
	p.clock.Advance(time.Second)
	for _, node := range []string{"a", "b"} {
		if got := p.must(node, "drbdadm", "dstate", "r0"); got != "UpToDate/UpToDate\n" {
			t.Fatalf("%s dstate after the resync: %q", node, got)
		}
	}
	want := []string{"- sync-start res=r0 source=a target=b", "- sync-done res=r0 source=a target=b"}
	if got := p.kinds(kindSyncStart, kindSyncDone); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("journal %q, want %q", got, want)
	}
	p.checkInvariants()
}

func TestSplitBrainAndItsResolution(t *testing.T) {
	p := newPair(t, InitOptions{DRBD: r0("", "")})
	p.ctl("disconnect", "r0")
	p.must("a", "drbdadm", "primary", "r0")
	p.must("b", "drbdadm", "primary", "r0")
	p.ctl("connect", "r0")
	for _, node := range []string{"a", "b"} {
		if got := p.must(node, "drbdadm", "cstate", "r0"); got != "StandAlone\n" {
			t.Fatalf("%s after split brain: %q", node, got)
		}
	}
	if got := p.kinds(kindSplitBrain); len(got) != 1 || got[0] != "- split-brain res=r0 why=\"both Primary\"" {
		t.Fatalf("journal: %q", got)
	}
	var v *ViolationError
	err := CheckInvariants(p.journal(), nil)
	if !errors.As(err, &v) || v.First.Node != "a" || v.Second.Node != "b" || v.First.Kind != kindDRBDPrimary {
		t.Fatalf("the checker did not name both promotions: %v", err)
	}
	// Recovery as in the DRBD user's guide: the victim discards its data.
	p.must("b", "drbdadm", "secondary", "r0")
	p.must("b", "drbdadm", "connect", "--discard-my-data", "r0")
	p.must("a", "drbdadm", "connect", "r0")
	if got := p.must("b", "drbdadm", "dstate", "r0"); got != "Inconsistent/UpToDate\n" {
		t.Fatalf("victim after reconnect: %q", got)
	}
	// Reconnecting without --discard-my-data after both wrote is split brain again.
	q := newPair(t, InitOptions{DRBD: r0("", "")})
	q.ctl("disconnect", "r0")
	q.must("a", "drbdadm", "primary", "r0")
	q.must("b", "drbdadm", "primary", "r0")
	q.must("b", "drbdadm", "secondary", "r0")
	q.ctl("connect", "r0")
	if got := q.kinds(kindSplitBrain); len(got) != 1 || !strings.Contains(got[0], "both nodes were Primary while disconnected") {
		t.Fatalf("diverged data not detected: %q", got)
	}
}

func TestGracefulDisconnectOutdatesTheSecondary(t *testing.T) {
	p := newPair(t, InitOptions{DRBD: r0(fencingResourceOnly, "")})
	p.must("a", "drbdadm", "primary", "r0")
	p.must("b", "drbdadm", "disconnect", "r0")
	if got := p.must("b", "drbdadm", "dstate", "r0"); got != "Outdated/DUnknown\n" {
		t.Fatalf("b after disconnecting from a Primary: %q", got)
	}
	if got := p.must("a", "drbdadm", "dstate", "r0"); got != "UpToDate/Outdated\n" {
		t.Fatalf("a after the peer disconnected: %q", got)
	}
	// An Outdated disk cannot be promoted; no handler is needed to know it.
	_, errOut, code := p.run("b", "drbdadm", "primary", "r0")
	if code != 17 || !strings.Contains(errOut, "(-2) Need access to UpToDate data") {
		t.Fatalf("promote Outdated: exit %d %q", code, errOut)
	}
	if got := p.kinds(kindFenceHandler); len(got) != 0 {
		t.Fatalf("fence handler ran: %q", got)
	}
}

func TestHostCrashAndBoot(t *testing.T) {
	handler := exitHandler(t, "4")
	p := newPair(t, InitOptions{DRBD: r0(fencingResourceOnly, handler)})
	p.must("a", "drbdadm", "primary", "r0")
	p.must("a", "xl", "create", p.cfg("web.cfg", webCfg))
	p.ctl("host-crash", "a")

	_, errOut, code := p.run("a", "xl", "list")
	if code != 1 || !strings.Contains(errOut, "host a is down") {
		t.Fatalf("xl on a crashed host: exit %d %q", code, errOut)
	}
	if got := p.must("b", "drbdadm", "cstate", "r0"); got != "Connecting\n" {
		t.Fatalf("b after a crashed: %q", got)
	}
	// a was Primary when it crashed: b fences before promoting.
	p.must("b", "drbdadm", "primary", "r0")
	p.must("b", "xl", "create", p.cfg("web.cfg", webCfg))
	p.ctl("host-boot", "a")
	if got := p.must("a", "drbdadm", "status", "r0"); got !=
		"r0 role:Secondary\n  disk:Inconsistent\n  b role:Primary\n    replication:SyncTarget peer-disk:UpToDate done:0.00\n\n" {
		t.Fatalf("a after boot: %q", got)
	}
	if got := p.must("a", "xl", "list"); strings.Contains(got, "web") {
		t.Fatalf("a's domains survived the crash:\n%s", got)
	}
	want := []string{
		"a domain-stop dom=web id=1 how=host-crash",
		"a drbd-secondary res=r0 why=host-crash",
		"a drbd-down res=r0 why=host-crash",
		"b fence-handler res=r0 rc=4 why=promote effect=\"peer was fenced\"",
		"b drbd-primary res=r0 why=\"drbdadm primary\"",
	}
	got := p.kinds(kindDomainStop, kindDRBDSecondary, kindDRBDDown, kindFenceHandler, kindDRBDPrimary)
	if strings.Join(got[1:], "|") != strings.Join(want, "|") {
		t.Fatalf("journal %q\nwant (after a's promotion) %q", got, want)
	}
	p.checkInvariants()
}

func TestHostCrashOfTheSecondaryFencesFromThePrimary(t *testing.T) {
	p := newPair(t, InitOptions{DRBD: r0(fencingStonith, exitHandler(t, "7"))})
	p.must("b", "drbdadm", "primary", "r0")
	p.ctl("host-crash", "a")
	want := []string{
		"b io-suspended res=r0 why=fencing",
		"b fence-handler res=r0 rc=7 why=connection-lost effect=\"peer was stonithed\"",
		"b io-resumed res=r0 why=\"peer fenced\"",
	}
	if got := p.kinds(kindIOSuspended, kindFenceHandler, kindIOResumed); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("journal %q\nwant %q", got, want)
	}
	if got := p.must("b", "drbdadm", "status", "r0"); got != "r0 role:Primary\n  disk:UpToDate\n  a connection:Connecting\n\n" {
		t.Fatalf("b status: %q", got)
	}
}
