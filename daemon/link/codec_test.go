package link_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"xhad/daemon/link"
)

func TestSealOpenRoundTrip(t *testing.T) {
	a, b := codecs()
	long := strings.Repeat("n", link.MaxName)
	longFrom := "x" + long[1:]
	tests := []struct {
		name  string
		codec *link.Codec // sender
		open  *link.Codec // receiver
		msg   link.Message
		want  link.Message
	}{
		{"heartbeat", a, b,
			link.Message{Kind: link.Heartbeat, Epoch: 7, Seq: 1, Body: []byte("role=ACTIVE")},
			link.Message{Cluster: testCluster, From: "a", Kind: link.Heartbeat, Epoch: 7, Seq: 1, Body: []byte("role=ACTIVE")}},
		{"goodbye empty body", a, b,
			link.Message{Kind: link.Goodbye, Epoch: 7, Seq: 2},
			link.Message{Cluster: testCluster, From: "a", Kind: link.Goodbye, Epoch: 7, Seq: 2}},
		{"request with SLIP bytes, names given", b, a,
			link.Message{Cluster: testCluster, From: "b", Kind: link.Request, Epoch: 1, Seq: 3, Body: []byte{0xC0, 0xDB, 0xDC, 0xDD, 0}},
			link.Message{Cluster: testCluster, From: "b", Kind: link.Request, Epoch: 1, Seq: 3, Body: []byte{0xC0, 0xDB, 0xDC, 0xDD, 0}}},
		{"reply largest numbers", b, a,
			link.Message{Kind: link.Reply, Epoch: ^uint64(0), Seq: ^uint64(0), Body: []byte("ok")},
			link.Message{Cluster: testCluster, From: "b", Kind: link.Reply, Epoch: ^uint64(0), Seq: ^uint64(0), Body: []byte("ok")}},
		{"largest body", a, b,
			link.Message{Kind: link.Heartbeat, Epoch: 2, Seq: 9, Body: bytes.Repeat([]byte{0xA5}, link.MaxBody)},
			link.Message{Cluster: testCluster, From: "a", Kind: link.Heartbeat, Epoch: 2, Seq: 9, Body: bytes.Repeat([]byte{0xA5}, link.MaxBody)}},
		{"longest names", link.NewCodec(testKey, long, longFrom), link.NewCodec(testKey, long, "b"),
			link.Message{Kind: link.Heartbeat, Epoch: 3, Seq: 4, Body: bytes.Repeat([]byte{1}, link.MaxBody)},
			link.Message{Cluster: long, From: longFrom, Kind: link.Heartbeat, Epoch: 3, Seq: 4, Body: bytes.Repeat([]byte{1}, link.MaxBody)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := mustSeal(t, tt.codec, tt.msg)
			if len(frame) > link.MaxFrameSize {
				t.Fatalf("sealed frame of %d bytes exceeds MaxFrameSize %d", len(frame), link.MaxFrameSize)
			}
			got, err := tt.open.Open(frame)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if err := sameMessage(got, tt.want); err != nil {
				t.Fatal(err)
			}
			clear(frame) // the returned message must not alias the frame
			if err := sameMessage(got, tt.want); err != nil {
				t.Fatalf("message aliases the frame: %v", err)
			}
		})
	}
}

