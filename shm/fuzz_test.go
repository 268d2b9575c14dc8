package shm

import (
	"encoding/binary"
	"testing"
)

// FuzzParseList feeds arbitrary bytes to the ShareableList parser and, when
// they parse, to every accessor: errors are fine, panics and out-of-bounds
// reads are not.
func FuzzParseList(f *testing.F) {
	ne := binary.NativeEndian
	valid := make([]byte, 8+16+8+8+1)
	ne.PutUint64(valid, 1)
	ne.PutUint64(valid[16:], 8)
	copy(valid[32:], "q")
	f.Add(valid)
	f.Add([]byte("not a list"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 1<<16 {
			return
		}
		seg, err := New(len(data))
		if err != nil {
			t.Fatal(err)
		}
		defer seg.Close()
		copy(seg.Bytes(), data)
		l, err := parseList(seg)
		if err != nil {
			return
		}
		l.Items()
		l.Format()
		l.Count(int64(1))
		for i := 0; i < l.Len(); i++ {
			l.Get(i)
			l.Set(i, "abc")
			l.Set(i, 1.5)
		}
	})
}
