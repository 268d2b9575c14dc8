package pickle

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/big"
	"strings"
	"sync"
)

// EncoderConfig configures an Encoder. The zero value writes protocol 4.
type EncoderConfig struct {
	// Protocol is the pickle protocol to write, 2 to 5 (0 means
	// DefaultProtocol, 4). Protocols 2 and 3 use the forms CPython writes
	// for them (sets as builtins.set(list), bytes as _codecs.encode in
	// protocol 2, Python 2 module names in protocol 2).
	Protocol int
}

// An Encoder writes pickles to a stream, one per Encode call. It is not
// safe for concurrent use.
type Encoder struct {
	w     io.Writer
	proto int
	st    encState
}

// NewEncoder returns an encoder writing to w. An invalid protocol in cfg
// makes every Encode fail.
func NewEncoder(w io.Writer, cfg *EncoderConfig) *Encoder {
	p := DefaultProtocol
	if cfg != nil && cfg.Protocol != 0 {
		p = cfg.Protocol
	}
	return &Encoder{w: w, proto: p}
}

// Encode writes the pickle of v, in one Write call.
func (e *Encoder) Encode(v Value) error {
	buf, err := e.st.marshal(e.st.buf[:0], v, e.proto)
	e.st.buf = buf[:0]
	if err != nil {
		return err
	}
	_, err = e.w.Write(buf)
	return err
}

// Marshal returns the protocol 4 pickle of v (what CPython 3.8+ writes by
// default). v must be made of the model types (see Value); Go ints and
// float32 are accepted as int and float. Containers and *Object values
// referenced several times are written once and referenced through the
// memo, so identity and recursion survive. Strings are written as they are:
// a Go string that is not UTF-8 (or UTF-8 with surrogates) does not load in
// CPython.
func Marshal(v Value) ([]byte, error) {
	return MarshalProtocol(v, DefaultProtocol)
}

// MarshalProtocol is Marshal with an explicit protocol, 2 to 5.
func MarshalProtocol(v Value, proto int) ([]byte, error) {
	st := encPool.Get().(*encState)
	out, err := st.marshal(st.scratch[:0], v, proto)
	var res []byte
	if err == nil {
		res = append(make([]byte, 0, len(out)), out...)
	}
	if cap(out) <= 64<<10 {
		st.scratch = out[:0]
	} else {
		st.scratch = nil
	}
	st.buf = nil
	encPool.Put(st)
	return res, err
}

// AppendMarshal appends the pickle of v in protocol proto to dst and
// returns the extended slice; with a large enough dst it does not allocate
// for small values.
func AppendMarshal(dst []byte, v Value, proto int) ([]byte, error) {
	return AppendMarshalLimit(dst, v, proto, 0)
}

// AppendMarshalLimit is AppendMarshal that gives up, with an error wrapping
// ErrLimit, once the pickle grows past limit bytes: before each value
// (protocol 4 and 5) and before each payload of 64 KiB or more it checks
// what it wrote so far, so it never writes more than limit + 64 KiB and a
// few bytes, whatever the size of v. A limit of zero or less means none.
// On error the returned slice is dst.
func AppendMarshalLimit(dst []byte, v Value, proto int, limit int) ([]byte, error) {
	st := encPool.Get().(*encState)
	st.limit, st.base = limit, len(dst)
	out, err := st.marshal(dst, v, proto)
	st.buf = nil
	st.limit = 0
	encPool.Put(st)
	return out, err
}

var encPool = sync.Pool{New: func() any { return new(encState) }}

// encState is the state of one encoding: the output and the memo.
type encState struct {
	buf        []byte
	scratch    []byte // reused output buffer of MarshalProtocol
	proto      int
	frameStart int             // offset of the current frame's reserved header, -1 if none
	memo       smallMap[ident] // containers and objects, by identity
	memoN      uint32
	depth      int
	limit      int  // AppendMarshalLimit's limit past base; 0: none
	base       int  // len(dst): where the pickle starts
	over       bool // writeLarge skipped a payload that would pass limit
	globals    smallMap[Global]
	names      smallMap[string] // module and class names (CPython interns them)
}

// smallMap is a memo for comparable keys that need no boxing: a slice
// searched linearly while small, then a map.
type smallMap[K comparable] struct {
	small []smallEntry[K]
	big   map[K]uint32
}

type smallEntry[K comparable] struct {
	key K
	idx uint32
}

