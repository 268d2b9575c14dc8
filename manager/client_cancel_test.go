package manager_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/internal/pyenv"
	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

// fastPoll makes cancellation against CPython managers quick in tests.
var fastPoll = &manager.Config{PollInterval: 20 * time.Millisecond}

// iterations is how many cancellation races a test runs.
func iterations(c *manager.Client) int {
	n := 60
	if !c.Extended() {
		n = 25 // each CPython round takes a poll interval or two
	}
	if testing.Short() {
		n /= 3
	}
	return n
}

// jitter sleeps between 0 and max.
func jitter(max time.Duration) { time.Sleep(rand.N(max)) }

// TestCancelLockRace cancels Lock exactly while the holder releases it, many
// times: whatever Lock returns, the lock must end up held exactly when it
// says so (a grant after cancellation is released).
func TestCancelLockRace(t *testing.T) {
	forEachTarget(t, fastPoll, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		l := get[*manager.Lock](t)(c.NewLock(ctx))
		defer l.Close()
		s := get[*manager.Semaphore](t)(c.NewSemaphore(ctx, 1))
		defer s.Close()
		granted, cancelled := 0, 0
		for range iterations(c) {
			must(t, l.Lock(ctx))
			must(t, s.Acquire(ctx))
			cctx, cancel := context.WithCancel(ctx)
			res := make(chan [2]error, 1)
			go func() { res <- [2]error{l.Lock(cctx), s.Acquire(cctx)} }()
			d := 5 * time.Millisecond
			if !c.Extended() {
				d = 30 * time.Millisecond
			}
			go func() { jitter(d); cancel() }()
			jitter(d)
			must(t, l.Unlock(ctx))
			must(t, s.Release(ctx))
			r := <-res
			cancel()
			for i, err := range r {
				switch {
				case err == nil:
					granted++
					if i == 0 {
						must(t, l.Unlock(ctx))
					} else {
						must(t, s.Release(ctx))
					}
				case errors.Is(err, context.Canceled):
					cancelled++
				default:
					t.Fatalf("acquire: %v", err)
				}
			}
			// Nothing leaked: both are free now, and exactly once.
			if ok := get[bool](t)(l.TryLock(ctx)); !ok {
				t.Fatal("lock left held after a cancelled Lock")
			}
			must(t, l.Unlock(ctx))
			if ok := get[bool](t)(s.TryAcquire(ctx)); !ok {
				t.Fatal("semaphore left acquired after a cancelled Acquire")
			}
			if ok := get[bool](t)(s.TryAcquire(ctx)); ok {
				t.Fatal("semaphore released twice")
			}
			must(t, s.Release(ctx))
		}
		t.Logf("granted %d, cancelled %d", granted, cancelled)
	})
}

// TestCancelQueueRace cancels Get while items arrive, many times: every item
// put is received exactly once, by a Get that returned it or by the final
// drain.
func TestCancelQueueRace(t *testing.T) {
	forEachTarget(t, fastPoll, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		q := get[*manager.Queue](t)(c.NewQueue(ctx, 0))
		defer q.Close()
		n := iterations(c)
		var got []int64
		for i := range n {
			cctx, cancel := context.WithCancel(ctx)
			res := make(chan pickle.Value, 1)
			errc := make(chan error, 1)
			go func() {
				v, err := q.Get(cctx)
				res <- v
				errc <- err
			}()
			d := 5 * time.Millisecond
			if !c.Extended() {
				d = 30 * time.Millisecond
			}
			go func() { jitter(d); cancel() }()
			jitter(d)
			must(t, q.Put(ctx, int64(i)))
			v, err := <-res, <-errc
			cancel()
			switch {
			case err == nil:
				got = append(got, v.(int64))
			case errors.Is(err, context.Canceled):
			default:
				t.Fatalf("Get: %v", err)
			}
		}
		for {
			v, err := q.TryGet(ctx)
			if errors.Is(err, manager.ErrEmpty) {
				break
			}
			must(t, err)
			got = append(got, v.(int64))
		}
		slices.Sort(got)
		want := make([]int64, n)
		for i := range want {
			want[i] = int64(i)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("items received %v, want each of 0..%d once", got, n-1)
		}
	})
}

