package pickle

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
)

// maxRecursion bounds the recursion of every function that walks a value
// (Equal, Compare, Repr, the encoder, FromValue), so that a value nested
// deeper than any real one cannot exhaust the goroutine stack.
const maxRecursion = 10000

// ident is the identity of a container: its pointer, or for a tuple the
// address of its first element and its length.
type ident struct {
	p any
	n int
}

// identOf returns the identity of a container value, and false for values
// without one (scalars, empty tuples).
func identOf(v Value) (ident, bool) {
	switch x := v.(type) {
	case Tuple:
		if len(x) == 0 {
			return ident{}, false
		}
		return ident{&x[0], len(x)}, true
	case *List, *Dict, *Set, *FrozenSet, *Object:
		return ident{x, 0}, true
	}
	return ident{}, false
}

// Equal reports whether a == b in Python: numbers compare by value across
// bool, int, float and complex (1 == 1.0 == True), bytes equals bytearray,
// set equals frozenset, tuples and lists compare element-wise (a tuple never
// equals a list), dicts compare as mappings regardless of order. *Object
// values are equal when structurally equal (same callable, arguments, state
// and items). NaN is not equal to itself.
//
// Two distinct recursive containers that are structurally alike compare
// equal (CPython raises RecursionError instead), and a value nested more
// than 10000 levels deep compares unequal. The work is linear in the size of
// the values even when they share references.
func Equal(a, b Value) bool {
	var st eqState
	return st.eq(a, b, 0)
}

type eqKey struct{ a, b ident }

type eqState struct {
	seen map[eqKey]bool // pairs of containers compared or being compared
}

// enter records the pair (a, b) of containers. done is true when the pair
// was met before; then res is its result (true while still in progress).
func (st *eqState) enter(a, b Value, depth int) (res, done bool) {
	if depth < 8 {
		return false, false
	}
	ia, ok1 := identOf(a)
	ib, ok2 := identOf(b)
	if !ok1 || !ok2 {
		return false, false
	}
	if st.seen == nil {
		st.seen = make(map[eqKey]bool)
	}
	k := eqKey{ia, ib}
	if r, ok := st.seen[k]; ok {
		return r, true
	}
	st.seen[k] = true
	return false, false
}

func (st *eqState) leave(a, b Value, depth int, res bool) bool {
	if st.seen != nil && depth >= 8 {
		ia, ok1 := identOf(a)
		ib, ok2 := identOf(b)
		if ok1 && ok2 {
			st.seen[eqKey{ia, ib}] = res
		}
	}
	return res
}

func (st *eqState) eq(a, b Value, depth int) bool {
	if depth > maxRecursion {
		return false
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool, int64, *big.Int, float64, complex128:
		return numEqual(a, b)
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []byte:
		switch y := b.(type) {
		case []byte:
			return bytes.Equal(x, y)
		case *ByteArray:
			return bytes.Equal(x, y.Data)
		}
		return false
	case *ByteArray:
		switch y := b.(type) {
		case []byte:
			return bytes.Equal(x.Data, y)
		case *ByteArray:
			return bytes.Equal(x.Data, y.Data)
		}
		return false
	case Tuple:
		y, ok := b.(Tuple)
		if !ok || len(x) != len(y) {
			return false
		}
		if len(x) == 0 || &x[0] == &y[0] {
			return true
		}
		return st.seq(a, b, x, y, depth)
	case *List:
		y, ok := b.(*List)
		if !ok || len(x.Items) != len(y.Items) {
			return false
		}
		if x == y {
			return true
		}
		return st.seq(a, b, x.Items, y.Items, depth)
	case *Dict:
		y, ok := b.(*Dict)
		if !ok || x.Len() != y.Len() {
			return false
		}
		if x == y {
			return true
		}
		if r, done := st.enter(a, b, depth); done {
			return r
		}
		for _, e := range x.t.entries {
			if !e.live {
				continue
			}
			i := y.t.lookupEq(e.key, e.hash, func(p, q Value) bool { return st.eq(p, q, depth+1) })
			if i < 0 || !st.eq(e.value, y.t.entries[i].value, depth+1) {
				return st.leave(a, b, depth, false)
			}
		}
		return st.leave(a, b, depth, true)
	case *Set:
		return st.setEqual(a, &x.t, b, depth)
	case *FrozenSet:
		return st.setEqual(a, &x.t, b, depth)
	case Slice:
		y, ok := b.(Slice)
		return ok && st.eq(x.Start, y.Start, depth+1) && st.eq(x.Stop, y.Stop, depth+1) && st.eq(x.Step, y.Step, depth+1)
	case Range:
		y, ok := b.(Range)
		return ok && rangeEqual(x, y)
	case Global:
		y, ok := b.(Global)
		return ok && x == y
	case *Object:
		y, ok := b.(*Object)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		if x.New != y.New || x.HasState != y.HasState || len(x.Args) != len(y.Args) ||
			len(x.ListItems) != len(y.ListItems) || len(x.DictItems) != len(y.DictItems) {
			return false
		}
		if r, done := st.enter(a, b, depth); done {
			return r
		}
		res := st.eq(x.Callable, y.Callable, depth+1) &&
			st.seq(x.Args, y.Args, x.Args, y.Args, depth) &&
			st.eqKwargs(x.Kwargs, y.Kwargs, depth+1) &&
			(!x.HasState || st.eq(x.State, y.State, depth+1)) &&
			st.seq(nil, nil, x.ListItems, y.ListItems, depth)
		for i := 0; res && i < len(x.DictItems); i++ {
			res = st.eq(x.DictItems[i].Key, y.DictItems[i].Key, depth+1) &&
				st.eq(x.DictItems[i].Value, y.DictItems[i].Value, depth+1)
		}
		return st.leave(a, b, depth, res)
	}
	if c, ok := canon(a); ok {
		return st.eq(c, b, depth)
	}
	if c, ok := canon(b); ok {
		return st.eq(a, c, depth)
	}
	// Not a model type: Go equality where it is defined.
	if a == nil || b == nil || reflect.TypeOf(a) != reflect.TypeOf(b) || !reflect.TypeOf(a).Comparable() {
		return false
	}
	return a == b
}

