package manager_test

import (
	"testing"
	"time"

	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

// stObjConfirm opens an object connection with accept_connection(ps=True,
// confirm=True) and returns it with its id.
func (ts *stServer) stObjConfirm() (*stObj, string) {
	ts.t.Helper()
	c := ts.conn()
	kind, v := c.call(nil, "accept_connection", pickle.Tuple{"Go"}, pyKw("ps", true, "confirm", true))
	id, ok := v.(string)
	if kind != "#RETURN" || !ok {
		ts.t.Fatalf("accept_connection(ps=True, confirm=True): %s %s", kind, pickle.Repr(v))
	}
	return &stObj{c}, id
}

// ack sends ps_ack(seq), which has no reply.
func (o *stObj) ack(seq int64) {
	o.t.Helper()
	o.send(nil, "ps_ack", pickle.Tuple{seq}, nil)
}

// waitFor polls cond (a condition the server reaches once it has seen a
// connection end) for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestServerConfirmGet: on a confirming connection, items whose get replies
// were delivered but not confirmed with ps_ack go back to the front of the
// queue, in their original order, when the connection ends; confirmed ones
// are gone.
func TestServerConfirmGet(t *testing.T) {
	forStTransports(t, nil, func(t *testing.T, ts *stServer) {
		q, _ := ts.create("Queue")
		o := ts.stObj()
		for _, it := range []string{"a", "b", "c", "d", "e"} {
			o.must(q, "put", it)
		}
		c, _ := ts.stObjConfirm()
		pyEq(t, c.must(q, "get"), "a")                                                             // request 1
		pyEq(t, c.must(q, "ps_get_many", int64(2)), &pickle.List{Items: []pickle.Value{"b", "c"}}) // request 2
		c.ack(1)                                                                                   // request 3: "a" is final
		pyEq(t, c.must(q, "qsize"), int64(2))                                                      // request 4: the ack sent no reply
		c.nc.Close()
		waitFor(t, "the unconfirmed items to come back", func() bool { return o.must(q, "qsize") == int64(4) })
		for _, want := range []string{"b", "c", "d", "e"} {
			pyEq(t, o.must(q, "get_nowait"), want)
		}

		// Everything confirmed (the ack is cumulative): nothing comes back.
		o.must(q, "put", "f")
		o.must(q, "put", "g")
		c, _ = ts.stObjConfirm()
		pyEq(t, c.must(q, "get"), "f") // 1
		pyEq(t, c.must(q, "get"), "g") // 2
		c.ack(2)
		pyEq(t, c.must(q, "qsize"), int64(0))
		c.nc.Close()
		// A connection without confirm loses nothing here either: its
		// replies were read. Its end is noticed before this get's.
		o2 := ts.stObj()
		o2.must(q, "put", "h")
		pyEq(t, o.must(q, "get", true, 10.0), "h")
	})
}

// TestServerConfirmBlockedGet: the reply of a get that blocked and was then
// granted is kept until confirmed too (the case of a client killed with the
// reply on its way).
func TestServerConfirmBlockedGet(t *testing.T) {
	forStTransports(t, nil, func(t *testing.T, ts *stServer) {
		q, _ := ts.create("Queue")
		c, _ := ts.stObjConfirm()
		c.send(q, "get", nil, nil) // blocks
		o := ts.stObj()
		o.must(q, "put", "x")
		if kind, v := c.recv(); kind != "#RETURN" || v != "x" {
			t.Fatalf("blocked get: %s %s", kind, pyRepr(v))
		}
		c.nc.Close() // received, never confirmed
		pyEq(t, o.must(q, "get", true, 10.0), "x")
	})
}

// TestServerConfirmLock: a Lock or Semaphore granted on a confirming
// connection that ends before ps_ack is released; once confirmed it stays
// held, as in CPython (without ReleaseOnDisconnect).
func TestServerConfirmLock(t *testing.T) {
	forStTransports(t, nil, func(t *testing.T, ts *stServer) {
		for _, typeid := range []string{"Lock", "Semaphore", "BoundedSemaphore"} {
			l, _ := ts.create(typeid)
			o := ts.stObj()

			c, _ := ts.stObjConfirm()
			pyEq(t, c.must(l, "acquire"), true) // 1: not confirmed
			c.nc.Close()
			pyEq(t, o.must(l, "acquire", true, 10.0), true)
			o.must(l, "release")

			c, _ = ts.stObjConfirm()
			pyEq(t, c.must(l, "acquire", false), true) // 1
			c.ack(1)
			c.must(l, "__repr__") // 3: the ack was read
			c.nc.Close()
			pyEq(t, o.must(l, "acquire", true, 0.05), false)
			o.must(l, "release")
		}
	})
}

// TestServerConfirmLockStale: a Lock released by another connection (any
// connection may release a Lock) and acquired by a third holder is not
// released when the first, unconfirmed grant's connection ends.
func TestServerConfirmLockStale(t *testing.T) {
	ts := startStServer(t, "unix", nil)
	l, _ := ts.create("Lock")
	c, _ := ts.stObjConfirm()
	pyEq(t, c.must(l, "acquire"), true) // not confirmed
	o := ts.stObj()
	o.must(l, "release")
	pyEq(t, o.must(l, "acquire"), true) // o's grant
	c.nc.Close()
	// Once the server has finished c, o still holds the lock.
	waitFor(t, "c's end", func() bool { return ts.srv.ConnsForTest() == 1 })
	pyEq(t, o.must(l, "acquire", false), false)
	o.must(l, "release")
}

// TestServerConfirmReleaseOnDisconnect: with ReleaseOnDisconnect an
// unconfirmed grant is released once, not twice (a Semaphore's value goes
// back to where it was).
func TestServerConfirmReleaseOnDisconnect(t *testing.T) {
	ts := startStServer(t, "unix", &manager.ServerConfig{ReleaseOnDisconnect: true})
	s, _ := ts.create("Semaphore", int64(2))
	c, _ := ts.stObjConfirm()
	pyEq(t, c.must(s, "acquire"), true) // 1: not confirmed
	pyEq(t, c.must(s, "acquire"), true) // 2
	c.ack(1)
	c.must(s, "__repr__")
	c.nc.Close()
	o := ts.stObj()
	waitFor(t, "c's end", func() bool { return ts.srv.ConnsForTest() == 1 })
	for range 2 {
		pyEq(t, o.must(s, "acquire", false), true)
	}
	pyEq(t, o.must(s, "acquire", false), false)
}

// TestServerAckErrors: ps_ack's arguments are checked (an error reply), a
// confirmation of a request that granted nothing or was confirmed already
// is a no-op without a reply, and ps_ack counts as a request in the
// numbering ps_interrupt uses.
func TestServerAckErrors(t *testing.T) {
	ts := startStServer(t, "unix", nil)
	q, _ := ts.create("Queue")

	// Without confirm=True.
	o, _ := ts.stObjPS()
	kind, v := o.do("", "ps_ack", int64(1))
	stWantExc(t, kind, v, "ValueError", "procshare: ps_ack on a connection without accept_connection(confirm=True)")
	o.must(q, "qsize")

	c, cid := ts.stObjConfirm()
	pyEq(t, c.must(q, "qsize"), int64(0))  // 1
	c.ack(1)                               // 2: granted nothing
	c.ack(0)                               // 3
	c.ack(1)                               // 4: again
	kind, v = c.do("", "ps_ack", int64(5)) // 5: itself
	stWantExc(t, kind, v, "ValueError", "procshare: ps_ack(5): request 5 has not been answered yet")
	kind, v = c.do("", "ps_ack", int64(99)) // 6: the future
	stWantExc(t, kind, v, "ValueError", "")
	kind, v = c.do("", "ps_ack", int64(-1)) // 7
	stWantExc(t, kind, v, "ValueError", "")
	kind, v = c.do("", "ps_ack", "x") // 8
	stWantExc(t, kind, v, "TypeError", "")
	kind, v = c.do("", "ps_ack") // 9
	stWantExc(t, kind, v, "TypeError", "")
	kind, v = c.doKw("", "ps_ack", pickle.Tuple{int64(1)}, pyKw("nope", 1)) // 10
	stWantExc(t, kind, v, "TypeError", "")
	// Request 11 is armed to be interrupted: the acks were counted.
	pyEq(t, ts.mustServer("ps_interrupt", cid, int64(11)), true)
	kind, v = c.do(q, "get")
	stWantExc(t, kind, v, "InterruptedError", "")
	pyEq(t, c.must(q, "qsize"), int64(0))
}

// TestServerGiveBack: ps_giveback(seq) gives back, at once and newest
// first, the unconfirmed grants of the requests up to seq (a client whose
// caller gave up), and replies None; confirmed grants, and later ones,
// stay.
func TestServerGiveBack(t *testing.T) {
	ts := startStServer(t, "unix", nil)
	q, _ := ts.create("Queue")
	l, _ := ts.create("Lock")
	o := ts.stObj()
	for _, it := range []string{"a", "b", "c", "d"} {
		o.must(q, "put", it)
	}
	c, _ := ts.stObjConfirm()
	pyEq(t, c.must(q, "get"), "a")      // 1
	c.ack(1)                            // 2
	pyEq(t, c.must(q, "get"), "b")      // 3
	pyEq(t, c.must(l, "acquire"), true) // 4
	pyEq(t, c.must(q, "get"), "c")      // 5
	pyEq(t, c.must("", "ps_giveback", int64(4)), nil)
	// b is back at the front, the lock is free; a and c are not back.
	pyEq(t, o.must(q, "qsize"), int64(2))
	pyEq(t, o.must(l, "acquire", false), true)
	o.must(l, "release")
	pyEq(t, o.must(q, "get_nowait"), "b")
	pyEq(t, c.must("", "ps_giveback", int64(4)), nil) // again: nothing
	pyEq(t, o.must(q, "qsize"), int64(1))
	kind, v := c.do("", "ps_giveback", int64(100))
	stWantExc(t, kind, v, "ValueError", "procshare: ps_giveback(100): request 100 has not been answered yet")
	c.nc.Close() // c still unconfirmed: it comes back
	waitFor(t, "c to come back", func() bool { return o.must(q, "qsize") == int64(2) })
	pyEq(t, o.must(q, "get_nowait"), "c")
	pyEq(t, o.must(q, "get_nowait"), "d")

	p, _ := ts.stObjPS()
	kind, v = p.do("", "ps_giveback", int64(0))
	stWantExc(t, kind, v, "ValueError", "procshare: ps_giveback on a connection without accept_connection(confirm=True)")
}
