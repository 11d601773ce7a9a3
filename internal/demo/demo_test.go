package demo_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"xhad/internal/testbed"
)

// TestDemoScripts runs the real binary's demo non-interactively and checks
// its JSON events: the steps in order, a takeover, and a final summary that
// says the expectations held.
func TestDemoScripts(t *testing.T) {
	for _, script := range []string{"failover", "tour"} {
		t.Run(script, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out, err := testbed.Run(ctx, t, nil, "demo", "--script", script, "--json")
			if err != nil {
				t.Fatalf("xhad demo --script %s --json: %v\n%s", script, err, out)
			}
			var steps []string
			var summary map[string]any
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var ev map[string]any
				if err := json.Unmarshal([]byte(line), &ev); err != nil {
					t.Fatalf("not a JSON line: %q (%v)", line, err)
				}
				if _, ok := ev["time"].(string); !ok {
					t.Fatalf("event without a timestamp: %q", line)
				}
				switch ev["event"] {
				case "step":
					steps = append(steps, ev["step"].(string))
				case "summary":
					summary = ev
				}
			}
			want := "start crash takeover return safe"
			if script == "tour" {
				want = "start standby crash takeover return safe"
			}
			if got := strings.Join(steps, " "); got != want {
				t.Errorf("steps %q, want %q", got, want)
			}
			if summary == nil || summary["ok"] != true {
				t.Fatalf("summary %v, want ok\n%s", summary, out)
			}
		})
	}
}

func TestDemoUnknownScript(t *testing.T) {
	out, err := testbed.Run(context.Background(), t, nil, "demo", "--script", "nope")
	if err == nil || !strings.Contains(out, "unknown demo script") {
		t.Fatalf("want a refusal naming the scripts, got %v\n%s", err, out)
	}
}
