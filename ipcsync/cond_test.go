package ipcsync_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/procshare/procshare/ipcsync"
)

func init() {
	roles["condwait"] = func(ctx context.Context, s *shared, args []int) error {
		if err := s.mu.Lock(ctx); err != nil {
			return err
		}
		s.ready.Add(1)
		for s.counter < uint64(args[0]) {
			if err := s.cond.Wait(ctx, &s.mu); err != nil {
				return err
			}
		}
		s.woke.Add(1)
		s.mu.Unlock()
		return nil
	}
	roles["barrier"] = func(ctx context.Context, s *shared, args []int) error {
		return barrierRounds(ctx, s, args[0])
	}
}

func TestCondProcesses(t *testing.T) {
	t.Parallel()
	s, path := newShared(t)
	const procs, target = 3, 50
	var kids []*child
	for range procs {
		kids = append(kids, spawn(t, path, "condwait", target))
	}
	waitFor(t, "waiters", func() bool { return s.ready.Load() == procs })
	for range target {
		if err := s.mu.Lock(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.counter++
		s.cond.Broadcast()
		s.mu.Unlock()
	}
	for _, k := range kids {
		k.wait(t)
	}
	if s.woke.Load() != procs {
		t.Fatalf("%d of %d waiters saw the condition", s.woke.Load(), procs)
	}
}

func TestCondSignal(t *testing.T) {
	var mu ipcsync.Mutex
	var c ipcsync.Cond
	tokens := 0
	const consumers = 4
	var wg sync.WaitGroup
	for range consumers {
		wg.Go(func() {
			mu.Lock(context.Background())
			for tokens == 0 {
				if err := c.Wait(context.Background(), &mu); err != nil {
					t.Error(err)
				}
			}
			tokens--
			mu.Unlock()
		})
	}
	for range consumers {
		mu.Lock(context.Background())
		tokens++
		c.Signal()
		mu.Unlock()
	}
	wg.Wait()
	if tokens != 0 || mu.Locked() {
		t.Fatalf("tokens = %d, locked = %v", tokens, mu.Locked())
	}
}

func TestCondWaitCancel(t *testing.T) {
	var mu ipcsync.Mutex
	var c ipcsync.Cond
	mu.Lock(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.Wait(ctx, &mu); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want DeadlineExceeded", err)
	}
	if !mu.Locked() {
		t.Fatal("Wait returned without re-locking the mutex")
	}
	mu.Unlock()
}

// barrierRounds waits at s.bar for rounds cycles, checking that nobody is
// released before every party of the cycle has arrived.
func barrierRounds(ctx context.Context, s *shared, rounds int) error {
	parties := int64(s.bar.Parties())
	for r := int64(1); r <= int64(rounds); r++ {
		s.done.Add(1)
		i, err := s.bar.Wait(ctx)
		if err != nil {
			return err
		}
		if s.done.Load() < r*parties {
			s.corrupt.Add(1)
		}
		if i == int(parties)-1 {
			s.deaths.Add(1) // counts the releasing arrivals
		}
	}
	return nil
}

func TestBarrierProcesses(t *testing.T) {
	t.Parallel()
	s, path := newShared(t)
	const procs, rounds = 3, 30
	if err := s.bar.Init(procs + 1); err != nil {
		t.Fatal(err)
	}
	var kids []*child
	for range procs {
		kids = append(kids, spawn(t, path, "barrier", rounds))
	}
	if err := barrierRounds(context.Background(), s, rounds); err != nil {
		t.Fatal(err)
	}
	for _, k := range kids {
		k.wait(t)
	}
	if c := s.corrupt.Load(); c != 0 {
		t.Fatalf("%d parties were released before the cycle was complete", c)
	}
	if n := s.deaths.Load(); n != rounds {
		t.Fatalf("%d releasing arrivals in %d rounds", n, rounds)
	}
	if s.bar.Waiting() != 0 {
		t.Fatalf("Waiting = %d at the end", s.bar.Waiting())
	}
}

func TestBarrierCancel(t *testing.T) {
	var b ipcsync.Barrier
	if _, err := b.Wait(context.Background()); err == nil {
		t.Fatal("Wait on a barrier without parties succeeded")
	}
	if err := b.Init(0); err == nil {
		t.Fatal("Init(0) succeeded")
	}
	b.Init(2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("lone Wait = %v, want DeadlineExceeded", err)
	}
	if b.Waiting() != 0 {
		t.Fatalf("Waiting = %d after a withdrawn Wait", b.Waiting())
	}
	var wg sync.WaitGroup
	idx := make([]int, 2)
	for i := range 2 {
		wg.Go(func() {
			n, err := b.Wait(context.Background())
			if err != nil {
				t.Error(err)
			}
			idx[i] = n
		})
	}
	wg.Wait()
	if idx[0]+idx[1] != 1 {
		t.Fatalf("indices %v, want 0 and 1", idx)
	}
}
