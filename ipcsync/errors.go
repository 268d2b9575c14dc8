package ipcsync

import (
	"errors"
	"strconv"
)

// Errors returned by the lock operations.
var (
	// ErrOwnerDead reports that the previous owner of a [Mutex] died while
	// holding it. The call that returns it HOLDS the lock (like
	// EOWNERDEAD from a robust pthread mutex): the caller should repair the
	// state the lock protects, then Unlock as usual.
	ErrOwnerDead = errors.New("ipcsync: previous owner died holding the lock")

	// ErrMemory reports a region that is too small or not 8-byte aligned.
	ErrMemory = errors.New("ipcsync: memory too small or misaligned")
)

// OwnerDeadError is the error [Mutex.Lock] returns when it took the lock over
// from a dead process. errors.Is(err, ErrOwnerDead) reports true for it.
// The caller holds the lock.
type OwnerDeadError struct {
	// PID is the process id recorded as the owner.
	PID int
}

func (e *OwnerDeadError) Error() string {
	return "ipcsync: previous owner (pid " + strconv.Itoa(e.PID) + ") died holding the lock"
}

// Is reports whether target is ErrOwnerDead.
func (e *OwnerDeadError) Is(target error) bool { return target == ErrOwnerDead }
