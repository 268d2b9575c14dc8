package manager

import (
	"sort"
	"strings"
	"sync"

	"github.com/procshare/procshare/pickle"
)

// objValue is multiprocessing.managers.Value: a typecode kept for its repr
// and a value stored exactly as given (CPython does not check it against
// the typecode).
type objValue struct {
	mu       sync.Mutex
	typecode pickle.Value
	value    pickle.Value
	mem      memStored // itemCost of typecode and value
	t        *srvTable
}

// objNamespace is multiprocessing.managers.Namespace.
type objNamespace struct {
	mu    sync.Mutex
	attrs *pickle.Dict // str -> value, insertion-ordered like __dict__
	mem   memStored    // entryCost of every attribute
	t     *srvTable
}

func init() {
	registerType(&srvType{name: "Value", pyClass: "multiprocessing.managers.Value",
		exposed: []string{"get", "set", "ps_add", "ps_cas"}, create: newObjValue})
	registerType(&srvType{name: "Namespace", pyClass: "multiprocessing.managers.Namespace",
		exposed: []string{"__getattribute__", "__setattr__", "__delattr__"}, create: newObjNamespace})
}

var (
	valueInit = srvParams{fn: "Value.__init__", names: []string{"typecode", "value", "lock"}, nreq: 2}
	valueSet  = srvParams{fn: "Value.set", names: []string{"value"}, nreq: 1}
	valueAdd  = srvParams{fn: "Value.ps_add", names: []string{"delta"}, nreq: 1}
	valueCas  = srvParams{fn: "Value.ps_cas", names: []string{"old", "new"}, nreq: 2}
)

func newObjValue(s *Server, m *memScope, args pickle.Tuple, kw *pickle.Dict) (srvObj, error) {
	a := []pickle.Value{nil, nil, true}
	if err := valueInit.bind(args, kw, a); err != nil {
		return nil, err
	}
	v := &objValue{typecode: a[0], value: a[1], t: &s.table, mem: memStored{b: &s.mem}}
	if err := v.mem.add(itemCost(a[0]) + itemCost(a[1])); err != nil {
		return nil, err
	}
	s.table.hold(a[1])
	return v, nil
}

