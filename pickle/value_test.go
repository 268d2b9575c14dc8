package pickle_test

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/procshare/procshare/pickle"
)

func bigInt(s string) *big.Int {
	b, ok := new(big.Int).SetString(s, 0)
	if !ok {
		panic(s)
	}
	return b
}

func list(items ...pickle.Value) *pickle.List { return &pickle.List{Items: items} }

func frozen(items ...pickle.Value) *pickle.FrozenSet {
	f, err := pickle.NewFrozenSet(items)
	if err != nil {
		panic(err)
	}
	return f
}

func set(items ...pickle.Value) *pickle.Set {
	s := pickle.NewSet()
	for _, v := range items {
		if err := s.Add(v); err != nil {
			panic(err)
		}
	}
	return s
}

func TestEqual(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	two63 := bigInt("9223372036854775808")
	tests := []struct {
		a, b pickle.Value
		want bool
	}{
		{int64(1), 1.0, true},
		{int64(1), true, true},
		{true, 1.0, true},
		{int64(0), false, true},
		{complex(1, 0), int64(1), true},
		{complex(1, 1), int64(1), false},
		{0.0, math.Copysign(0, -1), true},
		{nan, nan, false},
		{two63, 9223372036854775808.0, true},
		{int64(math.MaxInt64), 9223372036854775808.0, false}, // no rounding of the int
		{int64(1 << 53), float64(1 << 53), true},
		{int64(1<<53 + 1), float64(1 << 53), false},
		{bigInt("1" + strings.Repeat("0", 30)), 1e30, false}, // 1e30 is not exactly 10**30
		{"a", "a", true},
		{"a", []byte("a"), false},
		{[]byte("a"), &pickle.ByteArray{Data: []byte("a")}, true},
		{pickle.Tuple{int64(1)}, list(int64(1)), false},
		{pickle.Tuple{int64(1), "x"}, pickle.Tuple{1.0, "x"}, true},
		{list(int64(1), list()), list(true, list()), true},
		{set(int64(1), int64(2)), frozen(2.0, true), true},
		{nil, nil, true},
		{nil, false, false},
		{pickle.Range{Start: int64(0), Stop: int64(0), Step: int64(1)}, pickle.Range{Start: int64(5), Stop: int64(2), Step: int64(1)}, true},
		{pickle.Range{Start: int64(0), Stop: int64(3), Step: int64(2)}, pickle.Range{Start: int64(0), Stop: int64(4), Step: int64(2)}, true},
		{pickle.Slice{Start: int64(1)}, pickle.Slice{Start: 1.0}, true},
		{pickle.Global{Module: "a", Name: "b"}, pickle.Global{Module: "a", Name: "b"}, true},
		{&pickle.Object{Callable: pickle.Global{Module: "m", Name: "C"}, Args: pickle.Tuple{int64(1)}},
			&pickle.Object{Callable: pickle.Global{Module: "m", Name: "C"}, Args: pickle.Tuple{1.0}}, true},
		{&pickle.Object{Callable: pickle.Global{Module: "m", Name: "C"}, State: int64(1), HasState: true},
			&pickle.Object{Callable: pickle.Global{Module: "m", Name: "C"}}, false},
		{int(3), int64(3), true}, // Go ints are ints
	}
	for _, tt := range tests {
		if got := pickle.Equal(tt.a, tt.b); got != tt.want {
			t.Errorf("Equal(%s, %s) = %v, want %v", pickle.Repr(tt.a), pickle.Repr(tt.b), got, tt.want)
		}
		if got := pickle.Equal(tt.b, tt.a); got != tt.want {
			t.Errorf("Equal(%s, %s) = %v, want %v (reversed)", pickle.Repr(tt.b), pickle.Repr(tt.a), got, tt.want)
		}
		if tt.want && pickle.Hashable(tt.a) == nil && pickle.Hashable(tt.b) == nil {
			ha, _ := pickle.Hash(tt.a)
			hb, _ := pickle.Hash(tt.b)
			if ha != hb {
				t.Errorf("Hash(%s) != Hash(%s) for equal values", pickle.Repr(tt.a), pickle.Repr(tt.b))
			}
		}
	}
}

