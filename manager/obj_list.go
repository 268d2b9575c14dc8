package manager

import (
	"math"
	"math/big"
	"slices"
	"sort"
	"sync"

	"github.com/procshare/procshare/pickle"
)

// objList is a Python list.
type objList struct {
	mu    sync.Mutex
	items []pickle.Value
	mem   memStored // itemsCost(items)
	t     *srvTable
}

func init() {
	registerType(&srvType{name: "list", pyClass: "list",
		exposed: []string{"__add__", "__contains__", "__delitem__", "__getitem__", "__len__",
			"__mul__", "__reversed__", "__rmul__", "__setitem__", "append", "count", "extend",
			"index", "insert", "pop", "remove", "reverse", "sort", "__imul__",
			"clear", "copy", "ps_pop_many"},
		create: newObjList})
}

var listInit = srvParams{fn: "list", names: []string{"iterable"}}

func newObjList(s *Server, m *memScope, args pickle.Tuple, kw *pickle.Dict) (srvObj, error) {
	if kw != nil && kw.Len() > 0 {
		return nil, typeErrorf("list() takes no keyword arguments")
	}
	a := []pickle.Value{nil}
	if err := listInit.bind(args, nil, a); err != nil {
		return nil, typeErrorf("list expected at most 1 argument, got %d", len(args))
	}
	l := &objList{t: &s.table, mem: memStored{b: &s.mem}}
	if len(args) == 1 {
		items, err := iterValues(m, a[0])
		if err != nil {
			return nil, err
		}
		if err := l.mem.add(itemsCost(items)); err != nil {
			return nil, err
		}
		l.items = slices.Clone(items)
		s.table.holdAll(l.items)
	}
	return l, nil
}

// sliceIndices resolves a slice against a sequence of length n like
// slice.indices: start, step and the number of selected items.
func sliceIndices(s pickle.Slice, n int) (start, step, count int, err error) {
	conv := func(v pickle.Value) (int, bool, error) {
		switch x := v.(type) {
		case nil:
			return 0, false, nil
		case int64:
			if x > math.MaxInt32*1024 {
				x = math.MaxInt32 * 1024
			} else if x < -math.MaxInt32*1024 {
				x = -math.MaxInt32 * 1024
			}
			return int(x), true, nil
		case bool:
			if x {
				return 1, true, nil
			}
			return 0, true, nil
		case *big.Int:
			if x.Sign() < 0 {
				return -math.MaxInt32 * 1024, true, nil
			}
			return math.MaxInt32 * 1024, true, nil
		}
		return 0, false, typeErrorf("slice indices must be integers or None or have an __index__ method")
	}
	st, hasStep, err := conv(s.Step)
	if err != nil {
		return 0, 0, 0, err
	}
	if !hasStep {
		st = 1
	}
	if st == 0 {
		return 0, 0, 0, valueErrorf("slice step cannot be zero")
	}
	lower, upper := 0, n
	if st < 0 {
		lower, upper = -1, n-1
	}
	clamp := func(v pickle.Value, def int) (int, error) {
		x, ok, err := conv(v)
		if err != nil {
			return 0, err
		}
		if !ok {
			return def, nil
		}
		if x < 0 {
			x += n
			if x < lower {
				x = lower
			}
		} else if x > upper {
			x = upper
		}
		return x, nil
	}
	defStart, defStop := lower, upper
	if st < 0 {
		defStart, defStop = upper, lower
	}
	start, err = clamp(s.Start, defStart)
	if err != nil {
		return 0, 0, 0, err
	}
	stop, err := clamp(s.Stop, defStop)
	if err != nil {
		return 0, 0, 0, err
	}
	if st > 0 && stop > start {
		count = (stop-start-1)/st + 1
	} else if st < 0 && start > stop {
		count = (start-stop-1)/(-st) + 1
	}
	return start, st, count, nil
}

// seqIndex resolves an int index (negative from the end); ok is false when
// out of range.
func seqIndex(v pickle.Value, n int) (int, bool, error) {
	i, err := pyIndex(v)
	if err != nil {
		return 0, false, err
	}
	if i < 0 {
		i += int64(n)
	}
	if i < 0 || i >= int64(n) {
		return 0, false, nil
	}
	return int(i), true, nil
}

