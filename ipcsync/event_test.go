package ipcsync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/procshare/procshare/ipcsync"
)

func init() {
	roles["evwait"] = func(ctx context.Context, s *shared, args []int) error {
		s.ready.Add(1)
		if err := s.ev.Wait(ctx); err != nil {
			return err
		}
		if !s.ev.IsSet() {
			return errors.New("Wait returned but the event is clear")
		}
		s.woke.Add(1)
		return nil
	}
}

func TestEventBasics(t *testing.T) {
	if ipcsync.EventSize != 8 {
		t.Fatalf("EventSize = %d, want 8", ipcsync.EventSize)
	}
	var e ipcsync.Event
	if e.IsSet() {
		t.Fatal("zero Event is set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := e.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait on clear = %v", err)
	}
	e.Set()
	e.Set()
	if !e.IsSet() {
		t.Fatal("IsSet after Set = false")
	}
	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := e.Wait(done); err != nil {
		t.Fatalf("Wait on a set event with a done ctx = %v, want nil", err)
	}
	e.Clear()
	if e.IsSet() {
		t.Fatal("IsSet after Clear")
	}
	res := make(chan error, 1)
	go func() { res <- e.Wait(context.Background()) }()
	e.Set()
	if err := <-res; err != nil {
		t.Fatal(err)
	}
}

func TestEventProcesses(t *testing.T) {
	t.Parallel()
	s, path := newShared(t)
	const procs = 4
	var kids []*child
	for range procs {
		kids = append(kids, spawn(t, path, "evwait"))
	}
	waitFor(t, "waiters", func() bool { return s.ready.Load() == procs })
	if s.woke.Load() != 0 {
		t.Fatal("a waiter passed a clear event")
	}
	s.ev.Set()
	for _, k := range kids {
		k.wait(t)
	}
	if s.woke.Load() != procs {
		t.Fatalf("%d of %d waiters woke", s.woke.Load(), procs)
	}
}