// TestCancelBlocked checks that a blocked call returns promptly with ctx's
// error, and that the object is untouched.
func TestCancelBlocked(t *testing.T) {
	forEachTarget(t, fastPoll, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		q := get[*manager.Queue](t)(c.NewQueue(ctx, 1))
		defer q.Close()
		e := get[*manager.Event](t)(c.NewEvent(ctx))
		defer e.Close()
		cv := get[*manager.Condition](t)(c.NewCondition(ctx))
		defer cv.Close()
		b := get[*manager.Barrier](t)(c.NewBarrier(ctx, 2))
		defer b.Close()
		j := get[*manager.JoinableQueue](t)(c.NewJoinableQueue(ctx, 0))
		defer j.Close()
		must(t, j.Put(ctx, "pending"))

		short := func() context.Context {
			cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			t.Cleanup(cancel)
			return cctx
		}
		if _, err := q.Get(short()); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Get = %v", err)
		}
		must(t, q.Put(ctx, 1))
		if err := q.Put(short(), 2); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Put on a full queue = %v", err)
		}
		if n := get[int](t)(q.Len(ctx)); n != 1 {
			t.Fatalf("Len = %d after a cancelled Put", n)
		}
		if err := e.Wait(short()); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Event.Wait = %v", err)
		}
		if err := j.Join(short()); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Join = %v", err)
		}
		must(t, cv.Lock(ctx))
		if err := cv.Wait(short()); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Condition.Wait = %v", err)
		}
		// The lock is held again after a cancelled Wait.
		must(t, cv.Notify(ctx, 1))
		must(t, cv.Unlock(ctx))
		if _, err := b.Wait(short()); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Barrier.Wait = %v", err)
		}
		// An already cancelled context sends nothing.
		dead, cancel := context.WithCancel(ctx)
		cancel()
		if err := q.Put(dead, 3); !errors.Is(err, context.Canceled) {
			t.Fatalf("Put(cancelled ctx) = %v", err)
		}
		if v := get[pickle.Value](t)(q.Get(ctx)); v != int64(1) {
			t.Fatalf("Get = %v", v)
		}
	})
}

