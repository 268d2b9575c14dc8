package procshare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"reflect"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"
)

// envChild marks a child process; Main removes it from the child's
// environment so that the function's own subprocesses do not see it.
const envChild = "PROCSHARE_CHILD"

// mainCalled records that Main ran, so that Start can refuse to re-execute a
// program that would not dispatch to the registered function.
var mainCalled atomic.Bool

// useParentWatch can be turned off by tests to exercise Linux's
// parent-death signal alone.
var useParentWatch = true

// maxStack bounds the stack trace a child reports.
const maxStack = 64 << 10

// Main dispatches a child process to its registered function. Call it first
// in main, and in TestMain for tests that start processes:
//
//	func main() {
//		procshare.Main()
//		// the parent's program
//	}
//
// In the parent (any process that was not started by [Process.Start]) Main
// returns at once. In a child, Main runs the function the parent asked for
// and exits the process with its result: Main never returns in a child, so
// the rest of main, and package state that main would set up, is not run
// there. Package-level variables and init functions do run in the child, as
// in any execution of the binary; that is how the child knows the registered
// functions.
func Main() {
	mainCalled.Store(true)
	if _, ok := os.LookupEnv(envChild); !ok {
		return
	}
	os.Unsetenv(envChild)
	os.Exit(runChild())
}

// runChild runs the child's function and returns its exit code.
func runChild() int {
	// A parent passes pipes as descriptors 3 and 4. Without them (the marker
	// was set by hand), those numbers may be anything, the Go runtime's own
	// files included: touch nothing.
	if !isPipe(fdControl) || !isPipe(fdResult) {
		fmt.Fprintf(os.Stderr, "procshare: %s is set, but this process was not started by procshare.Process\n", envChild)
		return 1
	}
	// Inherited descriptors must not leak into the function's own
	// subprocesses: the parent waits for EOF on the result pipe.
	closeOnExec(fdControl)
	closeOnExec(fdResult)
	ctl := os.NewFile(fdControl, "procshare-control")
	res := os.NewFile(fdResult, "procshare-result")

	var sp spec
	if err := readMsg(ctl, maxSpec, &sp); err != nil {
		if errors.Is(err, io.EOF) {
			return 1 // the parent died before telling us what to run
		}
		return finish(res, result{Err: fmt.Sprintf("procshare: child: reading the spec: %v", err)}, 1)
	}
	if sp.Daemon {
		// Pdeathsig (Linux) covers a parent that dies from now on; a parent
		// that died before the child was set up shows as a new parent.
		if os.Getppid() != sp.PPid {
			return 1
		}
		if useParentWatch {
			go watchParent(ctl)
		}
	}

	f, ok := lookup(sp.Func)
	if !ok {
		return finish(res, result{Err: fmt.Sprintf("procshare: child: function %q is not registered in the child (register at package level, identically in every run of the binary)", sp.Func)}, 1)
	}
	in, err := childArgs(f, &sp)
	if err != nil {
		return finish(res, result{Err: fmt.Sprintf("procshare: child: %s: %v", sp.Func, err)}, 1)
	}

	var terminated atomic.Bool
	if f.ctx {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		go func() {
			<-sigs
			terminated.Store(true)
			// A second SIGTERM kills a function that ignores its context.
			signal.Reset(syscall.SIGTERM)
			cancel()
		}()
		in = append([]reflect.Value{reflect.ValueOf(ctx)}, in...)
	}

	r, code := call(f, in, &sp, res)
	finish(res, r, code)
	if terminated.Load() {
		// Die by the signal, so the parent sees -15 as for any terminated process.
		killSelf(syscall.SIGTERM)
		time.Sleep(time.Minute)
	}
	return code
}

// panicReport describes what recover returned in a function's deferred
// call: p's text ("runtime.Goexit called" when p is nil: the function
// called runtime.Goexit) and the stack, cut to maxStack bytes.
func panicReport(p any) (msg string, stack []byte) {
	msg = fmt.Sprint(p)
	if p == nil {
		msg = "runtime.Goexit called"
	}
	stack = debug.Stack()
	if len(stack) > maxStack {
		stack = stack[:maxStack]
	}
	return msg, stack
}

