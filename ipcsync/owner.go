package ipcsync

import (
	"os"
	"sync/atomic"
	"time"
)

// Owner record, as kept in a locked Mutex (see the package documentation,
// "Memory layout"). The state word:
//
//	bits  0..29  process id of the owner (never 0 while locked)
//	bit  30      namespace recorded: the record word names the owner's pid namespace
//	bit  31      waiters: some process may sleep in FUTEX_WAIT on the word
//	bits 32..63  start token of the owner (0 = unknown)
//
// and the record word, meaningful only when bit 30 is set:
//
//	bits  0..31  pid namespace of the owner (inode of /proc/self/ns/pid)
//	bits 32..63  tag of the owner identity (tagOf): the record is the
//	             current owner's only if it equals tagOf(state &^ bit 31)
//
// The identity (pid, bit 30, start token) is written by the one
// compare-and-swap that takes the lock. The record word cannot be written
// by that same instruction, so the new owner stores it just after; until
// then the record word still holds an earlier owner's record (or zero),
// whose tag does not match. Waiters must never trust such a record (it may
// name another namespace): they treat the owner as alive until its record
// appears (see judge), or, in Lock, until recordGrace has passed.
const (
	pidMask     = 1<<30 - 1
	flagNS      = 1 << 30
	flagWaiters = 1 << 31
)

// recordGrace is how long the same owner may go on showing no record of
// its namespace before a waiter decides that it died between taking the
// lock and writing the record (a few instructions), and judges it by pid
// as a record without a namespace.
const recordGrace = time.Second

// selfIdent caches this process's identity word (pid | flagNS | token<<32;
// without flagNS when the pid namespace is unknown), selfRecord its record
// word (0 when the pid namespace is unknown).
var selfIdent, selfRecord atomic.Uint64

// livenessChecks counts owner liveness checks (read by tests).
var livenessChecks atomic.Int64

// self returns this process's identity word.
func self() uint64 {
	if v := selfIdent.Load(); v != 0 {
		return v
	}
	return initSelf()
}

// selfNS returns this process's pid namespace as recorded (0 = unknown).
func selfNS() uint32 {
	self()
	return uint32(selfRecord.Load())
}

func initSelf() uint64 {
	pid := os.Getpid()
	if pid <= 0 || pid > pidMask {
		panic("ipcsync: process id does not fit in 30 bits")
	}
	v := uint64(selfStart())<<32 | uint64(pid)
	if ns := pidNamespace(); ns != 0 {
		v |= flagNS
		selfRecord.Store(recordOf(v, ns))
	}
	selfIdent.Store(v) // last: a non-zero selfIdent means both are set
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

// tagOf returns the tag that ties a record word to the owner identity id
// (a state word without the waiters bit): the high half of id times the
// 64-bit golden ratio, made odd so that a record word is never 0. Two
// different identities share a tag with probability 2^-31, which matters
// only to a waiter that reads in the instants before the new owner writes
// its record.
func tagOf(id uint64) uint32 {
	return uint32((id*0x9e3779b97f4a7c15)>>32) | 1
}

// recordOf returns the record word of the owner identity id in the pid
// namespace ns.
func recordOf(id uint64, ns uint32) uint64 {
	return uint64(tagOf(id))<<32 | uint64(ns)
}

// writeRecord completes this process's owner record after it took m. Only
// the holder writes the record word, and a process that takes the lock
// again finds its record already there.
func (m *Mutex) writeRecord() {
	if r := selfRecord.Load(); r != 0 && m.record.Load() != r {
		m.record.Store(r)
	}
}

// verdict is a waiter's judgement of the owner of a lock.
type verdict int

const (
	ownerLive    verdict = iota // alive, or cannot be judged: keep waiting
	ownerDead                   // positive evidence of death: take over
	ownerPending                // the owner has not (yet) written its namespace record
)

// judge judges the owner of m named by the state word w, which the caller
// has just loaded (flags other than bit 30 ignored). It errs on the side
// of "alive": only positive evidence of death returns ownerDead. An owner
// in another pid namespace, or in one that this process or the owner could
// not identify, cannot be judged by its pid: it is presumed alive.
func (m *Mutex) judge(w uint64) verdict {
	id := w &^ flagWaiters
	if id == self() {
		return ownerLive
	}
	livenessChecks.Add(1)
	if id&flagNS != 0 {
		rec := m.record.Load() // after w: a record written for w, or an older one
		if uint32(rec>>32) != tagOf(id) {
			return ownerPending
		}
		if ns := uint32(rec); ns == 0 || ns != selfNS() {
			return ownerLive
		}
	}
	if pidDead(id) {
		return ownerDead
	}
	return ownerLive
}

// pidDead reports positive evidence that the process named by the owner
// identity id, taken to be in this process's pid namespace, is dead: no
// such process, a zombie, or a process whose start token differs from the
// recorded one (the pid was reused after the owner died).
func pidDead(id uint64) bool {
	pid := int(id & pidMask)
	tok := uint32(id >> 32)
	if uint64(pid) == self()&pidMask {
		// Our pid with another identity: an earlier process that had
		// this pid, necessarily dead since we have it now.
		return true
	}
	if !pidExists(pid) {
		return true
	}
	cur, zombie, ok := procStart(pid)
	if !ok {
		// The pid exists but cannot be inspected (hidden /proc, a race
		// with its exit, an OS without start times): trust the pid. A
		// dead owner is still caught by pidExists on a later check.
		return false
	}
	return zombie || (tok != 0 && cur != 0 && cur != tok)
}
