package wire_test

import (
	"net"
	"strconv"
	"testing"

	"github.com/procshare/procshare/internal/wire"
)

// BenchmarkFrameRoundTrip: WriteFrame, then ReadFrame of the echo, against
// an echoing goroutine over a Unix socket pair in this process.
func BenchmarkFrameRoundTrip(b *testing.B) {
	for _, n := range []int{64, 4096, 65536, 1 << 20} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			a, p := listenPair(b, "unix", b.TempDir()+"/s")
			go echoFrames(wire.NewConn(p, nil))
			c := wire.NewConn(a, nil)
			msg := payload(n)
			b.SetBytes(int64(2 * n))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.WriteFrame(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := c.ReadFrame(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			a.Close()
		})
	}
}

// BenchmarkPipelined: 16 frames coalesced with BufferFrame+Flush, then 16
// replies read; one op is one frame.
func BenchmarkPipelined(b *testing.B) {
	const depth = 16
	a, p := listenPair(b, "unix", b.TempDir()+"/s")
	go echoFramesBuffered(wire.NewConn(p, nil))
	c := wire.NewConn(a, nil)
	msg := payload(64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += depth {
		for j := 0; j < depth; j++ {
			if err := c.BufferFrame(msg); err != nil {
				b.Fatal(err)
			}
		}
		if err := c.Flush(); err != nil {
			b.Fatal(err)
		}
		for j := 0; j < depth; j++ {
			if _, err := c.ReadFrame(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	a.Close()
}

func echoFrames(c *wire.Conn) {
	defer c.Close()
	for {
		p, err := c.ReadFrame()
		if err != nil {
			return
		}
		if err := c.WriteFrame(p); err != nil {
			return
		}
	}
}

// echoFramesBuffered answers like a pipelining server: replies are
// buffered while more requests are already in, and flushed when not.
func echoFramesBuffered(c *wire.Conn) {
	defer c.Close()
	for {
		p, err := c.ReadFrame()
		if err != nil {
			return
		}
		if err := c.BufferFrame(p); err != nil {
			return
		}
		if c.Buffered() == 0 {
			if err := c.Flush(); err != nil {
				return
			}
		}
	}
}

// BenchmarkHandshake: one ServerHandshake + ClientHandshake pair over a
// fresh net.Pipe: the CPU cost of the handshake that every CPython
// create/incref/decref connection pays (six frames, four HMACs).
func BenchmarkHandshake(b *testing.B) {
	key := []byte("benchmark key")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		a, p := net.Pipe()
		errc := make(chan error, 1)
		go func() { errc <- wire.ServerHandshake(wire.NewConn(p, nil), key) }()
		if err := wire.ClientHandshake(wire.NewConn(a, nil), key); err != nil {
			b.Fatal(err)
		}
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		a.Close()
		p.Close()
	}
}

// BenchmarkSetQuickAck: the cost of the per-read setsockopt a TCP server
// pays.
func BenchmarkSetQuickAck(b *testing.B) {
	a, _ := listenPair(b, "tcp", "127.0.0.1:0")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := wire.SetQuickAck(a); err != nil {
			b.Fatal(err)
		}
	}
}
