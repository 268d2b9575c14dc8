package pickle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// DecoderConfig bounds the resources one pickle may make the decoder use.
// A pickle that exceeds a limit fails with a *DecodeError wrapping
// ErrTooLarge, before the memory is allocated. A zero (or negative) field
// takes the default of DefaultDecoderConfig.
type DecoderConfig struct {
	// MaxInput is the largest pickle, in bytes, including every
	// length-prefixed string or bytes argument (default 64 MiB, the
	// manager's frame limit).
	MaxInput int64
	// MaxDepth is the deepest nesting of containers in the decoded value
	// (default 1000, about what CPython can pickle).
	MaxDepth int
	// MaxMemo is the largest number of memo entries (default 1<<22).
	MaxMemo int
	// MaxItems is the largest number of values the decoder pushes: every
	// decoded value and every reference to a memoized one counts once
	// (default 1<<23). It bounds the memory of a pickle that references
	// one object millions of times, at about 16 bytes per item.
	MaxItems int
	// MaxIntDigits is the longest int in the text opcodes INT and LONG,
	// in digits (default 4300, CPython's int max_str_digits).
	MaxIntDigits int
}

// DefaultDecoderConfig returns the default limits.
func DefaultDecoderConfig() *DecoderConfig {
	c := defaultDecoderConfig()
	return &c
}

func defaultDecoderConfig() DecoderConfig {
	return DecoderConfig{
		MaxInput:     64 << 20,
		MaxDepth:     1000,
		MaxMemo:      1 << 22,
		MaxItems:     1 << 23,
		MaxIntDigits: 4300,
	}
}

func (c *DecoderConfig) withDefaults() DecoderConfig {
	d := defaultDecoderConfig()
	if c == nil {
		return d
	}
	r := *c
	if r.MaxInput <= 0 {
		r.MaxInput = d.MaxInput
	}
	if r.MaxDepth <= 0 {
		r.MaxDepth = d.MaxDepth
	}
	if r.MaxMemo <= 0 {
		r.MaxMemo = d.MaxMemo
	}
	if r.MaxItems <= 0 {
		r.MaxItems = d.MaxItems
	}
	if r.MaxIntDigits <= 0 {
		r.MaxIntDigits = d.MaxIntDigits
	}
	return r
}

// Unmarshal decodes one pickle of any protocol (0–5) with the default
// limits. Bytes after the STOP opcode are ignored, as CPython's
// pickle.loads does. The result never shares memory with data.
func Unmarshal(data []byte) (Value, error) {
	return UnmarshalConfig(data, nil)
}

// UnmarshalConfig is Unmarshal with explicit limits (nil means defaults).
func UnmarshalConfig(data []byte, cfg *DecoderConfig) (Value, error) {
	d := decPool.Get().(*Decoder)
	d.cfg = cfg.withDefaults()
	d.buf, d.pos, d.base = data, 0, 0
	v, err := d.Decode()
	d.buf = nil
	d.reset()
	if cap(d.stack) > 1024 || cap(d.memo) > 1024 {
		*d = Decoder{}
	}
	decPool.Put(d)
	if err == io.EOF {
		return nil, &DecodeError{Err: ErrTruncated}
	}
	return v, err
}

var decPool = sync.Pool{New: func() any { return new(Decoder) }}

// A Decoder reads pickles from a stream, one per Decode call. It buffers its
// input, so it may read past the end of a pickle; the buffered bytes are
// used by the next Decode. A Decoder is not safe for concurrent use.
type Decoder struct {
	cfg  DecoderConfig
	r    io.Reader
	rerr error
	buf  []byte
	pos  int
	base int64 // stream offset of buf[0]

	// Per-pickle state, reset by Decode.
	start       int64 // stream offset where the current pickle began
	proto       int
	stack       []Value
	marks       []int
	memo        []Value
	memoMap     map[int64]Value
	memoCount   int
	items       int
	containers  int
	tupleHashes map[ident]uint64
}

// NewDecoder returns a decoder reading from r with the limits of cfg (nil
// means DefaultDecoderConfig).
func NewDecoder(r io.Reader, cfg *DecoderConfig) *Decoder {
	return &Decoder{cfg: cfg.withDefaults(), r: r}
}

// memoHole marks an unset memo slot.
type memoHole struct{}

// opFault is the error of one opcode, completed with its offset by Decode.
type opFault struct {
	op  byte
	off int64
	err error
}

func (e *opFault) Error() string { return e.err.Error() }

func (d *Decoder) offset() int64 { return d.base + int64(d.pos) - d.start }

// fill makes at least n bytes available at d.buf[d.pos:]. For a stream it
// grows the buffer only as data arrives, so a length prefix that lies costs
// no more memory than the bytes actually received.
func (d *Decoder) fill(n int) error {
	for len(d.buf)-d.pos < n {
		if d.r == nil || d.rerr != nil {
			if d.rerr != nil && d.rerr != io.EOF {
				return d.rerr
			}
			return ErrTruncated
		}
		if d.pos > 0 {
			m := copy(d.buf, d.buf[d.pos:])
			d.base += int64(d.pos)
			d.buf = d.buf[:m]
			d.pos = 0
		}
		if cap(d.buf)-len(d.buf) < 512 || cap(d.buf) < n {
			want := max(2*cap(d.buf), 4096)
			want = min(want, n+4096)
			want = max(want, len(d.buf)+512)
			nb := make([]byte, len(d.buf), want)
			copy(nb, d.buf)
			d.buf = nb
		}
		m, err := d.r.Read(d.buf[len(d.buf):cap(d.buf)])
		d.buf = d.buf[:len(d.buf)+m]
		if err != nil {
			d.rerr = err
		}
	}
	return nil
}

func (d *Decoder) readByte() (byte, error) {
	if d.pos >= len(d.buf) {
		if err := d.fill(1); err != nil {
			return 0, err
		}
	}
	c := d.buf[d.pos]
	d.pos++
	return c, nil
}

// read returns the next n bytes, valid until the next read.
func (d *Decoder) read(n int) ([]byte, error) {
	if len(d.buf)-d.pos < n {
		if err := d.fill(n); err != nil {
			return nil, err
		}
	}
	p := d.buf[d.pos : d.pos+n : d.pos+n]
	d.pos += n
	return p, nil
}

