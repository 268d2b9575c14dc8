package manager_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/procshare/procshare/internal/pyenv"
	"github.com/procshare/procshare/internal/wire"
	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

func TestDict(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		d := get[*manager.Dict](t)(c.NewDict(ctx, map[string]int{"a": 1}))
		defer d.Close()
		must(t, d.Set(ctx, "b", 2))
		must(t, d.Set(ctx, int64(7), []string{"x", "y"}))
		if n := get[int](t)(d.Len(ctx)); n != 3 {
			t.Fatalf("Len = %d, want 3", n)
		}
		if v := get[int](t)(manager.As[int](d.Get(ctx, "b"))); v != 2 {
			t.Fatalf("Get(b) = %d", v)
		}
		// Python key equality: 7.0 finds the key 7.
		if v := get[[]string](t)(manager.As[[]string](d.Get(ctx, 7.0))); !slices.Equal(v, []string{"x", "y"}) {
			t.Fatalf("Get(7.0) = %v", v)
		}
		_, err := d.Get(ctx, "missing")
		var re *manager.RemoteError
		if !errors.Is(err, manager.ErrKeyNotFound) || !errors.As(err, &re) || re.Type != "KeyError" || re.Message != "'missing'" {
			t.Fatalf("Get(missing) = %v (%#v)", err, re)
		}
		if _, ok, err := d.Lookup(ctx, "missing"); ok || err != nil {
			t.Fatalf("Lookup(missing) = %v, %v", ok, err)
		}
		if v := get[pickle.Value](t)(d.GetDefault(ctx, "missing", "dflt")); v != "dflt" {
			t.Fatalf("GetDefault = %v", v)
		}
		if ok := get[bool](t)(d.Contains(ctx, "a")); !ok {
			t.Fatal("Contains(a) = false")
		}
		keys := get[[]pickle.Value](t)(d.Keys(ctx))
		if pickle.Repr(pickle.Tuple(keys)) != "('a', 'b', 7)" {
			t.Fatalf("Keys = %s", pickle.Repr(pickle.Tuple(keys)))
		}
		vals := get[[]pickle.Value](t)(d.Values(ctx))
		if len(vals) != 3 {
			t.Fatalf("Values = %v", vals)
		}
		items := get[[]pickle.Item](t)(d.Items(ctx))
		if len(items) != 3 || items[1].Key != "b" || items[1].Value != int64(2) {
			t.Fatalf("Items = %v", items)
		}
		cp := get[*pickle.Dict](t)(d.Copy(ctx))
		if pickle.Repr(cp) != "{'a': 1, 'b': 2, 7: ['x', 'y']}" {
			t.Fatalf("Copy = %s", pickle.Repr(cp))
		}
		if s := get[string](t)(d.Repr(ctx)); s != pickle.Repr(cp) {
			t.Fatalf("Repr = %s", s)
		}
		must(t, d.Update(ctx, map[string]int{"c": 3}))
		if v := get[pickle.Value](t)(d.SetDefault(ctx, "c", 99)); v != int64(3) {
			t.Fatalf("SetDefault(c) = %v", v)
		}
		if v := get[pickle.Value](t)(d.SetDefault(ctx, "d", 4)); v != int64(4) {
			t.Fatalf("SetDefault(d) = %v", v)
		}
		if v := get[pickle.Value](t)(d.Pop(ctx, "d")); v != int64(4) {
			t.Fatalf("Pop(d) = %v", v)
		}
		it := get[pickle.Item](t)(d.PopItem(ctx))
		if it.Key != "c" {
			t.Fatalf("PopItem = %v", it)
		}
		must(t, d.Delete(ctx, int64(7)))
		if err := d.Delete(ctx, int64(7)); !errors.Is(err, manager.ErrKeyNotFound) {
			t.Fatalf("Delete(missing) = %v", err)
		}
		iter := get[*manager.Iterator](t)(d.Iter(ctx))
		var seen []pickle.Value
		for {
			v, ok, err := iter.Next(ctx)
			must(t, err)
			if !ok {
				break
			}
			seen = append(seen, v)
		}
		must(t, iter.Close())
		if pickle.Repr(pickle.Tuple(seen)) != "('a', 'b')" {
			t.Fatalf("iterated %v", seen)
		}
		must(t, d.Clear(ctx))
		if n := get[int](t)(d.Len(ctx)); n != 0 {
			t.Fatalf("Len after Clear = %d", n)
		}
		if _, err := d.PopItem(ctx); !errors.Is(err, manager.ErrKeyNotFound) {
			t.Fatalf("PopItem(empty) = %v", err)
		}
		// Unhashable keys are the server's TypeError.
		if err := d.Set(ctx, []int{1}, 1); !errorType(err, "TypeError") {
			t.Fatalf("Set(list key) = %v", err)
		}
		checkExtension(t, c, func() error {
			v, err := d.Incr(ctx, "n", 5)
			if err == nil && v != int64(5) {
				t.Fatalf("Incr = %v", v)
			}
			return err
		})
		checkExtension(t, c, func() error {
			v, err := d.SetDefaultAdd(ctx, "m", 10, 1)
			if err == nil && v != int64(11) {
				t.Fatalf("SetDefaultAdd = %v", v)
			}
			return err
		})
	})
}