func (m *smallMap[K]) reset() {
	clear(m.small)
	m.small = m.small[:0]
	m.big = nil
}

func (m *smallMap[K]) get(k K) (uint32, bool) {
	if m.big != nil {
		i, ok := m.big[k]
		return i, ok
	}
	for _, e := range m.small {
		if e.key == k {
			return e.idx, true
		}
	}
	return 0, false
}

func (m *smallMap[K]) put(k K, idx uint32) {
	if m.big == nil && len(m.small) < 32 {
		m.small = append(m.small, smallEntry[K]{k, idx})
		return
	}
	if m.big == nil {
		m.big = make(map[K]uint32, 64)
		for _, e := range m.small {
			m.big[e.key] = e.idx
		}
	}
	m.big[k] = idx
}

const (
	frameTarget  = 64 * 1024
	frameMin     = 4
	frameHdrSize = 9
	batchSize    = 1000
)

func (e *encState) marshal(dst []byte, v Value, proto int) (out []byte, err error) {
	if proto < 2 || proto > HighestProtocol {
		return dst, &EncodeError{Msg: fmt.Sprintf("unsupported protocol %d (the encoder writes 2 to %d)", proto, HighestProtocol)}
	}
	e.buf = dst
	e.proto = proto
	e.frameStart = -1
	e.memo.reset()
	e.memoN = 0
	e.depth = 0
	e.over = false
	e.globals.reset()
	e.names.reset()
	e.buf = append(e.buf, opProto, byte(proto))
	if proto >= 4 {
		e.startFrame()
	}
	if err := e.save(v); err != nil {
		return dst, err
	}
	if e.over {
		return dst, e.limitError()
	}
	e.buf = append(e.buf, opStop)
	if proto >= 4 {
		e.commitFrame()
	}
	return e.buf, nil
}

func (e *encState) startFrame() {
	e.frameStart = len(e.buf)
	e.buf = append(e.buf, make([]byte, frameHdrSize)...)
}

// commitFrame writes the header of the current frame, or removes it when
// the frame is too small to be worth one (as CPython does).
func (e *encState) commitFrame() {
	if e.frameStart < 0 {
		return
	}
	n := len(e.buf) - e.frameStart - frameHdrSize
	if n >= frameMin {
		e.buf[e.frameStart] = opFrame
		binary.LittleEndian.PutUint64(e.buf[e.frameStart+1:], uint64(n))
	} else {
		copy(e.buf[e.frameStart:], e.buf[e.frameStart+frameHdrSize:])
		e.buf = e.buf[:len(e.buf)-frameHdrSize]
	}
	e.frameStart = -1
}

// boundary is called before each value: it starts a new frame once the
// current one reaches the target size, and fails once the pickle passed
// the limit of AppendMarshalLimit.
func (e *encState) boundary() error {
	if e.frameStart >= 0 && len(e.buf)-e.frameStart-frameHdrSize >= frameTarget {
		if e.over || e.limit > 0 && len(e.buf)-e.base > e.limit {
			return e.limitError()
		}
		e.commitFrame()
		e.startFrame()
	}
	return nil
}

func (e *encState) limitError() error {
	return &EncodeError{Msg: fmt.Sprintf("pickle longer than the limit of %d bytes", e.limit), Err: ErrLimit}
}

// writeLarge writes a big argument outside any frame, as CPython does for
// payloads of 64 KiB and more.
func (e *encState) writeLarge(hdr []byte, payload []byte) {
	if e.over || e.limit > 0 && len(e.buf)-e.base+len(payload) > e.limit {
		e.over = true // reported by the next boundary or at the end
		return
	}
	if e.frameStart >= 0 && len(payload) >= frameTarget {
		e.buf = append(e.buf, hdr...)
		// Move the header out of the frame: commit the frame before it.
		hl := len(hdr)
		e.buf = e.buf[:len(e.buf)-hl]
		e.commitFrame()
		e.buf = append(e.buf, hdr...)
		e.buf = append(e.buf, payload...)
		e.startFrame()
		return
	}
	e.buf = append(e.buf, hdr...)
	e.buf = append(e.buf, payload...)
}

func (e *encState) memoLookup(k ident) (uint32, bool) { return e.memo.get(k) }

