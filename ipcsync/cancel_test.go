package ipcsync_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/procshare/procshare/ipcsync"
)

func TestMutexLockDoneContext(t *testing.T) {
	var mu ipcsync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := mu.Lock(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock(cancelled ctx) = %v, want context.Canceled", err)
	}
	if mu.Locked() {
		t.Fatal("Lock with a cancelled ctx took the lock")
	}
	if err := mu.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := mu.Lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock(held, deadline) = %v, want context.DeadlineExceeded", err)
	}
	if mu.Owner() == 0 {
		t.Fatal("timed-out Lock released the lock")
	}
	mu.Unlock()
	if mu.State() != 0 {
		t.Fatalf("state %#x after Unlock", mu.State())
	}
}

// TestMutexCancelAtGrant releases the lock and cancels a waiter's context
// at the same moment, many times: whichever wins, the waiter must hold the
// lock exactly when Lock returned nil, and leave it untouched otherwise.
func TestMutexCancelAtGrant(t *testing.T) {
	t.Parallel()
	iters := 2000
	if testing.Short() {
		iters = 300
	}
	var mu ipcsync.Mutex
	var granted, cancelled int
	for i := range iters {
		if err := mu.Lock(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		res := make(chan error, 1)
		go func() { res <- mu.Lock(ctx) }()
		for range i % 8 { // vary how far the waiter got
			runtime.Gosched()
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { <-start; mu.Unlock() })
		wg.Go(func() { <-start; cancel() })
		close(start)
		wg.Wait()
		switch err := <-res; {
		case err == nil:
			granted++
			if !mu.Locked() {
				t.Fatal("Lock returned nil but the mutex is not locked")
			}
			mu.Unlock()
		case errors.Is(err, context.Canceled):
			cancelled++
			if mu.Locked() {
				t.Fatalf("cancelled Lock left the mutex locked (state %#x)", mu.State())
			}
		default:
			t.Fatalf("Lock = %v", err)
		}
		if mu.State() != 0 {
			t.Fatalf("iteration %d: state %#x, want 0", i, mu.State())
		}
	}
	t.Logf("granted %d, cancelled %d", granted, cancelled)
}

// TestMutexCancelManyWaiters cancels some of several sleeping waiters: the
// others must still be handed the lock in turn.
func TestMutexCancelManyWaiters(t *testing.T) {
	var mu ipcsync.Mutex
	if err := mu.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu2 sync.Mutex
	got := 0
	for i := range 6 {
		c := context.Background()
		if i%2 == 0 {
			c = ctx
		}
		wg.Go(func() {
			if err := mu.Lock(c); err != nil {
				if !errors.Is(err, context.Canceled) {
					t.Error(err)
				}
				return
			}
			mu2.Lock()
			got++
			mu2.Unlock()
			mu.Unlock()
		})
	}
	time.Sleep(20 * time.Millisecond) // let them sleep (not a correctness condition)
	cancel()
	mu.Unlock()
	wg.Wait()
	if got < 3 || mu.State() != 0 {
		t.Fatalf("%d uncancelled waiters got the lock, state %#x", got, mu.State())
	}
}

func TestMutexDo(t *testing.T) {
	var mu ipcsync.Mutex
	ran := false
	if err := mu.Do(context.Background(), func() error {
		ran = mu.Locked()
		return nil
	}); err != nil || !ran {
		t.Fatalf("Do = %v, ran locked = %v", err, ran)
	}
	errX := errors.New("x")
	if err := mu.Do(context.Background(), func() error { return errX }); err != errX && !errors.Is(err, errX) {
		t.Fatalf("Do = %v, want f's error", err)
	}
	func() {
		defer func() { recover() }()
		mu.Do(context.Background(), func() error { panic("boom") })
	}()
	if mu.Locked() {
		t.Fatal("Do left the mutex locked after f panicked")
	}
	// A dead previous owner: f runs, and Do reports the takeover.
	mu.SetState(uint64(deadPID(t)))
	ran = false
	err := mu.Do(context.Background(), func() error { ran = true; return errX })
	if !ran || !errors.Is(err, ipcsync.ErrOwnerDead) || !errors.Is(err, errX) {
		t.Fatalf("Do over a dead owner = %v (ran %v), want ErrOwnerDead and f's error", err, ran)
	}
	if mu.Locked() {
		t.Fatal("Do left the mutex locked")
	}
}

func init() {
	roles["impatient"] = roleImpatient
}

// roleImpatient does args[0] Lock attempts with deadlines from 0 to ~250µs;
// each that succeeds does a locked increment. It counts its successes in
// s.done.
func roleImpatient(ctx context.Context, s *shared, args []int) error {
	var ok int64
	for i := range args[0] {
		c, cancel := context.WithTimeout(ctx, time.Duration(i%6)*50*time.Microsecond)
		err := s.mu.Lock(c)
		cancel()
		switch {
		case err == nil:
			v := s.counter
			runtime.Gosched()
			s.counter = v + 1
			s.mu.Unlock()
			ok++
		case errors.Is(err, context.DeadlineExceeded):
		default:
			return err
		}
	}
	s.done.Store(ok)
	return nil
}

// TestMutexCancelProcesses: processes whose Locks time out all the time
// race with processes doing locked increments. No cancelled Lock may keep
// the lock or lose an update.
func TestMutexCancelProcesses(t *testing.T) {
	t.Parallel()
	iters := 3000
	if testing.Short() {
		iters = 600
	}
	s, path := newShared(t)
	impatient := spawn(t, path, "impatient", iters)
	worker := spawn(t, path, "incr", 2, iters/2)
	impatient.wait(t)
	worker.wait(t)
	if want := uint64(iters) + uint64(s.done.Load()); s.counter != want {
		t.Fatalf("counter = %d, want %d (%d timed Locks succeeded)", s.counter, want, s.done.Load())
	}
	if s.mu.Locked() {
		t.Fatalf("mutex left locked: state %#x", s.mu.State())
	}
	t.Logf("%d of %d impatient Locks succeeded", s.done.Load(), iters)
}
