package ipcsync

import (
	"context"
	"math"
	"sync/atomic"
	"unsafe"
)

// CondSize is the number of bytes a [Cond] occupies.
const CondSize = int(unsafe.Sizeof(Cond{}))

// Cond is a condition variable living in memory that several processes
// map, used with a [Mutex] (like Python's multiprocessing.Condition).
//
// It is safe for concurrent use by goroutines and processes. All-zero
// memory (and the zero value) is ready. It must not be copied after first
// use. Waiters must re-check their condition in a loop: Wait may return
// without a Signal (spuriously), and a Signal races with new waiters, so a
// waiter may learn of it only at its next periodic check (within 200 ms).
type Cond struct {
	seq      atomic.Uint32 // bumped by Signal and Broadcast; the futex word
	sleepers atomic.Uint32 // waiters that may sleep on seq
}

// NewCond returns the Cond stored in the first [CondSize] bytes of mem
// (8-byte aligned). It does not write to mem. The mapping must stay mapped
// while the Cond is used.
func NewCond(mem []byte) (*Cond, error) {
	p, err := region("cond", mem, unsafe.Sizeof(Cond{}))
	if err != nil {
		return nil, err
	}
	return (*Cond)(p), nil
}

// Wait atomically unlocks mu, which the caller must hold, and waits until
// it is signalled or ctx is done; then it locks mu again and returns. The
// caller holds mu when Wait returns, whatever the result: nil, ctx.Err()
// (mu was re-locked without regard to ctx), or an error matching
// [ErrOwnerDead] if the process that held mu while Wait re-locked it died.
func (c *Cond) Wait(ctx context.Context, mu *Mutex) error {
	seq := c.seq.Load()
	mu.Unlock()
	err := c.wait(ctx, seq)
	if lerr := mu.Lock(context.Background()); lerr != nil {
		return lerr
	}
	return err
}

func (c *Cond) wait(ctx context.Context, seq uint32) error {
	return await(ctx, (*uint32)(unsafe.Pointer(&c.seq)), seq, &c.sleepers,
		func() bool { return c.seq.Load() != seq })
}

// Signal wakes one process or goroutine waiting on c, if any. The caller
// need not hold the Mutex.
func (c *Cond) Signal() { c.notify(1) }

// Broadcast wakes every process and goroutine waiting on c.
func (c *Cond) Broadcast() { c.notify(math.MaxInt32) }

func (c *Cond) notify(n int) {
	c.seq.Add(1)
	if c.sleepers.Load() > 0 {
		wake32((*uint32)(unsafe.Pointer(&c.seq)), n)
	}
}
