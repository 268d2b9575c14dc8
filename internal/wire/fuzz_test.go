package wire_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/procshare/procshare/internal/wire"
)

const fuzzMaxFrame = 1 << 16

// FuzzReadFrame feeds arbitrary bytes to ReadFrame, skipping frames over
// the limit with SkipFrame: it never panics, never returns a frame over the
// limit, never keeps a buffer larger than the limit, fails only with the
// documented errors, and what it read re-encodes and reads back unchanged.
func FuzzReadFrame(f *testing.F) {
	for _, g := range goldenFrames {
		f.Add(unhex(g.wire))
	}
	f.Add(frame([]byte("a"), []byte("bc"), payload(20000)))
	f.Add(unhex("ffffffff 0000000000000003 616263"))
	f.Add(unhex("ffffffff ffffffffffffffff"))
	f.Add(unhex("fffffffe"))
	f.Add(unhex("00010001"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := wire.NewConn(newScriptConn(data), &wire.Config{MaxFrame: fuzzMaxFrame})
		var frames [][]byte
		var err error
		for {
			var p []byte
			if p, err = c.ReadFrame(); errors.Is(err, wire.ErrFrameTooLarge) {
				// Skip it; reading goes on with the next frame.
				if err = c.SkipFrame(); err == nil {
					continue
				}
			}
			if err != nil {
				break
			}
			if len(p) > fuzzMaxFrame {
				t.Fatalf("frame of %d bytes over the limit", len(p))
			}
			frames = append(frames, bytes.Clone(p))
		}
		if wire.ReadBufferCap(c) > fuzzMaxFrame {
			t.Fatalf("kept a %d-byte buffer", wire.ReadBufferCap(c))
		}
		switch {
		case err == io.EOF, err == io.ErrUnexpectedEOF,
			errors.Is(err, wire.ErrFrameTooLarge), errors.Is(err, wire.ErrBadFrame):
		default:
			t.Fatalf("unexpected error %v", err)
		}
		sc := newScriptConn(nil)
		w := wire.NewConn(sc, nil)
		for i, p := range frames {
			if i%2 == 0 {
				err = w.WriteFrame(p)
			} else {
				err = w.BufferFrame(p)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		r := wire.NewConn(newScriptConn(sc.out.Bytes()), &wire.Config{MaxFrame: fuzzMaxFrame})
		for i, want := range frames {
			if p, err := r.ReadFrame(); err != nil || !bytes.Equal(p, want) {
				t.Fatalf("frame %d read back as %q, %v; want %q", i, p, err, want)
			}
		}
		if _, err := r.ReadFrame(); err != io.EOF {
			t.Fatalf("after the frames: %v", err)
		}
	})
}

// handshakeSeeds are whole, valid peer transcripts for one role: for the
// server role, an answer to our (fixed) challenge, a challenge and a
// verdict; for the client role, a challenge, a verdict and an answer.
func handshakeSeeds(server bool) [][]byte {
	var seeds [][]byte
	for _, a := range goldenAnswers {
		for _, r := range goldenResponses {
			peerChallenge := cat([]byte("#CHALLENGE#"), r.message)
			if server {
				seeds = append(seeds, frame(a.answer, peerChallenge, welcome))
			} else {
				seeds = append(seeds, frame(peerChallenge, welcome, a.answer))
			}
		}
	}
	return seeds
}

// fuzzHandshake runs one handshake role against the peer bytes data and
// checks the invariants: no panic, only documented errors, no buffer
// beyond the handshake limit, every written frame at most 256 bytes, and on
// success a transcript that really authenticated.
func fuzzHandshake(t *testing.T, server bool, data []byte) {
	sc := newScriptConn(data)
	c := wire.NewConn(sc, nil)
	wire.SetRandom(c, bytes.NewReader(random40))
	var err error
	if server {
		err = wire.ServerHandshake(c, goldenKey)
	} else {
		err = wire.ClientHandshake(c, goldenKey)
	}
	switch {
	case err == nil, errors.Is(err, wire.ErrAuthFailed), errors.Is(err, wire.ErrBadHandshake),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
	default:
		t.Fatalf("unexpected error %v", err)
	}
	if wire.ReadBufferCap(c) != 0 {
		t.Fatalf("allocated a %d-byte frame buffer during the handshake", wire.ReadBufferCap(c))
	}
	out := wire.NewConn(newScriptConn(sc.out.Bytes()), &wire.Config{MaxFrame: 256})
	var written [][]byte
	for {
		p, rerr := out.ReadFrame()
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			t.Fatalf("wrote a bad frame: %v", rerr)
		}
		written = append(written, bytes.Clone(p))
	}
	if err == nil {
		// Success needs our challenge, a #WELCOME# each way and an answer.
		if len(written) != 3 || !bytes.Contains(sc.out.Bytes(), challenge) {
			t.Fatalf("succeeded after writing %q", written)
		}
	}
}

// FuzzServerHandshake feeds arbitrary client bytes to ServerHandshake.
func FuzzServerHandshake(f *testing.F) {
	for _, s := range handshakeSeeds(true) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzHandshake(t, true, data) })
}

