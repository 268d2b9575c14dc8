package shm_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/procshare/procshare/shm"
)

func TestValueAtomics(t *testing.T) {
	t.Parallel()
	testValueOps[int8](t, 'b', -3)
	testValueOps[uint8](t, 'B', 3)
	testValueOps[int16](t, 'h', -300)
	testValueOps[uint16](t, 'H', 300)
	testValueOps[int32](t, 'i', -70000)
	testValueOps[uint32](t, 'I', 70000)
	testValueOps[int64](t, 'q', -1<<40)
	testValueOps[uint64](t, 'Q', 1<<40)
	testValueOps[float32](t, 'f', 1.5)
	testValueOps[float64](t, 'd', -2.25)
}

func testValueOps[T shm.Number](t *testing.T, code byte, x T) {
	t.Helper()
	v, err := shm.NewValue(x)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if v.Typecode() != code {
		t.Errorf("%T: Typecode = %q, want %q", x, v.Typecode(), code)
	}
	if got := v.Load(); got != x {
		t.Errorf("%T: Load = %v, want %v", x, got, x)
	}
	if got := v.Add(2); got != x+2 || v.Load() != x+2 {
		t.Errorf("%T: Add(2) = %v, want %v", x, got, x+2)
	}
	if old := v.Swap(7); old != x+2 || v.Load() != 7 {
		t.Errorf("%T: Swap = %v", x, old)
	}
	if v.CompareAndSwap(8, 9) || !v.CompareAndSwap(7, 9) || v.Load() != 9 {
		t.Errorf("%T: CompareAndSwap wrong, now %v", x, v.Load())
	}
	v.Store(4)
	if v.LoadRaw() != 4 {
		t.Errorf("%T: LoadRaw after Store = %v", x, v.LoadRaw())
	}
	v.StoreRaw(5)
	if v.Load() != 5 {
		t.Errorf("%T: Load after StoreRaw = %v", x, v.Load())
	}
	// Concurrent adds from goroutines: no lost updates, including the
	// compare-and-swap loops of small ints and floats.
	v.Store(0)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				v.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := v.Load(); got != 100 {
		t.Errorf("%T: 4x25 concurrent Add(1) = %v, want 100", x, got)
	}
}

func TestTypecodeOption(t *testing.T) {
	t.Parallel()
	v, err := shm.NewValue[int64](1, shm.WithTypecode('l'))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if v.Typecode() != 'l' {
		t.Errorf("Typecode = %q, want 'l'", v.Typecode())
	}
	a, err := shm.NewArray[uint64](3, shm.WithTypecode('L'))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Typecode() != 'L' {
		t.Errorf("Typecode = %q", a.Typecode())
	}
	if _, err := shm.NewValue[int32](1, shm.WithTypecode('q')); err == nil {
		t.Error("int32 with typecode 'q': no error")
	}
	if _, err := shm.NewValue[float64](1, shm.WithTypecode('f')); err == nil {
		t.Error("float64 with typecode 'f': no error")
	}
	// Attaching with the other compatible code is refused when explicit.
	seg, _ := shm.New(shm.ValueSize)
	defer seg.Close()
	if _, err := shm.ValueAt[int64](seg, 0, shm.WithTypecode('l')); err != nil {
		t.Fatal(err)
	}
	if _, err := shm.ValueAt[int64](seg, 0); err != nil {
		t.Errorf("attach with default typecode to an 'l' value: %v", err)
	}
	if _, err := shm.ValueAt[int64](seg, 0, shm.WithTypecode('q')); !errors.Is(err, shm.ErrBadHeader) {
		t.Errorf("attach 'q' to an 'l' value: %v, want ErrBadHeader", err)
	}
}

