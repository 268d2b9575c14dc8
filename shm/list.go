package shm

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"strconv"
	"unicode/utf8"
)

// ListLayout selects the header format of a ShareableList. CPython 3.8
// stored each item's allocated size; 3.9 to 3.13 store the offset of each
// item plus the end offset. The two are not interchangeable: a list that
// Python 3.8 created reads wrongly in 3.9+ and vice versa. Go reads both
// (it tells them apart by the first offset, always 0 from 3.9 on and at
// least 8 in 3.8) and writes the one chosen at creation.
type ListLayout int

const (
	// LayoutPython39 is the layout of CPython 3.9 through 3.13, the default:
	// count, N+1 data offsets, data, packing formats, back-transform codes.
	LayoutPython39 ListLayout = iota
	// LayoutPython38 is the layout of CPython 3.8: count, N allocated
	// sizes, data, packing formats, back-transform codes.
	LayoutPython38
)

func (l ListLayout) String() string {
	switch l {
	case LayoutPython39:
		return "python3.9"
	case LayoutPython38:
		return "python3.8"
	}
	return "ListLayout(" + strconv.Itoa(int(l)) + ")"
}

// ListOption configures NewShareableList.
type ListOption func(*listOptions)

type listOptions struct{ layout ListLayout }

// WithLayout makes NewShareableList write layout l (default
// LayoutPython39); use LayoutPython38 for a list that CPython 3.8 opens.
func WithLayout(l ListLayout) ListOption { return func(o *listOptions) { o.layout = l } }

// Back-transform codes, as in CPython's ShareableList._back_transforms_mapping.
const (
	codeValue = 0 // int, float, bool: the unpacked value itself
	codeStr   = 1 // bytes, NULs stripped on the right, decoded as UTF-8
	codeBytes = 2 // bytes, NULs stripped on the right
	codeNone  = 3 // None
)

// Packing formats, as in CPython's ShareableList._types_mapping.
const (
	fmtInt   = "q"
	fmtFloat = "d"
	fmtBool  = "xxxxxxx?"
	fmtNone  = "xxxxxx?x"
)

// ShareableList is a fixed-length list of Python scalars in a named
// segment, byte-compatible with CPython's
// multiprocessing.shared_memory.ShareableList (3.8 to 3.13): Go and Python
// processes open the same list by name and see each other's writes.
//
// Items are int (int64), float (float64), bool, str (string), bytes
// ([]byte) or None (nil). The list cannot grow; an item's slot is fixed at
// creation (8 bytes for scalars, a multiple of 8 for str and bytes, see
// NewShareableList), so Set with a longer string than the slot fails.
// As in Python, str and bytes items lose trailing NUL bytes on the way
// back (every CPython version 3.8 to 3.13 strips them on read).
//
// A ShareableList is safe for use by multiple goroutines as far as Go's
// memory safety is concerned: every read is bounds-checked against the
// segment. The zero ShareableList is usable only as the receiver of
// AttachFiles. It is not synchronised, like Python's: a Get that races with a
// Set of the same item (in any process) may see a torn or mixed value. Use
// a lock (ipcsync) when items change concurrently. No method blocks.
type ShareableList struct {
	seg    *Segment
	layout ListLayout
	n      int
	// offsets has n+1 entries: item i occupies data[offsets[i]:offsets[i+1]],
	// relative to dataStart. Python never changes them after creation.
	offsets   []int
	dataStart int
	fmtStart  int
	codeStart int
}

// listItem is one item encoded for the list.
type listItem struct {
	format string // packing format
	code   int8
	slot   int    // allocated bytes
	num    uint64 // q, d, ? payload
	str    []byte // s payload
}

