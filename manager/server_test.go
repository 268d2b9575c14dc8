package manager_test

import (
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

func TestServerConfig(t *testing.T) {
	if _, err := manager.NewServer(nil); err == nil {
		t.Fatal("NewServer(nil) succeeded")
	}
	if _, err := manager.NewServer(&manager.ServerConfig{}); err == nil {
		t.Fatal("NewServer without Authkey succeeded")
	}
	if _, err := manager.NewServer(&manager.ServerConfig{Authkey: stKey,
		Expose: []manager.ExposedObject{{Name: "q", TypeID: "NoSuchType"}}}); err == nil {
		t.Fatal("Expose with an unknown typeid succeeded")
	}
	if _, err := manager.NewServer(&manager.ServerConfig{Authkey: stKey,
		Expose: []manager.ExposedObject{{Name: "list", TypeID: "Queue"}}}); err == nil {
		t.Fatal("Expose shadowing a typeid succeeded")
	}
}

func TestServerLevelMethods(t *testing.T) {
	forStTransports(t, nil, func(t *testing.T, ts *stServer) {
		if v := ts.mustServer("dummy"); v != nil {
			t.Fatalf("dummy returned %s", pyRepr(v))
		}
		pyEq(t, ts.mustServer("number_of_objects"), int64(0))
		id, exposed := ts.create("list", pyList(int64(1), int64(2)))
		if len(exposed) == 0 || exposed[0] != "__add__" {
			t.Fatalf("list exposed %v", exposed)
		}
		pyEq(t, ts.mustServer("number_of_objects"), int64(1))
		ts.mustServer("incref", id)
		info := ts.mustServer("debug_info").(string)
		if !strings.Contains(info, id+":       refcount=2\n    [1, 2]") {
			t.Fatalf("debug_info = %q", info)
		}
		ts.mustServer("decref", id)
		ts.mustServer("decref", id)
		pyEq(t, ts.mustServer("number_of_objects"), int64(0))
		kind, v := ts.server("decref", id)
		stWantTB(t, kind, v, "KeyError: '"+id+"'")
		kind, v = ts.server("incref", "nosuchid")
		stWantTB(t, kind, v, "KeyError: 'nosuchid'")
		kind, v = ts.server("create", "NoSuchType")
		stWantTB(t, kind, v, "KeyError: 'NoSuchType'")
		kind, v = ts.server("no_such_method")
		stWantTB(t, kind, v, "'no_such_method' unrecognized")
		kind, v = ts.server("create", "Pool")
		stWantTB(t, kind, v, "Pool")
		kind, v = ts.server("create", "Barrier", int64(2), "callable")
		stWantTB(t, kind, v, "action")

		// get_methods takes a Token.
		id, _ = ts.create("dict")
		tok := &pickle.Object{Callable: pickle.Global{Module: "multiprocessing.managers", Name: "Token"},
			Args: pickle.Tuple{}, New: true, HasState: true, State: pickle.Tuple{"dict", "addr", id}}
		m := ts.mustServer("get_methods", tok).(pickle.Tuple)
		if len(m) == 0 {
			t.Fatal("get_methods returned nothing")
		}

		// ps_info lists every object.
		infos := ts.mustServer("ps_info").(*pickle.List)
		if len(infos.Items) != 1 {
			t.Fatalf("ps_info: %s", pyRepr(infos))
		}
		d := infos.Items[0].(*pickle.Dict)
		typeid, _, _ := d.Get("typeid")
		pyEq(t, typeid, "dict")
	})
}

func TestServerWrongAuthkey(t *testing.T) {
	ts := startStServer(t, "tcp", nil)
	nc, err := ts.dial()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := clientHandshake(nc, []byte("wrong")); err == nil {
		t.Fatal("handshake with a wrong key succeeded")
	}
	// The server keeps serving.
	pyEq(t, ts.mustServer("number_of_objects"), int64(0))
}

func TestServerObjectCallErrors(t *testing.T) {
	ts := startStServer(t, "pipe", nil)
	id, _ := ts.create("list")
	o := ts.stObj()
	kind, v := o.do("nosuchid", "append", int64(1))
	stWantTB(t, kind, v, "KeyError: 'nosuchid'")
	kind, v = o.do(id, "no_such_method")
	stWantTB(t, kind, v, "AttributeError: method 'no_such_method' of <class 'list'> object is not in exposed=")
	kind, v = o.do(id, "append")
	stWantExc(t, kind, v, "TypeError", "list.append() takes exactly one argument (0 given)")
	pyEq(t, o.must(id, "__repr__"), "[]")
	pyEq(t, o.must(id, "__str__"), "[]")
	o.must(id, "append", int64(1))
	pyEq(t, o.must(id, "#GETVALUE"), pyList(int64(1)))
	// The connection still works after errors.
	pyEq(t, o.must(id, "__len__"), int64(1))
}

func TestServerQueue(t *testing.T) {
	forStTransports(t, nil, func(t *testing.T, ts *stServer) {
		id, exposed := ts.create("Queue", int64(2))
		want := "empty full get get_nowait join put put_nowait qsize shutdown task_done"
		if got := strings.Join(exposed, " "); !strings.HasPrefix(got, want) {
			t.Fatalf("Queue exposed %q", got)
		}
		o := ts.stObj()
		o.must(id, "put", "a")
		o.doKw(id, "put", pickle.Tuple{"b", true, 0.5}, nil)
		kind, v := o.do(id, "put_nowait", "c")
		stWantExc(t, kind, v, "queue.Full", "")
		kind, v = o.doKw(id, "put", pickle.Tuple{"c"}, pyKw("timeout", 0.01))
		stWantExc(t, kind, v, "queue.Full", "")
		kind, v = o.doKw(id, "put", pickle.Tuple{}, pyKw("item", "c", "block", false))
		stWantExc(t, kind, v, "queue.Full", "")
		pyEq(t, o.must(id, "qsize"), int64(2))
		pyEq(t, o.must(id, "full"), true)
		kind, v = o.doKw(id, "get", nil, pyKw("timeout", 0.5))
		pyEq(t, kind, "#RETURN")
		pyEq(t, v, "a")
		pyEq(t, o.must(id, "get_nowait"), "b")
		kind, v = o.do(id, "get", true, 0.01)
		stWantExc(t, kind, v, "_queue.Empty", "")
		kind, v = o.do(id, "get", false)
		stWantExc(t, kind, v, "_queue.Empty", "")
		kind, v = o.doKw(id, "get", nil, pyKw("timeout", int64(-1)))
		stWantExc(t, kind, v, "ValueError", "'timeout' must be a non-negative number")
		kind, v = o.doKw(id, "get", nil, pyKw("foo", int64(1)))
		stWantExc(t, kind, v, "TypeError", "Queue.get() got an unexpected keyword argument 'foo'")
		kind, v = o.do(id, "get", int64(1), int64(2), int64(3), int64(4))
		stWantExc(t, kind, v, "TypeError", "Queue.get() takes from 1 to 3 positional arguments but 5 were given")
		kind, v = o.doKw(id, "put", pickle.Tuple{int64(1)}, pyKw("item", int64(2)))
		stWantExc(t, kind, v, "TypeError", "Queue.put() got multiple values for argument 'item'")
		pyEq(t, o.must(id, "empty"), true)
		// task_done / join.
		o.must(id, "task_done")
		o.must(id, "task_done")
		kind, v = o.do(id, "task_done")
		stWantExc(t, kind, v, "ValueError", "task_done() called too many times")
		o.must(id, "join")

		// A blocked get is woken by a put on another connection.
		got := make(chan pickle.Value, 1)
		o2 := ts.stObj()
		go func() {
			o2.send(id, "get", nil, nil)
			_, v := o2.recv()
			got <- v
		}()
		time.Sleep(10 * time.Millisecond)
		o.must(id, "put", int64(42))
		pyEq(t, <-got, int64(42))

		// Extensions.
		o.must(id, "ps_put_many", pyList(int64(1), int64(2)))
		kind, v = o.doKw(id, "ps_put_many", pickle.Tuple{pyList(int64(3))}, pyKw("block", false))
		stWantExc(t, kind, v, "queue.Full", "")
		o.must(id, "get")
		o.must(id, "ps_unget", int64(0))
		pyEq(t, o.must(id, "ps_get_many", int64(5)), pyList(int64(0), int64(2)))
		kind, v = o.doKw(id, "ps_get_many", pickle.Tuple{int64(5)}, pyKw("timeout", 0.01))
		stWantExc(t, kind, v, "_queue.Empty", "")

		// shutdown(immediate) (3.13).
		o.must(id, "put", "x")
		o.doKw(id, "shutdown", nil, pyKw("immediate", false))
		pyEq(t, o.must(id, "get"), "x")
		kind, v = o.do(id, "get")
		stWantExc(t, kind, v, "queue.ShutDown", "")
		kind, v = o.do(id, "put", int64(1))
		stWantExc(t, kind, v, "queue.ShutDown", "")
	})
}

func TestServerQueueBlockedPutWokenByShutdown(t *testing.T) {
	ts := startStServer(t, "unix", nil)
	id, _ := ts.create("Queue", int64(1))
	o := ts.stObj()
	o.must(id, "put", int64(1))
	o2 := ts.stObj()
	o2.send(id, "put", pickle.Tuple{int64(2)}, nil)
	o3 := ts.stObj()
	o3.send(id, "get", pickle.Tuple{}, nil) // takes 1; the put may then proceed
	_, v := o3.recv()
	pyEq(t, v, int64(1))
	kind, _ := o2.recv()
	if kind != "#RETURN" {
		t.Fatalf("put: %s", kind)
	}
	o2.send(id, "put", pickle.Tuple{int64(3)}, nil) // blocks: full
	time.Sleep(10 * time.Millisecond)
	o.must(id, "shutdown", true)
	kind, v = o2.recv()
	stWantExc(t, kind, v, "queue.ShutDown", "")
}

func TestServerJoinableQueueJoin(t *testing.T) {
	ts := startStServer(t, "pipe", nil)
	id, _ := ts.create("JoinableQueue")
	o := ts.stObj()
	o.must(id, "put", int64(1))
	o2 := ts.stObj()
	o2.send(id, "join", nil, nil)
	time.Sleep(10 * time.Millisecond)
	o.must(id, "get")
	o.must(id, "task_done")
	kind, _ := o2.recv()
	if kind != "#RETURN" {
		t.Fatalf("join: %s", kind)
	}
}

func TestServerLocks(t *testing.T) {
	forStTransports(t, nil, func(t *testing.T, ts *stServer) {
		lock, _ := ts.create("Lock")
		o, o2 := ts.stObj(), ts.stObj()
		pyEq(t, o.must(lock, "acquire"), true)
		pyEq(t, o2.must(lock, "acquire", false), false)
		pyEq(t, o2.must(lock, "acquire", true, 0.01), false)
		kind, v := o2.do(lock, "acquire", false, int64(1))
		stWantExc(t, kind, v, "ValueError", "can't specify a timeout for a non-blocking call")
		// Any connection may release a Lock.
		o2.must(lock, "release")
		kind, v = o2.do(lock, "release")
		stWantExc(t, kind, v, "RuntimeError", "release unlocked lock")
		// A blocked acquire is woken by a release.
		o.must(lock, "acquire")
		o2.send(lock, "acquire", nil, nil)
		time.Sleep(10 * time.Millisecond)
		o.must(lock, "release")
		_, v = o2.recv()
		pyEq(t, v, true)

		rl, _ := ts.create("RLock")
		pyEq(t, o.must(rl, "acquire"), true)
		pyEq(t, o.must(rl, "acquire", true), true)
		pyEq(t, o2.must(rl, "acquire", false), false)
		kind, v = o2.do(rl, "release")
		stWantExc(t, kind, v, "RuntimeError", "cannot release un-acquired lock")
		o.must(rl, "release")
		pyEq(t, o2.must(rl, "acquire", false), false)
		o.must(rl, "release")
		pyEq(t, o2.must(rl, "acquire", false), true)

		sem, _ := ts.create("Semaphore", int64(2))
		pyEq(t, o.must(sem, "acquire"), true)
		pyEq(t, o.must(sem, "acquire"), true)
		pyEq(t, o.must(sem, "acquire", false), false)
		kind, v = o.do(sem, "acquire", false, int64(1))
		stWantExc(t, kind, v, "ValueError", "can't specify timeout for non-blocking acquire")
		o.must(sem, "release")
		o.must(sem, "release")
		o.must(sem, "release") // unbounded

		bs, _ := ts.create("BoundedSemaphore")
		o.must(bs, "acquire")
		o.must(bs, "release")
		kind, v = o.do(bs, "release")
		stWantExc(t, kind, v, "ValueError", "Semaphore released too many times")
		kind, v = ts.server("create", "Semaphore", int64(-1))
		stWantTB(t, kind, v, "ValueError: semaphore initial value must be >= 0")
	})
}

func TestServerEvent(t *testing.T) {
	ts := startStServer(t, "pipe", nil)
	id, _ := ts.create("Event")
	o, o2 := ts.stObj(), ts.stObj()
	pyEq(t, o.must(id, "is_set"), false)
	pyEq(t, o.must(id, "wait", 0.01), false)
	pyEq(t, o.must(id, "wait", int64(-1)), false)
	o2.send(id, "wait", pickle.Tuple{nil}, nil)
	time.Sleep(10 * time.Millisecond)
	o.must(id, "set")
	_, v := o2.recv()
	pyEq(t, v, true)
	pyEq(t, o.must(id, "wait", nil), true)
	o.must(id, "clear")
	pyEq(t, o.must(id, "is_set"), false)
	if r := o.must(id, "__repr__").(string); !strings.Contains(r, "unset") {
		t.Fatalf("repr %q", r)
	}
}

func TestServerCondition(t *testing.T) {
	ts := startStServer(t, "unix", nil)
	id, _ := ts.create("Condition")
	o, o2 := ts.stObj(), ts.stObj()
	kind, v := o.do(id, "wait", nil)
	stWantExc(t, kind, v, "RuntimeError", "cannot wait on un-acquired lock")
	kind, v = o.do(id, "notify", int64(1))
	stWantExc(t, kind, v, "RuntimeError", "cannot notify on un-acquired lock")
	o.must(id, "acquire")
	pyEq(t, o.must(id, "wait", 0.01), false)
	o.must(id, "release")
	// o2 waits; o notifies.
	o2.must(id, "acquire")
	o.send(id, "acquire", nil, nil) // blocks: o2 holds it
	time.Sleep(10 * time.Millisecond)
	o2.send(id, "wait", pickle.Tuple{nil}, nil) // releases the lock: o gets it
	kind, v = o.recv()
	pyEq(t, kind, "#RETURN")
	pyEq(t, v, true)
	o.must(id, "notify", int64(1))
	o.must(id, "release")
	kind, v = o2.recv()
	if kind != "#RETURN" || v != true {
		t.Fatalf("wait: %s %s", kind, pyRepr(v))
	}
	// o2 holds the lock again after wait.
	pyEq(t, o.must(id, "acquire", false), false)
	o2.must(id, "notify_all")
	o2.must(id, "release")
	pyEq(t, o.must(id, "acquire", false), true)
	o.must(id, "release")
}

func TestServerBarrier(t *testing.T) {
	ts := startStServer(t, "pipe", nil)
	id, _ := ts.create("Barrier", int64(3))
	o := ts.stObj()
	pyEq(t, o.must(id, "__getattribute__", "parties"), int64(3))
	pyEq(t, o.must(id, "__getattribute__", "n_waiting"), int64(0))
	pyEq(t, o.must(id, "__getattribute__", "broken"), false)
	kind, v := o.do(id, "__getattribute__", "nope")
	stWantExc(t, kind, v, "AttributeError", "'Barrier' object has no attribute 'nope'")

	var wg sync.WaitGroup
	idx := make(chan pickle.Value, 3)
	for i := 0; i < 3; i++ {
		c := ts.stObj()
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.send(id, "wait", pickle.Tuple{nil}, nil)
			_, v := c.recv()
			idx <- v
		}()
	}
	wg.Wait()
	close(idx)
	seen := map[int64]bool{}
	for v := range idx {
		seen[v.(int64)] = true
	}
	if len(seen) != 3 || !seen[0] || !seen[1] || !seen[2] {
		t.Fatalf("barrier indices %v", seen)
	}
	// Timeout breaks the barrier.
	kind, v = o.do(id, "wait", 0.01)
	stWantExc(t, kind, v, "threading.BrokenBarrierError", "")
	pyEq(t, o.must(id, "__getattribute__", "broken"), true)
	kind, v = o.do(id, "wait", nil)
	stWantExc(t, kind, v, "threading.BrokenBarrierError", "")
	o.must(id, "reset")
	pyEq(t, o.must(id, "__getattribute__", "broken"), false)
	// abort wakes waiters.
	o2 := ts.stObj()
	o2.send(id, "wait", pickle.Tuple{nil}, nil)
	for o.must(id, "__getattribute__", "n_waiting") != int64(1) {
		time.Sleep(time.Millisecond)
	}
	o.must(id, "abort")
	kind, v = o2.recv()
	stWantExc(t, kind, v, "threading.BrokenBarrierError", "")
	// Default timeout from create.
	id2, _ := ts.createKw("Barrier", pickle.Tuple{int64(2)}, pyKw("timeout", 0.01))
	kind, v = o.do(id2, "wait", nil)
	stWantExc(t, kind, v, "threading.BrokenBarrierError", "")
}

