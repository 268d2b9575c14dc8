package manager

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"

	"github.com/procshare/procshare/pickle"
)

// The typed views below (DictOf, ListOf, QueueOf) embed the untyped proxy
// of the same object and reference, and give it methods that take and
// return Go types: arguments are converted with pickle.ToValue, results with
// pickle.FromValue. A shared object may hold anything a Python process
// stored in it; a value that does not convert gives a *ConvertError that
// says where it is (the key, the index) and names its Python type and the Go
// type, never a panic. The embedded proxy (d.Dict, l.List, q.Queue) stays at
// hand for mixed data: its methods return pickle values to convert with As.

// toPy converts x, an argument of method, for the wire. where names it in
// the error ("key", "value", "item").
func (p *proxy) toPy(method, where string, x any) (pickle.Value, error) {
	v, err := pickle.ToValue(x)
	if err != nil {
		return nil, &ConvertError{TypeID: p.tok.TypeID, Method: method, Where: where, Go: reflect.TypeOf(x), Err: err}
	}
	return v, nil
}

// fromPy converts v, (part of) the result of method, to T. where names the
// value in the error; it is called only on failure.
func fromPy[T any](p *proxy, method string, where func() string, v pickle.Value) (T, error) {
	var out T
	if err := pickle.FromValue(v, &out); err != nil {
		var w string
		if where != nil {
			w = where()
		}
		return out, &ConvertError{TypeID: p.tok.TypeID, Method: method, Where: w,
			Python: pickle.TypeName(v), Go: reflect.TypeFor[T](), Value: v, Err: err}
	}
	return out, nil
}

// fromPyCall returns a function that converts the result of a call of method
// to T, passing an error through: fromPyCall[T](p, "get", nil)(p.call(ctx, "get")).
func fromPyCall[T any](p *proxy, method string, where func() string) func(pickle.Value, error) (T, error) {
	return func(v pickle.Value, err error) (T, error) {
		if err != nil {
			var zero T
			return zero, err
		}
		return fromPy[T](p, method, where, v)
	}
}

// fromPyAll converts the items of a sequence result; where(i) names item i.
func fromPyAll[T any](p *proxy, method string, where func(i int) string, vs []pickle.Value) ([]T, error) {
	out := make([]T, len(vs))
	for i, v := range vs {
		x, err := fromPy[T](p, method, func() string { return where(i) }, v)
		if err != nil {
			return nil, err
		}
		out[i] = x
	}
	return out, nil
}

// keyWhere names the value of key k in an error.
func keyWhere(k pickle.Value) func() string {
	return func() string { return "value of key " + pickle.Repr(k) }
}

// ---- DictOf ----------------------------------------------------------------

// DictOf is a shared Python dict (typeid "dict") seen from Go as a map from
// K to V. Keys follow Python's equality, as in Dict. The embedded Dict is the
// untyped proxy of the same object, for values of other types: d.Dict.Get
// returns a pickle.Value. The methods that do not depend on K and V (Len,
// Clear, Close, ShareFiles …) are Dict's, and so are Items and Iter, which
// return pickle values.
//
// A DictOf is safe for concurrent use by multiple goroutines, and the dict
// by any number of processes, like Dict: each method is one atomic operation
// on the server and one round trip. Its zero value is not connected: create
// one with NewDictOf, get a manager's named dict with Named, or receive one
// as a child process's argument (AttachFiles).
type DictOf[K comparable, V any] struct{ Dict }

// NewDictOf creates a shared dict holding the items of init (nil or empty
// for an empty dict).
func NewDictOf[K comparable, V any](ctx context.Context, c *Client, init map[K]V) (*DictOf[K, V], error) {
	d := &DictOf[K, V]{}
	var args []any
	if len(init) > 0 {
		args = []any{init}
	}
	if err := c.create(ctx, &d.proxy, "dict", args, nil); err != nil {
		return nil, err
	}
	return d, nil
}

