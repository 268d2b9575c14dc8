package manager

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"os"
	"sync"

	"github.com/procshare/procshare/pickle"
)

// Value is a proxy to a shared single value (typeid "Value", Python's
// manager.Value(typecode, value)), typed on the Go side as T: results are
// converted with pickle.FromValue.
//
// A Value is safe for concurrent use by multiple goroutines and the value by
// any number of processes. Get and Set are each atomic, but Get followed by
// Set is not: hold a Lock around them (as Python programs do), or use Add
// and CompareAndSwap, which are atomic in one round trip on procshare's
// server. No method blocks on other clients.
type Value[T any] struct{ proxy }

// NewValue creates a shared Value holding v. typecode is the Python
// typecode the value reports ('i', 'd' …; the manager does not enforce it);
// empty means the one matching T (see the package documentation).
func NewValue[T any](ctx context.Context, c *Client, typecode string, v T) (*Value[T], error) {
	if typecode == "" {
		typecode = typecodeOf[T]()
	}
	val, err := valueOf(v)
	if err != nil {
		return nil, err
	}
	p := &Value[T]{}
	if err := c.createValues(ctx, &p.proxy, "Value", pickle.Tuple{typecode, val}, nil); err != nil {
		return nil, err
	}
	return p, nil
}

// AttachFiles connects a zero Value, in a child process, to the value a
// parent shared with ShareFiles.
func (v *Value[T]) AttachFiles(files []*os.File, meta []byte) error {
	return v.attach(files, meta, "Value")
}

// Get returns the value.
func (v *Value[T]) Get(ctx context.Context) (T, error) {
	return fromPyCall[T](&v.proxy, "get", nil)(v.call(ctx, "get"))
}

// Set replaces the value.
func (v *Value[T]) Set(ctx context.Context, x T) error {
	val, err := valueOf(x)
	if err != nil {
		return err
	}
	return noValue(v.call(ctx, "set", val))
}

// Add atomically adds delta (Python +) and returns the new value, in one
// round trip (procshare extension ps_add; against a CPython manager the
// error wraps ErrUnsupported — use a Lock with Get and Set there).
func (v *Value[T]) Add(ctx context.Context, delta T) (T, error) {
	var zero T
	if err := v.extension("ps_add"); err != nil {
		return zero, err
	}
	d, err := valueOf(delta)
	if err != nil {
		return zero, err
	}
	return fromPyCall[T](&v.proxy, "ps_add", nil)(v.call(ctx, "ps_add", d))
}

// CompareAndSwap atomically replaces the value with new if it equals old
// (Python ==) and reports whether it did (procshare extension ps_cas).
func (v *Value[T]) CompareAndSwap(ctx context.Context, old, new T) (bool, error) {
	if err := v.extension("ps_cas"); err != nil {
		return false, err
	}
	args, err := valuesOf(old, new)
	if err != nil {
		return false, err
	}
	return boolOf(v.callKw(ctx, "ps_cas", args, nil))
}

// Number is the element type of an Array: Go's fixed-size numbers, which
// map to Python's array typecodes.
type Number interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 |
		~float32 | ~float64
}

// typecodeOf returns the Python typecode matching T ("q" for int on 64-bit
// platforms, "d" for float64 …), and "O" for types without one (the manager
// does not check a Value's typecode).
func typecodeOf[T any]() string {
	var z T
	switch any(z).(type) {
	case int8:
		return "b"
	case uint8:
		return "B"
	case int16:
		return "h"
	case uint16:
		return "H"
	case int32:
		return "i"
	case uint32:
		return "I"
	case int, int64:
		return "q"
	case uint, uint64:
		return "Q"
	case float32:
		return "f"
	case float64:
		return "d"
	case bool:
		return "?"
	case string:
		return "u"
	}
	return "O"
}

// arrayItem describes the machine representation of one array typecode (on
// 64-bit Linux and macOS, where C long is 8 bytes).
type arrayItem struct {
	size   int
	signed bool
	float  bool
}

var arrayItems = map[string]arrayItem{
	"b": {1, true, false}, "B": {1, false, false},
	"h": {2, true, false}, "H": {2, false, false},
	"i": {4, true, false}, "I": {4, false, false},
	"l": {8, true, false}, "L": {8, false, false},
	"q": {8, true, false}, "Q": {8, false, false},
	"f": {4, true, true}, "d": {8, true, true},
}

// Array is a proxy to a shared Python array.array (typeid "Array", Python's
// manager.Array(typecode, sequence)), of fixed length, typed on the Go side
// as []T.
//
// An Array is safe for concurrent use by multiple goroutines and the array
// by any number of processes; each method is one atomic operation on the
// server and one round trip. No method blocks on other clients.
type Array[T Number] struct {
	proxy
	mu       sync.Mutex
	typecode string // learnt from the server when not known
}

