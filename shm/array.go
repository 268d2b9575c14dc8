package shm

import (
	"os"
	"unsafe"
)

// Array is a fixed-length array of numbers of type T in shared memory,
// Python's multiprocessing.Array done with hardware atomics. Each element
// supports the atomic operations of Value; the array has one
// process-shared lock for compound updates; CopyTo, CopyFrom and Slice
// move data at memory speed.
//
// Index arguments must be in [0, Len()): an index out of range panics with
// a *RangeError, as a slice index does (a programming error, not bad
// input).
//
// An Array is safe for use by multiple goroutines and processes for its
// atomic operations, which never block; Lock blocks on the lock. CopyTo,
// CopyFrom, Slice and the Raw operations are plain memory accesses: use
// them under the lock, or when no one writes concurrently. The zero Array
// is usable only as the receiver of AttachFiles.
type Array[T Number] struct{ object }

// NewArray returns an array of n zero elements in a new anonymous segment
// of its own (ArraySize[T](n) bytes).
func NewArray[T Number](n int, opts ...Option) (*Array[T], error) {
	o, err := newObject(infoOf[T](), kindArray, n, opts)
	if err != nil {
		return nil, err
	}
	return &Array[T]{o}, nil
}

// NewArrayFrom returns an array holding a copy of src, in a new anonymous
// segment of its own.
func NewArrayFrom[T Number](src []T, opts ...Option) (*Array[T], error) {
	a, err := NewArray[T](len(src), opts...)
	if err != nil {
		return nil, err
	}
	a.CopyFrom(src)
	return a, nil
}

// ArrayAt returns the array of n elements at seg[off:] (off a multiple of
// 8, ArraySize[T](n) bytes), initialising its header if the header bytes
// are zero, or else checking that the header is an array of n elements of
// T's size and typecode (ErrBadHeader otherwise; ErrTooSmall when the
// segment cannot hold it). n < 0 attaches to an existing array of any
// length. Initialising leaves the elements' bytes as they are. Close does
// not close seg.
func ArrayAt[T Number](seg *Segment, off, n int, opts ...Option) (*Array[T], error) {
	o, err := objectAt(seg, off, infoOf[T](), kindArray, n, opts)
	if err != nil {
		return nil, err
	}
	return &Array[T]{o}, nil
}

// Len returns the number of elements.
func (a *Array[T]) Len() int { return a.n }

func (a *Array[T]) at(i int) unsafe.Pointer {
	if uint(i) >= uint(a.n) {
		panic(&RangeError{Index: i, Len: a.n})
	}
	var z T
	return unsafe.Add(a.data, uintptr(i)*unsafe.Sizeof(z))
}

// Load atomically loads element i.
func (a *Array[T]) Load(i int) T { return atomicLoad[T](a.at(i)) }

// Store atomically stores x at element i.
func (a *Array[T]) Store(i int, x T) { atomicStore(a.at(i), x) }

// Swap atomically stores x at element i and returns the previous value.
func (a *Array[T]) Swap(i int, x T) T { return atomicSwap(a.at(i), x) }

// CompareAndSwap atomically stores new at element i if it holds old
// (comparing bit patterns), and reports whether it did.
func (a *Array[T]) CompareAndSwap(i int, old, new T) bool { return atomicCAS(a.at(i), old, new) }

// Add atomically adds delta to element i and returns the new value.
func (a *Array[T]) Add(i int, delta T) T { return addAt(a.xadd, a.at(i), delta) }

// LoadRaw loads element i with a plain read, for use under the lock.
func (a *Array[T]) LoadRaw(i int) T { return *(*T)(a.at(i)) }

// StoreRaw stores x at element i with a plain write, for use under the
// lock.
func (a *Array[T]) StoreRaw(i int, x T) { *(*T)(a.at(i)) = x }

// Slice returns the elements as a Go slice aliasing the shared memory:
// reads and writes through it are plain memory accesses, visible to every
// process, valid until Close. Use it under the lock when others write.
func (a *Array[T]) Slice() []T { return unsafe.Slice((*T)(a.data), a.n) }

// CopyTo copies min(Len(), len(dst)) elements to dst (a plain memmove, not
// atomic) and returns the number copied.
func (a *Array[T]) CopyTo(dst []T) int { return copy(dst, a.Slice()) }

// CopyFrom copies min(Len(), len(src)) elements from src (a plain
// memmove, not atomic) and returns the number copied.
func (a *Array[T]) CopyFrom(src []T) int { return copy(a.Slice(), src) }

// AttachFiles implements the procshare sharing contract in a child: it
// maps the segment that the parent's ShareFiles passed and checks that the
// array there has T's size and typecode and the parent's length.
func (a *Array[T]) AttachFiles(files []*os.File, meta []byte) error {
	o, err := a.object.attach(files, meta, infoOf[T](), kindArray)
	if err != nil {
		return err
	}
	a.object = o
	return nil
}
