// Package link carries xhad's messages between the two daemons over every
// configured heartbeat link: UDP unicast on the dedicated link (and optionally
// a second network) and an RS-232 null-modem cable.
//
// A Codec turns a Message into an authenticated frame and back; a Transport
// moves frames (UDP, Serial, or linktest's in-memory pair); a Guard drops
// replayed and stale frames; a Link ties one transport, the codec and a guard
// together and keeps per-link counters. A bad frame is never fatal: it is
// dropped and counted under the label Reason gives it. The package decides
// nothing about liveness: the decision core counts ticks since the last
// message a Link delivered.
//
// # Wire format (version 1)
//
// All integers are big-endian. One frame is one UDP datagram, or the payload
// of one serial frame.
//
//	offset size  field
//	0      4     magic "XHAD"
//	4      1     version = 1
//	5      2     L, the length of the whole frame in bytes, MAC included
//	7      2     ^L (L with every bit inverted)
//	9      1     kind (1 heartbeat, 2 goodbye, 3 request, 4 reply)
//	10     8     epoch, the sender's boot epoch
//	18     8     seq, the sender's message counter within the epoch
//	26     1     n, length of the cluster name (1..255)
//	27     n     cluster name
//	       1     m, length of the sender's node name (1..255)
//	       m     sender's node name
//	       2     b, length of the body (0..4096)
//	       b     body, opaque to this package
//	L-32   32    HMAC-SHA256(key, frame[0:L-32])
//
// Open checks, in this order: the frame size (ErrOversize above
// MaxFrameSize), the magic (ErrMagic), the version (ErrVersion), that the 9
// header bytes are there (ErrTruncated), that L and ^L agree (ErrAuth: an
// altered length cannot be told from an altered frame), L itself
// (ErrOversize above MaxFrameSize, ErrTruncated when fewer bytes arrived,
// ErrCorrupt for bytes after L or an L below the minimum frame), the MAC in
// constant time (ErrAuth), the inner layout (ErrCorrupt), the cluster
// (ErrCluster) and the sender (ErrSelf). So any prefix of a good frame is
// ErrTruncated, and a flipped bit anywhere after the version byte is ErrAuth.
// A future format changes the version byte and keeps the magic.
//
// # Serial framing
//
// On a serial line each frame travels SLIP-style: END (0xC0), then the frame
// followed by its CRC-32C (Castagnoli, 4 bytes little-endian) with END and ESC
// (0xDB) bytes escaped as ESC 0xDC and ESC 0xDD, then END. Every frame starts
// and ends with END, so line noise, a partial frame or a cable plugged back
// in mid-frame spoil at most the frame they touch: the Deframer counts it as
// corrupt and the next frame is read cleanly.
package link
