package pickle

import (
	"reflect"
	"strings"
	"sync"
)

// field is one Go struct field mapped to a dict key.
type field struct {
	name      string
	index     []int
	omitEmpty bool
}

// parseTag reads a `pickle:"name,omitempty"` tag. skip is true for "-".
func parseTag(tag string) (name string, omitEmpty, skip bool) {
	if tag == "-" {
		return "", false, true
	}
	name, opts, _ := strings.Cut(tag, ",")
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == "omitempty" {
			omitEmpty = true
		}
	}
	return name, omitEmpty, false
}

var fieldCache sync.Map // reflect.Type -> []field

// fieldsOf returns the mapped fields of struct type t: exported fields not
// tagged "-", named by their tag or Go name, with the fields of embedded
// untagged structs promoted (a shallower field wins a name conflict).
func fieldsOf(t reflect.Type) []field {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]field)
	}
	var out []field
	seen := map[string]int{} // name -> depth
	var walk func(t reflect.Type, index []int, depth int)
	walk = func(t reflect.Type, index []int, depth int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag, hasTag := sf.Tag.Lookup("pickle")
			name, omit, skip := parseTag(tag)
			if skip {
				continue
			}
			idx := append(append([]int{}, index...), i)
			if sf.Anonymous && !hasTag && sf.Type.Kind() == reflect.Struct && depth < 8 {
				walk(sf.Type, idx, depth+1)
				continue
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if d, dup := seen[name]; dup && d <= depth {
				continue
			}
			seen[name] = depth
			out = append(out, field{name: name, index: idx, omitEmpty: omit})
		}
	}
	walk(t, nil, 0)
	fieldCache.Store(t, out)
	return out
}
