package wire

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// SetQuickAck turns on TCP_QUICKACK on c when it is a TCP connection with a
// descriptor (a *net.TCPConn, or any net.Conn with a *net.TCPAddr that
// implements syscall.Conn), so that the kernel acknowledges the next
// incoming segments at once instead of delaying the ACK (up to ~40 ms on
// Linux).
//
// Why: CPython never sets TCP_NODELAY. A CPython client that writes two
// frames in a row without waiting for a reply — #WELCOME# at the end of the
// handshake and then its first request, or the header and the body of a
// frame over 16 KiB — has its second write held back by Nagle's algorithm
// until our ACK of the first arrives, and a delayed ACK stalls the exchange
// for ~40 ms. Conn sets it where it awaits such a second write: before each
// read of the handshake, and before ReadFrame waits for the rest of a frame
// whose header has arrived (Linux clears the flag again by itself, so it is
// set each time). It costs one setsockopt.
//
// On other connection types, and on systems other than Linux, it does
// nothing and returns nil. Errors are those of setsockopt; they only mean
// the latency fix did not apply.
func SetQuickAck(c net.Conn) error {
	sc, ok := c.(syscall.Conn)
	if _, tcp := c.LocalAddr().(*net.TCPAddr); !ok || !tcp {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return &net.OpError{Op: "setsockopt", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: serr}
	}
	return nil
}