func TestSubWordLanes(t *testing.T) {
	t.Parallel()
	a, err := shm.NewArray[int8](7)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for i := 0; i < 7; i++ {
		a.Store(i, int8(10*i))
	}
	a.Add(3, -100)
	a.Swap(4, 127)
	a.CompareAndSwap(6, 60, -1)
	want := []int8{0, 10, 20, -70, 127, 50, -1}
	got := make([]int8, 7)
	a.CopyTo(got)
	for i := range want {
		if got[i] != want[i] || a.Load(i) != want[i] {
			t.Fatalf("lanes = %v, want %v", got, want)
		}
	}
	h, err := shm.NewArray[uint16](3)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	h.CopyFrom([]uint16{1, 2, 3})
	h.Add(1, math.MaxUint16) // wraps to 1
	if s := h.Slice(); s[0] != 1 || s[1] != 1 || s[2] != 3 {
		t.Errorf("uint16 lanes = %v", s)
	}
}

func TestArrayBasics(t *testing.T) {
	t.Parallel()
	src := []float64{1, 2, 3, 4, 5}
	a, err := shm.NewArrayFrom(src)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Len() != 5 || a.Typecode() != 'd' {
		t.Fatalf("Len %d Typecode %q", a.Len(), a.Typecode())
	}
	if a.Add(2, 0.5) != 3.5 {
		t.Error("Add")
	}
	a.Slice()[4] = 50
	dst := make([]float64, 10)
	if n := a.CopyTo(dst); n != 5 || dst[2] != 3.5 || dst[4] != 50 {
		t.Errorf("CopyTo = %d %v", n, dst)
	}
	func() {
		defer func() {
			r := recover()
			var re *shm.RangeError
			if err, ok := r.(error); !ok || !errors.As(err, &re) || re.Index != 5 {
				t.Errorf("Load(5) panicked with %v, want a *RangeError", r)
			}
		}()
		a.Load(5)
	}()
	empty, err := shm.NewArray[int32](0)
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	if empty.Len() != 0 || len(empty.Slice()) != 0 {
		t.Error("empty array")
	}
	if _, err := shm.NewArray[int32](-1); err == nil {
		t.Error("NewArray(-1): no error")
	}
}

func TestBool(t *testing.T) {
	t.Parallel()
	b, err := shm.NewBool(true)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !b.Load() || b.Typecode() != '?' {
		t.Fatal("NewBool(true)")
	}
	if b.CompareAndSwap(false, true) || !b.CompareAndSwap(true, false) || b.Load() {
		t.Error("CompareAndSwap")
	}
	if b.Swap(true) || !b.Load() {
		t.Error("Swap")
	}
	ba, err := shm.NewBoolArray(5)
	if err != nil {
		t.Fatal(err)
	}
	defer ba.Close()
	ba.CopyFrom([]bool{true, false, true})
	ba.Store(4, true)
	ba.Bytes()[1] = 2 // another tool's "true"
	if !ba.CompareAndSwap(1, true, false) || ba.Load(1) {
		t.Error("CompareAndSwap of a non-1 true byte")
	}
	got := make([]bool, 5)
	ba.CopyTo(got)
	if got[0] != true || got[1] || !got[2] || got[3] || !got[4] {
		t.Errorf("BoolArray = %v", got)
	}
}

func TestLock(t *testing.T) {
	t.Parallel()
	v, err := shm.NewValue[int64](0)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if err := v.Do(context.Background(), func() error {
					v.StoreRaw(v.LoadRaw() + 1)
					return nil
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v.Load() != 800 {
		t.Errorf("locked increments = %d, want 800", v.Load())
	}
	if ok, err := v.TryLock(); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	if ok, _ := v.TryLock(); ok {
		t.Error("second TryLock succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := v.Lock(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Lock with cancelled ctx = %v", err)
	}
	v.Unlock()
}

type celsius float32

// Named types with a numeric underlying type work like their underlying
// type.
func TestNamedElementType(t *testing.T) {
	t.Parallel()
	v, err := shm.NewValue[celsius](20.5)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if v.Add(1) != 21.5 || v.Typecode() != 'f' {
		t.Errorf("Value[celsius]: %v %q", v.Load(), v.Typecode())
	}
	files, meta, _ := v.ShareFiles()
	var w shm.Value[float32]
	if err := w.AttachFiles(files, meta); err != nil || w.Load() != 21.5 {
		t.Errorf("attach as Value[float32]: %v, %v", w.Load(), err)
	}
	w.Close()
}
