package manager

import (
	"errors"
	"reflect"
	"strings"

	"github.com/procshare/procshare/internal/wire"
	"github.com/procshare/procshare/pickle"
)

// Client errors.
var (
	// ErrClosed is returned by every call on a Client (or on a proxy of it)
	// after Client.Close, and by a proxy method after the proxy's Close.
	ErrClosed = errors.New("manager: client closed")

	// ErrUnsupported is wrapped by the error a call returns when the manager
	// does not offer what the call needs: one of procshare's protocol
	// extensions (Value.Add, Dict.Incr, Queue.PutMany …) against a CPython
	// manager, or a method the object does not expose.
	ErrUnsupported = errors.New("manager: not supported by this manager")

	// ErrConnLost is wrapped by the error of a call whose connection to the
	// manager broke (the server died or closed it) before the reply arrived.
	// Whether the call took effect on the server is unknown.
	ErrConnLost = errors.New("manager: connection to the manager lost")

	// ErrRefused is wrapped by the error of a dial that procshare's server
	// refused at one of its connection limits (ServerConfig.MaxConnections,
	// MaxPeerConnections): the server sent its reason in place of the
	// handshake's challenge, and the error's message carries it. Trying
	// again later may succeed.
	ErrRefused = wire.ErrRefused

	// ErrAuthFailed is wrapped by the *DialError of a connection whose
	// authentication failed: the client's authkey is not the manager's
	// (the server rejected our answer, in PhaseWelcome), or the server
	// could not answer our challenge (PhaseVerify).
	ErrAuthFailed = wire.ErrAuthFailed

	// ErrProtocol is wrapped by the error returned when the manager sent
	// something the protocol does not allow (a reply that is not a
	// (kind, payload) pair, a non-str traceback, an unknown reply kind).
	ErrProtocol = errors.New("manager: protocol error")

	// ErrFreed is matched by the *FreedError of a call on an object the
	// manager has freed.
	ErrFreed = errors.New("manager: object freed")
)

// Remote errors: errors.Is(err, ErrX) is true when err is (or wraps) a
// *RemoteError whose Python exception class is the one named.
var (
	// ErrEmpty matches queue.Empty: a non-blocking get on an empty queue.
	ErrEmpty = errors.New("manager: queue empty")
	// ErrFull matches queue.Full: a non-blocking put on a full queue.
	ErrFull = errors.New("manager: queue full")
	// ErrShutDown matches queue.ShutDown (Python 3.13 Queue.shutdown).
	ErrShutDown = errors.New("manager: queue shut down")
	// ErrBrokenBarrier matches threading.BrokenBarrierError.
	ErrBrokenBarrier = errors.New("manager: broken barrier")
	// ErrKeyNotFound matches KeyError (a missing dict key).
	ErrKeyNotFound = errors.New("manager: key not found")
	// ErrIndexOutOfRange matches IndexError (list or array index).
	ErrIndexOutOfRange = errors.New("manager: index out of range")
	// ErrNoAttribute matches AttributeError (a missing Namespace attribute).
	ErrNoAttribute = errors.New("manager: no such attribute")
	// ErrInterrupted matches InterruptedError, what procshare's server
	// replies to a blocking call the client interrupted (ps_interrupt).
	ErrInterrupted = errors.New("manager: call interrupted")
	// ErrStopIteration matches StopIteration, the end of an Iterator.
	ErrStopIteration = errors.New("manager: stop iteration")
)

// remoteSentinels maps Python exception types (as RemoteError.Type spells
// them) to the sentinel errors.Is matches.
var remoteSentinels = map[string]error{
	"queue.Empty":                  ErrEmpty,
	"queue.Full":                   ErrFull,
	"queue.ShutDown":               ErrShutDown,
	"threading.BrokenBarrierError": ErrBrokenBarrier,
	"KeyError":                     ErrKeyNotFound,
	"IndexError":                   ErrIndexOutOfRange,
	"AttributeError":               ErrNoAttribute,
	"InterruptedError":             ErrInterrupted,
	"StopIteration":                ErrStopIteration,
}

