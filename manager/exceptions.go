package manager

import (
	"fmt"
	"strings"

	"github.com/procshare/procshare/pickle"
)

// pyExc is a Python exception raised by a shared object's method on the
// server. It travels to the client as ('#ERROR', exc): pickled as the global
// of its class, the args tuple and REDUCE, which is how CPython pickles an
// exception without a __dict__. Server-level methods turn it into the last
// line of a '#TRACEBACK' string instead.
type pyExc struct {
	class pickle.Global
	args  pickle.Tuple
}

// Exception classes the server raises, by the module and name CPython
// pickles them with.
var (
	excEmpty          = pickle.Global{Module: "_queue", Name: "Empty"}
	excFull           = pickle.Global{Module: "queue", Name: "Full"}
	excShutDown       = pickle.Global{Module: "queue", Name: "ShutDown"}
	excBrokenBarrier  = pickle.Global{Module: "threading", Name: "BrokenBarrierError"}
	excKeyError       = pickle.Global{Module: "builtins", Name: "KeyError"}
	excIndexError     = pickle.Global{Module: "builtins", Name: "IndexError"}
	excValueError     = pickle.Global{Module: "builtins", Name: "ValueError"}
	excTypeError      = pickle.Global{Module: "builtins", Name: "TypeError"}
	excRuntimeError   = pickle.Global{Module: "builtins", Name: "RuntimeError"}
	excAttributeError = pickle.Global{Module: "builtins", Name: "AttributeError"}
	excStopIteration  = pickle.Global{Module: "builtins", Name: "StopIteration"}
	excOverflowError  = pickle.Global{Module: "builtins", Name: "OverflowError"}
	excInterrupted    = pickle.Global{Module: "builtins", Name: "InterruptedError"}
	excAssertionError = pickle.Global{Module: "builtins", Name: "AssertionError"}
)

// interruptedMessage is the message of the InterruptedError that a call
// stopped by ps_interrupt replies with.
const interruptedMessage = "procshare: call interrupted"

func newExc(class pickle.Global, args ...pickle.Value) *pyExc {
	return &pyExc{class: class, args: pickle.Tuple(args)}
}

// excf returns an exception of class with one str argument.
func excf(class pickle.Global, format string, a ...any) *pyExc {
	return &pyExc{class: class, args: pickle.Tuple{fmt.Sprintf(format, a...)}}
}

func typeErrorf(format string, a ...any) *pyExc  { return excf(excTypeError, format, a...) }
func valueErrorf(format string, a ...any) *pyExc { return excf(excValueError, format, a...) }

// keyError is KeyError(key), whose str() is repr(key).
func keyError(key pickle.Value) *pyExc { return newExc(excKeyError, key) }

// attrError is the AttributeError Python raises for a missing attribute.
func attrError(typeName, attr string) *pyExc {
	return excf(excAttributeError, "'%s' object has no attribute '%s'", typeName, attr)
}

func (e *pyExc) Error() string { return "manager: " + e.line() }

// value is the exception as a pickle value: class(*args) via REDUCE.
func (e *pyExc) value() pickle.Value {
	args := e.args
	if args == nil {
		args = pickle.Tuple{}
	}
	return &pickle.Object{Callable: e.class, Args: args}
}

// line formats the exception as the last line of a Python traceback:
// "KeyError: 'x'", "queue.Full", "ValueError: bad".
func (e *pyExc) line() string {
	name := e.class.Name
	if e.class.Module != "builtins" {
		name = e.class.Module + "." + e.class.Name
	}
	msg := e.str()
	if msg == "" {
		return name
	}
	return name + ": " + msg
}

// str is Python's str(exc): empty for no args, str(arg) for one (repr for
// KeyError), the repr of the args tuple otherwise.
func (e *pyExc) str() string {
	switch len(e.args) {
	case 0:
		return ""
	case 1:
		if e.class == excKeyError {
			return pickle.Repr(e.args[0])
		}
		return pickle.Str(e.args[0])
	}
	return pickle.Repr(e.args)
}

// formatTraceback returns a '#TRACEBACK' payload in the shape of Python's
// traceback.format_exc(): a header, one frame naming where in the server the
// error happened, and the exception line, ending with a newline. Clients
// print it in their RemoteError; a Go client can take the exception type and
// message from the last line ("Type: message").
func formatTraceback(where string, exc *pyExc) string {
	var b strings.Builder
	b.WriteString("Traceback (most recent call last):\n  File \"procshare/manager\", in ")
	b.WriteString(where)
	b.WriteByte('\n')
	b.WriteString(exc.line())
	b.WriteByte('\n')
	return b.String()
}

// asExc converts any error from a handler into a Python exception: a *pyExc
// stays as it is, a pickle type error becomes TypeError, anything else a
// RuntimeError with the error's text.
func asExc(err error) *pyExc {
	switch e := err.(type) {
	case *pyExc:
		return e
	case *pickle.UnhashableError:
		return typeErrorf("%s", strings.TrimPrefix(e.Error(), "pickle: "))
	case *pickle.TypeError:
		return typeErrorf("%s", e.Msg)
	}
	return excf(excRuntimeError, "%s", err.Error())
}