// readLen checks a length prefix against the input limit before anything
// is allocated for it.
func (d *Decoder) readLen(n uint64) ([]byte, error) {
	if n > uint64(d.cfg.MaxInput) || int64(n) > d.cfg.MaxInput-d.offset() {
		return nil, fmt.Errorf("argument of %d bytes exceeds the input limit of %d: %w", n, d.cfg.MaxInput, ErrTooLarge)
	}
	return d.read(int(n))
}

// readLine returns the bytes up to a '\n', without it.
func (d *Decoder) readLine() ([]byte, error) {
	for {
		if i := bytes.IndexByte(d.buf[d.pos:], '\n'); i >= 0 {
			line := d.buf[d.pos : d.pos+i]
			d.pos += i + 1
			return line, nil
		}
		if int64(len(d.buf)-d.pos) > d.cfg.MaxInput-d.offset() {
			return nil, fmt.Errorf("line exceeds the input limit: %w", ErrTooLarge)
		}
		if err := d.fill(len(d.buf) - d.pos + 1); err != nil {
			return nil, err
		}
	}
}

func (d *Decoder) reset() {
	d.start = d.base + int64(d.pos)
	d.proto = 0
	clear(d.stack)
	d.stack = d.stack[:0]
	d.marks = d.marks[:0]
	clear(d.memo)
	d.memo = d.memo[:0]
	d.memoMap = nil
	d.memoCount = 0
	d.items = 0
	d.containers = 0
	d.tupleHashes = nil
}

// Decode reads and decodes the next pickle of the stream. At the end of the
// input it returns io.EOF; a pickle cut short is a *DecodeError wrapping
// ErrTruncated; a read error is returned as it is, or wrapped in a
// *DecodeError when it interrupts a pickle. After an error the position in
// the stream is unspecified: discard the Decoder. Decode blocks on reads
// from the underlying reader.
func (d *Decoder) Decode() (Value, error) {
	d.reset()
	if d.pos >= len(d.buf) {
		if err := d.fill(1); err != nil {
			if err == ErrTruncated {
				return nil, io.EOF
			}
			return nil, err
		}
	}
	v, err := d.run()
	if err != nil {
		var oe *opFault
		if errors.As(err, &oe) {
			return nil, &DecodeError{Offset: oe.off, Op: oe.op, Err: oe.err}
		}
		return nil, err
	}
	if d.containers > d.cfg.MaxDepth {
		if h := height(v, d.cfg.MaxDepth); h > d.cfg.MaxDepth {
			return nil, &DecodeError{Offset: d.offset() - 1, Op: opStop,
				Err: fmt.Errorf("value nested more than %d levels deep: %w", d.cfg.MaxDepth, ErrTooLarge)}
		}
	}
	return v, nil
}

func (d *Decoder) run() (result Value, err error) {
	for {
		off := d.offset()
		if off >= d.cfg.MaxInput {
			return nil, &opFault{0, off, fmt.Errorf("pickle longer than %d bytes: %w", d.cfg.MaxInput, ErrTooLarge)}
		}
		var op byte
		if d.pos < len(d.buf) {
			op = d.buf[d.pos]
			d.pos++
		} else {
			var err error
			if op, err = d.readByte(); err != nil {
				return nil, &opFault{0, off, err}
			}
		}
		if op == opStop {
			// Like CPython, ignore anything left below the result.
			v, err := d.pop()
			if err != nil {
				return nil, &opFault{op, off, err}
			}
			return v, nil
		}
		if err := d.step(op); err != nil {
			return nil, &opFault{op, off, err}
		}
	}
}

func malformed(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, ErrMalformed)...)
}

func (d *Decoder) push(v Value) error {
	d.items++
	if d.items > d.cfg.MaxItems {
		return fmt.Errorf("more than %d items: %w", d.cfg.MaxItems, ErrTooLarge)
	}
	d.stack = append(d.stack, v)
	return nil
}

func (d *Decoder) pop() (Value, error) {
	n := len(d.stack)
	if n == 0 || (len(d.marks) > 0 && d.marks[len(d.marks)-1] == n) {
		return nil, malformed("stack underflow")
	}
	v := d.stack[n-1]
	d.stack[n-1] = nil
	d.stack = d.stack[:n-1]
	return v, nil
}

// pop2 pops the top two values: b was on top, a below it.
func (d *Decoder) pop2() (a, b Value, err error) {
	if b, err = d.pop(); err != nil {
		return nil, nil, err
	}
	if a, err = d.pop(); err != nil {
		return nil, nil, err
	}
	return a, b, nil
}

func (d *Decoder) top() (*Value, error) {
	n := len(d.stack)
	if n == 0 || (len(d.marks) > 0 && d.marks[len(d.marks)-1] == n) {
		return nil, malformed("stack underflow")
	}
	return &d.stack[n-1], nil
}

// popMark returns the items above the topmost mark, in a new slice, and
// removes them and the mark.
func (d *Decoder) popMark() ([]Value, error) {
	if len(d.marks) == 0 {
		return nil, malformed("no MARK on the stack")
	}
	m := d.marks[len(d.marks)-1]
	d.marks = d.marks[:len(d.marks)-1]
	items := make([]Value, len(d.stack)-m)
	copy(items, d.stack[m:])
	clear(d.stack[m:])
	d.stack = d.stack[:m]
	return items, nil
}

func (d *Decoder) memoPut(idx int64, v Value) error {
	if idx < 0 {
		return malformed("negative memo index %d", idx)
	}
	if idx < int64(len(d.memo)) {
		if _, hole := d.memo[idx].(memoHole); hole {
			d.memoCount++
		}
		d.memo[idx] = v
	} else if idx < int64(len(d.memo))+1024 && idx < int64(d.cfg.MaxMemo) {
		for int64(len(d.memo)) < idx {
			d.memo = append(d.memo, memoHole{})
		}
		d.memo = append(d.memo, v)
		d.memoCount++
	} else {
		if d.memoMap == nil {
			d.memoMap = make(map[int64]Value)
		}
		if _, ok := d.memoMap[idx]; !ok {
			d.memoCount++
		}
		d.memoMap[idx] = v
	}
	if d.memoCount > d.cfg.MaxMemo {
		return fmt.Errorf("more than %d memo entries: %w", d.cfg.MaxMemo, ErrTooLarge)
	}
	return nil
}

