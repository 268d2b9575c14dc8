package ipcsync

// Hooks for the black-box tests.

// LivenessChecks returns how many owner liveness checks this process made.
func LivenessChecks() int64 { return livenessChecks.Load() }

// StartToken returns the start token of process pid, as a Mutex records it.
func StartToken(pid int) (uint32, bool) {
	tok, _, ok := procStart(pid)
	return tok, ok
}

// SetState stores a raw state word into m (to forge owner records).
func (m *Mutex) SetState(w uint64) { m.state.Store(w) }

// State returns m's raw state word.
func (m *Mutex) State() uint64 { return m.state.Load() }

const FutexBacked = futexBacked
