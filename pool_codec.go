package procshare

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
)

// A pool's chunks carry their inputs and results as JSON arrays, the
// package's encoding for plain values. For tasks as small as squaring an
// int, encoding/json's reflection per element is most of a worker's CPU,
// so slices of the kinds tasks most often take and give (ints, floats,
// bools) are written and read here by a loop over the elements instead.
// The JSON is the same language either way, and any other type, or any
// input these loops do not accept, goes through encoding/json.

// marshalSlice returns s as a JSON array.
func marshalSlice[T any](s []T) ([]byte, error) {
	if s == nil {
		return []byte("null"), nil
	}
	switch v := any(s).(type) {
	case []int:
		return appendInts(v), nil
	case []int64:
		return appendInts(v), nil
	case []int32:
		return appendInts(v), nil
	case []float64:
		return appendFloats(v)
	case []bool:
		b := make([]byte, 0, 6*len(v)+2)
		b = append(b, '[')
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendBool(b, x)
		}
		return append(b, ']'), nil
	}
	return json.Marshal(s)
}

func appendInts[T int | int64 | int32](v []T) []byte {
	b := make([]byte, 0, 12*len(v)+2)
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(x), 10)
	}
	return append(b, ']')
}

// errNotFinite is encoding/json's refusal of NaN and infinities, which
// JSON has no number for.
var errNotFinite = errors.New("json: unsupported value: a NaN or an infinity")

func appendFloats(v []float64) ([]byte, error) {
	b := make([]byte, 0, 24*len(v)+2)
	b = append(b, '[')
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, errNotFinite
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, x, 'g', -1, 64)
	}
	return append(b, ']'), nil
}

// unmarshalSlice reads the JSON array b into *s.
func unmarshalSlice[T any](b []byte, s *[]T) error {
	var ok bool
	switch p := any(s).(type) {
	case *[]int:
		ok = scanArray(b, p, func(t []byte) (int, bool) {
			n, ok := parseInt(t, strconv.IntSize)
			return int(n), ok
		})
	case *[]int64:
		ok = scanArray(b, p, func(t []byte) (int64, bool) { return parseInt(t, 64) })
	case *[]int32:
		ok = scanArray(b, p, func(t []byte) (int32, bool) {
			n, ok := parseInt(t, 32)
			return int32(n), ok
		})
	case *[]float64:
		ok = scanArray(b, p, func(t []byte) (float64, bool) {
			if !isJSONNumber(t) {
				return 0, false
			}
			f, err := strconv.ParseFloat(string(t), 64)
			return f, err == nil
		})
	case *[]bool:
		ok = scanArray(b, p, func(t []byte) (bool, bool) {
			switch string(t) {
			case "true":
				return true, true
			case "false":
				return false, true
			}
			return false, false
		})
	}
	if ok {
		return nil
	}
	return json.Unmarshal(b, s) // other types, and anything the loops refused (with json's error)
}

// parseInt reads a JSON integer of at most bits bits.
func parseInt(t []byte, bits int) (int64, bool) {
	if !isJSONNumber(t) {
		return 0, false
	}
	n, err := strconv.ParseInt(string(t), 10, bits)
	return n, err == nil
}

// scanArray reads a JSON array of scalars (no strings, no nesting) into
// *s with parse, reporting false for anything else (then *s's elements may
// have changed, and its length not: encoding/json takes over).
func scanArray[E any](b []byte, s *[]E, parse func([]byte) (E, bool)) bool {
	b = trimSpace(b)
	if string(b) == "null" {
		*s = nil
		return true
	}
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return false
	}
	b = trimSpace(b[1 : len(b)-1])
	out := (*s)[:0] // json.Unmarshal reuses the slice's array too
	if n := bytes.Count(b, []byte{','}) + 1; cap(out) < n {
		out = make([]E, 0, n)
	}
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != ',' {
			i++
		}
		x, ok := parse(trimSpace(b[:i]))
		if !ok {
			return false
		}
		out = append(out, x)
		if i == len(b) {
			break
		}
		b = b[i+1:]
		if len(trimSpace(b)) == 0 {
			return false // a trailing comma
		}
	}
	*s = out
	return true
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isJSONSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isJSONSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// isJSONNumber reports whether t is a number in JSON's grammar,
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, which strconv's parsers
// alone would widen ("+1", "01", ".5", "Inf", "0x1p3", "1_0" …).
func isJSONNumber(t []byte) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(t) && '0' <= t[i] && t[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(t) && t[i] == '-' {
		i++
	}
	start := i
	if n := digits(); n == 0 || n > 1 && t[start] == '0' {
		return false
	}
	if i < len(t) && t[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		i++
		if i < len(t) && (t[i] == '+' || t[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(t)
}