// NewArray creates a shared array of typecode ("" for T's: "d" for float64,
// "q" for int, "i" for int32 …) holding init.
func NewArray[T Number](ctx context.Context, c *Client, typecode string, init []T) (*Array[T], error) {
	if typecode == "" {
		typecode = typecodeOf[T]()
	}
	if _, ok := arrayItems[typecode]; !ok {
		return nil, fmt.Errorf("manager: unsupported array typecode %q", typecode)
	}
	items := make([]pickle.Value, len(init))
	for i, x := range init {
		items[i] = numberValue(x, typecode)
	}
	a := &Array[T]{typecode: typecode}
	if err := c.createValues(ctx, &a.proxy, "Array", pickle.Tuple{typecode, &pickle.List{Items: items}}, nil); err != nil {
		return nil, err
	}
	return a, nil
}

// numberValue converts x to the Python number an array of typecode holds.
func numberValue[T Number](x T, typecode string) pickle.Value {
	it := arrayItems[typecode]
	switch {
	case it.float:
		return float64(x)
	case it.signed:
		return int64(x)
	}
	u := uint64(x)
	if u > math.MaxInt64 {
		return pickle.NormInt(new(big.Int).SetUint64(u))
	}
	return int64(u)
}

// AttachFiles connects a zero Array, in a child process, to the array a
// parent shared with ShareFiles.
func (a *Array[T]) AttachFiles(files []*os.File, meta []byte) error {
	return a.attach(files, meta, "Array")
}

// Len returns the number of items.
func (a *Array[T]) Len(ctx context.Context) (int, error) { return intOf(a.call(ctx, "__len__")) }

// Get returns a[i].
func (a *Array[T]) Get(ctx context.Context, i int) (T, error) {
	return fromPyCall[T](&a.proxy, "__getitem__", indexWhere(i))(a.call(ctx, "__getitem__", int64(i)))
}

// Set does a[i] = x.
func (a *Array[T]) Set(ctx context.Context, i int, x T) error {
	tc, err := a.code(ctx)
	if err != nil {
		return err
	}
	return noValue(a.call(ctx, "__setitem__", int64(i), numberValue(x, tc)))
}

// Slice returns a[lo:hi] in one round trip.
func (a *Array[T]) Slice(ctx context.Context, lo, hi int) ([]T, error) {
	return a.slice(ctx, pickle.Slice{Start: int64(lo), Stop: int64(hi)})
}

// Values returns a snapshot of the whole array (a[:]) in one round trip.
func (a *Array[T]) Values(ctx context.Context) ([]T, error) { return a.slice(ctx, pickle.Slice{}) }

func (a *Array[T]) slice(ctx context.Context, s pickle.Slice) ([]T, error) {
	v, err := a.call(ctx, "__getitem__", s)
	if err != nil {
		return nil, err
	}
	tc, data, err := arrayOf(v)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.typecode = tc
	a.mu.Unlock()
	return decodeArray[T](tc, data)
}

// SetSlice does a[lo:lo+len(xs)] = xs in one round trip (the array keeps its
// length).
func (a *Array[T]) SetSlice(ctx context.Context, lo int, xs []T) error {
	tc, err := a.code(ctx)
	if err != nil {
		return err
	}
	s := pickle.Slice{Start: int64(lo), Stop: int64(lo + len(xs))}
	return noValue(a.call(ctx, "__setitem__", s, arrayValue(tc, encodeArray(tc, xs))))
}

