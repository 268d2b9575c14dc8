package pickle_test

import (
	"errors"
	"math"
	"math/big"
	"reflect"
	"testing"

	"github.com/procshare/procshare/pickle"
)

type inner struct {
	N int `pickle:"n"`
}

type Embedded struct {
	E string
}

type record struct {
	Name    string            `pickle:"name"`
	Age     uint8             `pickle:"age,omitempty"`
	Score   float32           `pickle:"score"`
	Tags    []string          `pickle:"tags"`
	Data    []byte            `pickle:"data"`
	Inner   *inner            `pickle:"inner"`
	Counts  map[string]int    `pickle:"counts"`
	Any     any               `pickle:"any"`
	Secret  string            `pickle:"-"`
	Pair    [2]int            `pickle:"pair"`
	Ints    map[int64]float64 `pickle:"ints,omitempty"`
	private int
	Embedded
}

func TestToValueFromValue(t *testing.T) {
	t.Parallel()
	in := record{
		Name: "x", Score: 1.5, Tags: []string{"a", "b"}, Data: []byte{0, 1},
		Inner: &inner{N: 7}, Counts: map[string]int{"z": 1, "a": 2}, Any: pickle.Tuple{int64(1)},
		Secret: "s", Pair: [2]int{3, 4}, private: 1, Embedded: Embedded{E: "e"},
	}
	v, err := pickle.ToValue(in)
	if err != nil {
		t.Fatal(err)
	}
	want := "{'name': 'x', 'score': 1.5, 'tags': ['a', 'b'], 'data': b'\\x00\\x01', 'inner': {'n': 7}, " +
		"'counts': {'a': 2, 'z': 1}, 'any': (1,), 'pair': [3, 4], 'E': 'e'}"
	if got := pickle.Repr(v); got != want {
		t.Errorf("ToValue =\n%s\nwant\n%s", got, want)
	}
	// Through a pickle and back.
	p, err := pickle.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pickle.Unmarshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var out record
	if err := pickle.FromValue(w, &out); err != nil {
		t.Fatal(err)
	}
	in.Secret, in.private = "", 0
	if !reflect.DeepEqual(pickle.Repr(out.Any), "(1,)") {
		t.Errorf("Any = %s", pickle.Repr(out.Any))
	}
	out.Any, in.Any = nil, nil
	if !reflect.DeepEqual(in, out) {
		t.Errorf("FromValue =\n%+v\nwant\n%+v", out, in)
	}
}

func TestFromValueConversions(t *testing.T) {
	t.Parallel()
	var i8 int8
	var u uint
	var f float64
	var s []int
	var arr [3]byte
	var m map[string]any
	var b big.Int
	var p *int
	var anyV any
	tup := pickle.Tuple{int64(1), int64(2)}
	ok := []struct {
		v   pickle.Value
		ptr any
		get func() any
		exp any
	}{
		{int64(-128), &i8, func() any { return i8 }, int8(-128)},
		{true, &u, func() any { return u }, uint(1)},
		{int64(3), &f, func() any { return f }, 3.0},
		{tup, &s, func() any { return s }, []int{1, 2}},
		{[]byte("ab"), &arr, func() any { return arr }, [3]byte{'a', 'b', 0}},
		{nil, &p, func() any { return p }, (*int)(nil)},
		{int64(5), &p, func() any { return *p }, 5},
		{new(big.Int).Lsh(big.NewInt(1), 80), &b, func() any { return b.String() }, "1208925819614629174706176"},
		{tup, &anyV, func() any { return pickle.Repr(anyV) }, "(1, 2)"},
	}
	for _, tt := range ok {
		if err := pickle.FromValue(tt.v, tt.ptr); err != nil {
			t.Errorf("FromValue(%s, %T): %v", pickle.Repr(tt.v), tt.ptr, err)
			continue
		}
		if got := tt.get(); !reflect.DeepEqual(got, tt.exp) {
			t.Errorf("FromValue(%s, %T) = %#v, want %#v", pickle.Repr(tt.v), tt.ptr, got, tt.exp)
		}
	}
	d := pickle.NewDict()
	d.Set("k", &pickle.List{Items: []pickle.Value{"v"}})
	if err := pickle.FromValue(d, &m); err != nil || pickle.Repr(m["k"]) != "['v']" {
		t.Errorf("map[string]any: %v %v", m, err)
	}
	bad := []struct {
		v   pickle.Value
		ptr any
	}{
		{int64(128), &i8},
		{int64(-1), &u},
		{new(big.Int).Lsh(big.NewInt(1), 70), new(int64)},
		{"x", new(int)},
		{1.5, new(int)},
		{int64(1), new(string)},
		{tup, new(map[string]int)},
		{pickle.Tuple{int64(1), int64(2), int64(3), int64(4)}, &arr},
		{math.MaxFloat64, new(float32)},
		{int64(1), i8}, // not a pointer
	}
	for _, tt := range bad {
		err := pickle.FromValue(tt.v, tt.ptr)
		var ce *pickle.ConvertError
		if !errors.As(err, &ce) {
			t.Errorf("FromValue(%s, %T) = %v, want *ConvertError", pickle.Repr(tt.v), tt.ptr, err)
		}
	}
	var rec record
	l := &pickle.List{Items: []pickle.Value{"a", int64(2)}}
	d2 := pickle.NewDict()
	d2.Set("tags", l)
	if err := pickle.FromValue(d2, &rec); err == nil || err.Error() != "pickle: cannot convert Python int to Go string at .tags[1]" {
		t.Errorf("path in error: %v", err)
	}
}

