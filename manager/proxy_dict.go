package manager

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/procshare/procshare/pickle"
)

// Dict is a proxy to a shared Python dict (typeid "dict"). Keys follow
// Python's equality (1, 1.0 and True are one key); keys and values are Go
// values converted with pickle.ToValue, results are pickle values (convert
// them with As).
//
// A Dict is safe for concurrent use by multiple goroutines, and the dict
// itself by any number of processes (Go or Python); every method is one
// atomic operation on the server and one round trip, pipelined with other
// goroutines' calls. No method blocks on other clients.
type Dict struct{ proxy }

// NewDict creates a shared dict. init, when not nil, is what Python's dict()
// accepts: a map or struct (converted with pickle.ToValue), a *pickle.Dict,
// or a sequence of key/value pairs.
func (c *Client) NewDict(ctx context.Context, init any) (*Dict, error) {
	d := &Dict{}
	var args []any
	if init != nil {
		args = []any{init}
	}
	if err := c.create(ctx, &d.proxy, "dict", args, nil); err != nil {
		return nil, err
	}
	return d, nil
}

// AttachFiles connects a zero Dict, in a child process, to the dict a parent
// shared with ShareFiles.
func (d *Dict) AttachFiles(files []*os.File, meta []byte) error {
	return d.attach(files, meta, "dict")
}

func (d *Dict) call1(ctx context.Context, method string, xs ...any) (pickle.Value, error) {
	args, err := valuesOf(xs...)
	if err != nil {
		return nil, err
	}
	return d.callKw(ctx, method, args, nil)
}

// Get returns d[key]; a missing key is an error matching ErrKeyNotFound.
func (d *Dict) Get(ctx context.Context, key any) (pickle.Value, error) {
	return d.call1(ctx, "__getitem__", key)
}

// Lookup returns d[key] and true, or nil and false when key is missing.
func (d *Dict) Lookup(ctx context.Context, key any) (pickle.Value, bool, error) {
	v, err := d.call1(ctx, "__getitem__", key)
	if errors.Is(err, ErrKeyNotFound) {
		return nil, false, nil
	}
	return v, err == nil, err
}

// GetDefault returns d.get(key, def).
func (d *Dict) GetDefault(ctx context.Context, key, def any) (pickle.Value, error) {
	return d.call1(ctx, "get", key, def)
}

// Set does d[key] = value.
func (d *Dict) Set(ctx context.Context, key, value any) error {
	return noValue(d.call1(ctx, "__setitem__", key, value))
}

// Delete does del d[key]; a missing key is an error matching ErrKeyNotFound.
func (d *Dict) Delete(ctx context.Context, key any) error {
	return noValue(d.call1(ctx, "__delitem__", key))
}

// Pop removes key and returns its value (ErrKeyNotFound when missing).
func (d *Dict) Pop(ctx context.Context, key any) (pickle.Value, error) {
	return d.call1(ctx, "pop", key)
}

// PopItem removes and returns the last inserted item (ErrKeyNotFound when
// the dict is empty, as Python raises KeyError).
func (d *Dict) PopItem(ctx context.Context) (pickle.Item, error) {
	v, err := d.call(ctx, "popitem")
	if err != nil {
		return pickle.Item{}, err
	}
	t, ok := v.(pickle.Tuple)
	if !ok || len(t) != 2 {
		return pickle.Item{}, fmt.Errorf("%w: popitem returned %.100s", ErrProtocol, pickle.Repr(v))
	}
	return pickle.Item{Key: t[0], Value: t[1]}, nil
}

// SetDefault does d.setdefault(key, def) and returns the value now stored.
func (d *Dict) SetDefault(ctx context.Context, key, def any) (pickle.Value, error) {
	return d.call1(ctx, "setdefault", key, def)
}

// Contains reports key in d.
func (d *Dict) Contains(ctx context.Context, key any) (bool, error) {
	return boolOf(d.call1(ctx, "__contains__", key))
}

// Len returns len(d).
func (d *Dict) Len(ctx context.Context) (int, error) { return intOf(d.call(ctx, "__len__")) }