// errorType reports whether err is a RemoteError of Python type typ.
func errorType(err error, typ string) bool {
	var re *manager.RemoteError
	return errors.As(err, &re) && re.Type == typ
}

// checkExtension runs f, which uses a procshare extension: it must work on
// procshare's server and fail with ErrUnsupported on CPython's.
func checkExtension(t *testing.T, c *manager.Client, f func() error) {
	t.Helper()
	err := f()
	if c.Extended() {
		if err != nil {
			t.Fatalf("extension: %v", err)
		}
	} else if !errors.Is(err, manager.ErrUnsupported) {
		t.Fatalf("extension on CPython: %v, want ErrUnsupported", err)
	}
}

func TestList(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		l := get[*manager.List](t)(c.NewList(ctx, []int{3, 1, 2}))
		defer l.Close()
		must(t, l.Append(ctx, 5))
		must(t, l.Extend(ctx, []int{4, 1}))
		must(t, l.Insert(ctx, 0, 9))
		if got := repr(t)(l.Items(ctx)); got != "[9, 3, 1, 2, 5, 4, 1]" {
			t.Fatalf("Items = %s", got)
		}
		if n := get[int](t)(l.Len(ctx)); n != 7 {
			t.Fatalf("Len = %d", n)
		}
		if v := get[pickle.Value](t)(l.Get(ctx, -1)); v != int64(1) {
			t.Fatalf("Get(-1) = %v", v)
		}
		if _, err := l.Get(ctx, 100); !errors.Is(err, manager.ErrIndexOutOfRange) {
			t.Fatalf("Get(100) = %v", err)
		}
		must(t, l.Set(ctx, 0, "nine"))
		if n := get[int](t)(l.Count(ctx, 1)); n != 2 {
			t.Fatalf("Count(1) = %d", n)
		}
		if i := get[int](t)(l.Index(ctx, 5)); i != 4 {
			t.Fatalf("Index(5) = %d", i)
		}
		if _, err := l.Index(ctx, 42); !errorType(err, "ValueError") {
			t.Fatalf("Index(42) = %v", err)
		}
		if ok := get[bool](t)(l.Contains(ctx, "nine")); !ok {
			t.Fatal("Contains(nine) = false")
		}
		must(t, l.Delete(ctx, 0))
		must(t, l.Remove(ctx, 1))
		if got := repr(t)(l.Slice(ctx, 0, 3)); got != "[3, 2, 5]" {
			t.Fatalf("Slice = %s", got)
		}
		if v := get[pickle.Value](t)(l.Pop(ctx, -1)); v != int64(1) {
			t.Fatalf("Pop = %v", v)
		}
		must(t, l.Sort(ctx, false))
		if got := repr(t)(l.Items(ctx)); got != "[2, 3, 4, 5]" {
			t.Fatalf("sorted = %s", got)
		}
		must(t, l.Sort(ctx, true))
		must(t, l.Reverse(ctx))
		if got := get[[]int](t)(manager.As[[]int](l.Items(ctx))); !slices.Equal(got, []int{2, 3, 4, 5}) {
			t.Fatalf("As[[]int] = %v", got)
		}
		if s := get[string](t)(l.Repr(ctx)); s != "[2, 3, 4, 5]" {
			t.Fatalf("Repr = %s", s)
		}
		checkExtension(t, c, func() error {
			v, err := l.PopMany(ctx, 3, false)
			if err == nil && pickle.Repr(pickle.Tuple(v)) != "(2, 3, 4)" {
				t.Fatalf("PopMany = %v", v)
			}
			return err
		})
	})
}

