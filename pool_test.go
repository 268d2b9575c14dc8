//go:build unix

package procshare_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/procshare/procshare"
)

// job tells poolJob what to do; by default it squares N.
type job struct {
	N       int
	WaitFor string // wait until this file exists (another task started)
	Fail    string // return an error with this message
	Panic   string // panic with this value
	Exit    int    // call os.Exit with this code (when not 0)
	Goexit  bool   // call runtime.Goexit
	PidFile string // write the worker's pid to this file first
	Block   bool   // then wait for the task's context, write PidFile+".cancelled", return its error
}

type jobOut struct {
	N, Square, Pid int
}

var poolJob = procshare.RegisterTask("test.poolJob", func(ctx context.Context, j job) (jobOut, error) {
	for j.WaitFor != "" {
		if _, err := os.Stat(j.WaitFor); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return jobOut{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	if j.PidFile != "" {
		if err := writeFileAtomic(j.PidFile, strconv.Itoa(os.Getpid())); err != nil {
			return jobOut{}, err
		}
	}
	switch {
	case j.Fail != "":
		return jobOut{}, errors.New(j.Fail)
	case j.Panic != "":
		panic(j.Panic)
	case j.Exit != 0:
		os.Exit(j.Exit)
	case j.Goexit:
		runtime.Goexit()
	case j.Block:
		<-ctx.Done()
		if err := writeFileAtomic(j.PidFile+".cancelled", "yes"); err != nil {
			return jobOut{}, err
		}
		return jobOut{}, ctx.Err()
	}
	return jobOut{N: j.N, Square: j.N * j.N, Pid: os.Getpid()}, nil
})

// writeFileAtomic writes a file that a reader sees whole or not at all.
func writeFileAtomic(name, content string) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// waitFile waits for a file written by writeFileAtomic and returns its
// content; it fails the test after a generous deadline (a liveness bound).
func waitFile(t *testing.T, name string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := os.ReadFile(name)
		if err == nil {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was never written", name)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitPidFile(t *testing.T, name string) int {
	t.Helper()
	pid, err := strconv.Atoi(waitFile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// newTestPool starts a pool of n workers running poolJob, closed when the
// test ends; it checks then that every worker it ever saw was reaped.
func newTestPool(t *testing.T, ctx context.Context, n int) *procshare.Pool[job, jobOut] {
	t.Helper()
	p, err := procshare.NewPool(ctx, poolJob, &procshare.PoolConfig{Workers: n})
	if err != nil {
		t.Fatal(err)
	}
	pids := procshare.PoolPids(p)
	t.Cleanup(func() {
		p.Close()
		for _, pid := range pids {
			assertReaped(t, pid)
		}
	})
	return p
}

// assertReaped checks that pid is neither running nor a zombie: the pool
// reaped it before Close returned.
func assertReaped(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		t.Errorf("worker %d still exists after Close (kill 0: %v)", pid, err)
	}
}

func jobs(n int) []job {
	js := make([]job, n)
	for i := range js {
		js[i] = job{N: i}
	}
	return js
}

func TestPoolMap(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, bg, 2)
	for _, tc := range []struct{ n, chunk int }{
		{103, 0}, {103, 1}, {103, 7}, {103, 10}, {103, 1000}, {1, 0}, {0, 0}, {8, 8}, {9, 8},
	} {
		outs, err := p.Map(bg, jobs(tc.n), procshare.WithChunkSize(tc.chunk))
		if err != nil {
			t.Fatalf("%d tasks, chunk size %d: %v", tc.n, tc.chunk, err)
		}
		if len(outs) != tc.n {
			t.Fatalf("%d tasks, chunk size %d: %d results", tc.n, tc.chunk, len(outs))
		}
		for i, o := range outs {
			if o.N != i || o.Square != i*i {
				t.Fatalf("%d tasks, chunk size %d: result %d is %+v", tc.n, tc.chunk, i, o)
			}
		}
	}
}

// Tasks run in the workers, never in the parent.
func TestPoolResultsComeFromWorkers(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, bg, 2)
	pids := procshare.PoolPids(p)
	outs, err := p.Map(bg, jobs(50), procshare.WithChunkSize(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		if !slices.Contains(pids, o.Pid) {
			t.Fatalf("result %+v from pid %d, not one of the workers %v", o, o.Pid, pids)
		}
		if o.Pid == os.Getpid() {
			t.Fatal("a task ran in the parent")
		}
	}
}

func TestPoolImapUnordered(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, bg, 2)
	for _, chunk := range []int{0, 1, 3, 50} {
		seen := map[int]bool{}
		for o, err := range p.ImapUnordered(bg, jobs(50), procshare.WithChunkSize(chunk)) {
			if err != nil {
				t.Fatal(err)
			}
			if seen[o.N] || o.Square != o.N*o.N {
				t.Fatalf("chunk size %d: duplicate or wrong result %+v", chunk, o)
			}
			seen[o.N] = true
		}
		if len(seen) != 50 {
			t.Fatalf("chunk size %d: %d results, want 50", chunk, len(seen))
		}
	}
}

// The ordered iterator yields every result in order, a failed task's error
// in its place, and goes on after failures.
func TestPoolImapOrderedWithFailures(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, bg, 2)
	in := jobs(20)
	in[5].Fail = "five is bad"
	in[11].Panic = "eleven panics"
	i := 0
	for o, err := range p.Imap(bg, in, procshare.WithChunkSize(4)) {
		var te *procshare.TaskError
		switch i {
		case 5:
			if !errors.As(err, &te) || te.Err != "five is bad" || te.Index != 5 {
				t.Errorf("task 5: %v, want the task's error", err)
			}
		case 11:
			if !errors.As(err, &te) || te.Panic != "eleven panics" || te.Index != 11 {
				t.Errorf("task 11: %v, want the task's panic", err)
			}
		default:
			if err != nil || o.N != i || o.Square != i*i {
				t.Errorf("task %d: %+v, %v", i, o, err)
			}
		}
		i++
	}
	if i != 20 {
		t.Fatalf("%d results, want 20", i)
	}
}

// Breaking out of an iteration cancels the rest; the pool goes on.
func TestPoolImapBreak(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, bg, 2)
	dir := t.TempDir()
	blocked := filepath.Join(dir, "blocked")
	in := []job{{N: 0, WaitFor: blocked}, {PidFile: blocked, Block: true}}
	for o, err := range p.Imap(bg, in, procshare.WithChunkSize(1)) {
		if err != nil || o.N != 0 {
			t.Fatalf("first result %+v, %v", o, err)
		}
		break
	}
	waitFile(t, blocked+".cancelled")
	if _, err := p.Map(bg, jobs(10)); err != nil {
		t.Fatal(err)
	}
}

