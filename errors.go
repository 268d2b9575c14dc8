package procshare

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// Errors of a Process's life cycle.
var (
	// ErrNotStarted is returned by Join, Terminate and Kill on a Process
	// whose Start has not succeeded.
	ErrNotStarted = errors.New("procshare: process not started")
	// ErrStarted is returned by Start on a Process that was already started
	// (a Process runs once, like Python's).
	ErrStarted = errors.New("procshare: process already started")
	// ErrNoMain is returned by Start when the program did not call Main.
	// Without Main, the child would run the program's main function again
	// instead of the registered function.
	ErrNoMain = errors.New("procshare: Main was not called (call procshare.Main() first in main and TestMain)")
)

// ArgError reports arguments that do not fit the registered function's
// parameters, or that cannot travel to the child (see "What travels to a
// child" in the package doc). NewProcess (and so Start) returns it before
// anything is started.
type ArgError struct {
	Func  string // the registered name
	Index int    // 1-based argument number; 0 when the count is wrong
	// Path is where inside the argument the problem is, as in
	// `field Workers: index 2: field Lock` (struct fields by Go name, slice
	// and array indices, map keys as JSON); "" for the argument itself.
	Path string
	Err  error // what is wrong
}

func (e *ArgError) Error() string {
	switch {
	case e.Index == 0:
		return fmt.Sprintf("procshare: %s: %v", e.Func, e.Err)
	case e.Path != "":
		return fmt.Sprintf("procshare: %s: argument %d: %s: %v", e.Func, e.Index, e.Path, e.Err)
	}
	return fmt.Sprintf("procshare: %s: argument %d: %v", e.Func, e.Index, e.Err)
}

func (e *ArgError) Unwrap() error { return e.Err }

// ExitError reports a child that did not succeed: its function returned an
// error (Code 1), panicked (Code 2), it was killed by a signal (Code is the
// negated signal number, as Python's exitcode: -15 for SIGTERM, -9 for
// SIGKILL), or it exited by itself with another non-zero code (os.Exit).
//
// Err, Panic and Stack come from the child, as text: the child's error value
// does not travel, so compare messages, not identities.
type ExitError struct {
	Name   string         // the Process's name
	Pid    int            // the child's process id
	Code   int            // exit code; negative: killed by signal -Code
	Signal syscall.Signal // the signal that ended the child, or 0
	Err    string         // the message of the error the function returned, if any
	Panic  string         // the panic value, formatted with %v, if the function panicked
	Stack  string         // the panicking goroutine's stack, if it panicked
}

func (e *ExitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "procshare: process %s (pid %d) ", e.Name, e.Pid)
	switch {
	case e.Panic != "":
		fmt.Fprintf(&b, "panicked: %s", e.Panic)
	case e.Signal != 0:
		fmt.Fprintf(&b, "killed by signal %d (%v)", int(e.Signal), e.Signal)
		if e.Err != "" {
			fmt.Fprintf(&b, ": %s", e.Err)
		}
	case e.Err != "":
		fmt.Fprintf(&b, "failed: %s", e.Err)
	default:
		fmt.Fprintf(&b, "exited with code %d", e.Code)
	}
	return b.String()
}
