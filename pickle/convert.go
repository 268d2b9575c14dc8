package pickle

import (
	"cmp"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strings"
)

// Marshaler is implemented by Go types that convert themselves to a model
// value in ToValue.
type Marshaler interface {
	MarshalPickle() (Value, error)
}

// Unmarshaler is implemented by Go types (through a pointer receiver) that
// set themselves from a model value in FromValue.
type Unmarshaler interface {
	UnmarshalPickle(v Value) error
}

// ConvertError reports a value that cannot be converted between Go and the
// value model.
type ConvertError struct {
	Path string       // where in the value: "", ".Field", "[3]", "[\"key\"]"
	Type reflect.Type // the Go type involved
	Msg  string
}

func (e *ConvertError) Error() string {
	at := ""
	if e.Path != "" {
		at = " at " + e.Path
	}
	return fmt.Sprintf("pickle: %s%s", e.Msg, at)
}

var (
	bigIntType = reflect.TypeFor[big.Int]()
)

// ToValue converts a Go value to the value model, the way encoding/json
// converts to JSON (see the package documentation for the table). Values
// already of the model pass through unchanged.
func ToValue(x any) (Value, error) {
	return toValue(reflect.ValueOf(x), x, "", 0)
}

func toValue(rv reflect.Value, x any, path string, depth int) (Value, error) {
	switch v := x.(type) {
	case nil:
		return nil, nil
	case bool, int64, float64, complex128, string, *ByteArray, Tuple, *List, *Dict, *Set,
		*FrozenSet, Slice, Range, Global, *Object:
		return v, nil
	case []byte:
		if v == nil {
			return nil, nil
		}
		return v, nil
	case *big.Int:
		if v == nil {
			return nil, nil
		}
		return NormInt(v), nil
	case big.Int:
		return NormInt(&v), nil
	case Marshaler:
		if rv.Kind() == reflect.Pointer && rv.IsNil() {
			return nil, nil
		}
		return v.MarshalPickle()
	}
	if c, ok := canon(x); ok {
		return c, nil
	}
	if depth > maxRecursion {
		return nil, &ConvertError{Path: path, Type: rv.Type(), Msg: "value nested too deeply (a pointer cycle?)"}
	}
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return new(big.Int).SetUint64(u), nil
		}
		return int64(u), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	case reflect.Complex64, reflect.Complex128:
		return rv.Complex(), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
		e := rv.Elem()
		return toValue(e, e.Interface(), path, depth+1)
	case reflect.Slice:
		if rv.IsNil() {
			return nil, nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return append([]byte{}, rv.Bytes()...), nil
		}
		fallthrough
	case reflect.Array:
		l := &List{Items: make([]Value, rv.Len())}
		for i := range rv.Len() {
			e := rv.Index(i)
			v, err := toValue(e, e.Interface(), fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			l.Items[i] = v
		}
		return l, nil
	case reflect.Map:
		if rv.IsNil() {
			return nil, nil
		}
		type kv struct{ k, v Value }
		items := make([]kv, 0, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			k, err := toValue(it.Key(), it.Key().Interface(), path, depth+1)
			if err != nil {
				return nil, err
			}
			p := path + "[" + Repr(k) + "]"
			v, err := toValue(it.Value(), it.Value().Interface(), p, depth+1)
			if err != nil {
				return nil, err
			}
			items = append(items, kv{k, v})
		}
		// Sorted keys make the result (and its pickle) deterministic.
		slices.SortFunc(items, func(a, b kv) int {
			if c, err := Compare(a.k, b.k); err == nil {
				return c
			}
			return cmp.Compare(Repr(a.k), Repr(b.k))
		})
		d := NewDict()
		for _, e := range items {
			if err := d.Set(e.k, e.v); err != nil {
				return nil, &ConvertError{Path: path, Type: rv.Type(), Msg: err.Error()[len("pickle: "):]}
			}
		}
		return d, nil
	case reflect.Struct:
		d := NewDict()
		for _, f := range fieldsOf(rv.Type()) {
			fv, err := rv.FieldByIndexErr(f.index)
			if err != nil { // through a nil embedded pointer
				continue
			}
			if f.omitEmpty && isEmpty(fv) {
				continue
			}
			v, err := toValue(fv, fv.Interface(), path+"."+f.name, depth+1)
			if err != nil {
				return nil, err
			}
			d.Set(f.name, v) // a str key is always hashable
		}
		return d, nil
	}
	return nil, &ConvertError{Path: path, Type: rv.Type(), Msg: fmt.Sprintf("cannot convert Go type %s to a Python value", rv.Type())}
}

