package pickle_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/procshare/procshare/pickle"
)

// TestDecodeOpcodes covers opcodes and forms that CPython 3 does not write
// for the golden values: hand-written protocol 0 text, py2 names, stack
// manipulation, INST/OBJ.
func TestDecodeOpcodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, pickle, want string
	}{
		{"INT bools", "(I01\nI00\nI-7\nI0x1f\nI+3\nt.", "(True, False, -7, 31, 3)"},
		{"LONG", "(L12345678901234567890L\nL-5\nt.", "(12345678901234567890, -5)"},
		{"FLOAT", "(F1.5\nFinf\nF-nan\nF1e400\nt.", "(1.5, inf, nan, inf)"},
		{"STRING escapes", "S'a\\'b\\n\\x41\\101\\\\'\n.", `"a'b\nAA\\"`},
		{"STRING double quotes", "S\"x\"\n.", "'x'"},
		{"UNICODE raw-unicode-escape", "V\\u20ac\\U0001f600\\u005c\\u000a\xe9\n.", `'€😀\\\né'`},
		{"UNICODE backslash pair", "V\\\\u0041\n.", `'\\\\u0041'`},
		{"PUT/GET", "(lp0\nI1\nag0\na.", "[1, [...]]"},
		{"DICT", "(S'a'\nI1\nS'b'\nI2\nd.", "{'a': 1, 'b': 2}"},
		{"POP, POP_MARK, DUP", "(I1\nI2\n0(I3\n12t.", "(1, 1)"},
		{"POP of an empty mark", "I7\n(0.", "7"},
		{"POP of a mark at the bottom", "(0I7\n.", "7"},
		{"INST without args", "(i__main__\nC\n.", "__main__.C.__new__()"},
		{"INST with args", "(I1\nidecimal\nDecimal\n.", "decimal.Decimal(1)"},
		{"OBJ", "(cdecimal\nDecimal\nS'2'\no.", "decimal.Decimal('2')"},
		{"py2 names", "c__builtin__\nxrange\n(I3\ntR.", "range(0, 3)"},
		{"py2 exceptions", "cexceptions\nKeyError\n.", "builtins.KeyError"},
		{"py2 copy_reg", "ccopy_reg\n_reconstructor\n.", "copyreg._reconstructor"},
		{"protocol 3 keeps names", "\x80\x03c__builtin__\nxrange\n.", "__builtin__.xrange"},
		{"BUILD on object", "\x80\x02cm\nC\n)\x81}X\x01\x00\x00\x00aK\x01sb.", "<m.C.__new__() state={'a': 1}>"},
		{"APPEND on object", "\x80\x02cm\nL\n)RK\x01a(K\x02K\x03e.", "<m.L() items=[1, 2, 3]>"},
		{"SETITEMS on object", "\x80\x02cm\nD\n)R(K\x01K\x02u.", "<m.D() items={1: 2}>"},
		{"NEWOBJ_EX", "\x80\x04\x8c\x01m\x8c\x01K\x93)}\x8c\x01a\x94K\x01s\x92.", "m.K.__new__(a=1)"},
		{"NEWOBJ_EX with a tuple kwargs key", "\x80\x04\x8c\x01m\x8c\x01K\x93)}K\x01\x85K\x02s\x92.", "m.K.__new__((1,)=2)"},
		{"complex via NEWOBJ", "\x80\x02c__builtin__\ncomplex\nG?\xf0\x00\x00\x00\x00\x00\x00K\x02\x86\x81.", "(1+2j)"},
		{"list() of a tuple", "\x80\x03cbuiltins\nlist\nK\x01K\x02\x86\x85R.", "[1, 2]"},
		{"bytes(list)", "\x80\x03cbuiltins\nbytes\n]K\x41a\x85R.", "b'A'"},
		{"set() with unhashable stays opaque", "\x80\x03cbuiltins\nset\n]]a\x85R.", "builtins.set([[]])"},
		{"_codecs.encode other codec stays opaque", "\x80\x03c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00utf-8\x86R.", "_codecs.encode('a', 'utf-8')"},
		{"slice of a list stays opaque", "\x80\x03cbuiltins\nslice\n]\x85R.", "builtins.slice([])"},
		{"trailing data ignored", "N.garbage", "None"},
		{"BININT", "J\xff\xff\xff\xff.", "-1"},
		{"LONG1 negative", "\x80\x02\x8a\x01\xff.", "-1"},
		{"LONG1 empty", "\x80\x02\x8a\x00.", "0"},
		{"LONG4", "\x80\x02\x8b\x09\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80.", "-2361183241434822606848"},
		{"BINSTRING", "T\x02\x00\x00\x00hi.", "'hi'"},
		{"LONG_BINPUT/GET", "]r\x00\x01\x00\x00j\x00\x01\x00\x00\x86.", "([], [])"},
		{"FRAME and MEMOIZE", "\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00]\x94h\x00\x86.", "([], [])"},
		{"BYTEARRAY8", "\x80\x05\x96\x01\x00\x00\x00\x00\x00\x00\x00z.", "bytearray(b'z')"},
	}
	for _, tt := range tests {
		v, err := pickle.Unmarshal([]byte(tt.pickle))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := pickle.Repr(v); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	u64 := func(n uint64) string { return string(binary.LittleEndian.AppendUint64(nil, n)) }
	u32 := func(n uint32) string { return string(binary.LittleEndian.AppendUint32(nil, n)) }
	tests := []struct {
		name, pickle string
		want         error
		op           byte
	}{
		{"empty STOP", ".", pickle.ErrMalformed, '.'},
		{"truncated", "\x80\x04\x8c\x05ab", pickle.ErrTruncated, 0x8c},
		{"no STOP", "N", pickle.ErrTruncated, 0},
		{"unknown opcode", "\xff", pickle.ErrMalformed, 0xff},
		{"protocol 6", "\x80\x06N.", pickle.ErrUnsupported, 0x80},
		{"PERSID", "Pfoo\n.", pickle.ErrUnsupported, 'P'},
		{"BINPERSID", "N" + "Q.", pickle.ErrUnsupported, 'Q'},
		{"EXT1", "\x80\x02\x82\x01.", pickle.ErrUnsupported, 0x82},
		{"NEXT_BUFFER", "\x80\x05\x97.", pickle.ErrUnsupported, 0x97},
		{"READONLY_BUFFER", "\x80\x05N\x98.", pickle.ErrUnsupported, 0x98},
		{"memo miss", "h\x05.", pickle.ErrMalformed, 'h'},
		{"stack underflow", "a.", pickle.ErrMalformed, 'a'},
		{"tuple across a mark", "N(\x86.", pickle.ErrMalformed, 0x86},
		{"unquoted STRING", "Sabc\n.", pickle.ErrMalformed, 'S'},
		{"non-ASCII py2 str", "U\x01\xe9.", pickle.ErrMalformed, 'U'},
		{"bad INT", "I12a\n.", pickle.ErrMalformed, 'I'},
		{"octal-looking INT", "I012\n.", pickle.ErrMalformed, 'I'},
		{"unhashable key", "}]K\x01s.", nil, 's'},
		{"BINUNICODE8 bomb", "\x80\x04\x8d" + u64(1<<60) + ".", pickle.ErrTooLarge, 0x8d},
		{"BINBYTES8 bomb", "\x80\x04\x8e" + u64(1<<62) + ".", pickle.ErrTooLarge, 0x8e},
		{"BYTEARRAY8 bomb", "\x80\x05\x96" + u64(^uint64(0)) + ".", pickle.ErrTooLarge, 0x96},
		{"BINUNICODE bomb", "X" + u32(0xffffffff) + ".", pickle.ErrTooLarge, 'X'},
		{"LONG4 bomb", "\x80\x02\x8b" + u32(0x7fffffff) + ".", pickle.ErrTooLarge, 0x8b},
		{"FRAME bomb", "\x80\x04\x95" + u64(1<<63) + "N.", pickle.ErrTooLarge, 0x95},
		{"deep marks", strings.Repeat("(", 5000) + ".", pickle.ErrTooLarge, '('},
		{"deep tuples", "N" + strings.Repeat("\x85", 5000) + ".", pickle.ErrTooLarge, '.'},
		{"huge text int", "L" + strings.Repeat("9", 5000) + "\n.", pickle.ErrTooLarge, 'L'},
		{"BUILD on list", "]Nb.", pickle.ErrMalformed, 'b'},
	}
	for _, tt := range tests {
		_, err := pickle.Unmarshal([]byte(tt.pickle))
		var de *pickle.DecodeError
		if !errors.As(err, &de) {
			t.Errorf("%s: error %v is not a *DecodeError", tt.name, err)
			continue
		}
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: %v does not wrap %v", tt.name, err, tt.want)
		}
		if de.Op != tt.op {
			t.Errorf("%s: Op = %q, want %q (%v)", tt.name, de.Op, tt.op, err)
		}
		if !strings.HasPrefix(err.Error(), "pickle: ") {
			t.Errorf("%s: message %q", tt.name, err)
		}
	}
	var ue *pickle.UnhashableError
	if _, err := pickle.Unmarshal([]byte("}]K\x01s.")); !errors.As(err, &ue) || ue.Type != "list" {
		t.Errorf("unhashable key: %v", err)
	}
}

