package shm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/procshare/procshare/ipcsync"
)

// ErrOwnerDead is ipcsync.ErrOwnerDead: Lock, TryLock and Do of a Value,
// Array, Bool or BoolArray return an error matching it when they took the
// lock over from a process that died holding it. The caller then HOLDS
// the lock and should repair the data it protects.
var ErrOwnerDead = ipcsync.ErrOwnerDead

// Layout constants; see "Layout" in the package documentation.
const (
	headerSize    = 128 // header + mutex region; the data start here
	mutexOffset   = 64
	mutexRegion   = 64
	layoutVersion = 1
	kindValue     = 'V'
	kindArray     = 'A'
)

// The ipcsync.Mutex must fit its region.
var _ [mutexRegion - ipcsync.MutexSize]byte

var magic = [4]byte{'P', 'S', 'H', 'M'}

// ValueSize is the number of bytes a Value (of any element type) or a Bool
// occupies in a segment: the header and one 8-byte data word.
const ValueSize = 136 // headerSize + 8

// ArraySize returns the number of bytes an array of n elements of type T
// occupies in a segment: the header and the data rounded up to 8 bytes. It
// returns -1 when n is negative or the size overflows int.
func ArraySize[T Elem](n int) int {
	var z T
	return footprint(n, int(unsafe.Sizeof(z)))
}

func footprint(n, size int) int {
	if n < 0 || n > (math.MaxInt-headerSize-7)/size {
		return -1
	}
	return headerSize + (n*size+7)&^7
}

// Option configures the constructors of Value and Array.
type Option func(*options)

type options struct {
	code byte
	lock *Lock
}

// WithTypecode selects the Python typecode recorded in the header where
// the element type allows two: 'q' (default) or 'l' for int64, 'Q'
// (default) or 'L' for uint64. Other element types accept only their own
// code. When attaching to an existing object the header's code must equal
// c.
func WithTypecode(c byte) Option { return func(o *options) { o.code = c } }

// WithLock makes the object use l instead of the lock in its own header,
// as Python's Value(typecode, v, lock=l) and Array(..., lock=l) do: Lock,
// TryLock, Unlock, Do and Mutex then act on l, so that several Values and
// Arrays share one lock (and compound updates across them are atomic).
// Passing the object to a child passes l with it. l must stay open while
// the object is used; the object's Close does not close it. A nil l
// selects the object's own lock.
func WithLock(l *Lock) Option { return func(o *options) { o.lock = l } }

// object is what every typed object has: a place in a segment, a header
// and a lock. Its methods are promoted to Value, Array, Bool and BoolArray.
type object struct {
	seg   *Segment
	owned bool // the object made seg (or attached it in a child): Close closes it
	off   int
	kind  byte
	code  byte
	n     int
	data  unsafe.Pointer
	mu    *ipcsync.Mutex
	xadd  byte // how Add works: the integer width, or addFloat32, addFloat64 (see addAt)

	lock    *Lock // the lock of WithLock (mu is its Mutex), or nil
	ownLock bool  // lock was attached with the object in a child: Close closes it
}

// objectMeta is what ShareFiles passes to AttachFiles.
type objectMeta struct {
	Seg  segmentMeta `json:"seg"`
	Off  int         `json:"off"`
	Kind string      `json:"kind"`
	N    int         `json:"n"`
	Lock *syncMeta   `json:"lock,omitempty"` // WithLock's lock; its descriptor follows the segment's
}

func headerWord(version, code, size, kind byte) uint64 {
	b := [8]byte{magic[0], magic[1], magic[2], magic[3], version, code, size, kind}
	return *(*uint64)(unsafe.Pointer(&b))
}

// newObject makes an object in a fresh anonymous segment.
func newObject(info elemInfo, kind byte, n int, opts []Option) (object, error) {
	size := footprint(n, info.size)
	if size < 0 {
		return object{}, fmt.Errorf("shm: invalid array length %d", n)
	}
	seg, err := New(size)
	if err != nil {
		return object{}, err
	}
	o, err := objectAt(seg, 0, info, kind, n, opts)
	if err != nil {
		seg.Close()
		return object{}, err
	}
	o.owned = true
	return o, nil
}

