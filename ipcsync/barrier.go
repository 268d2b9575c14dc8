package ipcsync

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"unsafe"
)

// BarrierSize is the number of bytes a [Barrier] occupies.
const BarrierSize = int(unsafe.Sizeof(Barrier{}))

// Barrier makes a fixed number of parties wait for each other, like
// Python's multiprocessing.Barrier (without its broken state), living in
// memory that several processes map.
//
// It is safe for concurrent use by goroutines and processes and reusable:
// once all parties have arrived, they are released and the next Wait starts
// a new cycle. Set the number of parties with [Barrier.Init] before sharing
// it; a zero Barrier has no parties and Wait fails. It must not be copied
// after first use. A process that dies after arriving still counts as
// arrived.
type Barrier struct {
	// state holds the generation in its low half (the futex word) and the
	// number of parties arrived in this generation in its high half.
	state   atomic.Uint64
	parties atomic.Uint32
	_       uint32 // reserved, zero
}

// NewBarrier returns the Barrier stored in the first [BarrierSize] bytes of
// mem (8-byte aligned). It does not write to mem; call [Barrier.Init] once.
// The mapping must stay mapped while the Barrier is used.
func NewBarrier(mem []byte) (*Barrier, error) {
	p, err := region("barrier", mem, unsafe.Sizeof(Barrier{}))
	if err != nil {
		return nil, err
	}
	return (*Barrier)(p), nil
}

// Init sets the number of parties and starts a new cycle. Call it before
// other goroutines or processes use b.
func (b *Barrier) Init(parties int) error {
	if parties < 1 || parties > math.MaxInt32 {
		return fmt.Errorf("ipcsync: invalid barrier parties %d", parties)
	}
	b.parties.Store(uint32(parties))
	b.state.Store(0)
	return nil
}

// Parties returns the number of parties set by Init.
func (b *Barrier) Parties() int { return int(b.parties.Load()) }

// Waiting returns how many parties are waiting in the current cycle.
func (b *Barrier) Waiting() int { return int(b.state.Load() >> 32) }

// Wait arrives at the barrier and blocks until all parties have arrived or
// ctx is done. It returns the arrival index, from 0 to Parties()-1 (the
// last to arrive gets Parties()-1 and releases the others), or ctx.Err()
// after withdrawing its arrival, as if it had not called Wait; if the
// barrier was released at the same moment, the release wins. Indices are
// distinct within a cycle unless a party withdrew.
func (b *Barrier) Wait(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	parties := uint64(b.parties.Load())
	if parties == 0 {
		return 0, fmt.Errorf("ipcsync: barrier has no parties (Init not called)")
	}
	key := lowHalf((*uint64)(unsafe.Pointer(&b.state)))
	for {
		s := b.state.Load()
		gen, n := uint32(s), s>>32
		if n+1 >= parties {
			// Last to arrive: start the next generation and release all.
			if b.state.CompareAndSwap(s, uint64(gen+1)) {
				wake32(key, math.MaxInt32)
				return int(n), nil
			}
			continue
		}
		if b.state.CompareAndSwap(s, s+1<<32) {
			return int(n), b.wait(ctx, key, gen)
		}
	}
}

func (b *Barrier) wait(ctx context.Context, key *uint32, gen uint32) error {
	for {
		err := await(ctx, key, gen, nil, func() bool { return uint32(b.state.Load()) != gen })
		if err == nil {
			return nil
		}
		// Withdraw, unless the generation just ended.
		s := b.state.Load()
		if uint32(s) != gen {
			return nil
		}
		if b.state.CompareAndSwap(s, s-1<<32) {
			return err
		}
	}
}
