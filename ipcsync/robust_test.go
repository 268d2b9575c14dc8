package ipcsync_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/procshare/procshare/ipcsync"
)

func init() {
	roles["victim"] = roleVictim
	roles["hold"] = roleHold
	roles["sleep"] = roleSleep
}

// roleVictim does args[0] locked increments, then locks once more, leaves
// the critical section half done (dirty, counter already bumped), reports
// it holds the lock and sleeps until it is killed.
func roleVictim(ctx context.Context, s *shared, args []int) error {
	for range args[0] {
		if err := lockedIncr(ctx, s); err != nil {
			return err
		}
		s.done.Add(1)
	}
	if err := s.mu.Lock(ctx); err != nil {
		return err
	}
	s.dirty = 1
	s.counter++
	s.held.Store(1)
	time.Sleep(time.Hour)
	return errors.New("victim was not killed")
}

// roleHold locks, reports it, and holds the lock until the parent sets stop.
func roleHold(ctx context.Context, s *shared, args []int) error {
	if err := s.mu.Lock(ctx); err != nil {
		return err
	}
	s.held.Store(1)
	for s.stop.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.mu.Unlock()
	return nil
}

// roleSleep just stays alive until the parent sets stop.
func roleSleep(ctx context.Context, s *shared, args []int) error {
	s.ready.Add(1)
	for s.stop.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	return nil
}

// TestMutexOwnerKilled kills a holder with SIGKILL in the middle of its
// critical section while other processes wait for the lock. Exactly one of
// them must get ErrOwnerDead (and repair the half-done update); all must
// finish; the total must count the victim's completed increments.
func TestMutexOwnerKilled(t *testing.T) {
	t.Parallel()
	for _, reap := range []bool{false, true} {
		name := "zombie"
		if reap {
			name = "reaped"
		}
		t.Run(name, func(t *testing.T) {
			procs, goroutines, iters, before := 3, 2, 500, 200
			if testing.Short() {
				iters, before = 150, 50
			}
			s, path := newShared(t)
			victim := spawn(t, path, "victim", before)
			waitFor(t, "victim to hold the lock", func() bool { return s.held.Load() == 1 })
			var kids []*child
			for range procs {
				kids = append(kids, spawn(t, path, "incr", goroutines, iters))
			}
			waitFor(t, "workers to start", func() bool { return s.ready.Load() == int64(procs) })
			if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if reap {
				victim.cmd.Wait()
			}
			for _, k := range kids {
				k.wait(t)
			}
			if !reap {
				victim.cmd.Wait()
			}
			if d := s.deaths.Load(); d != 1 {
				t.Errorf("ErrOwnerDead seen %d times, want exactly 1", d)
			}
			if c := s.corrupt.Load(); c != 0 {
				t.Errorf("%d critical sections saw the dead owner's half-done state without ErrOwnerDead", c)
			}
			want := uint64(procs*goroutines*iters) + uint64(s.done.Load())
			if s.counter != want || s.dirty != 0 {
				t.Errorf("counter = %d, dirty = %d; want %d, 0 (victim completed %d)", s.counter, s.dirty, want, s.done.Load())
			}
			if s.mu.Locked() {
				t.Error("mutex left locked")
			}
		})
	}
}

// waitChecks waits until this process has made n more owner liveness
// checks than it had made when waitChecks was called.
func waitChecks(t *testing.T, n int64) {
	t.Helper()
	base := ipcsync.LivenessChecks()
	waitFor(t, "liveness checks", func() bool { return ipcsync.LivenessChecks() >= base+n })
}

// lockAsync starts Lock in a goroutine and returns a cancel function and
// the channel of its result.
func lockAsync(mu *ipcsync.Mutex) (context.CancelFunc, <-chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- mu.Lock(ctx) }()
	return cancel, res
}

// TestMutexLiveOwnerNotTakenOver: a child holds the lock and sleeps; a
// waiter goes through many liveness checks and still waits.
func TestMutexLiveOwnerNotTakenOver(t *testing.T) {
	s, path := newShared(t)
	holder := spawn(t, path, "hold")
	waitFor(t, "holder to lock", func() bool { return s.held.Load() == 1 })
	// Two more processes wait, each for one increment.
	waiters := []*child{spawn(t, path, "incr", 1, 1), spawn(t, path, "incr", 1, 1)}
	waitFor(t, "waiters to start", func() bool { return s.ready.Load() == 2 })
	cancel, res := lockAsync(&s.mu)
	waitChecks(t, 5)
	if ok, err := s.mu.TryLock(); ok || err != nil {
		t.Fatalf("TryLock on a live holder's lock = %v, %v", ok, err)
	}
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock = %v, want context.Canceled", err)
	}
	if got := s.mu.Owner(); got != holder.cmd.Process.Pid {
		t.Fatalf("owner = %d, want the holder %d", got, holder.cmd.Process.Pid)
	}
	// Released normally, it is acquired normally.
	cancel, res = lockAsync(&s.mu)
	defer cancel()
	s.stop.Store(1)
	if err := <-res; err != nil {
		t.Fatalf("Lock after the holder released = %v", err)
	}
	s.mu.Unlock()
	holder.wait(t)
	for _, w := range waiters {
		w.wait(t)
	}
	if s.counter != 2 || s.deaths.Load() != 0 || s.corrupt.Load() != 0 {
		t.Fatalf("counter = %d, deaths = %d, corrupt = %d; want 2, 0, 0 (a live holder was taken over?)",
			s.counter, s.deaths.Load(), s.corrupt.Load())
	}
}

