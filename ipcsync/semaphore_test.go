package ipcsync_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/procshare/procshare/ipcsync"
)

func init() {
	roles["sem"] = roleSem
	roles["semwait"] = roleSemWait
}

// semLimit is the count the "sem" role's semaphore is initialised with.
const semLimit = 2

// roleSem: args[0] Acquire/Release cycles, checking that at most semLimit
// holders are ever inside.
func roleSem(ctx context.Context, s *shared, args []int) error {
	for range args[0] {
		if err := s.sem.Acquire(ctx); err != nil {
			return err
		}
		if s.inside.Add(1) > semLimit {
			s.corrupt.Add(1)
		}
		runtime.Gosched()
		s.inside.Add(-1)
		s.sem.Release()
	}
	return nil
}

// roleSemWait acquires one unit, then counts itself woken.
func roleSemWait(ctx context.Context, s *shared, args []int) error {
	s.ready.Add(1)
	if err := s.sem.Acquire(ctx); err != nil {
		return err
	}
	s.woke.Add(1)
	return nil
}

func TestSemaphoreBasics(t *testing.T) {
	if ipcsync.SemaphoreSize != 16 {
		t.Fatalf("SemaphoreSize = %d, want 16", ipcsync.SemaphoreSize)
	}
	var s ipcsync.Semaphore
	if s.Value() != 0 || s.TryAcquire() {
		t.Fatal("zero Semaphore is not empty")
	}
	for _, bad := range [][2]int{{-1, 0}, {3, 2}, {0, -1}} {
		if err := s.Init(bad[0], bad[1]); err == nil {
			t.Errorf("Init(%d, %d) succeeded", bad[0], bad[1])
		}
	}
	if err := s.Init(2, 3); err != nil {
		t.Fatal(err)
	}
	first, second, third := s.TryAcquire(), s.TryAcquire(), s.TryAcquire()
	if !first || !second || third {
		t.Fatalf("TryAcquire three times from 2 units: %v %v %v, want true true false", first, second, third)
	}
	s.Release()
	s.Release()
	s.Release()
	if s.Value() != 3 || s.Max() != 3 {
		t.Fatalf("Value = %d, Max = %d; want 3, 3", s.Value(), s.Max())
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Release above the maximum did not panic")
			}
		}()
		s.Release()
	}()
	if s.Value() != 3 {
		t.Fatalf("Value = %d after the refused Release", s.Value())
	}

	buf := make([]uint64, 3)
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), 24)
	if _, err := ipcsync.NewSemaphore(mem[12:]); !errors.Is(err, ipcsync.ErrMemory) {
		t.Errorf("NewSemaphore(misaligned) = %v", err)
	}
	ns, err := ipcsync.NewSemaphore(mem[8:])
	if err != nil {
		t.Fatal(err)
	}
	ns.Init(1, 0)
	if buf[1] != 1 || !ns.TryAcquire() || buf[1] != 0 {
		t.Fatal("the semaphore does not live in the given memory")
	}
}

func TestSemaphoreCancel(t *testing.T) {
	var s ipcsync.Semaphore
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire on empty = %v, want DeadlineExceeded", err)
	}
	s.Release()
	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := s.Acquire(done); !errors.Is(err, context.Canceled) || s.Value() != 1 {
		t.Fatalf("Acquire(cancelled) = %v, Value %d; want Canceled, 1", err, s.Value())
	}
	// Release vs cancel, many times: the count must be conserved.
	iters := 1000
	if testing.Short() {
		iters = 200
	}
	s.Init(0, 0)
	got := 0
	for i := range iters {
		ctx, cancel := context.WithCancel(context.Background())
		res := make(chan error, 1)
		go func() { res <- s.Acquire(ctx) }()
		for range i % 8 {
			runtime.Gosched()
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() { <-start; s.Release() })
		wg.Go(func() { <-start; cancel() })
		close(start)
		wg.Wait()
		err := <-res
		if err == nil {
			got++
		} else if !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		if want := 1 - b2i(err == nil); s.Value() != want {
			t.Fatalf("iteration %d: Acquire = %v, Value = %d, want %d", i, err, s.Value(), want)
		}
		s.Init(0, 0)
	}
	t.Logf("acquired %d of %d", got, iters)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestSemaphoreProcesses(t *testing.T) {
	t.Parallel()
	procs, iters := 3, 2000
	if testing.Short() {
		iters = 400
	}
	s, path := newShared(t)
	if err := s.sem.Init(semLimit, semLimit); err != nil {
		t.Fatal(err)
	}
	var kids []*child
	for range procs {
		kids = append(kids, spawn(t, path, "sem", iters))
	}
	if err := roleSem(context.Background(), s, []int{iters}); err != nil {
		t.Fatal(err)
	}
	for _, k := range kids {
		k.wait(t)
	}
	if c := s.corrupt.Load(); c != 0 {
		t.Fatalf("more than %d holders inside %d times", semLimit, c)
	}
	if s.sem.Value() != semLimit {
		t.Fatalf("Value = %d at the end, want %d", s.sem.Value(), semLimit)
	}
}

// TestSemaphoreWakesProcesses: children block on an empty semaphore; each
// Release lets exactly one through.
func TestSemaphoreWakesProcesses(t *testing.T) {
	t.Parallel()
	s, path := newShared(t)
	const procs = 3
	var kids []*child
	for range procs {
		kids = append(kids, spawn(t, path, "semwait"))
	}
	waitFor(t, "waiters", func() bool { return s.ready.Load() == procs })
	for i := range procs {
		s.sem.Release()
		waitFor(t, "a waiter to wake", func() bool { return s.woke.Load() == int64(i+1) })
		if s.sem.Value() != 0 {
			t.Fatalf("Value = %d after a waiter took the unit", s.sem.Value())
		}
	}
	for _, k := range kids {
		k.wait(t)
	}
}
