//go:build unix

package manager

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// threadConnSupported reports whether connections can have dedicated
// threads on this system.
const threadConnSupported = true

// threadConn is an object connection's socket served the way CPython's
// server serves every connection: blocking read(2) and write(2) on a
// descriptor of its own, outside Go's netpoller, so the connection's
// goroutine sleeps in the kernel on its own thread between requests.
//
// Why: a request/reply client (every CPython proxy) leaves the connection
// idle between calls. Through the netpoller each call costs a read that
// fails with EAGAIN, a park, an epoll_pwait and a hand-over of the woken
// goroutine between threads (futex, nanosleep); blocked in read(2) it costs
// the read and the write alone. manager/conformance/FINDINGS.md (F1) has
// the syscall counts, BENCHMARKS.md the CPU per call.
//
// A read that waits longer than threadIdle fails with a timeout
// (SO_RCVTIMEO), and the connection goes back to the netpoller (toNetpoller):
// the threads serve the connections that are busy, not the ones that
// merely stay open, as CPython clients' connections do for a process's
// whole life.
//
// Read and Write belong to the connection's goroutine (and, while a call
// blocks, to the watcher it starts, see watchConn). Close may be called from
// any goroutine: it shuts the socket down, which wakes a blocked read or
// write; the descriptor itself is closed by release, once, by the goroutine
// that owns the connection, so a descriptor number is never closed while a
// thread may still use it.
type threadConn struct {
	fd     int
	laddr  net.Addr
	raddr  net.Addr
	mu     sync.Mutex // guards down and closed
	down   bool       // shut down by Close: Read and Write fail
	closed bool       // the descriptor is closed (release)
}

// errDeadline is what the deadline setters of a threadConn return: its
// reads and writes are ended by Close, not by deadlines.
var errDeadline = errors.New("manager: deadlines are not supported on a dedicated-thread connection")

// threadIdle is how long a dedicated thread waits for a request before
// its connection goes back to the netpoller.
var threadIdle = 10 * time.Second

// detachConn moves nc's socket out of Go's netpoller onto a blocking
// descriptor and closes nc. Its reads time out after threadIdle, or after
// idle (ServerConfig.IdleTimeout) if that is positive and shorter. On failure nc is left as it was, except if
// fcntl fails on the new descriptor once nc is closed (it has no reason to):
// then the connection is lost.
func detachConn(nc net.Conn, idle time.Duration) (*threadConn, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("manager: %T has no descriptor", nc)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, os.NewSyscallError("fcntl", derr)
	}
	// The receive timeout is the socket's, shared with nc, whose
	// non-blocking reads ignore it.
	wait := threadIdle
	if idle > 0 && idle < wait {
		wait = idle
	}
	tv := unix.NsecToTimeval(wait.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("setsockopt", err)
	}
	tc := &threadConn{fd: fd, laddr: nc.LocalAddr(), raddr: nc.RemoteAddr()}
	// Closing nc removes the socket from the netpoller's epoll set
	// before closing nc's descriptor; ours stays open. Only then is the
	// shared open file made blocking, so the poller never sees it so.
	nc.Close()
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	return tc, nil
}

// toNetpoller returns a netpoller connection on the socket, for the
// connection to go on without its thread; the caller then releases c. The
// receive timeout stays set on the socket, and the netpoller's
// non-blocking reads ignore it.
func (c *threadConn) toNetpoller() (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pollerConnLocked()
}

