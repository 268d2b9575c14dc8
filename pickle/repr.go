package pickle

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxReprLen caps the length of a Repr or Str result: a pickle of a few
// kilobytes can describe a value whose full repr has terabytes (shared
// references). A longer repr ends with "...".
const maxReprLen = 1 << 20

// maxReprIntBits caps the size of an int that Repr converts to decimal
// (about 300000 digits); a larger one prints as "<int of N bits>".
const maxReprIntBits = 1 << 20

// Repr returns repr(v) as CPython prints it for the model types: 'str'
// quoted and escaped like Python (choosing the quote), b'bytes', floats in
// the shortest form (0.1, 1e+16, 1e-05, inf, nan, -0.0), complex as (1+2j),
// {k: v} dicts, {1, 2} sets (set() when empty), frozenset({...}), (1,)
// tuples, slice(1, 3, None), range(0, 5). A container met again inside
// itself prints as [...] or {...}, as in Python.
//
// Values outside Python's repr: a Global prints as module.name; an *Object
// prints as its construction, mod.Class(args) for a REDUCE and
// mod.Class.__new__(args) for a NEWOBJ, followed by " state=…" and
// " items=…" parts in angle brackets when it has them.
//
// The result is at most about 1 MiB long; longer reprs are cut and end
// with "...".
func Repr(v Value) string {
	r := reprState{max: maxReprLen}
	r.repr(v, 0)
	return r.String()
}

// ReprLimit returns Repr(v) without its 1 MiB cap, and true, if that repr
// is at most limit bytes long; otherwise it stops as soon as it knows the
// repr is longer and returns "" and false. Building it takes at most about
// twice limit bytes of memory.
func ReprLimit(v Value, limit int) (string, bool) {
	r := reprState{max: max(limit, 0), exact: true}
	r.repr(v, 0)
	if r.full {
		return "", false
	}
	return r.String(), true
}

// Str returns str(v): a str unchanged, anything else as Repr.
func Str(v Value) string {
	if s, ok := v.(string); ok {
		return s
	}
	return Repr(v)
}

type reprState struct {
	strings.Builder
	active []any // containers being printed, for recursion detection
	max    int   // the longest result
	exact  bool  // past max, write nothing (ReprLimit) rather than "..."
	full   bool  // max was reached: the rest is dropped
}

func (r *reprState) put(s string) {
	if r.full {
		return
	}
	if r.Len()+len(s) > r.max {
		r.full = true
		if !r.exact {
			r.WriteString(s[:max(0, r.max-r.Len())])
			r.WriteString("...")
		}
		return
	}
	r.WriteString(s)
}

// fits reports whether a str or bytes of n bytes may be quoted: for
// ReprLimit, one longer than the room left makes the result full at once
// instead of being quoted for nothing. Repr quotes it and keeps a prefix.
func (r *reprState) fits(n int) bool {
	if r.full {
		return false
	}
	if r.exact && r.Len()+n > r.max {
		r.full = true
		return false
	}
	return true
}

// enter reports whether p is already being printed; if not it marks it.
func (r *reprState) enter(p any) bool {
	for _, a := range r.active {
		if a == p {
			return true
		}
	}
	r.active = append(r.active, p)
	return false
}

func (r *reprState) leave() { r.active = r.active[:len(r.active)-1] }

