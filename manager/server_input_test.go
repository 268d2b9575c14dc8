package manager_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/procshare/procshare/internal/wire"
	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

// proxyValue is what a CPython client pickles for a proxy of object id of
// the manager at address (a pickled address: (host, port) or a path)
// nested in a value: RebuildProxy(func, Token(typeid, address, id),
// 'pickle', kwds).
func proxyValue(address pickle.Value, fn, typeid, id string) pickle.Value {
	tok := &pickle.Object{Callable: pickle.Global{Module: "multiprocessing.managers", Name: "Token"},
		Args: pickle.Tuple{}, New: true, HasState: true,
		State: pickle.Tuple{typeid, address, id}}
	kw := pickle.NewDict()
	if fn == "AutoProxy" {
		kw.Set("exposed", pickle.Tuple{"get", "put"})
	}
	return &pickle.Object{Callable: pickle.Global{Module: "multiprocessing.managers", Name: "RebuildProxy"},
		Args: pickle.Tuple{pickle.Global{Module: "multiprocessing.managers", Name: fn}, tok, "pickle", kw}}
}

func TestServerNestedProxies(t *testing.T) {
	defer manager.SetLingerDelayForTest(20 * time.Millisecond)()
	ts := startStServer(t, "pipe", nil)
	o := ts.stObj()
	inner, _ := ts.create("list", pyList(int64(1)))
	q, _ := ts.create("Queue")
	pInner, pQ := ts.proxyValue("ListProxy", "list", inner), ts.proxyValue("AutoProxy", "Queue", q)
	outer, _ := ts.create("list", pyList(pInner))
	o.must(outer, "append", pQ)
	o.must(outer, "append", ts.proxyValue("ListProxy", "list", outer)) // itself
	// The clients' references go; the nested ones keep the objects alive.
	ts.mustServer("decref", inner)
	ts.mustServer("decref", q)
	pyEq(t, ts.mustServer("number_of_objects"), int64(1))
	pyEq(t, o.must(inner, "__len__"), int64(1))
	o.must(q, "put", "x")
	// Reads re-emit the exact value.
	pyEq(t, o.must(outer, "__getitem__", int64(0)), pInner)
	pyEq(t, o.must(outer, "__getitem__", int64(1)), pQ)
	// decref of an internally held id is ignored; incref revives it.
	ts.mustServer("decref", inner)
	ts.mustServer("incref", inner)
	pyEq(t, ts.mustServer("number_of_objects"), int64(2))
	ts.mustServer("decref", inner)
	// Taking the queue out of the list: it lingers, then goes.
	pyEq(t, o.must(outer, "pop", int64(1)), pQ)
	deadline := time.Now().Add(10 * time.Second)
	for {
		kind, _ := o.do(q, "qsize")
		if kind == "#TRACEBACK" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the queue taken out of the list was never freed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Freeing the outer list releases what it held.
	ts.mustServer("decref", outer)
	pyEq(t, ts.mustServer("number_of_objects"), int64(0))
	// outer holds itself, so it stays reachable, like CPython's.
	pyEq(t, o.must(inner, "__len__"), int64(1))
	// Nested proxies in create arguments, dict values and Namespace attributes.
	d, _ := ts.createKw("dict", nil, pyKw("pets", pInner))
	pyEq(t, o.must(d, "__getitem__", "pets"), pInner)
}

func TestServerNamedObject(t *testing.T) {
	ts := startStServer(t, "unix", &manager.ServerConfig{
		Expose: []manager.ExposedObject{{Name: "get_queue", TypeID: "Queue", Args: []pickle.Value{int64(1)}}},
	})
	id1, exposed := ts.create("get_queue")
	id2, _ := ts.create("get_queue")
	if id1 != id2 || len(exposed) < 10 || exposed[2] != "get" {
		t.Fatalf("named object: %s %s %v", id1, id2, exposed)
	}
	pyEq(t, ts.mustServer("number_of_objects"), int64(1))
	o := ts.stObj()
	o.must(id1, "put", int64(1))
	kind, v := o.do(id1, "put_nowait", int64(2))
	stWantExc(t, kind, v, "queue.Full", "")
	ts.mustServer("decref", id1)
	ts.mustServer("decref", id2)
	pyEq(t, ts.mustServer("number_of_objects"), int64(0))
	// It lives on with the server.
	id3, _ := ts.create("get_queue")
	pyEq(t, id3, id1)
	pyEq(t, o.must(id3, "get"), int64(1))
	kind, v = ts.server("create", "get_queue", int64(1))
	stWantTB(t, kind, v, "TypeError")
}

// frame returns p with its 4-byte length header.
func frame(p []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(p)))
	return append(out, p...)
}

