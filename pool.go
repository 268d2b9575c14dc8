package procshare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Task is a function registered with [RegisterTask]: what the workers of a
// [Pool] run, once per input. The zero value is not usable. A Task is
// immutable and safe for concurrent use.
type Task[In, Out any] struct {
	name string
	fn   func(context.Context, In) (Out, error)
}

// Name returns the name the task was registered under.
func (t *Task[In, Out]) Name() string { return t.name }

// String returns the registered name.
func (t *Task[In, Out]) String() string { return t.name }

// taskRunner is a registered task as a worker sees it.
type taskRunner interface {
	runChunk(ctx context.Context, args json.RawMessage) chunkReply
}

// tasks holds every registered Task, by name. Task names are a namespace of
// their own, apart from Register's.
var tasks struct {
	mu sync.Mutex
	m  map[string]taskRunner
}

// RegisterTask makes fn runnable by the workers of a [Pool] under name, and
// returns the handle that [NewPool] takes.
//
// The worker passes fn a context that is cancelled when the task is
// cancelled (its call's context is done, [Pool.Map] failed on another
// task, an iteration stopped early), when the pool is closed and when the
// worker receives SIGTERM. A returned error fails that task only: the caller
// gets a [*TaskError] with its message. A panic does too (with the panic
// value and stack); the worker recovers it and goes on with the next task,
// as Python's Pool does with an exception.
//
// In and Out travel between the processes as JSON, as plain arguments of
// [Register]'s functions do: numbers, strings, bools, slices, maps, structs
// with exported fields, pointers to these, any. Shared objects (shm values,
// manager proxies) cannot be task inputs or results; pass them to a child
// with [Start] instead.
//
// Call RegisterTask only during package initialization, as Register, so
// that the parent and its workers (the same binary) know the same tasks
// under the same names. It panics on programmer misuse: an empty or
// duplicate name, a nil fn, or an In or Out that cannot travel.
func RegisterTask[In, Out any](name string, fn func(ctx context.Context, in In) (Out, error)) *Task[In, Out] {
	if name == "" {
		panic("procshare: RegisterTask with an empty name")
	}
	if fn == nil {
		panic(fmt.Sprintf("procshare: RegisterTask(%q): nil function", name))
	}
	for _, side := range []struct {
		what string
		t    reflect.Type
	}{{"input", reflect.TypeFor[In]()}, {"result", reflect.TypeFor[Out]()}} {
		if shareable(side.t) {
			panic(fmt.Sprintf("procshare: RegisterTask(%q): %s type %v is a shared object, which cannot be a task's %s (pass it to Start)", name, side.what, side.t, side.what))
		}
		if err := checkJSON(side.t, map[reflect.Type]bool{}); err != nil {
			panic(fmt.Sprintf("procshare: RegisterTask(%q): %s type %v: %v", name, side.what, side.t, err))
		}
	}
	t := &Task[In, Out]{name: name, fn: fn}
	tasks.mu.Lock()
	defer tasks.mu.Unlock()
	if tasks.m == nil {
		tasks.m = make(map[string]taskRunner)
	}
	if _, dup := tasks.m[name]; dup {
		panic(fmt.Sprintf("procshare: RegisterTask(%q): name already registered", name))
	}
	tasks.m[name] = t
	return t
}

// lookupTask returns the task registered under name.
func lookupTask(name string) (taskRunner, bool) {
	tasks.mu.Lock()
	defer tasks.mu.Unlock()
	t, ok := tasks.m[name]
	return t, ok
}

// ErrPoolClosed is the error of a call on a [Pool] that was closed, or whose
// context (NewPool's) is done; in the latter case it also wraps the
// context's error.
var ErrPoolClosed = errors.New("procshare: pool closed")