func TestServerList(t *testing.T) {
	ts := startStServer(t, "pipe", nil)
	id, _ := ts.create("list", pickle.Range{Start: int64(0), Stop: int64(3), Step: int64(1)})
	o := ts.stObj()
	i := func(n int64) pickle.Value { return n }
	pyEq(t, o.must(id, "#GETVALUE"), pyList(i(0), i(1), i(2)))
	pyEq(t, o.must(id, "__getitem__", i(-1)), i(2))
	kind, v := o.do(id, "__getitem__", i(3))
	stWantExc(t, kind, v, "IndexError", "list index out of range")
	kind, v = o.do(id, "__getitem__", "x")
	stWantExc(t, kind, v, "TypeError", "list indices must be integers or slices, not str")
	pyEq(t, o.must(id, "__getitem__", pickle.Slice{Start: i(1), Stop: nil, Step: nil}), pyList(i(1), i(2)))
	pyEq(t, o.must(id, "__getitem__", pickle.Slice{Step: i(-1)}), pyList(i(2), i(1), i(0)))
	o.must(id, "__setitem__", pickle.Slice{Start: i(0), Stop: i(1)}, pyList("a", "b"))
	pyEq(t, o.must(id, "#GETVALUE"), pyList("a", "b", i(1), i(2)))
	kind, v = o.do(id, "__setitem__", pickle.Slice{Step: i(2)}, pyList(i(1)))
	stWantExc(t, kind, v, "ValueError", "attempt to assign sequence of size 1 to extended slice of size 2")
	o.must(id, "__delitem__", pickle.Slice{Start: i(0), Stop: i(2)})
	pyEq(t, o.must(id, "#GETVALUE"), pyList(i(1), i(2)))
	o.must(id, "extend", pickle.Tuple{i(3), i(1)})
	o.must(id, "append", 1.0)
	pyEq(t, o.must(id, "count", i(1)), i(3))
	pyEq(t, o.must(id, "index", i(3)), i(2))
	kind, v = o.do(id, "index", i(9))
	stWantExc(t, kind, v, "ValueError", "9 is not in list")
	pyEq(t, o.must(id, "__contains__", true), true)
	o.must(id, "insert", i(-100), i(0))
	pyEq(t, o.must(id, "pop"), 1.0)
	pyEq(t, o.must(id, "pop", i(0)), i(0))
	kind, v = o.do(id, "pop", i(10))
	stWantExc(t, kind, v, "IndexError", "pop index out of range")
	o.must(id, "remove", i(3))
	kind, v = o.do(id, "remove", i(3))
	stWantExc(t, kind, v, "ValueError", "list.remove(x): x not in list")
	pyEq(t, o.must(id, "#GETVALUE"), pyList(i(1), i(2), i(1)))
	o.must(id, "sort")
	pyEq(t, o.must(id, "#GETVALUE"), pyList(i(1), i(1), i(2)))
	o.doKw(id, "sort", nil, pyKw("reverse", true))
	pyEq(t, o.must(id, "#GETVALUE"), pyList(i(2), i(1), i(1)))
	kind, v = o.doKw(id, "sort", nil, pyKw("key", "len"))
	stWantExc(t, kind, v, "TypeError", "")
	o.must(id, "append", "x")
	kind, v = o.do(id, "sort")
	stWantExc(t, kind, v, "TypeError", "'<' not supported between instances of 'str' and 'int'")
	pyEq(t, o.must(id, "__len__"), i(4))
	pyEq(t, o.must(id, "__add__", pyList(i(9))), pyList(i(2), i(1), i(1), "x", i(9)))
	kind, v = o.do(id, "__add__", pickle.Tuple{i(1)})
	stWantExc(t, kind, v, "TypeError", "can only concatenate list (not \"tuple\") to list")
	pyEq(t, o.must(id, "__mul__", i(0)), pyList())
	pyEq(t, o.must(id, "__rmul__", i(2)), pyList(i(2), i(1), i(1), "x", i(2), i(1), i(1), "x"))
	o.must(id, "__imul__", i(2))
	pyEq(t, o.must(id, "__len__"), i(8))
	o.must(id, "reverse")
	rev := o.must(id, "__reversed__").(*pickle.Object)
	if g := rev.Callable.(pickle.Global); g.Name != "reversed" {
		t.Fatalf("__reversed__ = %s", pyRepr(rev))
	}
	pyEq(t, o.must(id, "ps_pop_many", i(2)), pyList("x", i(1)))
	pyEq(t, o.doKwMust(id, "ps_pop_many", pickle.Tuple{i(2)}, pyKw("index", i(-1))), pyList(i(2), i(1)))
	pyEq(t, o.must(id, "#GETVALUE"), pyList(i(1), i(2), "x", i(1)))
	big1 := new(big.Int).Lsh(big.NewInt(1), 70)
	o.must(id, "append", big1)
	pyEq(t, o.must(id, "__getitem__", i(-1)), big1)
}

