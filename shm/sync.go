package shm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sync/atomic"
	"unsafe"

	"github.com/procshare/procshare/ipcsync"
)

// Synchronisation objects: the ipcsync primitives, each in an anonymous
// segment of its own and shareable with child processes — Python's
// multiprocessing.Lock(), Semaphore(n), BoundedSemaphore(n), Event(),
// Condition() and Barrier(n). See "Synchronisation objects" in the package
// documentation for their layout.

// Kinds of synchronisation objects, in the header's kind byte.
const (
	kindLock      = 'L'
	kindSemaphore = 'S'
	kindEvent     = 'E'
	kindCondition = 'C'
	kindBarrier   = 'B'
)

// syncSize is the size of a synchronisation object's segment: the header
// and the object's 64-byte region at offset 64 (where a Value's lock is).
const (
	syncSize   = headerSize
	syncOffset = mutexOffset
)

// The objects must fit the region.
var (
	_ [mutexRegion - ipcsync.MutexSize]byte
	_ [mutexRegion - ipcsync.SemaphoreSize]byte
	_ [mutexRegion - ipcsync.EventSize]byte
	_ [mutexRegion - ipcsync.CondSize]byte
	_ [mutexRegion - ipcsync.BarrierSize]byte
)

// syncMeta is what a synchronisation object's ShareFiles passes to
// AttachFiles: its segment and kind, and for a Condition (or a Value or
// Array made WithLock) its lock's, whose descriptor follows.
type syncMeta struct {
	Seg  segmentMeta `json:"seg"`
	Kind string      `json:"kind"`
	Lock *syncMeta   `json:"lock,omitempty"`
}

// syncObject is what every synchronisation object has: its segment.
type syncObject struct {
	seg  *Segment
	kind byte
}

// newSync makes the segment of a new synchronisation object of kind and
// returns the object's region.
func newSync(kind byte) (syncObject, []byte, error) {
	seg, err := New(syncSize)
	if err != nil {
		return syncObject{}, nil, err
	}
	b := seg.Bytes()
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&b[0])), headerWord(layoutVersion, 0, 0, kind))
	return syncObject{seg: seg, kind: kind}, b[syncOffset : syncOffset+mutexRegion], nil
}

// Close unmaps the object's segment. The object must not be used
// afterwards; other processes' handles stay valid. Close is idempotent.
func (o *syncObject) Close() error {
	if o.seg == nil {
		return nil
	}
	return o.seg.Close()
}

// ShareFiles implements the procshare sharing contract: a duplicate of the
// object's segment descriptor (owned by the caller) and metadata.
func (o *syncObject) ShareFiles() ([]*os.File, []byte, error) {
	files, m, err := o.share()
	if err != nil {
		return nil, nil, err
	}
	meta, err := json.Marshal(m)
	if err != nil {
		closeFiles(files)
		return nil, nil, err
	}
	return files, meta, nil
}

func (o *syncObject) share() ([]*os.File, syncMeta, error) {
	if o.seg == nil {
		return nil, syncMeta{}, errors.New("shm: share: object not attached (a zero value)")
	}
	files, sm, err := o.seg.ShareFiles()
	if err != nil {
		return nil, syncMeta{}, err
	}
	m := syncMeta{Kind: string(rune(o.kind))}
	json.Unmarshal(sm, &m.Seg) // written by Segment.ShareFiles just above
	return files, m, nil
}