func TestSealRefuses(t *testing.T) {
	a, _ := codecs()
	tests := []struct {
		name    string
		codec   *link.Codec
		msg     link.Message
		wantErr error  // nil: any error
		wantMsg string // substring of the error
	}{
		{"body too large", a, link.Message{Kind: link.Heartbeat, Body: make([]byte, link.MaxBody+1)}, link.ErrOversize, "4097"},
		{"invalid kind", a, link.Message{Kind: 0}, nil, "invalid message kind"},
		{"unknown kind", a, link.Message{Kind: 5}, nil, "kind(5)"},
		{"other sender", a, link.Message{Kind: link.Heartbeat, From: "b"}, nil, `sender "b"`},
		{"other cluster", a, link.Message{Kind: link.Heartbeat, Cluster: "x"}, nil, `cluster "x"`},
		{"cluster name too long", link.NewCodec(testKey, strings.Repeat("c", 256), "a"), link.Message{Kind: link.Heartbeat}, nil, "cluster name of 256 bytes"},
		{"node name too long", link.NewCodec(testKey, "c", strings.Repeat("a", 256)), link.Message{Kind: link.Heartbeat}, nil, "node name of 256 bytes"},
		{"empty node name", link.NewCodec(testKey, "c", ""), link.Message{Kind: link.Heartbeat}, nil, "node name of 0 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tt.codec.Seal(tt.msg)
			if err == nil {
				t.Fatalf("sealed %d bytes, want an error", len(f))
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

// Layout offsets of the wire format, for forging frames.
const (
	offVersion = 4
	offLength  = 5
	offCheck   = 7
	offKind    = 9
	offCluster = 26
)

func TestOpenRejects(t *testing.T) {
	a, b := codecs()
	good := mustSeal(t, a, link.Message{Kind: link.Heartbeat, Epoch: 5, Seq: 10, Body: []byte("body")})
	edit := func(f func(frame []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	setLength := func(frame []byte, n int) {
		binary.BigEndian.PutUint16(frame[offLength:], uint16(n))
		binary.BigEndian.PutUint16(frame[offCheck:], ^uint16(n))
	}
	tests := []struct {
		name   string
		frame  []byte
		want   error
		reason string
	}{
		{"wrong key", mustSeal(t, link.NewCodec(otherKey, testCluster, "a"), link.Message{Kind: link.Heartbeat, Epoch: 5, Seq: 10}), link.ErrAuth, "auth"},
		{"other cluster", mustSeal(t, link.NewCodec(testKey, "other", "a"), link.Message{Kind: link.Heartbeat, Epoch: 5, Seq: 10}), link.ErrCluster, "cluster"},
		{"own frame reflected", mustSeal(t, b, link.Message{Kind: link.Heartbeat, Epoch: 5, Seq: 10}), link.ErrSelf, "self"},
		{"empty", nil, link.ErrTruncated, "truncated"},
		{"bad magic", edit(func(f []byte) []byte { f[0] = 'Y'; return f }), link.ErrMagic, "corrupt"},
		{"not xhad at all", []byte("GET / HTTP/1.1\r\n\r\n"), link.ErrMagic, "corrupt"},
		{"future version", edit(func(f []byte) []byte { f[offVersion] = 2; return f }), link.ErrVersion, "version"},
		{"version zero", edit(func(f []byte) []byte { f[offVersion] = 0; return f }), link.ErrVersion, "version"},
		{"oversize", append(append([]byte(nil), good...), make([]byte, link.MaxFrameSize+1-len(good))...), link.ErrOversize, "oversize"},
		{"header claims oversize", edit(func(f []byte) []byte { setLength(f, link.MaxFrameSize+1); return f }), link.ErrOversize, "oversize"},
		{"length check disagrees", edit(func(f []byte) []byte { f[offCheck] ^= 1; return f }), link.ErrAuth, "auth"},
		{"trailing byte", append(append([]byte(nil), good...), 0), link.ErrCorrupt, "corrupt"},
		{"length below minimum", edit(func(f []byte) []byte { setLength(f, 20); return f }), link.ErrCorrupt, "corrupt"},
		{"mac zeroed", edit(func(f []byte) []byte { clear(f[len(f)-32:]); return f }), link.ErrAuth, "auth"},
		// Frames a key holder could seal wrongly: authenticated, but malformed.
		{"kind zero", reMAC(testKey, edit(func(f []byte) []byte { f[offKind] = 0; return f })), link.ErrCorrupt, "corrupt"},
		{"kind unknown", reMAC(testKey, edit(func(f []byte) []byte { f[offKind] = 9; return f })), link.ErrCorrupt, "corrupt"},
		{"empty cluster name", reMAC(testKey, edit(func(f []byte) []byte { f[offCluster] = 0; return f })), link.ErrCorrupt, "corrupt"},
		{"cluster name past the end", reMAC(testKey, edit(func(f []byte) []byte { f[offCluster] = 255; return f })), link.ErrCorrupt, "corrupt"},
		{"body length disagrees", reMAC(testKey, edit(func(f []byte) []byte { f[len(f)-32-4-1]++; return f })), link.ErrCorrupt, "corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := b.Open(tt.frame)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open = %+v, %v; want %v", m, err, tt.want)
			}
			if got := link.Reason(err); got != tt.reason {
				t.Fatalf("Reason(%v) = %q, want %q", err, got, tt.reason)
			}
		})
	}
}

func TestOpenTruncatedAtEveryLength(t *testing.T) {
	a, b := codecs()
	frame := mustSeal(t, a, link.Message{Kind: link.Heartbeat, Epoch: 1, Seq: 1, Body: []byte("some body")})
	for n := range len(frame) {
		if _, err := b.Open(frame[:n]); !errors.Is(err, link.ErrTruncated) {
			t.Errorf("frame cut to %d of %d bytes: error %v, want ErrTruncated", n, len(frame), err)
		}
	}
}

func TestOpenFlippedBitAnywhere(t *testing.T) {
	a, b := codecs()
	frame := mustSeal(t, a, link.Message{Kind: link.Reply, Epoch: 3, Seq: 4, Body: []byte("body bytes")})
	for i := range len(frame) * 8 {
		flipped := append([]byte(nil), frame...)
		flipped[i/8] ^= 1 << (i % 8)
		want := link.ErrAuth
		switch {
		case i/8 < offVersion:
			want = link.ErrMagic
		case i/8 == offVersion:
			want = link.ErrVersion
		}
		if m, err := b.Open(flipped); !errors.Is(err, want) {
			t.Errorf("bit %d (byte %d) flipped: Open = %+v, %v; want %v", i, i/8, m, err, want)
		}
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{link.ErrTruncated, "truncated"},
		{fmt.Errorf("wrapped: %w", link.ErrOversize), "oversize"},
		{link.ErrMagic, "corrupt"},
		{link.ErrVersion, "version"},
		{link.ErrAuth, "auth"},
		{link.ErrCluster, "cluster"},
		{link.ErrSelf, "self"},
		{link.ErrReplay, "replay"},
		{link.ErrStaleEpoch, "stale-epoch"},
		{link.ErrCorrupt, "corrupt"},
		{errors.New("something else"), "other"},
	}
	for _, tt := range tests {
		if got := link.Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestKindString(t *testing.T) {
	tests := []struct {
		kind link.Kind
		want string
	}{
		{link.Heartbeat, "heartbeat"}, {link.Goodbye, "goodbye"}, {link.Request, "request"},
		{link.Reply, "reply"}, {0, "kind(0)"}, {200, "kind(200)"},
	}
	for _, tt := range tests {
		if got := tt.kind.String(); got != tt.want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(tt.kind), got, tt.want)
		}
	}
}