// TestMutexForgedOwners forges owner records naming live, dead and reused
// process ids and checks how a waiter judges them.
func TestMutexForgedOwners(t *testing.T) {
	s, path := newShared(t)
	sleeper := spawn(t, path, "sleep")
	waitFor(t, "sleeper", func() bool { return s.ready.Load() == 1 })
	pid := sleeper.cmd.Process.Pid
	tok, ok := ipcsync.StartToken(pid)
	if !ok && runtimeHasStartTimes {
		t.Fatalf("no start token for live pid %d", pid)
	}
	ident := func(pid int, tok uint32) uint64 { return uint64(tok)<<32 | uint64(pid) }

	ns := ipcsync.PIDNamespace()
	if ns == 0 && runtime.GOOS == "linux" {
		t.Fatal("no pid namespace for this process")
	}
	// An owner record: the state word and the record word. legacy records
	// carry no namespace (as older versions and processes that cannot
	// read theirs write); the others name ours, another, or none (0); a
	// pending one has the record word of another, earlier owner (here of
	// pid+1), as before the new owner writes its own.
	type forged struct{ state, record uint64 }
	legacy := func(id uint64) forged { return forged{id, 0} }
	in := func(id uint64, ns uint32) forged {
		id |= ipcsync.FlagNS
		return forged{id, ipcsync.RecordOf(id, ns)}
	}
	pending := func(id uint64, ns uint32) forged {
		f := in(id, ns)
		f.record = in(id+1, ns).record
		return f
	}

	expectDead := func(t *testing.T, f forged) {
		t.Helper()
		s.mu.SetState(f.state)
		s.mu.SetRecord(f.record)
		err := s.mu.Lock(context.Background())
		var od *ipcsync.OwnerDeadError
		if !errors.As(err, &od) || !errors.Is(err, ipcsync.ErrOwnerDead) || od.PID != int(f.state&(1<<30-1)) {
			t.Fatalf("Lock over %#x = %v, want OwnerDeadError for pid %d", f, err, f.state&(1<<30-1))
		}
		if s.mu.Owner() != os.Getpid() {
			t.Fatalf("after takeover owner = %d", s.mu.Owner())
		}
		if st, got := s.mu.State()&^(1<<31), s.mu.Record(); ns != 0 && got != ipcsync.RecordOf(st, ns) {
			t.Fatalf("after takeover record = %#x, want %#x", got, ipcsync.RecordOf(st, ns))
		}
		s.mu.Unlock()
	}
	expectAlive := func(t *testing.T, f forged) {
		t.Helper()
		s.mu.SetState(f.state)
		s.mu.SetRecord(f.record)
		cancel, res := lockAsync(&s.mu)
		waitChecks(t, 4)
		cancel()
		if err := <-res; !errors.Is(err, context.Canceled) {
			t.Fatalf("Lock over live %#x = %v, want context.Canceled", f, err)
		}
		if got := s.mu.State(); got&^(1<<31) != f.state {
			t.Fatalf("state = %#x after cancelled Lock, want %#x", got, f.state)
		}
		if ok, err := s.mu.TryLock(); ok || err != nil {
			t.Fatalf("TryLock over live %#x = %v, %v", f, ok, err)
		}
		s.mu.SetState(0)
	}

	mytok, _ := ipcsync.StartToken(os.Getpid())
	if runtimeHasStartTimes {
		t.Run("reused pid", func(t *testing.T) { expectDead(t, legacy(ident(pid, tok+1))) })
		t.Run("reused pid with waiters", func(t *testing.T) { expectDead(t, legacy(ident(pid, tok^0x8000)|1<<31)) })
		t.Run("own pid, other start", func(t *testing.T) { expectDead(t, legacy(ident(os.Getpid(), mytok+7))) })
		if ns != 0 {
			t.Run("reused pid, our namespace", func(t *testing.T) { expectDead(t, in(ident(pid, tok+1), ns)) })
			t.Run("own pid, other start, our namespace", func(t *testing.T) { expectDead(t, in(ident(os.Getpid(), mytok+7), ns)) })
		}
	}
	t.Run("own pid, start unknown", func(t *testing.T) { expectDead(t, legacy(ident(os.Getpid(), 0))) })
	t.Run("live", func(t *testing.T) { expectAlive(t, legacy(ident(pid, tok))) })
	t.Run("live, start unknown", func(t *testing.T) { expectAlive(t, legacy(ident(pid, 0))) })
	if ns != 0 {
		t.Run("live, our namespace", func(t *testing.T) { expectAlive(t, in(ident(pid, tok), ns)) })
	}
	// Records naming another namespace, or an unknown one, cannot be
	// judged by pid: not even our own pid (pid 1 of two containers), nor a
	// pid that is not in use here.
	t.Run("own pid, other start, other namespace", func(t *testing.T) { expectAlive(t, in(ident(os.Getpid(), mytok+7), ns+1)) })
	t.Run("reused pid, other namespace", func(t *testing.T) { expectAlive(t, in(ident(pid, tok+1), ns+1)) })
	t.Run("reused pid, namespace unknown", func(t *testing.T) { expectAlive(t, in(ident(pid, tok+1), 0)) })
	gone := deadPID(t)
	t.Run("not in use here, other namespace", func(t *testing.T) { expectAlive(t, in(ident(gone, 0), ns+1)) })
	// A record not yet written is no evidence either way (the record word
	// is an earlier owner's), until it has stayed unwritten so long that
	// the owner must have died in between.
	t.Run("live, record pending", func(t *testing.T) { expectAlive(t, pending(ident(pid, tok), ns)) })
	t.Run("own pid, other start, record pending", func(t *testing.T) { expectAlive(t, pending(ident(os.Getpid(), mytok+7), ns+1)) })

	// Now the sleeper dies: as a zombie first, then reaped.
	s.stop.Store(1) // (it would exit by itself; kill it to be sure of the order)
	sleeper.cmd.Process.Signal(syscall.SIGKILL)
	t.Run("zombie", func(t *testing.T) { expectDead(t, legacy(ident(pid, tok))) })
	sleeper.cmd.Wait()
	t.Run("dead", func(t *testing.T) { expectDead(t, legacy(ident(pid, tok))) })
	t.Run("dead, start unknown", func(t *testing.T) { expectDead(t, legacy(ident(pid, 0))) })
	t.Run("dead, other namespace", func(t *testing.T) { expectAlive(t, in(ident(pid, tok), ns+1)) })
	t.Run("dead, namespace unknown", func(t *testing.T) { expectAlive(t, in(ident(pid, tok), 0)) })
	if ns != 0 {
		t.Run("dead, our namespace", func(t *testing.T) { expectDead(t, in(ident(pid, tok), ns)) })
		t.Run("dead, record pending", func(t *testing.T) {
			f := pending(ident(pid, tok), ns+1)
			s.mu.SetState(f.state)
			s.mu.SetRecord(f.record)
			if ok, err := s.mu.TryLock(); ok || err != nil {
				t.Fatalf("TryLock over a pending record = %v, %v; want false, nil", ok, err)
			}
			expectDead(t, f) // by pid, once the record stayed unwritten for recordGrace
		})
	}
}

