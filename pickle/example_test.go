package pickle_test

import (
	"fmt"

	"github.com/procshare/procshare/pickle"
)

// A pickle written by CPython (pickle.dumps(('#RETURN', [100, 'two', 3.0]))).
func ExampleUnmarshal() {
	data := []byte("\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00\x8c\x07#RETURN\x94]\x94(Kd\x8c\x03two\x94G@\x08\x00\x00\x00\x00\x00\x00e\x86\x94.")
	v, err := pickle.Unmarshal(data)
	if err != nil {
		panic(err)
	}
	fmt.Println(pickle.Repr(v))
	reply := v.(pickle.Tuple)
	fmt.Println(reply[0], pickle.TypeName(reply[1]))
	// Output:
	// ('#RETURN', [100, 'two', 3.0])
	// #RETURN list
}

func ExampleMarshal() {
	req := pickle.Tuple{"7fc6a75f6c40", "__getitem__", pickle.Tuple{pickle.Slice{Start: int64(1), Stop: int64(3)}}, pickle.NewDict()}
	data, err := pickle.Marshal(req)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d bytes, protocol %d (the same bytes as CPython)\n", len(data), data[1])
	// Output:
	// 78 bytes, protocol 4 (the same bytes as CPython)
}

// Dict keys follow Python equality: 1, 1.0 and True are the same key.
func ExampleDict() {
	d := pickle.NewDict()
	d.Set(int64(1), "int")
	d.Set(1.0, "float")
	d.Set(true, "bool")
	d.Set(pickle.Tuple{"a", int64(2)}, "tuple")
	fmt.Println(pickle.Repr(d), d.Len())
	v, ok, _ := d.Get(pickle.Tuple{"a", 2.0})
	fmt.Println(v, ok)
	err := d.Set(&pickle.List{}, nil)
	fmt.Println(err)
	// Output:
	// {1: 'bool', ('a', 2): 'tuple'} 2
	// tuple true
	// pickle: unhashable type: 'list'
}

func ExampleCompare() {
	c, _ := pickle.Compare(int64(2), 2.5)
	fmt.Println(c)
	_, err := pickle.Compare("a", int64(1))
	fmt.Println(err)
	// Output:
	// -1
	// pickle: '<' not supported between instances of 'str' and 'int'
}

func ExampleFromValue() {
	type point struct {
		X, Y int
		Tag  string `pickle:"tag,omitempty"`
	}
	v, _ := pickle.ToValue(point{X: 1, Y: 2})
	fmt.Println(pickle.Repr(v))
	var p point
	if err := pickle.FromValue(v, &p); err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", p)
	// Output:
	// {'X': 1, 'Y': 2}
	// {X:1 Y:2 Tag:}
}
