package pickle_test

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/procshare/procshare/pickle"
)

// TestSizeOfBoundsPickle checks SizeOf's promise that the pickle of a value
// is at most SizeOf + 64 bytes long, on the encode cases and on every value
// decoded from CPython's golden pickles.
func TestSizeOfBoundsPickle(t *testing.T) {
	t.Parallel()
	check := func(name string, v pickle.Value) {
		for _, proto := range []int{2, 3, 4, 5} {
			data, err := pickle.MarshalProtocol(v, proto)
			if err != nil {
				continue
			}
			if n := pickle.SizeOf(v); int64(len(data)) > n+64 {
				t.Errorf("%s: protocol %d pickle of %d bytes, SizeOf %d", name, proto, len(data), n)
			}
		}
	}
	for _, c := range encodeCases() {
		check(c.expr, c.v)
	}
	for _, c := range loadGolden(t) {
		data, _ := hex.DecodeString(c.Hex)
		v, err := pickle.Unmarshal(data)
		if err == nil {
			check(c.Src, v)
		}
	}
}

// TestSizeOfShared: containers shared inside a value count once, strs every
// time they occur (the encoder writes them every time), and a value that
// contains itself is measured.
func TestSizeOfShared(t *testing.T) {
	t.Parallel()
	inner := &pickle.List{Items: []pickle.Value{strings.Repeat("x", 1000)}}
	one := pickle.SizeOf(inner)
	twice := pickle.SizeOf(pickle.Tuple{inner, inner})
	if twice > one+200 {
		t.Errorf("a list referenced twice: SizeOf %d, once %d", twice, one)
	}
	s := strings.Repeat("y", 1000)
	if got := pickle.SizeOf(&pickle.List{Items: []pickle.Value{s, s}}); got < 2000 {
		t.Errorf("a str referenced twice: SizeOf %d, want at least 2000", got)
	}
	rec := &pickle.List{}
	rec.Items = append(rec.Items, rec, int64(5))
	if got := pickle.SizeOf(rec); got <= 0 || got > 200 {
		t.Errorf("recursive list: SizeOf %d", got)
	}
	// A tuple of tuples sharing one element 30 levels deep is linear to
	// walk, not exponential.
	var v pickle.Value = "leaf"
	for range 30 {
		v = pickle.Tuple{v, v}
	}
	if got := pickle.SizeOf(v); got > 10000 {
		t.Errorf("shared tuple tree: SizeOf %d", got)
	}
	if pickle.SizeOf(pickle.SizeOf(v)) != 8 {
		t.Errorf("SizeOf(int) != 8")
	}
}

// TestAppendMarshalLimit: the encoder stops at the limit with ErrLimit,
// leaves dst as it was, and succeeds under it.
func TestAppendMarshalLimit(t *testing.T) {
	t.Parallel()
	big := &pickle.List{}
	for i := range 100000 {
		big.Items = append(big.Items, int64(i))
	}
	dst := []byte("prefix")
	out, err := pickle.AppendMarshalLimit(dst, big, 4, 64<<10)
	if !errors.Is(err, pickle.ErrLimit) || string(out) != "prefix" {
		t.Fatalf("list of 100000 ints under a 64 KiB limit: %q..., %v", out[:min(len(out), 10)], err)
	}
	if cap(out) > 256<<10 {
		t.Errorf("the encoder grew its buffer to %d bytes under a 64 KiB limit", cap(out))
	}
	huge := strings.Repeat("z", 10<<20)
	if _, err := pickle.AppendMarshalLimit(nil, pickle.Tuple{"a", huge}, 4, 1<<20); !errors.Is(err, pickle.ErrLimit) {
		t.Errorf("a 10 MiB str under a 1 MiB limit: %v", err)
	}
	full, err := pickle.AppendMarshalLimit(nil, big, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pickle.AppendMarshalLimit(nil, big, 4, len(full))
	if err != nil || string(got) != string(full) {
		t.Errorf("at exactly its length: %d bytes, %v", len(got), err)
	}
}

// TestReprLimit: the whole repr within the limit, nothing past it.
func TestReprLimit(t *testing.T) {
	t.Parallel()
	d := pickle.NewDict()
	for i := range 200000 {
		d.Set(int64(i), "value")
	}
	full, ok := pickle.ReprLimit(d, 1<<30)
	if !ok || !strings.HasSuffix(full, "199999: 'value'}") || len(full) <= 1<<20 {
		t.Fatalf("ReprLimit of a %d-byte repr: ok=%v, ends %q", len(full), ok, full[max(0, len(full)-20):])
	}
	if cut := pickle.Repr(d); len(cut) > 1<<20+3 || !strings.HasSuffix(cut, "...") {
		t.Errorf("Repr is no longer capped at 1 MiB: %d bytes", len(cut))
	}
	if s, ok := pickle.ReprLimit(d, len(full)-1); ok || s != "" {
		t.Errorf("ReprLimit one byte short: ok=%v, %d bytes", ok, len(s))
	}
	if s, ok := pickle.ReprLimit(d, len(full)); !ok || s != full {
		t.Errorf("ReprLimit at exactly the length: ok=%v", ok)
	}
	if _, ok := pickle.ReprLimit(strings.Repeat("q", 1<<20), 1000); ok {
		t.Error("ReprLimit of a 1 MiB str within 1000 bytes")
	}
}