func (r *reprState) repr(v Value, depth int) {
	if r.full {
		return
	}
	if depth > maxRecursion {
		r.put("...")
		return
	}
	switch x := v.(type) {
	case nil:
		r.put("None")
	case bool:
		if x {
			r.put("True")
		} else {
			r.put("False")
		}
	case int64:
		r.put(strconv.FormatInt(x, 10))
	case *big.Int:
		if x.BitLen() > maxReprIntBits {
			r.put("<int of " + strconv.Itoa(x.BitLen()) + " bits>")
		} else {
			r.put(x.String())
		}
	case float64:
		r.put(formatFloat(x, true))
	case complex128:
		r.put(formatComplex(x))
	case string:
		if r.fits(len(x) + 2) {
			r.put(quoteStr(x))
		}
	case []byte:
		if r.fits(len(x) + 3) {
			r.put(quoteBytes(x))
		}
	case *ByteArray:
		r.put("bytearray(")
		if r.fits(len(x.Data) + 3) {
			r.put(quoteBytes(x.Data))
		}
		r.put(")")
	case Tuple:
		r.put("(")
		r.items(x, depth)
		if len(x) == 1 {
			r.put(",")
		}
		r.put(")")
	case *List:
		if r.enter(x) {
			r.put("[...]")
			return
		}
		r.put("[")
		r.items(x.Items, depth)
		r.put("]")
		r.leave()
	case *Dict:
		if r.enter(x) {
			r.put("{...}")
			return
		}
		r.put("{")
		first := true
		for _, e := range x.t.entries {
			if !e.live {
				continue
			}
			if !first {
				r.put(", ")
			}
			first = false
			r.repr(e.key, depth+1)
			r.put(": ")
			r.repr(e.value, depth+1)
			if r.full {
				break
			}
		}
		r.put("}")
		r.leave()
	case *Set:
		if x.Len() == 0 {
			r.put("set()")
			return
		}
		r.put("{")
		r.items(x.t.keys(), depth)
		r.put("}")
	case *FrozenSet:
		if x.Len() == 0 {
			r.put("frozenset()")
			return
		}
		r.put("frozenset({")
		r.items(x.t.keys(), depth)
		r.put("})")
	case Slice:
		r.put("slice(")
		r.items([]Value{x.Start, x.Stop, x.Step}, depth)
		r.put(")")
	case Range:
		r.put("range(")
		if numEqual(x.Step, int64(1)) {
			r.items([]Value{x.Start, x.Stop}, depth)
		} else {
			r.items([]Value{x.Start, x.Stop, x.Step}, depth)
		}
		r.put(")")
	case Global:
		r.put(x.Module + "." + x.Name)
	case *Object:
		r.object(x, depth)
	default:
		if c, ok := canon(v); ok {
			r.repr(c, depth)
			return
		}
		r.put("<Go " + TypeName(v) + ">")
	}
}

func (r *reprState) items(vs []Value, depth int) {
	for i, e := range vs {
		if i > 0 {
			r.put(", ")
		}
		r.repr(e, depth+1)
		if r.full {
			return
		}
	}
}

func (r *reprState) object(o *Object, depth int) {
	if r.enter(o) {
		r.put("<...>")
		return
	}
	defer r.leave()
	extra := o.HasState || len(o.ListItems) > 0 || len(o.DictItems) > 0
	if extra {
		r.put("<")
	}
	r.repr(o.Callable, depth+1)
	if o.New {
		r.put(".__new__")
	}
	r.put("(")
	r.items(o.Args, depth)
	if o.Kwargs != nil {
		sep := len(o.Args) > 0
		for _, e := range o.Kwargs.t.entries {
			if !e.live {
				continue
			}
			if sep {
				r.put(", ")
			}
			sep = true
			r.put(Str(e.key))
			r.put("=")
			r.repr(e.value, depth+1)
		}
	}
	r.put(")")
	if !extra {
		return
	}
	if o.HasState {
		r.put(" state=")
		r.repr(o.State, depth+1)
	}
	if len(o.ListItems) > 0 {
		r.put(" items=[")
		r.items(o.ListItems, depth)
		r.put("]")
	}
	if len(o.DictItems) > 0 {
		r.put(" items={")
		for i, it := range o.DictItems {
			if i > 0 {
				r.put(", ")
			}
			r.repr(it.Key, depth+1)
			r.put(": ")
			r.repr(it.Value, depth+1)
		}
		r.put("}")
	}
	r.put(">")
}