// repr returns the Python repr of a slice result, failing on error.
func repr(t testing.TB) func([]pickle.Value, error) string {
	return func(v []pickle.Value, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return pickle.Repr(&pickle.List{Items: v})
	}
}

func TestValue(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		v := get[*manager.Value[float64]](t)(manager.NewValue(ctx, c, "d", 1.5))
		defer v.Close()
		if x := get[float64](t)(v.Get(ctx)); x != 1.5 {
			t.Fatalf("Get = %v", x)
		}
		must(t, v.Set(ctx, 3.1415927))
		if x := get[float64](t)(v.Get(ctx)); x != 3.1415927 {
			t.Fatalf("Get = %v", x)
		}
		if s := get[string](t)(v.Repr(ctx)); s != "Value('d', 3.1415927)" {
			t.Fatalf("Repr = %s", s)
		}
		n := get[*manager.Value[int]](t)(manager.NewValue(ctx, c, "", 10))
		defer n.Close()
		checkExtension(t, c, func() error {
			x, err := n.Add(ctx, 5)
			if err == nil && x != 15 {
				t.Fatalf("Add = %d", x)
			}
			return err
		})
		checkExtension(t, c, func() error {
			ok, err := n.CompareAndSwap(ctx, 15, 20)
			if err == nil && !ok {
				t.Fatal("CompareAndSwap(15, 20) = false")
			}
			return err
		})
		checkExtension(t, c, func() error {
			ok, err := n.CompareAndSwap(ctx, 15, 30)
			if err == nil && ok {
				t.Fatal("CompareAndSwap(15, 30) = true")
			}
			return err
		})
		type point struct {
			X int `pickle:"x"`
			Y int `pickle:"y"`
		}
		p := get[*manager.Value[point]](t)(manager.NewValue(ctx, c, "O", point{1, 2}))
		defer p.Close()
		if got := get[point](t)(p.Get(ctx)); got != (point{1, 2}) {
			t.Fatalf("struct Value = %+v", got)
		}
	})
}

func TestArray(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		a := get[*manager.Array[int32]](t)(manager.NewArray(ctx, c, "i", []int32{0, 1, 2, 3, 4}))
		defer a.Close()
		if n := get[int](t)(a.Len(ctx)); n != 5 {
			t.Fatalf("Len = %d", n)
		}
		must(t, a.Set(ctx, 1, -1))
		if x := get[int32](t)(a.Get(ctx, 1)); x != -1 {
			t.Fatalf("Get(1) = %d", x)
		}
		if _, err := a.Get(ctx, 5); !errors.Is(err, manager.ErrIndexOutOfRange) {
			t.Fatalf("Get(5) = %v", err)
		}
		must(t, a.SetSlice(ctx, 2, []int32{-2, -3}))
		if got := get[[]int32](t)(a.Values(ctx)); !slices.Equal(got, []int32{0, -1, -2, -3, 4}) {
			t.Fatalf("Values = %v", got)
		}
		if got := get[[]int32](t)(a.Slice(ctx, 3, 5)); !slices.Equal(got, []int32{-3, 4}) {
			t.Fatalf("Slice = %v", got)
		}
		f := get[*manager.Array[float64]](t)(manager.NewArray(ctx, c, "", []float64{0.5, 1e16}))
		defer f.Close()
		if got := get[[]float64](t)(f.Values(ctx)); !slices.Equal(got, []float64{0.5, 1e16}) {
			t.Fatalf("float Values = %v", got)
		}
		if s := get[string](t)(f.Repr(ctx)); s != "array('d', [0.5, 1e+16])" {
			t.Fatalf("Repr = %s", s)
		}
		// A proxy attached by token learns the typecode from the server.
		b := get[*manager.Array[int32]](t)(manager.Attach[manager.Array[int32]](ctx, c, a.Token(), a.Exposed()))
		defer b.Close()
		must(t, b.SetSlice(ctx, 0, []int32{7}))
		if x := get[int32](t)(a.Get(ctx, 0)); x != 7 {
			t.Fatalf("Get(0) after SetSlice through a second proxy = %d", x)
		}
	})
}