// memoize writes MEMOIZE (or BINPUT) for the value on top of the stack and
// records it under k, unless k is the zero ident (a value nobody refers to
// twice, such as a str).
func (e *encState) memoize(k ident) {
	idx := e.memoN
	e.memoN++
	if e.proto >= 4 {
		e.buf = append(e.buf, opMemoize)
	} else if idx < 256 {
		e.buf = append(e.buf, opBinPut, byte(idx))
	} else {
		e.buf = append(e.buf, opLongBinPut)
		e.buf = binary.LittleEndian.AppendUint32(e.buf, idx)
	}
	if k.p != nil {
		e.memo.put(k, idx)
	}
}

func (e *encState) get(idx uint32) {
	if idx < 256 {
		e.buf = append(e.buf, opBinGet, byte(idx))
	} else {
		e.buf = append(e.buf, opLongBinGet)
		e.buf = binary.LittleEndian.AppendUint32(e.buf, idx)
	}
}

func (e *encState) save(v Value) error {
	if e.proto >= 4 {
		if err := e.boundary(); err != nil {
			return err
		}
	}
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, opNone)
	case bool:
		if x {
			e.buf = append(e.buf, opNewTrue)
		} else {
			e.buf = append(e.buf, opNewFalse)
		}
	case int64:
		e.saveInt(x)
	case *big.Int:
		e.saveBig(x)
	case float64:
		e.buf = append(e.buf, opBinFloat)
		e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(x))
	case string:
		return e.saveStr(x)
	case []byte:
		return e.saveBytes(x)
	case Tuple:
		return e.saveTuple(x)
	case *List:
		return e.saveList(x)
	case *Dict:
		return e.saveDict(x)
	case *Set:
		return e.saveSet(x)
	case *FrozenSet:
		return e.saveFrozenSet(x)
	case *ByteArray:
		return e.saveByteArray(x)
	case complex128:
		return e.saveReduce(globalComplex, ident{}, real(x), imag(x))
	case Slice:
		return e.saveReduce(globalSlice, ident{}, x.Start, x.Stop, x.Step)
	case Range:
		return e.saveReduce(globalRange, ident{}, x.Start, x.Stop, x.Step)
	case Global:
		return e.saveGlobal(x)
	case *Object:
		return e.saveObject(x)
	default:
		if c, ok := canon(v); ok {
			return e.save(c)
		}
		return &EncodeError{Msg: fmt.Sprintf("cannot encode Go value of type %T (convert it with ToValue)", v)}
	}
	return nil
}

func (e *encState) enter() error {
	e.depth++
	if e.depth > maxRecursion {
		return &EncodeError{Msg: fmt.Sprintf("value nested more than %d levels deep", maxRecursion), Err: ErrTooLarge}
	}
	return nil
}

func (e *encState) saveInt(x int64) {
	switch {
	case x >= 0 && x < 256:
		e.buf = append(e.buf, opBinInt1, byte(x))
	case x >= 0 && x < 65536:
		e.buf = append(e.buf, opBinInt2, byte(x), byte(x>>8))
	case x >= math.MinInt32 && x <= math.MaxInt32:
		e.buf = append(e.buf, opBinInt)
		e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(int32(x)))
	default:
		// LONG1 with the minimal two's complement bytes.
		var tmp [8]byte
		binary.LittleEndian.PutUint64(tmp[:], uint64(x))
		n := 8
		for n > 1 {
			top, next := tmp[n-1], tmp[n-2]
			if (top == 0 && next&0x80 == 0) || (top == 0xff && next&0x80 != 0) {
				n--
				continue
			}
			break
		}
		e.buf = append(e.buf, opLong1, byte(n))
		e.buf = append(e.buf, tmp[:n]...)
	}
}

func (e *encState) saveBig(x *big.Int) {
	if x.IsInt64() {
		e.saveInt(x.Int64())
		return
	}
	p := encodeLong(x)
	if len(p) < 256 {
		e.buf = append(e.buf, opLong1, byte(len(p)))
		e.buf = append(e.buf, p...)
		return
	}
	hdr := binary.LittleEndian.AppendUint32([]byte{opLong4}, uint32(len(p)))
	e.writeLarge(hdr, p)
}

