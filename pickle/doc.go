// Package pickle reads and writes Python pickles and models the Python
// values they carry, so that Go programs can exchange data with CPython
// (multiprocessing managers, queues, files) without running Python code.
//
// # Values
//
// A decoded pickle is a [Value]: nil, bool, int64 or *big.Int, float64,
// complex128, string, []byte, *[ByteArray], [Tuple], *[List], *[Dict],
// *[Set], *[FrozenSet], [Slice], [Range], [Global], or *[Object] for
// instances of any other class. The value model follows Python's semantics
// where Go code needs them: [Dict] and [Set] compare keys with Python
// equality (1, 1.0 and True are one key), [Equal], [Compare], [Hash],
// [Repr], [Str], [TypeName], [Truth], [Add] and [Mul] behave like ==, <,
// hash, repr, str, type, bool, + and *.
//
// # Decoding
//
// [Unmarshal] and [Decoder] read every opcode of protocols 0 to 5. Pickles
// are data, never code: a global reference becomes a [Global], and a call
// (REDUCE, NEWOBJ, INST, OBJ, BUILD) becomes an opaque *[Object] recording
// the callable, its arguments and the state, unless it is one of the calls
// that CPython's pickler uses to write model values, which are interpreted
// when their arguments have the expected shape: builtins.set, frozenset,
// bytearray, bytes, complex, slice, range, list and tuple, and
// _codecs.encode(str, 'latin1') (protocol 0–2 bytes). Python 2 module names
// are mapped to Python 3 ones for protocols 0–2, as CPython's fix_imports
// does. Persistent ids, the copyreg extension registry and out-of-band
// buffers are not available and fail with [ErrUnsupported].
//
// Decoding is bounded by a [DecoderConfig]: input size (checked against
// every length prefix before allocating), nesting depth, memo size, number
// of items and digits of text ints. A pickle exceeding a limit fails with a
// *[DecodeError] wrapping [ErrTooLarge]; malformed input never panics. The
// functions that walk values (Equal, Repr, the encoder) stay linear in the
// pickle's size even for shared-reference DAGs and recursive containers.
//
// # Encoding
//
// [Marshal] writes protocol 4, what CPython 3.8+ writes by default, with
// the same bytes as CPython for plain values (frames, MEMOIZE,
// STACK_GLOBAL). [MarshalProtocol] and [Encoder] write protocols 2 to 5,
// in the forms CPython uses for them (protocol 2: bytes as
// _codecs.encode(str, 'latin1'), Python 2 module names; protocols 2 and 3:
// sets as builtins.set(list), nested classes as getattr(Outer, 'Inner'));
// the interop tests check byte identity with CPython for each of them.
// [AppendMarshal] appends to a caller's buffer and does not allocate for
// small values: use it on hot paths.
// Containers and objects referenced more than once are written once and
// referenced through the memo, so shared and recursive structures survive a
// round trip; an *Object is written back with the operations that built
// it, so a Python object the codec does not understand (a dataclass, a
// datetime, a Decimal, a numpy array) comes back to Python unchanged.
//
// # Go mapping
//
// [ToValue] and [FromValue] convert between Go values and the model, in the
// manner of encoding/json:
//
//	Go                                   Python
//	nil, nil pointer/slice/map/interface None
//	bool                                 bool
//	int*, uint* (range-checked back)     int
//	float32, float64                     float
//	complex64, complex128                complex
//	string                               str
//	[]byte                               bytes (bytes or bytearray back)
//	[]T, [N]T                            list (list, tuple, set, frozenset back)
//	map[K]V                              dict (keys sorted when converting to Python)
//	struct                               dict with str keys, one per exported field
//	*T                                   the value of *T
//	big.Int, *big.Int                    int
//	any (as a FromValue target)          the model value itself
//	model types (Tuple, *Dict, …)        passed through unchanged
//
// Struct fields are named by a `pickle:"name,omitempty"` tag or by their Go
// name; "-" skips a field, omitempty leaves out zero values, untagged
// embedded structs are flattened, and FromValue matches keys exactly, then
// case-insensitively. FromValue also reads a struct or map from an opaque
// dict subclass (OrderedDict, defaultdict) or from an object whose state is
// its __dict__ (a dataclass). Types can take over with [Marshaler] and
// [Unmarshaler].
//
// # Concurrency
//
// The functions of the package are safe for concurrent use. A [Decoder] or
// [Encoder] serves one goroutine at a time. [Dict], [Set] and [List] values
// are plain data: synchronize concurrent mutation yourself. Nothing here is
// shared between processes: values cross processes only as pickles.
//
// # Why a codec of our own
//
// The Go pickle libraries fall short of what a multiprocessing manager
// needs: kisielk/og-rek encodes well but its decoder lacks NEWOBJ, BUILD
// and sets, and nlpodyssey/gopickle decodes everything but cannot encode.
// A manager must send back the objects it was given (opaque round trips),
// compare dict keys as Python does, and survive hostile input (bounded
// decoding); this package does the three, in a few files.
package pickle