// TestDecodeLimits checks that the configured limits hold for pickles that
// are small but expand: memo blow-up, reference blow-up, and nesting built
// after the fact through the memo.
func TestDecodeLimits(t *testing.T) {
	t.Parallel()
	cfg := &pickle.DecoderConfig{MaxMemo: 100, MaxItems: 1000, MaxDepth: 50, MaxInput: 1 << 16}
	var memo bytes.Buffer
	memo.WriteString("\x80\x04N")
	for range 200 {
		memo.WriteString("\x94")
	}
	memo.WriteString(".")
	var refs bytes.Buffer
	refs.WriteString("\x80\x04N\x94")
	for range 2000 {
		refs.WriteString("h\x00")
	}
	refs.WriteString(".")
	// 60 lists, then list i+1 appended to list i through the memo: the
	// nesting is invisible while the lists are built.
	var late bytes.Buffer
	late.WriteString("\x80\x04")
	for i := range 60 {
		late.WriteString("]r" + string(binary.LittleEndian.AppendUint32(nil, uint32(i))) + "0")
	}
	for i := range 59 {
		late.WriteString("j" + string(binary.LittleEndian.AppendUint32(nil, uint32(i))))
		late.WriteString("j" + string(binary.LittleEndian.AppendUint32(nil, uint32(i+1))) + "a0")
	}
	late.WriteString("j\x00\x00\x00\x00.")
	big := bytes.Repeat([]byte("N0"), 1<<16)
	for name, p := range map[string][]byte{"memo": memo.Bytes(), "refs": refs.Bytes(), "late nesting": late.Bytes(), "input": big} {
		_, err := pickle.UnmarshalConfig(p, cfg)
		if !errors.Is(err, pickle.ErrTooLarge) {
			t.Errorf("%s: %v, want ErrTooLarge", name, err)
		}
	}
	// Within the limits the same shapes decode.
	if _, err := pickle.UnmarshalConfig(late.Bytes(), &pickle.DecoderConfig{MaxDepth: 100}); err != nil {
		t.Errorf("late nesting with MaxDepth 100: %v", err)
	}
}

