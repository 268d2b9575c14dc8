package shm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/shm"
)

func TestMain(m *testing.M) {
	procshare.Main() // children run their registered function here and exit
	os.Exit(m.Run())
}

// Functions the children run.
var (
	lockedIncr = procshare.Register("shm_test.lockedIncr", func(v *shm.Value[int64], m int) error {
		ctx := context.Background()
		for i := 0; i < m; i++ {
			if err := v.Lock(ctx); err != nil {
				return err
			}
			v.StoreRaw(v.LoadRaw() + 1)
			v.Unlock()
		}
		return v.Close()
	})
	atomicAdd = procshare.Register("shm_test.atomicAdd", func(v *shm.Value[int64], b *shm.Value[uint8], f *shm.Value[float64], m int) error {
		for i := 0; i < m; i++ {
			v.Add(1)
			b.Add(1)
			f.Add(0.5)
		}
		return nil
	})
	writeArray = procshare.Register("shm_test.writeArray", func(a *shm.Array[float64]) error {
		s := a.Slice()
		for i := range s {
			s[i] = float64(i) * 0.5
		}
		return nil
	})
	dieHolding = procshare.Register("shm_test.dieHolding", func(v *shm.Value[int64]) error {
		if err := v.Lock(context.Background()); err != nil {
			return err
		}
		v.StoreRaw(-1) // half-done update
		os.Exit(3)
		return nil
	})
	sharedMix = procshare.Register("shm_test.sharedMix", func(seg *shm.Segment, l *shm.ShareableList, ba *shm.BoolArray, ok *shm.Bool, name string) error {
		if string(seg.Bytes()[:5]) != "hello" {
			return fmt.Errorf("child read %q", seg.Bytes()[:5])
		}
		copy(seg.Bytes()[5:], " child")
		v, err := l.Get(0)
		if err != nil || v != "from parent" {
			return fmt.Errorf("list item 0 = %v, %v", v, err)
		}
		if err := l.Set(1, int64(99)); err != nil {
			return err
		}
		ba.Store(2, true)
		// A named segment opened by name in the child.
		named, err := shm.Open(name)
		if err != nil {
			return err
		}
		defer named.Close()
		nv, err := shm.ValueAt[int64](named, 0)
		if err != nil {
			return err
		}
		nv.Add(5)
		ok.Store(true)
		return nil
	})
	wrongType = procshare.Register("shm_test.wrongType", func(v *shm.Value[int32]) error { return nil })
)

func startAll(t *testing.T, n int, fn *procshare.Func, args ...any) {
	t.Helper()
	ps := make([]*procshare.Process, n)
	for i := range ps {
		p, err := procshare.Start(fn, args...)
		if err != nil {
			t.Fatal(err)
		}
		ps[i] = p
	}
	for _, p := range ps {
		if err := p.Join(context.Background()); err != nil {
			t.Errorf("child %s: %v", p, err)
		}
	}
}

func iterations() int {
	if testing.Short() {
		return 2000
	}
	return 20000
}

// TestLockedIncrementProcesses: N processes each do M locked
// read-modify-write increments; none is lost.
func TestLockedIncrementProcesses(t *testing.T) {
	t.Parallel()
	v, err := shm.NewValue[int64](0)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	const n = 4
	m := iterations()
	startAll(t, n, lockedIncr, v, m)
	if got := v.Load(); got != int64(n*m) {
		t.Errorf("%d processes x %d locked increments = %d, want %d", n, m, got, n*m)
	}
}

// TestAtomicAddProcesses: atomic Add on 64-bit, 8-bit (CAS on the word)
// and float (CAS loop) values from N processes.
func TestAtomicAddProcesses(t *testing.T) {
	t.Parallel()
	v, _ := shm.NewValue[int64](0)
	b, _ := shm.NewValue[uint8](0)
	f, err := shm.NewValue[float64](0)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	defer b.Close()
	defer f.Close()
	const n = 4
	m := iterations()
	startAll(t, n, atomicAdd, v, b, f, m)
	if got := v.Load(); got != int64(n*m) {
		t.Errorf("int64 adds = %d, want %d", got, n*m)
	}
	if got := b.Load(); got != uint8(n*m) {
		t.Errorf("uint8 adds = %d, want %d", got, uint8(n*m))
	}
	if got := f.Load(); got != float64(n*m)/2 {
		t.Errorf("float64 adds = %v, want %v", got, float64(n*m)/2)
	}
}