// attachSync is the body of AttachFiles: unless the receiver is attached
// already, it decodes meta, maps the segment of a synchronisation object of
// kind that a parent shared (files[0]), checks its header, and makes the
// primitive in its region with mk. It returns the files after the first,
// which the caller owns (a Condition's lock), and the decoded metadata.
func attachSync[P any](attached bool, files []*os.File, meta []byte, kind byte, mk func([]byte) (P, error)) (prim P, o syncObject, rest []*os.File, m syncMeta, err error) {
	fail := func(err error) (P, syncObject, []*os.File, syncMeta, error) {
		var zero P
		return zero, syncObject{}, nil, m, err
	}
	if attached {
		closeFiles(files)
		return fail(fmt.Errorf("shm: attach: %s already attached", kindName(string(rune(kind)))))
	}
	if err := json.Unmarshal(meta, &m); err != nil {
		closeFiles(files)
		return fail(fmt.Errorf("shm: attach: bad metadata: %w", err))
	}
	if len(files) == 0 {
		return fail(errors.New("shm: attach: no file descriptor"))
	}
	rest = files[1:]
	if m.Kind != string(rune(kind)) {
		closeFiles(files)
		return fail(fmt.Errorf("%w: a %s was shared, a %s is wanted", ErrBadHeader, kindName(m.Kind), kindName(string(rune(kind)))))
	}
	seg := new(Segment)
	if err := seg.attach(files[:1], m.Seg); err != nil {
		closeFiles(rest)
		return fail(err)
	}
	b := seg.Bytes()
	if seg.Size() < syncSize {
		err = fmt.Errorf("%w: a %s needs %d bytes, segment has %d", ErrTooSmall, kindName(m.Kind), syncSize, seg.Size())
	} else if w := atomic.LoadUint64((*uint64)(unsafe.Pointer(&b[0]))); w != headerWord(layoutVersion, 0, 0, kind) {
		err = fmt.Errorf("%w at offset 0: not a %s", ErrBadHeader, kindName(string(rune(kind))))
	} else if prim, err = mk(b[syncOffset : syncOffset+mutexRegion]); err != nil {
		err = fmt.Errorf("shm: %w", err)
	}
	if err != nil {
		seg.Close()
		closeFiles(rest)
		return fail(err)
	}
	return prim, syncObject{seg: seg, kind: kind}, rest, m, nil
}

func kindName(k string) string {
	switch k {
	case "L":
		return "Lock"
	case "S":
		return "Semaphore"
	case "E":
		return "Event"
	case "C":
		return "Condition"
	case "B":
		return "Barrier"
	}
	return fmt.Sprintf("object of kind %q", k)
}

// Lock is a robust process-shared lock, Python's multiprocessing.Lock(): an
// [ipcsync.Mutex] (whose methods it has: Lock(ctx), TryLock, Unlock, Do …)
// in an anonymous segment of its own, passable to child processes. A
// process that dies holding it hands it to the next locker with
// [ErrOwnerDead]. Give it to [WithLock] to make several Values and Arrays
// share it (Python's lock= argument).
//
// A Lock is safe for use by multiple goroutines and processes. The zero
// Lock is usable only as the receiver of AttachFiles.
type Lock struct {
	*ipcsync.Mutex
	syncObject
}

// NewLock returns a new, unlocked Lock.
func NewLock() (*Lock, error) {
	o, mem, err := newSync(kindLock)
	if err != nil {
		return nil, err
	}
	mu, err := ipcsync.NewMutex(mem)
	if err != nil {
		o.Close()
		return nil, fmt.Errorf("shm: %w", err)
	}
	return &Lock{mu, o}, nil
}

// AttachFiles implements the procshare sharing contract in a child.
func (l *Lock) AttachFiles(files []*os.File, meta []byte) error {
	mu, o, rest, _, err := attachSync(l.seg != nil, files, meta, kindLock, ipcsync.NewMutex)
	closeFiles(rest)
	if err == nil {
		l.Mutex, l.syncObject = mu, o
	}
	return err
}

// Semaphore is a counting semaphore, Python's multiprocessing.Semaphore(n)
// and BoundedSemaphore(n): an [ipcsync.Semaphore] (whose methods it has:
// Acquire(ctx), TryAcquire, Release, Value …) in an anonymous segment of its
// own, passable to child processes. Like Python's, it has no owner: a
// process that dies between Acquire and Release loses that unit.
//
// A Semaphore is safe for use by multiple goroutines and processes. The
// zero Semaphore is usable only as the receiver of AttachFiles.
type Semaphore struct {
	*ipcsync.Semaphore
	syncObject
}

// NewSemaphore returns a semaphore with count n and no upper bound.
func NewSemaphore(n int) (*Semaphore, error) { return newSemaphore(n, 0) }

// NewBoundedSemaphore returns a semaphore with count n that Release may not
// raise above n (it panics, where Python's BoundedSemaphore raises).
func NewBoundedSemaphore(n int) (*Semaphore, error) { return newSemaphore(n, n) }