func TestPoolGo(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, bg, 2)
	r := p.Go(bg, job{N: 7})
	o, err := r.Get(bg)
	if err != nil || o.Square != 49 {
		t.Fatalf("Go: %+v, %v", o, err)
	}
	select {
	case <-r.Done():
	default:
		t.Fatal("Done not closed after Get returned")
	}
	if o2, err2 := r.Get(bg); o2 != o || err2 != nil {
		t.Fatalf("second Get: %+v, %v", o2, err2)
	}

	// Many at once, from several goroutines.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			o, err := p.Go(bg, job{N: i}).Get(bg)
			if err != nil || o.Square != i*i {
				t.Errorf("Go(%d): %+v, %v", i, o, err)
			}
		})
	}
	wg.Wait()
}

// A task's error fails that task with the worker's message; the others
// succeed and the worker stays.
func TestPoolTaskError(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, bg, 2)
	pids := procshare.PoolPids(p)
	_, err := p.Go(bg, job{Fail: "no luck today"}).Get(bg)
	var te *procshare.TaskError
	if !errors.As(err, &te) {
		t.Fatalf("Go: %v (%T), want a *TaskError", err, err)
	}
	if te.Err != "no luck today" || te.Task != "test.poolJob" || te.Index != 0 || !slices.Contains(pids, te.Pid) ||
		!strings.HasPrefix(te.Worker, "PoolWorker-") || te.Exit != nil {
		t.Errorf("TaskError %+v", te)
	}
	want := fmt.Sprintf("procshare: task test.poolJob[0] on %s (pid %d) failed: no luck today", te.Worker, te.Pid)
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}

	in := jobs(30)
	in[17].Fail = "seventeen"
	_, err = p.Map(bg, in, procshare.WithChunkSize(1))
	if !errors.As(err, &te) || te.Index != 17 || te.Err != "seventeen" {
		t.Fatalf("Map: %v, want task 17's error", err)
	}
	if got := procshare.PoolPids(p); !slices.Equal(got, pids) {
		t.Errorf("workers changed from %v to %v after task errors", pids, got)
	}
}

