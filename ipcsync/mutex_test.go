package ipcsync_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"unsafe"

	"github.com/procshare/procshare/ipcsync"
)

func init() {
	roles["incr"] = roleIncr
}

// lockedIncr does one non-atomic increment of s.counter under s.mu, with a
// yield between the read and the write so that a broken lock loses updates.
// It records ErrOwnerDead and repairs a half-done critical section.
func lockedIncr(ctx context.Context, s *shared) error {
	err := s.mu.Lock(ctx)
	if errors.Is(err, ipcsync.ErrOwnerDead) {
		s.deaths.Add(1)
		if s.dirty != 0 { // roll back the dead owner's half-done update
			s.counter--
			s.dirty = 0
		}
	} else if err != nil {
		return err
	} else if s.dirty != 0 {
		s.corrupt.Add(1)
	}
	v := s.counter
	runtime.Gosched()
	s.counter = v + 1
	s.mu.Unlock()
	return nil
}

// roleIncr: args[0] goroutines each doing args[1] locked increments.
func roleIncr(ctx context.Context, s *shared, args []int) error {
	s.ready.Add(1)
	var wg sync.WaitGroup
	errs := make([]error, args[0])
	for g := range args[0] {
		wg.Go(func() {
			for range args[1] {
				if err := lockedIncr(ctx, s); err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func TestMutexSizeAndZero(t *testing.T) {
	if ipcsync.MutexSize != 16 {
		t.Fatalf("MutexSize = %d, want 16 (the documented layout)", ipcsync.MutexSize)
	}
	var mu ipcsync.Mutex // the zero value is an unlocked, usable mutex
	if mu.Locked() {
		t.Fatal("zero Mutex is locked")
	}
	if err := mu.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !mu.Locked() {
		t.Fatal("Locked() = false after Lock")
	}
	mu.Unlock()
}

func TestNewMutexChecksMemory(t *testing.T) {
	buf := make([]uint64, 4)
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), 32)
	if _, err := ipcsync.NewMutex(mem[:ipcsync.MutexSize-1]); !errors.Is(err, ipcsync.ErrMemory) {
		t.Errorf("short memory: err = %v, want ErrMemory", err)
	}
	if _, err := ipcsync.NewMutex(mem[4:]); !errors.Is(err, ipcsync.ErrMemory) {
		t.Errorf("misaligned memory: err = %v, want ErrMemory", err)
	}
	mu, err := ipcsync.NewMutex(mem[8:])
	if err != nil {
		t.Fatal(err)
	}
	if err := mu.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	if buf[1] == 0 {
		t.Fatal("Lock did not write the owner into the given memory")
	}
	mu.Unlock()
	if buf[1] != 0 {
		t.Fatalf("Unlock left word %#x", buf[1])
	}
}

func TestMutexTryLock(t *testing.T) {
	var mu ipcsync.Mutex
	if ok, err := mu.TryLock(); !ok || err != nil {
		t.Fatalf("TryLock on free mutex = %v, %v", ok, err)
	}
	if ok, err := mu.TryLock(); ok || err != nil {
		t.Fatalf("TryLock on held mutex = %v, %v", ok, err)
	}
	// Another goroutine of the owning process is excluded too.
	res := make(chan bool)
	go func() { ok, _ := mu.TryLock(); res <- ok }()
	if <-res {
		t.Fatal("TryLock from another goroutine succeeded on a held mutex")
	}
	mu.Unlock()
	if ok, _ := mu.TryLock(); !ok {
		t.Fatal("TryLock after Unlock failed")
	}
	mu.Unlock()
}

func TestMutexUnlockUnlockedPanics(t *testing.T) {
	var mu ipcsync.Mutex
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("Unlock of an unlocked mutex did not panic")
		}
	}()
	mu.Unlock()
}

func TestMutexGoroutineExclusion(t *testing.T) {
	t.Parallel()
	var mu ipcsync.Mutex
	var counter, inside int
	goroutines, iters := 8, 2000
	if testing.Short() {
		iters = 500
	}
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range iters {
				if err := mu.Lock(context.Background()); err != nil {
					t.Error(err)
					return
				}
				inside++
				if inside != 1 {
					t.Error("two goroutines inside the critical section")
				}
				v := counter
				runtime.Gosched()
				counter = v + 1
				inside--
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if counter != goroutines*iters {
		t.Fatalf("counter = %d, want %d", counter, goroutines*iters)
	}
}

func TestMutexProcesses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ procs, goroutines, iters int }{
		{4, 1, 3000},
		{3, 4, 1000},
	} {
		t.Run(fmt.Sprintf("%dx%dx%d", tc.procs, tc.goroutines, tc.iters), func(t *testing.T) {
			iters := tc.iters
			if testing.Short() {
				iters /= 4
			}
			s, path := newShared(t)
			var kids []*child
			for range tc.procs {
				kids = append(kids, spawn(t, path, "incr", tc.goroutines, iters))
			}
			// The parent takes part too.
			if err := roleIncr(context.Background(), s, []int{tc.goroutines, iters}); err != nil {
				t.Fatal(err)
			}
			for _, k := range kids {
				k.wait(t)
			}
			want := uint64((tc.procs + 1) * tc.goroutines * iters)
			if s.counter != want {
				t.Fatalf("counter = %d, want %d", s.counter, want)
			}
			if s.mu.Locked() {
				t.Fatal("mutex left locked")
			}
			if d, c := s.deaths.Load(), s.corrupt.Load(); d != 0 || c != 0 {
				t.Fatalf("deaths = %d, corrupt = %d", d, c)
			}
		})
	}
}
