package shm_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/shm"
)

// syncWorker is a child that uses every synchronisation object: it waits
// for the start Event and the Barrier, adds m to two counters that share
// one lock (lock=) under that lock — taken through the Value, the Array or
// the Lock itself, by turns — and reports through the Condition and the
// Semaphore.
var syncWorker = procshare.Register("shm_test.syncWorker", func(ctx context.Context,
	start *shm.Event, bar *shm.Barrier, lk *shm.Lock, total *shm.Value[int64], hist *shm.Array[int64],
	cond *shm.Condition, finished *shm.Value[int64], done *shm.Semaphore, bounded *shm.Semaphore, id, m int) error {
	if err := start.Wait(ctx); err != nil {
		return err
	}
	if _, err := bar.Wait(ctx); err != nil {
		return err
	}
	if err := bounded.Acquire(ctx); err != nil {
		return err
	}
	defer bounded.Release()
	lockers := []interface {
		Lock(context.Context) error
		Unlock()
	}{total, hist, lk}
	for i := range m {
		l := lockers[(id+i)%len(lockers)]
		if err := l.Lock(ctx); err != nil {
			return err
		}
		// Plain reads and writes: only the one shared lock makes them safe.
		if a, b := total.LoadRaw(), hist.LoadRaw(0); a != b {
			l.Unlock()
			return fmt.Errorf("total %d != hist[0] %d under the shared lock", a, b)
		}
		total.StoreRaw(total.LoadRaw() + 1)
		hist.StoreRaw(0, hist.LoadRaw(0)+1)
		l.Unlock()
	}
	if err := cond.Lock(ctx); err != nil {
		return err
	}
	finished.Add(1)
	cond.Broadcast()
	cond.Unlock()
	done.Release()
	return nil
})

// TestSyncObjectsCross passes an Event, a Barrier, a Lock shared by a
// Value and an Array (lock=), a Condition, and bounded and unbounded
// Semaphores to child processes, as Python passes mp.Event() and friends.
func TestSyncObjectsCross(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const n, m = 4, 2000
	start := must(shm.NewEvent())
	bar := must(shm.NewBarrier(n + 1))
	lk := must(shm.NewLock())
	total := must(shm.NewValue[int64](0, shm.WithLock(lk)))
	hist := must(shm.NewArray[int64](2, shm.WithLock(lk)))
	cond := must(shm.NewCondition(nil))
	finished := must(shm.NewValue[int64](0))
	done := must(shm.NewSemaphore(0))
	bounded := must(shm.NewBoundedSemaphore(2))
	for _, c := range []interface{ Close() error }{start, bar, total, hist, cond, finished, done, bounded, lk} {
		defer c.Close()
	}
	if total.Mutex() != lk.Mutex || hist.Mutex() != lk.Mutex {
		t.Fatal("WithLock: the objects do not use the given lock")
	}

	var procs []*procshare.Process
	for id := range n {
		p, err := procshare.Start(syncWorker, start, bar, lk, total, hist, cond, finished, done, bounded, id, m)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	start.Set()
	if _, err := bar.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cond.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cond.WaitFor(ctx, func() bool { return finished.Load() == n }); err != nil {
		t.Fatal(err)
	}
	cond.Unlock()
	for range n {
		if err := done.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range procs {
		if err := p.Join(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := total.Load(); got != n*m {
		t.Errorf("total = %d, want %d", got, n*m)
	}
	if got := hist.Load(0); got != n*m {
		t.Errorf("hist[0] = %d, want %d", got, n*m)
	}
	if got := bounded.Value(); got != 2 {
		t.Errorf("bounded semaphore = %d after the children, want 2", got)
	}
}

var holdLock = procshare.Register("shm_test.holdLock", func(ctx context.Context, lk *shm.Lock, held *shm.Event) error {
	if err := lk.Lock(ctx); err != nil {
		return err
	}
	held.Set()
	<-ctx.Done() // until killed
	return nil
})

// TestLockOwnerKilled kills (SIGKILL) a child holding a shared Lock: the
// parent's Lock takes it over with ErrOwnerDead.
func TestLockOwnerKilled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lk := must(shm.NewLock())
	defer lk.Close()
	held := must(shm.NewEvent())
	defer held.Close()
	p, err := procshare.Start(holdLock, lk, held)
	if err != nil {
		t.Fatal(err)
	}
	if err := held.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := lk.TryLock(); ok {
		t.Fatal("TryLock succeeded while the child holds the lock")
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	p.Join(ctx)
	if err := lk.Lock(ctx); !errors.Is(err, shm.ErrOwnerDead) {
		t.Fatalf("Lock after the owner was killed = %v, want ErrOwnerDead", err)
	}
	lk.Unlock()
}

// TestSyncAttachMismatch attaches an object's metadata to another kind.
func TestSyncAttachMismatch(t *testing.T) {
	t.Parallel()
	ev := must(shm.NewEvent())
	defer ev.Close()
	files, meta, err := ev.ShareFiles()
	if err != nil {
		t.Fatal(err)
	}
	var lk shm.Lock
	if err := lk.AttachFiles(files, meta); !errors.Is(err, shm.ErrBadHeader) {
		t.Fatalf("Lock.AttachFiles of an Event = %v, want ErrBadHeader", err)
	}
	var zero shm.Event
	if _, _, err := zero.ShareFiles(); err == nil {
		t.Fatal("ShareFiles of a zero Event succeeded")
	}
	if _, err := shm.NewValue[int32](0, shm.WithLock(&shm.Lock{})); err == nil {
		t.Fatal("WithLock of a zero Lock succeeded")
	}
	if _, err := shm.NewBarrier(0); err == nil {
		t.Fatal("NewBarrier(0) succeeded")
	}
	if _, err := shm.NewSemaphore(-1); err == nil {
		t.Fatal("NewSemaphore(-1) succeeded")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
