package pickle

import (
	"hash/maphash"
	"math"
	"math/big"
	"math/bits"
	"sync/atomic"
)

var (
	hashSeed = maphash.MakeSeed()
	// intSeed keys the hash of numbers, so that nobody can choose ints
	// whose hashes collide in a table (mix64 alone is invertible).
	intSeed = maphash.Comparable(hashSeed, "ints")
	// nanCount gives each NaN its own hash: a NaN equals nothing, so a
	// constant hash would only pile NaN keys into one probe chain.
	nanCount atomic.Uint64
)

// hashBudget caps the number of nodes one Hash call visits, so that hashing
// a tuple DAG with shared references (which a small pickle can describe)
// stays cheap. Equal values visit their nodes in the same order, so the cap
// keeps the hash consistent with Equal.
const hashBudget = 4096

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func combine(h, x uint64) uint64 {
	return bits.RotateLeft64(h, 5)*0x100000001b3 ^ x
}

// canon converts the Go scalar types people naturally write (int, uint8,
// float32, ...) to the value model (int64, float64). ok is false, and v is
// returned unchanged, for other values.
func canon(v Value) (Value, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x), true
		}
		return new(big.Int).SetUint64(uint64(x)), true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
		return new(big.Int).SetUint64(x), true
	case float32:
		return float64(x), true
	case complex64:
		return complex128(x), true
	}
	return v, false
}

// Hash returns a hash of v consistent with Equal: equal values have equal
// hashes. It returns *UnhashableError for the types Python cannot hash
// (list, dict, set, bytearray, and tuples containing them). The hash is
// seeded per process: do not store or send it.
func Hash(v Value) (uint64, error) {
	budget := hashBudget
	return hashValue(v, &budget)
}

// Hashable returns nil when v can be a dict key or set element, and an
// *UnhashableError naming the offending type otherwise.
func Hashable(v Value) error {
	_, err := Hash(v)
	return err
}

func hashInt(x int64) uint64 { return mix64(uint64(x) ^ intSeed) }

func hashBig(x *big.Int) uint64 {
	var h maphash.Hash
	h.SetSeed(hashSeed)
	h.Write(x.Bytes())
	if x.Sign() < 0 {
		h.WriteByte('-')
	}
	return h.Sum64()
}

func hashFloat(f float64) uint64 {
	if f == math.Trunc(f) && !math.IsInf(f, 0) {
		if f >= -(1<<63) && f < 1<<63 {
			return hashInt(int64(f))
		}
		b, _ := new(big.Float).SetFloat64(f).Int(nil)
		return hashBig(b) // |f| >= 2**63: never an int64
	}
	if math.IsNaN(f) {
		return mix64(nanCount.Add(1) ^ intSeed)
	}
	return mix64(math.Float64bits(f) ^ intSeed ^ 0xf1)
}

func hashValue(v Value, budget *int) (uint64, error) {
	*budget--
	switch x := v.(type) {
	case nil:
		return 0x6e6f6e65, nil
	case bool:
		if x {
			return hashInt(1), nil
		}
		return hashInt(0), nil
	case int64:
		return hashInt(x), nil
	case *big.Int:
		if x.IsInt64() { // not canonical, but equal to an int64
			return hashInt(x.Int64()), nil
		}
		return hashBig(x), nil
	case float64:
		return hashFloat(x), nil
	case complex128:
		if imag(x) == 0 {
			return hashFloat(real(x)), nil
		}
		return combine(hashFloat(real(x)), hashFloat(imag(x))), nil
	case string:
		return maphash.String(hashSeed, x), nil
	case []byte:
		return maphash.Bytes(hashSeed, x) ^ 0x62, nil
	case Tuple:
		h := uint64(0x345678) + uint64(len(x))
		if *budget <= 0 {
			// Over budget: check hashability, stop hashing.
			for _, e := range x {
				if err := hashableShallow(e); err != nil {
					return 0, err
				}
			}
			return h, nil
		}
		for _, e := range x {
			eh, err := hashValue(e, budget)
			if err != nil {
				return 0, err
			}
			h = combine(h, eh)
		}
		return h, nil
	case *FrozenSet:
		return x.hash ^ 0xf0f0, nil
	case Slice:
		if *budget <= 0 {
			return 0x511ce, nil
		}
		return hashTriple(0x511ce, x.Start, x.Stop, x.Step, budget)
	case Range:
		n := rangeLen(x)
		if n.Sign() == 0 {
			return 0x7a9e, nil
		}
		if n.Cmp(bigOne) == 0 {
			return hashTriple(0x7a9e, n, x.Start, nil, budget)
		}
		return hashTriple(0x7a9e, n, x.Start, x.Step, budget)
	case Global:
		return maphash.String(hashSeed, x.Module) ^ bits.RotateLeft64(maphash.String(hashSeed, x.Name), 17), nil
	case *Object:
		h := uint64(0x0b1ec7) + uint64(len(x.Args))
		if *budget > 0 {
			if ch, err := hashValue(x.Callable, budget); err == nil {
				h = combine(h, ch)
			}
		}
		return h, nil
	case *List:
		return 0, &UnhashableError{Type: "list"}
	case *Dict:
		return 0, &UnhashableError{Type: "dict"}
	case *Set:
		return 0, &UnhashableError{Type: "set"}
	case *ByteArray:
		return 0, &UnhashableError{Type: "bytearray"}
	}
	if c, ok := canon(v); ok {
		return hashValue(c, budget)
	}
	return 0, &UnhashableError{Type: TypeName(v)}
}

func hashTriple(seed uint64, a, b, c Value, budget *int) (uint64, error) {
	h := seed
	for _, e := range [3]Value{a, b, c} {
		eh, err := hashValue(e, budget)
		if err != nil {
			return 0, err
		}
		h = combine(h, eh)
	}
	return h, nil
}

// hashableShallow reports unhashable values in a tuple whose hash budget
// is spent. It visits each shared tuple once, so a tuple DAG stays cheap.
func hashableShallow(v Value) error {
	return hashableDeep(v, map[ident]struct{}{}, 0)
}

func hashableDeep(v Value, seen map[ident]struct{}, depth int) error {
	switch x := v.(type) {
	case *List, *Dict, *Set, *ByteArray:
		return &UnhashableError{Type: TypeName(v)}
	case Tuple:
		if len(x) == 0 {
			return nil
		}
		id := ident{&x[0], len(x)}
		if _, ok := seen[id]; ok {
			return nil
		}
		seen[id] = struct{}{}
		if depth > maxRecursion {
			return &UnhashableError{Type: "tuple"}
		}
		for _, e := range x {
			if err := hashableDeep(e, seen, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
