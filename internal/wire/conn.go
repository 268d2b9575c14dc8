package wire

import (
	"bufio"
	"io"
	"math"
	"net"
	"strconv"
	"time"
)

// DefaultMaxFrame is the payload limit of ReadFrame when Config.MaxFrame is
// zero: 64 MiB.
const DefaultMaxFrame = 64 << 20

const (
	// readBufferSize is the size of the bufio.Reader in front of the
	// socket. Frames up to this size are returned straight from its buffer
	// (no copy); it is also what Buffered can report.
	readBufferSize = 16 << 10

	// smallWrite is the largest payload that WriteFrame and BufferFrame
	// copy into the output buffer. Larger payloads are written with the
	// header and any buffered frames in one writev, without a copy.
	smallWrite = 64 << 10

	// retainBuffer is the largest buffer kept between calls; a larger one
	// (after an exceptional frame) is dropped so idle connections stay small.
	// It is also the first size of the buffer of a frame larger than the
	// read buffer, which then doubles as the frame's bytes arrive.
	retainBuffer = 1 << 20
)

// Config holds the options of a Conn. The zero value, and a nil *Config,
// select the defaults.
type Config struct {
	// MaxFrame is the largest payload, in bytes, that ReadFrame accepts;
	// a longer frame makes it fail with a *FrameTooLargeError before
	// anything is allocated for it. Zero (or a negative value) means
	// DefaultMaxFrame. It does not limit what the Conn writes.
	MaxFrame int64
}

// Conn reads and writes the length-prefixed frames of CPython's
// multiprocessing.connection on top of a net.Conn (a TCP or Unix-domain
// stream socket, or anything else that behaves like one).
//
// # Concurrency
//
// A Conn is not safe for concurrent use by several readers, nor by several
// writers: at most one goroutine may be in ReadFrame or Buffered, and at
// most one in WriteFrame, BufferFrame or Flush, at any time. One reader
// goroutine and one writer goroutine working at the same time are fine, and
// Close, NetConn and the deadline setters may be called from any goroutine
// (they go straight to the net.Conn). A Conn is never process-safe: two
// processes sharing one socket would interleave frames.
//
// # Blocking and deadlines
//
// ReadFrame blocks until a whole frame has arrived; WriteFrame and Flush
// block until the kernel has taken every byte. Both honour the net.Conn
// deadlines (SetDeadline, SetReadDeadline, SetWriteDeadline), which is the
// way to bound or interrupt them. A deadline expiring is not fatal: a
// ReadFrame that failed with a timeout in the middle of a frame resumes that
// frame on the next call, and bytes a write could not send stay buffered
// until the next Flush. A frame longer than Config.MaxFrame can be skipped
// with SkipFrame, after which reading goes on with the next frame. Other
// errors (EOF, a closed socket, a malformed length) leave the connection
// unusable.
//
// A Conn has no zero value; create it with NewConn.
type Conn struct {
	nc       net.Conn
	maxFrame int64
	tcp      bool      // nc is a TCP connection: quickAck has something to do
	rand     io.Reader // challenge bytes; nil means crypto/rand (tests set it)

	// Reader state, owned by the goroutine in ReadFrame.
	r      *bufio.Reader
	rbuf   []byte // payload buffer for frames larger than r's buffer
	rlen   int64  // payload length of the frame in progress, -1 between frames
	rgot   int    // bytes of that payload already copied into rbuf
	peeked int    // bytes of r's buffer handed out by the last ReadFrame, to discard
	skip   uint64 // payload bytes of a refused oversized frame still to discard (SkipFrame)
	rerr   error  // sticky: the stream cannot be resynchronised (until SkipFrame, for an oversized frame)

	// Writer state, owned by the goroutine writing.
	wbuf []byte      // encoded frames not yet written
	iov  [2][]byte   // writeLarge's vector: wbuf and the payload
	vec  net.Buffers // iov as consumed by WriteTo (a field: no allocation)
}