// expectClosed waits for the server to close c.
func expectClosed(t *testing.T, c *stConn) {
	t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, err := c.wc.ReadFrame(); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the server did not close the connection")
			}
			return
		}
	}
}

func TestServerBadInput(t *testing.T) {
	// A small budget: the repr of the bomb below is built within it.
	forStTransports(t, func() *manager.ServerConfig { return &manager.ServerConfig{MaxFrame: 1 << 16, MaxMemory: 32 << 20} },
		func(t *testing.T, ts *stServer) {
			// Garbage pickle as a management request: #TRACEBACK, closed.
			c := ts.conn()
			c.wc.WriteFrame([]byte("\x80\x04garbage"))
			kind, v := c.recv()
			stWantTB(t, kind, v, "cannot unpickle request")
			expectClosed(t, c)

			// Not a 4-tuple, wrong types.
			for _, req := range []pickle.Value{
				int64(1), pickle.Tuple{nil, "create"}, pickle.Tuple{nil, int64(5), pickle.Tuple{}, nil},
				pickle.Tuple{nil, "create", int64(3), pickle.NewDict()},
				pickle.Tuple{nil, "create", pickle.Tuple{"list"}, pyKw(int64(1), int64(2))},
				pickle.Tuple{nil, "incref", pickle.Tuple{}, pickle.NewDict()},
				pickle.Tuple{nil, "create", pickle.Tuple{pyList()}, pickle.NewDict()},
			} {
				c := ts.conn()
				data, _ := pickle.Marshal(req)
				c.wc.WriteFrame(data)
				kind, _ := c.recv()
				if kind != "#TRACEBACK" {
					t.Fatalf("request %s: %s", pyRepr(req), kind)
				}
			}

			// Object connection: garbage frames get #TRACEBACK and the
			// connection goes on.
			id, _ := ts.create("list")
			o := ts.stObj()
			o.wc.WriteFrame([]byte{0xff, 0x00})
			kind, v = o.recv()
			stWantTB(t, kind, v, "cannot unpickle")
			o.wc.WriteFrame(nil)
			kind, _ = o.recv()
			pyEq(t, kind, "#TRACEBACK")
			kind, v = o.do(id, "append", int64(1), int64(2), int64(3))
			stWantExc(t, kind, v, "TypeError", "")
			kind, v = o.do(id, "__getitem__", pickle.Global{Module: "os", Name: "system"})
			stWantExc(t, kind, v, "TypeError", "")
			pyEq(t, o.must(id, "__len__"), int64(0))

			// Oversized frame: skipped and answered (see
			// TestServerOversizedRequest), then closed as any
			// management connection.
			c = ts.conn()
			c.wc.WriteFrame(make([]byte, 1<<20))
			kind, v = c.recv()
			stWantExc(t, kind, v, "ValueError", "")
			expectClosed(t, c)
			// Truncated frame, then EOF.
			c = ts.conn()
			c.nc.Write(frame([]byte("\x80\x04\x95"))[:5])
			c.nc.Close()
			// A negative length.
			c = ts.conn()
			c.nc.Write([]byte{0x80, 0, 0, 0})
			expectClosed(t, c)

			// Pickle bomb: lists sharing one another 2^60 ways, and a
			// huge count of items; the decoder's limits or shared
			// structure keep the server fine.
			var bomb bytes.Buffer
			bomb.WriteString("\x80\x04]\x940")
			for i := 0; i < 60; i++ {
				fmt.Fprintf(&bomb, "(h%ch%cl\x940", byte(i), byte(i))
			}
			fmt.Fprintf(&bomb, "h%c.", byte(60))
			req := append([]byte("\x80\x04(\x8c"), byte(len(id)))
			req = append(req, id...)
			req = append(req, "\x8c\x06append"...)
			req = append(req, bomb.Bytes()[2:bomb.Len()-1]...)
			req = append(req, "\x85}t."...)
			o.wc.WriteFrame(req)
			kind, v = o.recv()
			if kind != "#RETURN" {
				t.Fatalf("bomb: %s %s", kind, pyRepr(v))
			}
			// Its repr has 2^60 parts: MemoryError, as CPython would
			// end, once the memory budget is spent.
			kind, v = o.do(id, "__repr__")
			stWantExc(t, kind, v, "MemoryError", "")
			if msg := pickle.Str(v.(*pickle.Object).Args[0]); !strings.Contains(msg, "memory budget of 33554432 bytes (--max-memory)") {
				t.Errorf("MemoryError(%q)", msg)
			}
			o.must(id, "__contains__", int64(5))

			// Wrong authkey: closed; the server keeps serving.
			nc, err := ts.dial()
			if err != nil {
				t.Fatal(err)
			}
			if err := clientHandshake(nc, []byte("nope")); err == nil {
				t.Fatal("wrong key accepted")
			}
			nc.Close()
			// Garbage instead of a handshake answer.
			nc, _ = ts.dial()
			wc := wire.NewConn(nc, nil)
			wc.ReadFrame()
			wc.WriteFrame(bytes.Repeat([]byte{0xaa}, 300))
			io.Copy(io.Discard, nc)
			nc.Close()

			pyEq(t, ts.mustServer("number_of_objects"), int64(1))
			pyEq(t, o.must(id, "__len__"), int64(1))
		})
}