func (st *eqState) eqKwargs(x, y *Dict, depth int) bool {
	if x == nil {
		x = &Dict{}
	}
	if y == nil {
		y = &Dict{}
	}
	return st.eq(x, y, depth)
}

// seq compares two element slices; a and b are the containers (for the
// pair memo), or nil.
func (st *eqState) seq(a, b Value, x, y []Value, depth int) bool {
	if len(x) != len(y) {
		return false
	}
	if a != nil {
		if r, done := st.enter(a, b, depth); done {
			return r
		}
	}
	for i := range x {
		if !st.eq(x[i], y[i], depth+1) {
			if a != nil {
				st.leave(a, b, depth, false)
			}
			return false
		}
	}
	if a != nil {
		st.leave(a, b, depth, true)
	}
	return true
}

func (st *eqState) setEqual(a Value, t *table, b Value, depth int) bool {
	var u *table
	switch y := b.(type) {
	case *Set:
		u = &y.t
	case *FrozenSet:
		u = &y.t
	default:
		return false
	}
	if t == u {
		return true
	}
	if t.live != u.live {
		return false
	}
	if r, done := st.enter(a, b, depth); done {
		return r
	}
	for _, e := range t.entries {
		if e.live && u.lookupEq(e.key, e.hash, func(x, y Value) bool { return st.eq(x, y, depth+1) }) < 0 {
			return st.leave(a, b, depth, false)
		}
	}
	return st.leave(a, b, depth, true)
}

func (t *table) subsetOf(u *table) bool {
	for _, e := range t.entries {
		if e.live && u.lookup(e.key, e.hash) < 0 {
			return false
		}
	}
	return true
}

// number kinds, in the order of Python's numeric tower.
const (
	kNone = iota
	kInt
	kFloat
	kComplex
)

// numKind classifies a numeric value; ints (bool, int64, *big.Int) come
// back as a *big.Int only when they are one.
func numKind(v Value) (kind int, i int64, b *big.Int, f float64, c complex128) {
	switch x := v.(type) {
	case bool:
		if x {
			return kInt, 1, nil, 0, 0
		}
		return kInt, 0, nil, 0, 0
	case int64:
		return kInt, x, nil, 0, 0
	case *big.Int:
		return kInt, 0, x, 0, 0
	case float64:
		return kFloat, 0, nil, x, 0
	case complex128:
		return kComplex, 0, nil, 0, x
	}
	if c, ok := canon(v); ok {
		return numKind(c)
	}
	return kNone, 0, nil, 0, 0
}