// NewConn returns a Conn that frames c. A nil cfg selects the defaults. The
// Conn owns c from now on: use c directly only through NetConn, and never
// read from it directly (the Conn buffers input).
func NewConn(c net.Conn, cfg *Config) *Conn {
	limit := int64(DefaultMaxFrame)
	if cfg != nil && cfg.MaxFrame > 0 {
		limit = cfg.MaxFrame
	}
	if limit > math.MaxInt { // 32-bit platforms: a frame must fit in a slice
		limit = math.MaxInt
	}
	_, tcp := c.LocalAddr().(*net.TCPAddr)
	return &Conn{
		nc:       c,
		maxFrame: limit,
		tcp:      tcp,
		r:        bufio.NewReaderSize(c, readBufferSize),
		rlen:     -1,
	}
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Close closes the underlying connection; blocked ReadFrame and WriteFrame
// calls then return an error (errors.Is(err, net.ErrClosed) for sockets).
func (c *Conn) Close() error { return c.nc.Close() }

// SetDeadline sets the read and write deadlines of the underlying connection.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// SetReadDeadline sets the read deadline of the underlying connection.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline of the underlying connection.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.nc.SetWriteDeadline(t) }

// Buffered returns the number of input bytes already read from the socket
// and not yet returned by ReadFrame. A server that sees Buffered() > 0
// after a ReadFrame knows the next request is (at least partly) already
// here, so it can buffer its reply with BufferFrame and flush once the
// input is drained. Same goroutine rules as ReadFrame.
func (c *Conn) Buffered() int { return c.r.Buffered() - c.peeked }

// ReadFrame reads the next frame and returns its payload. The slice is
// valid only until the next call of ReadFrame (it may point into the
// Conn's read buffer); copy it to keep it.
//
// At the end of the stream between two frames it returns io.EOF; if the
// stream ends inside a frame, io.ErrUnexpectedEOF. A frame longer than
// Config.MaxFrame gives a *FrameTooLargeError (errors.Is ErrFrameTooLarge)
// and a negative length other than -1 gives an error wrapping ErrBadFrame;
// both are reported before any allocation. After a *FrameTooLargeError,
// ReadFrame keeps returning it until SkipFrame has discarded that frame's
// payload; after ErrBadFrame the Conn is unusable for reading.
//
// Memory: a frame of up to 16 KiB is returned from the read buffer without
// a copy. A larger one is assembled in a buffer that grows as its bytes
// arrive, whatever the header announces (to at most twice what has arrived,
// or 1 MiB), and is reused by the next large frame unless it exceeds 1 MiB.
func (c *Conn) ReadFrame() ([]byte, error) { return c.readFrame(c.maxFrame) }

// readFrame is ReadFrame with an explicit payload limit (the handshake uses
// 256 bytes, like CPython's recv_bytes(256)).
func (c *Conn) readFrame(limit int64) ([]byte, error) {
	if c.rerr != nil {
		return nil, c.rerr
	}
	if c.peeked > 0 {
		c.r.Discard(c.peeked) // cannot fail: the bytes are buffered
		c.peeked = 0
	}
	if c.rlen < 0 {
		if cap(c.rbuf) > retainBuffer {
			c.rbuf = nil // the previous frame was exceptional: let it go
		}
		// Peek, not Read: a timeout while the header is incomplete must
		// leave the bytes in place for the next call.
		h, err := c.r.Peek(headerLen)
		if err != nil {
			if err == io.EOF && len(h) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		var n uint64
		if header(h).isLong() {
			if h, err = c.r.Peek(longHeaderLen); err != nil {
				return nil, unexpected(err)
			}
			n = header(h).long()
		} else if s := header(h).short(); s >= 0 {
			n = uint64(s)
		} else {
			c.rerr = &frameError{msg: "wire: bad frame length " + strconv.Itoa(int(s)), errs: []error{ErrBadFrame}}
			return nil, c.rerr
		}
		if n > uint64(limit) {
			c.r.Discard(header(h).size())
			c.skip = n
			c.rerr = &FrameTooLargeError{Size: n, Max: limit}
			return nil, c.rerr
		}
		c.r.Discard(header(h).size())
		c.rlen, c.rgot = int64(n), 0
	}
	n := int(c.rlen)
	if n <= c.r.Size() {
		// The payload fits in the read buffer: hand it out in place.
		if c.r.Buffered() < n {
			c.quickAck() // the rest may wait for our ACK (see SetQuickAck)
		}
		p, err := c.r.Peek(n)
		if err != nil {
			return nil, unexpected(err)
		}
		c.peeked, c.rlen = n, -1
		return p, nil
	}
	// Larger frame: copy it into rbuf (len(rbuf) == cap(rbuf)), which grows
	// with the data received rather than with the announced length, so a
	// peer cannot make us allocate much more than it actually sends.
	for c.rgot < n {
		if c.rgot == len(c.rbuf) {
			grown := make([]byte, min(n, max(2*len(c.rbuf), retainBuffer)))
			copy(grown, c.rbuf[:c.rgot])
			c.rbuf = grown
		}
		if c.r.Buffered() == 0 {
			// A CPython peer writes a frame over 16 KiB as its header,
			// then its body, which Nagle's algorithm holds back until
			// the header is acknowledged (see SetQuickAck).
			c.quickAck()
		}
		m, err := c.r.Read(c.rbuf[c.rgot:min(n, len(c.rbuf))])
		c.rgot += m
		if err != nil && c.rgot < n {
			return nil, unexpected(err)
		}
	}
	c.rlen = -1
	return c.rbuf[:n], nil
}

// SkipFrame reads and discards the payload of the frame that ReadFrame
// refused with a *FrameTooLargeError, through the Conn's read buffer (it
// allocates nothing, whatever the frame's size), so that the next ReadFrame
// reads the frame after it. It blocks until the whole payload has arrived
// and honours read deadlines: after a timeout, calling it again goes on
// where it stopped. If the stream ends first it returns
// io.ErrUnexpectedEOF. With no oversized frame pending it returns nil, or
// the Conn's sticky error (ErrBadFrame). Same goroutine rules as ReadFrame.
//
// Skipping costs the time to receive the payload: a server should skip
// only for an authenticated peer and close the connection otherwise.
func (c *Conn) SkipFrame() error {
	if c.skip == 0 {
		return c.rerr
	}
	for c.skip > 0 {
		if c.r.Buffered() == 0 {
			c.quickAck() // as in readFrame: the body may wait for our ACK
		}
		m, err := c.r.Discard(int(min(c.skip, uint64(c.r.Size()))))
		c.skip -= uint64(m)
		if err != nil && c.skip > 0 {
			return unexpected(err)
		}
	}
	c.rerr = nil
	return nil
}

// unexpected maps an end of stream inside a frame to io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// WriteFrame writes p as one frame, after any frames buffered by
// BufferFrame. Small frames (up to 64 KiB) are copied with their header
// into the Conn's output buffer and written with one write call; larger
// ones are written with one writev (header and buffered frames, then p)
// where the connection supports it (TCP and Unix sockets), without copying
// p. Frames over 0x7fffffff bytes get the long header (readable by CPython
// 3.8+, not by 3.7).
//
// p may be reused as soon as WriteFrame returns. If it returns an error, the
// bytes not yet sent remain buffered (copied): a later Flush retries them,
// e.g. after a write deadline was extended; otherwise close the Conn.
func (c *Conn) WriteFrame(p []byte) error {
	if len(p) > smallWrite {
		return c.writeLarge(p)
	}
	c.wbuf = appendHeader(c.wbuf, len(p))
	c.wbuf = append(c.wbuf, p...)
	return c.Flush()
}

// BufferFrame appends p as one frame to the output buffer without writing
// it, so that several frames leave in one write call at the next Flush or
// WriteFrame. p may be reused as soon as BufferFrame returns. To bound
// memory, BufferFrame writes the buffer out itself when it holds 64 KiB or
// more, and writes a frame larger than 64 KiB at once (as WriteFrame does);
// the error it returns is that write's.
func (c *Conn) BufferFrame(p []byte) error {
	if len(p) > smallWrite {
		return c.writeLarge(p)
	}
	c.wbuf = appendHeader(c.wbuf, len(p))
	c.wbuf = append(c.wbuf, p...)
	if len(c.wbuf) >= smallWrite {
		return c.Flush()
	}
	return nil
}

// Flush writes the frames buffered by BufferFrame (and any bytes a failed
// write left behind). It does nothing when nothing is buffered.
func (c *Conn) Flush() error {
	if len(c.wbuf) == 0 {
		return nil
	}
	n, err := c.nc.Write(c.wbuf)
	if err != nil {
		c.wbuf = c.wbuf[:copy(c.wbuf, c.wbuf[n:])]
		return err
	}
	c.wbuf = c.wbuf[:0]
	if cap(c.wbuf) > retainBuffer {
		c.wbuf = nil
	}
	return nil
}

// writeLarge writes the buffered bytes, the header of p and p in one
// writev.
func (c *Conn) writeLarge(p []byte) error {
	c.wbuf = appendHeader(c.wbuf, len(p))
	head := len(c.wbuf)
	c.iov = [2][]byte{c.wbuf, p}
	c.vec = c.iov[:]
	n, err := c.vec.WriteTo(c.nc)
	c.iov, c.vec = [2][]byte{}, nil // do not keep the caller's p
	if err != nil {
		// Keep what was not sent, so that Flush can finish the frame.
		var rest []byte
		if int(n) < head {
			rest = append(rest, c.wbuf[n:]...)
			rest = append(rest, p...)
		} else {
			rest = append(rest, p[int(n)-head:]...)
		}
		c.wbuf = rest
		return err
	}
	c.wbuf = c.wbuf[:0]
	return nil
}
