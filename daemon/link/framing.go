package link

import (
	"encoding/binary"
	"hash/crc32"
)

// SLIP bytes (RFC 1055).
const (
	slipEnd    = 0xC0
	slipEsc    = 0xDB
	slipEscEnd = 0xDC
	slipEscEsc = 0xDD
	crcSize    = 4
)

// MaxSerialPayload is the largest payload the Deframer accepts (a frame of
// MaxFrameSize); anything longer is dropped and counted as oversize.
const MaxSerialPayload = MaxFrameSize

var castagnoli = crc32.MakeTable(crc32.Castagnoli) // read-only

// Frame wraps payload for a serial line: END, the payload and its CRC-32C
// with END and ESC escaped, END.
func Frame(payload []byte) []byte {
	var crc [crcSize]byte
	binary.LittleEndian.PutUint32(crc[:], crc32.Checksum(payload, castagnoli))
	out := make([]byte, 0, 2+len(payload)+crcSize+len(payload)/32+4)
	out = append(out, slipEnd)
	out = appendEscaped(out, payload)
	out = appendEscaped(out, crc[:])
	return append(out, slipEnd)
}

func appendEscaped(out, b []byte) []byte {
	for _, c := range b {
		switch c {
		case slipEnd:
			out = append(out, slipEsc, slipEscEnd)
		case slipEsc:
			out = append(out, slipEsc, slipEscEsc)
		default:
			out = append(out, c)
		}
	}
	return out
}

// Deframer reassembles payloads from a serial byte stream, whatever the
// chunking of the reads. A chunk between two END bytes that is badly escaped
// or fails its CRC is dropped and counted as corrupt; one longer than
// MaxSerialPayload (plus CRC) is dropped and counted as oversize; empty
// chunks (back-to-back END bytes) are skipped. The zero value is ready to
// use. It is not safe for concurrent use.
type Deframer struct {
	buf      []byte
	escaped  bool // the previous byte was ESC
	bad      bool // the current chunk is already spoiled (bad escape)
	tooLong  bool // the current chunk overflowed
	corrupt  uint64
	oversize uint64
}

// DeframerCounts is what a Deframer dropped so far.
type DeframerCounts struct {
	Corrupt  uint64
	Oversize uint64
}

// Counts returns the number of chunks dropped so far.
func (d *Deframer) Counts() DeframerCounts {
	return DeframerCounts{Corrupt: d.corrupt, Oversize: d.oversize}
}

// Feed consumes data and returns the payloads it completed, each a fresh
// slice. Bytes of an unfinished frame are kept for the next call.
func (d *Deframer) Feed(data []byte) [][]byte {
	var out [][]byte
	for _, c := range data {
		if c == slipEnd {
			if p, ok := d.finish(); ok {
				out = append(out, p)
			}
			continue
		}
		if d.tooLong || d.bad {
			continue
		}
		if d.escaped {
			d.escaped = false
			switch c {
			case slipEscEnd:
				c = slipEnd
			case slipEscEsc:
				c = slipEsc
			default:
				d.bad = true
				continue
			}
		} else if c == slipEsc {
			d.escaped = true
			continue
		}
		if len(d.buf) == MaxSerialPayload+crcSize {
			d.tooLong = true
			continue
		}
		d.buf = append(d.buf, c)
	}
	return out
}

// finish ends the current chunk at an END byte.
func (d *Deframer) finish() ([]byte, bool) {
	defer func() { d.buf, d.escaped, d.bad, d.tooLong = d.buf[:0], false, false, false }()
	switch {
	case d.tooLong:
		d.oversize++
		return nil, false
	case d.bad || d.escaped:
		d.corrupt++
		return nil, false
	case len(d.buf) == 0:
		return nil, false
	case len(d.buf) < crcSize:
		d.corrupt++
		return nil, false
	}
	n := len(d.buf) - crcSize
	if crc32.Checksum(d.buf[:n], castagnoli) != binary.LittleEndian.Uint32(d.buf[n:]) {
		d.corrupt++
		return nil, false
	}
	return append([]byte(nil), d.buf[:n]...), true
}