func numEqual(a, b Value) bool {
	ka, ia, ba, fa, ca := numKind(a)
	kb, ib, bb, fb, cb := numKind(b)
	if ka == kNone || kb == kNone {
		return false
	}
	if ka == kComplex || kb == kComplex {
		if ka == kComplex && kb == kComplex {
			return ca == cb
		}
		if ka == kComplex {
			if imag(ca) != 0 {
				return false
			}
			return numEqual(real(ca), b)
		}
		if imag(cb) != 0 {
			return false
		}
		return numEqual(a, real(cb))
	}
	c, ok := numCmp(ka, ia, ba, fa, kb, ib, bb, fb)
	return ok && c == 0
}

// numCmp compares two real numbers exactly. ok is false when one is NaN.
func numCmp(ka int, ia int64, ba *big.Int, fa float64, kb int, ib int64, bb *big.Int, fb float64) (int, bool) {
	switch {
	case ka == kInt && kb == kInt:
		if ba == nil && bb == nil {
			return cmp3(ia, ib), true
		}
		return bigOf(ia, ba).Cmp(bigOf(ib, bb)), true
	case ka == kFloat && kb == kFloat:
		if math.IsNaN(fa) || math.IsNaN(fb) {
			return 0, false
		}
		return cmpFloat(fa, fb), true
	case ka == kFloat:
		c, ok := cmpIntFloat(ib, bb, fa)
		return -c, ok
	default:
		return cmpIntFloat(ia, ba, fb)
	}
}

func cmp3(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func bigOf(i int64, b *big.Int) *big.Int {
	if b != nil {
		return b
	}
	return big.NewInt(i)
}

// cmpIntFloat compares an int with a float exactly (no rounding of the int).
func cmpIntFloat(i int64, b *big.Int, f float64) (int, bool) {
	if math.IsNaN(f) {
		return 0, false
	}
	if math.IsInf(f, 1) {
		return -1, true
	}
	if math.IsInf(f, -1) {
		return 1, true
	}
	if b == nil && i > -(1<<53) && i < 1<<53 {
		return cmpFloat(float64(i), f), true
	}
	bf := new(big.Float).SetInt(bigOf(i, b))
	return bf.Cmp(big.NewFloat(f)), true
}

// Compare returns -1, 0 or +1 as a < b, a == b or a > b in Python. Numbers
// (bool, int, float) compare by value; str, bytes and bytearray
// lexicographically; tuples and lists element-wise. Sets are ordered by
// inclusion: Compare returns -1 for a proper subset, +1 for a proper
// superset, 0 for equal sets, and a *TypeError for sets that are neither.
// A NaN is unordered: Compare returns 0 for it, as neither a < b nor b < a
// holds in Python. Other pairs (str and int, complex, dicts) return a
// *TypeError with CPython's message, e.g. "'<' not supported between
// instances of 'str' and 'int'".
func Compare(a, b Value) (int, error) {
	return compare(a, b, 0)
}

func compare(a, b Value, depth int) (int, error) {
	if depth > maxRecursion {
		return 0, &TypeError{Msg: "maximum recursion depth exceeded in comparison"}
	}
	ka, ia, ba, fa, _ := numKind(a)
	kb, ib, bb, fb, _ := numKind(b)
	if ka != kNone && kb != kNone && ka != kComplex && kb != kComplex {
		c, _ := numCmp(ka, ia, ba, fa, kb, ib, bb, fb)
		return c, nil
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	case []byte, *ByteArray:
		if yb, ok := bytesOf(b); ok {
			xb, _ := bytesOf(a)
			return bytes.Compare(xb, yb), nil
		}
	case Tuple:
		if y, ok := b.(Tuple); ok {
			return compareSeq(x, y, depth)
		}
	case *List:
		if y, ok := b.(*List); ok {
			return compareSeq(x.Items, y.Items, depth)
		}
	case *Set, *FrozenSet:
		if tb := tableOf(b); tb != nil {
			ta := tableOf(a)
			sub, sup := ta.subsetOf(tb), tb.subsetOf(ta)
			switch {
			case sub && sup:
				return 0, nil
			case sub:
				return -1, nil
			case sup:
				return 1, nil
			}
			return 0, &TypeError{Msg: "sets are only partially ordered: neither is a subset of the other"}
		}
	}
	return 0, &TypeError{Msg: fmt.Sprintf("'<' not supported between instances of '%s' and '%s'", TypeName(a), TypeName(b))}
}

func compareSeq(x, y []Value, depth int) (int, error) {
	for i := 0; i < len(x) && i < len(y); i++ {
		if Equal(x[i], y[i]) {
			continue
		}
		return compare(x[i], y[i], depth+1)
	}
	return cmp3(int64(len(x)), int64(len(y))), nil
}

func bytesOf(v Value) ([]byte, bool) {
	switch x := v.(type) {
	case []byte:
		return x, true
	case *ByteArray:
		return x.Data, true
	}
	return nil, false
}

func tableOf(v Value) *table {
	switch x := v.(type) {
	case *Set:
		return &x.t
	case *FrozenSet:
		return &x.t
	}
	return nil
}

// TypeName returns the Python type name of v: "NoneType", "bool", "int",
// "float", "complex", "str", "bytes", "bytearray", "tuple", "list", "dict",
// "set", "frozenset", "slice", "range", "type" for a Global, and for an
// *Object the name of its class (the Global it was constructed from;
// copyreg._reconstructor and copyreg.__newobj__ are seen through). A Go
// value outside the model is named by its Go type.
func TypeName(v Value) string {
	switch x := v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case complex128:
		return "complex"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case *ByteArray:
		return "bytearray"
	case Tuple:
		return "tuple"
	case *List:
		return "list"
	case *Dict:
		return "dict"
	case *Set:
		return "set"
	case *FrozenSet:
		return "frozenset"
	case Slice:
		return "slice"
	case Range:
		return "range"
	case Global:
		return "type"
	case *Object:
		if g, ok := x.class(); ok {
			return g.Name[strings.LastIndexByte(g.Name, '.')+1:]
		}
		return "object"
	}
	if c, ok := canon(v); ok {
		return TypeName(c)
	}
	return fmt.Sprintf("%T", v)
}