// call runs f and turns its outcome into a result and an exit code.
func call(f *Func, in []reflect.Value, sp *spec, res *os.File) (r result, code int) {
	returned := false
	defer func() {
		if returned {
			return
		}
		p := recover()
		msg, stack := panicReport(p) // p nil: Goexit; the deferred calls ran, nothing else will
		fmt.Fprintf(os.Stderr, "procshare: process %s (pid %d) panicked: %s\n\n%s", sp.Name, os.Getpid(), msg, stack)
		r, code = result{Panic: msg, Stack: string(stack)}, 2
		if p == nil {
			// Goexit does not stop at this frame: report and exit here.
			os.Exit(finish(res, r, code))
		}
	}()
	out := f.fn.Call(in)
	returned = true
	if f.retErr && !out[0].IsNil() {
		return result{Err: out[0].Interface().(error).Error()}, 1
	}
	return result{}, 0
}

// childArgs rebuilds the function's arguments from the spec and the
// inherited descriptors.
func childArgs(f *Func, sp *spec) ([]reflect.Value, error) {
	if len(sp.Args) != len(f.params) {
		return nil, fmt.Errorf("the parent sent %d arguments, the function takes %d (registrations differ?)", len(sp.Args), len(f.params))
	}
	in := make([]reflect.Value, len(f.params))
	fd := fdFirstShare
	// inherited returns the next n inherited descriptors, for argument i.
	inherited := func(i, n int) []*os.File {
		files := make([]*os.File, n)
		for j := range files {
			closeOnExec(fd)
			files[j] = os.NewFile(uintptr(fd), fmt.Sprintf("procshare-arg%d-%d", i+1, j))
			fd++
		}
		return files
	}
	for i, p := range f.params {
		a := sp.Args[i]
		if !shareable(p) {
			if a.Share {
				return nil, fmt.Errorf("argument %d: the parent sent a shared value for %v", i+1, p)
			}
			v := reflect.New(p)
			if err := json.Unmarshal(a.JSON, v.Interface()); err != nil {
				return nil, fmt.Errorf("argument %d: %w", i+1, err)
			}
			for _, ns := range a.Nested {
				files := inherited(i, ns.Files)
				attach := func(t reflect.Type) (reflect.Value, error) { return attachValue(t, files, ns.Meta) }
				if err := setPath(v.Elem(), ns.Path, attach, nil); err != nil {
					return nil, fmt.Errorf("argument %d: %w", i+1, err)
				}
			}
			in[i] = v.Elem()
			continue
		}
		if !a.Share {
			return nil, fmt.Errorf("argument %d: the parent sent no shared value for %v", i+1, p)
		}
		v, err := attachValue(p, inherited(i, a.Files), a.Meta)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		in[i] = v
	}
	return in, nil
}

// attachValue makes a value of type t (T or *T, shareable) from inherited
// files and metadata, with AttachFiles on a new zero T.
func attachValue(t reflect.Type, files []*os.File, meta []byte) (reflect.Value, error) {
	if !shareable(t) {
		for _, f := range files {
			f.Close()
		}
		return reflect.Value{}, fmt.Errorf("the parent sent a shared value for %v (registrations differ?)", t)
	}
	elem := t
	if t.Kind() == reflect.Pointer {
		elem = t.Elem()
	}
	v := reflect.New(elem)
	if err := v.Interface().(attacher).AttachFiles(files, meta); err != nil {
		return reflect.Value{}, fmt.Errorf("%v.AttachFiles: %w", v.Type(), err)
	}
	if t.Kind() != reflect.Pointer {
		v = v.Elem()
	}
	return v, nil
}

// finish reports r to the parent and returns code.
func finish(res *os.File, r result, code int) int {
	if limit := maxResult/2 - maxStack; len(r.Err) > limit || len(r.Panic) > limit {
		r.Err, r.Panic = truncate(r.Err, limit), truncate(r.Panic, limit)
	}
	_ = writeMsg(res, r) // a parent that is gone does not need it
	res.Close()
	return code
}

// watchParent kills the (daemon) child when the parent's end of the control
// pipe closes, which happens when the parent exits, however it exits. It is
// the portable second line behind Linux's parent-death signal.
func watchParent(ctl *os.File) {
	var b [64]byte
	for {
		if _, err := ctl.Read(b[:]); err != nil {
			break
		}
	}
	killSelf(syscall.SIGKILL)
}

// truncate shortens s to at most n bytes (and a note), so that a result
// always fits the parent's bound.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + " [truncated]"
}
