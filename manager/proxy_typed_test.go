package manager_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

// wantConvertError fails unless err is a *manager.ConvertError with message
// msg, of a Python value v of type python that did not convert.
func wantConvertError(t *testing.T, err error, msg, python string, v pickle.Value) {
	t.Helper()
	var ce *manager.ConvertError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v, want a *ConvertError", err)
	}
	if err.Error() != msg || ce.Python != python || !reflect.DeepEqual(ce.Value, v) {
		t.Fatalf("error = %q (Python %q, Value %#v)\nwant  %q (Python %q, Value %#v)", err, ce.Python, ce.Value, msg, python, v)
	}
	var pce *pickle.ConvertError
	if !errors.As(err, &pce) {
		t.Fatalf("error %v does not wrap a *pickle.ConvertError", err)
	}
}

type point struct {
	X int `pickle:"x"`
	Y int `pickle:"y"`
}

func TestDictOf(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		d := get[*manager.DictOf[string, int]](t)(manager.NewDictOf(ctx, c, map[string]int{"a": 1}))
		defer d.Close()
		must(t, d.Set(ctx, "b", 2))
		if v := get[int](t)(d.Get(ctx, "b")); v != 2 {
			t.Fatalf("Get(b) = %d", v)
		}
		if _, err := d.Get(ctx, "zz"); !errors.Is(err, manager.ErrKeyNotFound) {
			t.Fatalf("Get(missing) = %v", err)
		}
		if v, ok, err := d.Lookup(ctx, "zz"); v != 0 || ok || err != nil {
			t.Fatalf("Lookup(missing) = %v, %v, %v", v, ok, err)
		}
		if v, ok, err := d.Lookup(ctx, "a"); v != 1 || !ok || err != nil {
			t.Fatalf("Lookup(a) = %v, %v, %v", v, ok, err)
		}
		if v := get[int](t)(d.GetDefault(ctx, "zz", 9)); v != 9 {
			t.Fatalf("GetDefault = %d", v)
		}
		if v := get[int](t)(d.SetDefault(ctx, "c", 3)); v != 3 {
			t.Fatalf("SetDefault = %d", v)
		}
		if ok := get[bool](t)(d.Contains(ctx, "c")); !ok {
			t.Fatal("Contains(c) = false")
		}
		must(t, d.Update(ctx, map[string]int{"d": 4, "e": 5}))
		if v := get[int](t)(d.Pop(ctx, "e")); v != 5 {
			t.Fatalf("Pop(e) = %d", v)
		}
		if k, v, err := d.PopItem(ctx); k != "d" || v != 4 || err != nil {
			t.Fatalf("PopItem = %q, %d, %v", k, v, err)
		}
		must(t, d.Delete(ctx, "c"))
		if n := get[int](t)(d.Len(ctx)); n != 2 {
			t.Fatalf("Len = %d", n)
		}

		// Iteration: snapshots in insertion order.
		must(t, d.Set(ctx, "c", 3))
		all := get[iter.Seq2[string, int]](t)(d.All(ctx))
		var keys []string
		var vals []int
		for k, v := range all {
			keys = append(keys, k)
			vals = append(vals, v)
		}
		if !slices.Equal(keys, []string{"a", "b", "c"}) || !slices.Equal(vals, []int{1, 2, 3}) {
			t.Fatalf("All = %v %v", keys, vals)
		}
		ks := get[iter.Seq[string]](t)(d.Keys(ctx))
		if got := slices.Collect(ks); !slices.Equal(got, keys) {
			t.Fatalf("Keys = %v", got)
		}
		vs := get[iter.Seq[int]](t)(d.Values(ctx))
		if got := slices.Collect(vs); !slices.Equal(got, vals) {
			t.Fatalf("Values = %v", got)
		}
		if m := get[map[string]int](t)(d.Copy(ctx)); !maps.Equal(m, map[string]int{"a": 1, "b": 2, "c": 3}) {
			t.Fatalf("Copy = %v", m)
		}
		// A range sees the snapshot, whatever happens to the dict
		// meanwhile, and may be repeated.
		n := 0
		for k := range ks {
			must(t, d.Set(ctx, k+"'", 0))
			must(t, d.Delete(ctx, k))
			n++
		}
		if n != 3 || len(slices.Collect(ks)) != 3 {
			t.Fatalf("ranged over %d keys of a snapshot of 3", n)
		}
		if got := slices.Sorted(get[iter.Seq[string]](t)(d.Keys(ctx))); !slices.Equal(got, []string{"a'", "b'", "c'"}) {
			t.Fatalf("Keys after the range = %v", got)
		}

		// Data of other types, as a Python process may store: typed
		// errors naming the key, and the untyped Dict at hand.
		must(t, d.Dict.Set(ctx, "bad", "str"))
		_, err := d.Get(ctx, "bad")
		wantConvertError(t, err, "manager: dict.__getitem__: value of key 'bad': cannot convert Python str to Go int", "str", "str")
		_, err = d.All(ctx)
		wantConvertError(t, err, "manager: dict.items: value of key 'bad': cannot convert Python str to Go int", "str", "str")
		_, err = d.Values(ctx)
		wantConvertError(t, err, "manager: dict.items: value of key 'bad': cannot convert Python str to Go int", "str", "str")
		if s := get[string](t)(manager.As[string](d.Dict.Get(ctx, "bad"))); s != "str" {
			t.Fatalf("untyped Get = %q", s)
		}
		must(t, d.Delete(ctx, "bad"))
		must(t, d.Dict.Set(ctx, int64(7), 1))
		_, err = d.Keys(ctx)
		wantConvertError(t, err, "manager: dict.keys: key 7: cannot convert Python int to Go string", "int", int64(7))
		_, err = d.Copy(ctx)
		wantConvertError(t, err, "manager: dict.items: key 7: cannot convert Python int to Go string", "int", int64(7))
		must(t, d.Dict.Delete(ctx, int64(7)))

		checkExtension(t, c, func() error {
			v, err := d.Incr(ctx, "n", 5)
			if err == nil && v != 5 {
				t.Fatalf("Incr = %d", v)
			}
			return err
		})
		checkExtension(t, c, func() error {
			v, err := d.SetDefaultAdd(ctx, "m", 10, 1)
			if err == nil && v != 11 {
				t.Fatalf("SetDefaultAdd = %d", v)
			}
			return err
		})

		// Struct values; a view got with Named.
		pd := get[*manager.DictOf[string, point]](t)(manager.Named[manager.DictOf[string, point]](ctx, c, "dict"))
		defer pd.Close()
		must(t, pd.Set(ctx, "p", point{1, 2}))
		if p := get[point](t)(pd.Get(ctx, "p")); p != (point{1, 2}) {
			t.Fatalf("Get(p) = %v", p)
		}
		if s := get[string](t)(pd.Repr(ctx)); s != "{'p': {'x': 1, 'y': 2}}" {
			t.Fatalf("Repr = %s", s)
		}
		must(t, pd.Dict.Set(ctx, "q", map[string]any{"x": 1, "y": "two"}))
		_, err = pd.Get(ctx, "q")
		wantConvertError(t, err, "manager: dict.__getitem__: value of key 'q': cannot convert Python str to Go int at .y", "dict", get[pickle.Value](t)(pd.Dict.Get(ctx, "q")))
	})
}

