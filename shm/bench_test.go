package shm_test

import (
	"context"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/shm"
)

// BenchmarkLockedIncrement is Python's `with v.get_lock(): v.value += 1`.
func BenchmarkLockedIncrement(b *testing.B) {
	b.ReportAllocs()
	v, err := shm.NewValue[int64](0)
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	ctx := context.Background()
	for b.Loop() {
		if err := v.Lock(ctx); err != nil {
			b.Fatal(err)
		}
		v.StoreRaw(v.LoadRaw() + 1)
		v.Unlock()
	}
}

// BenchmarkLockedIncrementDo is the same through Do and a closure.
func BenchmarkLockedIncrementDo(b *testing.B) {
	b.ReportAllocs()
	v, err := shm.NewValue[int64](0)
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	ctx := context.Background()
	incr := func() error { v.StoreRaw(v.LoadRaw() + 1); return nil }
	for b.Loop() {
		v.Do(ctx, incr)
	}
}

// BenchmarkAtomicAdd calls Add on concrete Value types, as a program does
// (a generic helper would add a dictionary-passing call of its own).
func BenchmarkAtomicAdd(b *testing.B) {
	b.Run("int64", func(b *testing.B) {
		v := newBenchValue[int64](b)
		for b.Loop() {
			v.Add(1)
		}
	})
	b.Run("int32", func(b *testing.B) {
		v := newBenchValue[int32](b)
		for b.Loop() {
			v.Add(1)
		}
	})
	b.Run("uint8", func(b *testing.B) {
		v := newBenchValue[uint8](b)
		for b.Loop() {
			v.Add(1)
		}
	})
	b.Run("float64", func(b *testing.B) {
		v := newBenchValue[float64](b)
		for b.Loop() {
			v.Add(1)
		}
	})
}

func newBenchValue[T shm.Number](b *testing.B) *shm.Value[T] {
	b.ReportAllocs()
	v, err := shm.NewValue[T](0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { v.Close() })
	return v
}

func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	v, _ := shm.NewValue[int64](1)
	defer v.Close()
	var s int64
	for b.Loop() {
		s += v.Load()
	}
	runtime.KeepAlive(s)
}

// contender does locked increments until the parent has done its share;
// it sets ready, waits for start, and runs n increments.
var contender = procshare.Register("shm_test.contender", func(v *shm.Value[int64], flags *shm.Array[int32], n int) error {
	ctx := context.Background()
	flags.Store(0, 1) // ready
	for flags.Load(1) == 0 {
		runtime.Gosched()
	}
	for i := 0; i < n; i++ {
		if err := v.Lock(ctx); err != nil {
			return err
		}
		v.StoreRaw(v.LoadRaw() + 1)
		v.Unlock()
	}
	return nil
})

// BenchmarkContendedIncrement2Proc: two processes (this one and a child)
// each do b.N locked increments on one Value; ns/incr is the wall time per
// increment of the pair, as Python's two-process figure is measured.
func BenchmarkContendedIncrement2Proc(b *testing.B) {
	b.ReportAllocs()
	v, _ := shm.NewValue[int64](0)
	defer v.Close()
	flags, _ := shm.NewArray[int32](2)
	defer flags.Close()
	p, err := procshare.Start(contender, v, flags, b.N)
	if err != nil {
		b.Fatal(err)
	}
	for flags.Load(0) == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	flags.Store(1, 1)
	for i := 0; i < b.N; i++ {
		v.Lock(ctx)
		v.StoreRaw(v.LoadRaw() + 1)
		v.Unlock()
	}
	if err := p.Join(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if v.Load() != int64(2*b.N) {
		b.Fatalf("lost increments: %d, want %d", v.Load(), 2*b.N)
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(2*b.N), "ns/incr")
}

const bulkLen = 1_000_000

// bulkWriter writes the whole array from a local slice (Python's
// arr[:] = data) once through its fresh mapping (cold: page-table faults
// included), then bulkWarm more times, and copies the same slice as often
// into a private heap slice (the memcpy floor, same process, same source).
// It stores in took: [0] the cold write, [1] the median warm write, [2] the
// median memcpy, in ns.
var bulkWriter = procshare.Register("shm_test.bulkWriter", func(a *shm.Array[float64], took *shm.Array[int64]) error {
	src := make([]float64, a.Len())
	for i := range src {
		src[i] = float64(i)
	}
	dst := make([]float64, a.Len())
	copy(dst, src)
	start := time.Now()
	a.CopyFrom(src)
	took.Store(0, time.Since(start).Nanoseconds())
	var warm, floor [bulkWarm]int64
	for i := range warm {
		start := time.Now()
		a.CopyFrom(src)
		warm[i] = time.Since(start).Nanoseconds()
		start = time.Now()
		copy(dst, src)
		floor[i] = time.Since(start).Nanoseconds()
	}
	slices.Sort(warm[:])
	slices.Sort(floor[:])
	took.Store(1, warm[bulkWarm/2])
	took.Store(2, floor[bulkWarm/2])
	return nil
})

const bulkWarm = 9

// BenchmarkArrayWriteFromChild: a child writes 1e6 float64 (8 MB) into a
// shared Array. The metrics are the child's own times (process start
// excluded): cold-ns for its first write, through a mapping just made;
// warm-ns, the median of later writes; memcpy-ns, the median of copies of
// the same source into a heap slice in the same child.
func BenchmarkArrayWriteFromChild(b *testing.B) {
	b.ReportAllocs()
	a, err := shm.NewArray[float64](bulkLen)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	clear(a.Slice()) // touch the pages, as Python's Array() memsets them
	took, _ := shm.NewArray[int64](3)
	defer took.Close()
	var sum [3]int64
	for b.Loop() {
		p, err := procshare.Start(bulkWriter, a, took)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Join(context.Background()); err != nil {
			b.Fatal(err)
		}
		for i := range sum {
			sum[i] += took.Load(i)
		}
	}
	if a.Load(bulkLen-1) != bulkLen-1 {
		b.Fatal("child's write not visible")
	}
	b.ReportMetric(float64(sum[0])/float64(b.N), "cold-ns")
	b.ReportMetric(float64(sum[1])/float64(b.N), "warm-ns")
	b.ReportMetric(float64(sum[2])/float64(b.N), "memcpy-ns")
}

// BenchmarkRawAtomicAdd is the hardware floor for Add: sync/atomic on an
// ordinary Go variable.
func BenchmarkRawAtomicAdd(b *testing.B) {
	b.ReportAllocs()
	var x atomic.Int64
	for b.Loop() {
		x.Add(1)
	}
}

// BenchmarkArrayCopyFrom writes 8 MB into a shared Array in this process.
func BenchmarkArrayCopyFrom(b *testing.B) {
	b.ReportAllocs()
	a, err := shm.NewArray[float64](bulkLen)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	src := make([]float64, bulkLen)
	b.SetBytes(8 * bulkLen)
	for b.Loop() {
		a.CopyFrom(src)
	}
}

// BenchmarkMemcpy8MB is the floor: Go's copy of 8 MB between two
// ordinary slices.
func BenchmarkMemcpy8MB(b *testing.B) {
	b.ReportAllocs()
	src := make([]float64, bulkLen)
	dst := make([]float64, bulkLen)
	b.SetBytes(8 * bulkLen)
	for b.Loop() {
		copy(dst, src)
	}
}
