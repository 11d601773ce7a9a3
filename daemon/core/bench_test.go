package core

import "testing"

// BenchmarkHeartbeatAndTick measures the decision cost of one heartbeat plus
// one tick on an active node with 10 groups and a living peer: the steady
// state of the loop.
func BenchmarkHeartbeatAndTick(b *testing.B) {
	spec := "g0"
	for i := 1; i < 10; i++ {
		spec += ",g" + string(rune('0'+i))
	}
	c := clusterFromArgs([]string{"a", "b", "groups=" + spec})
	c.boot(c.nodes[0], false)
	c.boot(c.nodes[1], false)
	for i := 0; i < 30; i++ {
		c.round()
	}
	for _, g := range c.cfg.Groups {
		if c.nodes[0].m.group(g.Name).role != Active {
			b.Fatalf("setup: %s not active on a", g.Name)
		}
	}
	a, bNode := c.nodes[0].m, c.nodes[1].m
	peerState := bNode.publishedSelf()
	peerState.Version = bNode.version
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.Step(Heard{Link: "udp", State: peerState})
		a.Tick()
	}
}
