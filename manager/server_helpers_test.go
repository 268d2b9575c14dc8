package manager_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/procshare/procshare/internal/wire"
	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

// This file is a minimal raw manager client built from internal/wire and
// pickle, so that the server tests see exactly the frames CPython clients
// send, independently of the Go client.

var stKey = []byte("server-test-key")

// stPipeListener is an in-memory net.Listener whose connections are
// net.Pipe pairs.
type stPipeListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newStPipeListener() *stPipeListener {
	return &stPipeListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *stPipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *stPipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *stPipeListener) Addr() net.Addr { return stPipeAddr{} }

func (l *stPipeListener) dial() (net.Conn, error) {
	a, b := net.Pipe()
	select {
	case l.ch <- b:
		return a, nil
	case <-l.done:
		return nil, errors.New("pipe listener closed")
	}
}

type stPipeAddr struct{}

func (stPipeAddr) Network() string { return "pipe" }
func (stPipeAddr) String() string  { return "pipe" }

// stServer is a running server and a way to reach it.
type stServer struct {
	t    testing.TB
	srv  *manager.Server
	dial func() (net.Conn, error)
	addr string // the listener's address as ParseAddress reads it ("" for pipes)
	key  []byte // the server's authkey
	errc chan error
}

var stTransports = []string{"pipe", "unix", "tcp"}

// startStServer runs a server with cfg (Authkey defaults to stKey) on the
// given transport until the test ends.
func startStServer(t testing.TB, transport string, cfg *manager.ServerConfig) *stServer {
	t.Helper()
	if cfg == nil {
		cfg = &manager.ServerConfig{}
	}
	if cfg.Authkey == nil {
		cfg.Authkey = stKey
	}
	srv, err := manager.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := &stServer{t: t, srv: srv, key: cfg.Authkey, errc: make(chan error, 1)}
	var ln net.Listener
	switch transport {
	case "pipe":
		pl := newStPipeListener()
		ln, ts.dial = pl, pl.dial
	case "unix":
		// Short path: sun_path holds 108 bytes, and t.TempDir is long.
		dir, derr := os.MkdirTemp("", "pst")
		if derr != nil {
			t.Fatal(derr)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		path := filepath.Join(dir, "m.sock")
		ts.addr = path
		ln, err = manager.Listen(manager.Address{Network: "unix", Addr: path})
		ts.dial = func() (net.Conn, error) { return net.Dial("unix", path) }
	case "tcp":
		ln, err = manager.Listen(manager.Address{Network: "tcp", Addr: "127.0.0.1:0"})
		if err == nil {
			addr := ln.Addr().String()
			ts.addr = addr
			ts.dial = func() (net.Conn, error) { return net.Dial("tcp", addr) }
		}
	default:
		t.Fatalf("unknown transport %q", transport)
	}
	if err != nil {
		t.Fatal(err)
	}
	go func() { ts.errc <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		srv.Close()
		select {
		case err := <-ts.errc:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return after Close")
		}
	})
	return ts
}

// forStTransports runs f against a fresh server per transport.
func forStTransports(t *testing.T, cfg func() *manager.ServerConfig, f func(t *testing.T, ts *stServer)) {
	for _, tr := range stTransports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			var c *manager.ServerConfig
			if cfg != nil {
				c = cfg()
			}
			f(t, startStServer(t, tr, c))
		})
	}
}

// tokenAddress is the server's address as its tokens carry it: a path, a
// (host, port) tuple, or "pipe" for the in-memory listener.
func (ts *stServer) tokenAddress() pickle.Value {
	ts.t.Helper()
	if ts.addr == "" {
		return "pipe"
	}
	a, err := manager.ParseAddress(ts.addr)
	if err != nil {
		ts.t.Fatal(err)
	}
	if a.Network == "tcp" {
		host, port, err := net.SplitHostPort(a.Addr)
		if err != nil {
			ts.t.Fatal(err)
		}
		p, err := strconv.ParseInt(port, 10, 64)
		if err != nil {
			ts.t.Fatal(err)
		}
		return pickle.Tuple{host, p}
	}
	return a.Addr
}