// A panicking task fails with the panic value and the child's stack; the
// worker recovers and stays.
func TestPoolPanic(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, bg, 1)
	pids := procshare.PoolPids(p)
	_, err := p.Go(bg, job{Panic: "kaboom"}).Get(bg)
	var te *procshare.TaskError
	if !errors.As(err, &te) || te.Panic != "kaboom" {
		t.Fatalf("Go: %v, want the panic", err)
	}
	if !strings.Contains(te.Stack, "pool_test.go") || !strings.Contains(te.Stack, "panic") {
		t.Errorf("stack does not show the panic in the task:\n%s", te.Stack)
	}
	if !strings.HasSuffix(err.Error(), " panicked: kaboom") {
		t.Errorf("error %q", err)
	}
	if o, err := p.Go(bg, job{N: 3}).Get(bg); err != nil || o.Square != 9 {
		t.Fatalf("after the panic: %+v, %v", o, err)
	}
	if got := procshare.PoolPids(p); !slices.Equal(got, pids) {
		t.Errorf("workers changed from %v to %v after a panic", pids, got)
	}
}

// A worker SIGKILLed while it runs a task fails that task with the signal;
// the task queued behind it on that worker and every other task complete,
// and a new worker takes the dead one's place.
func TestPoolWorkerKilled(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, bg, 2)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "victim")
	in := append([]job{{PidFile: pidFile, Block: true}}, jobs(30)[1:]...)

	type res struct {
		o   jobOut
		err error
	}
	results := make(chan []res, 1)
	go func() {
		var rs []res
		for o, err := range p.Imap(bg, in, procshare.WithChunkSize(1)) {
			rs = append(rs, res{o, err})
		}
		results <- rs
	}()
	victim := waitPidFile(t, pidFile)
	if !slices.Contains(procshare.PoolPids(p), victim) {
		t.Fatalf("task ran in %d, not a worker of %v", victim, procshare.PoolPids(p))
	}
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	rs := <-results
	if len(rs) != len(in) {
		t.Fatalf("%d results, want %d", len(rs), len(in))
	}
	var te *procshare.TaskError
	var ee *procshare.ExitError
	if !errors.As(rs[0].err, &te) || te.Exit == nil || te.Pid != victim || !errors.As(rs[0].err, &ee) || ee.Signal != syscall.SIGKILL || ee.Code != -9 {
		t.Fatalf("the killed task: %v, want a TaskError with the worker's SIGKILL", rs[0].err)
	}
	if msg := rs[0].err.Error(); !strings.Contains(msg, "the worker died: killed by signal 9") || !strings.Contains(msg, strconv.Itoa(victim)) {
		t.Errorf("error %q does not name the death", msg)
	}
	for i, r := range rs[1:] {
		if r.err != nil || r.o.N != i+1 {
			t.Errorf("task %d: %+v, %v", i+1, r.o, r.err)
		}
	}
	pids := procshare.PoolPids(p)
	if len(pids) != 2 || slices.Contains(pids, victim) || slices.Contains(pids, 0) {
		t.Fatalf("workers after the death: %v (victim %d)", pids, victim)
	}
	if outs, err := p.Map(bg, jobs(20), procshare.WithChunkSize(1)); err != nil || len(outs) != 20 {
		t.Fatalf("Map after the death: %v", err)
	}
	waitGone(t, victim)
	p.Close()
	for _, pid := range pids { // the replacements are reaped too
		assertReaped(t, pid)
	}
}

