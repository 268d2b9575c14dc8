package pickle

import "iter"

// smallTable is the number of entries below which a table is searched
// linearly, without an index. Most dicts of the manager protocol (kwargs,
// small records) stay below it.
const smallTable = 8

// entry is one slot of a table's insertion-ordered entry list. A deleted
// entry has live == false and its key and value cleared.
type entry struct {
	hash  uint64
	key   Value
	value Value
	live  bool
}

// table is the hash table behind Dict, Set and FrozenSet: an
// insertion-ordered slice of entries plus, once it grows past smallTable, an
// open-addressing index of entry positions (the layout CPython's dict uses).
// Its zero value is an empty table.
type table struct {
	entries []entry
	index   []int32 // -1 is an empty slot; nil while the table is small
	live    int
}

func (t *table) lookup(k Value, h uint64) int { return t.lookupEq(k, h, keyEqual) }

// lookupEq is lookup with an explicit key comparison (Equal shares its
// state with the comparison of the enclosing containers through it).
func (t *table) lookupEq(k Value, h uint64, keyEqual func(a, b Value) bool) int {
	if t.index == nil {
		for i := range t.entries {
			e := &t.entries[i]
			if e.live && e.hash == h && keyEqual(e.key, k) {
				return i
			}
		}
		return -1
	}
	mask := uint64(len(t.index) - 1)
	for p := h & mask; ; p = (p + 1) & mask {
		i := t.index[p]
		if i < 0 {
			return -1
		}
		e := &t.entries[i]
		if e.live && e.hash == h && keyEqual(e.key, k) {
			return int(i)
		}
	}
}

// keyEqual is Equal with an identity shortcut, as CPython's dict does.
func keyEqual(a, b Value) bool {
	return Equal(a, b)
}

func (t *table) insert(k, v Value, h uint64) {
	t.entries = append(t.entries, entry{hash: h, key: k, value: v, live: true})
	t.live++
	switch {
	case t.index == nil && len(t.entries) > smallTable:
		t.rebuild()
	case t.index != nil && len(t.entries)*3 >= len(t.index)*2:
		t.rebuild()
	case t.index != nil:
		t.place(len(t.entries)-1, h)
	}
}

func (t *table) place(i int, h uint64) {
	mask := uint64(len(t.index) - 1)
	p := h & mask
	for t.index[p] >= 0 {
		p = (p + 1) & mask
	}
	t.index[p] = int32(i)
}

// rebuild drops deleted entries and re-creates the index.
func (t *table) rebuild() {
	if t.live != len(t.entries) {
		j := 0
		for _, e := range t.entries {
			if e.live {
				t.entries[j] = e
				j++
			}
		}
		clear(t.entries[j:])
		t.entries = t.entries[:j]
	}
	if len(t.entries) <= smallTable {
		t.index = nil
		return
	}
	n := 16
	for n*2 < len(t.entries)*3+3 {
		n *= 2
	}
	if cap(t.index) >= n && len(t.index) == n {
		t.index = t.index[:n]
	} else {
		t.index = make([]int32, n)
	}
	for i := range t.index {
		t.index[i] = -1
	}
	for i := range t.entries {
		t.place(i, t.entries[i].hash)
	}
}

func (t *table) remove(i int) {
	t.entries[i] = entry{}
	t.live--
	if dead := len(t.entries) - t.live; dead > 16 && dead > t.live {
		t.rebuild()
	} else if t.live == 0 {
		t.entries = t.entries[:0]
		t.index = nil
	}
}

func (t *table) clone() table {
	c := table{entries: make([]entry, 0, t.live)}
	for _, e := range t.entries {
		if e.live {
			c.entries = append(c.entries, e)
		}
	}
	c.live = len(c.entries)
	c.rebuild()
	return c
}

