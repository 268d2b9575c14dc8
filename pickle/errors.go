package pickle

import (
	"errors"
	"fmt"
)

// Sentinel errors of the codec. A *DecodeError or *EncodeError wraps one of
// them (or a more specific error) so callers can test with errors.Is.
var (
	// ErrTooLarge reports that a pickle exceeds a limit of the
	// DecoderConfig (input size, nesting depth, memo size, item count, int
	// digits), or that a value is too large or too deep to encode.
	ErrTooLarge = errors.New("pickle: data exceeds limit")
	// ErrLimit reports that a pickle would be longer than the limit given
	// to AppendMarshalLimit.
	ErrLimit = errors.New("pickle: pickle exceeds the output limit")
	// ErrTruncated reports that the input ended before the STOP opcode.
	ErrTruncated = errors.New("pickle: unexpected end of data")
	// ErrUnsupported reports an opcode that needs something a pickle stream
	// alone cannot provide: persistent ids, the extension registry,
	// out-of-band buffers.
	ErrUnsupported = errors.New("pickle: unsupported opcode")
	// ErrMalformed reports a pickle that violates the format: an unknown
	// opcode, a stack underflow, a missing MARK, a bad argument.
	ErrMalformed = errors.New("pickle: malformed pickle")
)

// DecodeError describes a pickle that could not be decoded: the offset of
// the opcode at fault (from the start of this pickle), the opcode, and the
// cause, which wraps ErrTooLarge, ErrTruncated, ErrUnsupported, ErrMalformed,
// an *UnhashableError or an io error.
type DecodeError struct {
	Offset int64
	Op     byte
	Err    error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("pickle: decoding opcode %s at offset %d: %v", opName(e.Op), e.Offset, trimPrefix(e.Err))
}

func (e *DecodeError) Unwrap() error { return e.Err }

// trimPrefix avoids "pickle: ... pickle: ..." in nested messages.
func trimPrefix(err error) string {
	s := err.Error()
	if len(s) > 8 && s[:8] == "pickle: " {
		return s[8:]
	}
	return s
}

// UnhashableError is returned by key operations of *Dict, *Set and
// *FrozenSet, and by Hashable, for values Python cannot hash.
type UnhashableError struct {
	Type string // the Python type name: "list", "dict", "set", "bytearray"
}

func (e *UnhashableError) Error() string {
	return fmt.Sprintf("pickle: unhashable type: '%s'", e.Type)
}

// TypeError is Python's TypeError raised by an operation of the value
// model (Compare, Add, Mul). Msg is the message CPython prints, e.g.
// "'<' not supported between instances of 'str' and 'int'".
type TypeError struct {
	Msg string
}

func (e *TypeError) Error() string { return "pickle: " + e.Msg }

// EncodeError reports a value that cannot be pickled.
type EncodeError struct {
	Msg string
	Err error // ErrTooLarge for over-deep or over-large values, else nil
}

func (e *EncodeError) Error() string { return "pickle: " + e.Msg }

func (e *EncodeError) Unwrap() error { return e.Err }