// TestFromValueObjects reads Go structs and maps from opaque objects: a
// dataclass (state dict) and an OrderedDict (SETITEMS).
func TestFromValueObjects(t *testing.T) {
	t.Parallel()
	state := pickle.NewDict()
	state.Set("x", int64(1))
	state.Set("y", 2.5)
	dc := &pickle.Object{Callable: pickle.Global{Module: "pyobjs", Name: "Point"}, Args: pickle.Tuple{}, New: true, State: state, HasState: true}
	var pt struct {
		X int
		Y float64
	}
	if err := pickle.FromValue(dc, &pt); err != nil || pt.X != 1 || pt.Y != 2.5 {
		t.Errorf("dataclass: %+v %v", pt, err)
	}
	od := &pickle.Object{Callable: pickle.Global{Module: "collections", Name: "OrderedDict"}, Args: pickle.Tuple{},
		DictItems: []pickle.Item{{Key: "b", Value: int64(1)}, {Key: "a", Value: int64(2)}}}
	var m map[string]int
	if err := pickle.FromValue(od, &m); err != nil || m["a"] != 2 || m["b"] != 1 {
		t.Errorf("OrderedDict: %v %v", m, err)
	}
	// Opaque values pass through ToValue unchanged.
	v, err := pickle.ToValue(od)
	if err != nil || v != pickle.Value(od) {
		t.Error("ToValue changed an *Object")
	}
}

type celsius float64

func (c celsius) MarshalPickle() (pickle.Value, error) { return pickle.Tuple{"C", float64(c)}, nil }

func (c *celsius) UnmarshalPickle(v pickle.Value) error {
	t, ok := v.(pickle.Tuple)
	if !ok || len(t) != 2 {
		return errors.New("not a temperature")
	}
	*c = celsius(t[1].(float64))
	return nil
}

func TestMarshaler(t *testing.T) {
	t.Parallel()
	v, err := pickle.ToValue([]celsius{21.5})
	if err != nil || pickle.Repr(v) != "[('C', 21.5)]" {
		t.Fatalf("ToValue = %s, %v", pickle.Repr(v), err)
	}
	var out []celsius
	if err := pickle.FromValue(v, &out); err != nil || len(out) != 1 || out[0] != 21.5 {
		t.Errorf("FromValue = %v, %v", out, err)
	}
}

func TestToValueErrors(t *testing.T) {
	t.Parallel()
	type cyc struct{ Next *cyc }
	c := &cyc{}
	c.Next = c
	for _, x := range []any{make(chan int), func() {}, c, map[*pickle.List]int{{}: 1}} {
		_, err := pickle.ToValue(x)
		var ce *pickle.ConvertError
		if !errors.As(err, &ce) {
			t.Errorf("ToValue(%T) = %v, want *ConvertError", x, err)
		}
	}
}
