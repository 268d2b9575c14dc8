package wire

import (
	"encoding/binary"
	"math"
)

// Frame header layout (see the package documentation).
const (
	headerLen     = 4          // short form: int32 big-endian length
	longHeaderLen = 12         // long form: -1 marker then uint64 big-endian length
	longMarker    = 0xffffffff // the 4-byte field of a long header (-1 as int32)
	maxShortLen   = math.MaxInt32
)

// header is the length prefix of one frame, as it appears on the wire:
// 4 bytes (short form) or 12 bytes (long form, the first 4 being ff ff ff ff).
// A header slice must be at least headerLen bytes long; isLong tells whether
// longHeaderLen bytes are needed.
type header []byte

// isLong reports whether the 4-byte field is the -1 marker of the long form.
func (h header) isLong() bool { return binary.BigEndian.Uint32(h) == longMarker }

// short returns the 4-byte field as the signed length CPython reads ("!i").
func (h header) short() int32 { return int32(binary.BigEndian.Uint32(h)) }

// long returns the 8-byte length of a long header ("!Q").
func (h header) long() uint64 { return binary.BigEndian.Uint64(h[headerLen:longHeaderLen]) }

// size returns the encoded length of the header: 4 or 12.
func (h header) size() int {
	if h.isLong() {
		return longHeaderLen
	}
	return headerLen
}

// appendHeader appends the header of an n-byte payload to b: the short form
// up to 0x7fffffff bytes (readable by every CPython), the long form above.
func appendHeader(b []byte, n int) []byte {
	if uint64(n) > maxShortLen {
		b = binary.BigEndian.AppendUint32(b, longMarker)
		return binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return binary.BigEndian.AppendUint32(b, uint32(n))
}