func TestListOf(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		l := get[*manager.ListOf[int]](t)(manager.NewListOf(ctx, c, []int{1, 2, 3}))
		defer l.Close()
		must(t, l.Append(ctx, 4))
		must(t, l.Extend(ctx, []int{5, 6}))
		must(t, l.Insert(ctx, 0, 0))
		if v := get[int](t)(l.Get(ctx, -1)); v != 6 {
			t.Fatalf("Get(-1) = %d", v)
		}
		must(t, l.Set(ctx, 1, 10))
		if v := get[int](t)(l.Pop(ctx, -1)); v != 6 {
			t.Fatalf("Pop = %d", v)
		}
		must(t, l.Remove(ctx, 10))
		if i := get[int](t)(l.Index(ctx, 3)); i != 2 {
			t.Fatalf("Index(3) = %d", i)
		}
		if n := get[int](t)(l.Count(ctx, 3)); n != 1 {
			t.Fatalf("Count(3) = %d", n)
		}
		if ok := get[bool](t)(l.Contains(ctx, 5)); !ok {
			t.Fatal("Contains(5) = false")
		}
		if xs := get[[]int](t)(l.Slice(ctx, 1, 3)); !slices.Equal(xs, []int{2, 3}) {
			t.Fatalf("Slice = %v", xs)
		}
		if xs := get[[]int](t)(l.Items(ctx)); !slices.Equal(xs, []int{0, 2, 3, 4, 5}) {
			t.Fatalf("Items = %v", xs)
		}
		all := get[iter.Seq2[int, int]](t)(l.All(ctx))
		for i, x := range all {
			if want := []int{0, 2, 3, 4, 5}[i]; x != want {
				t.Fatalf("All: item %d = %d, want %d", i, x, want)
			}
			must(t, l.Append(ctx, 99)) // not seen: a snapshot
		}
		vs := get[iter.Seq[int]](t)(l.Values(ctx))
		if xs := slices.Collect(vs); len(xs) != 10 {
			t.Fatalf("Values = %v", xs)
		}
		checkExtension(t, c, func() error {
			xs, err := l.PopMany(ctx, 5, true)
			if err == nil && !slices.Equal(xs, []int{99, 99, 99, 99, 99}) {
				t.Fatalf("PopMany = %v", xs)
			}
			return err
		})

		// Items of other types.
		must(t, l.List.Set(ctx, 2, "three"))
		_, err := l.Get(ctx, 2)
		wantConvertError(t, err, "manager: list.__getitem__: index 2: cannot convert Python str to Go int", "str", "three")
		_, err = l.Items(ctx)
		wantConvertError(t, err, "manager: list.__getitem__: index 2: cannot convert Python str to Go int", "str", "three")
		n := get[int](t)(l.Len(ctx))
		_, err = l.Slice(ctx, 1-n, 3-n)
		wantConvertError(t, err, fmt.Sprintf("manager: list.__getitem__: item 1 of [%d:%d]: cannot convert Python str to Go int", 1-n, 3-n), "str", "three")
		_, err = l.Pop(ctx, 2)
		wantConvertError(t, err, "manager: list.pop: index 2: cannot convert Python str to Go int", "str", "three")
		if ok := get[bool](t)(l.Contains(ctx, 3)); ok {
			t.Fatal("the item that did not convert is still there")
		}

		// Arguments that do not convert.
		fl := get[*manager.ListOf[any]](t)(manager.NewListOf[any](ctx, c, nil))
		defer fl.Close()
		err = fl.Append(ctx, func() {})
		var ce *manager.ConvertError
		if !errors.As(err, &ce) || err.Error() != "manager: list.append: item: cannot convert Go type func() to a Python value" || ce.Go.String() != "func()" {
			t.Fatalf("Append(func) = %v", err)
		}
	})
}

