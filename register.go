package procshare

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"sync"
)

// Func is a function registered with [Register]: something a [Process] can
// run in a child. The zero value is not usable; Funcs come from Register.
// A Func is immutable and safe for concurrent use.
type Func struct {
	name   string
	fn     reflect.Value
	ctx    bool           // the first parameter is a context.Context
	params []reflect.Type // the parameters the parent supplies (after ctx)
	retErr bool           // fn returns an error
}

// Name returns the name fn was registered under.
func (f *Func) Name() string { return f.name }

// String returns the registered name.
func (f *Func) String() string { return f.name }

// NumArgs returns how many arguments a [Process] running f must be given
// (the context.Context parameter, if any, is not counted).
func (f *Func) NumArgs() int { return len(f.params) }

var (
	ctxType   = reflect.TypeFor[context.Context]()
	errorType = reflect.TypeFor[error]()
	// attacherType is the half of the structural contract a shareable
	// argument implements (see the package doc) that a parameter's type
	// shows: the child attaches through it.
	attacherType = reflect.TypeFor[attacher]()
)

// sharer is implemented, in the parent, by values whose state lives in
// descriptors that a child inherits (shm segments, manager proxies...).
type sharer interface {
	ShareFiles() (files []*os.File, meta []byte, err error)
}

// attacher is implemented, in the child, by a pointer to a zero value of the
// same type; it rebuilds the value from the inherited files and metadata.
type attacher interface {
	AttachFiles(files []*os.File, meta []byte) error
}

// registry holds every registered Func. It is written by package
// initialization (Register) and read by Main and NewProcess.
var registry struct {
	mu    sync.Mutex
	funcs map[string]*Func
}

// Register makes fn runnable in a child process under name, and returns the
// handle that [NewProcess] and [Start] take.
//
// fn must be a function. Its first parameter may be a [context.Context]: the
// child passes a context that is cancelled when the child receives SIGTERM
// (see [Process.Terminate]). Its other parameters are the arguments the
// parent passes, each either
//   - a shareable type: a type T or *T whose pointer has the method
//     AttachFiles([]*os.File, []byte) error (shm values, manager proxies; see
//     "What travels to a child" in the package doc), or
//   - a type that encoding/json can decode into (numbers, strings, bools,
//     slices, maps, structs with exported fields, pointers to these, any),
//     which may hold shareable values in its fields, elements and map
//     values.
//
// fn returns nothing or an error. A returned non-nil error makes the child
// exit with code 1 and [Process.Join] report it as an [*ExitError].
//
// Call Register only during package initialization (in a package-level var
// declaration or an init function), so that parent and child, which run the
// same binary, register the same functions under the same names. The name is
// what travels to the child; a convention is "pkg.funcName".
//
// Register panics on programmer misuse: an empty or duplicate name, fn not a
// function, a variadic fn, results other than none or error, or a parameter
// type that cannot travel to a child (channels, functions, interfaces other
// than the empty interface).
func Register(name string, fn any) *Func {
	if name == "" {
		panic("procshare: Register with an empty name")
	}
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		panic(fmt.Sprintf("procshare: Register(%q): %T is not a function", name, fn))
	}
	t := v.Type()
	if t.IsVariadic() {
		panic(fmt.Sprintf("procshare: Register(%q): variadic functions are not supported", name))
	}
	f := &Func{name: name, fn: v}
	switch {
	case t.NumOut() == 0:
	case t.NumOut() == 1 && t.Out(0) == errorType:
		f.retErr = true
	default:
		panic(fmt.Sprintf("procshare: Register(%q): %v must return nothing or an error", name, t))
	}
	for i := range t.NumIn() {
		p := t.In(i)
		if i == 0 && p == ctxType {
			f.ctx = true
			continue
		}
		if err := checkParam(p); err != nil {
			panic(fmt.Sprintf("procshare: Register(%q): parameter %d (%v): %v", name, i+1, p, err))
		}
		f.params = append(f.params, p)
	}

	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.funcs == nil {
		registry.funcs = make(map[string]*Func)
	}
	if _, dup := registry.funcs[name]; dup {
		panic(fmt.Sprintf("procshare: Register(%q): name already registered", name))
	}
	registry.funcs[name] = f
	return f
}

// lookup returns the Func registered under name.
func lookup(name string) (*Func, bool) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	f, ok := registry.funcs[name]
	return f, ok
}

// shareable reports whether values of parameter type p are rebuilt in the
// child with AttachFiles rather than decoded from JSON.
func shareable(p reflect.Type) bool {
	if p.Kind() == reflect.Pointer {
		return p.Implements(attacherType)
	}
	return p.Kind() != reflect.Interface && reflect.PointerTo(p).Implements(attacherType)
}

// checkParam reports why a parameter type cannot receive an argument from the
// parent, or nil.
func checkParam(p reflect.Type) error {
	if shareable(p) {
		return nil
	}
	return checkJSON(p, map[reflect.Type]bool{})
}

// checkJSON reports whether encoding/json can decode into type t. It rejects
// the kinds that can never travel; it does not try to be a full JSON checker
// (json.Marshal in NewProcess reports the rest, before the child starts).
func checkJSON(t reflect.Type, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return fmt.Errorf("a %v cannot travel to a child process", t.Kind())
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return fmt.Errorf("interface type %v cannot be rebuilt in a child (only the empty interface can)", t)
		}
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return checkJSON(t.Elem(), seen)
	case reflect.Map:
		if err := checkJSON(t.Key(), seen); err != nil {
			return err
		}
		return checkJSON(t.Elem(), seen)
	}
	return nil
}