// keyCall calls method with key (and the values vs) as arguments, and
// returns the converted key too, for errors.
func (d *DictOf[K, V]) keyCall(ctx context.Context, method string, key K, vs ...V) (pickle.Value, pickle.Value, error) {
	k, err := d.toPy(method, "key", key)
	if err != nil {
		return nil, nil, err
	}
	args := pickle.Tuple{k}
	for _, x := range vs {
		v, err := d.toPy(method, "value", x)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, v)
	}
	v, err := d.callKw(ctx, method, args, nil)
	return k, v, err
}

// valueCall is keyCall for methods that return a value.
func (d *DictOf[K, V]) valueCall(ctx context.Context, method string, key K, vs ...V) (V, error) {
	k, v, err := d.keyCall(ctx, method, key, vs...)
	if err != nil {
		var zero V
		return zero, err
	}
	return fromPy[V](&d.proxy, method, keyWhere(k), v)
}

// Get returns d[key]; a missing key is an error matching ErrKeyNotFound.
func (d *DictOf[K, V]) Get(ctx context.Context, key K) (V, error) {
	return d.valueCall(ctx, "__getitem__", key)
}

// Lookup returns d[key] and true, or V's zero value and false when key is
// missing.
func (d *DictOf[K, V]) Lookup(ctx context.Context, key K) (V, bool, error) {
	v, err := d.valueCall(ctx, "__getitem__", key)
	if errors.Is(err, ErrKeyNotFound) {
		return v, false, nil
	}
	return v, err == nil, err
}

// GetDefault returns d.get(key, def).
func (d *DictOf[K, V]) GetDefault(ctx context.Context, key K, def V) (V, error) {
	return d.valueCall(ctx, "get", key, def)
}

// Set does d[key] = value.
func (d *DictOf[K, V]) Set(ctx context.Context, key K, value V) error {
	_, _, err := d.keyCall(ctx, "__setitem__", key, value)
	return err
}

// Delete does del d[key]; a missing key is an error matching ErrKeyNotFound.
func (d *DictOf[K, V]) Delete(ctx context.Context, key K) error {
	_, _, err := d.keyCall(ctx, "__delitem__", key)
	return err
}

// Pop removes key and returns its value (ErrKeyNotFound when missing).
func (d *DictOf[K, V]) Pop(ctx context.Context, key K) (V, error) {
	return d.valueCall(ctx, "pop", key)
}

// PopItem removes and returns the last inserted item (ErrKeyNotFound when
// the dict is empty). An item that does not convert is removed all the same;
// the *ConvertError holds the part that did not convert.
func (d *DictOf[K, V]) PopItem(ctx context.Context) (K, V, error) {
	var (
		k K
		v V
	)
	it, err := d.Dict.PopItem(ctx)
	if err != nil {
		return k, v, err
	}
	if k, err = fromPy[K](&d.proxy, "popitem", func() string { return "key" }, it.Key); err != nil {
		return k, v, err
	}
	v, err = fromPy[V](&d.proxy, "popitem", keyWhere(it.Key), it.Value)
	return k, v, err
}

// SetDefault does d.setdefault(key, def) and returns the value now stored.
func (d *DictOf[K, V]) SetDefault(ctx context.Context, key K, def V) (V, error) {
	return d.valueCall(ctx, "setdefault", key, def)
}

// Contains reports key in d.
func (d *DictOf[K, V]) Contains(ctx context.Context, key K) (bool, error) {
	_, v, err := d.keyCall(ctx, "__contains__", key)
	return boolOf(v, err)
}

// Update does d.update(m): every item of m is stored in one round trip.
func (d *DictOf[K, V]) Update(ctx context.Context, m map[K]V) error {
	if len(m) == 0 {
		return nil
	}
	v, err := d.toPy("update", "", m)
	if err != nil {
		return err
	}
	return noValue(d.callKw(ctx, "update", pickle.Tuple{v}, nil))
}