// code returns the array's typecode, asking the server (an empty slice
// carries it) when the proxy did not create the array.
func (a *Array[T]) code(ctx context.Context) (string, error) {
	a.mu.Lock()
	tc := a.typecode
	a.mu.Unlock()
	if tc != "" {
		return tc, nil
	}
	if _, err := a.slice(ctx, pickle.Slice{Start: int64(0), Stop: int64(0)}); err != nil {
		return "", err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.typecode, nil
}

var globalArray = pickle.Global{Module: "array", Name: "array"}

// arrayValue is array.array(typecode, data) as ForkingPickler sends it.
func arrayValue(typecode string, data []byte) pickle.Value {
	return &pickle.Object{Callable: globalArray, Args: pickle.Tuple{typecode, data}}
}

// arrayOf reads the typecode and machine bytes of a pickled array.array.
func arrayOf(v pickle.Value) (string, []byte, error) {
	o, ok := v.(*pickle.Object)
	if ok && o.Callable == globalArray && len(o.Args) == 2 {
		tc, ok1 := o.Args[0].(string)
		data, ok2 := o.Args[1].([]byte)
		if ok1 && ok2 {
			return tc, data, nil
		}
		// array.array(typecode, list) is a valid pickle too.
		if items, ok := sequenceOf(o.Args[1]); ok1 && ok {
			data, err := encodeItems(tc, items)
			return tc, data, err
		}
	}
	return "", nil, fmt.Errorf("%w: expected an array.array, got %.100s", ErrProtocol, pickle.Repr(v))
}

func encodeItems(tc string, items []pickle.Value) ([]byte, error) {
	out := make([]float64, 0, len(items))
	ints := make([]int64, 0, len(items))
	for _, it := range items {
		switch n := it.(type) {
		case int64:
			ints = append(ints, n)
			out = append(out, float64(n))
		case float64:
			ints = append(ints, int64(n))
			out = append(out, n)
		default:
			return nil, fmt.Errorf("%w: array item %s", ErrProtocol, pickle.TypeName(it))
		}
	}
	if arrayItems[tc].float {
		return encodeArray(tc, out), nil
	}
	return encodeArray(tc, ints), nil
}

// encodeArray returns the machine representation of xs as typecode tc.
func encodeArray[T Number](tc string, xs []T) []byte {
	it := arrayItems[tc]
	b := make([]byte, 0, len(xs)*it.size)
	for _, x := range xs {
		switch {
		case tc == "f":
			b = binary.NativeEndian.AppendUint32(b, math.Float32bits(float32(x)))
		case tc == "d":
			b = binary.NativeEndian.AppendUint64(b, math.Float64bits(float64(x)))
		case it.size == 1:
			b = append(b, byte(int64(x)))
		case it.size == 2:
			b = binary.NativeEndian.AppendUint16(b, uint16(int64(x)))
		case it.size == 4:
			b = binary.NativeEndian.AppendUint32(b, uint32(int64(x)))
		default:
			b = binary.NativeEndian.AppendUint64(b, uint64(x))
		}
	}
	return b
}

// decodeArray converts the machine representation of an array of typecode
// tc to []T.
func decodeArray[T Number](tc string, data []byte) ([]T, error) {
	it, ok := arrayItems[tc]
	if !ok {
		return nil, fmt.Errorf("manager: unsupported array typecode %q", tc)
	}
	if len(data)%it.size != 0 {
		return nil, fmt.Errorf("%w: array of %q has %d bytes", ErrProtocol, tc, len(data))
	}
	out := make([]T, len(data)/it.size)
	ne := binary.NativeEndian
	for i := range out {
		p := data[i*it.size:]
		switch {
		case tc == "f":
			out[i] = T(math.Float32frombits(ne.Uint32(p)))
		case tc == "d":
			out[i] = T(math.Float64frombits(ne.Uint64(p)))
		case it.size == 1 && it.signed:
			out[i] = T(int8(p[0]))
		case it.size == 1:
			out[i] = T(p[0])
		case it.size == 2 && it.signed:
			out[i] = T(int16(ne.Uint16(p)))
		case it.size == 2:
			out[i] = T(ne.Uint16(p))
		case it.size == 4 && it.signed:
			out[i] = T(int32(ne.Uint32(p)))
		case it.size == 4:
			out[i] = T(ne.Uint32(p))
		case it.signed:
			out[i] = T(int64(ne.Uint64(p)))
		default:
			out[i] = T(ne.Uint64(p))
		}
	}
	return out, nil
}

// Namespace is a proxy to a shared Python Namespace (typeid "Namespace"):
// an object with attributes any process can read and set.
//
// A Namespace is safe for concurrent use by multiple goroutines and by any
// number of processes; each method is one atomic operation and one round
// trip. No method blocks on other clients.
type Namespace struct{ proxy }

// NewNamespace creates a shared Namespace with the attributes of attrs (a
// map with string keys or a struct; nil for none).
func (c *Client) NewNamespace(ctx context.Context, attrs any) (*Namespace, error) {
	var kwds *pickle.Dict
	if attrs != nil {
		v, err := valueOf(attrs)
		if err != nil {
			return nil, err
		}
		d, ok := v.(*pickle.Dict)
		if !ok {
			return nil, fmt.Errorf("manager: namespace attributes must be a map or struct, not %s", pickle.TypeName(v))
		}
		kwds = d
	}
	n := &Namespace{}
	if err := c.createValues(ctx, &n.proxy, "Namespace", nil, kwds); err != nil {
		return nil, err
	}
	return n, nil
}

// AttachFiles connects a zero Namespace, in a child process, to the
// namespace a parent shared with ShareFiles.
func (n *Namespace) AttachFiles(files []*os.File, meta []byte) error {
	return n.attach(files, meta, "Namespace")
}

// Get returns attribute name (ErrNoAttribute when it does not exist).
func (n *Namespace) Get(ctx context.Context, name string) (pickle.Value, error) {
	return n.call(ctx, "__getattribute__", name)
}

// Set sets attribute name to v.
func (n *Namespace) Set(ctx context.Context, name string, v any) error {
	val, err := valueOf(v)
	if err != nil {
		return err
	}
	return noValue(n.call(ctx, "__setattr__", name, val))
}

// Delete deletes attribute name (ErrNoAttribute when it does not exist).
func (n *Namespace) Delete(ctx context.Context, name string) error {
	return noValue(n.call(ctx, "__delattr__", name))
}