func (d *Decoder) memoGet(idx int64) error {
	var v Value = memoHole{}
	if idx >= 0 && idx < int64(len(d.memo)) {
		v = d.memo[idx]
	} else if w, ok := d.memoMap[idx]; ok {
		v = w
	}
	if _, hole := v.(memoHole); hole {
		return malformed("memo key %d not found", idx)
	}
	return d.push(v)
}

func (d *Decoder) memoTop(idx int64) error {
	t, err := d.top()
	if err != nil {
		return err
	}
	return d.memoPut(idx, *t)
}

func (d *Decoder) container() { d.containers++ }

// step runs one opcode: one switch, which Go compiles to a jump table,
// with the work of each opcode (or family of opcodes that differ only in
// the width of their argument) in a method of its own.
func (d *Decoder) step(op byte) error {
	switch op {
	case opNone:
		return d.push(nil)
	case opNewTrue:
		return d.push(true)
	case opNewFalse:
		return d.push(false)
	case opInt, opLong:
		return d.doTextInt(op)
	case opBinInt1, opBinInt2, opBinInt:
		return d.doBinInt(op)
	case opLong1, opLong4:
		return d.doBinLong(op)
	case opFloat:
		return d.doFloat()
	case opBinFloat:
		return d.doBinFloat()
	case opString:
		return d.doString()
	case opShortBinString, opBinString:
		return d.doBinString(op)
	case opUnicode:
		return d.doUnicode()
	case opShortBinUnicode, opBinUnicode, opBinUnicode8:
		return d.doBinUnicode(op)
	case opShortBinBytes, opBinBytes, opBinBytes8:
		return d.doBinBytes(op)
	case opByteArray8:
		return d.doByteArray8()
	case opNextBuffer, opReadonlyBuffer:
		return fmt.Errorf("out-of-band buffers (protocol 5 %s) are not supported: no buffers were supplied: %w", opName(op), ErrUnsupported)
	case opPersID:
		return d.doPersID()
	case opBinPersID:
		return fmt.Errorf("persistent ids are not supported: %w", ErrUnsupported)
	case opExt1, opExt2, opExt4:
		return fmt.Errorf("the copyreg extension registry is not supported: %w", ErrUnsupported)
	case opEmptyTuple:
		return d.push(Tuple{})
	case opTuple1, opTuple2, opTuple3:
		return d.doSmallTuple(op)
	case opTuple:
		return d.doTuple()
	case opEmptyList:
		return d.doEmptyList()
	case opList:
		return d.doList()
	case opEmptyDict:
		return d.doEmptyDict()
	case opDict:
		return d.doDict()
	case opEmptySet:
		return d.doEmptySet()
	case opFrozenSet:
		return d.doFrozenSet()
	case opAppend:
		return d.doAppend()
	case opAppends:
		return d.doAppends()
	case opSetItem:
		return d.doSetItem()
	case opSetItems:
		return d.doSetItems()
	case opAddItems:
		return d.doAddItems()
	case opMemoize, opPut, opGet, opBinPut, opBinGet, opLongBinPut, opLongBinGet:
		return d.memoOp(op)
	case opProto:
		return d.doProto()
	case opFrame:
		return d.doFrame()
	case opMark:
		return d.doMark()
	case opPop:
		return d.doPop()
	case opPopMark:
		return d.doPopMark()
	case opDup:
		return d.doDup()
	case opGlobal:
		return d.doGlobal()
	case opStackGlobal:
		return d.doStackGlobal()
	case opReduce:
		return d.doReduce()
	case opNewObj:
		return d.doNewObj()
	case opNewObjEx:
		return d.doNewObjEx()
	case opInst:
		return d.doInst()
	case opObj:
		return d.doObj()
	case opBuild:
		return d.doBuild()
	}
	return malformed("unknown opcode 0x%02x", op)
}

// readUint reads a little-endian unsigned integer of width bytes (1, 2, 4
// or 8).
func (d *Decoder) readUint(width int) (uint64, error) {
	if width == 1 {
		c, err := d.readByte()
		return uint64(c), err
	}
	p, err := d.read(width)
	if err != nil {
		return 0, err
	}
	switch width {
	case 2:
		return uint64(binary.LittleEndian.Uint16(p)), nil
	case 4:
		return uint64(binary.LittleEndian.Uint32(p)), nil
	}
	return binary.LittleEndian.Uint64(p), nil
}

// readCounted reads a byte string preceded by its length, a little-endian
// integer of width bytes (1, 4 or 8). With signed, a 4-byte length is a
// signed int32 and a negative one is malformed (what names the opcode).
func (d *Decoder) readCounted(width int, signed bool, what string) ([]byte, error) {
	n, err := d.readUint(width)
	if err != nil {
		return nil, err
	}
	if width == 1 {
		return d.read(int(n))
	}
	if signed && int32(n) < 0 {
		return nil, malformed("%s with negative length %d", what, int32(n))
	}
	return d.readLen(n)
}

// lineInt reads a decimal integer on a line of its own (the text protocol's
// PUT and GET).
func (d *Decoder) lineInt(what string) (int64, error) {
	line, err := d.readLine()
	if err != nil {
		return 0, err
	}
	idx, err := strconv.ParseInt(string(line), 10, 64)
	if err != nil {
		return 0, malformed("bad %s index %q", what, line)
	}
	return idx, nil
}

// prefixWidth is the width in bytes of the integer that follows op: the
// value of BININT*, the length of the counted strings and LONG*.
func prefixWidth(op byte) int {
	switch op {
	case opBinInt1, opLong1, opShortBinString, opShortBinUnicode, opShortBinBytes:
		return 1
	case opBinInt2:
		return 2
	case opBinUnicode8, opBinBytes8, opByteArray8:
		return 8
	}
	return 4 // opBinInt, opLong4, opBinString, opBinUnicode, opBinBytes
}