// Incr atomically does d[key] = d.get(key, 0) + delta and returns the new
// value (procshare extension ps_incr; against a CPython manager the error
// wraps ErrUnsupported).
func (d *DictOf[K, V]) Incr(ctx context.Context, key K, delta V) (V, error) {
	if err := d.extension("ps_incr"); err != nil {
		var zero V
		return zero, err
	}
	return d.valueCall(ctx, "ps_incr", key, delta)
}

// SetDefaultAdd atomically does d[key] = d.get(key, def) + delta and returns
// the new value (procshare extension ps_setdefault_add).
func (d *DictOf[K, V]) SetDefaultAdd(ctx context.Context, key K, def, delta V) (V, error) {
	if err := d.extension("ps_setdefault_add"); err != nil {
		var zero V
		return zero, err
	}
	return d.valueCall(ctx, "ps_setdefault_add", key, def, delta)
}

// dictEntry is one converted item of a dict snapshot.
type dictEntry[K, V any] struct {
	k K
	v V
}

// snapshot returns the dict's items, converted, in insertion order: one
// items() call, which the server answers atomically.
func (d *DictOf[K, V]) snapshot(ctx context.Context) ([]dictEntry[K, V], error) {
	items, err := d.Dict.Items(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]dictEntry[K, V], len(items))
	for i, it := range items {
		k, err := fromPy[K](&d.proxy, "items", func() string { return "key " + pickle.Repr(it.Key) }, it.Key)
		if err != nil {
			return nil, err
		}
		v, err := fromPy[V](&d.proxy, "items", keyWhere(it.Key), it.Value)
		if err != nil {
			return nil, err
		}
		out[i] = dictEntry[K, V]{k, v}
	}
	return out, nil
}

// All returns the dict's items, in insertion order, for a range loop:
//
//	items, err := d.All(ctx)
//	for k, v := range items { … }
//
// It is a snapshot taken in one round trip (items(), which the server
// answers atomically, against procshare's server and CPython's alike) and
// converted at once, so that a value of another type is the error of All
// and the range never fails. The range sees the dict as it was at that
// instant: changes made meanwhile, by this or any other process, are not
// seen, and do not disturb it (unlike a Python loop over a dict that changes
// size). The sequence may be ranged over again; it yields the same snapshot.
// A large dict travels whole: for one item at a time use Get.
func (d *DictOf[K, V]) All(ctx context.Context) (iter.Seq2[K, V], error) {
	es, err := d.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return func(yield func(K, V) bool) {
		for _, e := range es {
			if !yield(e.k, e.v) {
				return
			}
		}
	}, nil
}

// Keys returns the dict's keys in insertion order, a snapshot like All's
// (one keys() call).
func (d *DictOf[K, V]) Keys(ctx context.Context) (iter.Seq[K], error) {
	vs, err := d.Dict.Keys(ctx)
	if err != nil {
		return nil, err
	}
	ks, err := fromPyAll[K](&d.proxy, "keys", func(i int) string { return "key " + pickle.Repr(vs[i]) }, vs)
	if err != nil {
		return nil, err
	}
	return sliceValues(ks), nil
}

// Values returns the dict's values in insertion order, a snapshot like
// All's (one items() call, so that an error can name the key).
func (d *DictOf[K, V]) Values(ctx context.Context) (iter.Seq[V], error) {
	items, err := d.Dict.Items(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]V, len(items))
	for i, it := range items {
		if out[i], err = fromPy[V](&d.proxy, "items", keyWhere(it.Key), it.Value); err != nil {
			return nil, err
		}
	}
	return sliceValues(out), nil
}

// Copy returns a snapshot of the whole dict as a Go map (one items() call,
// see All). Should two Python keys convert to one Go key, the later item
// wins.
func (d *DictOf[K, V]) Copy(ctx context.Context) (map[K]V, error) {
	es, err := d.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[K]V, len(es))
	for _, e := range es {
		m[e.k] = e.v
	}
	return m, nil
}

