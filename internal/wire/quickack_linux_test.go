package wire_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"sync"
	"syscall"
	"testing"

	"github.com/procshare/procshare/internal/wire"
)

// quickAckConn is a TCP-looking connection fed by the test, whose
// descriptor is a real TCP socket (so setsockopt works) and which records
// how many bytes had been read each time TCP_QUICKACK was set.
type quickAckConn struct {
	net.Conn             // the real socket, for SyscallConn's descriptor and the addresses
	feed     chan []byte // what Read returns, one chunk per Read
	rest     []byte      // what is left of the last chunk
	mu       sync.Mutex
	read     int   // bytes returned by Read so far
	acks     []int // read at each SyscallConn().Control (one per SetQuickAck)
}

func (c *quickAckConn) Read(p []byte) (int, error) {
	if len(c.rest) == 0 {
		c.rest = <-c.feed
	}
	n := copy(p, c.rest)
	c.rest = c.rest[n:]
	c.mu.Lock()
	c.read += n
	c.mu.Unlock()
	return n, nil
}

func (c *quickAckConn) SyscallConn() (syscall.RawConn, error) {
	rc, err := c.Conn.(syscall.Conn).SyscallConn()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.acks = append(c.acks, c.read)
	c.mu.Unlock()
	return rc, nil
}

// TestReadFrameQuickAckMidFrame: ReadFrame re-arms TCP_QUICKACK when it must
// wait for the rest of a frame whose header has arrived (a CPython peer
// writes the header and body of a frame over 16 KiB separately, and Nagle's
// algorithm holds a body shorter than the MSS until the header is
// acknowledged), and not when whole frames arrive.
func TestReadFrameQuickAckMidFrame(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	sock, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()

	for _, size := range []int{100, 20000} { // in the read buffer, and beyond it
		qc := &quickAckConn{Conn: sock, feed: make(chan []byte, 4)}
		c := wire.NewConn(qc, nil)
		body := bytes.Repeat([]byte{'x'}, size)
		header := binary.BigEndian.AppendUint32(nil, uint32(size))

		// A whole frame in one read: no quickack while it fits the read
		// buffer (a larger one is read 16 KiB at a time, each refill
		// re-arming it: one setsockopt per 16 KiB copied).
		qc.feed <- append(append([]byte(nil), header...), body...)
		if p, err := c.ReadFrame(); err != nil || !bytes.Equal(p, body) {
			t.Fatalf("size %d: whole frame: %d bytes, %v", size, len(p), err)
		}
		if size <= wire.ReadBufferSize && len(qc.acks) != 0 {
			t.Fatalf("size %d: quickack set for a frame that arrived whole (after %v bytes)", size, qc.acks)
		}
		qc.acks = nil
		// The header alone, then the body: quickack as soon as the
		// header is in.
		qc.feed <- header
		qc.feed <- body
		if p, err := c.ReadFrame(); err != nil || !bytes.Equal(p, body) {
			t.Fatalf("size %d: split frame: %d bytes, %v", size, len(p), err)
		}
		want := len(header) + size + 4 // the first frame and this header
		if len(qc.acks) == 0 || qc.acks[0] != want {
			t.Fatalf("size %d: quickack set after %v bytes read, want after %d (the header)", size, qc.acks, want)
		}
	}
}
