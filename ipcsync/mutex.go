package ipcsync

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
	"unsafe"
)

// MutexSize is the number of bytes a [Mutex] occupies in shared memory.
const MutexSize = int(unsafe.Sizeof(Mutex{}))

// Mutex is a robust mutual-exclusion lock living in memory that several
// processes map (see the package documentation for its exact layout).
//
// It is process-shared and goroutine-exclusive: the owner is the process,
// so two goroutines of one process exclude each other like two processes
// do, and (as with sync.Mutex) any goroutine of the owning process may
// Unlock it. It is not reentrant.
//
// Memory that is all zero is an unlocked Mutex, and the zero Mutex value is
// an unlocked, process-local Mutex. A Mutex must not be copied after first
// use. Obtain one inside shared memory with [NewMutex], or embed it in a
// struct that is overlaid on shared memory at an 8-byte aligned offset.
//
// If a process dies holding the lock, the next process to notice takes it
// over and is told by [ErrOwnerDead] (see "Robustness" in the package
// documentation).
type Mutex struct {
	state  atomic.Uint64 // owner identity | flags; 0 = unlocked
	record atomic.Uint64 // owner's pid namespace, if state has flagNS (see owner.go)
}

// NewMutex returns the Mutex stored in the first [MutexSize] bytes of mem,
// which must be 8-byte aligned. It does not write to mem: all-zero memory
// is an unlocked Mutex, and memory that other processes already use keeps
// its state. The Mutex points into mem; the mapping must stay mapped for as
// long as the Mutex is used.
func NewMutex(mem []byte) (*Mutex, error) {
	p, err := region("mutex", mem, unsafe.Sizeof(Mutex{}))
	if err != nil {
		return nil, err
	}
	return (*Mutex)(p), nil
}

// Lock acquires m, blocking until it is free, the previous owner is found
// dead, or ctx is done.
//
// It returns nil when it acquired the lock; a *[OwnerDeadError] (matching
// [ErrOwnerDead]) when it acquired the lock from a process that died
// holding it — the caller holds the lock and should repair the protected
// state; or ctx.Err() when ctx was done first, in which case it does not
// hold the lock and the lock is left as it was. A ctx that is already done
// fails even if the lock is free. When the lock is granted at the moment
// ctx is cancelled, the grant wins: Lock keeps the lock and returns nil.
//
// Lock blocks on a futex (Linux) or by polling (other platforms, and Linux
// built with the procshare_nofutex tag). Uncontended, it is one
// compare-and-swap and a load of the owner record (a store too when the
// owner changes), and no system call.
func (m *Mutex) Lock(ctx context.Context) error {
	if ctx.Done() == nil && m.state.CompareAndSwap(0, self()) {
		m.writeRecord()
		return nil // a ctx that is never done, and a free lock
	}
	return m.lock(ctx)
}

func (m *Mutex) lock(ctx context.Context) error {
	if done := ctx.Done(); done != nil {
		select {
		case <-done:
			return ctx.Err()
		default:
		}
	}
	me := self()
	if m.state.CompareAndSwap(0, me) {
		m.writeRecord()
		return nil
	}
	return m.lockSlow(ctx, me)
}

// TryLock acquires m if it is free, without blocking. It reports whether it
// acquired it; the error is a *[OwnerDeadError] when the holder was found
// dead and the lock was taken over (then TryLock reports true and the
// caller holds the lock). When the lock is held by another process,
// TryLock checks that the holder is alive: a kill(2) and, on Linux, a read
// of /proc/PID/stat, some microseconds; so a loop of TryLocks is no
// cheaper than Lock. A holder that cannot be judged (of another pid
// namespace, or whose owner record is not complete) counts as alive; see
// "Robustness" in the package documentation. TryLock takes a lock that a polling Unlock reserved
// for waiters (see "Memory layout" in the package documentation).
func (m *Mutex) TryLock() (bool, error) {
	me := self()
	for {
		w := m.state.Load()
		if w&pidMask == 0 { // free (perhaps reserved for waiters)
			if m.state.CompareAndSwap(w, me|w&keptWaiters) {
				m.writeRecord()
				return true, nil
			}
			continue
		}
		if m.judge(w) != ownerDead {
			return false, nil
		}
		if m.state.CompareAndSwap(w, me|w&flagWaiters) {
			m.writeRecord()
			return true, &OwnerDeadError{PID: int(w & pidMask)}
		}
	}
}

// Bounds of the interval between two liveness checks of the holder: how
// long a dead owner goes unnoticed by a waiter, at first and at most.
const (
	checkMin = 10 * time.Millisecond
	checkMax = 200 * time.Millisecond
)

// spinCount bounds the busy-wait before a contended Lock goes to sleep:
// critical sections on shared memory are usually a few nanoseconds.
const spinCount = 64

// starveAfter is how long a polling waiter waits before it asks for the
// lock to be handed over to waiters (see unlockSlow); only lockers that have
// waited that long may take a lock so handed over.
const starveAfter = time.Millisecond

