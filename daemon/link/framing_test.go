package link_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"xhad/daemon/link"
)

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestFrameRoundTrip(t *testing.T) {
	payloads := [][]byte{
		{},
		[]byte("x"),
		[]byte("hello heartbeat"),
		{0xC0},
		{0xDB},
		{0xDB, 0xDC, 0xC0, 0xDD, 0xDB, 0xDB, 0xC0, 0xC0},
		bytes.Repeat([]byte{0xC0, 0xDB}, 100),
		bytes.Repeat([]byte{7}, link.MaxSerialPayload),
	}
	for _, p := range payloads {
		t.Run(fmt.Sprintf("%d bytes", len(p)), func(t *testing.T) {
			wire := link.Frame(p)
			if wire[0] != 0xC0 || wire[len(wire)-1] != 0xC0 || bytes.Count(wire, []byte{0xC0}) != 2 {
				t.Fatalf("frame must hold END only at both ends: % x", wire[:min(len(wire), 40)])
			}
			// Fed whole, and split at every point (every byte for short ones).
			step := max(1, len(wire)/50)
			for cut := 0; cut <= len(wire); cut += step {
				var d link.Deframer
				got := append(d.Feed(wire[:cut]), d.Feed(wire[cut:])...)
				if len(got) != 1 || !bytes.Equal(got[0], p) {
					t.Fatalf("split at %d: got %d frames %x, want %x", cut, len(got), got, p)
				}
				if c := d.Counts(); c != (link.DeframerCounts{}) {
					t.Fatalf("split at %d: counts %+v on a clean stream", cut, c)
				}
			}
		})
	}
}

func TestDeframerResynchronises(t *testing.T) {
	one, two := []byte("first frame"), []byte("second frame")
	good := link.Frame(two)
	partial := link.Frame([]byte("a frame cut short by an unplugged cable"))
	partial = partial[:len(partial)/2]
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 64)
	for i := range noise {
		for noise[i] = byte(rng.UintN(256)); noise[i] == 0xC0; noise[i] = byte(rng.UintN(256)) {
		}
	}
	inserted := link.Frame([]byte("noise lands inside this frame"))
	inserted = concat(inserted[:10], []byte{0x55, 0xAA, 0x01}, inserted[10:])
	flipped := link.Frame([]byte("one bit of this frame flips"))
	flipped[12] ^= 0x10
	tests := []struct {
		name   string
		stream []byte
		want   [][]byte
		counts link.DeframerCounts
	}{
		{"clean", concat(link.Frame(one), good), [][]byte{one, two}, link.DeframerCounts{}},
		{"back to back ENDs", concat([]byte{0xC0, 0xC0, 0xC0}, link.Frame(one), []byte{0xC0}, good), [][]byte{one, two}, link.DeframerCounts{}},
		{"noise before the first frame", concat(noise, good), [][]byte{two}, link.DeframerCounts{Corrupt: 1}},
		{"noise between frames", concat(link.Frame(one), noise, good), [][]byte{one, two}, link.DeframerCounts{Corrupt: 1}},
		{"noise holding END bytes", concat(link.Frame(one), []byte{1, 2, 0xC0, 3, 4, 5, 6, 7}, good), [][]byte{one, two}, link.DeframerCounts{Corrupt: 2}},
		{"bytes inserted inside a frame", concat(inserted, good), [][]byte{two}, link.DeframerCounts{Corrupt: 1}},
		{"flipped bit inside a frame", concat(flipped, good), [][]byte{two}, link.DeframerCounts{Corrupt: 1}},
		{"partial frame then a good one", concat(partial, good), [][]byte{two}, link.DeframerCounts{Corrupt: 1}},
		{"bad escape", concat([]byte{0xC0, 'a', 0xDB, 'x', 'b', 'c', 'd', 'e'}, good), [][]byte{two}, link.DeframerCounts{Corrupt: 1}},
		{"escape right before END", concat([]byte{0xC0, 'a', 'b', 'c', 'd', 'e', 0xDB}, good), [][]byte{two}, link.DeframerCounts{Corrupt: 1}},
		{"shorter than a CRC", concat([]byte{0xC0, 1, 2, 3}, good), [][]byte{two}, link.DeframerCounts{Corrupt: 1}},
		{"endless garbage", concat([]byte{0xC0}, bytes.Repeat([]byte{'x'}, 3*link.MaxSerialPayload), good), [][]byte{two}, link.DeframerCounts{Oversize: 1}},
		{"longest frame plus one byte", concat(link.Frame(bytes.Repeat([]byte{1}, link.MaxSerialPayload+1)), good), [][]byte{two}, link.DeframerCounts{Oversize: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunk := range []int{len(tt.stream), 1, 7, 1000} {
				var d link.Deframer
				var got [][]byte
				for b := range slices.Chunk(tt.stream, max(chunk, 1)) {
					got = append(got, d.Feed(b)...)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("chunks of %d: got %d frames %q, want %q", chunk, len(got), got, tt.want)
				}
				for i := range got {
					if !bytes.Equal(got[i], tt.want[i]) {
						t.Fatalf("chunks of %d: frame %d is %q, want %q", chunk, i, got[i], tt.want[i])
					}
				}
				if c := d.Counts(); c != tt.counts {
					t.Fatalf("chunks of %d: counts %+v, want %+v", chunk, c, tt.counts)
				}
			}
		})
	}
}

func TestDeframerReturnsFreshSlices(t *testing.T) {
	var d link.Deframer
	got := d.Feed(concat(link.Frame([]byte("aaaa")), link.Frame([]byte("bbbb"))))
	if len(got) != 2 {
		t.Fatalf("got %q", got)
	}
	got[0][0] = 'z'
	if string(got[1]) != "bbbb" {
		t.Fatalf("frames share memory: %q", got)
	}
	if again := d.Feed(link.Frame([]byte("cccc"))); len(again) != 1 || string(again[0]) != "cccc" || string(got[0]) != "zaaa" {
		t.Fatalf("a later Feed changed an earlier frame: %q %q", got, again)
	}
}
