package shm_test

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/procshare/procshare/shm"
)

func TestOpenMissing(t *testing.T) {
	t.Parallel()
	name := testName(t, "missing")
	if _, err := shm.Open(name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want fs.ErrNotExist", err)
	}
	if _, err := shm.OpenShareableList(name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenShareableList(missing) = %v, want fs.ErrNotExist", err)
	}
	if err := shm.Remove(name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Remove(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestCreateExisting(t *testing.T) {
	t.Parallel()
	name := testName(t, "exists")
	s, err := shm.Create(name, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Size() != 10 || s.Name() != name || len(s.Bytes()) != 10 {
		t.Errorf("Size %d Name %q len %d", s.Size(), s.Name(), len(s.Bytes()))
	}
	if _, err := shm.Create(name, 10); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create(existing) = %v, want fs.ErrExist", err)
	}
	if err := s.Unlink(); err != nil {
		t.Fatal(err)
	}
	if _, err := shm.Open(name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open after Unlink = %v", err)
	}
	if err := s.Close(); err != nil || s.Close() != nil {
		t.Error("Close not idempotent")
	}
}

func TestBadNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "a/b", "/abs", ".", "..", "nul\x00", ".procshare-x", strings.Repeat("n", shm.MaxNameLen+1)} {
		if _, err := shm.Create(name, 8); !errors.Is(err, shm.ErrBadName) {
			t.Errorf("Create(%q) = %v, want ErrBadName", name, err)
		}
		var ne *shm.NameError
		if _, err := shm.Open(name); name != strings.Repeat("n", shm.MaxNameLen+1) && !errors.As(err, &ne) {
			t.Errorf("Open(%q) = %v, want *NameError", name, err)
		}
	}
	if _, err := shm.Open(strings.Repeat("n", 256)); !errors.Is(err, shm.ErrBadName) {
		t.Errorf("Open(256 bytes) = %v", err)
	}
	if _, err := shm.New(0); err == nil {
		t.Error("New(0): no error")
	}
	if _, err := shm.Create(testName(t, "neg"), -1); err == nil {
		t.Error("Create(size -1): no error")
	}
}

func TestArrayAtErrors(t *testing.T) {
	t.Parallel()
	seg, err := shm.New(shm.ArraySize[float64](10))
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	if _, err := shm.ArrayAt[float64](seg, 0, 11); !errors.Is(err, shm.ErrTooSmall) {
		t.Errorf("ArrayAt 11 in room for 10 = %v, want ErrTooSmall", err)
	}
	if _, err := shm.ArrayAt[float64](seg, 4, 1); err == nil {
		t.Error("misaligned offset: no error")
	}
	if _, err := shm.ArrayAt[float64](seg, 1<<20, 1); !errors.Is(err, shm.ErrTooSmall) {
		t.Errorf("offset beyond the segment = %v", err)
	}
	a, err := shm.ArrayAt[float64](seg, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	a.Store(9, 1)
	if _, err := shm.ArrayAt[float64](seg, 0, 9); !errors.Is(err, shm.ErrBadHeader) {
		t.Errorf("ArrayAt with another length = %v, want ErrBadHeader", err)
	}
	if b, err := shm.ArrayAt[float64](seg, 0, -1); err != nil || b.Len() != 10 || b.Load(9) != 1 {
		t.Errorf("ArrayAt any length = %v", err)
	}
	if _, err := shm.ArrayAt[int64](seg, 0, 10); !errors.Is(err, shm.ErrBadHeader) {
		t.Errorf("ArrayAt[int64] on a 'd' array = %v, want ErrBadHeader", err)
	}
	if _, err := shm.ValueAt[float64](seg, 0); !errors.Is(err, shm.ErrBadHeader) {
		t.Errorf("ValueAt on an array = %v, want ErrBadHeader", err)
	}
	if _, err := shm.ArrayAt[float64](seg, 0, 1<<60); err == nil {
		t.Error("huge length: no error")
	}

	// Corrupt headers: magic, version, length.
	b := seg.Bytes()
	for _, c := range []struct {
		at  int
		val byte
		err error
	}{{0, 'X', shm.ErrBadHeader}, {4, 9, shm.ErrBadHeader}, {6, 3, shm.ErrBadHeader}, {15, 0x7f, shm.ErrTooSmall}} {
		old := b[c.at]
		b[c.at] = c.val
		if _, err := shm.ArrayAt[float64](seg, 0, -1); !errors.Is(err, c.err) {
			t.Errorf("header byte %d = %#x: %v, want %v", c.at, c.val, err, c.err)
		}
		b[c.at] = old
	}
	binary.NativeEndian.PutUint64(b[8:], 1000)
	if _, err := shm.ArrayAt[float64](seg, 0, -1); !errors.Is(err, shm.ErrTooSmall) {
		t.Errorf("length beyond the segment: %v, want ErrTooSmall", err)
	}
	// No header at all, attaching to any length.
	seg2, _ := shm.New(4096)
	defer seg2.Close()
	if _, err := shm.ArrayAt[float64](seg2, 0, -1); !errors.Is(err, shm.ErrBadHeader) {
		t.Errorf("ArrayAt(-1) on zeros = %v, want ErrBadHeader", err)
	}
}

func TestMalformedShareableList(t *testing.T) {
	t.Parallel()
	ne := binary.NativeEndian
	cases := map[string]func(b []byte){
		"negative count":  func(b []byte) { ne.PutUint64(b, 1<<63) },
		"huge count":      func(b []byte) { ne.PutUint64(b, 1<<40) },
		"offsets reverse": func(b []byte) { ne.PutUint64(b, 2); ne.PutUint64(b[16:], 64); ne.PutUint64(b[24:], 8) },
		"offset beyond":   func(b []byte) { ne.PutUint64(b, 1); ne.PutUint64(b[16:], 1<<50) },
		"bad format": func(b []byte) {
			ne.PutUint64(b, 1)
			ne.PutUint64(b[16:], 8)
			copy(b[32:], "zz")
		},
		"format too big for slot": func(b []byte) {
			ne.PutUint64(b, 1)
			ne.PutUint64(b[16:], 8)
			copy(b[32:], "16s")
		},
		"bad code": func(b []byte) {
			ne.PutUint64(b, 1)
			ne.PutUint64(b[16:], 8)
			copy(b[32:], "q")
			b[40] = 9
		},
		"text": func(b []byte) { copy(b, "this is not a ShareableList at all") },
	}
	for what, corrupt := range cases {
		name := testName(t, "badlist")
		seg, err := shm.Create(name, 48)
		if err != nil {
			t.Fatal(err)
		}
		corrupt(seg.Bytes())
		seg.Close()
		if _, err := shm.OpenShareableList(name); !errors.Is(err, shm.ErrBadList) {
			t.Errorf("%s: OpenShareableList = %v, want ErrBadList", what, err)
		}
	}
	// A valid header with a str code on an int format fails on Get only.
	name := testName(t, "badcode")
	l, err := shm.NewShareableList(name, []any{int64(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Segment().Bytes()[l.Segment().Size()-1] = 1 // back-transform: str
	if _, err := l.Get(0); !errors.Is(err, shm.ErrBadList) {
		t.Errorf("Get of q with str code = %v, want ErrBadList", err)
	}
	var re *shm.RangeError
	if _, err := l.Get(1); !errors.As(err, &re) {
		t.Errorf("Get(1) = %v, want *RangeError", err)
	}
}

func TestShareableListValues(t *testing.T) {
	t.Parallel()
	if _, err := shm.NewShareableList(testName(t, "big"), []any{uint64(1 << 63)}); err == nil {
		t.Error("uint64 2**63: no error")
	}
	if _, err := shm.NewShareableList(testName(t, "map"), []any{map[string]int{}}); err == nil {
		t.Error("map item: no error")
	}
	if _, err := shm.NewShareableList(testName(t, "utf8"), []any{"\xff"}); err == nil {
		t.Error("invalid UTF-8: no error")
	}
	l, err := shm.NewShareableList("", []any{int8(-1), float32(0.5), uint16(7), "a\x00", []byte("b\x00\x00")})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlink()
	defer l.Close()
	if !strings.HasPrefix(l.Name(), "psm_") || len(l.Name()) != 12 {
		t.Errorf("random name %q", l.Name())
	}
	items, err := l.Items()
	if err != nil {
		t.Fatal(err)
	}
	// Trailing NULs are lost, as in Python.
	want := []any{int64(-1), 0.5, int64(7), "a", []byte("b")}
	for i := range want {
		if !shmEqual(items[i], want[i]) {
			t.Errorf("item %d = %#v, want %#v", i, items[i], want[i])
		}
	}
	if i, _ := l.Index(7.0); i != 2 {
		t.Errorf("Index(7.0) = %d, want 2", i)
	}
	if i, _ := l.Index("zzz"); i != -1 {
		t.Errorf("Index(missing) = %d", i)
	}
	empty, err := shm.NewShareableList("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Unlink()
	defer empty.Close()
	e2, err := shm.OpenShareableList(empty.Name())
	if err != nil || e2.Len() != 0 || e2.Layout() != shm.LayoutPython39 {
		t.Errorf("empty list reopened: %v", err)
	}
	e2.Close()
}

func shmEqual(a, b any) bool {
	if x, ok := a.([]byte); ok {
		y, ok := b.([]byte)
		return ok && string(x) == string(y)
	}
	return a == b
}

func TestListLayouts(t *testing.T) {
	t.Parallel()
	for _, layout := range []shm.ListLayout{shm.LayoutPython38, shm.LayoutPython39} {
		for _, items := range [][]any{nil, {int64(5), "x"}} {
			l, err := shm.NewShareableList("", items, shm.WithLayout(layout))
			if err != nil {
				t.Fatal(err)
			}
			r, err := shm.OpenShareableList(l.Name())
			if err != nil {
				t.Fatalf("%v %v: %v", layout, items, err)
			}
			got, _ := r.Items()
			if r.Layout() != layout || r.Len() != len(items) || (len(items) > 0 && got[1] != "x") {
				t.Errorf("%v with %v reopened as %v %v", layout, items, r.Layout(), got)
			}
			r.Close()
			l.Unlink()
			l.Close()
		}
	}
	if _, err := shm.NewShareableList("", nil, shm.WithLayout(7)); err == nil {
		t.Error("unknown layout: no error")
	}
}

func TestSegmentShareFiles(t *testing.T) {
	t.Parallel()
	s, err := shm.New(100)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	copy(s.Bytes(), "shared")
	files, meta, err := s.ShareFiles()
	if err != nil {
		t.Fatal(err)
	}
	var c shm.Segment
	if err := c.AttachFiles(files, meta); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Size() != 100 || string(c.Bytes()[:6]) != "shared" {
		t.Errorf("attached segment: size %d, %q", c.Size(), c.Bytes()[:6])
	}
	c.Bytes()[0] = 'S'
	if s.Bytes()[0] != 'S' {
		t.Error("write through the attached mapping not visible")
	}
	files, meta, _ = s.ShareFiles()
	if err := c.AttachFiles(files, meta); err == nil {
		t.Error("AttachFiles on an attached segment: no error")
	}
	var d shm.Segment
	if err := d.AttachFiles(nil, meta); err == nil {
		t.Error("AttachFiles without files: no error")
	}
	files, _, _ = s.ShareFiles()
	if err := d.AttachFiles(files, []byte("{garbage")); err == nil {
		t.Error("AttachFiles with bad metadata: no error")
	}
	files, _, _ = s.ShareFiles()
	if err := d.AttachFiles(files, []byte(`{"size":4096}`)); !errors.Is(err, shm.ErrTooSmall) {
		t.Errorf("AttachFiles claiming more than the file = %v, want ErrTooSmall", err)
	}
	s.Close()
	if _, _, err := s.ShareFiles(); !errors.Is(err, shm.ErrClosed) {
		t.Errorf("ShareFiles after Close = %v, want ErrClosed", err)
	}
}