// formatFloat formats f like Python's repr(float) (addPoint true: 1.0) or
// like the parts of a complex repr (addPoint false: 1).
func formatFloat(f float64, addPoint bool) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	// Shortest round-tripping digits, then Python's layout: positional
	// when -4 <= exponent < 16, scientific otherwise.
	s := strconv.FormatFloat(f, 'e', -1, 64)
	mant, expStr, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expStr)
	neg := strings.HasPrefix(mant, "-")
	mant = strings.TrimPrefix(mant, "-")
	digits := strings.Replace(mant, ".", "", 1)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	if exp >= -4 && exp < 16 {
		if exp < 0 {
			b.WriteString("0.")
			b.WriteString(strings.Repeat("0", -exp-1))
			b.WriteString(digits)
		} else if len(digits) > exp+1 {
			b.WriteString(digits[:exp+1])
			b.WriteByte('.')
			b.WriteString(digits[exp+1:])
		} else {
			b.WriteString(digits)
			b.WriteString(strings.Repeat("0", exp+1-len(digits)))
			if addPoint {
				b.WriteString(".0")
			}
		}
		return b.String()
	}
	b.WriteByte(digits[0])
	if len(digits) > 1 {
		b.WriteByte('.')
		b.WriteString(digits[1:])
	}
	b.WriteByte('e')
	if exp < 0 {
		b.WriteByte('-')
		exp = -exp
	} else {
		b.WriteByte('+')
	}
	if exp < 10 {
		b.WriteByte('0')
	}
	b.WriteString(strconv.Itoa(exp))
	return b.String()
}

func formatComplex(c complex128) string {
	re, im := real(c), imag(c)
	ims := formatFloat(im, false)
	if re == 0 && !math.Signbit(re) {
		return ims + "j"
	}
	if !strings.HasPrefix(ims, "-") {
		ims = "+" + ims
	}
	return "(" + formatFloat(re, false) + ims + "j)"
}

const hexDigits = "0123456789abcdef"

// quoteStr quotes s like Python's repr(str). Lone surrogates (which a
// pickle carries as their 3-byte "surrogatepass" UTF-8 form) print as
// \udXXX; a byte that is not UTF-8 at all prints as \xNN.
func quoteStr(s string) string {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, q)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c == q || c == '\\':
				b = append(b, '\\', c)
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
			default:
				b = append(b, c)
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			if sr, ok := surrogateAt(s, i); ok {
				b = appendEscape(b, sr)
				i += 3
				continue
			}
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
			i++
			continue
		}
		i += size
		if unicode.IsPrint(r) {
			b = append(b, s[i-size:i]...)
		} else {
			b = appendEscape(b, r)
		}
	}
	return string(append(b, q))
}

// surrogateAt decodes the 3-byte encoding of a surrogate code point.
func surrogateAt(s string, i int) (rune, bool) {
	if i+2 < len(s) && s[i] == 0xed && s[i+1] >= 0xa0 && s[i+1] <= 0xbf && s[i+2] >= 0x80 && s[i+2] <= 0xbf {
		return 0xd000 | rune(s[i+1]&0x3f)<<6 | rune(s[i+2]&0x3f), true
	}
	return 0, false
}

func appendEscape(b []byte, r rune) []byte {
	switch {
	case r < 0x100:
		return append(b, '\\', 'x', hexDigits[r>>4], hexDigits[r&15])
	case r < 0x10000:
		b = append(b, '\\', 'u')
		for sh := 12; sh >= 0; sh -= 4 {
			b = append(b, hexDigits[(r>>sh)&15])
		}
		return b
	default:
		b = append(b, '\\', 'U')
		for sh := 28; sh >= 0; sh -= 4 {
			b = append(b, hexDigits[(r>>sh)&15])
		}
		return b
	}
}

// quoteBytes quotes b like Python's repr(bytes).
func quoteBytes(p []byte) string {
	q := byte('\'')
	if containsByte(p, '\'') && !containsByte(p, '"') {
		q = '"'
	}
	b := make([]byte, 0, len(p)+3)
	b = append(b, 'b', q)
	for _, c := range p {
		switch {
		case c == q || c == '\\':
			b = append(b, '\\', c)
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20 || c >= 0x7f:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
		default:
			b = append(b, c)
		}
	}
	return string(append(b, q))
}

func containsByte(p []byte, c byte) bool {
	for _, x := range p {
		if x == c {
			return true
		}
	}
	return false
}
