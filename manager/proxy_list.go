package manager

import (
	"context"
	"fmt"
	"os"

	"github.com/procshare/procshare/pickle"
)

// List is a proxy to a shared Python list (typeid "list"). Items are Go
// values converted with pickle.ToValue; results are pickle values (convert
// them with As). Indexes may be negative, as in Python.
//
// A List is safe for concurrent use by multiple goroutines, and the list
// itself by any number of processes; each method is one atomic operation on
// the server and one round trip, pipelined with other goroutines' calls.
// No method blocks on other clients.
type List struct{ proxy }

// NewList creates a shared list holding the items of init (a slice, array,
// *pickle.List or tuple; nil for an empty list).
func (c *Client) NewList(ctx context.Context, init any) (*List, error) {
	l := &List{}
	var args []any
	if init != nil {
		args = []any{init}
	}
	if err := c.create(ctx, &l.proxy, "list", args, nil); err != nil {
		return nil, err
	}
	return l, nil
}

// AttachFiles connects a zero List, in a child process, to the list a parent
// shared with ShareFiles.
func (l *List) AttachFiles(files []*os.File, meta []byte) error {
	return l.attach(files, meta, "list")
}

func (l *List) call1(ctx context.Context, method string, xs ...any) (pickle.Value, error) {
	args, err := valuesOf(xs...)
	if err != nil {
		return nil, err
	}
	return l.callKw(ctx, method, args, nil)
}

// Len returns len(l).
func (l *List) Len(ctx context.Context) (int, error) { return intOf(l.call(ctx, "__len__")) }

// Get returns l[i] (ErrIndexOutOfRange when out of range).
func (l *List) Get(ctx context.Context, i int) (pickle.Value, error) {
	return l.call(ctx, "__getitem__", int64(i))
}

// Set does l[i] = v.
func (l *List) Set(ctx context.Context, i int, v any) error {
	return noValue(l.call1(ctx, "__setitem__", int64(i), v))
}

// Delete does del l[i].
func (l *List) Delete(ctx context.Context, i int) error {
	return noValue(l.call(ctx, "__delitem__", int64(i)))
}

// Append does l.append(v).
func (l *List) Append(ctx context.Context, v any) error {
	return noValue(l.call1(ctx, "append", v))
}

// Extend does l.extend(items), items being a slice or sequence value; it is
// how several items are added in one round trip.
func (l *List) Extend(ctx context.Context, items any) error {
	return noValue(l.call1(ctx, "extend", items))
}

// Insert does l.insert(i, v).
func (l *List) Insert(ctx context.Context, i int, v any) error {
	return noValue(l.call1(ctx, "insert", int64(i), v))
}

// Pop removes and returns l[i] (l.pop(i); -1 for the last item).
func (l *List) Pop(ctx context.Context, i int) (pickle.Value, error) {
	return l.call(ctx, "pop", int64(i))
}

// Remove removes the first item equal to v (a ValueError RemoteError when
// there is none).
func (l *List) Remove(ctx context.Context, v any) error {
	return noValue(l.call1(ctx, "remove", v))
}

// Index returns the index of the first item equal to v.
func (l *List) Index(ctx context.Context, v any) (int, error) {
	return intOf(l.call1(ctx, "index", v))
}

// Count returns the number of items equal to v.
func (l *List) Count(ctx context.Context, v any) (int, error) {
	return intOf(l.call1(ctx, "count", v))
}

// Contains reports v in l.
func (l *List) Contains(ctx context.Context, v any) (bool, error) {
	return boolOf(l.call1(ctx, "__contains__", v))
}

// Reverse reverses the list in place.
func (l *List) Reverse(ctx context.Context) error { return noValue(l.call(ctx, "reverse")) }

// Sort sorts the list in place with Python's ordering (a TypeError
// RemoteError for items that cannot be compared).
func (l *List) Sort(ctx context.Context, reverse bool) error {
	kw := pickle.NewDict()
	kw.Set("reverse", reverse)
	return noValue(l.callKw(ctx, "sort", nil, kw))
}

// Slice returns l[lo:hi] in one round trip.
func (l *List) Slice(ctx context.Context, lo, hi int) ([]pickle.Value, error) {
	return l.slice(ctx, pickle.Slice{Start: int64(lo), Stop: int64(hi)})
}

// Items returns a snapshot of the whole list (l[:]) in one round trip.
func (l *List) Items(ctx context.Context) ([]pickle.Value, error) {
	return l.slice(ctx, pickle.Slice{})
}

func (l *List) slice(ctx context.Context, s pickle.Slice) ([]pickle.Value, error) {
	v, err := l.call(ctx, "__getitem__", s)
	if err != nil {
		return nil, err
	}
	items, ok := sequenceOf(v)
	if !ok {
		return nil, fmt.Errorf("%w: slice returned %s", ErrProtocol, pickle.TypeName(v))
	}
	return items, nil
}

// PopMany removes up to n items from the front (back false) or the back of
// the list in one round trip and returns them in list order (procshare
// extension ps_pop_many; against a CPython manager the error wraps
// ErrUnsupported).
func (l *List) PopMany(ctx context.Context, n int, back bool) ([]pickle.Value, error) {
	if err := l.extension("ps_pop_many"); err != nil {
		return nil, err
	}
	idx := int64(0)
	if back {
		idx = -1
	}
	v, err := l.call(ctx, "ps_pop_many", int64(n), idx)
	if err != nil {
		return nil, err
	}
	items, ok := sequenceOf(v)
	if !ok {
		return nil, fmt.Errorf("%w: ps_pop_many returned %s", ErrProtocol, pickle.TypeName(v))
	}
	return items, nil
}