// encodeItem converts a Go value to what Python stores. It accepts every
// Go integer type (range-checked to int64) and *big.Int within int64,
// float32/float64, bool, string (valid UTF-8), []byte and nil.
func encodeItem(v any) (listItem, error) {
	switch x := v.(type) {
	case nil:
		return listItem{format: fmtNone, code: codeNone, slot: 8}, nil
	case bool:
		var n uint64
		if x {
			n = 1
		}
		return listItem{format: fmtBool, code: codeValue, slot: 8, num: n}, nil
	case float64:
		return listItem{format: fmtFloat, code: codeValue, slot: 8, num: math.Float64bits(x)}, nil
	case float32:
		return listItem{format: fmtFloat, code: codeValue, slot: 8, num: math.Float64bits(float64(x))}, nil
	case string:
		if !utf8.ValidString(x) {
			return listItem{}, errors.New("shm: ShareableList str item is not valid UTF-8")
		}
		return strItem([]byte(x), codeStr)
	case []byte:
		return strItem(x, codeBytes)
	case *big.Int:
		if x == nil || !x.IsInt64() {
			return listItem{}, fmt.Errorf("shm: ShareableList int item %v does not fit in int64 (struct format 'q')", x)
		}
		return intItem(x.Int64()), nil
	case int:
		return intItem(int64(x)), nil
	case int8:
		return intItem(int64(x)), nil
	case int16:
		return intItem(int64(x)), nil
	case int32:
		return intItem(int64(x)), nil
	case int64:
		return intItem(x), nil
	case uint8:
		return intItem(int64(x)), nil
	case uint16:
		return intItem(int64(x)), nil
	case uint32:
		return intItem(int64(x)), nil
	case uint:
		return uintItem(uint64(x))
	case uint64:
		return uintItem(x)
	case uintptr:
		return uintItem(uint64(x))
	}
	return listItem{}, fmt.Errorf("shm: ShareableList cannot hold a %T (want int, float64, bool, string, []byte or nil)", v)
}

func intItem(n int64) listItem {
	return listItem{format: fmtInt, code: codeValue, slot: 8, num: uint64(n)}
}

func uintItem(n uint64) (listItem, error) {
	if n > math.MaxInt64 {
		return listItem{}, fmt.Errorf("shm: ShareableList int item %d does not fit in int64 (struct format 'q')", n)
	}
	return intItem(int64(n)), nil
}

// strItem allocates like Python, 8*(len/8+1) bytes, but counts encoded
// bytes where Python counts characters (so a non-ASCII str is never
// truncated).
func strItem(b []byte, code int8) (listItem, error) {
	slot := 8 * (len(b)/8 + 1)
	f := strconv.Itoa(slot) + "s"
	if len(f) > 8 {
		return listItem{}, fmt.Errorf("shm: ShareableList item of %d bytes is too long (packing format %q exceeds 8 characters)", len(b), f)
	}
	return listItem{format: f, code: code, slot: slot, str: b}, nil
}

// NewShareableList creates the named segment NAME holding items, as
// Python's ShareableList(items, name=NAME) would. An empty name picks a
// random one in Python's style ("psm_" and 8 hex digits). Items are
// converted as documented on ShareableList; an item Python cannot
// represent (an int outside int64, a map, a struct ...) is an error and
// nothing is created.
//
// str and bytes slots are 8*(n/8+1) bytes for an item of n bytes. (Python
// counts characters rather than UTF-8 bytes, and silently truncates
// non-ASCII strings that overflow; Go never truncates.)
func NewShareableList(name string, items []any, opts ...ListOption) (*ShareableList, error) {
	var o listOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.layout != LayoutPython39 && o.layout != LayoutPython38 {
		return nil, fmt.Errorf("shm: unknown ShareableList layout %d", int(o.layout))
	}
	enc := make([]listItem, len(items))
	offsets := make([]int, len(items)+1)
	for i, v := range items {
		it, err := encodeItem(v)
		if err != nil {
			return nil, fmt.Errorf("%w (item %d)", err, i)
		}
		enc[i] = it
		offsets[i+1] = offsets[i] + it.slot
	}
	l := &ShareableList{layout: o.layout, n: len(items), offsets: offsets}
	l.computeStarts()
	size := l.codeStart + l.n
	if name == "" {
		var err error
		if name, err = randomListName(); err != nil {
			return nil, err
		}
	}
	seg, err := Create(name, size)
	if err != nil {
		return nil, err
	}
	l.seg = seg
	b := seg.Bytes()
	ne := binary.NativeEndian
	ne.PutUint64(b, uint64(l.n))
	if l.layout == LayoutPython39 {
		for i, off := range offsets {
			ne.PutUint64(b[8+8*i:], uint64(off))
		}
	} else {
		for i, it := range enc {
			ne.PutUint64(b[8+8*i:], uint64(it.slot))
		}
	}
	for i, it := range enc {
		l.writeItem(i, it)
	}
	return l, nil
}