func (o *stObj) doKwMust(id, method string, args pickle.Tuple, kw *pickle.Dict) pickle.Value {
	o.t.Helper()
	kind, v := o.doKw(id, method, args, kw)
	if kind != "#RETURN" {
		o.t.Fatalf("%s: %s %s", method, kind, pyRepr(v))
	}
	return v
}

func TestServerDict(t *testing.T) {
	ts := startStServer(t, "pipe", nil)
	id, _ := ts.createKw("dict", pickle.Tuple{pyList(pickle.Tuple{int64(1), "one"})}, pyKw("b", int64(2)))
	o := ts.stObj()
	pyEq(t, o.must(id, "__getitem__", 1.0), "one")
	pyEq(t, o.must(id, "__getitem__", true), "one")
	kind, v := o.do(id, "__getitem__", "zz")
	stWantExc(t, kind, v, "KeyError", "")
	kind, v = o.do(id, "__getitem__", pyList())
	stWantExc(t, kind, v, "TypeError", "unhashable type: 'list'")
	o.must(id, "__setitem__", pickle.Tuple{int64(1), int64(2)}, "tuple")
	pyEq(t, o.must(id, "keys"), pyList(int64(1), "b", pickle.Tuple{int64(1), int64(2)}))
	pyEq(t, o.must(id, "values"), pyList("one", int64(2), "tuple"))
	pyEq(t, o.must(id, "get", "nope", "dflt"), "dflt")
	pyEq(t, o.must(id, "setdefault", "c", int64(3)), int64(3))
	pyEq(t, o.must(id, "pop", "c"), int64(3))
	pyEq(t, o.must(id, "pop", "c", nil), nil)
	pyEq(t, o.must(id, "popitem"), pickle.Tuple{pickle.Tuple{int64(1), int64(2)}, "tuple"})
	pyEq(t, o.must(id, "ps_incr", "n"), int64(1))
	pyEq(t, o.must(id, "ps_incr", "n", int64(5)), int64(6))
	pyEq(t, o.must(id, "ps_setdefault_add", "s", "a", "b"), "ab")
	pyEq(t, o.must(id, "ps_setdefault_add", "s", "a", "b"), "abb")
	kind, v = o.do(id, "ps_incr", "s")
	stWantExc(t, kind, v, "TypeError", "")
	pyEq(t, o.must(id, "__len__"), int64(4))
	o.doKwMust(id, "update", pickle.Tuple{pyKw("z", int64(26))}, pyKw("y", int64(25)))
	pyEq(t, o.must(id, "__contains__", "y"), true)
	pyEq(t, o.must(id, "__repr__"), "{1: 'one', 'b': 2, 'n': 6, 's': 'abb', 'z': 26, 'y': 25}")

	// Iteration through an Iterator proxy.
	kind, v = o.do(id, "__iter__")
	if kind != "#PROXY" {
		t.Fatalf("__iter__: %s %s", kind, pyRepr(v))
	}
	pv := v.(pickle.Tuple)
	tok := pv[1].(*pickle.Object).State.(pickle.Tuple)
	pyEq(t, tok[0], "Iterator")
	it := tok[2].(string)
	pyEq(t, o.must(it, "__next__"), int64(1))
	pyEq(t, o.must(it, "__next__"), "b")
	o.must(id, "__setitem__", "new", int64(0))
	kind, v = o.do(it, "__next__")
	stWantExc(t, kind, v, "RuntimeError", "dictionary changed size during iteration")
	kind, v = o.do(it, "send", nil)
	stWantTB(t, kind, v, "AttributeError")
	ts.mustServer("decref", it)

	kind, v = o.do(id, "__iter__")
	pyEq(t, kind, "#PROXY")
	it = v.(pickle.Tuple)[1].(*pickle.Object).State.(pickle.Tuple)[2].(string)
	for n := 0; n < 7; n++ {
		o.must(it, "__next__")
	}
	kind, v = o.do(it, "__next__")
	stWantExc(t, kind, v, "StopIteration", "")
	o.must(id, "clear")
	kind, v = o.do(id, "popitem")
	stWantExc(t, kind, v, "KeyError", "popitem(): dictionary is empty")
}

