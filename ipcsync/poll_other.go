//go:build !linux || procshare_nofutex

package ipcsync

import "time"

// futexBacked reports that there is no kernel wait queue: waiters poll, and
// a release has nobody to wake.
const futexBacked = false

// keptWaiters is the waiters bit a taker keeps: when polling, the bit is a
// request to hand the lock over to waiters, which taking it satisfies.
const keptWaiters = 0

// Bounds of one polling sleep: waiters back off exponentially from waitMin
// to waitMax, so an uncontended hand-over costs at most a few milliseconds
// and a long wait costs about 200 wake-ups a second.
const (
	waitMin = 50 * time.Microsecond
	waitMax = 5 * time.Millisecond
)

// wait32 sleeps for d; the caller re-reads the word afterwards. The word
// itself is not read here: the caller has just read it.
func wait32(addr *uint32, val uint32, d time.Duration) { time.Sleep(d) }

// wake32 does nothing: pollers notice the change on their next poll.
func wake32(addr *uint32, n int) {}