func randomListName() (string, error) {
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("shm: random name: %w", err)
	}
	return "psm_" + hex.EncodeToString(r[:]), nil
}

func (l *ShareableList) computeStarts() {
	if l.layout == LayoutPython39 {
		l.dataStart = (l.n + 2) * 8
	} else {
		l.dataStart = (l.n + 1) * 8
	}
	l.fmtStart = l.dataStart + l.offsets[l.n]
	l.codeStart = l.fmtStart + 8*l.n
}

// OpenShareableList opens the ShareableList in the named segment NAME,
// created by Python (any version 3.8 to 3.13) or by NewShareableList. A
// missing segment gives an error satisfying errors.Is(err,
// fs.ErrNotExist); a segment whose header is not a ShareableList's gives
// an error wrapping ErrBadList.
func OpenShareableList(name string) (*ShareableList, error) {
	seg, err := Open(name)
	if err != nil {
		return nil, err
	}
	l, err := parseList(seg)
	if err != nil {
		seg.Close()
		return nil, err
	}
	return l, nil
}

// parseList validates the header of the list in seg: every offset that a
// later Get or Set uses lies inside the segment.
func parseList(seg *Segment) (*ShareableList, error) {
	b := seg.Bytes()
	size := len(b)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadList, fmt.Sprintf(format, args...))
	}
	if size < 8 {
		return nil, bad("segment of %d bytes has no item count", size)
	}
	ne := binary.NativeEndian
	count := int64(ne.Uint64(b))
	// Each item needs at least a header word, 8 data bytes, a format and a
	// code: 25 bytes. This bounds count before anything is allocated.
	if count < 0 || count > int64(size)/25 {
		return nil, bad("item count %d impossible in %d bytes", count, size)
	}
	n := int(count)
	l := &ShareableList{seg: seg, n: n, offsets: make([]int, n+1)}
	word := func(i int) uint64 { return ne.Uint64(b[8*i:]) }
	if n == 0 {
		l.layout = LayoutPython38
		if size >= 16 && word(1) == 0 {
			l.layout = LayoutPython39
		}
	} else if 8*(n+2) <= size && word(1) == 0 {
		l.layout = LayoutPython39
	} else {
		l.layout = LayoutPython38
	}
	limit := uint64(size)
	if l.layout == LayoutPython39 {
		for i := 0; i <= n; i++ {
			off := word(1 + i)
			if off > limit || (i > 0 && int(off) < l.offsets[i-1]) {
				return nil, bad("offset %d of item %d out of order or beyond the segment", off, i)
			}
			l.offsets[i] = int(off)
		}
	} else {
		for i := 0; i < n; i++ {
			sz := word(1 + i)
			if sz > limit || uint64(l.offsets[i])+sz > limit {
				return nil, bad("allocated size %d of item %d beyond the segment", sz, i)
			}
			l.offsets[i+1] = l.offsets[i] + int(sz)
		}
	}
	l.computeStarts()
	if l.codeStart+n > size {
		return nil, bad("header describes %d bytes, segment has %d", l.codeStart+n, size)
	}
	for i := 0; i < n; i++ {
		if _, _, err := l.itemFormat(i); err != nil {
			return nil, err
		}
		if c := int8(b[l.codeStart+i]); c < codeValue || c > codeNone {
			return nil, bad("item %d has back-transform code %d", i, c)
		}
	}
	return l, nil
}