// Dict is a Python dict: insertion-ordered, with keys compared by Python
// equality (1, 1.0 and True are one key; a complex with zero imaginary part
// equals its real part; tuples and frozensets compare structurally). Keys
// must be hashable (see Hashable): key operations return *UnhashableError
// for a list, dict, set or bytearray key.
//
// Opaque *Object keys are equal when they are structurally equal (same
// callable, arguments and state), which is right for value types such as
// datetime.datetime or decimal.Decimal but merges distinct Python objects
// whose class keeps identity equality.
//
// A NaN key is never equal to anything, so each insertion of a NaN key adds
// an entry (Python instead compares identical NaN objects equal).
//
// The zero value is an empty dict ready to use. A Dict is not safe for
// concurrent use by several goroutines without synchronization, and lives
// in one process only.
type Dict struct {
	t table
}

// NewDict returns an empty dict.
func NewDict() *Dict { return &Dict{} }

// Len returns the number of items.
func (d *Dict) Len() int { return d.t.live }

// Get returns the value stored under k. ok is false when k is absent.
func (d *Dict) Get(k Value) (v Value, ok bool, err error) {
	h, err := Hash(k)
	if err != nil {
		return nil, false, err
	}
	i := d.t.lookup(k, h)
	if i < 0 {
		return nil, false, nil
	}
	return d.t.entries[i].value, true, nil
}

// Set stores v under k. When an equal key is already present it keeps that
// key (as Python does: d[1] = a; d[1.0] = b leaves {1: b}) and its position.
func (d *Dict) Set(k, v Value) error {
	k, _ = canon(k)
	h, err := Hash(k)
	if err != nil {
		return err
	}
	d.setHashed(k, v, h)
	return nil
}

func (d *Dict) setHashed(k, v Value, h uint64) {
	if i := d.t.lookup(k, h); i >= 0 {
		d.t.entries[i].value = v
		return
	}
	d.t.insert(k, v, h)
}

// Entry is Get that also returns the key the dict holds for k: the first of
// the equal keys that was stored (for d[1] = x, then d[True] = y, the key
// stays 1, as in Python).
func (d *Dict) Entry(k Value) (key, v Value, ok bool, err error) {
	h, err := Hash(k)
	if err != nil {
		return nil, nil, false, err
	}
	if i := d.t.lookup(k, h); i >= 0 {
		e := &d.t.entries[i]
		return e.key, e.value, true, nil
	}
	return nil, nil, false, nil
}

// Delete removes k and returns the value it had.
func (d *Dict) Delete(k Value) (Value, bool, error) {
	h, err := Hash(k)
	if err != nil {
		return nil, false, err
	}
	i := d.t.lookup(k, h)
	if i < 0 {
		return nil, false, nil
	}
	v := d.t.entries[i].value
	d.t.remove(i)
	return v, true, nil
}

// Items returns the items in insertion order, in a new slice.
func (d *Dict) Items() []Item {
	items := make([]Item, 0, d.t.live)
	for _, e := range d.t.entries {
		if e.live {
			items = append(items, Item{e.key, e.value})
		}
	}
	return items
}

// All iterates over the items in insertion order. The dict must not be
// modified during the iteration.
func (d *Dict) All() iter.Seq2[Value, Value] {
	return func(yield func(Value, Value) bool) {
		for _, e := range d.t.entries {
			if e.live && !yield(e.key, e.value) {
				return
			}
		}
	}
}

// Keys returns the keys in insertion order, in a new slice.
func (d *Dict) Keys() []Value {
	keys := make([]Value, 0, d.t.live)
	for _, e := range d.t.entries {
		if e.live {
			keys = append(keys, e.key)
		}
	}
	return keys
}

// Values returns the values in insertion order, in a new slice.
func (d *Dict) Values() []Value {
	vals := make([]Value, 0, d.t.live)
	for _, e := range d.t.entries {
		if e.live {
			vals = append(vals, e.value)
		}
	}
	return vals
}

