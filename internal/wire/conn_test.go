package wire_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/procshare/procshare/internal/wire"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// Golden frames: what CPython's send_bytes puts on the wire (struct.pack
// "!i" / "!i"+"!Q").
var goldenFrames = []struct {
	name    string
	payload []byte
	wire    string // hex
}{
	{"empty", nil, "00000000"},
	{"abc", []byte("abc"), "00000003 616263"},
	{"welcome", []byte("#WELCOME#"), "00000009 2357454c434f4d4523"},
	{"pickle None", unhex("80044e2e"), "00000004 80044e2e"},
	{"300 bytes", bytes.Repeat([]byte{'x'}, 300), "0000012c" + strings.Repeat("78", 300)},
}

func TestWriteFrameGolden(t *testing.T) {
	t.Parallel()
	for _, g := range goldenFrames {
		sc := newScriptConn(nil)
		c := wire.NewConn(sc, nil)
		if err := c.WriteFrame(g.payload); err != nil {
			t.Fatal(err)
		}
		if got, want := sc.out.Bytes(), unhex(g.wire); !bytes.Equal(got, want) {
			t.Errorf("%s: wrote % x, want % x", g.name, got, want)
		}
		if sc.Writes != 1 {
			t.Errorf("%s: %d write calls, want 1", g.name, sc.Writes)
		}
	}
}

func TestReadFrameGolden(t *testing.T) {
	t.Parallel()
	var in []byte
	for _, g := range goldenFrames {
		in = append(in, unhex(g.wire)...)
	}
	// The long form (-1 then an 8-byte length) is accepted for any length.
	in = append(in, unhex("ffffffff 0000000000000005 68656c6c6f")...)
	in = append(in, unhex("ffffffff 0000000000000000")...)
	c := wire.NewConn(newScriptConn(in), nil)
	for _, g := range goldenFrames {
		p, err := c.ReadFrame()
		if err != nil || !bytes.Equal(p, g.payload) {
			t.Fatalf("%s: ReadFrame = %q, %v", g.name, p, err)
		}
	}
	for _, want := range []string{"hello", ""} {
		if p, err := c.ReadFrame(); err != nil || string(p) != want {
			t.Fatalf("long form: ReadFrame = %q, %v; want %q", p, err, want)
		}
	}
	if _, err := c.ReadFrame(); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

func TestRoundTrip(t *testing.T) {
	sizes := []int{0, 1, 100, 16383, 16384, 16385, 65536, 65537, 1 << 20}
	forEachTransport(t, func(t *testing.T, a, b net.Conn) {
		w, r := wire.NewConn(a, nil), wire.NewConn(b, nil)
		errc := make(chan error, 1)
		go func() {
			for i, n := range sizes {
				var err error
				if i%2 == 0 {
					err = w.WriteFrame(payload(n))
				} else {
					if err = w.BufferFrame(payload(n)); err == nil {
						err = w.Flush()
					}
				}
				if err != nil {
					errc <- err
					return
				}
			}
			// Several small frames coalesced into one write.
			for i := 0; i < 3; i++ {
				if err := w.BufferFrame(payload(10 + i)); err != nil {
					errc <- err
					return
				}
			}
			errc <- w.Flush()
		}()
		for _, n := range sizes {
			p, err := r.ReadFrame()
			if err != nil {
				t.Fatalf("frame of %d: %v", n, err)
			}
			if !bytes.Equal(p, payload(n)) {
				t.Fatalf("frame of %d: got %d bytes, different", n, len(p))
			}
		}
		for i := 0; i < 3; i++ {
			if p, err := r.ReadFrame(); err != nil || !bytes.Equal(p, payload(10+i)) {
				t.Fatalf("coalesced frame %d: %q, %v", i, p, err)
			}
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		w.Close()
		if _, err := r.ReadFrame(); err != io.EOF {
			t.Fatalf("after close: %v, want io.EOF", err)
		}
	})
}

func payload(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + n)
	}
	return p
}