func newSemaphore(n, max int) (*Semaphore, error) {
	if n < 0 || n > math.MaxInt32 {
		return nil, fmt.Errorf("shm: invalid semaphore count %d", n)
	}
	o, mem, err := newSync(kindSemaphore)
	if err != nil {
		return nil, err
	}
	s, err := ipcsync.NewSemaphore(mem)
	if err == nil {
		err = s.Init(n, max)
	}
	if err != nil {
		o.Close()
		return nil, fmt.Errorf("shm: %w", err)
	}
	return &Semaphore{s, o}, nil
}

// AttachFiles implements the procshare sharing contract in a child.
func (s *Semaphore) AttachFiles(files []*os.File, meta []byte) error {
	sem, o, rest, _, err := attachSync(s.seg != nil, files, meta, kindSemaphore, ipcsync.NewSemaphore)
	closeFiles(rest)
	if err == nil {
		s.Semaphore, s.syncObject = sem, o
	}
	return err
}

// Event is a flag that processes wait for, Python's multiprocessing.Event():
// an [ipcsync.Event] (whose methods it has: Set, Clear, IsSet, Wait(ctx))
// in an anonymous segment of its own, passable to child processes.
//
// An Event is safe for use by multiple goroutines and processes. The zero
// Event is usable only as the receiver of AttachFiles.
type Event struct {
	*ipcsync.Event
	syncObject
}

// NewEvent returns a new, clear Event.
func NewEvent() (*Event, error) {
	o, mem, err := newSync(kindEvent)
	if err != nil {
		return nil, err
	}
	e, err := ipcsync.NewEvent(mem)
	if err != nil {
		o.Close()
		return nil, fmt.Errorf("shm: %w", err)
	}
	return &Event{e, o}, nil
}

// AttachFiles implements the procshare sharing contract in a child.
func (e *Event) AttachFiles(files []*os.File, meta []byte) error {
	ev, o, rest, _, err := attachSync(e.seg != nil, files, meta, kindEvent, ipcsync.NewEvent)
	closeFiles(rest)
	if err == nil {
		e.Event, e.syncObject = ev, o
	}
	return err
}

// Barrier makes a fixed number of parties wait for each other, Python's
// multiprocessing.Barrier(n) (without its broken state): an
// [ipcsync.Barrier] (whose methods it has: Wait(ctx), Parties, Waiting) in
// an anonymous segment of its own, passable to child processes.
//
// A Barrier is safe for use by multiple goroutines and processes. The zero
// Barrier is usable only as the receiver of AttachFiles.
type Barrier struct {
	*ipcsync.Barrier
	syncObject
}

// NewBarrier returns a barrier for n parties (n >= 1).
func NewBarrier(n int) (*Barrier, error) {
	if n < 1 || n > math.MaxInt32 {
		return nil, fmt.Errorf("shm: invalid barrier parties %d", n)
	}
	o, mem, err := newSync(kindBarrier)
	if err != nil {
		return nil, err
	}
	b, err := ipcsync.NewBarrier(mem)
	if err == nil {
		err = b.Init(n)
	}
	if err != nil {
		o.Close()
		return nil, fmt.Errorf("shm: %w", err)
	}
	return &Barrier{b, o}, nil
}

// AttachFiles implements the procshare sharing contract in a child.
func (b *Barrier) AttachFiles(files []*os.File, meta []byte) error {
	bar, o, rest, _, err := attachSync(b.seg != nil, files, meta, kindBarrier, ipcsync.NewBarrier)
	closeFiles(rest)
	if err == nil {
		b.Barrier, b.syncObject = bar, o
	}
	return err
}

// Condition is a condition variable with its lock, Python's
// multiprocessing.Condition(lock): an [ipcsync.Cond] in an anonymous segment
// of its own, used with a [Lock] (a new one, or one given to NewCondition),
// and passable to child processes, which get the lock with it. The lock is
// not reentrant (Python's default is an RLock).
//
// A Condition is safe for use by multiple goroutines and processes. The zero
// Condition is usable only as the receiver of AttachFiles.
type Condition struct {
	syncObject
	cond *ipcsync.Cond
	lock *Lock
	own  bool // the Condition made or attached lock: Close closes it
}

