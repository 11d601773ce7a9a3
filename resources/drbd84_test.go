package resources

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xhad/dsl"
	"xhad/internal/runner/runnertest"
)

// The reference's 8.4 sample: a SyncTarget with Inconsistent data must be
// refused, exactly as with DRBD 9's `drbdadm status`.
func TestDRBD84FromProc(t *testing.T) {
	const syncing = "version: 8.4.6 (api:1/proto:86-101)\nGIT-hash: 833d830e0152d1e457fa7856e71e11248ccf3f70 build by phil@Build64R7, 2015-04-10 05:13:52\n\n" +
		" 0: cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate C r-----\n" +
		"    ns:0 nr:72025332 dw:72025816 dr:9301 al:6 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:40448704\n" +
		"\t[===>................] sync'ed: 18.3% (41768/51104)K\n\tfinish: 0:00:52 speed: 1,234 (1,100) K/sec\n"
	const primary = "version: 8.4.6 (api:1/proto:86-101)\n 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----\n" +
		"    ns:484 nr:0 dw:0 dr:9301 al:6 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0\n"
	const alone = "version: 8.4.6 (api:1/proto:86-101)\n 0: cs:WFConnection ro:Secondary/Unknown ds:UpToDate/DUnknown C r-----\n" +
		"    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0\n"
	old := ProcDRBDPath
	t.Cleanup(func() { ProcDRBDPath = old })
	ProcDRBDPath = filepath.Join(t.TempDir(), "drbd")
	cases := []struct {
		name, proc string
		refused    string
		probe      State
	}{
		{"sync target", syncing, "local disk is SyncTarget", Stopped},
		{"primary", primary, "", Running},
		{"peer unknown", alone, "", Stopped},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(ProcDRBDPath, []byte(c.proc), 0o644); err != nil {
				t.Fatal(err)
			}
			var f runnertest.Fake
			f.On("drbdadm sh-minor r0", runnertest.Answer{Stdout: "0\n"})
			f.On("drbdadm dstate r0", runnertest.Answer{Stdout: "UpToDate/DUnknown\n"})
			f.On("drbdadm primary r0")
			f.On("drbdadm role r0", runnertest.Answer{Stdout: "Primary/Unknown\n"})
			r, err := New(drbdSpec, dsl.Tools{}, &f)
			if err != nil {
				t.Fatal(err)
			}
			st, err := r.Probe(context.Background())
			if err != nil || st.State != c.probe {
				t.Fatalf("probe: %+v %v, want %s", st, err, c.probe)
			}
			err = r.Start(context.Background())
			switch {
			case c.refused != "" && (!IsRefusal(err) || !strings.Contains(err.Error(), c.refused)):
				t.Fatalf("start: %v, want a refusal %q", err, c.refused)
			case c.refused == "" && err != nil:
				t.Fatalf("start: %v (calls %q)", err, f.Calls())
			}
			for _, call := range f.Calls() {
				if strings.HasPrefix(call, "drbdadm status") {
					t.Fatalf("DRBD 9 status used with an 8.4 kernel: %q", f.Calls())
				}
			}
		})
	}
}
