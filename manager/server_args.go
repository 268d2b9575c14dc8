package manager

import (
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/procshare/procshare/pickle"
)

// This file binds the arguments of a request to Python-style parameters
// and converts them (ints, timeouts, iterables), raising the exceptions
// CPython would.

// srvParams describes the signature of a Python method: its qualified name
// for messages, its parameter names (all positional-or-keyword) and how many
// of them are required.
type srvParams struct {
	fn    string
	names []string
	nreq  int
}

// bind fills out (len(p.names), pre-filled with the defaults) from args and
// kw, like a Python call, or returns a TypeError worded as CPython's.
func (p *srvParams) bind(args pickle.Tuple, kw *pickle.Dict, out []pickle.Value) error {
	if len(args) > len(p.names) {
		return p.tooMany(len(args))
	}
	copy(out, args)
	given := len(args)
	if kw != nil && kw.Len() > 0 {
		var seen uint64
		for k, v := range kw.All() {
			name, ok := k.(string)
			if !ok {
				return typeErrorf("keywords must be strings")
			}
			i := p.index(name)
			if i < 0 {
				return typeErrorf("%s() got an unexpected keyword argument '%s'", p.fn, name)
			}
			if i < len(args) || seen&(1<<i) != 0 {
				return typeErrorf("%s() got multiple values for argument '%s'", p.fn, name)
			}
			seen |= 1 << i
			out[i] = v
		}
		for i := given; i < p.nreq; i++ {
			if seen&(1<<i) == 0 {
				return p.missing(i, seen)
			}
		}
		return nil
	}
	if given < p.nreq {
		return p.missing(given, 0)
	}
	return nil
}

func (p *srvParams) index(name string) int {
	for i, n := range p.names {
		if n == name {
			return i
		}
	}
	return -1
}

func (p *srvParams) tooMany(n int) error {
	// Python counts self: "get() takes from 1 to 3 positional arguments but 5 were given".
	max := len(p.names) + 1
	min := p.nreq + 1
	if min == max {
		return typeErrorf("%s() takes %d positional argument%s but %d were given", p.fn, max, plural(max), n+1)
	}
	return typeErrorf("%s() takes from %d to %d positional arguments but %d were given", p.fn, min, max, n+1)
}

func (p *srvParams) missing(from int, seen uint64) error {
	var miss []string
	for i := from; i < p.nreq; i++ {
		if seen&(1<<i) == 0 {
			miss = append(miss, "'"+p.names[i]+"'")
		}
	}
	list := strings.Join(miss, ", ")
	if len(miss) > 1 {
		list = strings.Join(miss[:len(miss)-1], ", ") + " and " + miss[len(miss)-1]
	}
	return typeErrorf("%s() missing %d required positional argument%s: %s", p.fn, len(miss), plural(len(miss)), list)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// noArgs checks that a method taking no arguments got none.
func noArgs(fn string, args pickle.Tuple, kw *pickle.Dict) error {
	if kw != nil && kw.Len() > 0 {
		return typeErrorf("%s() takes no keyword arguments", fn)
	}
	if len(args) > 0 {
		return typeErrorf("%s() takes no arguments (%d given)", fn, len(args))
	}
	return nil
}

// typeName is Python's type(v).__name__.
func typeName(v pickle.Value) string { return pickle.TypeName(v) }

// pyIndex converts an int (or bool) to int64 like operator.index, raising
// TypeError for other types and OverflowError beyond 64 bits.
func pyIndex(v pickle.Value) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case *big.Int:
		return 0, excf(excOverflowError, "Python int too large to convert to C ssize_t")
	}
	return 0, typeErrorf("'%s' object cannot be interpreted as an integer", typeName(v))
}

// pyNumber converts an int, bool or float to float64 for comparisons with
// time; ok is false for other types.
func pyNumber(v pickle.Value) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, true
	}
	return 0, false
}

