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

// FuzzAttachHeader attaches typed objects to arbitrary bytes: errors are
// fine, panics and accesses beyond the segment are not.
func FuzzAttachHeader(f *testing.F) {
	f.Add([]byte("PSHM\x01d\x08A\x03\x00\x00\x00\x00\x00\x00\x00"), 0)
	f.Add([]byte("PSHM\x01q\x08V\x01\x00\x00\x00\x00\x00\x00\x00"), 8)
	f.Fuzz(func(t *testing.T, data []byte, off int) {
		if len(data) > 1<<12 {
			return
		}
		seg, err := New(len(data) + 8)
		if err != nil {
			t.Fatal(err)
		}
		defer seg.Close()
		copy(seg.Bytes(), data)
		if a, err := ArrayAt[float64](seg, off, -1); err == nil {
			a.Slice()
			if a.Len() > 0 {
				a.Add(a.Len()-1, 1)
			}
		}
		if a, err := ArrayAt[int8](seg, off, -1); err == nil && a.Len() > 0 {
			a.Add(a.Len()-1, 1)
		}
		if v, err := ValueAt[int64](seg, off); err == nil {
			v.Add(1)
		}
		if b, err := BoolArrayAt(seg, off, -1); err == nil {
			b.Bytes()
		}
	})
}