// objectAt initialises the object at seg[off:] when its header is zero, or
// attaches to it (validating the header) when it is there already. n < 0
// (arrays only) attaches to an array of any length.
func objectAt(seg *Segment, off int, info elemInfo, kind byte, n int, opts []Option) (object, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	code, err := info.pick(o.code)
	if err != nil {
		return object{}, err
	}
	base, err := headerAt(seg, off)
	if err != nil {
		return object{}, err
	}
	if n >= 0 {
		size := footprint(n, info.size)
		if size < 0 {
			return object{}, fmt.Errorf("shm: invalid array length %d", n)
		}
		if seg.Size()-off < size {
			return object{}, fmt.Errorf("%w: %d elements of %d bytes at offset %d need %d bytes, segment has %d",
				ErrTooSmall, n, info.size, off, size, seg.Size())
		}
		w0 := (*uint64)(base)
		if atomic.CompareAndSwapUint64(w0, 0, headerWord(0, code, byte(info.size), kind)) {
			// Ours to initialise: readers wait while the version is 0.
			atomic.StoreUint64((*uint64)(unsafe.Add(base, 8)), uint64(n))
			clear(unsafe.Slice((*byte)(unsafe.Add(base, 16)), headerSize-16))
			atomic.StoreUint64(w0, headerWord(layoutVersion, code, byte(info.size), kind))
		}
	}
	if o.code == 0 {
		code = 0 // any code the type accepts
	}
	if o.lock != nil && o.lock.seg == nil {
		return object{}, errors.New("shm: WithLock: lock not attached (a zero value)")
	}
	obj, err := attachObject(seg, off, info, kind, n, code)
	if err == nil && o.lock != nil {
		obj.mu, obj.lock = o.lock.Mutex, o.lock
	}
	return obj, err
}

// headerAt checks that a header fits at seg[off:] and returns its address.
func headerAt(seg *Segment, off int) (unsafe.Pointer, error) {
	if seg == nil || seg.f == nil {
		return nil, fmt.Errorf("shm: nil or unattached segment")
	}
	if off < 0 || off%8 != 0 {
		return nil, fmt.Errorf("shm: offset %d is not a non-negative multiple of 8", off)
	}
	if seg.Size()-off < headerSize {
		return nil, fmt.Errorf("%w: header at offset %d needs %d bytes, segment has %d", ErrTooSmall, off, headerSize, seg.Size())
	}
	return unsafe.Pointer(&seg.Bytes()[off]), nil
}

// attachObject validates the header at seg[off:]: magic, version, kind,
// element size, typecode (code, or any that info accepts when 0) and
// length (n, or any when n < 0), and that the data fit in the segment.
func attachObject(seg *Segment, off int, info elemInfo, kind byte, n int, code byte) (object, error) {
	base, err := headerAt(seg, off)
	if err != nil {
		return object{}, err
	}
	w0 := (*uint64)(base)
	var h [8]byte
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(time.Millisecond) {
		*(*uint64)(unsafe.Pointer(&h)) = atomic.LoadUint64(w0)
		if h[4] != 0 || [4]byte(h[:4]) != magic || time.Now().After(deadline) {
			break // initialised, not ours, or stuck: validate below
		}
	}
	bad := func(format string, args ...any) (object, error) {
		return object{}, fmt.Errorf("%w at offset %d: %s", ErrBadHeader, off, fmt.Sprintf(format, args...))
	}
	switch {
	case [4]byte(h[:4]) != magic:
		return bad("magic %q, want %q", h[:4], magic[:])
	case h[4] != layoutVersion:
		return bad("layout version %d, want %d", h[4], layoutVersion)
	case h[7] != kind:
		return bad("object kind %q, want %q", h[7], kind)
	case int(h[6]) != info.size:
		return bad("element size %d, want %d", h[6], info.size)
	}
	if _, err := info.pick(h[5]); err != nil {
		return bad("typecode %q, want one of %q", h[5], info.codes)
	}
	if code != 0 && h[5] != code {
		return bad("typecode %q, want %q", h[5], code)
	}
	length := atomic.LoadUint64((*uint64)(unsafe.Add(base, 8)))
	if length > uint64(math.MaxInt) || (n >= 0 && length != uint64(n)) {
		return bad("length %d, want %d", length, n)
	}
	if size := footprint(int(length), info.size); size < 0 || seg.Size()-off < size {
		return object{}, fmt.Errorf("%w: header at offset %d describes %d elements of %d bytes, segment has %d bytes",
			ErrTooSmall, off, length, info.size, seg.Size())
	}
	mu, err := ipcsync.NewMutex(seg.Bytes()[off+mutexOffset : off+mutexOffset+mutexRegion])
	if err != nil {
		return object{}, fmt.Errorf("shm: %w", err)
	}
	xadd := byte(info.size) // integers: the width of the add
	if info.float {
		xadd = addFloat32
		if info.size == 8 {
			xadd = addFloat64
		}
	}
	return object{seg: seg, off: off, kind: kind, code: h[5], n: int(length),
		data: unsafe.Add(base, headerSize), mu: mu, xadd: xadd}, nil
}

// Typecode returns the Python typecode recorded in the header: one of
// "bBhHiIlLqQfd?".
func (o *object) Typecode() byte { return o.code }

// Segment returns the segment the object lives in.
func (o *object) Segment() *Segment { return o.seg }