// The opcodes' methods: doX runs opX, or the family of opcodes that differ
// from opX only in the width of their argument (doBinInt: BININT1, BININT2,
// BININT; doBinUnicode: SHORT_BINUNICODE, BINUNICODE, BINUNICODE8; …).

func (d *Decoder) doTextInt(op byte) error {
	line, err := d.readLine()
	if err != nil {
		return err
	}
	if op == opInt {
		switch string(line) {
		case "01":
			return d.push(true)
		case "00":
			return d.push(false)
		}
	}
	v, err := d.parseInt(line, op == opLong)
	if err != nil {
		return err
	}
	return d.push(v)
}

func (d *Decoder) doBinInt(op byte) error {
	n, err := d.readUint(prefixWidth(op))
	if err != nil {
		return err
	}
	if op == opBinInt {
		return d.push(int64(int32(n)))
	}
	return d.push(int64(n))
}

func (d *Decoder) doBinLong(op byte) error {
	p, err := d.readCounted(prefixWidth(op), true, "LONG4")
	if err != nil {
		return err
	}
	return d.push(decodeLong(p))
}

func (d *Decoder) doFloat() error {
	line, err := d.readLine()
	if err != nil {
		return err
	}
	f, err := parsePyFloat(string(line))
	if err != nil {
		return err
	}
	return d.push(f)
}

func (d *Decoder) doBinFloat() error {
	p, err := d.read(8)
	if err != nil {
		return err
	}
	return d.push(math.Float64frombits(binary.BigEndian.Uint64(p)))
}

func (d *Decoder) doString() error {
	line, err := d.readLine()
	if err != nil {
		return err
	}
	raw, err := unquoteString(line)
	if err != nil {
		return err
	}
	return d.pushPy2Str(raw)
}

func (d *Decoder) doBinString(op byte) error {
	p, err := d.readCounted(prefixWidth(op), true, "BINSTRING")
	if err != nil {
		return err
	}
	return d.pushPy2Str(p)
}

func (d *Decoder) doUnicode() error {
	line, err := d.readLine()
	if err != nil {
		return err
	}
	s, err := decodeRawUnicodeEscape(line)
	if err != nil {
		return err
	}
	return d.push(s)
}

func (d *Decoder) doBinUnicode(op byte) error {
	p, err := d.readCounted(prefixWidth(op), false, "")
	if err != nil {
		return err
	}
	if op == opShortBinUnicode {
		if s, ok := internTable[string(p)]; ok {
			return d.push(s)
		}
	}
	return d.push(string(p))
}

func (d *Decoder) doBinBytes(op byte) error {
	p, err := d.readCounted(prefixWidth(op), false, "")
	if err != nil {
		return err
	}
	return d.push(bytes.Clone(p))
}

func (d *Decoder) doByteArray8() error {
	p, err := d.readCounted(8, false, "")
	if err != nil {
		return err
	}
	d.container()
	return d.push(&ByteArray{Data: append([]byte{}, p...)})
}

func (d *Decoder) doPersID() error {
	if _, err := d.readLine(); err != nil {
		return err
	}
	return fmt.Errorf("persistent ids are not supported: %w", ErrUnsupported)
}

func (d *Decoder) doSmallTuple(op byte) error {
	n := int(op-opTuple1) + 1
	if len(d.stack) < n || (len(d.marks) > 0 && len(d.stack)-n < d.marks[len(d.marks)-1]) {
		return malformed("stack underflow")
	}
	t := make(Tuple, n)
	copy(t, d.stack[len(d.stack)-n:])
	clear(d.stack[len(d.stack)-n:])
	d.stack = d.stack[:len(d.stack)-n]
	d.container()
	return d.push(t)
}

func (d *Decoder) doTuple() error {
	items, err := d.popMark()
	if err != nil {
		return err
	}
	d.container()
	return d.push(Tuple(items))
}

func (d *Decoder) doEmptyList() error {
	d.container()
	return d.push(&List{})
}

func (d *Decoder) doList() error {
	items, err := d.popMark()
	if err != nil {
		return err
	}
	d.container()
	return d.push(&List{Items: items})
}

func (d *Decoder) doEmptyDict() error {
	d.container()
	return d.push(&Dict{})
}

func (d *Decoder) doDict() error {
	items, err := d.popMark()
	if err != nil {
		return err
	}
	if len(items)%2 != 0 {
		return malformed("DICT with an odd number of items")
	}
	dict := &Dict{}
	for i := 0; i < len(items); i += 2 {
		if err := d.setItem(dict, items[i], items[i+1]); err != nil {
			return err
		}
	}
	d.container()
	return d.push(dict)
}

func (d *Decoder) doEmptySet() error {
	d.container()
	return d.push(&Set{})
}

func (d *Decoder) doFrozenSet() error {
	items, err := d.popMark()
	if err != nil {
		return err
	}
	f := &FrozenSet{}
	for _, v := range items {
		h, err := d.hash(v)
		if err != nil {
			return err
		}
		f.addHashed(v, h)
	}
	d.container()
	return d.push(f)
}

func (d *Decoder) doAppend() error {
	v, err := d.pop()
	if err != nil {
		return err
	}
	t, err := d.top()
	if err != nil {
		return err
	}
	return appendTo(*t, []Value{v})
}

func (d *Decoder) doAppends() error {
	items, err := d.popMark()
	if err != nil {
		return err
	}
	t, err := d.top()
	if err != nil {
		return err
	}
	return appendTo(*t, items)
}

func (d *Decoder) doSetItem() error {
	k, v, err := d.pop2()
	if err != nil {
		return err
	}
	t, err := d.top()
	if err != nil {
		return err
	}
	return d.setItems(*t, []Value{k, v})
}

func (d *Decoder) doSetItems() error {
	items, err := d.popMark()
	if err != nil {
		return err
	}
	if len(items)%2 != 0 {
		return malformed("SETITEMS with an odd number of items")
	}
	t, err := d.top()
	if err != nil {
		return err
	}
	return d.setItems(*t, items)
}

