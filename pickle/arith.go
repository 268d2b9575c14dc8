package pickle

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"
)

// maxRepeat caps the length of a sequence built by Mul (str * n and the
// like), so that a request such as 'x' * 2**40 fails instead of exhausting
// memory.
const maxRepeat = 1 << 28

// Add returns a + b with Python's semantics: int + int (promoted to
// *big.Int on overflow), int/float/complex mixed arithmetic (bool counts as
// int), str + str, bytes/bytearray concatenation (the result has the type of
// a), tuple + tuple, list + list (a new list). Other operands return a
// *TypeError with CPython's message.
func Add(a, b Value) (Value, error) {
	if r, ok := addNum(a, b); ok {
		return r, nil
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return x + y, nil
		}
		return nil, &TypeError{Msg: fmt.Sprintf("can only concatenate str (not \"%s\") to str", TypeName(b))}
	case []byte, *ByteArray:
		xb, _ := bytesOf(a)
		yb, ok := bytesOf(b)
		if !ok {
			return nil, &TypeError{Msg: fmt.Sprintf("can't concat %s to %s", TypeName(b), TypeName(a))}
		}
		out := make([]byte, 0, len(xb)+len(yb))
		out = append(append(out, xb...), yb...)
		if _, ok := a.(*ByteArray); ok {
			return &ByteArray{Data: out}, nil
		}
		return out, nil
	case Tuple:
		if y, ok := b.(Tuple); ok {
			return append(append(make(Tuple, 0, len(x)+len(y)), x...), y...), nil
		}
		return nil, &TypeError{Msg: fmt.Sprintf("can only concatenate tuple (not \"%s\") to tuple", TypeName(b))}
	case *List:
		if y, ok := b.(*List); ok {
			return &List{Items: append(append(make([]Value, 0, len(x.Items)+len(y.Items)), x.Items...), y.Items...)}, nil
		}
		return nil, &TypeError{Msg: fmt.Sprintf("can only concatenate list (not \"%s\") to list", TypeName(b))}
	}
	return nil, opError("+", a, b)
}

func opError(op string, a, b Value) error {
	return &TypeError{Msg: fmt.Sprintf("unsupported operand type(s) for %s: '%s' and '%s'", op, TypeName(a), TypeName(b))}
}

func addNum(a, b Value) (Value, bool) {
	ka, ia, ba, fa, ca := numKind(a)
	kb, ib, bb, fb, cb := numKind(b)
	if ka == kNone || kb == kNone {
		return nil, false
	}
	switch max(ka, kb) {
	case kInt:
		if ba == nil && bb == nil {
			s, c := bits.Add64(uint64(ia), uint64(ib), 0)
			_ = c
			// Signed overflow when both operands have the same sign and
			// the sum's sign differs.
			if (ia >= 0) == (ib >= 0) && (int64(s) >= 0) != (ia >= 0) {
				return NormInt(new(big.Int).Add(big.NewInt(ia), big.NewInt(ib))), true
			}
			return int64(s), true
		}
		return NormInt(new(big.Int).Add(bigOf(ia, ba), bigOf(ib, bb))), true
	case kFloat:
		return toFloat(ka, ia, ba, fa) + toFloat(kb, ib, bb, fb), true
	default:
		return toComplex(ka, ia, ba, fa, ca) + toComplex(kb, ib, bb, fb, cb), true
	}
}

func toFloat(k int, i int64, b *big.Int, f float64) float64 {
	if k == kFloat {
		return f
	}
	if b != nil {
		x, _ := new(big.Float).SetInt(b).Float64()
		return x
	}
	return float64(i)
}

func toComplex(k int, i int64, b *big.Int, f float64, c complex128) complex128 {
	if k == kComplex {
		return c
	}
	return complex(toFloat(k, i, b, f), 0)
}

// Mul returns a * n with Python's semantics: numbers multiply (int overflow
// promotes to *big.Int); a sequence (str, bytes, bytearray, tuple, list)
// times an int, in either order, repeats it (a count below 1 gives an empty
// sequence; a list result is a new list holding the same elements). A result
// longer than 2**28 elements fails with an error wrapping ErrTooLarge. Other
// operands return a *TypeError with CPython's message.
func Mul(a, n Value) (Value, error) {
	ka, ia, ba, fa, ca := numKind(a)
	kb, ib, bb, fb, cb := numKind(n)
	if ka != kNone && kb != kNone {
		switch max(ka, kb) {
		case kInt:
			if ba == nil && bb == nil {
				hi, lo := bits.Mul64(uint64(absI(ia)), uint64(absI(ib)))
				if hi == 0 && lo <= math.MaxInt64 && ia != math.MinInt64 && ib != math.MinInt64 {
					r := int64(lo)
					if (ia < 0) != (ib < 0) {
						r = -r
					}
					return r, nil
				}
			}
			return NormInt(new(big.Int).Mul(bigOf(ia, ba), bigOf(ib, bb))), nil
		case kFloat:
			return toFloat(ka, ia, ba, fa) * toFloat(kb, ib, bb, fb), nil
		default:
			return toComplex(ka, ia, ba, fa, ca) * toComplex(kb, ib, bb, fb, cb), nil
		}
	}
	seq, count := a, n
	if ka == kInt {
		seq, count = n, a
	}
	k, ci, cbig, _, _ := numKind(count)
	if k != kInt {
		if isSequence(seq) {
			return nil, &TypeError{Msg: fmt.Sprintf("can't multiply sequence by non-int of type '%s'", TypeName(count))}
		}
		return nil, opError("*", a, n)
	}
	if !isSequence(seq) {
		return nil, opError("*", a, n)
	}
	times := ci
	if cbig != nil {
		if cbig.Sign() < 0 {
			times = 0
		} else {
			times = math.MaxInt64
		}
	}
	if times < 0 {
		times = 0
	}
	if seqLen(seq) == 0 {
		times = 0 // an empty sequence stays empty, however large the count
	}
	length := seqLen(seq)
	if length > 0 && times > maxRepeat/int64(length) {
		return nil, fmt.Errorf("pickle: repeating a %s of %d elements %s times: %w", TypeName(seq), length, Str(count), ErrTooLarge)
	}
	t := int(times)
	switch x := seq.(type) {
	case string:
		return repeatString(x, t), nil
	case []byte:
		return repeatBytes(x, t), nil
	case *ByteArray:
		return &ByteArray{Data: repeatBytes(x.Data, t)}, nil
	case Tuple:
		return Tuple(repeatValues(x, t)), nil
	case *List:
		return &List{Items: repeatValues(x.Items, t)}, nil
	}
	return nil, opError("*", a, n)
}

func absI(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func isSequence(v Value) bool {
	switch v.(type) {
	case string, []byte, *ByteArray, Tuple, *List:
		return true
	}
	return false
}

func seqLen(v Value) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case []byte:
		return len(x)
	case *ByteArray:
		return len(x.Data)
	case Tuple:
		return len(x)
	case *List:
		return len(x.Items)
	}
	return 0
}

func repeatString(s string, n int) string {
	out := make([]byte, 0, len(s)*n)
	for range n {
		out = append(out, s...)
	}
	return string(out)
}

func repeatBytes(b []byte, n int) []byte {
	out := make([]byte, 0, len(b)*n)
	for range n {
		out = append(out, b...)
	}
	return out
}

func repeatValues(v []Value, n int) []Value {
	out := make([]Value, 0, len(v)*n)
	for range n {
		out = append(out, v...)
	}
	return out
}