func TestServerValueNamespaceArray(t *testing.T) {
	ts := startStServer(t, "pipe", nil)
	o := ts.stObj()
	val, _ := ts.create("Value", "i", int64(7))
	pyEq(t, o.must(val, "get"), int64(7))
	pyEq(t, o.must(val, "__repr__"), "Value('i', 7)")
	pyEq(t, o.must(val, "ps_add", int64(3)), int64(10))
	pyEq(t, o.must(val, "ps_cas", int64(9), int64(0)), false)
	pyEq(t, o.must(val, "ps_cas", 10.0, int64(0)), true)
	o.must(val, "set", "any value")
	gv := o.must(val, "#GETVALUE").(*pickle.Object)
	if g := gv.Callable.(pickle.Global); g.Name != "Value" || !gv.New {
		t.Fatalf("#GETVALUE %s", pyRepr(gv))
	}

	ns, _ := ts.createKw("Namespace", nil, pyKw("name", "Bob"))
	kind, v := o.do(ns, "__getattribute__", "x")
	stWantExc(t, kind, v, "AttributeError", "'Namespace' object has no attribute 'x'")
	o.must(ns, "__setattr__", "x", int64(1))
	pyEq(t, o.must(ns, "__getattribute__", "x"), int64(1))
	pyEq(t, o.must(ns, "__repr__"), "Namespace(name='Bob', x=1)")
	o.must(ns, "__delattr__", "x")
	kind, v = o.do(ns, "__delattr__", "x")
	stWantExc(t, kind, v, "AttributeError", "'Namespace' object has no attribute 'x'")

	arr, _ := ts.create("Array", "d", pyList(1.5, int64(2)))
	pyEq(t, o.must(arr, "__len__"), int64(2))
	pyEq(t, o.must(arr, "__getitem__", int64(1)), 2.0)
	kind, v = o.do(arr, "__getitem__", int64(2))
	stWantExc(t, kind, v, "IndexError", "array index out of range")
	kind, v = o.do(arr, "__setitem__", int64(0), "x")
	stWantExc(t, kind, v, "TypeError", "must be real number, not str")
	sl := o.must(arr, "__getitem__", pickle.Slice{}).(*pickle.Object)
	want := []byte{0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40}
	if string(sl.Args[1].([]byte)) != string(want) || sl.Args[0] != "d" {
		t.Fatalf("array slice %s", pyRepr(sl))
	}
	pyEq(t, o.must(arr, "__repr__"), "array('d', [1.5, 2.0])")
	ia, _ := ts.create("Array", "b", pyList(int64(1)))
	kind, v = o.do(ia, "__setitem__", int64(0), int64(200))
	stWantExc(t, kind, v, "OverflowError", "signed char is greater than maximum")
	kind, v = o.do(ia, "__setitem__", int64(0), 1.5)
	stWantExc(t, kind, v, "TypeError", "'float' object cannot be interpreted as an integer")
	kind, v = o.do(ia, "__setitem__", pickle.Slice{}, pyList(int64(1)))
	stWantExc(t, kind, v, "TypeError", "can only assign array (not \"list\") to array slice")
	kind, v = ts.server("create", "Array", "z", pyList())
	stWantTB(t, kind, v, "ValueError: bad typecode")
}

