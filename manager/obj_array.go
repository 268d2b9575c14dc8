package manager

import (
	"encoding/binary"
	"math"
	"math/big"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/procshare/procshare/pickle"
)

// objArray is array.array (typeid Array): typed items with array's type
// and range checks. Items are stored as validated values (int64, *big.Int
// for unsigned 64-bit values above MaxInt64, float64, or a one-character
// str) and converted to machine bytes when an array is sent.
type objArray struct {
	mu    sync.Mutex
	code  string
	items []pickle.Value
	mem   memStored // costItem per item
}

func init() {
	registerType(&srvType{name: "Array", pyClass: "array.array",
		exposed: []string{"__len__", "__getitem__", "__setitem__"}, create: newObjArray})
}

// arrayItemSize is the item size of each typecode on the platforms
// procshare runs on (LP64: C long is 8 bytes, wchar_t 4).
var arrayItemSize = map[string]int{
	"b": 1, "B": 1, "u": 4, "w": 4, "h": 2, "H": 2, "i": 4, "I": 4,
	"l": 8, "L": 8, "q": 8, "Q": 8, "f": 4, "d": 8,
}

var arrayInit = srvParams{fn: "Array", names: []string{"typecode", "sequence", "lock"}, nreq: 1}

var objGlobalArray = pickle.Global{Module: "array", Name: "array"}

func newObjArray(s *Server, m *memScope, args pickle.Tuple, kw *pickle.Dict) (srvObj, error) {
	a := []pickle.Value{nil, nil, true}
	if err := arrayInit.bind(args, kw, a); err != nil {
		return nil, err
	}
	code, ok := a[0].(string)
	if !ok || utf8.RuneCountInString(code) != 1 {
		if !ok {
			return nil, typeErrorf("array() argument 1 must be a unicode character, not %s", typeName(a[0]))
		}
		return nil, typeErrorf("array() argument 1 must be a unicode character, not a string of length %d", utf8.RuneCountInString(code))
	}
	if _, ok := arrayItemSize[code]; !ok {
		return nil, valueErrorf("bad typecode (must be b, B, u, w, h, H, i, I, l, L, q, Q, f or d)")
	}
	arr := &objArray{code: code, mem: memStored{b: &s.mem}}
	if len(args) < 2 && (kw == nil || !kwHas(kw, "sequence")) {
		return arr, nil
	}
	items, err := arrayInitItems(m, &arr.mem, code, a[1])
	if err != nil {
		arr.mem.sub(arr.mem.n) // nothing is created
		return nil, err
	}
	arr.items = items
	return arr, nil
}

func kwHas(kw *pickle.Dict, name string) bool {
	_, ok, _ := kw.Get(name)
	return ok
}