func (d *Decoder) doAddItems() error {
	items, err := d.popMark()
	if err != nil {
		return err
	}
	t, err := d.top()
	if err != nil {
		return err
	}
	s, ok := (*t).(*Set)
	if !ok {
		return malformed("ADDITEMS to a %s", TypeName(*t))
	}
	for _, v := range items {
		h, err := d.hash(v)
		if err != nil {
			return err
		}
		s.addHashed(v, h)
	}
	return nil
}

// memoOp stores the top of the stack in the memo or fetches from it.
// memoOp runs the memo's opcodes: PUT, BINPUT, LONG_BINPUT and MEMOIZE
// store the top of the stack, GET, BINGET and LONG_BINGET fetch.
func (d *Decoder) memoOp(op byte) error {
	var idx int64
	var err error
	switch op {
	case opMemoize:
		return d.memoTop(int64(d.memoCount))
	case opPut:
		idx, err = d.lineInt("PUT")
	case opGet:
		idx, err = d.lineInt("GET")
	case opBinPut, opBinGet:
		var n uint64
		n, err = d.readUint(1)
		idx = int64(n)
	case opLongBinPut, opLongBinGet:
		var n uint64
		n, err = d.readUint(4)
		idx = int64(n)
	default:
		return malformed("unknown opcode 0x%02x", op)
	}
	if err != nil {
		return err
	}
	if op == opGet || op == opBinGet || op == opLongBinGet {
		return d.memoGet(idx)
	}
	return d.memoTop(idx)
}

func (d *Decoder) doProto() error {
	p, err := d.readByte()
	if err != nil {
		return err
	}
	if p > HighestProtocol {
		return fmt.Errorf("unsupported protocol %d: %w", p, ErrUnsupported)
	}
	d.proto = int(p)
	return nil
}

func (d *Decoder) doFrame() error {
	p, err := d.read(8)
	if err != nil {
		return err
	}
	if n := binary.LittleEndian.Uint64(p); n > uint64(d.cfg.MaxInput) {
		return fmt.Errorf("frame of %d bytes exceeds the input limit: %w", n, ErrTooLarge)
	}
	return nil
}

func (d *Decoder) doMark() error {
	if len(d.marks) >= d.cfg.MaxDepth {
		return fmt.Errorf("MARKs nested more than %d deep: %w", d.cfg.MaxDepth, ErrTooLarge)
	}
	d.marks = append(d.marks, len(d.stack))
	return nil
}

func (d *Decoder) doPop() error {
	if len(d.marks) > 0 && d.marks[len(d.marks)-1] == len(d.stack) {
		// CPython pops the mark when the stack above it is empty.
		d.marks = d.marks[:len(d.marks)-1]
		return nil
	}
	_, err := d.pop()
	return err
}

func (d *Decoder) doPopMark() error {
	_, err := d.popMark()
	return err
}

func (d *Decoder) doDup() error {
	t, err := d.top()
	if err != nil {
		return err
	}
	return d.push(*t)
}

func (d *Decoder) doGlobal() error {
	mod, err := d.readLine()
	if err != nil {
		return err
	}
	m := string(mod)
	name, err := d.readLine()
	if err != nil {
		return err
	}
	return d.push(d.global(m, string(name)))
}

func (d *Decoder) doStackGlobal() error {
	mod, name, err := d.pop2()
	if err != nil {
		return err
	}
	ms, ok1 := mod.(string)
	ns, ok2 := name.(string)
	if !ok1 || !ok2 {
		return malformed("STACK_GLOBAL requires str")
	}
	return d.push(d.global(ms, ns))
}

func (d *Decoder) doReduce() error {
	fn, args, err := d.pop2()
	if err != nil {
		return err
	}
	at, ok := args.(Tuple)
	if !ok {
		return malformed("REDUCE arguments are a %s, not a tuple", TypeName(args))
	}
	d.container()
	return d.push(d.reduce(fn, at))
}

func (d *Decoder) doNewObj() error {
	cls, args, err := d.pop2()
	if err != nil {
		return err
	}
	at, ok := args.(Tuple)
	if !ok {
		return malformed("NEWOBJ arguments are a %s, not a tuple", TypeName(args))
	}
	d.container()
	return d.push(d.newObj(cls, at, nil))
}

func (d *Decoder) doNewObjEx() error {
	args, kw, err := d.pop2()
	if err != nil {
		return err
	}
	cls, err := d.pop()
	if err != nil {
		return err
	}
	at, ok1 := args.(Tuple)
	kd, ok2 := kw.(*Dict)
	if !ok1 || !ok2 {
		return malformed("NEWOBJ_EX needs a tuple and a dict")
	}
	d.container()
	return d.push(d.newObj(cls, at, kd))
}

func (d *Decoder) doInst() error {
	mod, err := d.readLine()
	if err != nil {
		return err
	}
	m := string(mod)
	name, err := d.readLine()
	if err != nil {
		return err
	}
	args, err := d.popMark()
	if err != nil {
		return err
	}
	d.container()
	return d.push(d.instantiate(d.global(m, string(name)), args))
}

func (d *Decoder) doObj() error {
	items, err := d.popMark()
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return malformed("OBJ without a class")
	}
	d.container()
	return d.push(d.instantiate(items[0], items[1:]))
}

func (d *Decoder) doBuild() error {
	state, err := d.pop()
	if err != nil {
		return err
	}
	t, err := d.top()
	if err != nil {
		return err
	}
	o, ok := (*t).(*Object)
	if !ok {
		return malformed("BUILD on a %s", TypeName(*t))
	}
	if o.HasState {
		return malformed("BUILD applied twice to one object")
	}
	o.State, o.HasState = state, true
	return nil
}

// global returns the Global module.name, with Python 2 names mapped to
// Python 3 ones for protocols 0–2 (CPython's fix_imports).
func (d *Decoder) global(mod, name string) Global {
	g := Global{Module: mod, Name: name}
	if d.proto < 3 {
		if m, ok := py2Names[g]; ok {
			return m
		}
		if m, ok := py2Modules[mod]; ok {
			g.Module = m
		}
	}
	return g
}

func (d *Decoder) pushPy2Str(raw []byte) error {
	for _, c := range raw {
		if c >= utf8.RuneSelf {
			return malformed("Python 2 str with non-ASCII byte 0x%02x (CPython's default encoding='ASCII' rejects it too)", c)
		}
	}
	return d.push(string(raw))
}