// TestServerCloseWakesBlockedCalls: Close ends blocked calls without a
// reply (the connection closes) and returns once every goroutine is done.
func TestServerCloseWakesBlockedCalls(t *testing.T) {
	for _, tr := range stTransports {
		t.Run(tr, func(t *testing.T) {
			ts := startStServer(t, tr, nil)
			q, _ := ts.create("Queue")
			ev, _ := ts.create("Event")
			o1, o2 := ts.stObj(), ts.stObj()
			o1.send(q, "get", nil, nil)
			o2.send(ev, "wait", pickle.Tuple{nil}, nil)
			time.Sleep(10 * time.Millisecond)
			done := make(chan struct{})
			go func() { ts.srv.Close(); close(done) }()
			for _, o := range []*stObj{o1, o2} {
				o.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
				if f, err := o.wc.ReadFrame(); err == nil {
					v, _ := pickle.Unmarshal(f)
					t.Fatalf("blocked call answered %s after Close", pyRepr(v))
				}
			}
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Close did not return")
			}
			select {
			case <-ts.srv.Done():
			default:
				t.Fatal("Done not closed after Close")
			}
		})
	}
}

// TestServerConditionWithLock: Condition(lock) with a proxy of a Lock or
// RLock of the server, as the Python documentation allows.
func TestServerConditionWithLock(t *testing.T) {
	ts := startStServer(t, "pipe", nil)
	for _, typeid := range []string{"Lock", "RLock"} {
		lock, _ := ts.create(typeid)
		fn := "AcquirerProxy"
		cond, _ := ts.create("Condition", ts.proxyValue(fn, typeid, lock))
		o, o2 := ts.stObj(), ts.stObj()
		pyEq(t, o.must(cond, "acquire"), true)
		// The condition's lock is the lock object.
		pyEq(t, o2.must(lock, "acquire", false), false)
		o2.send(lock, "acquire", nil, nil) // blocks until wait releases it
		time.Sleep(10 * time.Millisecond)
		o.send(cond, "wait", pickle.Tuple{nil}, nil)
		_, v := o2.recv()
		pyEq(t, v, true)
		o2.must(cond, "notify")
		o2.must(lock, "release")
		kind, v := o.recv()
		if kind != "#RETURN" || v != true {
			t.Fatalf("%s: wait: %s %s", typeid, kind, pyRepr(v))
		}
		o.must(cond, "release")
		pyEq(t, o2.must(lock, "acquire", false), true)
		o2.must(lock, "release")
		// The condition keeps the lock alive.
		ts.mustServer("decref", lock)
		pyEq(t, o.must(lock, "acquire", false), true)
		o.must(lock, "release")
	}
	kind, v := ts.server("create", "Condition", ts.proxyValue("ListProxy", "list", "nosuchid"))
	stWantTB(t, kind, v, "TypeError")
}