// runtimeHasStartTimes: the OS tells process start times (see procStart).
const runtimeHasStartTimes = runtime.GOOS == "linux" || runtime.GOOS == "darwin"

// deadPID returns the pid of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	_, path := newShared(t)
	c := spawn(t, path, "sleep")
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
	return c.cmd.Process.Pid
}

// TestMutexHandedOver: the state a polling Unlock leaves for starving
// waiters (pid 0, bit 31) is free: Lock takes it after waiting its turn,
// TryLock at once, and Unlock of it panics as of any unlocked mutex.
func TestMutexHandedOver(t *testing.T) {
	var mu ipcsync.Mutex
	mu.SetState(1 << 31)
	if mu.Locked() || mu.Owner() != 0 {
		t.Fatal("handed-over state reads as locked")
	}
	if err := mu.Lock(context.Background()); err != nil {
		t.Fatalf("Lock of a handed-over mutex = %v", err)
	}
	if mu.Owner() != os.Getpid() {
		t.Fatalf("owner = %d", mu.Owner())
	}
	mu.Unlock()
	mu.SetState(1 << 31)
	if ok, err := mu.TryLock(); !ok || err != nil {
		t.Fatalf("TryLock of a handed-over mutex = %v, %v", ok, err)
	}
	mu.Unlock()
	mu.SetState(1 << 31)
	defer func() {
		if recover() == nil {
			t.Fatal("Unlock of a handed-over (unlocked) mutex did not panic")
		}
	}()
	mu.Unlock()
}