func listIndexTypeError(v pickle.Value) error {
	return typeErrorf("list indices must be integers or slices, not %s", typeName(v))
}

func isIndexable(v pickle.Value) bool {
	switch v.(type) {
	case int64, bool, *big.Int:
		return true
	}
	return false
}

var (
	listIndexP  = srvParams{fn: "list.index", names: []string{"value", "start", "stop"}, nreq: 1}
	listInsertP = srvParams{fn: "list.insert", names: []string{"index", "object"}, nreq: 2}
	listPopP    = srvParams{fn: "list.pop", names: []string{"index"}}
	listSortP   = srvParams{fn: "list.sort", names: []string{"key", "reverse"}}
	listPopMany = srvParams{fn: "list.ps_pop_many", names: []string{"n", "index"}, nreq: 1}
)

func oneArg(fn string, args pickle.Tuple, kw *pickle.Dict) (pickle.Value, error) {
	if kw != nil && kw.Len() > 0 {
		return nil, typeErrorf("%s() takes no keyword arguments", fn)
	}
	if len(args) != 1 {
		return nil, typeErrorf("%s() takes exactly one argument (%d given)", fn, len(args))
	}
	return args[0], nil
}

func twoArgs(fn string, args pickle.Tuple, kw *pickle.Dict) (pickle.Value, pickle.Value, error) {
	if kw != nil && kw.Len() > 0 {
		return nil, nil, typeErrorf("%s() takes no keyword arguments", fn)
	}
	if len(args) != 2 {
		return nil, nil, typeErrorf("%s expected 2 arguments, got %d", fn, len(args))
	}
	return args[0], args[1], nil
}

