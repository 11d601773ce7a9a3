package link_test

import (
	"bytes"
	"testing"

	"xhad/daemon/link"
)

// A heartbeat body of a realistic size: role and a resource summary.
var benchBody = bytes.Repeat([]byte("res=ok;"), 30)

func BenchmarkSeal(b *testing.B) {
	ca, _ := codecs()
	m := link.Message{Kind: link.Heartbeat, Epoch: 1, Body: benchBody}
	b.ReportAllocs()
	for b.Loop() {
		m.Seq++
		if _, err := ca.Seal(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	ca, cb := codecs()
	frame := mustSeal(b, ca, link.Message{Kind: link.Heartbeat, Epoch: 1, Seq: 1, Body: benchBody})
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cb.Open(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDeframerFeed(b *testing.B) {
	ca, _ := codecs()
	wire := link.Frame(mustSeal(b, ca, link.Message{Kind: link.Heartbeat, Epoch: 1, Seq: 1, Body: benchBody}))
	var d link.Deframer
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		if frames := d.Feed(wire); len(frames) != 1 {
			b.Fatalf("%d frames", len(frames))
		}
	}
}
