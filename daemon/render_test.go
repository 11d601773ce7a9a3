package daemon

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"xhad/daemon/core"
)

// TestRenderStatusShowsTheGate: a refused promotion's reasons and lag stay
// visible in `xhad status` after the start was rolled back.
func TestRenderStatusShowsTheGate(t *testing.T) {
	now := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	r := StatusReport{Groups: []GroupReport{{
		GroupStatus: core.GroupStatus{Name: "db", Role: "STANDBY", Waiting: "the last start here failed"},
		Resources: []ResourceReport{
			{Name: "maria", Kind: "database", Exclusive: true, State: "stopped",
				Gate: &GateReport{Verdict: "refused", Reasons: []string{"delayed replica (SQL_Delay=3600)", "received transactions not applied"},
					LagBytes: -1, LagSeconds: -1, LagTransactions: 100}},
			{Name: "db-ip", Kind: "ip", Exclusive: true, State: "stopped"},
		},
	}}}
	var out bytes.Buffer
	if err := RenderStatus(&out, r, now); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	want := "gate refused: delayed replica (SQL_Delay=3600); received transactions not applied (lag 100 transactions)"
	if !strings.Contains(text, want) {
		t.Fatalf("status text lacks %q:\n%s", want, text)
	}
	if strings.Count(text, "gate ") != 1 {
		t.Fatalf("want the gate line under the database resource only:\n%s", text)
	}
}
