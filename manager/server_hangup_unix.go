//go:build unix && !linux

package manager

import "golang.org/x/sys/unix"

// fdHungUp reports whether the peer closed fd: poll(2) has no POLLRDHUP
// here, so a non-blocking one-byte peek that finds the end of the stream
// (with no unread request before it) is the sign.
func fdHungUp(fd int) bool {
	var b [1]byte
	for {
		n, _, err := unix.Recvfrom(fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n == 0 || err == unix.ECONNRESET || err == unix.EPIPE
	}
}