// hash is Hash with a per-pickle cache for tuples: a pickle can insert
// one large shared tuple as a key millions of times, and each Hash call
// may visit up to hashBudget nodes.
func (d *Decoder) hash(v Value) (uint64, error) {
	t, ok := v.(Tuple)
	if !ok || len(t) == 0 {
		return Hash(v)
	}
	id := ident{&t[0], len(t)}
	if h, ok := d.tupleHashes[id]; ok {
		return h, nil
	}
	h, err := Hash(v)
	if err != nil {
		return 0, err
	}
	if d.tupleHashes == nil {
		d.tupleHashes = make(map[ident]uint64)
	}
	d.tupleHashes[id] = h
	return h, nil
}

func (d *Decoder) setItem(dict *Dict, k, v Value) error {
	h, err := d.hash(k)
	if err != nil {
		return err
	}
	dict.setHashed(k, v, h)
	return nil
}

func appendTo(t Value, items []Value) error {
	switch x := t.(type) {
	case *List:
		if len(x.Items) == 0 && len(items) > 1 {
			x.Items = items // popMark's fresh slice: no need to copy it again
		} else {
			x.Items = append(x.Items, items...)
		}
		return nil
	case *Object:
		x.ListItems = append(x.ListItems, items...)
		return nil
	}
	return malformed("APPEND to a %s", TypeName(t))
}

func (d *Decoder) setItems(t Value, items []Value) error {
	switch x := t.(type) {
	case *Dict:
		for i := 0; i < len(items); i += 2 {
			if err := d.setItem(x, items[i], items[i+1]); err != nil {
				return err
			}
		}
		return nil
	case *Object:
		for i := 0; i < len(items); i += 2 {
			x.DictItems = append(x.DictItems, Item{items[i], items[i+1]})
		}
		return nil
	}
	return malformed("SETITEM on a %s", TypeName(t))
}

// instantiate is INST and OBJ: cls(*args), or cls.__new__(cls) without
// arguments (CPython's _instantiate for classes without __getinitargs__).
func (d *Decoder) instantiate(cls Value, args []Value) Value {
	if len(args) == 0 {
		return &Object{Callable: cls, Args: Tuple{}, New: true}
	}
	return d.reduce(cls, Tuple(args))
}

func (d *Decoder) newObj(cls Value, args Tuple, kw *Dict) Value {
	if kw == nil || kw.Len() == 0 {
		if g, ok := cls.(Global); ok && g == globalComplex {
			if v, ok := d.interpret(g, args); ok {
				return v
			}
		}
	}
	return &Object{Callable: cls, Args: args, Kwargs: kw, New: true}
}

// reduce is REDUCE: fn(*args), interpreted when it builds a model value.
func (d *Decoder) reduce(fn Value, args Tuple) Value {
	if g, ok := fn.(Global); ok {
		if v, ok := d.interpret(g, args); ok {
			return v
		}
		// copyreg.__newobj_ex__(cls, args, kwargs) and
		// copyreg.__newobj__(cls, *args) are NEWOBJ_EX and NEWOBJ spelled
		// as calls (the encoder writes the former for protocols 2 and 3).
		if g == globalNewObjEx && len(args) == 3 {
			a, ok1 := args[1].(Tuple)
			kw, ok2 := args[2].(*Dict)
			if ok1 && ok2 {
				return d.newObj(args[0], a, kw)
			}
		}
		if g == globalNewObj && len(args) >= 1 {
			return d.newObj(args[0], append(Tuple{}, args[1:]...), nil)
		}
	}
	return &Object{Callable: fn, Args: args}
}

var (
	globalSet       = Global{"builtins", "set"}
	globalFrozenSet = Global{"builtins", "frozenset"}
	globalByteArray = Global{"builtins", "bytearray"}
	globalBytes     = Global{"builtins", "bytes"}
	globalComplex   = Global{"builtins", "complex"}
	globalSlice     = Global{"builtins", "slice"}
	globalRange     = Global{"builtins", "range"}
	globalList      = Global{"builtins", "list"}
	globalTuple     = Global{"builtins", "tuple"}
	globalEncode    = Global{"_codecs", "encode"}
	globalNewObjEx  = Global{"copyreg", "__newobj_ex__"}
	globalGetattr   = Global{"builtins", "getattr"}
)

// interpret evaluates the calls that build model values, when the
// arguments have the shape CPython's pickler gives them. It never calls
// anything: each case is a pure function of data.
func (d *Decoder) interpret(g Global, args Tuple) (Value, bool) {
	switch g {
	case globalSet, globalFrozenSet:
		return d.interpretSet(g, args)
	case globalList, globalTuple:
		var items []Value
		if len(args) == 1 {
			var ok bool
			if items, ok = iterItems(args[0]); !ok {
				return nil, false
			}
		} else if len(args) != 0 {
			return nil, false
		}
		items = append([]Value{}, items...)
		if g == globalList {
			return &List{Items: items}, true
		}
		return Tuple(items), true
	case globalBytes, globalByteArray:
		return d.interpretBytes(g, args)
	case globalEncode:
		if len(args) != 2 {
			return nil, false
		}
		s, ok1 := args[0].(string)
		enc, ok2 := args[1].(string)
		if !ok1 || !ok2 {
			return nil, false
		}
		b, ok := encodeLatin1(s, enc)
		return b, ok
	case globalComplex:
		var re, im float64
		switch len(args) {
		case 2:
			f, ok := realOf(args[1])
			if !ok {
				return nil, false
			}
			im = f
			fallthrough
		case 1:
			f, ok := realOf(args[0])
			if !ok {
				return nil, false
			}
			re = f
		case 0:
		default:
			return nil, false
		}
		return complex(re, im), true
	case globalSlice:
		// Only slices of scalars become a Slice (a Slice has no identity,
		// so nesting containers in one would escape the depth and sharing
		// checks); anything else stays an opaque object.
		for _, a := range args {
			if !isScalar(a) {
				return nil, false
			}
		}
		switch len(args) {
		case 1:
			return Slice{nil, args[0], nil}, true
		case 2:
			return Slice{args[0], args[1], nil}, true
		case 3:
			return Slice{args[0], args[1], args[2]}, true
		}
	case globalGetattr:
		// getattr(Outer, 'Inner'): how protocols before 4 name a nested class.
		if len(args) == 2 {
			parent, ok1 := args[0].(Global)
			name, ok2 := args[1].(string)
			if ok1 && ok2 && name != "" && !strings.Contains(name, ".") {
				return Global{Module: parent.Module, Name: parent.Name + "." + name}, true
			}
		}
	case globalRange:
		for _, a := range args {
			if _, ok := intOf(a); !ok {
				return nil, false
			}
			if _, isBool := a.(bool); isBool {
				return nil, false
			}
		}
		switch len(args) {
		case 1:
			return Range{int64(0), args[0], int64(1)}, true
		case 2:
			return Range{args[0], args[1], int64(1)}, true
		case 3:
			if s, _ := intOf(args[2]); s.Sign() == 0 {
				return nil, false
			}
			return Range{args[0], args[1], args[2]}, true
		}
	}
	return nil, false
}

