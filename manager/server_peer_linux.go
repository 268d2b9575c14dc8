package manager

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// unixPeerPID returns the pid of the process that connected the Unix
// socket nc (SO_PEERCRED), or 0.
func unixPeerPID(nc net.Conn) int {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	pid := 0
	rc.Control(func(fd uintptr) {
		if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
			pid = int(cred.Pid)
		}
	})
	return pid
}