func TestArrayWrittenByChild(t *testing.T) {
	t.Parallel()
	a, err := shm.NewArray[float64](100000)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	startAll(t, 1, writeArray, a)
	for i, x := range a.Slice() {
		if x != float64(i)*0.5 {
			t.Fatalf("element %d = %v, want %v", i, x, float64(i)*0.5)
		}
	}
}

// TestOwnerDeadProcess: a child dies holding a Value's lock; the parent's
// Lock takes it over and reports ErrOwnerDead.
func TestOwnerDeadProcess(t *testing.T) {
	t.Parallel()
	v, err := shm.NewValue[int64](7)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	p, err := procshare.Start(dieHolding, v)
	if err != nil {
		t.Fatal(err)
	}
	var ee *procshare.ExitError
	if err := p.Join(context.Background()); !errors.As(err, &ee) {
		t.Fatalf("child: %v, want an exit error", err)
	}
	err = v.Lock(context.Background())
	if !errors.Is(err, shm.ErrOwnerDead) {
		t.Fatalf("Lock after the holder died = %v, want ErrOwnerDead", err)
	}
	if v.LoadRaw() != -1 {
		t.Errorf("value = %d, want the dead holder's -1", v.LoadRaw())
	}
	v.StoreRaw(7) // repair
	v.Unlock()
	if err := v.Lock(context.Background()); err != nil {
		t.Errorf("Lock after repair: %v", err)
	}
	v.Unlock()
}

// TestShareSegmentsWithChild passes a Segment, a ShareableList, a BoolArray
// and a Bool through ShareFiles/AttachFiles, and a named segment by name.
func TestShareSegmentsWithChild(t *testing.T) {
	t.Parallel()
	seg, err := shm.New(64)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	copy(seg.Bytes(), "hello")
	l, err := shm.NewShareableList(testName(t, "mixlist"), []any{"from parent", nil})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlink()
	defer l.Close()
	ba, _ := shm.NewBoolArray(3)
	defer ba.Close()
	ok, _ := shm.NewBool(false)
	defer ok.Close()
	name := testName(t, "mixnamed")
	named, err := shm.Create(name, shm.ValueSize)
	if err != nil {
		t.Fatal(err)
	}
	defer named.Close()
	nv, err := shm.ValueAt[int64](named, 0)
	if err != nil {
		t.Fatal(err)
	}
	nv.Store(10)

	startAll(t, 1, sharedMix, seg, l, ba, ok, name)
	if got := string(seg.Bytes()[:11]); got != "hello child" {
		t.Errorf("segment = %q", got)
	}
	if v, err := l.Get(1); err != nil || v != int64(99) {
		t.Errorf("list item 1 = %v, %v", v, err)
	}
	if !ba.Load(2) || ba.Load(0) || !ok.Load() {
		t.Error("bools not written by the child")
	}
	if nv.Load() != 15 {
		t.Errorf("named value = %d, want 15", nv.Load())
	}
}

// TestAttachWrongType: a child whose parameter type differs from the
// parent's Value fails with a header error, not a panic.
func TestAttachWrongType(t *testing.T) {
	t.Parallel()
	v, err := shm.NewValue[int64](1)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	files, meta, err := v.ShareFiles()
	if err != nil {
		t.Fatal(err)
	}
	var w shm.Value[int32]
	if err := w.AttachFiles(files, meta); !errors.Is(err, shm.ErrBadHeader) {
		t.Errorf("AttachFiles into Value[int32] = %v, want ErrBadHeader", err)
	}
	var a shm.Array[int64]
	files, meta, _ = v.ShareFiles()
	if err := a.AttachFiles(files, meta); !errors.Is(err, shm.ErrBadHeader) {
		t.Errorf("AttachFiles of a Value into an Array = %v, want ErrBadHeader", err)
	}
	// procshare itself refuses the mismatch in the parent.
	if _, err := procshare.Start(wrongType, v); err == nil {
		t.Error("procshare.Start with a Value[int64] for a Value[int32] parameter: no error")
	}
}
