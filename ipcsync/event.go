package ipcsync

import (
	"context"
	"math"
	"sync/atomic"
	"unsafe"
)

// EventSize is the number of bytes an [Event] occupies.
const EventSize = int(unsafe.Sizeof(Event{}))

// Event is a flag that processes can wait for, like Python's
// multiprocessing.Event, living in memory that several processes map.
//
// It is safe for concurrent use by goroutines and processes. All-zero
// memory (and the zero value) is a clear Event. It must not be copied after
// first use.
type Event struct {
	flag     atomic.Uint32 // 0 clear, 1 set; the futex word
	sleepers atomic.Uint32 // waiters that may sleep on flag
}

// NewEvent returns the Event stored in the first [EventSize] bytes of mem
// (8-byte aligned). It does not write to mem; all-zero memory is a clear
// Event. The mapping must stay mapped while the Event is used.
func NewEvent(mem []byte) (*Event, error) {
	p, err := region("event", mem, unsafe.Sizeof(Event{}))
	if err != nil {
		return nil, err
	}
	return (*Event)(p), nil
}

// Set sets the flag and wakes every waiter, in every process.
func (e *Event) Set() {
	if e.flag.Swap(1) == 0 && e.sleepers.Load() > 0 {
		wake32((*uint32)(unsafe.Pointer(&e.flag)), math.MaxInt32)
	}
}

// Clear clears the flag; later Waits block until the next Set.
func (e *Event) Clear() { e.flag.Store(0) }

// IsSet reports whether the flag is set.
func (e *Event) IsSet() bool { return e.flag.Load() != 0 }

// Wait blocks until the flag is set or ctx is done. It returns nil if it
// saw the flag set (even when ctx is done at the same time), ctx.Err()
// otherwise.
func (e *Event) Wait(ctx context.Context) error {
	if e.IsSet() {
		return nil
	}
	return await(ctx, (*uint32)(unsafe.Pointer(&e.flag)), 0, &e.sleepers, e.IsSet)
}