var (
	globalReconstructor = Global{Module: "copyreg", Name: "_reconstructor"}
	globalNewObj        = Global{Module: "copyreg", Name: "__newobj__"}
)

// class returns the class an object is an instance of, when it is a Global.
func (o *Object) class() (Global, bool) {
	g, ok := o.Callable.(Global)
	if !ok {
		return Global{}, false
	}
	if (g == globalReconstructor || g == globalNewObj) && !o.New && len(o.Args) > 0 {
		c, ok := o.Args[0].(Global)
		return c, ok
	}
	return g, true
}

// Truth reports whether v is true in Python: None, False, zero numbers and
// empty containers are false. An *Object or Global is true (the codec cannot
// call __bool__ or __len__).
func Truth(v Value) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case *big.Int:
		return x.Sign() != 0
	case float64:
		return x != 0
	case complex128:
		return x != 0
	case string:
		return x != ""
	case []byte:
		return len(x) != 0
	case *ByteArray:
		return len(x.Data) != 0
	case Tuple:
		return len(x) != 0
	case *List:
		return len(x.Items) != 0
	case *Dict:
		return x.Len() != 0
	case *Set:
		return x.Len() != 0
	case *FrozenSet:
		return x.Len() != 0
	case Range:
		return rangeLen(x).Sign() != 0
	}
	if c, ok := canon(v); ok {
		return Truth(c)
	}
	return true
}

var bigOne = big.NewInt(1)

func intOf(v Value) (*big.Int, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return big.NewInt(1), true
		}
		return new(big.Int), true
	case int64:
		return big.NewInt(x), true
	case *big.Int:
		return x, true
	}
	if c, ok := canon(v); ok {
		return intOf(c)
	}
	return nil, false
}

// rangeLen returns len(range(r)), 0 for a malformed range.
func rangeLen(r Range) *big.Int {
	start, ok1 := intOf(r.Start)
	stop, ok2 := intOf(r.Stop)
	step, ok3 := intOf(r.Step)
	if !ok1 || !ok2 || !ok3 || step.Sign() == 0 {
		return new(big.Int)
	}
	// len = max(0, (stop - start + step - sign(step)) // step)
	n := new(big.Int).Sub(stop, start)
	if step.Sign() > 0 {
		n.Add(n, step).Sub(n, bigOne)
	} else {
		n.Add(n, step).Add(n, bigOne)
	}
	n.Quo(n, step)
	if n.Sign() < 0 {
		n.SetInt64(0)
	}
	return n
}

// rangeEqual compares ranges as sequences, as Python does: range(0) ==
// range(2, 2), range(0, 3, 2) == range(0, 4, 2).
func rangeEqual(a, b Range) bool {
	na, nb := rangeLen(a), rangeLen(b)
	if na.Cmp(nb) != 0 {
		return false
	}
	if na.Sign() == 0 {
		return true
	}
	if !numEqual(a.Start, b.Start) {
		return false
	}
	return na.Cmp(bigOne) == 0 || numEqual(a.Step, b.Step)
}