func (l *objList) call(c *srvCall, m string, args pickle.Tuple, kw *pickle.Dict) (pickle.Value, error) {
	switch m {
	case "__len__":
		if err := noArgs("list.__len__", args, kw); err != nil {
			return nil, err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		return int64(len(l.items)), nil
	case "__getitem__":
		k, err := oneArg("list.__getitem__", args, kw)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.getitem(c, k)
	case "__setitem__":
		k, v, err := twoArgs("__setitem__", args, kw)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		return nil, l.setitem(c, k, v)
	case "__delitem__":
		k, err := oneArg("list.__delitem__", args, kw)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		return nil, l.delitem(k)
	case "__contains__":
		x, err := oneArg("list.__contains__", args, kw)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, it := range l.items {
			if pickle.Equal(it, x) {
				return true, nil
			}
		}
		return false, nil
	case "__add__":
		x, err := oneArg("list.__add__", args, kw)
		if err != nil {
			return nil, err
		}
		o, ok := x.(*pickle.List)
		if !ok {
			return nil, typeErrorf("can only concatenate list (not \"%s\") to list", typeName(x))
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if err := c.take(costSlot * int64(len(l.items)+len(o.Items))); err != nil {
			return nil, err
		}
		out := make([]pickle.Value, 0, len(l.items)+len(o.Items))
		return &pickle.List{Items: append(append(out, l.items...), o.Items...)}, nil
	case "__mul__", "__rmul__", "__imul__":
		x, err := oneArg("list."+m, args, kw)
		if err != nil {
			return nil, err
		}
		if !isIndexable(x) {
			return nil, typeErrorf("can't multiply sequence by non-int of type '%s'", typeName(x))
		}
		n, err := pyIndex(x)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if n < 0 {
			n = 0
		}
		if n > 0 && len(l.items) > 0 && n > maxRangeItems/int64(len(l.items)) {
			return nil, newExc(excMemoryError)
		}
		// The result's slots are charged to the call; __imul__ also
		// returns a copy, and stores n times what the list stores now
		// (each slot is charged for its item, see memStored).
		slots := mulCost(int64(len(l.items))*n, costSlot)
		if m == "__imul__" {
			slots *= 2
		}
		if err := c.take(slots); err != nil {
			return nil, err
		}
		if m == "__imul__" {
			if err := l.mem.change(l.mem.n, mulCost(l.mem.n, n)); err != nil {
				return nil, err
			}
		}
		out := make([]pickle.Value, 0, len(l.items)*int(n))
		for i := int64(0); i < n; i++ {
			out = append(out, l.items...)
		}
		if m != "__imul__" {
			return &pickle.List{Items: out}, nil
		}
		l.t.holdAll(out[min(len(out), len(l.items)):])
		if n == 0 {
			l.t.releaseAll(l.items)
		}
		l.items = out
		return &pickle.List{Items: slices.Clone(out)}, nil
	case "__reversed__":
		if err := noArgs("list.__reversed__", args, kw); err != nil {
			return nil, err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if err := c.take(costSlot * int64(len(l.items))); err != nil {
			return nil, err
		}
		// list_reverseiterator pickles as reversed(list) + BUILD(index).
		return &pickle.Object{
			Callable: pickle.Global{Module: "builtins", Name: "reversed"},
			Args:     pickle.Tuple{&pickle.List{Items: slices.Clone(l.items)}},
			State:    int64(len(l.items) - 1), HasState: true,
		}, nil
	case "append":
		x, err := oneArg("list.append", args, kw)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if err := l.mem.add(itemCost(x)); err != nil {
			return nil, err
		}
		l.t.hold(x)
		l.items = append(l.items, x)
		return nil, nil
	case "extend":
		x, err := oneArg("list.extend", args, kw)
		if err != nil {
			return nil, err
		}
		items, err := iterValues(c.mem(), x)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if err := l.mem.add(itemsCost(items)); err != nil {
			return nil, err
		}
		l.t.holdAll(items)
		l.items = append(l.items, items...)
		return nil, nil
	case "count":
		x, err := oneArg("list.count", args, kw)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		n := int64(0)
		for _, it := range l.items {
			if pickle.Equal(it, x) {
				n++
			}
		}
		return n, nil
	case "index":
		a := []pickle.Value{nil, int64(0), int64(math.MaxInt64)}
		if err := listIndexP.bind(args, kw, a); err != nil {
			return nil, err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		start, stop, err := l.bounds(a[1], a[2])
		if err != nil {
			return nil, err
		}
		for i := start; i < stop && i < len(l.items); i++ {
			if pickle.Equal(l.items[i], a[0]) {
				return int64(i), nil
			}
		}
		return nil, valueErrorf("%s is not in list", pickle.Repr(a[0]))
	case "insert":
		a := []pickle.Value{nil, nil}
		if err := listInsertP.bind(args, kw, a); err != nil {
			return nil, err
		}
		i, err := pyIndex(a[0])
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if err := l.mem.add(itemCost(a[1])); err != nil {
			return nil, err
		}
		l.t.hold(a[1])
		n := int64(len(l.items))
		if i < 0 {
			i = max(i+n, 0)
		}
		i = min(i, n)
		l.items = slices.Insert(l.items, int(i), a[1])
		return nil, nil
	case "pop":
		a := []pickle.Value{int64(-1)}
		if err := listPopP.bind(args, kw, a); err != nil {
			return nil, err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if len(l.items) == 0 {
			return nil, excf(excIndexError, "pop from empty list")
		}
		i, ok, err := seqIndex(a[0], len(l.items))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, excf(excIndexError, "pop index out of range")
		}
		v := l.items[i]
		l.items = slices.Delete(l.items, i, i+1)
		l.mem.sub(itemCost(v))
		l.t.release(v)
		return v, nil
	case "ps_pop_many":
		a := []pickle.Value{nil, int64(0)}
		if err := listPopMany.bind(args, kw, a); err != nil {
			return nil, err
		}
		n, err := pyIndex(a[0])
		if err != nil {
			return nil, err
		}
		idx, err := pyIndex(a[1])
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, valueErrorf("ps_pop_many() n must be >= 0, not %d", n)
		}
		if idx != 0 && idx != -1 {
			return nil, valueErrorf("ps_pop_many() index must be 0 (front) or -1 (back), not %d", idx)
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		k := int(min(n, int64(len(l.items))))
		if err := c.take(costSlot * int64(k)); err != nil {
			return nil, err
		}
		var out []pickle.Value
		if idx == 0 {
			out = slices.Clone(l.items[:k])
			l.items = slices.Delete(l.items, 0, k)
		} else {
			// From the back, in pop() order: last item first.
			out = make([]pickle.Value, k)
			for i := range out {
				out[i] = l.items[len(l.items)-1-i]
			}
			clear(l.items[len(l.items)-k:])
			l.items = l.items[:len(l.items)-k]
		}
		l.mem.sub(itemsCost(out))
		l.t.releaseAll(out)
		return &pickle.List{Items: out}, nil
	case "remove":
		x, err := oneArg("list.remove", args, kw)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, it := range l.items {
			if pickle.Equal(it, x) {
				l.items = slices.Delete(l.items, i, i+1)
				l.mem.sub(itemCost(it))
				l.t.release(it)
				return nil, nil
			}
		}
		return nil, valueErrorf("list.remove(x): x not in list")
	case "reverse":
		if err := noArgs("list.reverse", args, kw); err != nil {
			return nil, err
		}
		l.mu.Lock()
		slices.Reverse(l.items)
		l.mu.Unlock()
		return nil, nil
	case "sort":
		if len(args) > 0 {
			return nil, typeErrorf("sort() takes no positional arguments")
		}
		a := []pickle.Value{nil, false}
		if err := listSortP.bind(nil, kw, a); err != nil {
			return nil, err
		}
		if a[0] != nil {
			return nil, typeErrorf("procshare: list.sort(key=...) needs a Python callable, which the procshare server cannot run; sort without key, or sort a copy in the client")
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if err := c.take(costSlot * int64(len(l.items))); err != nil {
			return nil, err
		}
		return nil, l.sort(pickle.Truth(a[1]))
	case "clear":
		if err := noArgs("list.clear", args, kw); err != nil {
			return nil, err
		}
		l.mu.Lock()
		old := l.items
		l.items = nil
		l.mem.sub(l.mem.n)
		l.mu.Unlock()
		l.t.releaseAll(old)
		return nil, nil
	case "copy":
		if err := noArgs("list.copy", args, kw); err != nil {
			return nil, err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if err := c.take(costSlot * int64(len(l.items))); err != nil {
			return nil, err
		}
		return &pickle.List{Items: slices.Clone(l.items)}, nil
	}
	return nil, errNoMethod
}

// bounds resolves the start/stop arguments of index() (mu held).
func (l *objList) bounds(startV, stopV pickle.Value) (int, int, error) {
	n := int64(len(l.items))
	conv := func(v pickle.Value) (int64, error) {
		switch x := v.(type) {
		case *big.Int:
			if x.Sign() < 0 {
				return 0, nil
			}
			return n, nil
		}
		i, err := pyIndex(v)
		if err != nil {
			return 0, typeErrorf("slice indices must be integers or have an __index__ method")
		}
		if i < 0 {
			i = max(i+n, 0)
		}
		return min(i, n), nil
	}
	start, err := conv(startV)
	if err != nil {
		return 0, 0, err
	}
	stop, err := conv(stopV)
	if err != nil {
		return 0, 0, err
	}
	return int(start), int(stop), nil
}

// sort sorts stably with Python's <, leaving the list unchanged on a
// TypeError (mu held).
func (l *objList) sort(reverse bool) error {
	items := slices.Clone(l.items)
	if reverse {
		slices.Reverse(items)
	}
	var cmpErr error
	sort.SliceStable(items, func(i, j int) bool {
		if cmpErr != nil {
			return false
		}
		c, err := pickle.Compare(items[i], items[j])
		if err != nil {
			cmpErr = err
			return false
		}
		return c < 0
	})
	if cmpErr != nil {
		return cmpErr
	}
	if reverse {
		// CPython reverses, sorts ascending stably and reverses back, so
		// equal items keep their original order.
		slices.Reverse(items)
	}
	l.items = items
	return nil
}

func (l *objList) getitem(c *srvCall, k pickle.Value) (pickle.Value, error) {
	if s, ok := k.(pickle.Slice); ok {
		start, step, n, err := sliceIndices(s, len(l.items))
		if err != nil {
			return nil, err
		}
		if err := c.take(costSlot * int64(n)); err != nil {
			return nil, err
		}
		out := make([]pickle.Value, n)
		for i := range out {
			out[i] = l.items[start+i*step]
		}
		return &pickle.List{Items: out}, nil
	}
	if !isIndexable(k) {
		return nil, listIndexTypeError(k)
	}
	i, ok, err := seqIndex(k, len(l.items))
	if err != nil {
		return nil, excf(excIndexError, "cannot fit 'int' into an index-sized integer")
	}
	if !ok {
		return nil, excf(excIndexError, "list index out of range")
	}
	return l.items[i], nil
}

func (l *objList) setitem(c *srvCall, k, v pickle.Value) error {
	if s, ok := k.(pickle.Slice); ok {
		start, step, n, err := sliceIndices(s, len(l.items))
		if err != nil {
			return err
		}
		var src []pickle.Value
		if o, ok := v.(*pickle.List); ok {
			src = o.Items
		} else if src, err = iterValues(c.mem(), v); err != nil {
			if isMemoryError(err) {
				return err
			}
			return typeErrorf("must assign iterable to extended slice")
		}
		if step != 1 && len(src) != n {
			return valueErrorf("attempt to assign sequence of size %d to extended slice of size %d", len(src), n)
		}
		old := int64(0)
		for i := 0; i < n; i++ {
			old += itemCost(l.items[start+i*step])
		}
		if err := l.mem.change(old, itemsCost(src)); err != nil {
			return err
		}
		if step == 1 {
			stop := start + n
			l.t.releaseAll(l.items[start:stop])
			l.t.holdAll(src)
			l.items = slices.Replace(l.items, start, stop, src...)
			return nil
		}
		l.t.holdAll(src)
		for i := 0; i < n; i++ {
			j := start + i*step
			l.t.release(l.items[j])
			l.items[j] = src[i]
		}
		return nil
	}
	if !isIndexable(k) {
		return listIndexTypeError(k)
	}
	i, ok, err := seqIndex(k, len(l.items))
	if err != nil || !ok {
		return excf(excIndexError, "list assignment index out of range")
	}
	if err := l.mem.change(itemCost(l.items[i]), itemCost(v)); err != nil {
		return err
	}
	l.t.hold(v)
	l.t.release(l.items[i])
	l.items[i] = v
	return nil
}

func (l *objList) delitem(k pickle.Value) error {
	if s, ok := k.(pickle.Slice); ok {
		start, step, n, err := sliceIndices(s, len(l.items))
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if step < 0 {
			start, step = start+(n-1)*step, -step
		}
		del := make(map[int]bool, n)
		for i := 0; i < n; i++ {
			del[start+i*step] = true
		}
		out := l.items[:0]
		var gone []pickle.Value
		for i, it := range l.items {
			if del[i] {
				gone = append(gone, it)
			} else {
				out = append(out, it)
			}
		}
		clear(l.items[len(out):])
		l.items = out
		l.mem.sub(itemsCost(gone))
		l.t.releaseAll(gone)
		return nil
	}
	if !isIndexable(k) {
		return listIndexTypeError(k)
	}
	i, ok, err := seqIndex(k, len(l.items))
	if err != nil || !ok {
		return excf(excIndexError, "list assignment index out of range")
	}
	l.mem.sub(itemCost(l.items[i]))
	l.t.release(l.items[i])
	l.items = slices.Delete(l.items, i, i+1)
	return nil
}

func (l *objList) repr() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return pickle.Repr(&pickle.List{Items: l.items})
}

func (l *objList) reprLimit(limit int) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return pickle.ReprLimit(&pickle.List{Items: l.items}, limit)
}

func (l *objList) releaseMemory() {
	l.mu.Lock()
	l.mem.release()
	l.mu.Unlock()
}

func (l *objList) getvalue() (pickle.Value, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return &pickle.List{Items: slices.Clone(l.items)}, nil
}

func (l *objList) values(fn func(pickle.Value)) {
	l.mu.Lock()
	items := slices.Clone(l.items)
	l.mu.Unlock()
	for _, v := range items {
		fn(v)
	}
}