// NewCondition returns a condition variable that uses lock, or a new Lock
// of its own if lock is nil. A given lock must stay open while the
// Condition is used; Close does not close it.
func NewCondition(lock *Lock) (*Condition, error) {
	if lock != nil && lock.seg == nil {
		return nil, errors.New("shm: NewCondition: lock not attached (a zero value)")
	}
	o, mem, err := newSync(kindCondition)
	if err != nil {
		return nil, err
	}
	c := &Condition{syncObject: o, lock: lock}
	if c.cond, err = ipcsync.NewCond(mem); err != nil {
		o.Close()
		return nil, fmt.Errorf("shm: %w", err)
	}
	if lock == nil {
		if c.lock, err = NewLock(); err != nil {
			o.Close()
			return nil, err
		}
		c.own = true
	}
	return c, nil
}

// Locker returns the Condition's lock, which may itself be passed to
// children and given to WithLock.
func (c *Condition) Locker() *Lock { return c.lock }

// Lock acquires the Condition's lock (see [ipcsync.Mutex.Lock]).
func (c *Condition) Lock(ctx context.Context) error { return c.lock.Lock(ctx) }

// TryLock acquires the lock if it is free, without blocking.
func (c *Condition) TryLock() (bool, error) { return c.lock.TryLock() }

// Unlock releases the lock. It panics if this process does not hold it.
func (c *Condition) Unlock() { c.lock.Unlock() }

// Wait releases the lock, which the caller must hold, waits until it is
// signalled or ctx is done, and takes the lock again before it returns,
// whatever the result (see [ipcsync.Cond.Wait]). Wait may return without a
// Signal: re-check the condition in a loop, or use WaitFor.
func (c *Condition) Wait(ctx context.Context) error { return c.cond.Wait(ctx, c.lock.Mutex) }

// WaitFor waits until pred reports true or ctx is done (then it returns
// ctx's error), like Python's wait_for. The caller holds the lock, pred is
// called with it held, and WaitFor returns with it held.
func (c *Condition) WaitFor(ctx context.Context, pred func() bool) error {
	for !pred() {
		if err := c.Wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Signal wakes one waiter, if any (Python's notify()). The caller need not
// hold the lock.
func (c *Condition) Signal() { c.cond.Signal() }

// Broadcast wakes every waiter (Python's notify_all()).
func (c *Condition) Broadcast() { c.cond.Broadcast() }

// Close unmaps the Condition's segment, and its lock's if the Condition
// made it (NewCondition(nil)) or attached it (in a child). A lock given to
// NewCondition is left to its owner. Close is idempotent.
func (c *Condition) Close() error {
	err := c.syncObject.Close()
	if c.own && c.lock != nil {
		err = errors.Join(err, c.lock.Close())
	}
	return err
}

// ShareFiles implements the procshare sharing contract: the Condition's
// segment and its lock's.
func (c *Condition) ShareFiles() ([]*os.File, []byte, error) {
	files, m, err := c.share()
	if err != nil {
		return nil, nil, err
	}
	lf, lm, err := c.lock.share()
	if err != nil {
		closeFiles(files)
		return nil, nil, err
	}
	files, m.Lock = append(files, lf...), &lm
	meta, err := json.Marshal(m)
	if err != nil {
		closeFiles(files)
		return nil, nil, err
	}
	return files, meta, nil
}

// AttachFiles implements the procshare sharing contract in a child.
func (c *Condition) AttachFiles(files []*os.File, meta []byte) error {
	cond, o, rest, m, err := attachSync(c.seg != nil, files, meta, kindCondition, ipcsync.NewCond)
	if err != nil {
		return err
	}
	lock, err := attachLock(rest, m.Lock)
	if err != nil {
		o.Close()
		return err
	}
	*c = Condition{syncObject: o, cond: cond, lock: lock, own: true}
	return nil
}

// attachLock attaches the Lock that a Condition, Value or Array shared
// along with itself (metadata m, descriptor files[0]).
func attachLock(files []*os.File, m *syncMeta) (*Lock, error) {
	if m == nil {
		closeFiles(files)
		return nil, errors.New("shm: attach: no lock in the metadata")
	}
	meta, err := json.Marshal(m)
	if err != nil {
		closeFiles(files)
		return nil, err
	}
	l := new(Lock)
	if err := l.AttachFiles(files, meta); err != nil {
		return nil, err
	}
	return l, nil
}
