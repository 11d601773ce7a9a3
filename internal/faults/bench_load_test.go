package faults

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"xhad/internal/netbed"
)

// BenchmarkFalseFailoversUnderLoad keeps every core busy (two busy loops per
// CPU in this process) while both daemons run at the default timing
// (keepalive 500ms, deadtime 3s) for XHAD_BENCH_LOAD (default 5m), and counts
// spurious decisions: peer declared dead, takeovers, role changes. The
// target is 0; it is reported, never asserted.
func BenchmarkFalseFailoversUnderLoad(b *testing.B) {
	netbed.RequireRoot(b)
	period := 5 * time.Minute
	if v := os.Getenv("XHAD_BENCH_LOAD"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("XHAD_BENCH_LOAD=%q: %v", v, err)
		}
		period = d
	}
	for i := 0; i < b.N; i++ {
		bed := netbed.New(b, netbed.Options{Keepalive: "500ms", Deadtime: "3s", Initdead: "10s"})
		bed.A.Start()
		bed.B.Start()
		bed.A.WaitRole("main", "ACTIVE", time.Minute)
		bed.B.WaitRole("main", "STANDBY", time.Minute)
		before := [2]string{bed.A.Log.String(), bed.B.Log.String()}

		ctx, cancel := context.WithTimeout(context.Background(), period)
		var wg sync.WaitGroup
		for w := 0; w < 2*runtime.NumCPU(); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				x := 0
				for ctx.Err() == nil {
					for j := 0; j < 1_000_000; j++ {
						x += j
					}
				}
				_ = x
			}()
		}
		wg.Wait()
		cancel()

		count := func(log, prev, what string) int {
			return strings.Count(log[len(prev):], what)
		}
		la, lb := bed.A.Log.String(), bed.B.Log.String()
		dead := count(la, before[0], "peer b is gone") + count(lb, before[1], "peer a is gone")
		takeovers := count(lb, before[1], "STANDBY -> STARTING") + count(la, before[0], "ACTIVE -> STOPPING")
		stalls := count(la, before[0], "decision loop stalled") + count(lb, before[1], "decision loop stalled")
		late := count(la, before[0], "late heartbeat") + count(lb, before[1], "late heartbeat")
		ra, _ := bed.A.Role("main")
		rb, _ := bed.B.Role("main")
		if err := bed.Check(); err != nil {
			b.Fatal(err)
		}
		fmt.Printf("false-failovers daemon=xhad timing=default load=%dx%d-cpu period=%s peer-dead=%d takeovers=%d stalls=%d late-heartbeats=%d roles=%s/%s\n",
			2, runtime.NumCPU(), period, dead, takeovers, stalls, late, ra, rb)
		b.ReportMetric(float64(takeovers), "takeovers")
	}
}
