package shm

import (
	"os"
	"unsafe"
)

// Bool is a bool in shared memory, Python's Value('?'): one byte, 0 for
// false and anything else for true (Python writes 0 and 1). It has the
// atomic operations that make sense for a bool (no Add) and a
// process-shared lock. It is safe for use by multiple goroutines and
// processes; the zero Bool is usable only as the receiver of AttachFiles.
type Bool struct{ object }

// NewBool returns a Bool holding v in a new anonymous segment of its own.
func NewBool(v bool) (*Bool, error) {
	o, err := newObject(infoOf[bool](), kindValue, 1, nil)
	if err != nil {
		return nil, err
	}
	b := &Bool{o}
	b.Store(v)
	return b, nil
}

// BoolAt returns the Bool at seg[off:], initialising or checking its
// header as ValueAt does.
func BoolAt(seg *Segment, off int) (*Bool, error) {
	o, err := objectAt(seg, off, infoOf[bool](), kindValue, 1, nil)
	if err != nil {
		return nil, err
	}
	return &Bool{o}, nil
}

func b2u(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}

func loadBool(p unsafe.Pointer) bool { return atomicLoad[uint8](p) != 0 }

// casBool treats every non-zero byte as true.
func casBool(p unsafe.Pointer, old, new bool) bool {
	for {
		cur := atomicLoad[uint8](p)
		if (cur != 0) != old {
			return false
		}
		if atomicCAS(p, cur, b2u(new)) {
			return true
		}
	}
}

// Load atomically loads the value.
func (b *Bool) Load() bool { return loadBool(b.data) }

// Store atomically stores v.
func (b *Bool) Store(v bool) { atomicStore(b.data, b2u(v)) }

// Swap atomically stores v and returns the previous value.
func (b *Bool) Swap(v bool) bool { return atomicSwap(b.data, b2u(v)) != 0 }

// CompareAndSwap atomically stores new if the value is old and reports
// whether it did.
func (b *Bool) CompareAndSwap(old, new bool) bool { return casBool(b.data, old, new) }

// AttachFiles implements the procshare sharing contract in a child.
func (b *Bool) AttachFiles(files []*os.File, meta []byte) error {
	o, err := b.object.attach(files, meta, infoOf[bool](), kindValue)
	if err != nil {
		return err
	}
	b.object = o
	return nil
}

// BoolArray is a fixed-length array of bools in shared memory, Python's
// Array('?'), one byte each as in Bool. Index arguments out of [0, Len())
// panic with a *RangeError. Safe for use by multiple goroutines and
// processes for its atomic operations; CopyTo and CopyFrom are plain
// memory accesses. The zero BoolArray is usable only as the receiver of
// AttachFiles.
type BoolArray struct{ object }

// NewBoolArray returns an array of n false elements in a new anonymous
// segment of its own.
func NewBoolArray(n int) (*BoolArray, error) {
	o, err := newObject(infoOf[bool](), kindArray, n, nil)
	if err != nil {
		return nil, err
	}
	return &BoolArray{o}, nil
}

// BoolArrayAt returns the array of n bools at seg[off:], initialising or
// checking its header as ArrayAt does.
func BoolArrayAt(seg *Segment, off, n int) (*BoolArray, error) {
	o, err := objectAt(seg, off, infoOf[bool](), kindArray, n, nil)
	if err != nil {
		return nil, err
	}
	return &BoolArray{o}, nil
}

// Len returns the number of elements.
func (a *BoolArray) Len() int { return a.n }

func (a *BoolArray) at(i int) unsafe.Pointer {
	if uint(i) >= uint(a.n) {
		panic(&RangeError{Index: i, Len: a.n})
	}
	return unsafe.Add(a.data, i)
}

// Load atomically loads element i.
func (a *BoolArray) Load(i int) bool { return loadBool(a.at(i)) }

// Store atomically stores v at element i.
func (a *BoolArray) Store(i int, v bool) { atomicStore(a.at(i), b2u(v)) }

// Swap atomically stores v at element i and returns the previous value.
func (a *BoolArray) Swap(i int, v bool) bool { return atomicSwap(a.at(i), b2u(v)) != 0 }

// CompareAndSwap atomically stores new at element i if it holds old.
func (a *BoolArray) CompareAndSwap(i int, old, new bool) bool { return casBool(a.at(i), old, new) }

// Bytes returns the elements' bytes, aliasing the shared memory (plain
// accesses; non-zero is true).
func (a *BoolArray) Bytes() []byte { return unsafe.Slice((*byte)(a.data), a.n) }

// CopyTo copies min(Len(), len(dst)) elements to dst and returns the
// number copied.
func (a *BoolArray) CopyTo(dst []bool) int {
	n := min(len(dst), a.n)
	for i, c := range a.Bytes()[:n] {
		dst[i] = c != 0
	}
	return n
}

// CopyFrom copies min(Len(), len(src)) elements from src and returns the
// number copied.
func (a *BoolArray) CopyFrom(src []bool) int {
	n := min(len(src), a.n)
	b := a.Bytes()
	for i, v := range src[:n] {
		b[i] = b2u(v)
	}
	return n
}

// AttachFiles implements the procshare sharing contract in a child.
func (a *BoolArray) AttachFiles(files []*os.File, meta []byte) error {
	o, err := a.object.attach(files, meta, infoOf[bool](), kindArray)
	if err != nil {
		return err
	}
	a.object = o
	return nil
}
