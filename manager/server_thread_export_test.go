//go:build unix

package manager

import "time"

// SetThreadIdleForTest changes how long a dedicated thread waits for a
// request before its connection goes back to the netpoller, for the
// connections detached from now on, and returns a function restoring it.
func SetThreadIdleForTest(d time.Duration) (restore func()) {
	old := threadIdle
	threadIdle = d
	return func() { threadIdle = old }
}