func TestEqualRecursiveAndShared(t *testing.T) {
	t.Parallel()
	a := list(int64(1))
	a.Items = append(a.Items, a)
	b := list(int64(1))
	b.Items = append(b.Items, b)
	if !pickle.Equal(a, a) || !pickle.Equal(a, b) {
		t.Error("recursive lists: not equal")
	}
	// A DAG of 200 levels, each level referencing the next twice: 2**200
	// paths, compared in linear time.
	x, y := pickle.Value(int64(0)), pickle.Value(int64(0))
	for range 200 {
		x = pickle.Tuple{x, x}
		y = list(y, y)
	}
	x2 := pickle.Value(int64(0))
	for range 200 {
		x2 = pickle.Tuple{x2, x2}
	}
	if !pickle.Equal(x, x2) {
		t.Error("tuple DAGs not equal")
	}
	if _, err := pickle.Hash(x); err != nil {
		t.Error(err)
	}
	if r := pickle.Repr(y); len(r) > 1<<21 {
		t.Errorf("Repr of a DAG is %d bytes long", len(r))
	}
	if !strings.HasSuffix(pickle.Repr(y), "...") {
		t.Error("Repr of a huge DAG not cut")
	}
}

func TestDict(t *testing.T) {
	t.Parallel()
	d := pickle.NewDict()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(d.Set(int64(1), "int"))
	must(d.Set(1.0, "float"))
	must(d.Set(true, "bool"))
	must(d.Set(complex(1, 0), "complex"))
	if d.Len() != 1 || pickle.Repr(d) != "{1: 'complex'}" {
		t.Fatalf("1, 1.0, True and 1+0j are not one key: %s", pickle.Repr(d))
	}
	must(d.Set(pickle.Tuple{int64(1), "a"}, "tuple"))
	if v, ok, err := d.Get(pickle.Tuple{true, "a"}); err != nil || !ok || v != "tuple" {
		t.Errorf("tuple key lookup: %v %v %v", v, ok, err)
	}
	must(d.Set(frozen(int64(1), int64(2)), "fs"))
	if v, ok, _ := d.Get(frozen(2.0, int64(1))); !ok || v != "fs" {
		t.Error("frozenset key lookup failed")
	}
	for _, k := range []pickle.Value{list(), pickle.NewDict(), pickle.NewSet(), &pickle.ByteArray{}, pickle.Tuple{list()}} {
		err := d.Set(k, nil)
		var ue *pickle.UnhashableError
		if !errors.As(err, &ue) {
			t.Errorf("Set(%s) = %v, want *UnhashableError", pickle.Repr(k), err)
		}
	}
	if err := d.Set(list(), nil); err == nil || err.Error() != "pickle: unhashable type: 'list'" {
		t.Errorf("error message: %v", err)
	}
	// Enough keys to use the index; deletions; insertion order kept.
	for i := range 100 {
		must(d.Set(int64(i+10), int64(i)))
	}
	for i := 0; i < 100; i += 2 {
		if _, ok, _ := d.Delete(float64(i + 10)); !ok {
			t.Fatalf("Delete(%d) missed", i+10)
		}
	}
	if d.Len() != 53 {
		t.Fatalf("Len = %d", d.Len())
	}
	keys := d.Keys()
	if !pickle.Equal(keys[3], int64(11)) || !pickle.Equal(keys[4], int64(13)) {
		t.Errorf("order after deletes: %s", pickle.Repr(pickle.Tuple(keys[:6])))
	}
	it, ok := d.PopItem()
	if !ok || !pickle.Equal(it.Key, int64(109)) {
		t.Errorf("PopItem = %v", it)
	}
	c := d.Copy()
	c.Set("new", nil)
	if d.Len() == c.Len() {
		t.Error("Copy shares storage")
	}
	d.Clear()
	if d.Len() != 0 || len(d.Items()) != 0 {
		t.Error("Clear")
	}
	var zero pickle.Dict
	must(zero.Set("x", int64(1)))
	if zero.Len() != 1 {
		t.Error("zero Dict unusable")
	}
	n := 0
	for range c.All() {
		n++
	}
	if n != c.Len() {
		t.Error("All")
	}
}

func TestSet(t *testing.T) {
	t.Parallel()
	s := pickle.NewSet()
	s.Add(int64(1))
	s.Add(1.0)
	s.Add("a")
	if s.Len() != 2 {
		t.Fatalf("Len = %d", s.Len())
	}
	if ok, _ := s.Contains(true); !ok {
		t.Error("Contains(True)")
	}
	if ok, _ := s.Remove(int64(1)); !ok || s.Len() != 1 {
		t.Error("Remove")
	}
	if err := s.Add(list()); err == nil {
		t.Error("list added to a set")
	}
	if _, err := pickle.NewFrozenSet([]pickle.Value{pickle.NewDict()}); err == nil {
		t.Error("dict in a frozenset")
	}
}