// isEmpty is encoding/json's notion of an empty value for omitempty.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return v.IsZero()
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}

// FromValue stores the model value v in the Go value ptr points to, the way
// encoding/json.Unmarshal does (see the package documentation for the
// table). Ints are range-checked; a mismatch returns a *ConvertError naming
// the path inside the value.
func FromValue(v Value, ptr any) error {
	rv := reflect.ValueOf(ptr)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &ConvertError{Type: reflect.TypeOf(ptr), Msg: "FromValue needs a non-nil pointer"}
	}
	return fromValue(v, rv.Elem(), "", 0)
}

func convErr(v Value, t reflect.Type, path, why string) error {
	msg := fmt.Sprintf("cannot convert Python %s to Go %s", TypeName(v), t)
	if why != "" {
		msg += ": " + why
	}
	return &ConvertError{Path: path, Type: t, Msg: msg}
}

func fromValue(v Value, rv reflect.Value, path string, depth int) error {
	if depth > maxRecursion {
		return &ConvertError{Path: path, Type: rv.Type(), Msg: "value nested too deeply"}
	}
	t := rv.Type()
	if rv.CanAddr() {
		if u, ok := rv.Addr().Interface().(Unmarshaler); ok {
			return u.UnmarshalPickle(v)
		}
	}
	// A target of a model type (or any) takes the value as it is.
	if t.Kind() == reflect.Interface {
		if v == nil {
			rv.SetZero()
			return nil
		}
		if reflect.TypeOf(v).Implements(t) {
			rv.Set(reflect.ValueOf(v))
			return nil
		}
		return convErr(v, t, path, "")
	}
	if v != nil && reflect.TypeOf(v) == t {
		rv.Set(reflect.ValueOf(v))
		return nil
	}
	if t == bigIntType {
		b, ok := intOf(v)
		if !ok {
			return convErr(v, t, path, "")
		}
		rv.Set(reflect.ValueOf(*new(big.Int).Set(b)))
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v == nil {
			rv.SetZero()
			return nil
		}
		if rv.IsNil() {
			rv.Set(reflect.New(t.Elem()))
		}
		return fromValue(v, rv.Elem(), path, depth+1)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return convErr(v, t, path, "")
		}
		rv.SetBool(b)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b, ok := intOf(v)
		if !ok {
			return convErr(v, t, path, "")
		}
		if !b.IsInt64() || rv.OverflowInt(b.Int64()) {
			return convErr(v, t, path, fmt.Sprintf("%s out of range", b))
		}
		rv.SetInt(b.Int64())
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		b, ok := intOf(v)
		if !ok {
			return convErr(v, t, path, "")
		}
		if b.Sign() < 0 || !b.IsUint64() || rv.OverflowUint(b.Uint64()) {
			return convErr(v, t, path, fmt.Sprintf("%s out of range", b))
		}
		rv.SetUint(b.Uint64())
		return nil
	case reflect.Float32, reflect.Float64:
		k, i, b, f, _ := numKind(v)
		if k == kNone || k == kComplex {
			return convErr(v, t, path, "")
		}
		x := toFloat(k, i, b, f)
		if t.Kind() == reflect.Float32 && !math.IsInf(x, 0) && math.Abs(x) > math.MaxFloat32 {
			return convErr(v, t, path, "out of range")
		}
		rv.SetFloat(x)
		return nil
	case reflect.Complex64, reflect.Complex128:
		k, i, b, f, c := numKind(v)
		if k == kNone {
			return convErr(v, t, path, "")
		}
		rv.SetComplex(toComplex(k, i, b, f, c))
		return nil
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return convErr(v, t, path, "")
		}
		rv.SetString(s)
		return nil
	case reflect.Slice:
		if v == nil {
			rv.SetZero()
			return nil
		}
		if t.Elem().Kind() == reflect.Uint8 {
			if b, ok := bytesOf(v); ok {
				rv.SetBytes(append([]byte{}, b...))
				return nil
			}
		}
		items, ok := seqItems(v)
		if !ok {
			return convErr(v, t, path, "")
		}
		s := reflect.MakeSlice(t, len(items), len(items))
		for i, e := range items {
			if err := fromValue(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
		rv.Set(s)
		return nil
	case reflect.Array:
		var items []Value
		if b, ok := bytesOf(v); ok && t.Elem().Kind() == reflect.Uint8 {
			items = make([]Value, len(b))
			for i, c := range b {
				items[i] = int64(c)
			}
		} else if items, ok = seqItems(v); !ok {
			return convErr(v, t, path, "")
		}
		if len(items) > t.Len() {
			return convErr(v, t, path, fmt.Sprintf("%d elements do not fit", len(items)))
		}
		rv.SetZero()
		for i, e := range items {
			if err := fromValue(e, rv.Index(i), fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		if v == nil {
			rv.SetZero()
			return nil
		}
		items, ok := mapItems(v)
		if !ok {
			return convErr(v, t, path, "")
		}
		if rv.IsNil() {
			rv.Set(reflect.MakeMapWithSize(t, len(items)))
		}
		for _, it := range items {
			k := reflect.New(t.Key()).Elem()
			p := path + "[" + Repr(it.Key) + "]"
			if err := fromValue(it.Key, k, p, depth+1); err != nil {
				return err
			}
			e := reflect.New(t.Elem()).Elem()
			if err := fromValue(it.Value, e, p, depth+1); err != nil {
				return err
			}
			rv.SetMapIndex(k, e)
		}
		return nil
	case reflect.Struct:
		items, ok := mapItems(v)
		if !ok {
			return convErr(v, t, path, "")
		}
		fields := fieldsOf(t)
		for _, it := range items {
			name, ok := it.Key.(string)
			if !ok {
				continue
			}
			f := findField(fields, name)
			if f == nil {
				continue
			}
			fv, err := fieldByIndexAlloc(rv, f.index)
			if err != nil {
				return err
			}
			if err := fromValue(it.Value, fv, path+"."+f.name, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return convErr(v, t, path, "unsupported Go type")
}

func findField(fields []field, name string) *field {
	for i := range fields {
		if fields[i].name == name {
			return &fields[i]
		}
	}
	for i := range fields {
		if strings.EqualFold(fields[i].name, name) {
			return &fields[i]
		}
	}
	return nil
}

// fieldByIndexAlloc walks an index path, allocating nil embedded pointers.
func fieldByIndexAlloc(rv reflect.Value, index []int) (reflect.Value, error) {
	for i, x := range index {
		if i > 0 && rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				rv.Set(reflect.New(rv.Type().Elem()))
			}
			rv = rv.Elem()
		}
		rv = rv.Field(x)
	}
	return rv, nil
}

// seqItems returns the elements of a list, tuple, set or frozenset.
func seqItems(v Value) ([]Value, bool) {
	switch x := v.(type) {
	case *List:
		return x.Items, true
	case Tuple:
		return x, true
	case *Set:
		return x.Items(), true
	case *FrozenSet:
		return x.Items(), true
	}
	return nil, false
}

// mapItems returns the items of a dict, of an opaque dict subclass
// (OrderedDict, defaultdict: SETITEMS on an *Object), or of an object whose
// state is a dict (a dataclass or plain instance: its __dict__).
func mapItems(v Value) ([]Item, bool) {
	switch x := v.(type) {
	case *Dict:
		return x.Items(), true
	case *Object:
		if len(x.DictItems) > 0 {
			return x.DictItems, true
		}
		switch s := x.State.(type) {
		case *Dict:
			return s.Items(), true
		case Tuple: // (dict or None, slots dict)
			if len(s) == 2 {
				var items []Item
				for _, p := range s {
					if d, ok := p.(*Dict); ok {
						items = append(items, d.Items()...)
					}
				}
				return items, true
			}
		}
		if !x.HasState && len(x.Args) == 0 {
			return nil, true // an empty OrderedDict or defaultdict
		}
	}
	return nil, false
}