// interpretSet builds set(iterable) and frozenset(iterable).
func (d *Decoder) interpretSet(g Global, args Tuple) (Value, bool) {
	var items []Value
	switch len(args) {
	case 0:
	case 1:
		var ok bool
		if items, ok = iterItems(args[0]); !ok {
			return nil, false
		}
	default:
		return nil, false
	}
	s, f := &Set{}, &FrozenSet{}
	for _, v := range items {
		v, _ = canon(v)
		h, err := d.hash(v)
		if err != nil {
			return nil, false
		}
		if g == globalSet {
			s.addHashed(v, h)
		} else {
			f.addHashed(v, h)
		}
	}
	if g == globalSet {
		return s, true
	}
	return f, true
}

// interpretBytes builds bytes(...) and bytearray(...) from nothing, bytes, a
// bytearray, an iterable of ints in 0..255, or a str with its encoding.
func (d *Decoder) interpretBytes(g Global, args Tuple) (Value, bool) {
	var data []byte
	switch len(args) {
	case 0:
		data = []byte{}
	case 1:
		switch a := args[0].(type) {
		case []byte:
			data = bytes.Clone(a)
		case *ByteArray:
			data = bytes.Clone(a.Data)
		default:
			items, ok := iterItems(a)
			if !ok {
				return nil, false
			}
			data = make([]byte, len(items))
			for i, v := range items {
				n, ok := v.(int64)
				if !ok || n < 0 || n > 255 {
					return nil, false
				}
				data[i] = byte(n)
			}
		}
	case 2:
		s, ok1 := args[0].(string)
		enc, ok2 := args[1].(string)
		if !ok1 || !ok2 {
			return nil, false
		}
		b, ok := encodeLatin1(s, enc)
		if !ok {
			return nil, false
		}
		data = b
	default:
		return nil, false
	}
	if g == globalBytes {
		return data, true
	}
	return &ByteArray{Data: data}, true
}

// isScalar reports whether v is a value without parts.
func isScalar(v Value) bool {
	switch v.(type) {
	case nil, bool, int64, *big.Int, float64, complex128, string, []byte:
		return true
	}
	return false
}

func iterItems(v Value) ([]Value, bool) {
	switch x := v.(type) {
	case *List:
		return x.Items, true
	case Tuple:
		return x, true
	case *Set:
		return x.Items(), true
	case *FrozenSet:
		return x.Items(), true
	}
	return nil, false
}

// realOf returns an int or float argument of complex() as a float64.
func realOf(v Value) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// encodeLatin1 is str.encode for the latin-1 aliases CPython's pickler
// uses; ok is false for other encodings or characters above U+00FF.
func encodeLatin1(s, enc string) ([]byte, bool) {
	switch strings.ToLower(strings.ReplaceAll(enc, "_", "-")) {
	case "latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1":
	default:
		return nil, false
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff || r == utf8.RuneError {
			return nil, false
		}
		out = append(out, byte(r))
	}
	return out, true
}

// decodeLong decodes the two's complement little-endian bytes of LONG1 and
// LONG4.
func decodeLong(p []byte) Value {
	if len(p) == 0 {
		return int64(0)
	}
	if len(p) <= 8 {
		var u uint64
		for i := len(p) - 1; i >= 0; i-- {
			u = u<<8 | uint64(p[i])
		}
		if p[len(p)-1]&0x80 != 0 && len(p) < 8 {
			u |= ^uint64(0) << (8 * len(p))
		}
		return int64(u)
	}
	be := make([]byte, len(p))
	for i, c := range p {
		be[len(p)-1-i] = c
	}
	x := new(big.Int).SetBytes(be)
	if p[len(p)-1]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(bigOne, uint(8*len(p))))
	}
	return NormInt(x)
}

// parseInt parses the argument of INT and LONG like Python's int(s, 0)
// (LONG may end in 'L').
func (d *Decoder) parseInt(line []byte, long bool) (Value, error) {
	s := strings.TrimSpace(string(line))
	if long {
		s = strings.TrimSuffix(s, "L")
	}
	if len(s) > d.cfg.MaxIntDigits+2 {
		return nil, fmt.Errorf("int of %d digits exceeds the limit of %d: %w", len(s), d.cfg.MaxIntDigits, ErrTooLarge)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && (len(s) < 2 || s[0] != '0') {
		return n, nil
	}
	body := strings.TrimLeft(s, "+-")
	if len(body) > 1 && body[0] == '0' && body[1] >= '0' && body[1] <= '9' {
		if strings.Trim(body, "0_") != "" {
			return nil, malformed("invalid int literal %q", s)
		}
		return int64(0), nil
	}
	x, ok := new(big.Int).SetString(s, 0)
	if !ok {
		return nil, malformed("invalid int literal %q", s)
	}
	return NormInt(x), nil
}

// parsePyFloat parses like Python's float(s).
func parsePyFloat(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(strings.TrimLeft(s, "+-"), "nan") {
		return math.NaN(), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return f, nil
		}
		return 0, malformed("invalid float literal %q", s)
	}
	return f, nil
}