// FuzzClientHandshake feeds arbitrary server bytes to ClientHandshake.
func FuzzClientHandshake(f *testing.F) {
	for _, s := range handshakeSeeds(false) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzHandshake(t, false, data) })
}

// timeoutErr is what a net.Conn read returns when its deadline expires.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// choppyConn delivers its input in pieces whose sizes come from schedule,
// with a timeout error after every piece: the worst a network can do to a
// reader whose caller uses deadlines.
type choppyConn struct {
	scriptConn
	data     []byte
	schedule []byte
	step     int
	timedOut bool
}

func (c *choppyConn) Read(p []byte) (int, error) {
	if c.step >= maxChops && len(c.data) > 0 { // keep each run cheap: the rest arrives whole
		n := copy(p, c.data)
		c.data = c.data[n:]
		return n, nil
	}
	if !c.timedOut && c.step > 0 {
		c.timedOut = true
		return 0, timeoutErr{}
	}
	c.timedOut = false
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(c.schedule) > 0 {
		n = int(c.schedule[c.step%len(c.schedule)])*97 + 1
	}
	c.step++
	n = min(n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// maxChops bounds the pieces (and timeouts) of one choppyConn.
const maxChops = 256

// FuzzReadFrameInterrupted: a ReadFrame interrupted by timeouts at any
// point, and retried, returns exactly the frames an uninterrupted reader
// returns.
func FuzzReadFrameInterrupted(f *testing.F) {
	f.Add([]byte{0}, frame([]byte("a"), []byte("bc")))
	f.Add([]byte{1, 200, 3}, frame(payload(20000), []byte("x"), payload(17000)))
	f.Add([]byte{255}, unhex("ffffffff 0000000000000003 616263 00000000"))
	f.Fuzz(func(t *testing.T, schedule, data []byte) {
		data = data[:min(len(data), 1<<16)] // bound the cost of one run
		want := wire.NewConn(newScriptConn(data), &wire.Config{MaxFrame: fuzzMaxFrame})
		cc := &choppyConn{data: data, schedule: schedule}
		got := wire.NewConn(cc, &wire.Config{MaxFrame: fuzzMaxFrame})
		for i := 0; ; i++ {
			wp, werr := want.ReadFrame()
			var gp []byte
			var gerr error
			for {
				gp, gerr = got.ReadFrame()
				var te timeoutErr
				if !errors.As(gerr, &te) {
					break
				}
			}
			if !bytes.Equal(wp, gp) || (werr == nil) != (gerr == nil) {
				t.Fatalf("frame %d: interrupted reader got %q, %v; want %q, %v", i, gp, gerr, wp, werr)
			}
			if werr != nil {
				if werr != gerr && !(errors.Is(werr, wire.ErrFrameTooLarge) && errors.Is(gerr, wire.ErrFrameTooLarge)) &&
					!(errors.Is(werr, wire.ErrBadFrame) && errors.Is(gerr, wire.ErrBadFrame)) {
					t.Fatalf("frame %d: error %v, want %v", i, gerr, werr)
				}
				return
			}
		}
	})
}
