package ipcsync

import (
	"context"
	"math"
	"sync/atomic"
)

// await blocks until ready reports true (it returns nil) or ctx is done (it
// returns ctx.Err()), sleeping on the futex word key while it holds val
// between two calls of ready. sleepers, if not nil, counts this waiter
// while it sleeps, so that wakers can skip the wake-up call when nobody
// sleeps. Sleeps are bounded (waitMin doubling to waitMax) so that a
// cancellation racing with the sleep is noticed; ctx being done also wakes
// every sleeper on key at once.
func await(ctx context.Context, key *uint32, val uint32, sleepers *atomic.Uint32, ready func() bool) error {
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { wake32(key, math.MaxInt32) })
		defer stop()
	}
	step := waitMin
	for !ready() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if sleepers != nil {
			sleepers.Add(1)
		}
		wait32(key, val, step)
		if sleepers != nil {
			sleepers.Add(^uint32(0))
		}
		step = min(2*step, waitMax)
	}
	return nil
}