// Offset returns the object's offset in its segment.
func (o *object) Offset() int { return o.off }

// Lock acquires the object's process-shared lock, blocking until it is
// free, its holder is found dead, or ctx is done (then it returns
// ctx.Err() without the lock). An error matching ErrOwnerDead means the
// caller holds the lock, taken over from a dead process. The lock is
// process-shared and goroutine-exclusive, and not reentrant. It guards
// nothing by itself: it is for compound updates (LoadRaw, compute,
// StoreRaw) that every participant makes under it.
func (o *object) Lock(ctx context.Context) error { return o.mu.Lock(ctx) }

// TryLock acquires the lock if it is free, without blocking. The error
// matches ErrOwnerDead when it took the lock over from a dead holder (it
// then reports true).
func (o *object) TryLock() (bool, error) { return o.mu.TryLock() }

// Unlock releases the lock. It panics if the lock is not held by this
// process.
func (o *object) Unlock() { o.mu.Unlock() }

// Do runs f under the lock and releases it when f returns or panics. If
// ctx is done before the lock is acquired, f does not run and Do returns
// ctx.Err(). After a takeover from a dead holder f runs, and the error
// matches ErrOwnerDead (joined with f's error).
func (o *object) Do(ctx context.Context, f func() error) error { return o.mu.Do(ctx, f) }

// Mutex returns the object's lock, for use with other ipcsync primitives.
func (o *object) Mutex() *ipcsync.Mutex { return o.mu }

// Close releases the object. If the object made its own segment (NewValue,
// NewArray ...) or attached one in a child (AttachFiles), Close closes
// that segment, and the lock of WithLock that came with it to the child;
// an object placed in a caller's segment (ValueAt, ArrayAt ...) leaves the
// segment to its owner, and a lock given to WithLock is left to its
// owner. The object must not be used after Close: its memory is unmapped.
func (o *object) Close() error {
	var err error
	if o.owned && o.seg != nil {
		err = o.seg.Close()
	}
	if o.ownLock {
		err = errors.Join(err, o.lock.Close())
	}
	return err
}

// ShareFiles implements the procshare sharing contract: a duplicate of the
// segment's descriptor (owned by the caller) and metadata locating the
// object, and the lock's of WithLock. A child receives the whole segment.
func (o *object) ShareFiles() ([]*os.File, []byte, error) {
	if o.seg == nil {
		return nil, nil, errors.New("shm: share: object not attached (a zero value)")
	}
	files, sm, err := o.seg.ShareFiles()
	if err != nil {
		return nil, nil, err
	}
	var m objectMeta
	json.Unmarshal(sm, &m.Seg) // written by Segment.ShareFiles just above
	m.Off, m.Kind, m.N = o.off, string(o.kind), o.n
	if o.lock != nil {
		lf, lm, err := o.lock.share()
		if err != nil {
			closeFiles(files)
			return nil, nil, err
		}
		files, m.Lock = append(files, lf...), &lm
	}
	meta, err := json.Marshal(m)
	if err != nil {
		closeFiles(files)
		return nil, nil, err
	}
	return files, meta, nil
}

// attach maps the segment a parent shared and validates the object's
// header: the child's element type must match the parent's. The receiver
// must be unattached (a zero value).
func (o *object) attach(files []*os.File, meta []byte, info elemInfo, kind byte) (object, error) {
	if o.seg != nil {
		closeFiles(files)
		return object{}, errors.New("shm: attach: object already attached")
	}
	var m objectMeta
	if err := json.Unmarshal(meta, &m); err != nil {
		closeFiles(files)
		return object{}, fmt.Errorf("shm: attach: bad metadata: %w", err)
	}
	var lockFiles []*os.File
	if m.Lock != nil && len(files) > 1 {
		files, lockFiles = files[:1], files[1:]
	}
	seg := new(Segment)
	if err := seg.attach(files, m.Seg); err != nil {
		closeFiles(lockFiles)
		return object{}, err
	}
	no, err := attachObject(seg, m.Off, info, kind, m.N, 0)
	if err != nil {
		seg.Close()
		closeFiles(lockFiles)
		return object{}, err
	}
	no.owned = true
	if m.Lock != nil {
		if no.lock, err = attachLock(lockFiles, m.Lock); err != nil {
			seg.Close()
			return object{}, err
		}
		no.mu, no.ownLock = no.lock.Mutex, true
	}
	return no, nil
}

// The literal constants above must agree with what they summarise.
var (
	_ [MaxNameLen - (255 - len(metaPrefix) - len(metaSuffix))]byte
	_ [(255 - len(metaPrefix) - len(metaSuffix)) - MaxNameLen]byte
	_ [ValueSize - (headerSize + 8)]byte
	_ [(headerSize + 8) - ValueSize]byte
)