// TestDecoderStream reads several pickles from one stream, then io.EOF.
func TestDecoderStream(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	enc := pickle.NewEncoder(&buf, &pickle.EncoderConfig{Protocol: 2})
	for i := range 3 {
		if err := enc.Encode(pickle.Tuple{int64(i), "x"}); err != nil {
			t.Fatal(err)
		}
	}
	buf.WriteString("\x80\x04N") // truncated
	dec := pickle.NewDecoder(&buf, nil)
	for i := range 3 {
		v, err := dec.Decode()
		if err != nil || !pickle.Equal(v, pickle.Tuple{int64(i), "x"}) {
			t.Fatalf("pickle %d: %s, %v", i, pickle.Repr(v), err)
		}
	}
	if _, err := dec.Decode(); !errors.Is(err, pickle.ErrTruncated) {
		t.Errorf("truncated: %v", err)
	}
	if _, err := pickle.NewDecoder(strings.NewReader(""), nil).Decode(); err != io.EOF {
		t.Errorf("empty stream: %v", err)
	}
	// A lying length prefix on a short stream allocates only what arrives.
	lie := "\x80\x04\x8e" + string(binary.LittleEndian.AppendUint64(nil, 60<<20)) + "abc"
	if _, err := pickle.NewDecoder(strings.NewReader(lie), nil).Decode(); !errors.Is(err, pickle.ErrTruncated) {
		t.Errorf("lying prefix: %v", err)
	}
}

