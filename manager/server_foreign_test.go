package manager_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

// These tests run two servers, A and B, on Unix sockets: clients store
// proxies to B's objects in A's objects (FINDINGS.md F4).

// stForeignKey is B's key, which A's ForeignConfig holds: never A's own.
var stForeignKey = []byte("server-test-foreign-key")

// startForeignPair starts B, then A allowed to take references on B (and
// on the extra addresses).
func startForeignPair(t *testing.T, extra ...manager.Address) (a, b *stServer) {
	t.Helper()
	b = startStServer(t, "unix", &manager.ServerConfig{Authkey: stForeignKey})
	allow := append([]manager.Address{{Network: "unix", Addr: b.addr}}, extra...)
	a = startStServer(t, "unix", &manager.ServerConfig{
		Foreign: &manager.ForeignConfig{Authkey: stForeignKey, Allow: allow},
	})
	return a, b
}

// waitObjects polls number_of_objects until it is want, failing the test
// after a generous deadline.
func waitObjects(t *testing.T, ts *stServer, want int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := ts.mustServer("number_of_objects")
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("number_of_objects is %s, want %d", pyRepr(n), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// psInfo returns the refcount and held counts ps_info reports for id.
func psInfo(t *testing.T, ts *stServer, id string) (refcount, held int64) {
	t.Helper()
	for _, it := range ts.mustServer("ps_info").(*pickle.List).Items {
		d := it.(*pickle.Dict)
		if v, _, _ := d.Get("id"); v == id {
			r, _, _ := d.Get("refcount")
			h, _, _ := d.Get("held")
			return r.(int64), h.(int64)
		}
	}
	t.Fatalf("ps_info does not list %s", id)
	return 0, 0
}

func TestServerForeignProxyKeepsObjectAlive(t *testing.T) {
	defer manager.SetLingerDelayForTest(20 * time.Millisecond)()
	a, b := startForeignPair(t)
	oa, ob := a.stObj(), b.stObj()

	q, _ := b.create("Queue")
	pq := b.proxyValue("AutoProxy", "Queue", q)
	d, _ := a.create("dict")
	oa.must(d, "__setitem__", "q", pq)
	// The client drops its own proxy as soon as the store is answered: A's
	// reference reached B before the reply, so the queue lives on.
	b.mustServer("decref", q)
	pyEq(t, b.mustServer("number_of_objects"), int64(1))
	// A keeps no count of its own for B's object.
	pyEq(t, a.mustServer("number_of_objects"), int64(1))

	// Read back, rebuilt by a client (incref on B) and used on B.
	pyEq(t, oa.must(d, "__getitem__", "q"), pq)
	b.mustServer("incref", q)
	ob.must(q, "put", "across")
	pyEq(t, ob.must(q, "get"), "across")
	b.mustServer("decref", q)

	// A second copy shares the reference.
	oa.must(d, "__setitem__", "q2", pq)
	pyEq(t, b.mustServer("number_of_objects"), int64(1))
	// A proxy that is only an argument (not stored) is referenced for the
	// call only.
	q3, _ := b.create("Queue")
	pq3 := b.proxyValue("AutoProxy", "Queue", q3)
	pyEq(t, oa.must(d, "get", "missing", pq3), pq3)
	b.mustServer("decref", q3)
	waitObjects(t, b, 1)

	// Deleting every copy from A gives the reference back after the linger
	// delay, and B frees the queue.
	oa.must(d, "__delitem__", "q")
	oa.must(d, "__delitem__", "q2")
	waitObjects(t, b, 0)
	kind, v := ob.do(q, "qsize")
	stWantTB(t, kind, v, "KeyError")
}

func TestServerForeignProxyInCreateArgs(t *testing.T) {
	a, b := startForeignPair(t)
	l, _ := b.create("list", pyList("theirs"))
	pl := b.proxyValue("ListProxy", "list", l)
	outer, _ := a.create("list", pyList(pl))
	b.mustServer("decref", l)
	pyEq(t, b.mustServer("number_of_objects"), int64(1))
	ob := b.stObj()
	pyEq(t, ob.must(l, "__getitem__", int64(0)), "theirs")
	// Freeing the outer list on A gives the reference back at once (the
	// linger is the default 30 s, longer than waitObjects waits).
	a.mustServer("decref", outer)
	waitObjects(t, b, 0)
}

func TestServerForeignProxyGivenBackOnClose(t *testing.T) {
	a, b := startForeignPair(t)
	q, _ := b.create("Queue")
	d, _ := a.create("dict")
	a.stObj().must(d, "__setitem__", "q", b.proxyValue("AutoProxy", "Queue", q))
	b.mustServer("decref", q)
	pyEq(t, b.mustServer("number_of_objects"), int64(1))
	a.srv.Close()
	pyEq(t, b.mustServer("number_of_objects"), int64(0))
}

// TestServerForeignProxySameID: a proxy to another manager whose id equals
// one of A's own ids does not count as a reference to A's object.
func TestServerForeignProxySameID(t *testing.T) {
	a, b := startForeignPair(t)
	oa := a.stObj()
	mine, _ := a.create("list", pyList("mine"))
	d, _ := a.create("dict")
	// B has no object of that id: its incref fails (KeyError), which is
	// logged; the store still succeeds.
	foreign := b.proxyValue("ListProxy", "list", mine)
	oa.must(d, "__setitem__", "k", foreign)
	oa.must(d, "__setitem__", "k2", foreign)
	refs, held := psInfo(t, a, mine)
	if refs != 1 || held != 0 {
		t.Fatalf("local object after storing a foreign proxy with its id: refcount=%d held=%d, want 1 and 0", refs, held)
	}
	pyEq(t, oa.must(d, "__getitem__", "k"), foreign)
	oa.must(d, "__delitem__", "k")
	// The client's reference was the only one: the local list goes.
	a.mustServer("decref", mine)
	kind, v := oa.do(mine, "__len__")
	stWantTB(t, kind, v, "KeyError")
	pyEq(t, b.mustServer("number_of_objects"), int64(0))

	// A proxy of A's own object, by A's address, still holds it.
	l2, _ := a.create("list")
	oa.must(d, "__setitem__", "own", a.proxyValue("ListProxy", "list", l2))
	if _, held := psInfo(t, a, l2); held != 1 {
		t.Fatalf("own proxy: held=%d, want 1", held)
	}
}

// TestServerForeignProxyUnreachable: a proxy to a manager that is gone,
// refuses A's key, or is not a manager at all is stored and read back
// like any value, and does not hold up the call for long.
func TestServerForeignProxyUnreachable(t *testing.T) {
	defer manager.SetLingerDelayForTest(20 * time.Millisecond)()
	other := startStServer(t, "unix", &manager.ServerConfig{Authkey: []byte("another key")})
	dir, err := os.MkdirTemp("", "psf")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	notThere := filepath.Join(dir, "none.sock")
	a, _ := startForeignPair(t,
		manager.Address{Network: "unix", Addr: notThere},
		manager.Address{Network: "tcp", Addr: "127.0.0.1:1"},
		manager.Address{Network: "unix", Addr: other.addr})
	oa := a.stObj()
	d, _ := a.create("dict")
	for _, p := range []pickle.Value{
		proxyValue(notThere, "AutoProxy", "Queue", "7f0000000010"),
		proxyValue(pickle.Tuple{"127.0.0.1", int64(1)}, "AutoProxy", "Queue", "7f0000000010"),
		other.proxyValue("ListProxy", "list", "7f0000000010"),
	} {
		oa.must(d, "__setitem__", "k", p)
		pyEq(t, oa.must(d, "__getitem__", "k"), p)
		oa.must(d, "__delitem__", "k")
	}
	// The server still serves, and closes promptly.
	pyEq(t, a.mustServer("number_of_objects"), int64(1))
	a.srv.Close()
}

// listenSilent opens a Unix listener that counts the connections made to it
// without answering them.
func listenSilent(t *testing.T) (path string, dialed func() bool) {
	t.Helper()
	dir, err := os.MkdirTemp("", "psf")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path = filepath.Join(dir, "trap.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return path, func() bool {
		// A connection the server made is in the backlog already: the
		// server dials before it replies to the call that named the
		// address. An accept that finds none at once means none was made.
		ln.(*net.UnixListener).SetDeadline(time.Now())
		c, err := ln.Accept()
		if err == nil {
			c.Close()
			return true
		}
		return false
	}
}

// TestServerForeignOffByDefault: without ServerConfig.Foreign the server
// dials no address a stored proxy names (it would otherwise prove
// knowledge of a key to whoever listens there), and such a proxy is stored
// and read back as a value.
func TestServerForeignOffByDefault(t *testing.T) {
	a := startStServer(t, "unix", nil)
	b := startStServer(t, "unix", nil)
	trap, dialed := listenSilent(t)
	oa := a.stObj()
	d, _ := a.create("dict")
	pt := proxyValue(trap, "AutoProxy", "Queue", "7f0000000010")
	oa.must(d, "__setitem__", "trap", pt)
	pyEq(t, oa.must(d, "__getitem__", "trap"), pt)
	if dialed() {
		t.Fatal("the server dialed the address of a stored proxy although ServerConfig.Foreign is nil")
	}
	// A proxy to a real manager takes no reference on it either.
	q, _ := b.create("Queue")
	oa.must(d, "__setitem__", "q", b.proxyValue("AutoProxy", "Queue", q))
	b.mustServer("decref", q)
	pyEq(t, b.mustServer("number_of_objects"), int64(0))
}

// TestServerForeignAllowList: a proxy naming a manager outside
// ForeignConfig.Allow is never dialed, so a client cannot use the server to
// probe addresses.
func TestServerForeignAllowList(t *testing.T) {
	a, b := startForeignPair(t)
	trap, dialed := listenSilent(t)
	oa := a.stObj()
	d, _ := a.create("dict")
	for _, p := range []pickle.Value{
		proxyValue(trap, "AutoProxy", "Queue", "7f0000000010"),
		proxyValue(pickle.Tuple{"127.0.0.1", int64(1)}, "AutoProxy", "Queue", "7f0000000010"),
	} {
		oa.must(d, "__setitem__", "k", p)
		pyEq(t, oa.must(d, "get", "k"), p)
	}
	if dialed() {
		t.Fatal("the server dialed an address outside ForeignConfig.Allow")
	}
	// The allowed manager is still referenced.
	q, _ := b.create("Queue")
	oa.must(d, "__setitem__", "q", b.proxyValue("AutoProxy", "Queue", q))
	b.mustServer("decref", q)
	pyEq(t, b.mustServer("number_of_objects"), int64(1))
}

func TestServerForeignConfigRefused(t *testing.T) {
	allow := []manager.Address{{Network: "unix", Addr: "/tmp/b.sock"}}
	for _, tc := range []struct {
		name string
		cfg  manager.ForeignConfig
		want string
	}{
		{"own key", manager.ForeignConfig{Authkey: stKey, Allow: allow}, "must differ"},
		{"no key", manager.ForeignConfig{Allow: allow}, "Authkey is required"},
		{"no address", manager.ForeignConfig{Authkey: stForeignKey}, "lists no manager"},
		{"bad network", manager.ForeignConfig{Authkey: stForeignKey, Allow: []manager.Address{{Network: "udp", Addr: "x"}}}, "unknown network"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := manager.NewServer(&manager.ServerConfig{Authkey: stKey, Foreign: &tc.cfg})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewServer: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestServerOwnAddressSpellings: a token naming the server by another
// name that reaches it from this machine (localhost for a listener on
// 127.0.0.1, as a CPython client that connected to localhost writes it)
// is the server's own: the stored value holds the object, with no
// connection to anyone.
func TestServerOwnAddressSpellings(t *testing.T) {
	ts := startStServer(t, "tcp", nil)
	_, port, err := net.SplitHostPort(ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	o := ts.stObj()
	outer, _ := ts.create("list")
	for _, host := range []string{"localhost", "127.0.0.1"} {
		inner, _ := ts.create("dict")
		o.must(outer, "append", proxyValue(pickle.Tuple{host, int64(p)}, "DictProxy", "dict", inner))
		ts.mustServer("decref", inner) // the client's own reference goes
		if refs, held := psInfo(t, ts, inner); refs != 0 || held != 1 {
			t.Fatalf("%s: refcount=%d held=%d, want 0 and 1", host, refs, held)
		}
	}
	// Another host name, or the loopback address of the other family, is
	// another manager's: no hold.
	for _, host := range []string{"example.invalid", "::1"} {
		other, _ := ts.create("dict")
		o.must(outer, "append", proxyValue(pickle.Tuple{host, int64(p)}, "DictProxy", "dict", other))
		ts.mustServer("decref", other)
		kind, v := o.do(other, "__len__")
		stWantTB(t, kind, v, "KeyError")
	}
}
