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

// SetRecord stores a raw owner record word into m (to forge owner records).
func (m *Mutex) SetRecord(r uint64) { m.record.Store(r) }

// Record returns m's raw owner record word.
func (m *Mutex) Record() uint64 { return m.record.Load() }

// RecordOf returns the record word of owner identity id (a state word
// without the waiters bit) in pid namespace ns.
func RecordOf(id uint64, ns uint32) uint64 { return recordOf(id, ns) }

// PIDNamespace returns this process's pid namespace as its records name it
// (0 = unknown: its records carry no namespace).
func PIDNamespace() uint32 { return selfNS() }

// FlagNS is the state bit that says the record word names the owner's pid
// namespace.
const FlagNS = flagNS

const FutexBacked = futexBacked