// TaskError reports a task that failed: its function returned an error
// (Err), panicked (Panic and Stack), or its worker died while running it
// (Exit, also what Unwrap returns, so errors.As finds the *ExitError).
//
// Err, Panic and Stack come from the worker, as text, as in [ExitError].
type TaskError struct {
	Task   string     // the task's registered name
	Index  int        // the task's position among the call's inputs (0 for Pool.Go)
	Worker string     // the worker's name
	Pid    int        // the worker's process id
	Err    string     // the message of the error the task returned, if any
	Panic  string     // the panic value, formatted with %v, if it panicked
	Stack  string     // the panicking goroutine's stack, if it panicked
	Exit   *ExitError // the worker's death, if it died running the task (or its chunk)
	Cause  error      // a failure in the parent (a result that does not decode), if any
}

func (e *TaskError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "procshare: task %s[%d]", e.Task, e.Index)
	if e.Worker != "" {
		fmt.Fprintf(&b, " on %s (pid %d)", e.Worker, e.Pid)
	}
	switch {
	case e.Panic != "":
		fmt.Fprintf(&b, " panicked: %s", e.Panic)
	case e.Exit != nil:
		b.WriteString(": the worker died: ")
		b.WriteString(strings.TrimPrefix(e.Exit.Error(), fmt.Sprintf("procshare: process %s (pid %d) ", e.Exit.Name, e.Exit.Pid)))
	case e.Cause != nil:
		fmt.Fprintf(&b, ": %v", e.Cause)
	default:
		fmt.Fprintf(&b, " failed: %s", e.Err)
	}
	return b.String()
}

// Unwrap returns the worker's *ExitError when it died, or Cause.
func (e *TaskError) Unwrap() error {
	if e.Exit != nil {
		return e.Exit
	}
	return e.Cause
}

// PoolConfig holds a Pool's options. A nil *PoolConfig means all defaults;
// each field's zero value is its default.
type PoolConfig struct {
	// Workers is the number of worker processes. Zero: runtime.NumCPU()
	// (Python's default is os.cpu_count()).
	Workers int

	// Worker holds the workers' process options ([Config]). Its Name, if
	// set, names the workers Name-1, Name-2, … (numbered across the
	// program, replacements included); zero: "PoolWorker". Daemon is
	// ignored: workers always die with the parent, as Python's do. Stdin
	// must be nil (the null device) or an *os.File. The workers share Stdout
	// and Stderr: a writer that is not an *os.File must be safe for
	// concurrent use.
	Worker Config

	// StopTimeout is how long Close waits for a worker to finish its
	// cancelled task and exit before it kills the worker (SIGKILL). Zero:
	// 5 seconds.
	StopTimeout time.Duration
}

// defaultWorkers is the number of workers of a PoolConfig without Workers.
func defaultWorkers() int { return runtime.NumCPU() }

// Pool is a set of worker processes running one registered [Task]: Go's
// multiprocessing.Pool. Create it with [NewPool]; the zero value is not
// usable.
//
// Inputs are sent to the workers in chunks (see [WithChunkSize]); each
// worker runs one chunk at a time, one task after the other, and the next
// chunk waits in its pipe meanwhile. A worker that dies (killed, or its
// task crashed the process) fails the tasks of the chunk it was running
// with a [*TaskError] naming the death, and a new worker takes its place,
// so the pool keeps its size; the chunks sent to it after that one run on
// other workers. Nothing waits for a dead worker.
//
// All methods are safe for concurrent use by multiple goroutines; calls
// running at once share the workers, chunk by chunk, first come first
// served. A Pool is held by the process that created it; its workers have
// no handle on it.
type Pool[In, Out any] struct {
	task *Task[In, Out]
	p    *pool
}

// NewPool starts cfg.Workers worker processes running task, and returns
// once they exist (it does not wait for them to be ready: a first call
// waits, in the pipes, for the workers to set up). cfg may be nil.
//
// ctx bounds the pool's life: when it is done, the pool is closed as by
// Close (the workers are stopped and reaped), and calls return an error
// wrapping both [ErrPoolClosed] and ctx's error. Close must still be
// called to release the pool when ctx is never done.
//
// NewPool returns [ErrNoMain] if the program did not call Main, or the
// error of starting a worker (then none is left running).
func NewPool[In, Out any](ctx context.Context, task *Task[In, Out], cfg *PoolConfig) (*Pool[In, Out], error) {
	if task == nil {
		return nil, errors.New("procshare: NewPool with a nil *Task")
	}
	p, err := newPool(ctx, task.name, cfg)
	if err != nil {
		return nil, err
	}
	return &Pool[In, Out]{task: task, p: p}, nil
}

