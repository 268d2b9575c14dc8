package procshare

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Shared values nested in plain arguments.
//
// A plain argument (a struct, slice, map, pointer …) travels as JSON, but the
// shared values inside it — a struct field holding a *shm.Value, a slice of
// proxies, a map of locks — cannot: their state is in descriptors. NewProcess
// walks the argument, records where each one sits (its path) and shares it
// like a top-level shareable argument; the child decodes the JSON (where a
// shared value came out as whatever encoding/json made of it, typically {})
// and then puts a value attached from the inherited descriptors at each
// path. The walk also refuses what would arrive broken: values of types
// with no exported fields (a sync.Mutex, a *manager.Client), channels and
// functions, shared values that the child could not rebuild (inside an
// interface value, or in an unexported field).

// pathStep is one step from an argument to a shared value inside it. In
// the child, pointers on the way are followed implicitly.
type pathStep struct {
	Field int             `json:"field,omitempty"` // Kind 'f': struct field index
	Index int             `json:"index,omitempty"` // Kind 'i': slice or array index
	Key   json.RawMessage `json:"key,omitempty"`   // Kind 'k': map key, as JSON
	Kind  byte            `json:"kind"`

	name string // how errors name the step ("field Counter"), parent only
}

// nestedShare is a shared value found inside a plain argument.
type nestedShare struct {
	path  []pathStep
	share sharer
}

// nestedSpec is a nestedShare as the child receives it.
type nestedSpec struct {
	Path  []pathStep `json:"path"`
	Files int        `json:"files,omitempty"`
	Meta  []byte     `json:"meta,omitempty"`
}

// pathString names a path for errors: "field Stats: key \"a\"".
func pathString(path []pathStep) string {
	names := make([]string, len(path))
	for i, s := range path {
		names[i] = s.name
	}
	return strings.Join(names, ": ")
}

// pathError is an error found at a place inside an argument; prepareArgs
// moves the place into the ArgError.
type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string { return e.path + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

// argWalker collects the shared values inside one plain argument.
type argWalker struct {
	shares   []nestedShare
	visiting map[visit]bool // pointers, slices and maps on the current path
}

type visit struct {
	ptr uintptr
	typ reflect.Type
}

var (
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	sharerType        = reflect.TypeFor[sharer]()
)

// walkArg finds the shared values inside v, an argument for a parameter of
// type p that is not itself shareable, and reports what cannot travel.
func walkArg(p reflect.Type, v any) ([]nestedShare, error) {
	if v == nil {
		return nil, nil
	}
	rv := reflect.ValueOf(v)
	viaIface := p.Kind() == reflect.Interface
	if !viaIface && rv.Type() != p {
		rv = rv.Convert(p) // the child walks p: same layout, p's names
	}
	w := &argWalker{}
	if err := w.walk(rv, nil, viaIface); err != nil {
		return nil, err
	}
	return w.shares, nil
}

func (w *argWalker) fail(path []pathStep, err error) error {
	if len(path) == 0 {
		return err
	}
	return &pathError{path: pathString(path), err: err}
}

// walk visits v, found at path; viaIface is set below an interface value,
// where the child has no type to rebuild a shared value with.
func (w *argWalker) walk(v reflect.Value, path []pathStep, viaIface bool) error {
	t := v.Type()
	if shareable(t) {
		if viaIface {
			return w.fail(path, fmt.Errorf("a %v inside an interface value cannot be rebuilt in the child: give the field, element or parameter the type %v", t, t))
		}
		if t.Kind() == reflect.Pointer && v.IsNil() {
			return nil // travels as null, arrives as nil
		}
		s, err := sharerOf(v)
		if err != nil {
			return w.fail(path, err)
		}
		w.shares = append(w.shares, nestedShare{path: slices.Clone(path), share: s})
		return nil
	}
	if t.Implements(sharerType) || reflect.PointerTo(t).Implements(sharerType) && t.Kind() != reflect.Interface {
		return w.fail(path, fmt.Errorf("%v has ShareFiles but no AttachFiles method: the child could not rebuild it", t))
	}
	if marshals(t) {
		return nil // its own encoding
	}
	if !mayHold(t) {
		return nil
	}
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return w.fail(path, fmt.Errorf("a %v cannot travel to a child process", t))
	case reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return w.walk(v.Elem(), path, true)
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return w.enter(v, path, func() error { return w.walk(v.Elem(), path, viaIface) })
	case reflect.Struct:
		return w.walkStruct(v, path, viaIface)
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		return w.enter(v, path, func() error { return w.walkElems(v, path, viaIface) })
	case reflect.Array:
		return w.walkElems(v, path, viaIface)
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		return w.enter(v, path, func() error { return w.walkMap(v, path, viaIface) })
	}
	return nil
}

