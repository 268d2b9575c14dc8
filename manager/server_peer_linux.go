package manager

import "golang.org/x/sys/unix"

// fdPeerPID returns the pid of the process that connected the Unix socket
// fd (SO_PEERCRED), or 0.
func fdPeerPID(fd uintptr) int {
	cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return 0
	}
	return int(cred.Pid)
}