// A task that calls runtime.Goexit fails; the tasks after it in its chunk
// run, on the same worker.
func TestPoolGoexit(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, bg, 1)
	in := jobs(5)
	in[2].Goexit = true
	i := 0
	for o, err := range p.Imap(bg, in, procshare.WithChunkSize(5)) {
		var te *procshare.TaskError
		if i == 2 {
			if !errors.As(err, &te) || te.Panic != "runtime.Goexit called" {
				t.Errorf("task 2: %v, want runtime.Goexit called", err)
			}
		} else if err != nil || o.Square != i*i {
			t.Errorf("task %d: %+v, %v", i, o, err)
		}
		i++
	}
	if i != 5 {
		t.Fatalf("%d results", i)
	}
}

// A task that makes its worker exit fails with the exit code; the pool
// replaces the worker.
func TestPoolWorkerExits(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, bg, 1)
	old := procshare.PoolPids(p)
	_, err := p.Go(bg, job{Exit: 3}).Get(bg)
	var ee *procshare.ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Fatalf("Go: %v, want the worker's exit code 3", err)
	}
	if o, err := p.Go(bg, job{N: 4}).Get(bg); err != nil || o.Square != 16 {
		t.Fatalf("after the exit: %+v, %v", o, err)
	}
	if now := procshare.PoolPids(p); now[0] == old[0] || now[0] == 0 {
		t.Fatalf("workers %v after the exit of %v", now, old)
	}
}

// Cancelling the pool's context mid-Map makes Map return the context's
// error and stops the workers: they exit by themselves, and Close reaps
// them.
func TestPoolContextCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	p, err := procshare.NewPool(ctx, poolJob, &procshare.PoolConfig{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	pids := procshare.PoolPids(p)
	dir := t.TempDir()
	in := make([]job, 6)
	for i := range in {
		in[i] = job{PidFile: filepath.Join(dir, strconv.Itoa(i)), Block: true}
	}
	errc := make(chan error, 1)
	go func() {
		_, err := p.Map(ctx, in, procshare.WithChunkSize(1))
		errc <- err
	}()
	waitPidFile(t, in[0].PidFile)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Map: %v, want context.Canceled", err)
	}
	for _, pid := range pids {
		waitGone(t, pid) // without Close
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		assertReaped(t, pid)
	}
	if _, err := p.Map(bg, jobs(3)); !errors.Is(err, procshare.ErrPoolClosed) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Map after the context ended: %v", err)
	}
}

// Cancelling one call's context cancels its tasks, but not the pool.
func TestPoolCallCancel(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, bg, 2)
	dir := t.TempDir()
	in := make([]job, 6)
	for i := range in {
		in[i] = job{PidFile: filepath.Join(dir, strconv.Itoa(i)), Block: true}
	}
	ctx, cancel := context.WithCancel(bg)
	errc := make(chan error, 1)
	go func() {
		_, err := p.Map(ctx, in, procshare.WithChunkSize(1))
		errc <- err
	}()
	waitPidFile(t, in[0].PidFile)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Map: %v, want context.Canceled", err)
	}
	waitFile(t, in[0].PidFile+".cancelled")
	// The workers are free again: the blocked tasks saw their cancellation.
	ctx2, cancel2 := context.WithTimeout(bg, 60*time.Second)
	defer cancel2()
	if outs, err := p.Map(ctx2, jobs(10)); err != nil || len(outs) != 10 {
		t.Fatalf("Map after a cancelled call: %v", err)
	}

	// Go's context cancels its task too.
	gctx, gcancel := context.WithCancel(bg)
	pf := filepath.Join(dir, "go")
	r := p.Go(gctx, job{PidFile: pf, Block: true})
	waitPidFile(t, pf)
	gcancel()
	if _, err := r.Get(bg); !errors.Is(err, context.Canceled) {
		t.Fatalf("Go: %v, want context.Canceled", err)
	}
	waitFile(t, pf+".cancelled")
}

