package procshare

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
)

// The parent and the child exchange two messages, each a 4-byte big-endian
// length followed by that many bytes of JSON:
//   - the spec, parent → child, on the control pipe (fd 3 in the child), whose
//     write end the parent then keeps open until the child is reaped, so that
//     the child sees EOF only when the parent is gone;
//   - the result, child → parent, on the result pipe (fd 4), written just
//     before the child exits.
//
// Inherited shared descriptors follow from fd 5 on, in argument order.
const (
	fdControl    = 3
	fdResult     = 4
	fdFirstShare = 5

	maxSpec = 1 << 30 // bound on the spec the child accepts
	// smallSpec is the size up to which Start writes the spec before the
	// child starts: an empty pipe takes that much without blocking on every
	// system (Linux pipes hold 64 KiB, darwin's 16 KiB at first).
	smallSpec = 8 << 10
	maxResult = 1 << 20 // bound on the result the parent accepts
)

// spec tells the child what to run.
type spec struct {
	Func   string    `json:"func"`
	Name   string    `json:"name"`
	PPid   int       `json:"ppid"` // the parent's pid, to detect a parent that died before the child started
	Daemon bool      `json:"daemon"`
	Args   []argSpec `json:"args"`
}

// argSpec is one argument: a JSON value and the shared values nested in
// it, or a shareable value's metadata and the number of descriptors it
// inherits. The descriptors follow each other in argument order, and within
// an argument in the order of Nested.
type argSpec struct {
	JSON   json.RawMessage `json:"json,omitempty"`
	Nested []nestedSpec    `json:"nested,omitempty"`
	Share  bool            `json:"share,omitempty"`
	Files  int             `json:"files,omitempty"`
	Meta   []byte          `json:"meta,omitempty"`
}

// result is what the child reports before it exits.
type result struct {
	Err   string `json:"err,omitempty"`
	Panic string `json:"panic,omitempty"`
	Stack string `json:"stack,omitempty"`
}

// encodeMsg returns v as a message: length and JSON.
func encodeMsg(v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return appendFrame(make([]byte, 0, 4+len(body)), body), nil
}

// appendFrame appends body to buf as a message: length and body.
func appendFrame(buf, body []byte) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(body)))
	return append(buf, body...)
}

func writeMsg(w io.Writer, v any) error {
	msg, err := encodeMsg(v)
	if err != nil {
		return err
	}
	_, err = w.Write(msg)
	return err
}

// readMsg reads one message into v. It returns io.EOF if r ended before the
// message began.
func readMsg(r io.Reader, limit int, v any) error {
	body, err := readFrame(r, limit)
	if err != nil {
		return err
	}
	return json.Unmarshal(body, v)
}

// readFrame reads one message's body, JSON or not. It returns io.EOF if r
// ended before the message began.
func readFrame(r io.Reader, limit int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(limit) {
		return nil, fmt.Errorf("message of %d bytes exceeds the limit of %d", n, limit)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return body, nil
}

// arg is one argument prepared in the parent: either encoded JSON (with the
// shareable values nested in it) or a shareable value; their files are
// collected when the process starts.
type arg struct {
	json   json.RawMessage
	nested []nestedShare
	share  sharer
}

// prepareArgs checks args against f's parameters and encodes the plain ones.
func prepareArgs(f *Func, args []any) ([]arg, error) {
	if len(args) != len(f.params) {
		return nil, &ArgError{Func: f.name, Err: fmt.Errorf("takes %d arguments, got %d", len(f.params), len(args))}
	}
	out := make([]arg, len(args))
	for i, a := range args {
		p := f.params[i]
		var err error
		out[i], err = prepareArg(p, a)
		if err != nil {
			ae := &ArgError{Func: f.name, Index: i + 1, Err: err}
			if pe, ok := err.(*pathError); ok {
				ae.Path, ae.Err = pe.path, pe.err
			}
			return nil, ae
		}
	}
	return out, nil
}

func prepareArg(p reflect.Type, a any) (arg, error) {
	at := reflect.TypeOf(a)
	if shareable(p) {
		// The child rebuilds a p (or *p); the parent must pass exactly that.
		if at == nil || !(at == p || (p.Kind() != reflect.Pointer && at == reflect.PointerTo(p))) {
			return arg{}, fmt.Errorf("cannot use %s as %v", describe(a), p)
		}
		if at.Kind() == reflect.Pointer && reflect.ValueOf(a).IsNil() {
			return arg{}, fmt.Errorf("cannot share a nil %v", at)
		}
		// A T whose *T has the methods shares a copy through a pointer.
		s, err := sharerOf(reflect.ValueOf(a))
		if err != nil {
			return arg{}, err
		}
		return arg{share: s}, nil
	}
	if _, ok := a.(sharer); ok {
		return arg{}, fmt.Errorf("cannot pass shareable %v to a parameter of type %v", at, p)
	}
	v, err := convertArg(p, a)
	if err != nil {
		return arg{}, err
	}
	nested, err := walkArg(p, v)
	if err != nil {
		return arg{}, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return arg{}, err
	}
	return arg{json: b, nested: nested}, nil
}

// convertArg returns a as a value of type p: as is when assignable, or
// converted between basic kinds when the conversion is exact (so that an
// untyped constant 1 fits an int64, float64 or uint8 parameter, but 1.5 does
// not fit an int and 300 does not fit a uint8).
func convertArg(p reflect.Type, a any) (any, error) {
	if a == nil {
		switch p.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			return nil, nil
		}
		return nil, fmt.Errorf("cannot use nil as %v", p)
	}
	v := reflect.ValueOf(a)
	if v.Type().AssignableTo(p) {
		return a, nil
	}
	vk, pk := kindClass(v.Kind()), kindClass(p.Kind())
	if vk != 0 && vk == pk || vk >= classInt && pk >= classInt {
		c := v.Convert(p)
		signFlip := vk == classInt && pk == classUint && v.Int() < 0 ||
			vk == classUint && pk == classInt && c.Int() < 0
		if vk >= classInt && (signFlip || !c.Convert(v.Type()).Equal(v)) {
			return nil, fmt.Errorf("%v does not fit in %v", a, p)
		}
		return c.Interface(), nil
	}
	return nil, fmt.Errorf("cannot use %s as %v", describe(a), p)
}

const (
	classBool = iota + 1
	classString
	classInt // classInt and above are numeric
	classUint
	classFloat
)

func kindClass(k reflect.Kind) int {
	switch k {
	case reflect.Bool:
		return classBool
	case reflect.String:
		return classString
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return classInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return classUint
	case reflect.Float32, reflect.Float64:
		return classFloat
	}
	return 0
}

func describe(a any) string {
	if a == nil {
		return "nil"
	}
	return fmt.Sprintf("value of type %T", a)
}