// proxyValue is a pickled proxy of one of the server's objects.
func (ts *stServer) proxyValue(fn, typeid, id string) pickle.Value {
	ts.t.Helper()
	return proxyValue(ts.tokenAddress(), fn, typeid, id)
}

// stConn is one authenticated connection.
type stConn struct {
	t  testing.TB
	nc net.Conn
	wc *wire.Conn
}

func (ts *stServer) conn() *stConn {
	ts.t.Helper()
	return ts.connKey(ts.key)
}

func (ts *stServer) connKey(key []byte) *stConn {
	ts.t.Helper()
	nc, err := ts.dial()
	if err != nil {
		ts.t.Fatal(err)
	}
	wc := wire.NewConn(nc, nil)
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := wire.ClientHandshake(wc, key); err != nil {
		nc.Close()
		ts.t.Fatalf("handshake: %v", err)
	}
	nc.SetDeadline(time.Time{})
	rc := &stConn{t: ts.t, nc: nc, wc: wc}
	ts.t.Cleanup(func() { nc.Close() })
	return rc
}

func pyKw(kv ...any) *pickle.Dict {
	d := pickle.NewDict()
	for i := 0; i+1 < len(kv); i += 2 {
		d.Set(kv[i], kv[i+1])
	}
	return d
}

// send writes one request.
func (r *stConn) send(ident pickle.Value, method string, args pickle.Tuple, kw *pickle.Dict) {
	r.t.Helper()
	if args == nil {
		args = pickle.Tuple{}
	}
	if kw == nil {
		kw = pickle.NewDict()
	}
	data, err := pickle.Marshal(pickle.Tuple{ident, method, args, kw})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.wc.WriteFrame(data); err != nil {
		r.t.Fatalf("send %s: %v", method, err)
	}
}

// recv reads one reply.
func (r *stConn) recv() (string, pickle.Value) {
	r.t.Helper()
	frame, err := r.wc.ReadFrame()
	if err != nil {
		r.t.Fatalf("recv: %v", err)
	}
	v, err := pickle.Unmarshal(frame)
	if err != nil {
		r.t.Fatalf("recv: %v", err)
	}
	t, ok := v.(pickle.Tuple)
	if !ok || len(t) != 2 {
		r.t.Fatalf("reply %s is not a 2-tuple", pickle.Repr(v))
	}
	return t[0].(string), t[1]
}

func (r *stConn) call(ident pickle.Value, method string, args pickle.Tuple, kw *pickle.Dict) (string, pickle.Value) {
	r.t.Helper()
	r.send(ident, method, args, kw)
	return r.recv()
}

// server makes a one-shot management call.
func (ts *stServer) server(method string, args ...pickle.Value) (string, pickle.Value) {
	ts.t.Helper()
	c := ts.conn()
	defer c.nc.Close()
	return c.call(nil, method, pickle.Tuple(args), nil)
}

// mustServer is server that fails the test unless the reply is #RETURN.
func (ts *stServer) mustServer(method string, args ...pickle.Value) pickle.Value {
	ts.t.Helper()
	kind, v := ts.server(method, args...)
	if kind != "#RETURN" {
		ts.t.Fatalf("%s%s: %s %s", method, pickle.Repr(pickle.Tuple(args)), kind, pickle.Repr(v))
	}
	return v
}

// create makes an object and returns its id and exposed pyList.
func (ts *stServer) create(typeid string, args ...pickle.Value) (string, []string) {
	ts.t.Helper()
	v := ts.mustServer("create", append([]pickle.Value{typeid}, args...)...)
	tup := v.(pickle.Tuple)
	var exposed []string
	for _, n := range tup[1].(pickle.Tuple) {
		exposed = append(exposed, n.(string))
	}
	return tup[0].(string), exposed
}

// createKw is create with keyword arguments.
func (ts *stServer) createKw(typeid string, args pickle.Tuple, kw *pickle.Dict) (string, pickle.Value) {
	ts.t.Helper()
	c := ts.conn()
	defer c.nc.Close()
	kind, v := c.call(nil, "create", append(pickle.Tuple{typeid}, args...), kw)
	if kind != "#RETURN" {
		return "", v
	}
	return v.(pickle.Tuple)[0].(string), nil
}

