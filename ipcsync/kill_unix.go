//go:build unix

package ipcsync

import "golang.org/x/sys/unix"

// pidExists reports whether a process with this id exists, using
// kill(pid, 0): ESRCH means none; EPERM means one exists that we may not
// signal. Zombies exist until reaped.
func pidExists(pid int) bool {
	return unix.Kill(pid, 0) != unix.ESRCH
}