func TestBufferFrameCoalesces(t *testing.T) {
	t.Parallel()
	sc := newScriptConn(nil)
	c := wire.NewConn(sc, nil)
	for _, s := range []string{"a", "bc", "def"} {
		if err := c.BufferFrame([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if sc.Writes != 0 {
		t.Fatalf("BufferFrame wrote %d times before Flush", sc.Writes)
	}
	if err := c.WriteFrame([]byte("gh")); err != nil {
		t.Fatal(err)
	}
	want := frame([]byte("a"), []byte("bc"), []byte("def"), []byte("gh"))
	if sc.Writes != 1 || !bytes.Equal(sc.out.Bytes(), want) {
		t.Fatalf("%d writes of % x, want 1 of % x", sc.Writes, sc.out.Bytes(), want)
	}
	if err := c.Flush(); err != nil || sc.Writes != 1 {
		t.Fatalf("empty Flush: %v, %d writes", err, sc.Writes)
	}

	// Reading them back: Buffered tells that more input is pending.
	r := wire.NewConn(newScriptConn(want), nil)
	for i, s := range []string{"a", "bc", "def", "gh"} {
		p, err := r.ReadFrame()
		if err != nil || string(p) != s {
			t.Fatalf("ReadFrame = %q, %v", p, err)
		}
		if pending := r.Buffered() > 0; pending != (i < 3) {
			t.Fatalf("after frame %d: Buffered() = %d", i, r.Buffered())
		}
	}
}

func TestReadErrors(t *testing.T) {
	t.Parallel()
	cfg := &wire.Config{MaxFrame: 100}
	for _, tc := range []struct {
		name string
		in   string // hex
		want error
		size uint64 // for FrameTooLargeError
	}{
		{"clean EOF", "", io.EOF, 0},
		{"truncated header", "0000", io.ErrUnexpectedEOF, 0},
		{"truncated payload", "00000005 6162", io.ErrUnexpectedEOF, 0},
		{"truncated large payload", "00000064" + strings.Repeat("00", 50), io.ErrUnexpectedEOF, 0},
		{"truncated long header", "ffffffff 0000", io.ErrUnexpectedEOF, 0},
		{"oversized length", "00000065", wire.ErrFrameTooLarge, 101},
		{"max int32", "7fffffff", wire.ErrFrameTooLarge, 0x7fffffff},
		{"negative length", "fffffffe 00", wire.ErrBadFrame, 0},
		{"min int32", "80000000", wire.ErrBadFrame, 0},
		{"long form too large", "ffffffff 0000000000000065", wire.ErrFrameTooLarge, 101},
		{"long form huge", "ffffffff ffffffffffffffff", wire.ErrFrameTooLarge, 1<<64 - 1},
	} {
		c := wire.NewConn(newScriptConn(unhex(tc.in)), cfg)
		_, err := c.ReadFrame()
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
			continue
		}
		if wire.ReadBufferCap(c) != 0 {
			t.Errorf("%s: allocated a %d-byte buffer", tc.name, wire.ReadBufferCap(c))
		}
		var ftl *wire.FrameTooLargeError
		if errors.As(err, &ftl) {
			if ftl.Size != tc.size || ftl.Max != 100 {
				t.Errorf("%s: %+v, want Size %d Max 100", tc.name, ftl, tc.size)
			}
		}
		if errors.Is(err, wire.ErrFrameTooLarge) || errors.Is(err, wire.ErrBadFrame) {
			if !strings.HasPrefix(err.Error(), "wire: ") {
				t.Errorf("%s: message %q lacks the package prefix", tc.name, err)
			}
			// Sticky: the stream cannot be resynchronised.
			if _, err2 := c.ReadFrame(); err2 != err {
				t.Errorf("%s: second ReadFrame = %v, want the same error", tc.name, err2)
			}
		}
	}
}

func TestHugeLongFrameDoesNotAllocate(t *testing.T) {
	in := unhex("ffffffff 7fffffffffffffff")
	allocs := testing.AllocsPerRun(20, func() {
		c := wire.NewConn(newScriptConn(in), nil) // 64 MiB default limit
		if _, err := c.ReadFrame(); !errors.Is(err, wire.ErrFrameTooLarge) {
			t.Fatal(err)
		}
	})
	// NewConn (Conn, bufio.Reader and its buffer), the reader, the error.
	if allocs > 8 {
		t.Fatalf("%v allocations", allocs)
	}
}

// A header may announce up to MaxFrame bytes, but the buffer grows with
// the bytes that really arrive.
func TestAnnouncedLengthIsNotPreallocated(t *testing.T) {
	t.Parallel()
	for _, in := range [][]byte{
		cat(unhex("03c00000"), payload(1000)),                   // 60 MiB announced, 1000 bytes sent
		cat(unhex("ffffffff 0000000003c00000"), payload(3<<20)), // 60 MiB announced, 3 MiB sent
	} {
		c := wire.NewConn(newScriptConn(in), nil)
		if _, err := c.ReadFrame(); err != io.ErrUnexpectedEOF {
			t.Fatalf("err = %v", err)
		}
		sent := len(in) - 4
		if got := wire.ReadBufferCap(c); got > 2*sent && got > 1<<20 {
			t.Fatalf("%d bytes sent, %d allocated", sent, got)
		}
	}
}

func TestDefaultMaxFrame(t *testing.T) {
	t.Parallel()
	in := unhex("04000001") // DefaultMaxFrame + 1
	_, err := wire.NewConn(newScriptConn(in), &wire.Config{}).ReadFrame()
	var ftl *wire.FrameTooLargeError
	if !errors.As(err, &ftl) || ftl.Max != wire.DefaultMaxFrame || ftl.Size != wire.DefaultMaxFrame+1 {
		t.Fatalf("err = %v", err)
	}
}

// A read deadline that expires in the middle of a frame does not lose the
// frame: the next ReadFrame continues it. Sizes: in the read buffer, larger,
// and larger than the buffer the Conn keeps between frames.
func TestReadDeadlineResumes(t *testing.T) {
	t.Parallel()
	for _, n := range []int{10, wire.ReadBufferSize + 1000, 3 << 20} {
		a, b := listenPair(t, "unix", t.TempDir()+"/s")
		r := wire.NewConn(b, nil)
		want := payload(n)
		full := frame(want)
		for _, cut := range []int{2, 4, 4 + n/2} {
			next := make(chan bool, 1) // the first write may still be blocked
			errc := make(chan error, 1)
			go func() {
				_, err := a.Write(full[:cut])
				if err == nil && <-next {
					_, err = a.Write(full[cut:])
				}
				errc <- err
			}()
			r.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if _, err := r.ReadFrame(); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("n=%d cut=%d: %v, want a timeout", n, cut, err)
			}
			r.SetReadDeadline(time.Time{})
			next <- true
			p, err := r.ReadFrame()
			if err != nil || !bytes.Equal(p, want) {
				t.Fatalf("n=%d cut=%d: after the timeout: %d bytes, %v", n, cut, len(p), err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
	}
}

// A write that times out keeps the unsent bytes; Flush sends them later.
func TestWriteDeadlineResumes(t *testing.T) {
	for _, n := range []int{10, 100000} {
		a, b := net.Pipe()
		w := wire.NewConn(a, nil)
		want := frame(payload(n))
		errc := make(chan error, 1)
		w.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		go func() { errc <- w.WriteFrame(payload(n)) }()
		got := make([]byte, 3)
		if _, err := io.ReadFull(b, got); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("n=%d: WriteFrame = %v, want a timeout", n, err)
		}
		w.SetWriteDeadline(time.Time{})
		go func() { errc <- w.Flush() }()
		rest := make([]byte, len(want)-3)
		if _, err := io.ReadFull(b, rest); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if got = append(got, rest...); !bytes.Equal(got, want) {
			t.Fatalf("n=%d: the resumed frame differs", n)
		}
		a.Close()
		b.Close()
	}
}

// One goroutine reading and another writing the same Conn at the same time
// is allowed (the race detector checks it); the peer echoes.
func TestFullDuplex(t *testing.T) {
	forEachTransport(t, func(t *testing.T, a, b net.Conn) {
		go func() {
			p := wire.NewConn(b, nil)
			for {
				f, err := p.ReadFrame()
				if err != nil {
					p.Close()
					return
				}
				if err := p.BufferFrame(f); err != nil {
					return
				}
				if p.Buffered() == 0 {
					if err := p.Flush(); err != nil {
						return
					}
				}
			}
		}()
		c := wire.NewConn(a, nil)
		const n = 200
		errc := make(chan error, 1)
		go func() {
			for i := 0; i < n; i++ {
				if err := c.WriteFrame(payload(i * 97)); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		for i := 0; i < n; i++ {
			if p, err := c.ReadFrame(); err != nil || !bytes.Equal(p, payload(i*97)) {
				t.Fatalf("frame %d: %d bytes, %v", i, len(p), err)
			}
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	})
}

// Close from another goroutine unblocks a ReadFrame.
func TestCloseUnblocksRead(t *testing.T) {
	for _, tr := range transports[1:] { // sockets: net.ErrClosed
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			a, _ := tr.pair(t)
			c := wire.NewConn(a, nil)
			errc := make(chan error, 1)
			go func() {
				_, err := c.ReadFrame()
				errc <- err
			}()
			time.Sleep(10 * time.Millisecond) // let it block; correctness does not depend on it
			c.Close()
			if err := <-errc; !errors.Is(err, net.ErrClosed) {
				t.Fatalf("ReadFrame after Close: %v", err)
			}
		})
	}
}

// SkipFrame discards a frame over the limit without buffering it, and
// reading goes on with the next frame; a frame cut short by the end of the
// stream is io.ErrUnexpectedEOF.
func TestSkipFrame(t *testing.T) {
	t.Parallel()
	cfg := &wire.Config{MaxFrame: 100}
	for _, tc := range []struct {
		name string
		in   []byte
		size uint64
	}{
		{"short form", frame(payload(101), []byte("next")), 101},
		{"larger than the read buffer", frame(payload(3*wire.ReadBufferSize+7), []byte("next")), 3*wire.ReadBufferSize + 7},
		{"long form", cat(unhex("ffffffff 0000000000000200"), payload(0x200), frame([]byte("next"))), 0x200},
	} {
		c := wire.NewConn(newScriptConn(tc.in), cfg)
		_, err := c.ReadFrame()
		var ftl *wire.FrameTooLargeError
		if !errors.As(err, &ftl) || ftl.Size != tc.size {
			t.Fatalf("%s: %v, want a FrameTooLargeError of %d bytes", tc.name, err, tc.size)
		}
		if _, err2 := c.ReadFrame(); err2 != err {
			t.Fatalf("%s: ReadFrame before SkipFrame = %v, want the same error", tc.name, err2)
		}
		if err := c.SkipFrame(); err != nil {
			t.Fatalf("%s: SkipFrame: %v", tc.name, err)
		}
		if p, err := c.ReadFrame(); err != nil || string(p) != "next" {
			t.Fatalf("%s: after SkipFrame: %q, %v", tc.name, p, err)
		}
		if wire.ReadBufferCap(c) != 0 {
			t.Fatalf("%s: allocated a %d-byte buffer", tc.name, wire.ReadBufferCap(c))
		}
		if err := c.SkipFrame(); err != nil {
			t.Fatalf("%s: SkipFrame with nothing to skip: %v", tc.name, err)
		}
	}

	c := wire.NewConn(newScriptConn(cat(unhex("00001000"), payload(100))), cfg)
	if _, err := c.ReadFrame(); !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Fatal(err)
	}
	if err := c.SkipFrame(); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated: SkipFrame = %v, want io.ErrUnexpectedEOF", err)
	}

	c = wire.NewConn(newScriptConn(unhex("fffffffe")), cfg)
	_, err := c.ReadFrame()
	if err2 := c.SkipFrame(); !errors.Is(err, wire.ErrBadFrame) || err2 != err {
		t.Fatalf("bad length: SkipFrame = %v after %v, want the sticky error", err2, err)
	}
}

// A read deadline that expires while SkipFrame waits does not lose its
// place: the next call goes on, and the frame after it reads whole.
func TestSkipFrameResumes(t *testing.T) {
	t.Parallel()
	a, b := listenPair(t, "unix", t.TempDir()+"/s")
	r := wire.NewConn(b, &wire.Config{MaxFrame: 100})
	full := frame(payload(50000), []byte("next"))
	cut := 4 + 20000
	next := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		_, err := a.Write(full[:cut])
		if err == nil {
			<-next
			_, err = a.Write(full[cut:])
		}
		errc <- err
	}()
	if _, err := r.ReadFrame(); !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Fatal(err)
	}
	r.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if err := r.SkipFrame(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("SkipFrame = %v, want a timeout", err)
	}
	r.SetReadDeadline(time.Time{})
	close(next)
	if err := r.SkipFrame(); err != nil {
		t.Fatalf("SkipFrame after the timeout: %v", err)
	}
	if p, err := r.ReadFrame(); err != nil || string(p) != "next" {
		t.Fatalf("after SkipFrame: %q, %v", p, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
