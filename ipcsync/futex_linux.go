//go:build linux && !procshare_nofutex

package ipcsync

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Futex operations from linux/futex.h. They are deliberately the shared
// forms (no FUTEX_PRIVATE_FLAG): the words live in memory mapped by several
// processes, and the kernel must key the wait queue on the mapping's page,
// not on this process's address space.
const (
	_FUTEX_WAIT = 0
	_FUTEX_WAKE = 1
)

// futexBacked reports that sleepers wait in the kernel, so a release must
// wake them (and the Mutex maintains its waiters bit).
const futexBacked = true

// keptWaiters is the waiters bit a taker keeps: with futexes the bit means
// "sleepers may need a wake-up", which taking the lock does not change.
const keptWaiters = flagWaiters

// Bounds of one sleep. A sleeper is woken by the releaser; the timeout only
// bounds how long a dead owner or a cancelled context goes unnoticed.
const (
	waitMin = 10 * time.Millisecond
	waitMax = 200 * time.Millisecond
)

// futexWait sleeps while *addr == val, for at most d. It returns on a wake,
// on a value mismatch (EAGAIN), on a signal (EINTR) or on timeout; the
// caller re-reads the word in every case, so the result is not reported.
func futexWait(addr *uint32, val uint32, d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), _FUTEX_WAIT,
		uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// futexWake wakes up to n processes or threads sleeping on addr.
func futexWake(addr *uint32, n int) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), _FUTEX_WAKE,
		uintptr(n), 0, 0, 0)
}

// maxKernelSleepers caps how many goroutines of this process sleep in
// FUTEX_WAIT at once. Each occupies an OS thread while it sleeps, so
// without a cap a thousand goroutines waiting for one shared lock would
// make a thousand threads (and Go aborts at 10000). Goroutines beyond the
// cap poll instead, sleeping in the Go scheduler.
const maxKernelSleepers = 64

// overflowPoll bounds one polling sleep of a goroutine beyond the cap.
const overflowPoll = 5 * time.Millisecond

var kernelSleepers atomic.Int32

// wait32 sleeps while *addr == val, for at most d: in the kernel, or, when
// maxKernelSleepers goroutines already do, in the Go scheduler.
func wait32(addr *uint32, val uint32, d time.Duration) {
	if kernelSleepers.Add(1) > maxKernelSleepers {
		kernelSleepers.Add(-1)
		time.Sleep(min(d, overflowPoll))
		return
	}
	futexWait(addr, val, d)
	kernelSleepers.Add(-1)
}

// wake32 wakes up to n sleepers on addr, in any process.
func wake32(addr *uint32, n int) { futexWake(addr, n) }