func TestNamespace(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		n := get[*manager.Namespace](t)(c.NewNamespace(ctx, map[string]any{"name": "Bob"}))
		defer n.Close()
		must(t, n.Set(ctx, "age", 42))
		if v := get[pickle.Value](t)(n.Get(ctx, "age")); v != int64(42) {
			t.Fatalf("Get(age) = %v", v)
		}
		if s := get[string](t)(n.Repr(ctx)); s != "Namespace(age=42, name='Bob')" {
			t.Fatalf("Repr = %s", s)
		}
		must(t, n.Delete(ctx, "age"))
		if _, err := n.Get(ctx, "age"); !errors.Is(err, manager.ErrNoAttribute) {
			t.Fatalf("Get(deleted) = %v", err)
		}
	})
}

func TestQueue(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		q := get[*manager.Queue](t)(c.NewQueue(ctx, 2))
		defer q.Close()
		if ok := get[bool](t)(q.Empty(ctx)); !ok {
			t.Fatal("Empty = false")
		}
		if _, err := q.TryGet(ctx); !errors.Is(err, manager.ErrEmpty) {
			t.Fatalf("TryGet(empty) = %v", err)
		}
		must(t, q.Put(ctx, "a"))
		must(t, q.TryPut(ctx, map[string]int{"b": 2}))
		if err := q.TryPut(ctx, "c"); !errors.Is(err, manager.ErrFull) {
			t.Fatalf("TryPut(full) = %v", err)
		}
		if ok := get[bool](t)(q.Full(ctx)); !ok {
			t.Fatal("Full = false")
		}
		if n := get[int](t)(q.Len(ctx)); n != 2 {
			t.Fatalf("Len = %d", n)
		}
		if v := get[pickle.Value](t)(q.Get(ctx)); v != "a" {
			t.Fatalf("Get = %v", v)
		}
		if v := get[map[string]int](t)(manager.As[map[string]int](q.TryGet(ctx))); v["b"] != 2 {
			t.Fatalf("TryGet = %v", v)
		}
		checkExtension(t, c, func() error {
			if err := q.PutMany(ctx, []int{1, 2}); err != nil {
				return err
			}
			v, err := q.GetMany(ctx, 5)
			if err == nil && pickle.Repr(pickle.Tuple(v)) != "(1, 2)" {
				t.Fatalf("GetMany = %v", v)
			}
			if _, err := q.TryGetMany(ctx, 5); !errors.Is(err, manager.ErrEmpty) {
				t.Fatalf("TryGetMany(empty) = %v", err)
			}
			return err
		})

		j := get[*manager.JoinableQueue](t)(c.NewJoinableQueue(ctx, 0))
		defer j.Close()
		must(t, j.Put(ctx, 1))
		must(t, j.Put(ctx, 2))
		done := make(chan error, 1)
		go func() { done <- j.Join(ctx) }()
		for range 2 {
			get[pickle.Value](t)(j.Get(ctx))
			must(t, j.TaskDone(ctx))
		}
		must(t, <-done)
		if err := j.TaskDone(ctx); !errorType(err, "ValueError") {
			t.Fatalf("TaskDone too many = %v", err)
		}
	})
}

func TestNamed(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		if c.Extended() {
			t.Skip("the embedded server registers no named objects (see the server tests)")
		}
		q1 := get[*manager.Queue](t)(manager.Named[manager.Queue](ctx, c, "get_queue"))
		defer q1.Close()
		q2 := get[*manager.Queue](t)(manager.Named[manager.Queue](ctx, c, "get_queue"))
		defer q2.Close()
		must(t, q1.Put(ctx, "shared"))
		if v := get[pickle.Value](t)(q2.Get(ctx)); v != "shared" {
			t.Fatalf("Get = %v", v)
		}
		if _, err := c.Create(ctx, "no_such_typeid", nil, nil); !errorType(err, "RemoteError") {
			t.Fatalf("Create(unknown) = %v", err)
		}
	})
}

