package manager_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

// wantMemoryError requires a MemoryError naming the budget.
func wantMemoryError(t *testing.T, kind string, v pickle.Value, budget string) {
	t.Helper()
	stWantExc(t, kind, v, "MemoryError", "")
	if msg := pickle.Str(v.(*pickle.Object).Args[0]); !strings.Contains(msg, "memory budget of "+budget+" bytes (--max-memory)") {
		t.Fatalf("MemoryError(%q)", msg)
	}
}

// TestServerMemoryBudget: under a 64 MiB budget, calls that a small request
// would amplify past it raise MemoryError before allocating and change
// nothing; the connection goes on; what objects store is charged and given
// back when it goes (removed, cleared, or the object freed).
func TestServerMemoryBudget(t *testing.T) {
	ts := startStServer(t, "unix", &manager.ServerConfig{MaxMemory: 64 << 20})
	o := ts.stObj()
	const budget = "67108864"
	l, _ := ts.create("list", pyList(int64(1), int64(2), int64(3)))

	kind, v := o.do(l, "extend", pickle.Range{Start: int64(0), Stop: int64(1) << 24, Step: int64(1)})
	wantMemoryError(t, kind, v, budget)
	kind, v = o.do(l, "__mul__", int64(1)<<22)
	wantMemoryError(t, kind, v, budget)
	kind, v = o.do(l, "__imul__", int64(1)<<22)
	wantMemoryError(t, kind, v, budget)
	kind, v = o.do(l, "extend", strings.Repeat("x", 4<<20)) // 4 Mi one-character strs
	wantMemoryError(t, kind, v, budget)
	pyEq(t, o.must(l, "__getitem__", pickle.Slice{}), pyList(int64(1), int64(2), int64(3)))
	kind, v = ts.server("create", "list", pickle.Range{Start: int64(0), Stop: int64(1) << 24, Step: int64(1)})
	stWantTB(t, kind, v, "MemoryError: procshare: call would use")
	kind, v = ts.server("create", "Array", "b", bytes.Repeat([]byte{1}, 8<<20))
	stWantTB(t, kind, v, "MemoryError")

	// Stored values: 1 MiB items until the budget is spent, then
	// MemoryError; clear gives it back.
	mib := bytes.Repeat([]byte("y"), 1<<20)
	n := 0
	for ; n < 100; n++ {
		kind, v = o.do(l, "append", mib)
		if kind != "#RETURN" {
			break
		}
	}
	wantMemoryError(t, kind, v, budget)
	if n < 50 || n > 64 {
		t.Fatalf("%d appends of 1 MiB under a 64 MiB budget", n)
	}
	pyEq(t, o.must(l, "__len__"), int64(3+n))
	// A reply of the whole list needs as much again: refused, and
	// #GETVALUE too.
	kind, v = o.do(l, "__getitem__", pickle.Slice{})
	wantMemoryError(t, kind, v, budget)
	kind, v = o.do(l, "#GETVALUE")
	wantMemoryError(t, kind, v, budget)
	o.must(l, "clear")
	for range n {
		o.must(l, "append", mib)
	}
	// Freeing the list gives its share back too.
	ts.mustServer("decref", l)
	d, _ := ts.create("dict")
	for i := range n {
		o.must(d, "__setitem__", int64(i), mib)
	}
	o.must(d, "clear")

	// A Value that concatenates, a queue, a namespace.
	val, _ := ts.create("Value", "c", []byte{})
	for kind = "#RETURN"; kind == "#RETURN"; {
		kind, v = o.do(val, "ps_add", bytes.Repeat([]byte("z"), 8<<20))
	}
	wantMemoryError(t, kind, v, budget)
	o.must(val, "set", nil)
	q, _ := ts.create("Queue")
	for kind = "#RETURN"; kind == "#RETURN"; {
		kind, v = o.do(q, "put", mib)
	}
	wantMemoryError(t, kind, v, budget)
	for range 10 {
		o.must(q, "get")
	}
	o.must(q, "put", mib)
}

// TestServerReprWhole: str() of a dict whose repr is over 1 MiB is the
// whole repr, as in CPython; past what the budget allows, MemoryError.
func TestServerReprWhole(t *testing.T) {
	ts := startStServer(t, "pipe", &manager.ServerConfig{MaxMemory: 64 << 20})
	o := ts.stObj()
	d, _ := ts.create("dict")
	items := pickle.NewDict()
	for i := range 100000 {
		items.Set(int64(i), "value of some length")
	}
	o.must(d, "update", items)
	r := o.must(d, "__repr__").(string)
	if full, _ := pickle.ReprLimit(items, 1<<30); len(r) <= 1<<20 || r != full {
		t.Fatalf("__repr__ of %d bytes is not the whole repr (%d bytes)", len(r), len(full))
	}
	// ps_info and debug_info still cut it.
	info := ts.mustServer("ps_info").(*pickle.List)
	for _, it := range info.Items {
		if s, _, _ := it.(*pickle.Dict).Get("repr"); len(s.(string)) > 800 {
			t.Errorf("ps_info repr of %d bytes", len(s.(string)))
		}
	}
	// A value whose repr cannot fit: 40 MiB of bytes print as ~160 MiB.
	v, _ := ts.create("Value", "c", bytes.Repeat([]byte{0}, 40<<20))
	kind, e := o.do(v, "__str__")
	wantMemoryError(t, kind, e, "67108864")
	o.must(v, "set", int64(1))
	pyEq(t, o.must(v, "__repr__"), "Value('c', 1)")
}