// unquoteString decodes the argument of STRING: a quoted Python 2 str
// literal with backslash escapes (codecs.escape_decode).
func unquoteString(line []byte) ([]byte, error) {
	s := bytes.TrimRight(line, " \t\r")
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') || s[len(s)-1] != s[0] {
		return nil, malformed("the STRING opcode argument must be quoted")
	}
	s = s[1 : len(s)-1]
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(s) {
			return nil, malformed("trailing \\ in string")
		}
		switch c = s[i]; c {
		case '\n':
		case '\\', '\'', '"':
			out = append(out, c)
		case 'a':
			out = append(out, 7)
		case 'b':
			out = append(out, 8)
		case 'f':
			out = append(out, 12)
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, 11)
		case 'x':
			if i+2 >= len(s) {
				return nil, malformed("invalid \\x escape")
			}
			v, err := strconv.ParseUint(string(s[i+1:i+3]), 16, 8)
			if err != nil {
				return nil, malformed("invalid \\x escape")
			}
			out = append(out, byte(v))
			i += 2
		default:
			if c >= '0' && c <= '7' {
				v := int(c - '0')
				for k := 0; k < 2 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '7'; k++ {
					i++
					v = v*8 + int(s[i]-'0')
				}
				out = append(out, byte(v))
			} else {
				out = append(out, '\\', c)
			}
		}
	}
	return out, nil
}

// decodeRawUnicodeEscape decodes the argument of UNICODE: latin-1 text in
// which \uXXXX and \UXXXXXXXX are escapes. Surrogate code points are kept in
// their 3-byte form, as CPython's "surrogatepass" would write them.
func decodeRawUnicodeEscape(p []byte) (string, error) {
	out := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '\\' || i+1 >= len(p) || (p[i+1] != 'u' && p[i+1] != 'U') {
			if c == '\\' && i+1 < len(p) {
				// A backslash pair: neither starts an escape.
				out = append(out, '\\')
				i++
				c = p[i]
			}
			out = appendRune(out, rune(c))
			continue
		}
		n := 4
		if p[i+1] == 'U' {
			n = 8
		}
		if i+2+n > len(p) {
			return "", malformed("truncated \\%cXXXX escape", p[i+1])
		}
		v, err := strconv.ParseUint(string(p[i+2:i+2+n]), 16, 32)
		if err != nil || v > unicodeMax {
			return "", malformed("bad \\%c escape", p[i+1])
		}
		out = appendRune(out, rune(v))
		i += 1 + n
	}
	return string(out), nil
}

const unicodeMax = 0x10ffff

// internTable holds the short strings that nearly every manager message
// carries (module and class names, reply kinds, method names), so that
// decoding them does not allocate.
var internTable = func() map[string]Value {
	m := map[string]Value{}
	for _, s := range strings.Fields(`builtins set frozenset bytearray bytes complex slice range list tuple
		_codecs encode latin1 copyreg _reconstructor __newobj__ __newobj_ex__ object
		collections OrderedDict defaultdict datetime decimal Decimal
		multiprocessing.managers Token RebuildProxy AutoProxy ListProxy DictProxy ValueProxy
		#RETURN #ERROR #TRACEBACK #PROXY #UNSERIALIZABLE
		__getitem__ __setitem__ __delitem__ __len__ __contains__ __iter__ __next__ __repr__ __str__
		get set put get_nowait put_nowait append extend pop insert remove index count keys values
		items update setdefault popitem clear copy acquire release wait notify notify_all
		incref decref create accept_connection dummy shutdown debug_info number_of_objects
		value exposed typeid address id pickle`) {
		m[s] = s
	}
	return m
}()

// appendRune appends r as UTF-8, writing surrogates in their 3-byte form.
func appendRune(b []byte, r rune) []byte {
	if r >= 0xd800 && r <= 0xdfff {
		return append(b, 0xed, byte(0xa0|(r>>6)&0x1f), byte(0x80|r&0x3f))
	}
	return utf8.AppendRune(b, r)
}

// height returns the nesting depth of v, stopping early once it exceeds
// limit. Shared containers are measured once; a container met again inside
// itself counts as a leaf.
func height(v Value, limit int) int {
	h := heightWalker{memo: map[ident]int{}, limit: limit}
	return h.walk(v, 0)
}

func scalars(items []Value) bool {
	for _, c := range items {
		if _, ok := identOf(c); ok {
			return false
		}
	}
	return true
}

type heightWalker struct {
	memo  map[ident]int // -1 while being measured
	limit int
}

func (h *heightWalker) walk(v Value, depth int) int {
	id, ok := identOf(v)
	if !ok {
		return 0
	}
	// Leaf containers (all elements scalars) are the common case: no need
	// to remember them.
	switch x := v.(type) {
	case Tuple:
		if scalars(x) {
			return 1
		}
	case *List:
		if scalars(x.Items) {
			return 1
		}
	}
	if r, seen := h.memo[id]; seen {
		return max(r, 0)
	}
	if depth > h.limit {
		return 1
	}
	h.memo[id] = -1
	best := 0
	visit := func(c Value) bool {
		if x := h.walk(c, depth+1); x > best {
			best = x
		}
		return best+depth <= h.limit
	}
	switch x := v.(type) {
	case Tuple:
		for _, c := range x {
			if !visit(c) {
				break
			}
		}
	case *List:
		for _, c := range x.Items {
			if !visit(c) {
				break
			}
		}
	case *Dict:
		for _, e := range x.t.entries {
			if e.live && (!visit(e.key) || !visit(e.value)) {
				break
			}
		}
	case *Set:
		for _, e := range x.t.entries {
			if e.live && !visit(e.key) {
				break
			}
		}
	case *FrozenSet:
		for _, e := range x.t.entries {
			if e.live && !visit(e.key) {
				break
			}
		}
	case *Object:
		_ = visit(x.Callable) && visit(x.Args) && visit(x.State)
		if x.Kwargs != nil {
			visit(x.Kwargs)
		}
		for _, c := range x.ListItems {
			if !visit(c) {
				break
			}
		}
		for _, it := range x.DictItems {
			if !visit(it.Key) || !visit(it.Value) {
				break
			}
		}
	}
	h.memo[id] = best + 1
	return best + 1
}