// enter runs f with v (a pointer, slice or map) marked as being visited,
// refusing a value that contains itself.
func (w *argWalker) enter(v reflect.Value, path []pathStep, f func() error) error {
	k := visit{v.Pointer(), v.Type()}
	if w.visiting[k] {
		return w.fail(path, fmt.Errorf("the value contains itself (a %v cycle), which encoding/json cannot encode", v.Type()))
	}
	if w.visiting == nil {
		w.visiting = map[visit]bool{}
	}
	w.visiting[k] = true
	defer delete(w.visiting, k)
	return f()
}

func (w *argWalker) walkStruct(v reflect.Value, path []pathStep, viaIface bool) error {
	t := v.Type()
	if t.NumField() > 0 && !hasJSONFields(t) {
		return w.fail(path, noFieldsError(t))
	}
	for i := range t.NumField() {
		sf := t.Field(i)
		fv := v.Field(i)
		step := append(path, pathStep{Kind: 'f', Field: i, name: "field " + sf.Name})
		if !jsonVisible(sf) {
			// Unexported (or json:"-") fields do not travel, as the
			// package doc says; refuse those whose loss would break the
			// child: a shared value, a channel, a function.
			if lost := lostInField(fv); lost != "" {
				why := "unexported"
				if sf.IsExported() {
					why = `tagged json:"-"`
				}
				return w.fail(step, fmt.Errorf("the field is %s, so the %s in it would not travel (export the field)", why, lost))
			}
			continue
		}
		if err := w.walk(fv, step, viaIface); err != nil {
			return err
		}
	}
	return nil
}

func (w *argWalker) walkElems(v reflect.Value, path []pathStep, viaIface bool) error {
	if !mayHold(v.Type().Elem()) {
		return nil
	}
	for i := range v.Len() {
		if err := w.walk(v.Index(i), append(path, pathStep{Kind: 'i', Index: i, name: "index " + strconv.Itoa(i)}), viaIface); err != nil {
			return err
		}
	}
	return nil
}

func (w *argWalker) walkMap(v reflect.Value, path []pathStep, viaIface bool) error {
	if !mayHold(v.Type().Elem()) {
		return nil
	}
	type entry struct {
		key  json.RawMessage
		elem reflect.Value
	}
	var entries []entry
	for it := v.MapRange(); it.Next(); {
		k, err := json.Marshal(it.Key().Interface())
		if err != nil {
			return w.fail(path, fmt.Errorf("map key %v: %w", it.Key(), err))
		}
		entries = append(entries, entry{k, it.Value()})
	}
	// A fixed order, so that the same argument always fails at the same key.
	slices.SortFunc(entries, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
	for _, e := range entries {
		if err := w.walk(e.elem, append(path, pathStep{Kind: 'k', Key: e.key, name: "key " + string(e.key)}), viaIface); err != nil {
			return err
		}
	}
	return nil
}

// sharerOf returns v's ShareFiles method: v's own, or that of a pointer to
// (a copy of) v.
func sharerOf(v reflect.Value) (sharer, error) {
	if s, ok := v.Interface().(sharer); ok {
		return s, nil
	}
	if v.Kind() != reflect.Pointer {
		pv := reflect.New(v.Type())
		pv.Elem().Set(v)
		if s, ok := pv.Interface().(sharer); ok {
			return s, nil
		}
	}
	return nil, fmt.Errorf("%v has AttachFiles but no ShareFiles method", v.Type())
}

// lostInField describes what would be lost with the value of an unexported
// field ("shared *shm.Value[int]", "chan int"), or returns "".
func lostInField(v reflect.Value) string {
	t := v.Type()
	switch {
	case shareable(t):
		if t.Kind() == reflect.Pointer && v.IsNil() {
			return ""
		}
		return "shared " + t.String()
	case t.Kind() == reflect.Chan || t.Kind() == reflect.Func:
		if v.IsNil() {
			return ""
		}
		return t.String()
	}
	return ""
}

// noFieldsError explains why a struct without exported fields cannot
// travel.
func noFieldsError(t reflect.Type) error {
	if t.PkgPath() == "sync" || t.PkgPath() == "sync/atomic" {
		return fmt.Errorf("%v works within one process only, and would arrive as a new zero value: use a process-shared lock (shm.NewLock, shm.NewSemaphore …) or a manager proxy", t)
	}
	return fmt.Errorf("%v has no exported fields, so it would arrive as a zero value: pass a shareable value (an shm object, a manager proxy) or plain data", t)
}

// marshals reports whether t encodes itself (json.Marshaler or
// encoding.TextMarshaler), so that its Go fields do not matter.
func marshals(t reflect.Type) bool {
	return t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType) ||
		t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface &&
			(reflect.PointerTo(t).Implements(jsonMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType))
}