// sliceValues ranges over xs.
func sliceValues[T any](xs []T) iter.Seq[T] {
	return func(yield func(T) bool) {
		for _, x := range xs {
			if !yield(x) {
				return
			}
		}
	}
}

// ---- ListOf ----------------------------------------------------------------

// ListOf is a shared Python list (typeid "list") seen from Go as a []T.
// Indexes may be negative, as in Python. The embedded List is the untyped
// proxy of the same object, for items of other types: l.List.Get returns a
// pickle.Value. The methods that do not depend on T (Len, Delete, Reverse,
// Sort, Close, ShareFiles …) are List's.
//
// A ListOf is safe for concurrent use by multiple goroutines, and the list
// by any number of processes, like List; each method is one atomic
// operation on the server and one round trip. Its zero value is not
// connected: create one with NewListOf, get a named list with Named, or
// receive one as a child process's argument (AttachFiles).
type ListOf[T any] struct{ List }

// NewListOf creates a shared list holding init's items.
func NewListOf[T any](ctx context.Context, c *Client, init []T) (*ListOf[T], error) {
	l := &ListOf[T]{}
	var args []any
	if len(init) > 0 {
		args = []any{init}
	}
	if err := c.create(ctx, &l.proxy, "list", args, nil); err != nil {
		return nil, err
	}
	return l, nil
}

// indexWhere names item i of a list in an error.
func indexWhere(i int) func() string {
	return func() string { return fmt.Sprintf("index %d", i) }
}

// itemCall calls method with x as its last argument.
func (l *ListOf[T]) itemCall(ctx context.Context, method string, args pickle.Tuple, x T) (pickle.Value, error) {
	v, err := l.toPy(method, "item", x)
	if err != nil {
		return nil, err
	}
	return l.callKw(ctx, method, append(args, v), nil)
}

// Get returns l[i] (ErrIndexOutOfRange when out of range).
func (l *ListOf[T]) Get(ctx context.Context, i int) (T, error) {
	v, err := l.call(ctx, "__getitem__", int64(i))
	if err != nil {
		var zero T
		return zero, err
	}
	return fromPy[T](&l.proxy, "__getitem__", indexWhere(i), v)
}

// Set does l[i] = x.
func (l *ListOf[T]) Set(ctx context.Context, i int, x T) error {
	return noValue(l.itemCall(ctx, "__setitem__", pickle.Tuple{int64(i)}, x))
}

// Append does l.append(x).
func (l *ListOf[T]) Append(ctx context.Context, x T) error {
	return noValue(l.itemCall(ctx, "append", nil, x))
}

// Extend does l.extend(xs): all of them in one round trip.
func (l *ListOf[T]) Extend(ctx context.Context, xs []T) error {
	if len(xs) == 0 {
		return nil
	}
	v, err := l.toPy("extend", "", xs)
	if err != nil {
		return err
	}
	return noValue(l.callKw(ctx, "extend", pickle.Tuple{v}, nil))
}

// Insert does l.insert(i, x).
func (l *ListOf[T]) Insert(ctx context.Context, i int, x T) error {
	return noValue(l.itemCall(ctx, "insert", pickle.Tuple{int64(i)}, x))
}

// Pop removes and returns l[i] (l.pop(i); -1 for the last item). An item
// that does not convert is removed all the same (see ConvertError.Value).
func (l *ListOf[T]) Pop(ctx context.Context, i int) (T, error) {
	v, err := l.call(ctx, "pop", int64(i))
	if err != nil {
		var zero T
		return zero, err
	}
	return fromPy[T](&l.proxy, "pop", indexWhere(i), v)
}

// Remove removes the first item equal to x (a ValueError RemoteError when
// there is none).
func (l *ListOf[T]) Remove(ctx context.Context, x T) error {
	return noValue(l.itemCall(ctx, "remove", nil, x))
}

