package manager

import (
	"fmt"
	"sync"

	"github.com/procshare/procshare/pickle"
)

// objDict is a Python dict: insertion-ordered, with Python key equality
// (1, 1.0 and True are one key), backed by pickle.Dict.
type objDict struct {
	mu  sync.Mutex
	d   *pickle.Dict
	mem memStored // entryCost of every entry
	t   *srvTable
}

func init() {
	registerType(&srvType{name: "dict", pyClass: "dict",
		exposed: []string{"__contains__", "__delitem__", "__getitem__", "__iter__", "__len__",
			"__setitem__", "clear", "copy", "get", "items", "keys", "pop", "popitem",
			"setdefault", "update", "values", "ps_incr", "ps_setdefault_add"},
		create: newObjDict})
	registerType(&srvType{name: "Iterator", pyClass: "dict_keyiterator",
		exposed: []string{"__next__", "send", "throw", "close"},
		refuse:  typeErrorf("procshare: typeid 'Iterator' has no create method (it is returned by dict.__iter__)")})
	registerType(&srvType{name: "AsyncResult", pyClass: "multiprocessing.pool.ApplyResult",
		exposed: []string{"get", "ready", "successful", "wait"},
		refuse:  typeErrorf("procshare: typeid 'AsyncResult' has no create method (it belongs to Pool, which the procshare server does not offer)")})
	registerType(&srvType{name: "Pool", pyClass: "multiprocessing.pool.Pool",
		exposed: []string{"apply", "apply_async", "close", "imap", "imap_unordered", "join", "map",
			"map_async", "starmap", "starmap_async", "terminate"},
		refuse: typeErrorf("procshare: typeid 'Pool' is not supported: a Pool runs Python callables in worker processes, which the procshare server cannot do")})
}

func newObjDict(s *Server, m *memScope, args pickle.Tuple, kw *pickle.Dict) (srvObj, error) {
	if len(args) > 1 {
		return nil, typeErrorf("dict expected at most 1 argument, got %d", len(args))
	}
	d := &objDict{d: pickle.NewDict(), t: &s.table, mem: memStored{b: &s.mem}}
	if err := d.update(m, args, kw); err != nil {
		d.mem.sub(d.mem.n) // nothing is created
		return nil, err
	}
	return d, nil
}