func (v *objValue) call(c *srvCall, m string, args pickle.Tuple, kw *pickle.Dict) (pickle.Value, error) {
	switch m {
	case "get":
		if err := noArgs("Value.get", args, kw); err != nil {
			return nil, err
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.value, nil
	case "set":
		a := []pickle.Value{nil}
		if err := valueSet.bind(args, kw, a); err != nil {
			return nil, err
		}
		v.mu.Lock()
		old := v.value
		if err := v.mem.change(itemCost(old), itemCost(a[0])); err != nil {
			v.mu.Unlock()
			return nil, err
		}
		v.t.hold(a[0])
		v.value = a[0]
		v.mu.Unlock()
		v.t.release(old)
		return nil, nil
	case "ps_add":
		a := []pickle.Value{nil}
		if err := valueAdd.bind(args, kw, a); err != nil {
			return nil, err
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		// str, bytes, list … concatenate: the result is charged before
		// it is made, and the value's old size given back after.
		add := pickle.SizeOf(a[0])
		if err := v.mem.add(add); err != nil {
			return nil, err
		}
		nv, err := pickle.Add(v.value, a[0])
		if err == nil {
			err = v.mem.change(itemCost(v.value)+add, itemCost(nv))
		}
		if err != nil {
			v.mem.sub(add)
			return nil, err
		}
		v.value = nv
		return nv, nil
	case "ps_cas":
		a := []pickle.Value{nil, nil}
		if err := valueCas.bind(args, kw, a); err != nil {
			return nil, err
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		if !pickle.Equal(v.value, a[0]) {
			return false, nil
		}
		if err := v.mem.change(itemCost(v.value), itemCost(a[1])); err != nil {
			return nil, err
		}
		v.t.hold(a[1])
		v.t.release(v.value)
		v.value = a[1]
		return true, nil
	}
	return nil, errNoMethod
}

func (v *objValue) repr() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return "Value(" + pickle.Repr(v.typecode) + ", " + pickle.Repr(v.value) + ")"
}

func (v *objValue) reprLimit(limit int) (string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	tc, ok1 := pickle.ReprLimit(v.typecode, limit)
	val, ok2 := pickle.ReprLimit(v.value, limit-len(tc)-len("Value(, )"))
	return "Value(" + tc + ", " + val + ")", ok1 && ok2
}

func (v *objValue) releaseMemory() {
	v.mu.Lock()
	v.mem.release()
	v.mu.Unlock()
}

var globalManagersValue = pickle.Global{Module: "multiprocessing.managers", Name: "Value"}

// getvalue returns the managers.Value instance: NEWOBJ of the class, then
// BUILD with its __dict__.
func (v *objValue) getvalue() (pickle.Value, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	st := pickle.NewDict()
	st.Set("_typecode", v.typecode)
	st.Set("_value", v.value)
	return &pickle.Object{Callable: globalManagersValue, Args: pickle.Tuple{}, New: true, State: st, HasState: true}, nil
}

func (v *objValue) values(fn func(pickle.Value)) {
	v.mu.Lock()
	x := v.value
	v.mu.Unlock()
	fn(x)
}

func newObjNamespace(s *Server, m *memScope, args pickle.Tuple, kw *pickle.Dict) (srvObj, error) {
	if len(args) > 0 {
		return nil, typeErrorf("Namespace.__init__() takes 1 positional argument but %d were given", len(args)+1)
	}
	ns := &objNamespace{attrs: pickle.NewDict(), t: &s.table, mem: memStored{b: &s.mem}}
	if kw != nil {
		cost := int64(0)
		for k, v := range kw.All() {
			cost += entryCost(k, v)
		}
		if err := ns.mem.add(cost); err != nil {
			return nil, err
		}
		for k, v := range kw.All() {
			ns.attrs.Set(k, v)
			s.table.hold(v)
		}
	}
	return ns, nil
}

func attrName(fn string, args pickle.Tuple, kw *pickle.Dict, n int) (string, error) {
	if kw != nil && kw.Len() > 0 {
		return "", typeErrorf("%s() takes no keyword arguments", fn)
	}
	if len(args) != n {
		return "", typeErrorf("expected %d argument%s, got %d", n, plural(n), len(args))
	}
	name, ok := args[0].(string)
	if !ok {
		return "", typeErrorf("attribute name must be string, not '%s'", typeName(args[0]))
	}
	return name, nil
}

func (ns *objNamespace) call(c *srvCall, m string, args pickle.Tuple, kw *pickle.Dict) (pickle.Value, error) {
	switch m {
	case "__getattribute__":
		name, err := attrName(m, args, kw, 1)
		if err != nil {
			return nil, err
		}
		ns.mu.Lock()
		defer ns.mu.Unlock()
		v, ok, _ := ns.attrs.Get(name)
		if !ok {
			return nil, attrError("Namespace", name)
		}
		return v, nil
	case "__setattr__":
		name, err := attrName(m, args, kw, 2)
		if err != nil {
			return nil, err
		}
		ns.mu.Lock()
		old, had, _ := ns.attrs.Get(name)
		if had {
			err = ns.mem.change(pickle.SizeOf(old), pickle.SizeOf(args[1]))
		} else {
			err = ns.mem.add(entryCost(name, args[1]))
		}
		if err != nil {
			ns.mu.Unlock()
			return nil, err
		}
		ns.t.hold(args[1])
		ns.attrs.Set(name, args[1])
		ns.mu.Unlock()
		if had {
			ns.t.release(old)
		}
		return nil, nil
	case "__delattr__":
		name, err := attrName(m, args, kw, 1)
		if err != nil {
			return nil, err
		}
		ns.mu.Lock()
		old, ok, _ := ns.attrs.Delete(name)
		if ok {
			ns.mem.sub(entryCost(name, old))
		}
		ns.mu.Unlock()
		if !ok {
			return nil, attrError("Namespace", name)
		}
		ns.t.release(old)
		return nil, nil
	}
	return nil, errNoMethod
}

// repr is Namespace.__repr__: public attributes as name=repr(value),
// sorted, e.g. Namespace(a=1, b='x').
func (ns *objNamespace) repr() string {
	r, _ := ns.reprWith(func(v pickle.Value, _ int) (string, bool) { return pickle.Repr(v), true })
	return r
}

func (ns *objNamespace) reprLimit(limit int) (string, bool) {
	return ns.reprWith(func(v pickle.Value, used int) (string, bool) { return pickle.ReprLimit(v, limit-used) })
}

// reprWith is repr with f(value, bytes used so far) as the values' repr.
func (ns *objNamespace) reprWith(f func(pickle.Value, int) (string, bool)) (string, bool) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	var parts []string
	used := len("Namespace()")
	for k, v := range ns.attrs.All() {
		name, _ := k.(string)
		if strings.HasPrefix(name, "_") {
			continue
		}
		r, ok := f(v, used+len(name)+3)
		if !ok {
			return "", false
		}
		parts = append(parts, name+"="+r)
		used += len(parts[len(parts)-1]) + 2
	}
	sort.Strings(parts)
	return "Namespace(" + strings.Join(parts, ", ") + ")", true
}

func (ns *objNamespace) releaseMemory() {
	ns.mu.Lock()
	ns.mem.release()
	ns.mu.Unlock()
}

var globalNamespace = pickle.Global{Module: "multiprocessing.managers", Name: "Namespace"}

func (ns *objNamespace) getvalue() (pickle.Value, error) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return &pickle.Object{Callable: globalNamespace, Args: pickle.Tuple{}, New: true, State: ns.attrs.Copy(), HasState: true}, nil
}

func (ns *objNamespace) values(fn func(pickle.Value)) {
	ns.mu.Lock()
	vs := ns.attrs.Values()
	ns.mu.Unlock()
	for _, v := range vs {
		fn(v)
	}
}