func TestLocks(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		l := get[*manager.Lock](t)(c.NewLock(ctx))
		defer l.Close()
		must(t, l.Lock(ctx))
		if ok := get[bool](t)(l.TryLock(ctx)); ok {
			t.Fatal("TryLock on a held lock = true")
		}
		must(t, l.Unlock(ctx))
		if err := l.Unlock(ctx); !errorType(err, "RuntimeError") {
			t.Fatalf("Unlock(unlocked) = %v", err)
		}
		if ok := get[bool](t)(l.TryLock(ctx)); !ok {
			t.Fatal("TryLock on a free lock = false")
		}
		must(t, l.Unlock(ctx))

		r := get[*manager.RLock](t)(c.NewRLock(ctx))
		defer r.Close()
		must(t, r.Lock(ctx))
		must(t, r.Lock(ctx)) // re-entrant
		if ok := get[bool](t)(r.TryLock(ctx)); !ok {
			t.Fatal("RLock.TryLock by the owner = false")
		}
		other := get[*manager.RLock](t)(manager.Attach[manager.RLock](ctx, c, r.Token(), r.Exposed()))
		defer other.Close()
		if ok := get[bool](t)(other.TryLock(ctx)); ok {
			t.Fatal("RLock.TryLock by another handle = true")
		}
		if err := other.Unlock(ctx); !errorType(err, "RuntimeError") {
			t.Fatalf("RLock.Unlock by a non-owner = %v", err)
		}
		for range 3 {
			must(t, r.Unlock(ctx))
		}
		if ok := get[bool](t)(other.TryLock(ctx)); !ok {
			t.Fatal("RLock.TryLock after release = false")
		}
		must(t, other.Unlock(ctx))

		s := get[*manager.Semaphore](t)(c.NewSemaphore(ctx, 2))
		defer s.Close()
		must(t, s.Acquire(ctx))
		must(t, s.Acquire(ctx))
		if ok := get[bool](t)(s.TryAcquire(ctx)); ok {
			t.Fatal("TryAcquire on a zero semaphore = true")
		}
		must(t, s.Release(ctx))
		must(t, s.Release(ctx))
		must(t, s.Release(ctx)) // unbounded

		b := get[*manager.Semaphore](t)(c.NewBoundedSemaphore(ctx, 1))
		defer b.Close()
		must(t, b.Acquire(ctx))
		must(t, b.Release(ctx))
		if err := b.Release(ctx); !errorType(err, "ValueError") {
			t.Fatalf("BoundedSemaphore over-release = %v", err)
		}
	})
}

func TestCondition(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		cv := get[*manager.Condition](t)(c.NewCondition(ctx))
		defer cv.Close()
		if err := cv.Wait(ctx); !errorType(err, "RuntimeError") {
			t.Fatalf("Wait without the lock = %v", err)
		}
		if err := cv.Notify(ctx, 1); !errorType(err, "RuntimeError") {
			t.Fatalf("Notify without the lock = %v", err)
		}
		flag := get[*manager.Value[bool]](t)(manager.NewValue(ctx, c, "", false))
		defer flag.Close()
		// A waiter in another goroutine, with its own handle (owner).
		waiter := get[*manager.Condition](t)(manager.Attach[manager.Condition](ctx, c, cv.Token(), cv.Exposed()))
		defer waiter.Close()
		woke := make(chan error, 1)
		go func() {
			if err := waiter.Lock(ctx); err != nil {
				woke <- err
				return
			}
			for {
				ok, err := flag.Get(ctx)
				if err != nil || ok {
					waiter.Unlock(ctx)
					woke <- err
					return
				}
				if err := waiter.Wait(ctx); err != nil {
					woke <- err
					return
				}
			}
		}()
		must(t, cv.Lock(ctx))
		must(t, flag.Set(ctx, true))
		must(t, cv.NotifyAll(ctx))
		must(t, cv.Unlock(ctx))
		must(t, <-woke)
		must(t, cv.Lock(ctx))
		must(t, cv.Notify(ctx, 1)) // nobody waits: fine
		must(t, cv.Unlock(ctx))
	})
}