// Map stops at the first failure, errgroup style: it returns that error and
// the other running tasks see their contexts cancelled.
func TestPoolMapFirstFailure(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, bg, 2)
	dir := t.TempDir()
	blocked := filepath.Join(dir, "blocked")
	// The failure waits for the blocked task to start, so that it is
	// cancelled while it runs (a task cancelled before it starts is dropped).
	in := []job{{PidFile: blocked, Block: true}, {WaitFor: blocked, Fail: "first failure"}, {Block: true, PidFile: filepath.Join(dir, "never")}}
	for i := range 20 {
		in = append(in, job{N: i})
	}
	_, err := p.Map(bg, in, procshare.WithChunkSize(1))
	var te *procshare.TaskError
	if !errors.As(err, &te) || te.Err != "first failure" || te.Index != 1 {
		t.Fatalf("Map: %v, want task 1's error", err)
	}
	waitFile(t, blocked+".cancelled")
	if outs, err := p.Map(bg, jobs(5)); err != nil || len(outs) != 5 {
		t.Fatalf("Map after the failure: %v", err)
	}
}

func TestPoolProgress(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, bg, 2)
	for _, tc := range []struct {
		n, chunk, calls int
	}{
		{50, 7, 8},
		{50, 1, 50},
		{100, 0, 8}, // Python's default: 100 tasks in 4 chunks per worker, 13 each
		{10, 100, 1},
	} {
		var got [][2]int
		progress := procshare.WithProgress(func(done, total int) { got = append(got, [2]int{done, total}) })
		if _, err := p.Map(bg, jobs(tc.n), procshare.WithChunkSize(tc.chunk), progress); err != nil {
			t.Fatal(err)
		}
		if len(got) != tc.calls {
			t.Errorf("%d tasks, chunk size %d: %d progress calls, want %d: %v", tc.n, tc.chunk, len(got), tc.calls, got)
		}
		for i, g := range got {
			if g[1] != tc.n || (i > 0 && g[0] <= got[i-1][0]) {
				t.Errorf("%d tasks, chunk size %d: progress %v", tc.n, tc.chunk, got)
				break
			}
		}
		if len(got) > 0 && got[len(got)-1][0] != tc.n {
			t.Errorf("last progress %v, want done = %d", got[len(got)-1], tc.n)
		}
	}
	// Failed tasks count as done; the iterators report progress too.
	var last [2]int
	in := jobs(9)
	in[4].Fail = "x"
	for range p.ImapUnordered(bg, in, procshare.WithChunkSize(2), procshare.WithProgress(func(d, n int) { last = [2]int{d, n} })) {
	}
	if last != [2]int{9, 9} {
		t.Errorf("unordered iteration's last progress %v", last)
	}
}

