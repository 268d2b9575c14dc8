package wire

import (
	"bytes"
	"testing"
)

// The long form is written only above 0x7fffffff bytes; headers of every
// size read back (frames that large are impractical in a test).
func TestHeaderForms(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want []byte
	}{
		{0, []byte{0, 0, 0, 0}},
		{0x7fffffff, []byte{0x7f, 0xff, 0xff, 0xff}},
		{0x80000000, []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x80, 0, 0, 0}},
		{1 << 40, []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 1, 0, 0, 0, 0, 0}},
	} {
		if uint64(int(tc.n)) != tc.n {
			continue // 32-bit platform
		}
		h := header(appendHeader(nil, int(tc.n)))
		if !bytes.Equal(h, tc.want) {
			t.Errorf("appendHeader(%d) = % x, want % x", tc.n, []byte(h), tc.want)
		}
		if h.size() != len(tc.want) {
			t.Errorf("size of % x = %d", []byte(h), h.size())
		}
		got := uint64(h.short())
		if h.isLong() {
			got = h.long()
		}
		if got != tc.n {
			t.Errorf("header % x reads as %d, want %d", []byte(h), got, tc.n)
		}
	}
}