type job struct {
	ID   int    `pickle:"id"`
	Name string `pickle:"name"`
}

func TestQueueOf(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		q := get[*manager.QueueOf[job]](t)(manager.NewQueueOf[job](ctx, c, 0))
		defer q.Close()
		must(t, q.Put(ctx, job{1, "a"}))
		must(t, q.TryPut(ctx, job{2, "b"}))
		if j := get[job](t)(q.Get(ctx)); j != (job{1, "a"}) {
			t.Fatalf("Get = %v", j)
		}
		if j := get[job](t)(q.TryGet(ctx)); j != (job{2, "b"}) {
			t.Fatalf("TryGet = %v", j)
		}
		if _, err := q.TryGet(ctx); !errors.Is(err, manager.ErrEmpty) {
			t.Fatalf("TryGet(empty) = %v", err)
		}
		checkExtension(t, c, func() error {
			if err := q.PutMany(ctx, []job{{3, "c"}, {4, "d"}}); err != nil {
				return err
			}
			js, err := q.GetMany(ctx, 5)
			if err == nil && !slices.Equal(js, []job{{3, "c"}, {4, "d"}}) {
				t.Fatalf("GetMany = %v", js)
			}
			return err
		})

		// All: an item that does not convert is yielded as an error
		// (holding the item) and the range goes on.
		must(t, q.Put(ctx, job{5, "e"}))
		must(t, q.Queue.Put(ctx, "junk"))
		must(t, q.Put(ctx, job{6, "f"}))
		var got []job
		var errs []error
		for j, err := range q.All(ctx) {
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if got = append(got, j); len(got) == 2 {
				break
			}
		}
		if !slices.Equal(got, []job{{5, "e"}, {6, "f"}}) || len(errs) != 1 {
			t.Fatalf("All = %v, errors %v", got, errs)
		}
		wantConvertError(t, errs[0], "manager: Queue.get: item: cannot convert Python str to Go manager_test.job", "str", "junk")

		// The range ends with ctx, yielding its error once.
		short, cancel := context.WithCancel(ctx)
		defer cancel()
		must(t, q.Put(ctx, job{7, "g"}))
		errs = nil
		for j, err := range q.All(short) {
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if j.ID != 7 {
				t.Fatalf("All yielded %v", j)
			}
			cancel()
		}
		if len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
			t.Fatalf("All after cancel: errors %v", errs)
		}

		// And without error when the queue is shut down (3.13).
		must(t, q.Put(ctx, job{8, "h"}))
		if err := q.Shutdown(ctx, false); err != nil {
			if !errorType(err, "RemoteError") {
				t.Fatalf("Shutdown = %v", err)
			}
			return // not exposed before 3.13
		}
		got = nil
		for j, err := range q.All(ctx) {
			must(t, err)
			got = append(got, j)
		}
		if !slices.Equal(got, []job{{8, "h"}}) {
			t.Fatalf("All until shutdown = %v", got)
		}
	})
}

