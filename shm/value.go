package shm

import "os"

// Value is one number of type T in shared memory, Python's
// multiprocessing.Value done with hardware atomics: Load, Store, Swap,
// CompareAndSwap and Add are single atomic instructions (or short
// compare-and-swap loops for 8- and 16-bit integers and floats), and a
// process-shared lock serves compound updates:
//
//	v.Lock(ctx)
//	v.StoreRaw(v.LoadRaw()*2 + 1)
//	v.Unlock()
//
// A Value is safe for use by multiple goroutines and, through its
// segment, by multiple processes. The atomic operations never block; Lock
// blocks on the lock. Mixing LoadRaw/StoreRaw outside the lock with
// concurrent writers is a data race. The zero Value is usable only as the
// receiver of AttachFiles.
type Value[T Number] struct{ object }

// NewValue returns a Value holding v in a new anonymous segment of its own
// (ValueSize bytes, rounded up to a page by the kernel).
func NewValue[T Number](v T, opts ...Option) (*Value[T], error) {
	o, err := newObject(infoOf[T](), kindValue, 1, opts)
	if err != nil {
		return nil, err
	}
	x := &Value[T]{o}
	x.StoreRaw(v)
	return x, nil
}

// ValueAt returns the Value at seg[off:] (off a multiple of 8, ValueSize
// bytes), initialising its header (and lock) if the header bytes are
// zero, as in a new segment, or else checking that the header is a Value
// of T's size and typecode (ErrBadHeader otherwise). Initialising leaves
// the value's bytes as they are (zero in a new segment). Processes that
// call ValueAt on the same place concurrently agree: one initialises, the
// others wait for it. Close does not close seg.
func ValueAt[T Number](seg *Segment, off int, opts ...Option) (*Value[T], error) {
	o, err := objectAt(seg, off, infoOf[T](), kindValue, 1, opts)
	if err != nil {
		return nil, err
	}
	return &Value[T]{o}, nil
}

// Load atomically loads the value.
func (v *Value[T]) Load() T { return atomicLoad[T](v.data) }

// Store atomically stores x.
func (v *Value[T]) Store(x T) { atomicStore(v.data, x) }

// Swap atomically stores x and returns the previous value.
func (v *Value[T]) Swap(x T) T { return atomicSwap(v.data, x) }

// CompareAndSwap atomically stores new if the value is old, comparing bit
// patterns (for floats NaN equals an identical NaN and -0 differs from
// +0), and reports whether it did.
func (v *Value[T]) CompareAndSwap(old, new T) bool { return atomicCAS(v.data, old, new) }

// Add atomically adds delta (wrapping around for integers) and returns the
// new value. For floats it is a compare-and-swap loop.
func (v *Value[T]) Add(delta T) T { return addAt(v.xadd, v.data, delta) }

// LoadRaw loads the value with a plain, non-atomic read: for use under the
// lock (or when no one writes concurrently).
func (v *Value[T]) LoadRaw() T { return *(*T)(v.data) }

// StoreRaw stores x with a plain, non-atomic write: for use under the lock.
func (v *Value[T]) StoreRaw(x T) { *(*T)(v.data) = x }

// AttachFiles implements the procshare sharing contract in a child: it
// maps the segment that the parent's ShareFiles passed and checks that the
// Value there has element type T's size and typecode.
func (v *Value[T]) AttachFiles(files []*os.File, meta []byte) error {
	o, err := v.object.attach(files, meta, infoOf[T](), kindValue)
	if err != nil {
		return err
	}
	v.object = o
	return nil
}