// Index returns the index of the first item equal to x.
func (l *ListOf[T]) Index(ctx context.Context, x T) (int, error) {
	return intOf(l.itemCall(ctx, "index", nil, x))
}

// Count returns the number of items equal to x.
func (l *ListOf[T]) Count(ctx context.Context, x T) (int, error) {
	return intOf(l.itemCall(ctx, "count", nil, x))
}

// Contains reports x in l.
func (l *ListOf[T]) Contains(ctx context.Context, x T) (bool, error) {
	return boolOf(l.itemCall(ctx, "__contains__", nil, x))
}

// Slice returns l[lo:hi] in one round trip.
func (l *ListOf[T]) Slice(ctx context.Context, lo, hi int) ([]T, error) {
	vs, err := l.List.Slice(ctx, lo, hi)
	if err != nil {
		return nil, err
	}
	return fromPyAll[T](&l.proxy, "__getitem__", func(i int) string {
		if lo >= 0 {
			return fmt.Sprintf("index %d", lo+i)
		}
		return fmt.Sprintf("item %d of [%d:%d]", i, lo, hi)
	}, vs)
}

// Items returns a snapshot of the whole list (l[:]) in one round trip.
func (l *ListOf[T]) Items(ctx context.Context) ([]T, error) {
	vs, err := l.List.Items(ctx)
	if err != nil {
		return nil, err
	}
	return fromPyAll[T](&l.proxy, "__getitem__", func(i int) string { return fmt.Sprintf("index %d", i) }, vs)
}

// All returns the list's indexes and items for a range loop:
//
//	items, err := l.All(ctx)
//	for i, x := range items { … }
//
// Like DictOf.All it is a snapshot (l[:], one atomic call on the server),
// converted at once: the range sees the list as it was at that instant,
// whatever other processes do to it meanwhile, and may be repeated.
func (l *ListOf[T]) All(ctx context.Context) (iter.Seq2[int, T], error) {
	xs, err := l.Items(ctx)
	if err != nil {
		return nil, err
	}
	return func(yield func(int, T) bool) {
		for i, x := range xs {
			if !yield(i, x) {
				return
			}
		}
	}, nil
}

// Values returns the list's items, a snapshot like All's.
func (l *ListOf[T]) Values(ctx context.Context) (iter.Seq[T], error) {
	xs, err := l.Items(ctx)
	if err != nil {
		return nil, err
	}
	return sliceValues(xs), nil
}

// PopMany removes up to n items from the front (back false) or the back of
// the list in one round trip and returns them in list order (procshare
// extension ps_pop_many; against a CPython manager the error wraps
// ErrUnsupported). Items are removed even if one does not convert.
func (l *ListOf[T]) PopMany(ctx context.Context, n int, back bool) ([]T, error) {
	vs, err := l.List.PopMany(ctx, n, back)
	if err != nil {
		return nil, err
	}
	return fromPyAll[T](&l.proxy, "ps_pop_many", func(i int) string { return fmt.Sprintf("item %d", i) }, vs)
}

// ---- QueueOf ---------------------------------------------------------------

// QueueOf is a shared FIFO queue (typeid "Queue", or a manager's named queue
// with Named) whose items are T on the Go side. The embedded Queue is the
// untyped proxy of the same object: q.Queue.Get returns a pickle.Value.
// The methods that do not depend on T (Len, Empty, Full, Shutdown, Close,
// ShareFiles …) are Queue's.
//
// A QueueOf is safe for concurrent use by multiple goroutines and the queue
// by any number of processes. Put and Get block, and are cancelled exactly,
// as Queue's. An item that does not convert to T has been taken out of the
// queue all the same: the *ConvertError holds it (Value), so it is not lost.
// Its zero value is not connected: create one with NewQueueOf, get a named
// queue with Named, or receive one as a child process's argument.
type QueueOf[T any] struct{ Queue }