// srvTimeout is a parsed timeout argument.
type srvTimeout struct {
	none    bool    // the argument was None: wait forever
	seconds float64 // otherwise, the number of seconds (may be negative)
}

// parseTimeout reads a timeout that may be None or a number; a non-number
// raises the TypeError Python's comparison with 0 would.
func parseTimeout(v pickle.Value) (srvTimeout, error) {
	if v == nil {
		return srvTimeout{none: true}, nil
	}
	f, ok := pyNumber(v)
	if !ok || math.IsNaN(f) {
		if ok {
			return srvTimeout{}, valueErrorf("Invalid value NaN (not a number)")
		}
		return srvTimeout{}, typeErrorf("'<' not supported between instances of '%s' and 'int'", typeName(v))
	}
	return srvTimeout{seconds: f}, nil
}

// deadlineAfter converts a non-negative number of seconds from now into a
// deadline; huge values mean "never" (zero time).
func deadlineAfter(seconds float64) time.Time {
	if seconds <= 0 {
		return time.Now()
	}
	if seconds > 1e9 { // ~31 years: effectively forever
		return time.Time{}
	}
	return time.Now().Add(time.Duration(seconds * float64(time.Second)))
}

// iterValues returns the items of a Python iterable value (list, tuple,
// str, bytes, bytearray, set, frozenset, dict keys, range), or the
// TypeError Python raises for a non-iterable. The slice may alias v's
// storage: callers copy before keeping it. What an expansion allocates is
// charged to m first (MemoryError if it does not fit).
func iterValues(m *memScope, v pickle.Value) ([]pickle.Value, error) {
	if err := m.take(iterCost(v)); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case *pickle.List:
		return x.Items, nil
	case pickle.Tuple:
		return x, nil
	case string:
		out := make([]pickle.Value, 0, len(x))
		for _, r := range x {
			out = append(out, string(r))
		}
		return out, nil
	case []byte:
		out := make([]pickle.Value, len(x))
		for i, b := range x {
			out[i] = int64(b)
		}
		return out, nil
	case *pickle.ByteArray:
		out := make([]pickle.Value, len(x.Data))
		for i, b := range x.Data {
			out[i] = int64(b)
		}
		return out, nil
	case *pickle.Set:
		return x.Items(), nil
	case *pickle.FrozenSet:
		return x.Items(), nil
	case *pickle.Dict:
		return x.Keys(), nil
	case pickle.Range:
		return rangeValues(x)
	}
	return nil, typeErrorf("'%s' object is not iterable", typeName(v))
}

// maxRangeItems bounds how many items a range argument may expand to, so a
// range(10**18) cannot exhaust the server's memory whatever its budget.
const maxRangeItems = 1 << 24

// rangeLen is len(r) (saturated at MaxInt64) with r's start and step, or
// the ValueError of a malformed range.
func rangeLen(r pickle.Range) (n, start, step int64, err error) {
	start, err1 := pyIndex(r.Start)
	stop, err2 := pyIndex(r.Stop)
	step, err3 := pyIndex(r.Step)
	if err1 != nil || err2 != nil || err3 != nil || step == 0 {
		return 0, 0, 0, valueErrorf("bad range object")
	}
	var u uint64 // in uint64: stop-start does not overflow
	if step > 0 && start < stop {
		u = (uint64(stop)-uint64(start)-1)/uint64(step) + 1
	} else if step < 0 && start > stop {
		u = (uint64(start)-uint64(stop)-1)/(-uint64(step)) + 1
	}
	return int64(min(u, math.MaxInt64)), start, step, nil
}

func rangeValues(r pickle.Range) ([]pickle.Value, error) {
	n, start, step, err := rangeLen(r)
	if err != nil {
		return nil, err
	}
	if n > maxRangeItems {
		return nil, excf(excOverflowError, "procshare: range of %d items is too large for the server", n)
	}
	out := make([]pickle.Value, n)
	for i := range out {
		out[i] = start + int64(i)*step
	}
	return out, nil
}