// typedChild runs in a child process, with typed views as arguments: it
// takes jobs until the queue's sentinel and records them in the dict and
// the list.
var typedChild = procshare.Register("manager_test.typedChild", func(ctx context.Context, jobs *manager.QueueOf[job], done *manager.DictOf[string, int], order *manager.ListOf[int]) error {
	for j, err := range jobs.All(ctx) {
		if err != nil {
			return err
		}
		if j.ID < 0 {
			return nil
		}
		if err := done.Set(ctx, j.Name, j.ID); err != nil {
			return err
		}
		if err := order.Append(ctx, j.ID); err != nil {
			return err
		}
	}
	return nil
})

// Typed views are Start arguments like the proxies they embed.
func TestTypedViewsInChild(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		jobs := get[*manager.QueueOf[job]](t)(manager.NewQueueOf[job](ctx, c, 0))
		defer jobs.Close()
		done := get[*manager.DictOf[string, int]](t)(manager.NewDictOf[string, int](ctx, c, nil))
		defer done.Close()
		order := get[*manager.ListOf[int]](t)(manager.NewListOf[int](ctx, c, nil))
		defer order.Close()
		p := get[*procshare.Process](t)(procshare.Start(typedChild, jobs, done, order))
		for i := range 5 {
			must(t, jobs.Put(ctx, job{i, fmt.Sprint("job", i)}))
		}
		must(t, jobs.Put(ctx, job{-1, ""}))
		must(t, p.Join(ctx))
		if xs := get[[]int](t)(order.Items(ctx)); !slices.Equal(xs, []int{0, 1, 2, 3, 4}) {
			t.Fatalf("order = %v", xs)
		}
		if m := get[map[string]int](t)(done.Copy(ctx)); len(m) != 5 || m["job3"] != 3 {
			t.Fatalf("done = %v", m)
		}
	})
}