// arrayInitItems converts an initializer: an iterable of items, bytes
// (machine representation), a str for 'u'/'w', or another array. The items
// are charged to st before they are made, an expansion of the initializer
// to m.
func arrayInitItems(m *memScope, st *memStored, code string, init pickle.Value) ([]pickle.Value, error) {
	switch x := init.(type) {
	case []byte:
		if err := st.add(costItem * int64(len(x)/arrayItemSize[code])); err != nil {
			return nil, err
		}
		return arrayFromBytes(code, x)
	case *pickle.ByteArray:
		if err := st.add(costItem * int64(len(x.Data)/arrayItemSize[code])); err != nil {
			return nil, err
		}
		return arrayFromBytes(code, x.Data)
	case string:
		if code != "u" && code != "w" {
			return nil, typeErrorf("cannot use a str to initialize an array with typecode '%s'", code)
		}
	case *pickle.Object:
		if oc, data, ok := objArrayValue(x); ok {
			k := int64(len(data) / arrayItemSize[oc])
			if err := m.take(costItem * k); err != nil {
				return nil, err
			}
			if err := st.add(costItem * k); err != nil {
				return nil, err
			}
			items, err := arrayFromBytes(oc, data)
			if err != nil {
				return nil, err
			}
			out := make([]pickle.Value, len(items))
			for i, it := range items {
				if out[i], err = arrayConvert(code, it); err != nil {
					return nil, err
				}
			}
			return out, nil
		}
	}
	src, err := iterValues(m, init)
	if err != nil {
		return nil, err
	}
	if err := st.add(costItem * int64(len(src))); err != nil {
		return nil, err
	}
	out := make([]pickle.Value, len(src))
	for i, it := range src {
		if out[i], err = arrayConvert(code, it); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// objArrayValue recognises a pickled array.array(typecode, bytes).
func objArrayValue(o *pickle.Object) (string, []byte, bool) {
	if o.New || o.Callable != objGlobalArray || len(o.Args) != 2 {
		return "", nil, false
	}
	code, ok1 := o.Args[0].(string)
	data, ok2 := o.Args[1].([]byte)
	if _, known := arrayItemSize[code]; !ok1 || !ok2 || !known {
		return "", nil, false
	}
	return code, data, true
}

func arrayFromBytes(code string, b []byte) ([]pickle.Value, error) {
	size := arrayItemSize[code]
	if len(b)%size != 0 {
		return nil, valueErrorf("bytes length not a multiple of item size")
	}
	out := make([]pickle.Value, len(b)/size)
	ne := binary.NativeEndian
	for i := range out {
		p := b[i*size : (i+1)*size]
		switch code {
		case "b":
			out[i] = int64(int8(p[0]))
		case "B":
			out[i] = int64(p[0])
		case "h":
			out[i] = int64(int16(ne.Uint16(p)))
		case "H":
			out[i] = int64(ne.Uint16(p))
		case "i":
			out[i] = int64(int32(ne.Uint32(p)))
		case "I":
			out[i] = int64(ne.Uint32(p))
		case "l", "q":
			out[i] = int64(ne.Uint64(p))
		case "L", "Q":
			u := ne.Uint64(p)
			if u > math.MaxInt64 {
				out[i] = new(big.Int).SetUint64(u)
			} else {
				out[i] = int64(u)
			}
		case "f":
			out[i] = float64(math.Float32frombits(ne.Uint32(p)))
		case "d":
			out[i] = math.Float64frombits(ne.Uint64(p))
		case "u", "w":
			r := rune(ne.Uint32(p))
			if !utf8.ValidRune(r) {
				return nil, valueErrorf("character U+%x is not in range [U+0000; U+10ffff]", uint32(r))
			}
			out[i] = string(r)
		}
	}
	return out, nil
}

// arrayConvert checks and converts one item for typecode code, with
// array.array's exceptions.
func arrayConvert(code string, v pickle.Value) (pickle.Value, error) {
	switch code {
	case "f", "d":
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case int64:
			f = float64(x)
		case bool:
			if x {
				f = 1
			}
		case *big.Int:
			bf, _ := new(big.Float).SetInt(x).Float64()
			if math.IsInf(bf, 0) {
				return nil, excf(excOverflowError, "int too large to convert to float")
			}
			f = bf
		default:
			return nil, typeErrorf("must be real number, not %s", typeName(v))
		}
		if code == "f" {
			f = float64(float32(f))
		}
		return f, nil
	case "u", "w":
		s, ok := v.(string)
		if !ok || utf8.RuneCountInString(s) != 1 {
			return nil, typeErrorf("array item must be unicode character")
		}
		return s, nil
	}
	var x *big.Int
	switch n := v.(type) {
	case int64:
		x = big.NewInt(n)
	case bool:
		if n {
			x = big.NewInt(1)
		} else {
			x = big.NewInt(0)
		}
	case *big.Int:
		x = n
	default:
		return nil, typeErrorf("'%s' object cannot be interpreted as an integer", typeName(v))
	}
	type bounds struct {
		lo, hi       *big.Int
		tooBig, tooS string
	}
	i64 := func(a int64) *big.Int { return big.NewInt(a) }
	u64 := new(big.Int).SetUint64(math.MaxUint64)
	var b bounds
	switch code {
	case "b":
		b = bounds{i64(math.MinInt8), i64(math.MaxInt8), "signed char is greater than maximum", "signed char is less than minimum"}
	case "B":
		b = bounds{i64(0), i64(math.MaxUint8), "unsigned byte integer is greater than maximum", "unsigned byte integer is less than minimum"}
	case "h":
		b = bounds{i64(math.MinInt16), i64(math.MaxInt16), "signed short integer is greater than maximum", "signed short integer is less than minimum"}
	case "H":
		b = bounds{i64(0), i64(math.MaxUint16), "unsigned short is greater than maximum", "unsigned short is less than minimum"}
	case "i":
		b = bounds{i64(math.MinInt32), i64(math.MaxInt32), "signed integer is greater than maximum", "signed integer is less than minimum"}
	case "I":
		b = bounds{i64(0), i64(math.MaxUint32), "unsigned int is greater than maximum", "can't convert negative value to unsigned int"}
	case "l":
		b = bounds{i64(math.MinInt64), i64(math.MaxInt64), "Python int too large to convert to C long", "Python int too large to convert to C long"}
	case "L":
		b = bounds{i64(0), u64, "Python int too large to convert to C unsigned long", "can't convert negative value to unsigned int"}
	case "q":
		b = bounds{i64(math.MinInt64), i64(math.MaxInt64), "int too big to convert", "int too big to convert"}
	case "Q":
		b = bounds{i64(0), u64, "int too big to convert", "can't convert negative int to unsigned"}
	}
	if x.Cmp(b.hi) > 0 {
		return nil, excf(excOverflowError, "%s", b.tooBig)
	}
	if x.Cmp(b.lo) < 0 {
		return nil, excf(excOverflowError, "%s", b.tooS)
	}
	return pickle.NormInt(x), nil
}

// bytes returns the machine representation of items (mu held).
func (a *objArray) bytes(items []pickle.Value) []byte {
	size := arrayItemSize[a.code]
	out := make([]byte, len(items)*size)
	ne := binary.NativeEndian
	for i, it := range items {
		p := out[i*size : (i+1)*size]
		switch a.code {
		case "b", "B":
			p[0] = byte(it.(int64))
		case "h", "H":
			ne.PutUint16(p, uint16(it.(int64)))
		case "i", "I":
			ne.PutUint32(p, uint32(it.(int64)))
		case "l", "q", "L", "Q":
			switch n := it.(type) {
			case int64:
				ne.PutUint64(p, uint64(n))
			case *big.Int:
				ne.PutUint64(p, n.Uint64())
			}
		case "f":
			ne.PutUint32(p, math.Float32bits(float32(it.(float64))))
		case "d":
			ne.PutUint64(p, math.Float64bits(it.(float64)))
		case "u", "w":
			r, _ := utf8.DecodeRuneInString(it.(string))
			ne.PutUint32(p, uint32(r))
		}
	}
	return out
}

func (a *objArray) arrayOf(items []pickle.Value) pickle.Value {
	return &pickle.Object{Callable: objGlobalArray, Args: pickle.Tuple{a.code, a.bytes(items)}}
}

func (a *objArray) call(c *srvCall, m string, args pickle.Tuple, kw *pickle.Dict) (pickle.Value, error) {
	switch m {
	case "__len__":
		if err := noArgs("array.__len__", args, kw); err != nil {
			return nil, err
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		return int64(len(a.items)), nil
	case "__getitem__":
		k, err := oneArg("array.__getitem__", args, kw)
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if s, ok := k.(pickle.Slice); ok {
			start, step, n, err := sliceIndices(s, len(a.items))
			if err != nil {
				return nil, err
			}
			if err := c.take(costItem * int64(n)); err != nil {
				return nil, err
			}
			out := make([]pickle.Value, n)
			for i := range out {
				out[i] = a.items[start+i*step]
			}
			return a.arrayOf(out), nil
		}
		if !isIndexable(k) {
			return nil, typeErrorf("array indices must be integers")
		}
		i, ok, err := seqIndex(k, len(a.items))
		if err != nil || !ok {
			return nil, excf(excIndexError, "array index out of range")
		}
		return a.items[i], nil
	case "__setitem__":
		k, v, err := twoArgs("__setitem__", args, kw)
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if s, ok := k.(pickle.Slice); ok {
			return nil, a.setSlice(c, s, v)
		}
		if !isIndexable(k) {
			return nil, typeErrorf("array indices must be integers")
		}
		i, ok, err := seqIndex(k, len(a.items))
		if err != nil || !ok {
			return nil, excf(excIndexError, "array assignment index out of range")
		}
		x, err := arrayConvert(a.code, v)
		if err != nil {
			return nil, err
		}
		a.items[i] = x
		return nil, nil
	}
	return nil, errNoMethod
}

func (a *objArray) setSlice(c *srvCall, s pickle.Slice, v pickle.Value) error {
	o, ok := v.(*pickle.Object)
	var code string
	var data []byte
	if ok {
		code, data, ok = objArrayValue(o)
	}
	if !ok {
		return typeErrorf("can only assign array (not \"%s\") to array slice", arrayTypeName(v))
	}
	if code != a.code {
		return typeErrorf("bad argument type for built-in operation")
	}
	if err := c.take(costItem * int64(len(data)/arrayItemSize[code])); err != nil {
		return err
	}
	src, err := arrayFromBytes(code, data)
	if err != nil {
		return err
	}
	start, step, n, err := sliceIndices(s, len(a.items))
	if err != nil {
		return err
	}
	if step == 1 {
		if err := a.mem.change(costItem*int64(n), costItem*int64(len(src))); err != nil {
			return err
		}
		a.items = slices.Replace(a.items, start, start+n, src...)
		return nil
	}
	if len(src) != n {
		return valueErrorf("attempt to assign array of size %d to extended slice of size %d", len(src), n)
	}
	for i := 0; i < n; i++ {
		a.items[start+i*step] = src[i]
	}
	return nil
}

func arrayTypeName(v pickle.Value) string {
	if o, ok := v.(*pickle.Object); ok {
		if g, ok := o.Callable.(pickle.Global); ok {
			return g.Name
		}
	}
	return typeName(v)
}

func (a *objArray) repr() string {
	r, _ := a.reprWith(func(v pickle.Value) (string, bool) { return pickle.Repr(v), true })
	return r
}

func (a *objArray) reprLimit(limit int) (string, bool) {
	return a.reprWith(func(v pickle.Value) (string, bool) { return pickle.ReprLimit(v, limit-len("array('x', )")) })
}

// reprWith is array.__repr__ with f as the repr of the items.
func (a *objArray) reprWith(f func(pickle.Value) (string, bool)) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.items) == 0 {
		return "array('" + a.code + "')", true
	}
	var items pickle.Value = &pickle.List{Items: a.items}
	if a.code == "u" || a.code == "w" {
		var b strings.Builder
		for _, it := range a.items {
			b.WriteString(it.(string))
		}
		items = b.String()
	}
	r, ok := f(items)
	return "array('" + a.code + "', " + r + ")", ok
}

func (a *objArray) releaseMemory() {
	a.mu.Lock()
	a.mem.release()
	a.mu.Unlock()
}

func (a *objArray) getvalue() (pickle.Value, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.arrayOf(a.items), nil
}