// stObj opens an object connection (accept_connection).
func (ts *stServer) stObj() *stObj {
	ts.t.Helper()
	c := ts.conn()
	kind, v := c.call(nil, "accept_connection", pickle.Tuple{"MainProcess"}, pickle.NewDict())
	if kind != "#RETURN" || v != nil {
		ts.t.Fatalf("accept_connection: %s %s", kind, pickle.Repr(v))
	}
	return &stObj{c}
}

// stObjPS opens an object connection with ps=True and returns its id.
func (ts *stServer) stObjPS() (*stObj, string) {
	ts.t.Helper()
	c := ts.conn()
	kind, v := c.call(nil, "accept_connection", pickle.Tuple{"Go"}, pyKw("ps", true))
	id, ok := v.(string)
	if kind != "#RETURN" || !ok {
		ts.t.Fatalf("accept_connection(ps=True): %s %s", kind, pickle.Repr(v))
	}
	return &stObj{c}, id
}

type stObj struct{ *stConn }

// do calls a method and returns the reply.
func (o *stObj) do(id, method string, args ...pickle.Value) (string, pickle.Value) {
	o.t.Helper()
	return o.call(id, method, pickle.Tuple(args), nil)
}

// doKw calls with keywords.
func (o *stObj) doKw(id, method string, args pickle.Tuple, kw *pickle.Dict) (string, pickle.Value) {
	o.t.Helper()
	return o.call(id, method, args, kw)
}

// must calls and requires '#RETURN', returning the value.
func (o *stObj) must(id, method string, args ...pickle.Value) pickle.Value {
	o.t.Helper()
	kind, v := o.do(id, method, args...)
	if kind != "#RETURN" {
		o.t.Fatalf("%s%s: %s %s", method, pickle.Repr(pickle.Tuple(args)), kind, pyRepr(v))
	}
	return v
}

// stWantExc requires an '#ERROR' of the given class (module.Name or Name for
// builtins) and message (checked when non-empty).
func stWantExc(t testing.TB, kind string, v pickle.Value, class, msg string) {
	t.Helper()
	if kind != "#ERROR" {
		t.Fatalf("got %s %s, want #ERROR %s", kind, pyRepr(v), class)
	}
	o, ok := v.(*pickle.Object)
	if !ok {
		t.Fatalf("#ERROR payload %s is not an exception", pyRepr(v))
	}
	g := o.Callable.(pickle.Global)
	name := g.Name
	if g.Module != "builtins" {
		name = g.Module + "." + g.Name
	}
	if name != class {
		t.Fatalf("got exception %s%s, want %s", name, pyRepr(o.Args), class)
	}
	if msg != "" {
		if len(o.Args) != 1 || pickle.Str(o.Args[0]) != msg {
			t.Fatalf("got %s%s, want message %q", name, pyRepr(o.Args), msg)
		}
	}
}

// stWantTB requires a '#TRACEBACK' whose text contains want.
func stWantTB(t testing.TB, kind string, v pickle.Value, want string) {
	t.Helper()
	s, ok := v.(string)
	if kind != "#TRACEBACK" || !ok {
		t.Fatalf("got %s %s, want #TRACEBACK containing %q", kind, pyRepr(v), want)
	}
	if !strings.HasPrefix(s, "Traceback (most recent call last):\n") || !strings.Contains(s, want) {
		t.Fatalf("traceback %q does not contain %q", s, want)
	}
}

func pyRepr(v pickle.Value) string { return pickle.Repr(v) }

// pyEq compares with Python ==.
func pyEq(t testing.TB, got, want pickle.Value) {
	t.Helper()
	if !pickle.Equal(got, want) {
		t.Fatalf("got %s, want %s", pyRepr(got), pyRepr(want))
	}
}

func pyList(items ...pickle.Value) *pickle.List { return &pickle.List{Items: items} }

// clientHandshake authenticates nc with key.
func clientHandshake(nc net.Conn, key []byte) error {
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	defer nc.SetDeadline(time.Time{})
	return wire.ClientHandshake(wire.NewConn(nc, nil), key)
}