// itemFormat reads and checks item i's packing format: one that
// Python's ShareableList writes, fitting the item's slot.
func (l *ShareableList) itemFormat(i int) (format string, size int, err error) {
	raw := l.seg.Bytes()[l.fmtStart+8*i : l.fmtStart+8*i+8]
	f := string(bytes.TrimRight(raw, "\x00"))
	switch f {
	case fmtInt, fmtFloat, fmtBool, fmtNone:
		size = 8
	default:
		if len(f) < 2 || f[len(f)-1] != 's' {
			return "", 0, fmt.Errorf("%w: item %d has unsupported packing format %q", ErrBadList, i, f)
		}
		n, perr := strconv.Atoi(f[:len(f)-1])
		if perr != nil || n < 0 || f[0] == '+' || f[0] == '-' {
			return "", 0, fmt.Errorf("%w: item %d has unsupported packing format %q", ErrBadList, i, f)
		}
		size = n
	}
	if slot := l.offsets[i+1] - l.offsets[i]; size > slot {
		return "", 0, fmt.Errorf("%w: item %d format %q needs %d bytes, slot has %d", ErrBadList, i, f, size, slot)
	}
	return f, size, nil
}

// Len returns the number of items, fixed at creation.
func (l *ShareableList) Len() int { return l.n }

// Layout reports the header format of the list (see ListLayout).
func (l *ShareableList) Layout() ListLayout { return l.layout }

// Name returns the name of the list's segment.
func (l *ShareableList) Name() string { return l.seg.Name() }

// Segment returns the segment holding the list.
func (l *ShareableList) Segment() *Segment { return l.seg }

func (l *ShareableList) check(i int) error {
	if i < 0 || i >= l.n {
		return &RangeError{Index: i, Len: l.n}
	}
	return nil
}

// Get returns item i (0 <= i < Len(), else a *RangeError) as int64,
// float64, bool, string, []byte (a copy) or nil. A slot holding something
// Python's ShareableList could not have written gives an error wrapping
// ErrBadList.
func (l *ShareableList) Get(i int) (any, error) {
	if err := l.check(i); err != nil {
		return nil, err
	}
	f, size, err := l.itemFormat(i)
	if err != nil {
		return nil, err
	}
	b := l.seg.Bytes()
	data := b[l.dataStart+l.offsets[i] : l.dataStart+l.offsets[i]+size]
	code := int8(b[l.codeStart+i])
	var raw any
	ne := binary.NativeEndian
	switch f {
	case fmtInt:
		raw = int64(ne.Uint64(data))
	case fmtFloat:
		raw = math.Float64frombits(ne.Uint64(data))
	case fmtBool:
		raw = data[7] != 0
	case fmtNone:
		raw = data[6] != 0
	default:
		raw = bytes.Clone(data)
	}
	switch code {
	case codeValue:
		return raw, nil
	case codeNone:
		return nil, nil
	case codeStr, codeBytes:
		s, ok := raw.([]byte)
		if !ok {
			return nil, fmt.Errorf("%w: item %d has back-transform code %d for packing format %q", ErrBadList, i, code, f)
		}
		s = bytes.TrimRight(s, "\x00")
		if code == codeBytes {
			return s, nil
		}
		if !utf8.Valid(s) {
			return nil, fmt.Errorf("shm: ShareableList item %d is not valid UTF-8", i)
		}
		return string(s), nil
	}
	return nil, fmt.Errorf("%w: item %d has back-transform code %d", ErrBadList, i, code)
}

// Set stores v at item i, as Python's l[i] = v does: a scalar replaces
// whatever the slot held; a str or []byte must fit the slot's allocated
// length (else an error, the item unchanged). v is converted as in
// NewShareableList.
func (l *ShareableList) Set(i int, v any) error {
	if err := l.check(i); err != nil {
		return err
	}
	it, err := encodeItem(v)
	if err != nil {
		return err
	}
	slot := l.offsets[i+1] - l.offsets[i]
	if it.str != nil || it.code == codeStr || it.code == codeBytes {
		if len(it.str) > slot {
			return fmt.Errorf("shm: ShareableList item %d: %d bytes exceed the slot's %d", i, len(it.str), slot)
		}
		// Python keeps the slot's own "Ns" format, or writes one for the
		// full slot.
		it.format = strconv.Itoa(slot) + "s"
		it.slot = slot
	}
	l.writeItem(i, it)
	return nil
}

