//go:build unix

package manager

import "syscall"

// fdLimit returns the process's descriptor limit (the soft RLIMIT_NOFILE),
// or 0 if it cannot be read.
func fdLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 0
	}
	return int(rl.Cur)
}
