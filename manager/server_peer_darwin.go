package manager

import "golang.org/x/sys/unix"

// fdPeerPID returns the pid of the process that connected the Unix socket
// fd (LOCAL_PEERPID), or 0.
func fdPeerPID(fd uintptr) int {
	pid, err := unix.GetsockoptInt(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERPID)
	if err != nil {
		return 0
	}
	return pid
}