func (m *Mutex) lockSlow(ctx context.Context, me uint64) error {
	key := lowHalf((*uint64)(unsafe.Pointer(&m.state)))
	if ctx.Done() != nil {
		// Wake every sleeper on the word when ctx is done, so that this
		// one notices at once (the others go back to sleep). The timeout
		// of each sleep covers a cancellation that lands between the
		// ctx.Err check and the futex wait.
		stop := context.AfterFunc(ctx, func() { wake32(key, 1<<30) })
		defer stop()
	}
	for i := 0; i < spinCount; i++ {
		if m.state.Load() == 0 && m.state.CompareAndSwap(0, me) {
			m.writeRecord()
			return nil
		}
	}
	acquire := me // what a free lock is taken with
	step := waitMin
	start := time.Now()
	check := checkMin
	nextCheck := start.Add(check)
	var pending uint64 // owner identity last judged ownerPending
	var pendingSince time.Time
	for {
		w := m.state.Load()
		now := time.Now()
		starving := now.Sub(start) >= starveAfter
		if w == 0 || (w == flagWaiters && starving) {
			// Free; or free and handed over to the processes that have
			// waited long (see unlockSlow), of which we are one.
			if m.state.CompareAndSwap(w, acquire) {
				m.writeRecord()
				return nil
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			if !futexBacked && w&flagWaiters != 0 {
				// Withdraw our hand-over request, so that it does not
				// outlive us; other starving pollers renew theirs on
				// their next poll. (A futex waiters bit must stay: it
				// may be another sleeper's.)
				m.state.CompareAndSwap(w, w&^flagWaiters)
			}
			return err
		}
		if w&flagWaiters == 0 && (futexBacked || starving) {
			// With futexes the bit tells Unlock to wake a sleeper; when
			// polling it tells Unlock to hand the lock over to the
			// processes that have waited, so that a process re-locking
			// in a loop cannot starve the pollers.
			if !m.state.CompareAndSwap(w, w|flagWaiters) {
				continue
			}
			w |= flagWaiters
		}
		if w&pidMask != 0 && !now.Before(nextCheck) {
			v := m.judge(w)
			if v == ownerPending {
				// An owner that has not written its namespace record
				// yet, which takes it a few instructions: one that
				// still has not after recordGrace died before it could.
				if id := w &^ flagWaiters; id != pending {
					pending, pendingSince = id, now
				} else if now.Sub(pendingSince) >= recordGrace && pidDead(id) {
					v = ownerDead
				}
			}
			if v == ownerDead {
				// Take over from the exact word we judged: if it changed
				// meanwhile (released, or taken by someone else), the
				// CAS fails and we look again.
				if m.state.CompareAndSwap(w, me|w&flagWaiters) {
					m.writeRecord()
					return &OwnerDeadError{PID: int(w & pidMask)}
				}
				continue
			}
			check = min(2*check, checkMax)
			nextCheck = now.Add(check)
		}
		d := step
		if w&pidMask != 0 {
			d = min(d, nextCheck.Sub(now)) // wake up for the next check
		}
		wait32(key, uint32(w), d)
		step = min(2*step, waitMax)
		if futexBacked {
			// Having slept, we cannot know whether others sleep too:
			// take the lock with the waiters bit so that our Unlock
			// wakes the next one (Drepper, "Futexes Are Tricky").
			acquire = me | flagWaiters
		} else if w&flagWaiters != 0 {
			// Starving: poll at the fast rate until the hand-over.
			step = waitMin
		}
	}
}

// Unlock releases m. It panics if m is not locked, or is locked by another
// process: both are programming errors. Any goroutine of the owning process
// may call it. If processes sleep waiting for m, Unlock wakes one (one
// FUTEX_WAKE); otherwise it is one compare-and-swap.
func (m *Mutex) Unlock() {
	me := self()
	if m.state.CompareAndSwap(me, 0) {
		return
	}
	m.unlockSlow(me)
}

func (m *Mutex) unlockSlow(me uint64) {
	for {
		w := m.state.Load()
		if w&pidMask == 0 {
			panic("ipcsync: unlock of unlocked mutex")
		}
		if w&^flagWaiters != me {
			panic("ipcsync: unlock of mutex held by another process")
		}
		if w&flagWaiters == 0 || futexBacked {
			if m.state.CompareAndSwap(w, 0) {
				if w&flagWaiters != 0 {
					wake32(lowHalf((*uint64)(unsafe.Pointer(&m.state))), 1)
				}
				return
			}
		} else if m.state.CompareAndSwap(w, flagWaiters) {
			// Polling, with a starving waiter: leave the lock free but
			// reserved for the processes that have already waited.
			return
		}
	}
}

// Do runs f while holding m and releases m when f returns (or panics).
// If Lock fails with ctx's error, f is not run. If the previous owner had
// died, f still runs (it should expect the protected state to be
// half-updated) and Do's error wraps both the *[OwnerDeadError] and f's
// error, so errors.Is(err, ErrOwnerDead) reports the takeover.
func (m *Mutex) Do(ctx context.Context, f func() error) error {
	err := m.Lock(ctx)
	if err != nil && !errors.Is(err, ErrOwnerDead) {
		return err
	}
	defer m.Unlock()
	return errors.Join(err, f())
}

// Locked reports whether m is currently locked by some process. The answer
// may be stale by the time it is used; it is meant for tests and
// diagnostics.
func (m *Mutex) Locked() bool { return m.state.Load()&pidMask != 0 }

// Owner returns the process id recorded as m's owner, or 0 if m is
// unlocked: a pid of the owner's pid namespace, which on Linux may not be
// this process's. Like Locked, it is a snapshot for diagnostics.
func (m *Mutex) Owner() int { return int(m.state.Load() & pidMask) }