// writeItem writes item i's format, code and data.
func (l *ShareableList) writeItem(i int, it listItem) {
	b := l.seg.Bytes()
	fb := b[l.fmtStart+8*i : l.fmtStart+8*i+8]
	clear(fb)
	copy(fb, it.format)
	b[l.codeStart+i] = byte(it.code)
	off := l.dataStart + l.offsets[i]
	switch it.format {
	case fmtInt, fmtFloat:
		binary.NativeEndian.PutUint64(b[off:], it.num)
	case fmtBool:
		clear(b[off : off+8])
		b[off+7] = byte(it.num)
	case fmtNone:
		clear(b[off : off+8])
	default:
		d := b[off : off+it.slot]
		n := copy(d, it.str)
		clear(d[n:])
	}
}

// Items returns every item, as Get would.
func (l *ShareableList) Items() ([]any, error) {
	out := make([]any, l.n)
	for i := range out {
		v, err := l.Get(i)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// Format returns the concatenated packing formats of all items, like
// Python's ShareableList.format.
func (l *ShareableList) Format() (string, error) {
	var s []byte
	for i := 0; i < l.n; i++ {
		f, _, err := l.itemFormat(i)
		if err != nil {
			return "", err
		}
		s = append(s, f...)
	}
	return string(s), nil
}

// Count returns the number of items equal to v, with Python's == for the
// list's types (1 == 1.0 == true; str never equals bytes).
func (l *ShareableList) Count(v any) (int, error) {
	want, err := normalizeItem(v)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := 0; i < l.n; i++ {
		got, err := l.Get(i)
		if err != nil {
			return 0, err
		}
		if itemsEqual(got, want) {
			n++
		}
	}
	return n, nil
}

// Index returns the position of the first item equal to v (as in Count),
// or -1 when there is none.
func (l *ShareableList) Index(v any) (int, error) {
	want, err := normalizeItem(v)
	if err != nil {
		return 0, err
	}
	for i := 0; i < l.n; i++ {
		got, err := l.Get(i)
		if err != nil {
			return 0, err
		}
		if itemsEqual(got, want) {
			return i, nil
		}
	}
	return -1, nil
}

// normalizeItem converts v to the type Get would return.
func normalizeItem(v any) (any, error) {
	it, err := encodeItem(v)
	if err != nil {
		return nil, err
	}
	switch it.code {
	case codeNone:
		return nil, nil
	case codeStr:
		return string(it.str), nil
	case codeBytes:
		return it.str, nil
	}
	switch it.format {
	case fmtInt:
		return int64(it.num), nil
	case fmtFloat:
		return math.Float64frombits(it.num), nil
	}
	return it.num != 0, nil
}

// itemsEqual is Python's == on the list's value types.
func itemsEqual(a, b any) bool {
	an, aNum := numeric(a)
	bn, bNum := numeric(b)
	if aNum || bNum {
		if !aNum || !bNum {
			return false
		}
		ai, aInt := a.(int64)
		bi, bInt := b.(int64)
		if aInt && bInt {
			return ai == bi // exact beyond 2**53
		}
		return an == bn
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	}
	return false
}

func numeric(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// Close unmaps the list's segment (it does not remove it; see Unlink).
func (l *ShareableList) Close() error { return l.seg.Close() }

// Unlink removes the list's segment name, like Python's l.shm.unlink().
func (l *ShareableList) Unlink() error { return l.seg.Unlink() }

// ShareFiles implements the procshare sharing contract (see
// Segment.ShareFiles).
func (l *ShareableList) ShareFiles() ([]*os.File, []byte, error) {
	return l.seg.ShareFiles()
}

// AttachFiles implements the procshare sharing contract in the child: it
// maps the segment and validates the list header.
func (l *ShareableList) AttachFiles(files []*os.File, meta []byte) error {
	if l.seg != nil {
		closeFiles(files)
		return errors.New("shm: attach: list already attached")
	}
	var m segmentMeta
	if err := json.Unmarshal(meta, &m); err != nil {
		closeFiles(files)
		return fmt.Errorf("shm: attach: bad metadata: %w", err)
	}
	seg := new(Segment)
	if err := seg.attach(files, m); err != nil {
		return err
	}
	nl, err := parseList(seg)
	if err != nil {
		seg.Close()
		return err
	}
	*l = *nl
	return nil
}