func TestCompare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b pickle.Value
		want int
		err  string
	}{
		{int64(1), 2.5, -1, ""},
		{true, int64(0), 1, ""},
		{bigInt("100000000000000000000000"), 1e23, 1, ""},
		{"abc", "abd", -1, ""},
		{"\u00e9", "z", 1, ""},
		{[]byte("b"), &pickle.ByteArray{Data: []byte("a")}, 1, ""},
		{pickle.Tuple{int64(1), "b"}, pickle.Tuple{int64(1), "a", int64(0)}, 1, ""},
		{list(int64(1)), list(int64(1), int64(0)), -1, ""},
		{set(int64(1)), set(int64(1), int64(2)), -1, ""},
		{"a", int64(1), 0, "'<' not supported between instances of 'str' and 'int'"},
		{complex(1, 1), int64(1), 0, "'<' not supported between instances of 'complex' and 'int'"},
		{pickle.NewDict(), pickle.NewDict(), 0, "'<' not supported between instances of 'dict' and 'dict'"},
		{pickle.Tuple{int64(1), "x"}, pickle.Tuple{int64(1), int64(2)}, 0, "'<' not supported between instances of 'str' and 'int'"},
		{nil, int64(1), 0, "'<' not supported between instances of 'NoneType' and 'int'"},
	}
	for _, tt := range tests {
		got, err := pickle.Compare(tt.a, tt.b)
		if tt.err != "" {
			var te *pickle.TypeError
			if !errors.As(err, &te) || te.Msg != tt.err {
				t.Errorf("Compare(%s, %s) error = %v, want %q", pickle.Repr(tt.a), pickle.Repr(tt.b), err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Compare(%s, %s) = %d, %v; want %d", pickle.Repr(tt.a), pickle.Repr(tt.b), got, err, tt.want)
		}
	}
}

func TestRepr(t *testing.T) {
	t.Parallel()
	rec := list(int64(1))
	rec.Items = append(rec.Items, rec)
	d := pickle.NewDict()
	d.Set("self", d)
	tests := []struct {
		v    pickle.Value
		want string
	}{
		{0.1, "0.1"},
		{1e16, "1e+16"},
		{1e15, "1000000000000000.0"},
		{1e-5, "1e-05"},
		{0.0001, "0.0001"},
		{123456789.125, "123456789.125"},
		{1.5e300, "1.5e+300"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{math.NaN(), "nan"},
		{math.Copysign(0, -1), "-0.0"},
		{float64(float32(3.1415927)), "3.1415927410125732"},
		{3.1415927, "3.1415927"},
		{complex(1, 2), "(1+2j)"},
		{complex(0, -2), "-2j"},
		{complex(math.Copysign(0, -1), 1), "(-0+1j)"},
		{complex(1e16, math.NaN()), "(1e+16+nanj)"},
		{"it's", `"it's"`},
		{`a"b'c`, `'a"b\'c'`},
		{"tab\t\x00\x7f\u0085é€\U0001F600\u200b", `'tab\t\x00\x7f\x85é€😀\u200b'`},
		{"\xed\xa0\x80", `'\ud800'`},
		{[]byte("a'\x00\xff"), `b"a'\x00\xff"`},
		{&pickle.ByteArray{Data: []byte("x")}, "bytearray(b'x')"},
		{pickle.Tuple{int64(1)}, "(1,)"},
		{pickle.Tuple{}, "()"},
		{pickle.NewSet(), "set()"},
		{frozen(), "frozenset()"},
		{frozen(int64(1)), "frozenset({1})"},
		{pickle.Slice{Start: int64(1), Stop: int64(3)}, "slice(1, 3, None)"},
		{pickle.Range{Start: int64(0), Stop: int64(5), Step: int64(1)}, "range(0, 5)"},
		{pickle.Range{Start: int64(0), Stop: int64(5), Step: int64(2)}, "range(0, 5, 2)"},
		{rec, "[1, [...]]"},
		{d, "{'self': {...}}"},
		{bigInt("-1180591620717411303424"), "-1180591620717411303424"},
		{pickle.Global{Module: "collections", Name: "OrderedDict"}, "collections.OrderedDict"},
		{&pickle.Object{Callable: pickle.Global{Module: "decimal", Name: "Decimal"}, Args: pickle.Tuple{"1.5"}}, "decimal.Decimal('1.5')"},
	}
	for _, tt := range tests {
		if got := pickle.Repr(tt.v); got != tt.want {
			t.Errorf("Repr = %s, want %s", got, tt.want)
		}
	}
	if pickle.Str("x") != "x" || pickle.Str(int64(2)) != "2" {
		t.Error("Str")
	}
}

func TestTypeNameTruth(t *testing.T) {
	t.Parallel()
	obj := &pickle.Object{Callable: pickle.Global{Module: "copyreg", Name: "_reconstructor"},
		Args: pickle.Tuple{pickle.Global{Module: "__main__", Name: "Point"}, pickle.Global{Module: "builtins", Name: "object"}, nil}}
	names := map[string]pickle.Value{
		"NoneType": nil, "bool": true, "int": bigInt("1" + strings.Repeat("0", 30)), "float": 1.5,
		"str": "", "bytes": []byte{}, "list": list(), "tuple": pickle.Tuple{}, "dict": pickle.NewDict(),
		"set": pickle.NewSet(), "frozenset": frozen(), "Point": obj, "type": pickle.Global{},
	}
	for want, v := range names {
		if got := pickle.TypeName(v); got != want {
			t.Errorf("TypeName(%s) = %s, want %s", pickle.Repr(v), got, want)
		}
	}
	for _, v := range []pickle.Value{nil, false, int64(0), 0.0, "", []byte{}, list(), pickle.Tuple{}, pickle.NewDict(),
		pickle.Range{Start: int64(3), Stop: int64(3), Step: int64(1)}} {
		if pickle.Truth(v) {
			t.Errorf("Truth(%s) = true", pickle.Repr(v))
		}
	}
	for _, v := range []pickle.Value{true, int64(-1), math.NaN(), "0", list(nil), pickle.Tuple{nil}, obj} {
		if !pickle.Truth(v) {
			t.Errorf("Truth(%s) = false", pickle.Repr(v))
		}
	}
}

func TestAddMul(t *testing.T) {
	t.Parallel()
	tests := []struct {
		op   string
		a, b pickle.Value
		want string
	}{
		{"+", int64(math.MaxInt64), int64(1), "9223372036854775808"},
		{"+", int64(math.MinInt64), int64(-1), "-9223372036854775809"},
		{"+", bigInt("9223372036854775808"), int64(-1), "9223372036854775807"},
		{"+", true, true, "2"},
		{"+", int64(1), 0.5, "1.5"},
		{"+", 0.5, complex(0, 1), "(0.5+1j)"},
		{"+", "ab", "c", "'abc'"},
		{"+", []byte("a"), &pickle.ByteArray{Data: []byte("b")}, "b'ab'"},
		{"+", &pickle.ByteArray{Data: []byte("a")}, []byte("b"), "bytearray(b'ab')"},
		{"+", pickle.Tuple{int64(1)}, pickle.Tuple{int64(2)}, "(1, 2)"},
		{"+", list(int64(1)), list("x"), "[1, 'x']"},
		{"+", "a", int64(1), `can only concatenate str (not "int") to str`},
		{"+", list(), pickle.Tuple{}, `can only concatenate list (not "tuple") to list`},
		{"+", int64(1), "a", "unsupported operand type(s) for +: 'int' and 'str'"},
		{"*", int64(math.MaxInt64), int64(2), "18446744073709551614"},
		{"*", int64(math.MinInt64), int64(-1), "9223372036854775808"},
		{"*", int64(-3), int64(4), "-12"},
		{"*", 1.5, int64(2), "3.0"},
		{"*", "ab", int64(3), "'ababab'"},
		{"*", int64(2), pickle.Tuple{int64(1)}, "(1, 1)"},
		{"*", list(int64(1)), int64(-1), "[]"},
		{"*", list(), bigInt("100000000000000000000000"), "[]"},
		{"*", "ab", bigInt("-100000000000000000000000"), "''"},
		{"*", "a", 2.0, "can't multiply sequence by non-int of type 'float'"},
		{"*", pickle.NewDict(), int64(2), "unsupported operand type(s) for *: 'dict' and 'int'"},
	}
	for _, tt := range tests {
		var got pickle.Value
		var err error
		if tt.op == "+" {
			got, err = pickle.Add(tt.a, tt.b)
		} else {
			got, err = pickle.Mul(tt.a, tt.b)
		}
		s := ""
		if err != nil {
			var te *pickle.TypeError
			if !errors.As(err, &te) {
				t.Errorf("%s %s %s: error %v is not a *TypeError", pickle.Repr(tt.a), tt.op, pickle.Repr(tt.b), err)
				continue
			}
			s = te.Msg
		} else {
			s = pickle.Repr(got)
		}
		if s != tt.want {
			t.Errorf("%s %s %s = %s, want %s", pickle.Repr(tt.a), tt.op, pickle.Repr(tt.b), s, tt.want)
		}
	}
	if _, err := pickle.Mul("x", int64(1)<<40); !errors.Is(err, pickle.ErrTooLarge) {
		t.Errorf("huge repeat: %v", err)
	}
}
