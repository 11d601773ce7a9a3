package sim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The /proc/drbd sample of reference 2.5, first three lines and the device
// line. (Its counter line has transfer counters the simulator does not keep.)
const procSampleHead = "version: 8.4.6 (api:1/proto:86-101)\n" +
	"GIT-hash: 833d830e0152d1e457fa7856e71e11248ccf3f70 build by phil@Build64R7, 2015-04-10 05:13:52\n" +
	"\n" +
	" 1: cs:WFConnection ro:Secondary/Unknown ds:Inconsistent/DUnknown C r-----\n"

const counters = "    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:%s\n"

func countersLine(oos string) string { return strings.Replace(counters, "%s", oos, 1) }

func TestProcDRBD(t *testing.T) {
	tests := []struct {
		name  string
		drbd  []DRBDResource
		setup func(p *pair)
		node  string
		want  string
	}{
		{name: "WFConnection sample", drbd: []DRBDResource{{Name: "r0", Minor: 1, Disk: "/dev/vg0/r0", Port: 7789}},
			setup: func(p *pair) {
				p.ctl("disk", "r0", "a", "Inconsistent")
				p.ctl("disconnect", "r0")
			}, node: "a",
			want: procSampleHead + countersLine("0")},
		{name: "connected", drbd: r0("", ""), setup: func(p *pair) { p.must("a", "drbdadm", "primary", "r0") }, node: "b",
			want: procDRBDHeader + " 0: cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate C r-----\n" + countersLine("0")},
		{name: "StandAlone without net config", drbd: r0(fencingResourceOnly, ""),
			setup: func(p *pair) {
				p.must("a", "drbdadm", "primary", "r0")
				p.ctl("disk", "r0", "b", "Inconsistent")
				p.must("a", "drbdadm", "disconnect", "r0")
			}, node: "a",
			want: procDRBDHeader + " 0: cs:StandAlone ro:Primary/Unknown ds:UpToDate/Inconsistent   r-----\n" + countersLine("0")},
		{name: "I/O suspended for fencing", drbd: r0(fencingStonith, "/bin/false"),
			setup: func(p *pair) {
				p.must("a", "drbdadm", "primary", "r0")
				p.ctl("disconnect", "r0")
			}, node: "a",
			want: procDRBDHeader + " 0: cs:WFConnection ro:Primary/Unknown ds:UpToDate/DUnknown C s-----\n" + countersLine("0")},
		{name: "gap between minors, down resources left out",
			drbd:  []DRBDResource{{Name: "r0", Minor: 0, Disk: "/dev/x0", Port: 7789}, {Name: "r1", Minor: 1, Disk: "/dev/x1", Port: 7790}, {Name: "r2", Minor: 2, Disk: "/dev/x2", Port: 7791}},
			setup: func(p *pair) { p.must("a", "drbdadm", "down", "r1") }, node: "a",
			want: procDRBDHeader + " 0: cs:Connected ro:Secondary/Secondary ds:UpToDate/UpToDate C r-----\n" + countersLine("0") +
				"\n 2: cs:Connected ro:Secondary/Secondary ds:UpToDate/UpToDate C r-----\n" + countersLine("0")},
		// 51104 KiB to sync in 12776 s: after 2334 s, 41768 KiB are left. The
		// kernel's integer arithmetic (drbd_get_syncer_progress, shift 10)
		// gives 23.1% and a bar of x = 4.
		{name: "SyncTarget", drbd: r0("", ""), setup: syncing(2334 * time.Second), node: "a",
			want: procDRBDHeader + " 0: cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate C r-----\n" + countersLine("41768") +
				"\t[===>................] sync'ed: 23.1% (41768/51104)K\n" +
				"\tfinish: 2:49:12 speed: 4 (4) want: 4 K/sec\n"},
		{name: "SyncSource", drbd: r0("", ""), setup: syncing(2334 * time.Second), node: "b",
			want: procDRBDHeader + " 0: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----\n" + countersLine("41768") +
				"\t[===>................] sync'ed: 23.1% (41768/51104)K\n" +
				"\tfinish: 2:49:12 speed: 4 (4) K/sec\n"},
		// Nothing synced yet, but the shifted arithmetic says 7.7%, as the
		// kernel does for small resyncs.
		{name: "sync just started", drbd: r0("", ""), setup: syncing(0), node: "a",
			want: procDRBDHeader + " 0: cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate C r-----\n" + countersLine("51104") +
				"\t[>...................] sync'ed:  7.7% (51104/51104)K\n" +
				"\tfinish: 0:02:07 speed: 0 (0) want: 4 K/sec\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, InitOptions{DRBD: tc.drbd})
			tc.setup(p)
			got := p.must("", "ctl", "proc-drbd", tc.node)
			if got != tc.want {
				t.Fatalf("ctl proc-drbd %s:\n got %q\nwant %q", tc.node, got, tc.want)
			}
			// The same text is written on every change; force one at this time.
			p.ctl("set", "resync-kb", "51104")
			file, err := os.ReadFile(filepath.Join(p.dir, "nodes", tc.node, "proc-drbd"))
			if err != nil {
				t.Fatal(err)
			}
			if string(file) != got {
				t.Fatalf("nodes/%s/proc-drbd differs from ctl proc-drbd:\n%q\n%q", tc.node, file, got)
			}
		})
	}
}

// syncing makes b a SyncSource of a, elapsed into a 51104 KiB resync of 12776 s.
func syncing(elapsed time.Duration) func(p *pair) {
	return func(p *pair) {
		p.ctl("set", "resync-kb", "51104")
		p.ctl("set", "resync-time", "12776s")
		p.must("b", "drbdadm", "primary", "r0")
		p.ctl("disconnect", "r0")
		p.ctl("connect", "r0")
		p.clock.Advance(elapsed)
	}
}

func TestGroupThousands(t *testing.T) {
	for v, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234: "1,234", 1000000: "1,000,000", 12345678: "12,345,678"} {
		if got := groupThousands(v); got != want {
			t.Errorf("groupThousands(%d) = %q, want %q", v, got, want)
		}
	}
}
