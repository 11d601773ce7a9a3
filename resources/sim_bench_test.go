package resources

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xhad/dsl"
	"xhad/internal/runner"
	"xhad/internal/sim"
)

// simRunner runs the simulated tools in process, as node.
type simRunner struct{ dir, node string }

func (s simRunner) Run(ctx context.Context, c runner.Cmd) (runner.Result, error) {
	out, errOut, code := sim.Exec(s.dir, s.node, filepath.Base(c.Path), c.Args...)
	res := runner.Result{Stdout: []byte(out), Stderr: []byte(errOut), ExitCode: code}
	if code != 0 {
		return res, &runner.ExitError{Cmd: c.String(), Code: code, Stderr: strings.TrimSpace(errOut)}
	}
	return res, nil
}

// BenchmarkSimulatedDomains starts and stops 200 simulated Xen domains whose
// `xl create` and shutdown each take 10 ms, one at a time and 16 at a time,
// through the real xen adapter and the simulator.
func BenchmarkSimulatedDomains(b *testing.B) {
	for _, parallel := range []int{1, 16} {
		b.Run(fmt.Sprintf("parallel%d", parallel), func(b *testing.B) {
			dir := b.TempDir()
			if err := sim.Init(dir, sim.InitOptions{Nodes: [2]string{"a", "b"}}); err != nil {
				b.Fatal(err)
			}
			for _, kv := range [][2]string{{"create-delay", "10ms"}, {"shutdown-delay", "10ms"}} {
				if err := sim.Ctl(dir, "set", kv[0], kv[1]); err != nil {
					b.Fatal(err)
				}
			}
			g := dsl.Group{Name: "main", Parallel: parallel}
			rs := map[string]Resource{}
			r := simRunner{dir: dir, node: "a"}
			for i := 0; i < 200; i++ {
				name := fmt.Sprintf("d%03d", i)
				cfg := filepath.Join(dir, name+".cfg")
				if err := os.WriteFile(cfg, []byte(fmt.Sprintf("name = %q\nmemory = 64\n", name)), 0o644); err != nil {
					b.Fatal(err)
				}
				spec := dsl.Resource{Name: name, Kind: dsl.KindXen, StartTimeout: time.Minute, StopTimeout: time.Minute,
					Xen: &dsl.XenSpec{Domain: name, Config: cfg, Mode: dsl.XenExclusive, ShutdownTimeout: 30 * time.Second}}
				g.Resources = append(g.Resources, spec)
				g.StopOrder = append([]string{name}, g.StopOrder...)
				res, err := New(spec, dsl.Tools{XL: "xl"}, r)
				if err != nil {
					b.Fatal(err)
				}
				if x, ok := res.(*Xen); ok {
					x.PollInterval = 5 * time.Millisecond
				}
				rs[name] = res
			}
			s := &Scheduler{Parallel: parallel}
			var start, stop time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if err := s.Start(context.Background(), g, rs); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := s.Stop(context.Background(), g, rs); err != nil {
					b.Fatal(err)
				}
				start += t1.Sub(t0)
				stop += time.Since(t1)
			}
			b.ReportMetric(float64(start.Milliseconds())/float64(b.N), "start-ms")
			b.ReportMetric(float64(stop.Milliseconds())/float64(b.N), "stop-ms")
		})
	}
}