// update is dict.update(other=(), /, **kw); mu held or not yet shared. As
// in Python, the items before one that fails (an unhashable key, the
// memory budget) are stored.
func (d *objDict) update(m *memScope, args pickle.Tuple, kw *pickle.Dict) error {
	if len(args) > 1 {
		return typeErrorf("update expected at most 1 argument, got %d", len(args))
	}
	if len(args) == 1 {
		switch o := args[0].(type) {
		case *pickle.Dict:
			for k, v := range o.All() {
				if err := d.set(k, v); err != nil {
					return err
				}
			}
		default:
			items, err := iterValues(m, o)
			if err != nil {
				return err
			}
			for i, it := range items {
				pair, err := iterValues(m, it)
				if isMemoryError(err) {
					return err
				}
				if err != nil {
					return typeErrorf("cannot convert dictionary update sequence element #%d to a sequence", i)
				}
				if len(pair) != 2 {
					return valueErrorf("dictionary update sequence element #%d has length %d; 2 is required", i, len(pair))
				}
				if err := d.set(pair[0], pair[1]); err != nil {
					return err
				}
			}
		}
	}
	if kw != nil {
		for k, v := range kw.All() {
			if err := d.set(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// set stores d[k] = v, keeping nested-proxy references and the memory
// charged right; mu held.
func (d *objDict) set(k, v pickle.Value) error {
	old, had, err := d.d.Get(k)
	if err != nil {
		return err
	}
	if had {
		err = d.mem.change(pickle.SizeOf(old), pickle.SizeOf(v))
	} else {
		err = d.mem.add(entryCost(k, v))
	}
	if err != nil {
		return err
	}
	if err := d.d.Set(k, v); err != nil {
		return err // cannot happen: k hashed above
	}
	d.t.hold(v)
	if had {
		d.t.release(old)
	} else {
		d.t.hold(k)
	}
	return nil
}

// delete removes k and returns its value; ok is false if k is absent. mu
// held.
func (d *objDict) delete(k pickle.Value) (v pickle.Value, ok bool, err error) {
	key, v, ok, err := d.d.Entry(k)
	if err != nil || !ok {
		return nil, false, err
	}
	d.d.Delete(key)
	d.mem.sub(entryCost(key, v))
	d.t.release(v)
	d.t.release(key)
	return v, true, nil
}

var (
	dictGetP   = srvParams{fn: "dict.get", names: []string{"key", "default"}, nreq: 1}
	dictIncr   = srvParams{fn: "dict.ps_incr", names: []string{"key", "delta"}, nreq: 1}
	dictSetAdd = srvParams{fn: "dict.ps_setdefault_add", names: []string{"key", "default", "delta"}, nreq: 3}
)

func (d *objDict) call(c *srvCall, m string, args pickle.Tuple, kw *pickle.Dict) (pickle.Value, error) {
	switch m {
	case "__len__":
		if err := noArgs("dict.__len__", args, kw); err != nil {
			return nil, err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		return int64(d.d.Len()), nil
	case "__getitem__":
		k, err := oneArg("dict.__getitem__", args, kw)
		if err != nil {
			return nil, err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		v, ok, err := d.d.Get(k)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, keyError(k)
		}
		return v, nil
	case "__setitem__":
		k, v, err := twoArgs("__setitem__", args, kw)
		if err != nil {
			return nil, err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		return nil, d.set(k, v)
	case "__delitem__":
		k, err := oneArg("dict.__delitem__", args, kw)
		if err != nil {
			return nil, err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		_, ok, err := d.delete(k)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, keyError(k)
		}
		return nil, nil
	case "__contains__":
		k, err := oneArg("dict.__contains__", args, kw)
		if err != nil {
			return nil, err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		_, ok, err := d.d.Get(k)
		return ok, err
	case "__iter__":
		if err := noArgs("dict.__iter__", args, kw); err != nil {
			return nil, err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		it := &objDictIter{d: d, size: d.d.Len(), mem: memStored{b: d.mem.b}}
		if err := it.mem.add(costSlot * int64(it.size)); err != nil {
			return nil, err
		}
		it.keys = d.d.Keys()
		return &srvNewProxy{typeid: "Iterator", obj: it}, nil
	case "get":
		a := []pickle.Value{nil, nil}
		if err := dictGetP.bind(args, nil, a); err != nil || (kw != nil && kw.Len() > 0) {
			if err == nil {
				err = typeErrorf("dict.get() takes no keyword arguments")
			}
			return nil, err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		v, ok, err := d.d.Get(a[0])
		if err != nil {
			return nil, err
		}
		if !ok {
			return a[1], nil
		}
		return v, nil
	case "setdefault":
		a := []pickle.Value{nil, nil}
		if err := dictGetP.bind(args, nil, a); err != nil {
			return nil, err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		v, ok, err := d.d.Get(a[0])
		if err != nil {
			return nil, err
		}
		if ok {
			return v, nil
		}
		return a[1], d.set(a[0], a[1])
	case "pop":
		if len(args) < 1 || len(args) > 2 {
			return nil, typeErrorf("pop expected at least 1 argument, got %d", len(args))
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		v, ok, err := d.delete(args[0])
		if err != nil {
			return nil, err
		}
		if !ok {
			if len(args) == 2 {
				return args[1], nil
			}
			return nil, keyError(args[0])
		}
		return v, nil
	case "popitem":
		if err := noArgs("dict.popitem", args, kw); err != nil {
			return nil, err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		it, ok := d.d.PopItem()
		if !ok {
			return nil, keyError("popitem(): dictionary is empty")
		}
		d.mem.sub(entryCost(it.Key, it.Value))
		d.t.release(it.Key)
		d.t.release(it.Value)
		return pickle.Tuple{it.Key, it.Value}, nil
	case "keys", "values", "items":
		if err := noArgs("dict."+m, args, kw); err != nil {
			return nil, err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		cost := costSlot * int64(d.d.Len())
		if m == "items" {
			cost = (costSlot + costEntry) * int64(d.d.Len()) // a 2-tuple per item
		}
		if err := c.take(cost); err != nil {
			return nil, err
		}
		switch m {
		case "keys":
			return &pickle.List{Items: d.d.Keys()}, nil
		case "values":
			return &pickle.List{Items: d.d.Values()}, nil
		}
		out := make([]pickle.Value, 0, d.d.Len())
		for k, v := range d.d.All() {
			out = append(out, pickle.Tuple{k, v})
		}
		return &pickle.List{Items: out}, nil
	case "clear":
		if err := noArgs("dict.clear", args, kw); err != nil {
			return nil, err
		}
		d.mu.Lock()
		old := d.d
		d.d = pickle.NewDict()
		d.mem.sub(d.mem.n)
		d.mu.Unlock()
		for k, v := range old.All() {
			d.t.release(k)
			d.t.release(v)
		}
		return nil, nil
	case "copy":
		if err := noArgs("dict.copy", args, kw); err != nil {
			return nil, err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if err := c.take(costEntry * int64(d.d.Len())); err != nil {
			return nil, err
		}
		return d.d.Copy(), nil
	case "update":
		d.mu.Lock()
		defer d.mu.Unlock()
		return nil, d.update(c.mem(), args, kw)
	case "ps_incr":
		a := []pickle.Value{nil, int64(1)}
		if err := dictIncr.bind(args, kw, a); err != nil {
			return nil, err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.addTo(a[0], int64(0), a[1])
	case "ps_setdefault_add":
		a := []pickle.Value{nil, nil, nil}
		if err := dictSetAdd.bind(args, kw, a); err != nil {
			return nil, err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.addTo(a[0], a[1], a[2])
	}
	return nil, errNoMethod
}

// addTo sets d[k] = d.get(k, def) + delta and returns the new value (mu
// held).
func (d *objDict) addTo(k, def, delta pickle.Value) (pickle.Value, error) {
	v, ok, err := d.d.Get(k)
	if err != nil {
		return nil, err
	}
	if !ok {
		v = def
	}
	nv, err := pickle.Add(v, delta)
	if err != nil {
		return nil, err
	}
	return nv, d.set(k, nv)
}

func (d *objDict) repr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return pickle.Repr(d.d)
}

func (d *objDict) reprLimit(limit int) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return pickle.ReprLimit(d.d, limit)
}

func (d *objDict) releaseMemory() {
	d.mu.Lock()
	d.mem.release()
	d.mu.Unlock()
}

func (d *objDict) getvalue() (pickle.Value, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.d.Copy(), nil
}

func (d *objDict) values(fn func(pickle.Value)) {
	d.mu.Lock()
	items := d.d.Items()
	d.mu.Unlock()
	for _, it := range items {
		fn(it.Key)
		fn(it.Value)
	}
}

// objDictIter is the dict_keyiterator that dict.__iter__ returns as a
// proxy. It walks a snapshot of the keys and, like CPython, raises
// RuntimeError (for good) once the dict's size has changed.
type objDictIter struct {
	mu     sync.Mutex
	d      *objDict
	mem    memStored // the snapshot of the keys
	keys   []pickle.Value
	pos    int
	size   int
	broken bool
}

func (it *objDictIter) call(c *srvCall, m string, args pickle.Tuple, kw *pickle.Dict) (pickle.Value, error) {
	if m != "__next__" {
		return nil, errNoMethod
	}
	if err := noArgs("dict_keyiterator.__next__", args, kw); err != nil {
		return nil, err
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.keys == nil {
		return nil, newExc(excStopIteration)
	}
	it.d.mu.Lock()
	n := it.d.d.Len()
	it.d.mu.Unlock()
	if it.broken || n != it.size {
		it.broken = true
		return nil, excf(excRuntimeError, "dictionary changed size during iteration")
	}
	if it.pos >= len(it.keys) {
		it.keys = nil
		it.mem.sub(it.mem.n)
		return nil, newExc(excStopIteration)
	}
	k := it.keys[it.pos]
	it.pos++
	return k, nil
}

func (it *objDictIter) releaseMemory() {
	it.mu.Lock()
	it.mem.release()
	it.mu.Unlock()
}

func (it *objDictIter) repr() string { return fmt.Sprintf("<dict_keyiterator object at %p>", it) }

func (it *objDictIter) getvalue() (pickle.Value, error) {
	it.mu.Lock()
	defer it.mu.Unlock()
	rest := []pickle.Value{}
	if it.keys != nil {
		rest = append(rest, it.keys[it.pos:]...)
	}
	// dict_keyiterator pickles as iter(list_of_remaining_keys).
	return &pickle.Object{
		Callable: pickle.Global{Module: "builtins", Name: "iter"},
		Args:     pickle.Tuple{&pickle.List{Items: rest}},
	}, nil
}