// jsonVisible reports whether encoding/json encodes struct field sf (an
// exported field, or an embedded struct whose exported fields it promotes)
// and the tag does not hide it.
func jsonVisible(sf reflect.StructField) bool {
	if sf.Tag.Get("json") == "-" {
		return false
	}
	if sf.IsExported() {
		return true
	}
	if !sf.Anonymous {
		return false
	}
	t := sf.Type
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct
}

// hasJSONFields reports whether a struct type has a field that
// encoding/json encodes.
func hasJSONFields(t reflect.Type) bool {
	for i := range t.NumField() {
		if jsonVisible(t.Field(i)) {
			return true
		}
	}
	return false
}

// holdCache memoizes mayHold by type.
var holdCache sync.Map // reflect.Type -> bool

// mayHold reports whether values of type t may contain something the walk
// must see: a shared value, an interface, a channel or function, a struct
// without exported fields, or a pointer (a cycle). Values of other types
// (numbers, strings, and slices, arrays and maps of those) are not walked,
// so a large []float64 costs nothing.
func mayHold(t reflect.Type) bool {
	if v, ok := holdCache.Load(t); ok {
		return v.(bool)
	}
	h := mayHoldType(t, map[reflect.Type]bool{})
	holdCache.Store(t, h)
	return h
}

func mayHoldType(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return true // recursive types go through pointers, slices or maps
	}
	seen[t] = true
	if shareable(t) {
		return true
	}
	if marshals(t) {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return false
	case reflect.Slice, reflect.Array:
		return mayHoldType(t.Elem(), seen)
	case reflect.Map:
		return mayHoldType(t.Key(), seen) || mayHoldType(t.Elem(), seen)
	case reflect.Struct:
		if t.NumField() > 0 && !hasJSONFields(t) {
			return true
		}
		for i := range t.NumField() {
			sf := t.Field(i)
			if !jsonVisible(sf) {
				if k := sf.Type.Kind(); k == reflect.Chan || k == reflect.Func || shareable(sf.Type) {
					return true
				}
				continue
			}
			if mayHoldType(sf.Type, seen) {
				return true
			}
		}
		return false
	}
	return true // pointers, interfaces, channels, functions …
}

// setPath rebuilds, in the child, a shared value inside an argument: it
// walks v (addressable; the argument decoded from JSON) along path and sets
// the value found at its end to what attach makes for that place's type.
// done names the steps taken, for errors.
func setPath(v reflect.Value, path []pathStep, attach func(reflect.Type) (reflect.Value, error), done []string) error {
	if len(path) == 0 {
		x, err := attach(v.Type())
		if err != nil {
			if len(done) > 0 {
				err = fmt.Errorf("%s: %w", strings.Join(done, ": "), err)
			}
			return err
		}
		v.Set(x)
		return nil
	}
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return fmt.Errorf("%s: nil where the parent had a value", strings.Join(done, ": "))
		}
		v = v.Elem()
	}
	s := path[0]
	switch {
	case s.Kind == 'f' && v.Kind() == reflect.Struct && s.Field >= 0 && s.Field < v.NumField():
		return setPath(v.Field(s.Field), path[1:], attach, append(done, "field "+v.Type().Field(s.Field).Name))
	case s.Kind == 'i' && (v.Kind() == reflect.Slice || v.Kind() == reflect.Array) && s.Index >= 0 && s.Index < v.Len():
		return setPath(v.Index(s.Index), path[1:], attach, append(done, "index "+strconv.Itoa(s.Index)))
	case s.Kind == 'k' && v.Kind() == reflect.Map:
		k := reflect.New(v.Type().Key())
		if err := json.Unmarshal(s.Key, k.Interface()); err != nil {
			return fmt.Errorf("%s: map key %s: %w", strings.Join(done, ": "), s.Key, err)
		}
		e := v.MapIndex(k.Elem())
		if !e.IsValid() {
			return fmt.Errorf("%s: no map key %s", strings.Join(done, ": "), s.Key)
		}
		// Map elements are not addressable: update a copy and store it.
		c := reflect.New(e.Type()).Elem()
		c.Set(e)
		if err := setPath(c, path[1:], attach, append(done, "key "+string(s.Key))); err != nil {
			return err
		}
		v.SetMapIndex(k.Elem(), c)
		return nil
	}
	return errors.New(strings.Join(append(done, "a path that does not fit the parameter's type (registrations differ?)"), ": "))
}