// Workers returns the number of worker processes (PoolConfig.Workers, or
// its default).
func (p *Pool[In, Out]) Workers() int { return p.p.cfg.Workers }

// Close stops the pool: calls in progress and later ones fail with
// [ErrPoolClosed], the workers' running tasks are cancelled, and each worker
// exits once its task returns (or is killed after PoolConfig.StopTimeout).
// Close returns when every worker has been reaped, so no process of the
// pool is left behind. It is idempotent and returns nil.
func (p *Pool[In, Out]) Close() error {
	p.p.release()
	p.p.stop(ErrPoolClosed)
	return nil
}

// MapOption is an option of one call of [Pool.Map], [Pool.Imap] or
// [Pool.ImapUnordered].
type MapOption func(*mapOptions)

type mapOptions struct {
	chunkSize int
	progress  func(done, total int)
}

// WithChunkSize sends the inputs to the workers n at a time. Larger chunks
// cost less per task (one message each way per chunk) but deliver results,
// progress and a dead worker's failures chunk by chunk. The default is
// Python's for Pool.map: the inputs divided among four chunks per worker,
// rounded up. n < 1 means the default.
func WithChunkSize(n int) MapOption {
	return func(o *mapOptions) { o.chunkSize = n }
}

// WithProgress calls fn(done, total) in the calling goroutine (the one that
// called Map, or that iterates) each time a chunk of tasks completes,
// successfully or not: done counts the completed tasks, total the inputs.
// The last call has done == total, unless the call stopped early.
func WithProgress(fn func(done, total int)) MapOption {
	return func(o *mapOptions) { o.progress = fn }
}

// Map runs the task on every input and returns the results in input order,
// as Python's Pool.map. It is errgroup's first-failure rule: the first task
// to fail ends the call, the tasks not yet done are cancelled (their
// contexts in the workers are cancelled, and those not started are
// dropped), and Map returns that task's [*TaskError]. Map returns ctx.Err()
// when ctx is done first (the tasks are cancelled likewise), and an error
// wrapping ErrPoolClosed when the pool stops. It returns without waiting for
// cancelled tasks to return.
func (p *Pool[In, Out]) Map(ctx context.Context, ins []In, opts ...MapOption) ([]Out, error) {
	outs := make([]Out, len(ins))
	var failed error
	err := p.run(ctx, ins, opts, func(first int, vals []Out, errs []error) bool {
		copy(outs[first:], vals)
		for _, e := range errs {
			if e != nil {
				failed = e
				return false
			}
		}
		return true
	})
	if err == nil {
		err = failed
	}
	if err != nil {
		return nil, err
	}
	return outs, nil
}

// Imap returns an iterator over the results in input order, as Python's
// Pool.imap: each result with nil, or a failed task's zero result with its
// [*TaskError]; a failed task does not stop the others. The tasks start
// when the iteration begins (each iteration runs them anew), and results
// that complete out of order wait until those before them are yielded.
//
// Stopping the iteration early cancels the tasks not yet done. When ctx is
// done or the pool stops, the iterator yields the zero result with that
// error once, and stops.
func (p *Pool[In, Out]) Imap(ctx context.Context, ins []In, opts ...MapOption) iter.Seq2[Out, error] {
	return func(yield func(Out, error) bool) {
		next := 0
		pending := map[int]pendingChunk[Out]{} // by first index
		err := p.run(ctx, ins, opts, func(first int, vals []Out, errs []error) bool {
			pending[first] = pendingChunk[Out]{vals, errs}
			for {
				pc, ok := pending[next]
				if !ok {
					return true
				}
				delete(pending, next)
				if !yieldAll(yield, pc.vals, pc.errs) {
					return false
				}
				next += len(pc.vals)
			}
		})
		if err != nil {
			var zero Out
			yield(zero, err)
		}
	}
}