// encodeLong returns x as minimal two's complement little-endian bytes,
// CPython's encode_long.
func encodeLong(x *big.Int) []byte {
	n := x.BitLen()/8 + 1
	var u *big.Int
	if x.Sign() >= 0 {
		u = x
	} else {
		u = new(big.Int).Add(x, new(big.Int).Lsh(bigOne, uint(8*n)))
	}
	be := u.FillBytes(make([]byte, n))
	p := make([]byte, n)
	for i, c := range be {
		p[n-1-i] = c
	}
	if x.Sign() < 0 && n > 1 && p[n-1] == 0xff && p[n-2]&0x80 != 0 {
		p = p[:n-1]
	}
	return p
}

func (e *encState) saveStr(s string) error {
	n := len(s)
	switch {
	case n < 256 && e.proto >= 4:
		e.buf = append(e.buf, opShortBinUnicode, byte(n))
		e.buf = append(e.buf, s...)
	case uint64(n) <= math.MaxUint32:
		hdr := binary.LittleEndian.AppendUint32([]byte{opBinUnicode}, uint32(n))
		if n < frameTarget {
			e.buf = append(e.buf, hdr...)
			e.buf = append(e.buf, s...)
		} else {
			e.writeLarge(hdr, []byte(s))
		}
	case e.proto >= 4:
		hdr := binary.LittleEndian.AppendUint64([]byte{opBinUnicode8}, uint64(n))
		e.writeLarge(hdr, []byte(s))
	default:
		return &EncodeError{Msg: "str larger than 4 GiB needs protocol 4", Err: ErrTooLarge}
	}
	e.memoize(ident{})
	return nil
}

func (e *encState) saveBytes(b []byte) error {
	if e.proto < 3 {
		// CPython's protocol 2 form: bytes() or _codecs.encode(str, 'latin1').
		if len(b) == 0 {
			return e.saveReduce(globalBytes, ident{})
		}
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		if err := e.saveGlobal(globalEncode); err != nil {
			return err
		}
		if err := e.saveStr(string(r)); err != nil {
			return err
		}
		e.saveInternedStr("latin1") // one constant str object in CPython
		e.buf = append(e.buf, opTuple2)
		e.memoize(ident{})
		e.buf = append(e.buf, opReduce)
		e.memoize(ident{})
		return nil
	}
	n := len(b)
	switch {
	case n < 256:
		e.buf = append(e.buf, opShortBinBytes, byte(n))
		e.buf = append(e.buf, b...)
	case uint64(n) <= math.MaxUint32:
		e.writeLarge(binary.LittleEndian.AppendUint32([]byte{opBinBytes}, uint32(n)), b)
	case e.proto >= 4:
		e.writeLarge(binary.LittleEndian.AppendUint64([]byte{opBinBytes8}, uint64(n)), b)
	default:
		return &EncodeError{Msg: "bytes larger than 4 GiB needs protocol 4", Err: ErrTooLarge}
	}
	e.memoize(ident{})
	return nil
}

func (e *encState) saveByteArray(b *ByteArray) error {
	k := ident{b, 0}
	if idx, ok := e.memoLookup(k); ok {
		e.get(idx)
		return nil
	}
	if e.proto >= 5 {
		e.writeLarge(binary.LittleEndian.AppendUint64([]byte{opByteArray8}, uint64(len(b.Data))), b.Data)
		e.memoize(k)
		return nil
	}
	if len(b.Data) == 0 {
		return e.saveReduce(globalByteArray, k)
	}
	return e.saveReduce(globalByteArray, k, b.Data)
}

// saveReduce writes fn(*args) with REDUCE and memoizes the result under k.
func (e *encState) saveReduce(fn Global, k ident, args ...Value) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer func() { e.depth-- }()
	if err := e.saveGlobal(fn); err != nil {
		return err
	}
	if err := e.saveArgs(args); err != nil {
		return err
	}
	e.buf = append(e.buf, opReduce)
	e.memoize(k)
	return nil
}

// saveArgs writes a temporary tuple (the arguments of a reduction written
// for a model value): like saveTuple, but nothing can refer to it again,
// so it is not recorded in the memo (only numbered, as CPython does).
func (e *encState) saveArgs(args []Value) error {
	if len(args) == 0 {
		e.buf = append(e.buf, opEmptyTuple)
		return nil
	}
	if len(args) > 3 {
		e.buf = append(e.buf, opMark)
	}
	for _, v := range args {
		if err := e.save(v); err != nil {
			return err
		}
	}
	if len(args) > 3 {
		e.buf = append(e.buf, opTuple)
	} else {
		e.buf = append(e.buf, opTuple1+byte(len(args)-1))
	}
	e.memoize(ident{})
	return nil
}