// TestManyGoroutines shares one client between many goroutines doing
// pipelined and blocking calls at once.
func TestManyGoroutines(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		d := get[*manager.Dict](t)(c.NewDict(ctx, nil))
		defer d.Close()
		q := get[*manager.Queue](t)(c.NewQueue(ctx, 0))
		defer q.Close()
		l := get[*manager.Lock](t)(c.NewLock(ctx))
		defer l.Close()
		sum := get[*manager.Value[int]](t)(manager.NewValue(ctx, c, "i", 0))
		defer sum.Close()
		const workers, ops = 16, 40
		var wg sync.WaitGroup
		errs := make(chan error, workers*2)
		for w := range workers {
			wg.Add(2)
			go func() { // pipelined calls, each goroutine its own keys
				defer wg.Done()
				for i := range ops {
					key := fmt.Sprintf("%d/%d", w, i)
					if err := d.Set(ctx, key, w*1000+i); err != nil {
						errs <- err
						return
					}
					v, err := manager.As[int](d.Get(ctx, key))
					if err != nil || v != w*1000+i {
						errs <- fmt.Errorf("Get(%s) = %d, %v", key, v, err)
						return
					}
				}
			}()
			go func() { // blocking calls: queue hand-off and a lock
				defer wg.Done()
				for i := range ops / 4 {
					if err := q.Put(ctx, i); err != nil {
						errs <- err
						return
					}
					if _, err := q.Get(ctx); err != nil {
						errs <- err
						return
					}
					if err := l.Lock(ctx); err != nil {
						errs <- err
						return
					}
					v, err := sum.Get(ctx)
					if err == nil {
						err = sum.Set(ctx, v+1)
					}
					if err2 := l.Unlock(ctx); err == nil {
						err = err2
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n := get[int](t)(d.Len(ctx)); n != workers*ops {
			t.Fatalf("Len = %d, want %d", n, workers*ops)
		}
		if v := get[int](t)(sum.Get(ctx)); v != workers*ops/4 {
			t.Fatalf("sum = %d, want %d", v, workers*ops/4)
		}
	})
}

// TestServerDies kills the manager under a client with calls blocked and
// in flight: they fail with ErrConnLost instead of hanging, and later calls
// fail clearly.
func TestServerDies(t *testing.T) {
	t.Run("procshare", func(t *testing.T) {
		t.Parallel()
		ctx := ctxT(t)
		key := []byte("secret")
		sock := filepath.Join(t.TempDir(), "m.sock")
		p, err := procshare.Start(serveChild, sock, key)
		must(t, err)
		defer p.Join(ctx)
		defer p.Kill()
		c, err := dialChild(ctx, p, sock, key, nil)
		must(t, err)
		defer c.Close()
		checkDies(t, c, func() { p.Kill() })
	})
	py := pyenv.Latest(t)
	t.Run(py.Name(), func(t *testing.T) {
		t.Parallel()
		ctx := ctxT(t)
		s := startCPython(py, "tcp")
		must(t, s.err)
		c := get[*manager.Client](t)(manager.Dial(ctx, s.addr, s.key, fastPoll))
		defer c.Close()
		checkDies(t, c, func() { s.cmd.Process.Kill(); s.cmd.Wait() })
	})
}

// serveChild runs procshare's server in a child process, until killed.
var serveChild = procshare.Register("manager_test.serveChild", func(ctx context.Context, sock string, key []byte) error {
	srv, err := manager.NewServer(&manager.ServerConfig{Authkey: key})
	if err != nil {
		return err
	}
	ln, err := manager.Listen(manager.Address{Network: "unix", Addr: sock})
	if err != nil {
		return err
	}
	return srv.Serve(ctx, ln)
})

// dialChild dials the server of child process p, waiting for it to listen.
func dialChild(ctx context.Context, p *procshare.Process, sock string, key []byte, cfg *manager.Config) (*manager.Client, error) {
	for {
		c, err := manager.Dial(ctx, sock, key, cfg)
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil || !p.Alive() {
			return nil, fmt.Errorf("dial the child's server: %w", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dialChildServer starts procshare's server in a child process, killed when
// the test ends, and dials it.
func dialChildServer(t testing.TB, ctx context.Context, cfg *manager.Config) (*manager.Client, error) {
	key := []byte("child key")
	sock := filepath.Join(t.TempDir(), "m.sock")
	p, err := procshare.Start(serveChild, sock, key)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		p.Kill()
		p.Join(context.Background())
	})
	return dialChild(ctx, p, sock, key, cfg)
}

func checkDies(t *testing.T, c *manager.Client, kill func()) {
	ctx := ctxT(t)
	q := get[*manager.Queue](t)(c.NewQueue(ctx, 0))
	d := get[*manager.Dict](t)(c.NewDict(ctx, nil))
	blocked := make(chan error, 1)
	go func() {
		_, err := q.Get(ctx)
		blocked <- err
	}()
	must(t, d.Set(ctx, "k", 1))
	time.Sleep(50 * time.Millisecond)
	kill()
	select {
	case err := <-blocked:
		if !errors.Is(err, manager.ErrConnLost) {
			t.Fatalf("blocked Get after the server died = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("blocked Get hangs after the server died")
	}
	err := d.Set(ctx, "k", 2)
	var ne net.Error
	if err == nil || !(errors.Is(err, manager.ErrConnLost) || errors.As(err, &ne) || isDialErr(err)) {
		t.Fatalf("call after the server died = %v", err)
	}
	q.Close()
	d.Close()
}

func isDialErr(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe)
}

// TestPipelinedStress hammers the pipelined connections with short calls
// from many goroutines, mixed with blocking ones that take dedicated
// connections, several times over: every call must get its own reply (a
// lost hand-off of the reading role hangs here).
func TestPipelinedStress(t *testing.T) {
	rounds := 8
	if testing.Short() {
		rounds = 3
	}
	for range rounds {
		c := dialTarget(t, target{name: "procshare"}, &manager.Config{MaxConns: 3})
		ctx := ctxT(t)
		d := get[*manager.Dict](t)(c.NewDict(ctx, nil))
		l := get[*manager.Lock](t)(c.NewLock(ctx))
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 40 {
					if err := d.Set(ctx, fmt.Sprint(w, "/", i), i); err != nil {
						t.Error(err)
						return
					}
					if err := l.Lock(ctx); err != nil {
						t.Error(err)
						return
					}
					if err := l.Unlock(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		if n := get[int](t)(d.Len(ctx)); n != 16*40 {
			t.Fatalf("Len = %d", n)
		}
	}
}
