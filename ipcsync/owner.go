package ipcsync

import (
	"os"
	"sync/atomic"
)

// Owner identity, as recorded in a locked Mutex word (see the package
// documentation, "Memory layout"):
//
//	bits  0..29  process id of the owner (never 0 while locked)
//	bit  30      reserved, zero
//	bit  31      waiters: some process may sleep in FUTEX_WAIT on the word
//	bits 32..63  start token of the owner (0 = unknown)
//
// The pid and the start token are written by the one compare-and-swap that
// takes the lock, so there is no moment at which the lock is held but its
// owner's record is missing or half written.
const (
	pidMask      = 1<<30 - 1
	flagReserved = 1 << 30
	flagWaiters  = 1 << 31
	flagMask     = flagReserved | flagWaiters
)

// selfIdent caches this process's identity word (pid | token<<32).
var selfIdent atomic.Uint64

// livenessChecks counts owner liveness checks (read by tests).
var livenessChecks atomic.Int64

// self returns this process's identity word.
func self() uint64 {
	if v := selfIdent.Load(); v != 0 {
		return v
	}
	return initSelf()
}

func initSelf() uint64 {
	pid := os.Getpid()
	if pid <= 0 || pid > pidMask {
		panic("ipcsync: process id does not fit in 30 bits")
	}
	tok, _, _ := procStart(pid)
	v := uint64(tok)<<32 | uint64(pid)
	selfIdent.Store(v)
	return v
}

// tokenOf folds a start time into a non-zero 32-bit token; 0 is reserved
// for "start time unknown".
func tokenOf(start uint64) uint32 {
	t := uint32(start)
	if t == 0 {
		t = 1
	}
	return t
}

// ownerAlive reports whether the process named by the identity word owner
// (flags ignored) may still be running. It errs on the side of "alive":
// only positive evidence of death returns false — no such process, a zombie,
// or a process whose start token differs from the recorded one (the pid was
// reused after the owner died).
func ownerAlive(owner uint64) bool {
	owner &^= flagMask
	if owner == self() {
		return true
	}
	livenessChecks.Add(1)
	pid := int(owner & pidMask)
	tok := uint32(owner >> 32)
	if uint64(pid) == self()&pidMask {
		// Our pid with another start token: an earlier process that had
		// this pid, necessarily dead since we have it now.
		return false
	}
	if !pidExists(pid) {
		return false
	}
	cur, zombie, ok := procStart(pid)
	if !ok {
		// The pid exists but cannot be inspected (hidden /proc, a race
		// with its exit, an OS without start times): trust the pid. A
		// dead owner is still caught by pidExists on a later check.
		return true
	}
	if zombie {
		return false
	}
	return tok == 0 || cur == 0 || cur == tok
}
