package ipcsync

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"unsafe"
)

// SemaphoreSize is the number of bytes a [Semaphore] occupies.
const SemaphoreSize = int(unsafe.Sizeof(Semaphore{}))

// Semaphore is a counting semaphore living in memory that several processes
// map, like Python's multiprocessing.Semaphore and BoundedSemaphore.
//
// It is safe for concurrent use by goroutines and processes. All-zero
// memory (and the zero value) is a semaphore with count 0 and no maximum;
// set the initial count with [Semaphore.Init] before sharing it. It must
// not be copied after first use.
//
// A Semaphore has no owner, so it is not robust: a process that dies after
// Acquire and before Release leaks one unit, as in Python.
type Semaphore struct {
	count    atomic.Uint32 // available units; the futex word
	sleepers atomic.Uint32 // waiters that may sleep on count
	max      atomic.Uint32 // upper bound of count; 0 = unbounded
	_        uint32        // reserved, zero
}

// NewSemaphore returns the Semaphore stored in the first [SemaphoreSize]
// bytes of mem (8-byte aligned). It does not write to mem; call
// [Semaphore.Init] once, in one process, to set the count. The mapping must
// stay mapped while the Semaphore is used.
func NewSemaphore(mem []byte) (*Semaphore, error) {
	p, err := region("semaphore", mem, unsafe.Sizeof(Semaphore{}))
	if err != nil {
		return nil, err
	}
	return (*Semaphore)(p), nil
}

// Init sets the count to value and the maximum to max (0 for an unbounded
// semaphore; otherwise Release panics rather than raise the count above
// max, like Python's BoundedSemaphore). Call it before other goroutines or
// processes use s: it overwrites the state without synchronisation.
func (s *Semaphore) Init(value, max int) error {
	if value < 0 || value > math.MaxInt32 || max < 0 || max > math.MaxInt32 || (max != 0 && value > max) {
		return fmt.Errorf("ipcsync: invalid semaphore value %d, max %d", value, max)
	}
	s.max.Store(uint32(max))
	s.count.Store(uint32(value))
	return nil
}

// TryAcquire decrements the count if it is positive, without blocking, and
// reports whether it did.
func (s *Semaphore) TryAcquire() bool {
	for {
		c := s.count.Load()
		if c == 0 {
			return false
		}
		if s.count.CompareAndSwap(c, c-1) {
			return true
		}
	}
}

// Acquire decrements the count, blocking while it is 0. It returns nil when
// it took a unit, or ctx.Err() when ctx was done first (then the count is
// left as it was). A ctx that is already done fails even if a unit is
// available; a unit taken while ctx is being cancelled is kept (nil).
func (s *Semaphore) Acquire(ctx context.Context) error {
	if done := ctx.Done(); done != nil {
		select {
		case <-done:
			return ctx.Err()
		default:
		}
	}
	if s.TryAcquire() {
		return nil
	}
	return s.acquireSlow(ctx)
}

func (s *Semaphore) acquireSlow(ctx context.Context) error {
	key := (*uint32)(unsafe.Pointer(&s.count))
	err := await(ctx, key, 0, &s.sleepers, s.TryAcquire)
	if err != nil && s.count.Load() > 0 && s.sleepers.Load() > 0 {
		// A Release may have woken us rather than another waiter: pass
		// the wake-up on.
		wake32(key, 1)
	}
	return err
}

// Release increments the count and wakes one waiter, if any. It panics if
// the count would exceed the maximum set by Init (a release without a
// matching acquire), or overflow.
func (s *Semaphore) Release() {
	for {
		c := s.count.Load()
		if m := s.max.Load(); (m != 0 && c >= m) || c == math.MaxInt32 {
			panic("ipcsync: semaphore released too many times")
		}
		if s.count.CompareAndSwap(c, c+1) {
			break
		}
	}
	if s.sleepers.Load() > 0 {
		wake32((*uint32)(unsafe.Pointer(&s.count)), 1)
	}
}

// Value returns the current count (a snapshot).
func (s *Semaphore) Value() int { return int(s.count.Load()) }

// Max returns the maximum set by Init, 0 for an unbounded semaphore.
func (s *Semaphore) Max() int { return int(s.max.Load()) }
