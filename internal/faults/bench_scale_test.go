package faults

import (
	"fmt"
	"testing"
	"time"

	"xhad/internal/netbed"
	"xhad/internal/testbed"
)

// BenchmarkFailover200Domains measures, in the namespace bed, how long the
// standby takes from the crash of the active host until all 200 simulated
// domains of the group run on it and the service address answers there
// (each `xl create` takes 20 ms in the simulator; the group starts 16 at a
// time). Never asserted: it prints one line per trial.
func BenchmarkFailover200Domains(b *testing.B) {
	netbed.RequireRoot(b)
	var doms []string
	for i := 0; i < 200; i++ {
		doms = append(doms, fmt.Sprintf("d%03d", i))
	}
	const wait = 5 * time.Minute
	for i := 0; i < b.N; i++ {
		bed := netbed.New(b, netbed.Options{Domains: doms, GroupKeys: "parallel = 16"})
		bed.Sim("set", "create-delay", "20ms")
		bed.A.Start()
		bed.B.Start()
		bed.A.WaitRole("main", "ACTIVE", wait)
		start := time.Now()
		bed.CrashHost(bed.A)
		bed.B.WaitRole("main", "ACTIVE", wait)
		testbed.WaitFor(b, wait, "service on b", func() (bool, string) { return bed.ServiceOn("b") })
		took := time.Since(start)
		if err := bed.Check(); err != nil {
			b.Fatal(err)
		}
		fmt.Printf("failover daemon=xhad domains=200 parallel=16 create=20ms deadtime=1s took=%s\n", took.Round(time.Millisecond))
		b.ReportMetric(took.Seconds(), "failover-s")
	}
}