// PopItem removes and returns the last inserted item, like Python's
// dict.popitem. ok is false when the dict is empty.
func (d *Dict) PopItem() (Item, bool) {
	for i := len(d.t.entries) - 1; i >= 0; i-- {
		if e := d.t.entries[i]; e.live {
			d.t.remove(i)
			return Item{e.key, e.value}, true
		}
	}
	return Item{}, false
}

// Clear removes every item.
func (d *Dict) Clear() { d.t = table{} }

// Copy returns a shallow copy.
func (d *Dict) Copy() *Dict { return &Dict{t: d.t.clone()} }

// Set is a Python set. Elements are compared and hashed like Dict keys. It
// iterates in insertion order (Python's own order is by hash; no program may
// rely on either). The zero value is an empty set ready to use. A Set is not
// safe for concurrent use without synchronization.
type Set struct {
	t table
}

// NewSet returns an empty set.
func NewSet() *Set { return &Set{} }

// Len returns the number of elements.
func (s *Set) Len() int { return s.t.live }

// Add adds v; adding an element equal to a present one changes nothing.
func (s *Set) Add(v Value) error {
	v, _ = canon(v)
	h, err := Hash(v)
	if err != nil {
		return err
	}
	s.addHashed(v, h)
	return nil
}

func (s *Set) addHashed(v Value, h uint64) {
	if s.t.lookup(v, h) < 0 {
		s.t.insert(v, nil, h)
	}
}

// Contains reports whether an element equal to v is present.
func (s *Set) Contains(v Value) (bool, error) {
	h, err := Hash(v)
	if err != nil {
		return false, err
	}
	return s.t.lookup(v, h) >= 0, nil
}

// Remove removes v and reports whether it was present.
func (s *Set) Remove(v Value) (bool, error) {
	h, err := Hash(v)
	if err != nil {
		return false, err
	}
	i := s.t.lookup(v, h)
	if i < 0 {
		return false, nil
	}
	s.t.remove(i)
	return true, nil
}

// Items returns the elements in insertion order, in a new slice.
func (s *Set) Items() []Value { return s.t.keys() }

// Clear removes every element.
func (s *Set) Clear() { s.t = table{} }

// Copy returns a shallow copy.
func (s *Set) Copy() *Set { return &Set{t: s.t.clone()} }

func (t *table) keys() []Value {
	keys := make([]Value, 0, t.live)
	for _, e := range t.entries {
		if e.live {
			keys = append(keys, e.key)
		}
	}
	return keys
}

// FrozenSet is a Python frozenset: an immutable, hashable set. Build one
// with NewFrozenSet. The zero value is an empty frozenset. It is safe for
// concurrent reads.
type FrozenSet struct {
	t    table
	hash uint64 // cached; order-independent combination of element hashes
}

// NewFrozenSet returns the frozenset of items (duplicates collapse). It
// fails with *UnhashableError when an item is unhashable.
func NewFrozenSet(items []Value) (*FrozenSet, error) {
	f := &FrozenSet{}
	for _, v := range items {
		if err := f.add(v); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (f *FrozenSet) add(v Value) error {
	v, _ = canon(v)
	h, err := Hash(v)
	if err != nil {
		return err
	}
	f.addHashed(v, h)
	return nil
}

func (f *FrozenSet) addHashed(v Value, h uint64) {
	if f.t.lookup(v, h) < 0 {
		f.t.insert(v, nil, h)
		f.hash += mix64(h ^ 0x9e3779b97f4a7c15)
	}
}

// Len returns the number of elements.
func (f *FrozenSet) Len() int { return f.t.live }

// Contains reports whether an element equal to v is present.
func (f *FrozenSet) Contains(v Value) (bool, error) {
	h, err := Hash(v)
	if err != nil {
		return false, err
	}
	return f.t.lookup(v, h) >= 0, nil
}

// Items returns the elements in insertion order, in a new slice.
func (f *FrozenSet) Items() []Value { return f.t.keys() }
