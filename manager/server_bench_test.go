package manager_test

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/procshare/procshare/internal/wire"
	"github.com/procshare/procshare/pickle"
)

// benchReq pre-encodes one request.
func benchReq(b *testing.B, ident pickle.Value, method string, args ...pickle.Value) []byte {
	data, err := pickle.Marshal(pickle.Tuple{ident, method, pickle.Tuple(args), pickle.NewDict()})
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkServerRoundTrip measures one object call (request written,
// reply read) against the server over a Unix socket, the way a CPython or
// Go client makes it, and the same framing echoed by a bare Go server
// (the floor: socket ping-pong with wire framing).
func BenchmarkServerRoundTrip(b *testing.B) {
	b.Run("echo-floor", func(b *testing.B) {
		dir, _ := os.MkdirTemp("", "psb")
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "e.sock")
		ln, err := net.Listen("unix", path)
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		go func() {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wc := wire.NewConn(nc, nil)
			for {
				f, err := wc.ReadFrame()
				if err != nil {
					return
				}
				if wc.WriteFrame(f) != nil {
					return
				}
			}
		}()
		nc, err := net.Dial("unix", path)
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		wc := wire.NewConn(nc, nil)
		req := benchReq(b, "7f0000000010", "get", "key")
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			wc.WriteFrame(req)
			if _, err := wc.ReadFrame(); err != nil {
				b.Fatal(err)
			}
		}
	})
	ts := startStServer(b, "unix", nil)
	d, _ := ts.create("dict")
	v, _ := ts.create("Value", "i", int64(0))
	l, _ := ts.create("Lock")
	o := ts.stObj()
	o.must(d, "__setitem__", "key", "value")
	for _, c := range []struct {
		name string
		req  []byte
	}{
		{"dict.get", benchReq(b, d, "get", "key")},
		{"dict.ps_incr", benchReq(b, d, "ps_incr", "n")},
		{"Value.get", benchReq(b, v, "get")},
		{"Value.ps_add", benchReq(b, v, "ps_add", int64(1))},
		{"Lock.acquire+release", nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			acq, rel := benchReq(b, l, "acquire"), benchReq(b, l, "release")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				reqs := [][]byte{c.req}
				if c.req == nil {
					reqs = [][]byte{acq, rel}
				}
				for _, r := range reqs {
					o.wc.WriteFrame(r)
					if _, err := o.wc.ReadFrame(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
	// Pipelined: 16 requests written at once, then 16 replies read.
	b.Run("dict.get-pipelined16", func(b *testing.B) {
		req := benchReq(b, d, "get", "key")
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i += 16 {
			for j := 0; j < 16; j++ {
				o.wc.BufferFrame(req)
			}
			o.wc.Flush()
			for j := 0; j < 16; j++ {
				if _, err := o.wc.ReadFrame(); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
