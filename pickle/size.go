package pickle

import "math/big"

// Costs, in bytes, that SizeOf charges. They approximate the Go heap on
// 64-bit platforms (an interface is two words, a boxed scalar one more
// allocation) and each is at least what the encoder writes for the same
// value, so that SizeOf also bounds the length of a pickle.
const (
	sizeSlot   = 16 // one element of a Tuple, List or Object argument list: an interface
	sizeScalar = 8  // a boxed int64 or float64
	sizeString = 16 // the header of a str or bytes (plus its data)
	sizeHeader = 48 // a container's own header and allocation slack
	sizeEntry  = 64 // one entry of a Dict, Set or FrozenSet, with its index
	sizeGlobal = 64 // a Global, a complex, a slice or range object: a REDUCE and its class
	sizeMax    = 1 << 56
)

// SizeOf estimates the memory, in bytes, that v holds in the value model,
// and bounds the length of its pickle (without the few bytes of PROTO,
// FRAME and STOP): len(Marshal(v)) <= SizeOf(v) + 64.
//
// A container (list, dict, set, frozenset, tuple, *Object) that v
// references several times is counted once, as the encoder writes it once
// and refers to it through the memo; a str or bytes is counted every time
// it occurs, as the encoder writes it every time. The walk is linear in the
// number of distinct containers and their elements, also for values that
// share references or contain themselves; the result saturates at 2**56.
//
// SizeOf is deterministic: the same value always gives the same size, so a
// caller may add it when storing a value and subtract it when removing it.
func SizeOf(v Value) int64 {
	var s sizer // its memo is made at the first container: scalars cost nothing
	return min(s.size(v, 0), sizeMax)
}

// sizer is the state of one SizeOf walk: the containers already counted.
type sizer struct {
	seen map[ident]struct{}
}

// once reports whether the container k is met for the first time.
func (s *sizer) once(k ident) bool {
	if s.seen == nil {
		s.seen = make(map[ident]struct{})
	}
	if _, ok := s.seen[k]; ok {
		return false
	}
	s.seen[k] = struct{}{}
	return true
}

func (s *sizer) items(vs []Value, depth int) int64 {
	n := int64(len(vs)) * sizeSlot
	for _, it := range vs {
		n += s.size(it, depth+1)
		if n > sizeMax {
			return n
		}
	}
	return n
}

func (s *sizer) size(v Value, depth int) int64 {
	if depth > maxRecursion {
		return sizeMax // deeper than the encoder writes: too large
	}
	switch x := v.(type) {
	case nil, bool:
		return 0
	case int64, float64:
		return sizeScalar
	case string:
		return sizeString + int64(len(x))
	case []byte:
		return sizeString + int64(len(x))
	case *big.Int:
		return sizeHeader + int64(len(x.Bits()))*8
	case complex128, Slice, Range, Global:
		n := int64(sizeGlobal)
		switch y := x.(type) {
		case Slice:
			n += s.size(y.Start, depth+1) + s.size(y.Stop, depth+1) + s.size(y.Step, depth+1)
		case Range:
			n += s.size(y.Start, depth+1) + s.size(y.Stop, depth+1) + s.size(y.Step, depth+1)
		case Global:
			n += int64(len(y.Module) + len(y.Name))
		}
		return n
	case *ByteArray:
		if !s.once(ident{x, 0}) {
			return 0
		}
		return sizeGlobal + sizeString + int64(len(x.Data))
	case Tuple:
		if len(x) == 0 {
			return 0
		}
		if !s.once(ident{&x[0], len(x)}) {
			return 0
		}
		return sizeHeader + s.items(x, depth)
	case *List:
		if !s.once(ident{x, 0}) {
			return 0
		}
		return sizeHeader + s.items(x.Items, depth)
	case *Dict:
		if !s.once(ident{x, 0}) {
			return 0
		}
		return sizeHeader + s.table(&x.t, depth)
	case *Set:
		if !s.once(ident{x, 0}) {
			return 0
		}
		return sizeGlobal + s.table(&x.t, depth)
	case *FrozenSet:
		if !s.once(ident{x, 0}) {
			return 0
		}
		return sizeGlobal + s.table(&x.t, depth)
	case *Object:
		if !s.once(ident{x, 0}) {
			return 0
		}
		n := sizeGlobal + s.size(x.Callable, depth+1) + s.items(x.Args, depth)
		if x.Kwargs != nil {
			n += s.size(x.Kwargs, depth+1)
		}
		if x.HasState {
			n += s.size(x.State, depth+1)
		}
		n += s.items(x.ListItems, depth)
		for _, it := range x.DictItems {
			n += sizeEntry + s.size(it.Key, depth+1) + s.size(it.Value, depth+1)
		}
		return n
	}
	if c, ok := canon(v); ok {
		return s.size(c, depth)
	}
	return sizeHeader
}

func (s *sizer) table(t *table, depth int) int64 {
	n := int64(len(t.entries)) * sizeEntry
	for i := range t.entries {
		e := &t.entries[i]
		if !e.live {
			continue
		}
		n += s.size(e.key, depth+1) + s.size(e.value, depth+1)
		if n > sizeMax {
			return n
		}
	}
	return n
}