func TestPoolClose(t *testing.T) {
	t.Parallel()
	p, err := procshare.NewPool(bg, poolJob, &procshare.PoolConfig{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.Workers() != 2 {
		t.Errorf("Workers() = %d", p.Workers())
	}
	pids := procshare.PoolPids(p)
	dir := t.TempDir()
	pf := filepath.Join(dir, "running")
	r := p.Go(bg, job{PidFile: pf, Block: true})
	waitPidFile(t, pf)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		assertReaped(t, pid)
	}
	waitFile(t, pf+".cancelled") // Close cancelled the running task
	if _, err := r.Get(bg); !errors.Is(err, procshare.ErrPoolClosed) {
		t.Errorf("running task: %v, want ErrPoolClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Map(bg, jobs(3)); !errors.Is(err, procshare.ErrPoolClosed) {
		t.Errorf("Map after Close: %v", err)
	}
	if _, err := p.Go(bg, job{}).Get(bg); !errors.Is(err, procshare.ErrPoolClosed) {
		t.Errorf("Go after Close: %v", err)
	}
	for _, err := range p.Imap(bg, jobs(3)) {
		if !errors.Is(err, procshare.ErrPoolClosed) {
			t.Errorf("Imap after Close: %v", err)
		}
	}
}

// Close kills a worker whose task ignores its context, after StopTimeout.
func TestPoolCloseKillsStubbornWorker(t *testing.T) {
	t.Parallel()
	p, err := procshare.NewPool(bg, stubbornTask, &procshare.PoolConfig{Workers: 1, StopTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	pids := procshare.PoolPids(p)
	dir := t.TempDir()
	pf := filepath.Join(dir, "stubborn")
	p.Go(bg, pf)
	waitPidFile(t, pf)
	p.Close()
	assertReaped(t, pids[0])
}

// poolParent starts a pool, reports its workers' pids and waits to be
// killed.
var poolParent = procshare.Register("test.poolParent", func(ctx context.Context, out *pipeWriter) error {
	p, err := procshare.NewPool(ctx, poolJob, &procshare.PoolConfig{Workers: 2})
	if err != nil {
		return err
	}
	if _, err := p.Map(ctx, jobs(4)); err != nil { // the workers are up
		return err
	}
	pids := procshare.PoolPids(p)
	out.Printf("%d %d\n", pids[0], pids[1])
	select {}
})

// The workers of a parent killed by SIGKILL die with it: no orphan.
func TestPoolWorkersDieWithParent(t *testing.T) {
	t.Parallel()
	r, w := newPipe(t, "")
	parent, err := procshare.Start(poolParent, w)
	if err != nil {
		t.Fatal(err)
	}
	var a, b int
	if _, err := fmt.Sscan(readLine(t, r), &a, &b); err != nil {
		t.Fatal(err)
	}
	if err := parent.Kill(); err != nil {
		t.Fatal(err)
	}
	parent.Join(bg)
	waitGone(t, a)
	waitGone(t, b)
}

var stubbornTask = procshare.RegisterTask("test.stubbornTask", func(ctx context.Context, pidFile string) (struct{}, error) {
	if err := writeFileAtomic(pidFile, strconv.Itoa(os.Getpid())); err != nil {
		return struct{}{}, err
	}
	select {}
})

func TestPoolConfigErrors(t *testing.T) {
	if _, err := procshare.NewPool(bg, poolJob, &procshare.PoolConfig{Workers: -1}); err == nil {
		t.Error("NewPool with -1 workers succeeded")
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := procshare.NewPool(ctx, poolJob, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("NewPool with a done context: %v", err)
	}
	var nilTask *procshare.Task[int, int]
	if _, err := procshare.NewPool(bg, nilTask, nil); err == nil {
		t.Error("NewPool with a nil task succeeded")
	}
	restore := procshare.ForgetMain()
	_, err := procshare.NewPool(bg, poolJob, nil)
	restore()
	if !errors.Is(err, procshare.ErrNoMain) {
		t.Errorf("NewPool without Main: %v", err)
	}
}

func TestRegisterTaskMisuse(t *testing.T) {
	for _, tc := range []struct {
		name string
		reg  func()
		msg  string
	}{
		{"empty", func() {
			procshare.RegisterTask("", func(context.Context, int) (int, error) { return 0, nil })
		}, "empty name"},
		{"duplicate", func() {
			procshare.RegisterTask("test.poolJob", func(context.Context, int) (int, error) { return 0, nil })
		}, "already registered"},
		{"nil", func() {
			procshare.RegisterTask[int, int]("test.nilTask", nil)
		}, "nil function"},
		{"shared input", func() {
			procshare.RegisterTask("test.sharedIn", func(context.Context, *pipeWriter) (int, error) { return 0, nil })
		}, "shared object"},
		{"channel result", func() {
			procshare.RegisterTask("test.chanOut", func(context.Context, int) (chan int, error) { return nil, nil })
		}, "cannot travel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, tc.msg) {
					t.Errorf("panic %v, want one containing %q", r, tc.msg)
				}
			}()
			tc.reg()
		})
	}
}

// An input that JSON cannot encode fails the call before anything runs,
// naming the input.
func TestPoolInputEncodingError(t *testing.T) {
	t.Parallel()
	p, err := procshare.NewPool(bg, floatTask, &procshare.PoolConfig{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.Map(bg, []float64{1, 2, nan()})
	var te *procshare.TaskError
	if !errors.As(err, &te) || te.Index != 2 || te.Cause == nil {
		t.Fatalf("Map: %v, want a TaskError for input 2", err)
	}
	// A result that cannot be encoded fails its task only.
	outs, err := p.Map(bg, []float64{4, -1})
	if !errors.As(err, &te) || te.Index != 1 || !strings.Contains(te.Err, "encoding the result") {
		t.Fatalf("Map: %v %v, want a TaskError for result 1", outs, err)
	}
}

var floatTask = procshare.RegisterTask("test.floatTask", func(ctx context.Context, x float64) (float64, error) {
	if x < 0 {
		return nan(), nil // JSON has no NaN
	}
	return x / 2, nil
})

func nan() float64 { return math.NaN() }