// RemoteError is an exception raised on the manager's side.
//
// For a ('#ERROR', exception) reply — an exception the shared object's method
// raised — Type is the Python class ("KeyError", "queue.Empty",
// "threading.BrokenBarrierError"; builtins are unqualified, _queue is spelt
// queue), Message is str(exception) and Args the exception's args.
//
// For ('#TRACEBACK', text) and ('#UNSERIALIZABLE', text) replies — errors of
// the server itself, such as a method that is not exposed — Type is
// "RemoteError", Traceback is the text and Message the line of it that names
// the exception ("AttributeError: method 'x' of …"). A call on an object the
// manager has freed is not a RemoteError but a *FreedError.
//
// The message names the object's typeid and the Python method the proxy
// called, then the exception: "manager: dict.__getitem__: KeyError: 'plums'".
// errors.Is(err, ErrEmpty) and the other remote sentinels match by Type.
type RemoteError struct {
	Type      string
	Message   string
	Args      pickle.Tuple
	Traceback string

	// TypeID and Method are the typeid of the shared object and the
	// Python method called ("dict", "__getitem__") when the error answers
	// a proxy's call; both are empty for server-level requests (create,
	// incref), whose errors name the request instead.
	TypeID string
	Method string
}

func (e *RemoteError) Error() string {
	var b strings.Builder
	b.WriteString("manager: ")
	if e.Method != "" {
		b.WriteString(e.TypeID)
		b.WriteByte('.')
		b.WriteString(e.Method)
		b.WriteString(": ")
	}
	switch {
	case e.Type == "RemoteError" && e.Message != "":
		// The traceback's line names the exception itself.
		b.WriteString(e.Message)
	case e.Type == "RemoteError":
		b.WriteString("server error")
	case e.Message == "":
		b.WriteString(e.Type)
	default:
		b.WriteString(e.Type)
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Is reports whether target is the sentinel of e's Python exception type.
func (e *RemoteError) Is(target error) bool {
	s, ok := remoteSentinels[e.Type]
	return ok && s == target
}

// remoteErrorFrom converts the payload of an #ERROR reply.
func remoteErrorFrom(v pickle.Value) *RemoteError {
	e := &RemoteError{Type: pickle.TypeName(v)}
	if o, ok := v.(*pickle.Object); ok {
		if g, ok := o.Callable.(pickle.Global); ok {
			e.Type = remoteTypeName(g)
		}
		e.Args = o.Args
		if len(e.Args) == 0 {
			// 3.12+ may put the args in the BUILD state.
			if st, ok := o.State.(*pickle.Dict); ok {
				if a, ok, _ := st.Get("args"); ok {
					if t, ok := a.(pickle.Tuple); ok {
						e.Args = t
					}
				}
			}
		}
	}
	switch len(e.Args) {
	case 0:
	case 1:
		if e.Type == "KeyError" {
			e.Message = pickle.Repr(e.Args[0])
		} else {
			e.Message = pickle.Str(e.Args[0])
		}
	default:
		e.Message = pickle.Str(e.Args)
	}
	return e
}

// remoteTypeName spells an exception class the way Python users know it.
func remoteTypeName(g pickle.Global) string {
	switch g.Module {
	case "builtins", "exceptions", "__builtin__":
		return g.Name
	case "_queue":
		return "queue." + g.Name
	}
	return g.Module + "." + g.Name
}

// remoteErrorFromTraceback converts the payload of a #TRACEBACK or #UNSERIALIZABLE
// reply.
func remoteErrorFromTraceback(text string) *RemoteError {
	last := strings.TrimSpace(text)
	if i := strings.LastIndexByte(last, '\n'); i >= 0 {
		last = strings.TrimSpace(last[i+1:])
	}
	return &RemoteError{Type: "RemoteError", Message: last, Traceback: text}
}

// freedBy reports whether e is the server's answer to a request on object
// id when the manager holds no such object: CPython's serve_client, and
// procshare's server, raise KeyError(id) looking it up.
func (e *RemoteError) freedBy(id string) bool {
	return e.Type == "RemoteError" && e.Message == "KeyError: "+pickle.Repr(id)
}

// notExposedLine returns, for CPython's answer to a method that is not
// exposed, the traceback's AttributeError line that says so. CPython looks
// the method up among its fallbacks after the AttributeError, so the last
// line of its traceback is a bare "KeyError: 'method'".
func (e *RemoteError) notExposedLine(method string) (string, bool) {
	if e.Type != "RemoteError" || e.Message != "KeyError: "+pickle.Repr(method) {
		return "", false
	}
	for _, line := range strings.Split(e.Traceback, "\n") {
		if strings.HasPrefix(line, "AttributeError: method "+pickle.Repr(method)) {
			return strings.TrimSpace(line), true
		}
	}
	return "", false
}

// FreedError is the error of a call on a shared object that the manager has
// freed: its last reference was given back (decref) while this proxy still
// used it. A proxy that a child process received (AttachFiles) borrows the
// parent's reference, so this is what the child sees when the parent
// closes its proxy before the child is done. errors.Is(err, ErrFreed)
// matches it.
type FreedError struct {
	TypeID string // the object's typeid
	ID     string // the object's id
	Method string // the Python method called, or the server request (incref)
}

func (e *FreedError) Error() string {
	return "manager: " + e.TypeID + "." + e.Method + ": object " + e.ID + " was freed: its last reference was dropped"
}

// Is reports whether target is ErrFreed.
func (e *FreedError) Is(target error) bool { return target == ErrFreed }

// ConvertError reports a value that does not convert between Python and Go:
// a result that is not of the Go type asked for (As, Value.Get, the typed
// views DictOf, ListOf and QueueOf), or a Go argument that has no Python
// counterpart. The message says where the value is and names both types:
//
//	manager: dict.__getitem__: value of key 'b': cannot convert Python str to Go int
//
// errors.As finds pickle's *pickle.ConvertError (with the path inside the
// value) through Unwrap. A result that does not convert is not lost: the
// call has had its effect on the shared object (an item a QueueOf.Get
// took is out of the queue) and Value holds what it returned.
type ConvertError struct {
	// TypeID and Method are the object's typeid and the Python method
	// whose result or argument it is; empty where they are not known (As).
	TypeID string
	Method string
	// Where locates the value in the result or the arguments: "key 'b'",
	// "value of key 'b'", "index 3", "item", "value"; empty for the whole.
	Where string
	// Python is the Python type of the value ("str"), empty when a Go
	// value did not convert to Python.
	Python string
	// Go is the Go type the value should have converted to (or from).
	Go reflect.Type
	// Value is the Python value that did not convert to Go (nil when a Go
	// value did not convert to Python).
	Value pickle.Value
	Err   error
}

func (e *ConvertError) Error() string {
	var b strings.Builder
	b.WriteString("manager: ")
	if e.Method != "" {
		if e.TypeID != "" {
			b.WriteString(e.TypeID)
			b.WriteByte('.')
		}
		b.WriteString(e.Method)
		b.WriteString(": ")
	}
	if e.Where != "" {
		b.WriteString(e.Where)
		b.WriteString(": ")
	}
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "pickle: "))
	return b.String()
}

func (e *ConvertError) Unwrap() error { return e.Err }

// opError is the error of one operation of the client ("create dict",
// "dict.__getitem__"): its message is "manager: op: " followed by err's
// message without its own "manager: " prefix, so that wrapping never stacks
// prefixes. errors.Is and errors.As see err.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string {
	return "manager: " + e.op + ": " + strings.TrimPrefix(e.err.Error(), "manager: ")
}

func (e *opError) Unwrap() error { return e.err }

// closedProxyError is ErrClosed for a call on a proxy after its Close.
type closedProxyError struct{ typeID string }

func (e *closedProxyError) Error() string { return "manager: " + e.typeID + " proxy closed" }

// Is reports whether target is ErrClosed.
func (e *closedProxyError) Is(target error) bool { return target == ErrClosed }
