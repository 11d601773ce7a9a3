package link_test

import (
	"bytes"
	"slices"
	"testing"

	"xhad/daemon/link"
)

// FuzzOpen checks that Open never panics, classifies every error, and
// accepts only what a holder of the key sealed: an accepted frame is exactly
// the sealing of the message it decodes to. Seeds: testdata/fuzz/FuzzOpen
// and the frames added below.
func FuzzOpen(f *testing.F) {
	ca, cb := codecs()
	for _, m := range []link.Message{
		{Kind: link.Heartbeat, Epoch: 1, Seq: 1, Body: []byte("role=STANDBY")},
		{Kind: link.Goodbye, Epoch: 2, Seq: 3},
		{Kind: link.Request, Epoch: 3, Seq: 5, Body: []byte{0xC0, 0xDB, 0, 0xFF}},
	} {
		frame := mustSeal(f, ca, m)
		f.Add(frame)
		f.Add(frame[:len(frame)/2])
	}
	f.Add(mustSeal(f, cb, link.Message{Kind: link.Reply, Epoch: 1, Seq: 1}))
	f.Add([]byte("XHAD"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := cb.Open(data)
		if err != nil {
			if reason := link.Reason(err); reason == "other" || reason == "" {
				t.Fatalf("error %v has no counter label", err)
			}
			return
		}
		resealed, err := link.NewCodec(testKey, m.Cluster, m.From).Seal(m)
		if err != nil {
			t.Fatalf("accepted %+v, which cannot be sealed: %v", m, err)
		}
		if !bytes.Equal(resealed, data) {
			t.Fatalf("accepted a frame that is not the sealing of what it decodes to:\n got % x\nwant % x", data, resealed)
		}
		if m.From == "b" || m.Cluster != testCluster {
			t.Fatalf("accepted a frame from %q of cluster %q", m.From, m.Cluster)
		}
	})
}

// FuzzDeframe checks the serial deframer on arbitrary line bytes: it never
// panics, what it returns passed its CRC (re-framing it gives it back), the
// way the bytes are chunked changes nothing, and a good frame after any
// garbage is read.
func FuzzDeframe(f *testing.F) {
	good := link.Frame([]byte("good frame"))
	f.Add(good)
	f.Add(append([]byte{1, 2, 3}, good...))
	f.Add(good[:len(good)/2])
	f.Add([]byte{0xC0, 0xDB, 0xDB, 0xC0})
	f.Add([]byte{0xC0, 0xC0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var whole link.Deframer
		frames := whole.Feed(data)
		for _, p := range frames {
			if len(p) > link.MaxSerialPayload {
				t.Fatalf("returned %d bytes, over the limit", len(p))
			}
			var d link.Deframer
			if again := d.Feed(link.Frame(p)); len(again) != 1 || !bytes.Equal(again[0], p) {
				t.Fatalf("re-framing %x gave %x", p, again)
			}
		}

		var split link.Deframer
		cut := len(data) / 3
		splitFrames := append(split.Feed(data[:cut]), split.Feed(data[cut:])...)
		if !slices.EqualFunc(frames, splitFrames, bytes.Equal) || split.Counts() != whole.Counts() {
			t.Fatalf("chunking changed the result: %x %+v vs %x %+v", frames, whole.Counts(), splitFrames, split.Counts())
		}

		next := whole.Feed(good)
		if len(next) == 0 || len(next) > 2 || string(next[len(next)-1]) != "good frame" {
			t.Fatalf("good frame after the fuzz input not read: %q", next)
		}

		var wrapped link.Deframer
		got := wrapped.Feed(link.Frame(data))
		switch {
		case len(data) <= link.MaxSerialPayload && (len(got) != 1 || !bytes.Equal(got[0], data)):
			t.Fatalf("Frame(data) round trip gave %x", got)
		case len(data) > link.MaxSerialPayload && (len(got) != 0 || wrapped.Counts().Oversize != 1):
			t.Fatalf("oversized payload: frames %d counts %+v", len(got), wrapped.Counts())
		}
	})
}
