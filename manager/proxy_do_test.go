package manager_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/manager"
)

// locker is what Do is tested on: Lock, RLock, Condition, Semaphore.
type locker interface {
	Do(ctx context.Context, f func() error) error
	Close() error
}

// testDo checks Do's contract on l; held reports whether l is held (by
// another handle's try).
func testDo(t *testing.T, ctx context.Context, l locker, held func() bool) {
	t.Helper()
	errF := errors.New("f failed")
	ran := false
	err := l.Do(ctx, func() error {
		ran = true
		if !held() {
			t.Error("not held while f runs")
		}
		return errF
	})
	if !ran || err != errF {
		t.Fatalf("Do = %v (ran %v), want f's error", err, ran)
	}
	if held() {
		t.Fatal("held after Do")
	}

	// A panic in f unlocks and goes on.
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the panic of f", r)
			}
		}()
		l.Do(ctx, func() error { panic("boom") })
	}()
	if held() {
		t.Fatal("held after a panic in f")
	}

	// ctx ending while f runs does not leave the lock held.
	cctx, cancel := context.WithCancel(ctx)
	err = l.Do(cctx, func() error { cancel(); return nil })
	if err != nil || held() {
		t.Fatalf("Do with ctx cancelled in f = %v, held %v", err, held())
	}

	// A ctx that ends before the grant: f does not run.
	must(t, l.Do(ctx, func() error {
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		ran := false
		done := make(chan error, 1)
		go func() { done <- l.Do(short, func() error { ran = true; return nil }) }()
		// Another handle blocks on it (a Lock proxy shares its
		// holder with no one: the inner Do waits).
		if err := <-done; !errors.Is(err, context.DeadlineExceeded) || ran {
			t.Errorf("Do while held = %v (ran %v), want ctx's error", err, ran)
		}
		return nil
	}))
	if held() {
		t.Fatal("held after Do")
	}
}

func TestLockDo(t *testing.T) {
	forEachTarget(t, fastPoll, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		l := get[*manager.Lock](t)(c.NewLock(ctx))
		defer l.Close()
		probe := func() bool {
			ok := get[bool](t)(l.TryLock(ctx))
			if ok {
				must(t, l.Unlock(ctx))
			}
			return !ok
		}
		testDo(t, ctx, l, probe)

		s := get[*manager.Semaphore](t)(c.NewSemaphore(ctx, 1))
		defer s.Close()
		testDo(t, ctx, s, func() bool {
			ok := get[bool](t)(s.TryAcquire(ctx))
			if ok {
				must(t, s.Release(ctx))
			}
			return !ok
		})
	})
}

func TestRLockDo(t *testing.T) {
	forEachTarget(t, fastPoll, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		l := get[*manager.RLock](t)(c.NewRLock(ctx))
		defer l.Close()
		// The inner Do of testDo is re-entrant through the same handle:
		// use a second handle for it and for the probe.
		other := get[*manager.RLock](t)(manager.Attach[manager.RLock](ctx, c, l.Token(), l.Exposed()))
		defer other.Close()
		probe := func() bool {
			ok := get[bool](t)(other.TryLock(ctx))
			if ok {
				must(t, other.Unlock(ctx))
			}
			return !ok
		}
		errF := errors.New("f failed")
		if err := l.Do(ctx, func() error {
			if !probe() {
				t.Error("not held while f runs")
			}
			// Re-entrant through the holding handle.
			return l.Do(ctx, func() error { return errF })
		}); err != errF {
			t.Fatalf("Do = %v", err)
		}
		if probe() {
			t.Fatal("held after Do")
		}
		func() {
			defer func() { recover() }()
			l.Do(ctx, func() error { panic("boom") })
		}()
		if probe() {
			t.Fatal("held after a panic in f")
		}
		cv := get[*manager.Condition](t)(c.NewCondition(ctx))
		defer cv.Close()
		must(t, cv.Do(ctx, func() error { return cv.NotifyAll(ctx) }))
	})
}

// doChild adds 1 to a shared Value under a shared Lock, with Do.
var doChild = procshare.Register("manager_test.doChild", func(ctx context.Context, sum *manager.Value[int], lock *manager.Lock) error {
	for range 10 {
		if err := lock.Do(ctx, func() error {
			v, err := sum.Get(ctx)
			if err != nil {
				return err
			}
			return sum.Set(ctx, v+1)
		}); err != nil {
			return err
		}
	}
	return nil
})

// No lost increments across processes that use Lock.Do.
func TestLockDoProcesses(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		sum := get[*manager.Value[int]](t)(manager.NewValue(ctx, c, "i", 0))
		defer sum.Close()
		lock := get[*manager.Lock](t)(c.NewLock(ctx))
		defer lock.Close()
		var ps []*procshare.Process
		for range 4 {
			ps = append(ps, get[*procshare.Process](t)(procshare.Start(doChild, sum, lock)))
		}
		for _, p := range ps {
			must(t, p.Join(ctx))
		}
		if n := get[int](t)(sum.Get(ctx)); n != 40 {
			t.Fatalf("sum = %d, want 40", n)
		}
	})
}
