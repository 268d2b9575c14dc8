package manager

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// unixPeerPID returns the pid of the process that connected the Unix
// socket nc (LOCAL_PEERPID), or 0.
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
		if p, err := unix.GetsockoptInt(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERPID); err == nil {
			pid = p
		}
	})
	return pid
}