// TestNaNKeys: a NaN key equals nothing, so every one is a new entry; they
// must not share one hash chain (which would make decoding quadratic).
func TestNaNKeys(t *testing.T) {
	t.Parallel()
	var p bytes.Buffer
	p.WriteString("\x80\x04}(")
	for range 50000 {
		p.WriteString("G\x7f\xf8\x00\x00\x00\x00\x00\x00N")
	}
	p.WriteString("u.")
	v, err := pickle.Unmarshal(p.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if n := v.(*pickle.Dict).Len(); n != 50000 {
		t.Errorf("%d NaN keys, want 50000", n)
	}
}

// TestSharedReferenceBomb decodes pickles of a few hundred bytes that
// describe values with 2**60 paths (each level references the previous one
// twice, through the memo) and walks them with every function of the
// package: each must do work linear in the pickle, not in the paths.
func TestSharedReferenceBomb(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"tuple", "list", "dict", "frozenset"} {
		var p bytes.Buffer
		p.WriteString("\x80\x04K\x00\x94") // memo 0 = 0
		for i := range 60 {
			get := "j" + string(binary.LittleEndian.AppendUint32(nil, uint32(i)))
			switch kind {
			case "tuple":
				p.WriteString(get + get + "\x86")
			case "list":
				p.WriteString("](" + get + get + "e")
			case "dict":
				p.WriteString("}(K\x00" + get + "K\x01" + get + "u")
			case "frozenset":
				p.WriteString("(" + get + "K" + string(rune('\x01')) + get + "\x86\x91")
			}
			p.WriteString("\x94")
		}
		p.WriteString(".")
		v, err := pickle.Unmarshal(p.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		w, err := pickle.Unmarshal(p.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if !pickle.Equal(v, w) {
			t.Errorf("%s: two decodings differ", kind)
		}
		if r := pickle.Repr(v); len(r) > 1<<21 {
			t.Errorf("%s: Repr of %d bytes", kind, len(r))
		}
		_, _ = pickle.Hash(v)
		_, _ = pickle.Compare(v, w)
		out, err := pickle.Marshal(v)
		if err != nil {
			t.Fatalf("%s: Marshal: %v", kind, err)
		}
		if len(out) > 4*p.Len() {
			t.Errorf("%s: re-encoding grew from %d to %d bytes: sharing lost", kind, p.Len(), len(out))
		}
		var sink any
		if err := pickle.FromValue(v, &sink); err != nil {
			t.Error(err)
		}
	}
}

// TestRepeatedKeyBomb inserts one large shared tuple as a set element and
// dict key 100000 times: its hash is computed once per pickle, not once per
// insertion.
func TestRepeatedKeyBomb(t *testing.T) {
	t.Parallel()
	var p bytes.Buffer
	p.WriteString("\x80\x04K\x00\x94")
	for i := range 60 {
		get := "j" + string(binary.LittleEndian.AppendUint32(nil, uint32(i)))
		p.WriteString(get + get + "\x86\x94")
	}
	top := "j" + string(binary.LittleEndian.AppendUint32(nil, 60))
	p.WriteString("\x8f(")
	for range 100000 {
		p.WriteString(top)
	}
	p.WriteString("\x90}(")
	for range 50000 {
		p.WriteString(top + "N")
	}
	p.WriteString("u\x86.")
	v, err := pickle.Unmarshal(p.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	tup := v.(pickle.Tuple)
	if tup[0].(*pickle.Set).Len() != 1 || tup[1].(*pickle.Dict).Len() != 1 {
		t.Errorf("got %d elements and %d keys", tup[0].(*pickle.Set).Len(), tup[1].(*pickle.Dict).Len())
	}
}