func TestEventBarrier(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		e := get[*manager.Event](t)(c.NewEvent(ctx))
		defer e.Close()
		if ok := get[bool](t)(e.IsSet(ctx)); ok {
			t.Fatal("IsSet on a new event")
		}
		done := make(chan error, 1)
		go func() { done <- e.Wait(ctx) }()
		must(t, e.Set(ctx))
		must(t, <-done)
		must(t, e.Wait(ctx))
		must(t, e.Clear(ctx))
		if ok := get[bool](t)(e.IsSet(ctx)); ok {
			t.Fatal("IsSet after Clear")
		}

		b := get[*manager.Barrier](t)(c.NewBarrier(ctx, 3))
		defer b.Close()
		if n := get[int](t)(b.Parties(ctx)); n != 3 {
			t.Fatalf("Parties = %d", n)
		}
		idx := make(chan int, 3)
		errs := make(chan error, 3)
		for range 3 {
			go func() {
				i, err := b.Wait(ctx)
				idx <- i
				errs <- err
			}()
		}
		var got []int
		for range 3 {
			must(t, <-errs)
			got = append(got, <-idx)
		}
		slices.Sort(got)
		if !slices.Equal(got, []int{0, 1, 2}) {
			t.Fatalf("arrival indexes %v", got)
		}
		if n := get[int](t)(b.NWaiting(ctx)); n != 0 {
			t.Fatalf("NWaiting = %d", n)
		}
		must(t, b.Abort(ctx))
		if ok := get[bool](t)(b.Broken(ctx)); !ok {
			t.Fatal("Broken after Abort = false")
		}
		if _, err := b.Wait(ctx); !errors.Is(err, manager.ErrBrokenBarrier) {
			t.Fatalf("Wait on a broken barrier = %v", err)
		}
		must(t, b.Reset(ctx))
		if ok := get[bool](t)(b.Broken(ctx)); ok {
			t.Fatal("Broken after Reset = true")
		}
	})
}

func TestRemoteErrorDetails(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		l := get[*manager.List](t)(c.NewList(ctx, nil))
		defer l.Close()
		p := get[*manager.Proxy](t)(manager.Attach[manager.Proxy](ctx, c, l.Token(), l.Exposed()))
		defer p.Close()
		// Not exposed: the server's own error, a #TRACEBACK.
		_, err := p.Call(ctx, "no_such_method")
		var re *manager.RemoteError
		if !errors.As(err, &re) || re.Type != "RemoteError" || !strings.Contains(re.Traceback, "no_such_method") {
			t.Fatalf("Call(no_such_method) = %v", err)
		}
		// Exposed and raising: #ERROR with the exception's class and args.
		_, err = p.Call(ctx, "pop")
		if !errors.As(err, &re) || re.Type != "IndexError" || re.Message != "pop from empty list" ||
			!reflect.DeepEqual(re.Args, pickle.Tuple{"pop from empty list"}) {
			t.Fatalf("Call(pop) = %#v", err)
		}
		// Keyword arguments.
		must(t, l.Extend(ctx, []int{2, 1}))
		if _, err := p.CallKw(ctx, "sort", nil, map[string]any{"reverse": true}); err != nil {
			t.Fatal(err)
		}
		if got := repr(t)(l.Items(ctx)); got != "[2, 1]" {
			t.Fatalf("after sort(reverse=True): %s", got)
		}
	})
}

// TestTransportsAndAuth dials over TCP and Unix sockets, procshare's server
// and CPython's, and checks that a wrong authkey is refused clearly.
func TestTransportsAndAuth(t *testing.T) {
	type server struct {
		name, addr string
		key        []byte
	}
	key := []byte("transport key")
	var servers []server
	for _, network := range []string{"tcp", "unix"} {
		srv, err := manager.NewServer(&manager.ServerConfig{Authkey: key})
		must(t, err)
		addr := "127.0.0.1:0"
		if network == "unix" {
			addr = filepath.Join(t.TempDir(), "m.sock")
		}
		ln, err := manager.Listen(manager.Address{Network: network, Addr: addr})
		must(t, err)
		go srv.Serve(context.Background(), ln)
		t.Cleanup(func() { srv.Close() })
		servers = append(servers, server{"procshare-" + network, ln.Addr().String(), key})
	}
	py := pyenv.Latest(t)
	for _, network := range []string{"tcp", "unix"} {
		s := cpythonServer(t, py, network)
		servers = append(servers, server{py.Name() + "-" + network, s.addr, s.key})
	}
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			c := get[*manager.Client](t)(manager.Dial(ctx, s.addr, s.key, nil))
			defer c.Close()
			l := get[*manager.List](t)(c.NewList(ctx, []int{1}))
			defer l.Close()
			must(t, l.Append(ctx, 2))
			if got := repr(t)(l.Items(ctx)); got != "[1, 2]" {
				t.Fatalf("Items = %s", got)
			}
			if tok := l.Token(); tok.Address != c.Address() {
				t.Fatalf("token address %v, client address %v", tok.Address, c.Address())
			}
			_, err := manager.Dial(ctx, s.addr, []byte("wrong"), nil)
			if !errors.Is(err, wire.ErrAuthFailed) {
				t.Fatalf("Dial with a wrong key = %v, want wire.ErrAuthFailed", err)
			}
		})
	}
}