// TestServerManyConnections opens 200 object connections at once (the
// seed's 100 processes with two proxies each), all incrementing a Value
// under one Lock.
func TestServerManyConnections(t *testing.T) {
	n := 200
	if testing.Short() {
		n = 100
	}
	for _, tr := range []string{"unix", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			ts := startStServer(t, tr, nil)
			lock, _ := ts.create("Lock")
			val, _ := ts.create("Value", "i", int64(0))
			var wg sync.WaitGroup
			errc := make(chan error, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					nc, err := ts.dial()
					if err != nil {
						errc <- err
						return
					}
					defer nc.Close()
					wc := wire.NewConn(nc, nil)
					if err := wire.ClientHandshake(wc, stKey); err != nil {
						errc <- err
						return
					}
					call := func(id pickle.Value, m string, args ...pickle.Value) (pickle.Value, error) {
						return rawCall(wc, id, m, args...)
					}
					if _, err := call(nil, "accept_connection", "p"); err != nil {
						errc <- err
						return
					}
					for _, step := range []func() error{
						func() error { _, err := call(lock, "acquire"); return err },
						func() error {
							v, err := call(val, "get")
							if err != nil {
								return err
							}
							_, err = call(val, "set", v.(int64)+1)
							return err
						},
						func() error { _, err := call(lock, "release"); return err },
					} {
						if err := step(); err != nil {
							errc <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				t.Fatal(err)
			}
			o := ts.stObj()
			pyEq(t, o.must(val, "get"), int64(n))
		})
	}
}

// TestServerRecoversPanics: a panicking handler answers its request with
// a '#TRACEBACK' and the connection and server go on.
func TestServerRecoversPanics(t *testing.T) {
	ts := startStServer(t, "pipe", nil)
	id, _ := ts.create("psTestPanic")
	o := ts.stObj()
	kind, v := o.do(id, "boom")
	stWantTB(t, kind, v, "procshare: internal error")
	kind, v = o.do(id, "__repr__")
	stWantTB(t, kind, v, "repr panics too")
	kind, v = ts.server("debug_info")
	stWantTB(t, kind, v, "repr panics too")
	l, _ := ts.create("list")
	pyEq(t, o.must(l, "__len__"), int64(0))
}

// TestServerHugeArguments: sizes a client may send must not make the
// server allocate or loop without bound.
func TestServerHugeArguments(t *testing.T) {
	ts := startStServer(t, "pipe", nil)
	o := ts.stObj()
	l, _ := ts.create("list", pyList(int64(1), int64(2), int64(3), int64(4)))
	kind, v := o.do(l, "__mul__", int64(1)<<62)
	stWantExc(t, kind, v, "MemoryError", "")
	kind, v = ts.server("create", "list", pickle.Range{Start: int64(0), Stop: int64(1) << 60, Step: int64(1)})
	stWantTB(t, kind, v, "MemoryError")
	s, _ := ts.create("Semaphore", int64(0))
	o.must(s, "release", int64(1)<<62)
	pyEq(t, o.must(s, "acquire", false), true)
	c, _ := ts.create("Condition")
	o.must(c, "acquire")
	o.must(c, "notify", int64(1)<<62)
	o.must(c, "release")
	pyEq(t, o.must(l, "ps_pop_many", int64(1)<<62), pyList(int64(1), int64(2), int64(3), int64(4)))
}