func (e *encState) saveGlobal(g Global) error {
	if idx, ok := e.globals.get(g); ok {
		e.get(idx)
		return nil
	}
	if i := strings.LastIndexByte(g.Name, '.'); i > 0 && i < len(g.Name)-1 && e.proto < 4 {
		// A nested name (Outer.Inner) cannot be written with GLOBAL before
		// protocol 4; CPython writes getattr(Outer, 'Inner') instead.
		if err := e.saveGlobal(globalGetattr); err != nil {
			return err
		}
		if err := e.saveArgs([]Value{Global{Module: g.Module, Name: g.Name[:i]}, g.Name[i+1:]}); err != nil {
			return err
		}
		e.buf = append(e.buf, opReduce)
	} else if e.proto < 4 && strings.ContainsAny(g.Module+g.Name, "\n") {
		return &EncodeError{Msg: fmt.Sprintf("global name %q.%q contains a newline: it needs protocol 4", g.Module, g.Name)}
	} else if e.proto >= 4 {
		e.saveInternedStr(g.Module)
		e.saveInternedStr(g.Name)
		e.buf = append(e.buf, opStackGlobal)
	} else {
		w := g
		if e.proto < 3 {
			if r, ok := py3Names[w]; ok {
				w = r
			} else if m, ok := py3Modules[w.Module]; ok {
				w.Module = m
			}
		}
		e.buf = append(e.buf, opGlobal)
		e.buf = append(e.buf, w.Module...)
		e.buf = append(e.buf, '\n')
		e.buf = append(e.buf, w.Name...)
		e.buf = append(e.buf, '\n')
	}
	e.globals.put(g, e.memoN)
	e.memoize(ident{})
	return nil
}

func (e *encState) saveInternedStr(s string) {
	if idx, ok := e.names.get(s); ok {
		e.get(idx)
		return
	}
	if len(s) < 256 && e.proto >= 4 {
		e.buf = append(e.buf, opShortBinUnicode, byte(len(s)))
	} else {
		e.buf = binary.LittleEndian.AppendUint32(append(e.buf, opBinUnicode), uint32(len(s)))
	}
	e.buf = append(e.buf, s...)
	e.names.put(s, e.memoN)
	e.memoize(ident{})
}

func (e *encState) saveTuple(t Tuple) error {
	if len(t) == 0 {
		e.buf = append(e.buf, opEmptyTuple)
		return nil
	}
	k := ident{&t[0], len(t)}
	if idx, ok := e.memoLookup(k); ok {
		e.get(idx)
		return nil
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer func() { e.depth-- }()
	small := len(t) <= 3
	if !small {
		e.buf = append(e.buf, opMark)
	}
	for _, v := range t {
		if err := e.save(v); err != nil {
			return err
		}
	}
	if idx, ok := e.memoLookup(k); ok {
		// The tuple is recursive: it was written while writing its
		// elements. Drop the elements and fetch it from the memo.
		if small {
			for range t {
				e.buf = append(e.buf, opPop)
			}
		} else {
			e.buf = append(e.buf, opPopMark)
		}
		e.get(idx)
		return nil
	}
	if small {
		e.buf = append(e.buf, opTuple1+byte(len(t)-1))
	} else {
		e.buf = append(e.buf, opTuple)
	}
	e.memoize(k)
	return nil
}

func (e *encState) saveList(l *List) error {
	k := ident{l, 0}
	if idx, ok := e.memoLookup(k); ok {
		e.get(idx)
		return nil
	}
	e.buf = append(e.buf, opEmptyList)
	e.memoize(k)
	return e.appends(l.Items)
}

func (e *encState) appends(items []Value) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer func() { e.depth-- }()
	for len(items) > 0 {
		n := min(len(items), batchSize)
		if n == 1 {
			if err := e.save(items[0]); err != nil {
				return err
			}
			e.buf = append(e.buf, opAppend)
		} else {
			e.buf = append(e.buf, opMark)
			for _, v := range items[:n] {
				if err := e.save(v); err != nil {
					return err
				}
			}
			e.buf = append(e.buf, opAppends)
		}
		items = items[n:]
	}
	return nil
}

func (e *encState) saveDict(d *Dict) error {
	k := ident{d, 0}
	if idx, ok := e.memoLookup(k); ok {
		e.get(idx)
		return nil
	}
	e.buf = append(e.buf, opEmptyDict)
	e.memoize(k)
	return e.setItems(d.t.entries, nil)
}