// ImapUnordered is Imap with results in the order they complete, as
// Python's Pool.imap_unordered: a chunk's results are yielded as soon as
// the chunk is done. A [*TaskError]'s Index tells which input failed; a
// task that needs to say which input a result belongs to returns it in the
// result.
func (p *Pool[In, Out]) ImapUnordered(ctx context.Context, ins []In, opts ...MapOption) iter.Seq2[Out, error] {
	return func(yield func(Out, error) bool) {
		err := p.run(ctx, ins, opts, func(first int, vals []Out, errs []error) bool {
			return yieldAll(yield, vals, errs)
		})
		if err != nil {
			var zero Out
			yield(zero, err)
		}
	}
}

type pendingChunk[Out any] struct {
	vals []Out
	errs []error
}

func yieldAll[Out any](yield func(Out, error) bool, vals []Out, errs []error) bool {
	for i, v := range vals {
		var err error
		if errs != nil {
			err = errs[i]
		}
		if !yield(v, err) {
			return false
		}
	}
	return true
}

// run submits ins and passes each chunk's outcome to each as it arrives,
// until all arrived or each returns false (then the rest is cancelled). It
// returns ctx.Err() if ctx is done first, the pool's error if it stopped,
// or the error of encoding an input.
func (p *Pool[In, Out]) run(ctx context.Context, ins []In, opts []MapOption, each func(first int, vals []Out, errs []error) bool) error {
	var o mapOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(ins) == 0 {
		return nil
	}
	size := o.chunkSize
	if size < 1 {
		size = defaultChunkSize(len(ins), p.p.cfg.Workers)
	}
	results := make(chan chunkResult, (len(ins)+size-1)/size)
	c, err := p.p.newCall(len(ins), size, func(lo, hi int) (json.RawMessage, error) {
		return p.encode(ins, lo, hi)
	}, func(r chunkResult) { results <- r })
	if err != nil {
		return err
	}
	if err := p.p.submit(c); err != nil {
		return err
	}
	done := 0
	defer func() {
		// Whatever ended the call early (a failure, a break, a panic in
		// the loop's body), the tasks not done are cancelled.
		if done < len(ins) {
			p.p.cancel(c, errStopped)
		}
	}()
	for done < len(ins) {
		select {
		case r := <-results:
			if r.err != nil {
				return r.err
			}
			vals, errs := p.decode(r)
			done += r.n
			if o.progress != nil {
				o.progress(done, len(ins))
			}
			if !each(r.first, vals, errs) {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// errStopped is the outcome given to the chunks of a call that stopped
// early; nobody receives it.
var errStopped = errors.New("procshare: call stopped")

// defaultChunkSize is Python's Pool.map rule: n inputs in four chunks per
// worker, rounded up.
func defaultChunkSize(n, workers int) int {
	return max(1, (n+4*workers-1)/(4*workers))
}

// encode returns ins[lo:hi] as a JSON array; an input that JSON cannot
// encode is a *TaskError naming it.
func (p *Pool[In, Out]) encode(ins []In, lo, hi int) (json.RawMessage, error) {
	b, err := marshalSlice(ins[lo:hi])
	if err == nil {
		return b, nil
	}
	for i := lo; i < hi; i++ {
		if _, err := json.Marshal(ins[i]); err != nil {
			return nil, &TaskError{Task: p.task.name, Index: i, Cause: fmt.Errorf("encoding the input: %w", err)}
		}
	}
	return nil, &TaskError{Task: p.task.name, Index: lo, Cause: fmt.Errorf("encoding the inputs: %w", err)}
}

// decode turns a chunk's outcome into its results and, if any task failed,
// one error per task (nil for those that succeeded).
func (p *Pool[In, Out]) decode(r chunkResult) ([]Out, []error) {
	vals := make([]Out, r.n)
	var errs []error
	failAll := func(mk func(i int) *TaskError) {
		errs = make([]error, r.n)
		for i := range errs {
			errs[i] = mk(r.first + i)
		}
	}
	base := TaskError{Task: p.task.name, Worker: r.worker, Pid: r.pid}
	switch {
	case r.died != nil:
		failAll(func(i int) *TaskError { e := base; e.Index = i; e.Exit = r.died; return &e })
		return vals, errs
	case r.reply.Err != "":
		failAll(func(i int) *TaskError { e := base; e.Index = i; e.Err = r.reply.Err; return &e })
		return vals, errs
	}
	if err := unmarshalSlice(r.reply.Outs, &vals); err != nil || len(vals) != r.n {
		if err == nil {
			err = fmt.Errorf("the worker sent %d results for %d tasks", len(vals), r.n)
		}
		vals = make([]Out, r.n)
		failAll(func(i int) *TaskError {
			e := base
			e.Index = i
			e.Cause = fmt.Errorf("decoding the result: %w", err)
			return &e
		})
		return vals, errs
	}
	for _, f := range r.reply.Fails {
		if f.I < 0 || f.I >= r.n {
			continue
		}
		if errs == nil {
			errs = make([]error, r.n)
		}
		e := base
		e.Index = r.first + f.I
		e.Err, e.Panic, e.Stack = f.Err, f.Panic, f.Stack
		errs[f.I] = &e
	}
	return vals, errs
}

// AsyncResult is the result of one task started by [Pool.Go], as Python's
// AsyncResult. Its methods are safe for concurrent use.
type AsyncResult[Out any] struct {
	done chan struct{} // closed when res (or err) is set
	res  chunkResult
	err  error

	once sync.Once
	out  Out
	oerr error
	dec  func(chunkResult) (Out, error)

	mu        sync.Mutex
	delivered bool
	release   func() bool // stops the AfterFunc of Go's ctx
}

// Go starts the task on in and returns at once, as Python's
// Pool.apply_async. Cancelling ctx cancels the task (its context in the
// worker is cancelled, or it is dropped if not started); its result is then
// ctx's error.
func (p *Pool[In, Out]) Go(ctx context.Context, in In) *AsyncResult[Out] {
	r := &AsyncResult[Out]{done: make(chan struct{})}
	r.dec = func(cr chunkResult) (Out, error) {
		vals, errs := p.decode(cr)
		if errs != nil {
			return vals[0], errs[0]
		}
		return vals[0], nil
	}
	if err := ctx.Err(); err != nil {
		r.err = err
		close(r.done)
		return r
	}
	c, err := p.p.newCall(1, 1, func(lo, hi int) (json.RawMessage, error) {
		return p.encode([]In{in}, lo, hi)
	}, func(cr chunkResult) {
		// Called once, with p.mu held.
		r.res, r.err = cr, cr.err
		r.mu.Lock()
		r.delivered = true
		if r.release != nil {
			r.release()
		}
		r.mu.Unlock()
		close(r.done)
	})
	if err == nil {
		err = p.p.submit(c)
	}
	if err != nil {
		r.err = err
		close(r.done)
		return r
	}
	stop := context.AfterFunc(ctx, func() { p.p.cancel(c, ctx.Err()) })
	r.mu.Lock()
	if r.delivered {
		stop()
	} else {
		r.release = stop
	}
	r.mu.Unlock()
	return r
}

// Done returns a channel that is closed when the task's outcome is known.
func (r *AsyncResult[Out]) Done() <-chan struct{} { return r.done }

// Get waits for the task's outcome, or for ctx to be done, and returns the
// result, or the task's [*TaskError], Go's context's error, an error
// wrapping ErrPoolClosed, or ctx.Err() if ctx was done first (the task goes
// on). It may be called any number of times.
func (r *AsyncResult[Out]) Get(ctx context.Context) (Out, error) {
	select {
	case <-r.done:
	default:
		select {
		case <-r.done:
		case <-ctx.Done():
			var zero Out
			return zero, ctx.Err()
		}
	}
	if r.err != nil {
		var zero Out
		return zero, r.err
	}
	r.once.Do(func() { r.out, r.oerr = r.dec(r.res) })
	return r.out, r.oerr
}