// pollerConnLocked returns a net.Conn on a duplicate of the socket,
// registered with Go's netpoller. That makes the socket (the open file all
// duplicates share) non-blocking. c.mu is held.
func (c *threadConn) pollerConnLocked() (net.Conn, error) {
	if c.closed {
		return nil, net.ErrClosed
	}
	fd, err := unix.FcntlInt(uintptr(c.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(fd), "socket")
	defer f.Close()
	return net.FileConn(f) // dups again, non-blocking, in the poller
}

func (c *threadConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := unix.Read(c.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN: // SO_RCVTIMEO: threadIdle (or IdleTimeout) passed
			return 0, &net.OpError{Op: "read", Net: c.laddr.Network(), Source: c.laddr, Addr: c.raddr, Err: os.ErrDeadlineExceeded}
		case err != nil:
			return 0, c.opError("read", err)
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (c *threadConn) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Write(c.fd, p[done:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, c.opError("write", err)
		}
		done += n
	}
	return done, nil
}

// opError wraps a failed read or write; after Close it is net.ErrClosed,
// as for a closed net.Conn.
func (c *threadConn) opError(op string, err error) error {
	c.mu.Lock()
	down := c.down
	c.mu.Unlock()
	if down {
		err = net.ErrClosed
	} else {
		err = os.NewSyscallError(op, err)
	}
	return &net.OpError{Op: op, Net: c.laddr.Network(), Source: c.laddr, Addr: c.raddr, Err: err}
}

// Close shuts the socket down in both directions: a read or write blocked
// in another thread returns, and the peer sees the connection end. It is
// safe from any goroutine and idempotent. The descriptor stays open until
// release.
func (c *threadConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down || c.closed {
		return nil
	}
	c.down = true
	unix.Shutdown(c.fd, unix.SHUT_RDWR)
	return nil
}

// release closes the descriptor. Only the goroutine that owns the
// connection calls it, after its last Read or Write.
func (c *threadConn) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed, c.down = true, true
		unix.Close(c.fd)
	}
}

func (c *threadConn) LocalAddr() net.Addr                { return c.laddr }
func (c *threadConn) RemoteAddr() net.Addr               { return c.raddr }
func (c *threadConn) SetDeadline(t time.Time) error      { return errDeadline }
func (c *threadConn) SetReadDeadline(t time.Time) error  { return errDeadline }
func (c *threadConn) SetWriteDeadline(t time.Time) error { return errDeadline }

// watchConn returns a netpoller connection on a duplicate of the socket,
// for the watcher that reads while a call blocks (it must be stoppable by a
// read deadline). The socket is non-blocking until unwatch is called; the
// connection's goroutine does not read or write meanwhile.
func (c *threadConn) watchConn() (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	nc, err := c.pollerConnLocked()
	if err != nil && !c.closed {
		unix.SetNonblock(c.fd, false)
	}
	return nc, err
}

// unwatch closes the watcher's connection and makes the socket blocking
// again.
func (c *threadConn) unwatch(w net.Conn) {
	w.Close()
	c.mu.Lock()
	if !c.closed {
		unix.SetNonblock(c.fd, false)
	}
	c.mu.Unlock()
}

// SyscallConn gives access to the descriptor (for setsockopt and poll),
// so that wire.SetQuickAck and peerHungUp work on a threadConn as on a
// net.TCPConn.
func (c *threadConn) SyscallConn() (syscall.RawConn, error) { return threadRawConn{c}, nil }

// threadRawConn is a threadConn's syscall.RawConn. Its Read and Write call
// f once: the descriptor is blocking.
type threadRawConn struct{ c *threadConn }

func (r threadRawConn) Control(f func(fd uintptr)) error {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	if r.c.closed {
		return net.ErrClosed
	}
	f(uintptr(r.c.fd))
	return nil
}

func (r threadRawConn) Read(f func(fd uintptr) bool) error {
	return r.Control(func(fd uintptr) { f(fd) })
}
func (r threadRawConn) Write(f func(fd uintptr) bool) error {
	return r.Control(func(fd uintptr) { f(fd) })
}

// peerHungUp reports whether nc's peer has closed its end, without
// reading: a zero-timeout poll(2) for a hang-up (POLLRDHUP on Linux, which
// also sees a half-close; a zero-length peek elsewhere).
func peerHungUp(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	rc.Control(func(fd uintptr) { gone = fdHungUp(int(fd)) })
	return gone
}