// setItems writes SETITEM(S) for the live entries (or for items).
func (e *encState) setItems(entries []entry, items []Item) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer func() { e.depth-- }()
	n := len(items)
	get := func(i int) (Value, Value, bool) { return items[i].Key, items[i].Value, true }
	if entries != nil {
		n = len(entries)
		get = func(i int) (Value, Value, bool) { return entries[i].key, entries[i].value, entries[i].live }
	}
	live := 0
	for i := 0; i < n; i++ {
		if _, _, ok := get(i); ok {
			live++
		}
	}
	i := 0
	for live > 0 {
		b := min(live, batchSize)
		if b > 1 {
			e.buf = append(e.buf, opMark)
		}
		for w := 0; w < b; i++ {
			k, v, ok := get(i)
			if !ok {
				continue
			}
			if err := e.save(k); err != nil {
				return err
			}
			if err := e.save(v); err != nil {
				return err
			}
			w++
		}
		if b > 1 {
			e.buf = append(e.buf, opSetItems)
		} else {
			e.buf = append(e.buf, opSetItem)
		}
		live -= b
	}
	return nil
}

func (e *encState) saveSet(s *Set) error {
	k := ident{s, 0}
	if idx, ok := e.memoLookup(k); ok {
		e.get(idx)
		return nil
	}
	items := s.t.keys()
	if e.proto < 4 {
		return e.saveReduce(globalSet, k, &List{Items: items})
	}
	e.buf = append(e.buf, opEmptySet)
	e.memoize(k)
	if err := e.enter(); err != nil {
		return err
	}
	defer func() { e.depth-- }()
	for len(items) > 0 {
		n := min(len(items), batchSize)
		e.buf = append(e.buf, opMark)
		for _, v := range items[:n] {
			if err := e.save(v); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, opAddItems)
		items = items[n:]
	}
	return nil
}

func (e *encState) saveFrozenSet(f *FrozenSet) error {
	k := ident{f, 0}
	if idx, ok := e.memoLookup(k); ok {
		e.get(idx)
		return nil
	}
	items := f.t.keys()
	if e.proto < 4 {
		return e.saveReduce(globalFrozenSet, k, &List{Items: items})
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer func() { e.depth-- }()
	e.buf = append(e.buf, opMark)
	for _, v := range items {
		if err := e.save(v); err != nil {
			return err
		}
	}
	if idx, ok := e.memoLookup(k); ok {
		e.buf = append(e.buf, opPopMark)
		e.get(idx)
		return nil
	}
	e.buf = append(e.buf, opFrozenSet)
	e.memoize(k)
	return nil
}

func (e *encState) saveObject(o *Object) error {
	k := ident{o, 0}
	if idx, ok := e.memoLookup(k); ok {
		e.get(idx)
		return nil
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer func() { e.depth-- }()
	args := o.Args
	if args == nil {
		args = Tuple{}
	}
	switch {
	case o.New && o.Kwargs != nil && o.Kwargs.Len() > 0 && e.proto < 4:
		if err := e.saveGlobal(globalNewObjEx); err != nil {
			return err
		}
		if err := e.saveTuple(Tuple{o.Callable, args, o.Kwargs}); err != nil {
			return err
		}
		e.buf = append(e.buf, opReduce)
	case o.New && o.Kwargs != nil && o.Kwargs.Len() > 0:
		for _, v := range []Value{o.Callable, args, o.Kwargs} {
			if err := e.save(v); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, opNewObjEx)
	default:
		if err := e.save(o.Callable); err != nil {
			return err
		}
		if err := e.saveTuple(args); err != nil {
			return err
		}
		if o.New {
			e.buf = append(e.buf, opNewObj)
		} else {
			e.buf = append(e.buf, opReduce)
		}
	}
	if idx, ok := e.memoLookup(k); ok {
		e.buf = append(e.buf, opPop)
		e.get(idx)
	} else {
		e.memoize(k)
	}
	if len(o.ListItems) > 0 {
		if err := e.appends(o.ListItems); err != nil {
			return err
		}
	}
	if len(o.DictItems) > 0 {
		if err := e.setItems(nil, o.DictItems); err != nil {
			return err
		}
	}
	if o.HasState {
		if err := e.save(o.State); err != nil {
			return err
		}
		e.buf = append(e.buf, opBuild)
	}
	return nil
}