// Keys returns the keys in insertion order.
func (d *Dict) Keys(ctx context.Context) ([]pickle.Value, error) { return d.list(ctx, "keys") }

// Values returns the values in insertion order.
func (d *Dict) Values(ctx context.Context) ([]pickle.Value, error) { return d.list(ctx, "values") }

// Items returns the items in insertion order.
func (d *Dict) Items(ctx context.Context) ([]pickle.Item, error) {
	vs, err := d.list(ctx, "items")
	if err != nil {
		return nil, err
	}
	items := make([]pickle.Item, len(vs))
	for i, v := range vs {
		t, ok := v.(pickle.Tuple)
		if !ok || len(t) != 2 {
			return nil, fmt.Errorf("%w: items() holds %.100s", ErrProtocol, pickle.Repr(v))
		}
		items[i] = pickle.Item{Key: t[0], Value: t[1]}
	}
	return items, nil
}

func (d *Dict) list(ctx context.Context, method string) ([]pickle.Value, error) {
	v, err := d.call(ctx, method)
	if err != nil {
		return nil, err
	}
	items, ok := sequenceOf(v)
	if !ok {
		return nil, fmt.Errorf("%w: %s() returned %s", ErrProtocol, method, pickle.TypeName(v))
	}
	return items, nil
}

// Copy returns a snapshot of the whole dict (d.copy()).
func (d *Dict) Copy(ctx context.Context) (*pickle.Dict, error) {
	v, err := d.call(ctx, "copy")
	if err != nil {
		return nil, err
	}
	pd, ok := v.(*pickle.Dict)
	if !ok {
		return nil, fmt.Errorf("%w: copy() returned %s", ErrProtocol, pickle.TypeName(v))
	}
	return pd, nil
}

// Update does d.update(m), m being a map, struct, *pickle.Dict or sequence
// of pairs.
func (d *Dict) Update(ctx context.Context, m any) error {
	return noValue(d.call1(ctx, "update", m))
}

// Clear removes every item.
func (d *Dict) Clear(ctx context.Context) error { return noValue(d.call(ctx, "clear")) }

// Incr atomically does d[key] = d.get(key, 0) + delta and returns the new
// value, in one round trip (procshare extension ps_incr; against a CPython
// manager the error wraps ErrUnsupported).
func (d *Dict) Incr(ctx context.Context, key, delta any) (pickle.Value, error) {
	if err := d.extension("ps_incr"); err != nil {
		return nil, err
	}
	return d.call1(ctx, "ps_incr", key, delta)
}

// SetDefaultAdd atomically does d[key] = d.get(key, def) + delta and returns
// the new value (procshare extension ps_setdefault_add).
func (d *Dict) SetDefaultAdd(ctx context.Context, key, def, delta any) (pickle.Value, error) {
	if err := d.extension("ps_setdefault_add"); err != nil {
		return nil, err
	}
	return d.call1(ctx, "ps_setdefault_add", key, def, delta)
}

// Iter returns an iterator over the keys (iter(d) in Python: a new shared
// object). The dict must not change size while it is iterated.
func (d *Dict) Iter(ctx context.Context) (*Iterator, error) {
	v, err := d.call(ctx, "__iter__")
	if err != nil {
		return nil, err
	}
	p, ok := v.(*Proxy)
	if !ok {
		return nil, fmt.Errorf("%w: __iter__ returned %s, not a proxy", ErrProtocol, pickle.TypeName(v))
	}
	return &Iterator{p}, nil
}

// Iterator is a proxy to a shared Python iterator (typeid "Iterator"), as
// returned by Dict.Iter. Safe for concurrent use; each item goes to one
// caller.
type Iterator struct{ p *Proxy }

// Next returns the next item, or false at the end.
func (it *Iterator) Next(ctx context.Context) (pickle.Value, bool, error) {
	v, err := it.p.call(ctx, "__next__")
	if errors.Is(err, ErrStopIteration) {
		return nil, false, nil
	}
	return v, err == nil, err
}

// Close gives the iterator's reference back.
func (it *Iterator) Close() error { return it.p.Close() }
