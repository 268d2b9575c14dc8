package wire_test

import (
	"bytes"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// transport makes a connected pair of net.Conns; every framing and
// handshake test runs over each of them (yamux's testConnPipe/TCP style).
type transport struct {
	name string
	pair func(t testing.TB) (net.Conn, net.Conn)
}

var transports = []transport{
	{"pipe", func(t testing.TB) (net.Conn, net.Conn) {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		return a, b
	}},
	{"unix", func(t testing.TB) (net.Conn, net.Conn) {
		return listenPair(t, "unix", filepath.Join(t.TempDir(), "s"))
	}},
	{"tcp", func(t testing.TB) (net.Conn, net.Conn) {
		return listenPair(t, "tcp", "127.0.0.1:0")
	}},
}

// listenPair dials a fresh listener and returns (dialled, accepted).
func listenPair(t testing.TB, network, addr string) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		ch <- result{c, err}
	}()
	a, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { a.Close(); r.c.Close() })
	return a, r.c
}

// forEachTransport runs f as a parallel subtest per transport.
func forEachTransport(t *testing.T, f func(t *testing.T, a, b net.Conn)) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			a, b := tr.pair(t)
			f(t, a, b)
		})
	}
}

// scriptConn is a net.Conn that reads canned bytes and records what is
// written to it; Writes counts the write calls.
type scriptConn struct {
	in     io.Reader
	out    bytes.Buffer
	Writes int
}

func newScriptConn(in []byte) *scriptConn { return &scriptConn{in: bytes.NewReader(in)} }

func (c *scriptConn) Read(p []byte) (int, error)       { return c.in.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error)      { c.Writes++; return c.out.Write(p) }
func (c *scriptConn) Close() error                     { return nil }
func (c *scriptConn) LocalAddr() net.Addr              { return scriptAddr{} }
func (c *scriptConn) RemoteAddr() net.Addr             { return scriptAddr{} }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

type scriptAddr struct{}

func (scriptAddr) Network() string { return "script" }
func (scriptAddr) String() string  { return "script" }

// frame encodes payloads as short-form frames, independently of the code
// under test.
func frame(payloads ...[]byte) []byte {
	var b []byte
	for _, p := range payloads {
		n := len(p)
		b = append(b, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		b = append(b, p...)
	}
	return b
}
