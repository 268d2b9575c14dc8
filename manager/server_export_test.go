package manager

import "time"

// SetLingerDelayForTest changes how long unreferenced nested objects
// linger, and returns a function restoring it.
func SetLingerDelayForTest(d time.Duration) (restore func()) {
	old := lingerDelay
	lingerDelay = d
	return func() { lingerDelay = old }
}
