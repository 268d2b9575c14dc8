package manager

import (
	"errors"
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

	// ErrProtocol is wrapped by the error returned when the manager sent
	// something the protocol does not allow (a reply that is not a
	// (kind, payload) pair, a non-str traceback, an unknown reply kind).
	ErrProtocol = errors.New("manager: protocol error")
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
// the server itself, such as an unknown object id or a method that is not
// exposed — Type is "RemoteError", Traceback is the text and Message its last
// line.
//
// errors.Is(err, ErrEmpty) and the other remote sentinels match by Type.
type RemoteError struct {
	Type      string
	Message   string
	Args      pickle.Tuple
	Traceback string
}

func (e *RemoteError) Error() string {
	if e.Message == "" {
		return "manager: remote " + e.Type
	}
	return "manager: remote " + e.Type + ": " + e.Message
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
