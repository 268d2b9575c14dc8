package pickle

import "math/big"

// Value is a Python value as the codec sees it. Its dynamic type is always
// one of the following (the "value model"):
//
//	Python            Go
//	None              nil
//	bool              bool
//	int               int64, or *big.Int when it does not fit in 64 bits
//	float             float64
//	complex           complex128
//	str               string
//	bytes             []byte
//	bytearray         *ByteArray
//	tuple             Tuple
//	list              *List
//	dict              *Dict (insertion-ordered, Python key equality)
//	set               *Set
//	frozenset         *FrozenSet
//	slice             Slice
//	range             Range
//	a global name     Global (a class or function referenced by module and name)
//	any other object  *Object (kept opaque and re-encoded unchanged)
//
// A *big.Int is only ever used for an int outside the int64 range, so two
// equal ints always have the same Go representation.
//
// Mutable containers (*List, *Dict, *Set, *ByteArray) are pointers so that a
// pickle which references one container twice (through the memo) decodes to
// one shared Go value, as in Python.
type Value = any

// Tuple is a Python tuple.
type Tuple []Value

// List is a Python list.
type List struct {
	Items []Value
}

// ByteArray is a Python bytearray.
type ByteArray struct {
	Data []byte
}

// Slice is a Python slice object, as sent by l[a:b:c]. Each field is a Value:
// usually nil or an int64.
type Slice struct {
	Start, Stop, Step Value
}

// Range is a Python range object. Each field is an int (int64 or *big.Int).
type Range struct {
	Start, Stop, Step Value
}

// Global is a reference to a module-level name: a class, a function, or any
// other attribute. It is data: the codec never imports or calls anything.
type Global struct {
	Module, Name string
}

// Object is an instance of a class the codec does not interpret, recorded as
// the sequence of pickle operations that built it, so that encoding it again
// reproduces an equivalent pickle.
//
// Construction is one of:
//   - REDUCE: Callable(*Args) — Callable is usually a Global;
//   - NEWOBJ: Callable.__new__(Callable, *Args) (New is true);
//   - NEWOBJ_EX: the same with keyword arguments Kwargs (New is true).
//
// After construction, BUILD(State) is applied when HasState is true, and the
// items of ListItems (APPEND/APPENDS) and DictItems (SETITEM/SETITEMS) are
// added, in the order the pickle gave them.
type Object struct {
	Callable  Value
	Args      Tuple
	Kwargs    *Dict
	New       bool
	State     Value
	HasState  bool
	ListItems []Value
	DictItems []Item
}

// Item is one key/value pair of a *Dict, or of an Object's DictItems.
type Item struct {
	Key, Value Value
}

// NormInt returns x as an int64 when it fits, and as x otherwise. Decoders and
// arithmetic use it so that every int has one canonical Go representation.
func NormInt(x *big.Int) Value {
	if x.IsInt64() {
		return x.Int64()
	}
	return x
}
