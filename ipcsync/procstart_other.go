//go:build !linux && !darwin

package ipcsync

// procStart has no portable source of process start times here: owners are
// identified by pid alone (see "Other platforms" in the package
// documentation for the weakness this implies).
func procStart(pid int) (token uint32, zombie bool, ok bool) { return 0, false, false }

// selfStart returns 0: start times are unknown here.
func selfStart() uint32 { return 0 }