// NewQueueOf creates a shared queue holding at most maxsize items (0 for no
// limit).
func NewQueueOf[T any](ctx context.Context, c *Client, maxsize int) (*QueueOf[T], error) {
	q := &QueueOf[T]{}
	if err := c.createValues(ctx, &q.proxy, "Queue", pickle.Tuple{int64(maxsize)}, nil); err != nil {
		return nil, err
	}
	return q, nil
}

func itemWhere() string { return "item" }

// Put adds x at the back, waiting for room while the queue is full.
func (q *QueueOf[T]) Put(ctx context.Context, x T) error {
	v, err := q.toPy("put", "item", x)
	if err != nil {
		return err
	}
	return q.Queue.Put(ctx, v)
}

// TryPut adds x if there is room, or fails with an error matching ErrFull.
func (q *QueueOf[T]) TryPut(ctx context.Context, x T) error {
	v, err := q.toPy("put", "item", x)
	if err != nil {
		return err
	}
	return q.Queue.TryPut(ctx, v)
}

// Get removes and returns the item at the front, waiting for one while the
// queue is empty.
func (q *QueueOf[T]) Get(ctx context.Context) (T, error) {
	v, err := q.Queue.Get(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	return fromPy[T](&q.proxy, "get", itemWhere, v)
}

// TryGet removes and returns the front item, or fails with an error
// matching ErrEmpty.
func (q *QueueOf[T]) TryGet(ctx context.Context) (T, error) {
	v, err := q.Queue.TryGet(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	return fromPy[T](&q.proxy, "get", itemWhere, v)
}

// PutMany adds all of xs at once, waiting until they all fit; one round
// trip (procshare extension ps_put_many; against a CPython manager the
// error wraps ErrUnsupported).
func (q *QueueOf[T]) PutMany(ctx context.Context, xs []T) error {
	v, err := q.toPy("ps_put_many", "", xs)
	if err != nil {
		return err
	}
	return q.Queue.PutMany(ctx, v)
}

// GetMany removes and returns between 1 and n items from the front, waiting
// while the queue is empty; one round trip (procshare extension
// ps_get_many). If an item does not convert, all of them have been taken:
// the *ConvertError holds the one that did not convert.
func (q *QueueOf[T]) GetMany(ctx context.Context, n int) ([]T, error) {
	vs, err := q.Queue.GetMany(ctx, n)
	if err != nil {
		return nil, err
	}
	return fromPyAll[T](&q.proxy, "ps_get_many", func(i int) string { return fmt.Sprintf("item %d", i) }, vs)
}

// TryGetMany removes and returns up to n items without waiting (an error
// matching ErrEmpty when there is none; procshare extension ps_get_many).
func (q *QueueOf[T]) TryGetMany(ctx context.Context, n int) ([]T, error) {
	vs, err := q.Queue.TryGetMany(ctx, n)
	if err != nil {
		return nil, err
	}
	return fromPyAll[T](&q.proxy, "ps_get_many", func(i int) string { return fmt.Sprintf("item %d", i) }, vs)
}

// All takes items from the queue for a range loop, as a consumer does:
//
//	for job, err := range jobs.All(ctx) {
//		if err != nil {
//			return err
//		}
//		…
//	}
//
// Each step is a Get: it waits for an item, and items go to whichever
// consumer (goroutine or process) asks first. The range ends when the loop
// breaks, or without an error when the queue is shut down and empty
// (Shutdown, Python 3.13's queue.shutdown). When ctx ends, or the call
// fails (the connection is lost, the object freed), it yields the error
// once, with T's zero value, and ends. An item that does not convert to T
// is yielded as a *ConvertError (holding the item), and the range goes on
// if the loop does.
func (q *QueueOf[T]) All(ctx context.Context) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			x, err := q.Get(ctx)
			if errors.Is(err, ErrShutDown) {
				return
			}
			var ce *ConvertError
			if !yield(x, err) || (err != nil && !errors.As(err, &ce)) {
				return
			}
		}
	}
}
