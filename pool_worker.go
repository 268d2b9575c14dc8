package procshare

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// A pool worker is an ordinary child process (see [Process]) running the
// registered function poolWorker, which every binary that imports this
// package registers. Its arguments are the task's registered name and a
// workerPipes: the read end of a task pipe and the write end of a reply pipe,
// inherited like any shared argument. Both pipes carry the messages of
// spec.go (a 4-byte big-endian length and a body):
//   - parent → worker: a taskMsg (JSON), either a chunk, followed by a
//     message whose body is the chunk's inputs as a JSON array, or the
//     cancellation of a chunk sent before;
//   - worker → parent: one chunkReply (JSON) per chunk, in the order the
//     chunks came, once the chunk is done (or cancelled), followed by a
//     message whose body is the results as a JSON array.
//
// The arrays travel as messages of their own, not as fields of the JSON
// headers, so that they are encoded and scanned once, not once more as
// raw JSON inside JSON.
//
// A worker runs one chunk at a time; the parent keeps at most maxInFlight
// chunks outstanding per worker, so that the next chunk waits in the pipe
// while one runs. The end of file on the task pipe (the pool is closed, or
// the parent died) cancels the running task's context; the worker then
// exits with code 0.
const (
	maxInFlight = 2
	// maxPoolMsg bounds a chunk or a reply, in both directions.
	maxPoolMsg = 1 << 30
	// maxTaskErr bounds the text of a task's error or panic value.
	maxTaskErr = 64 << 10
)

// taskMsg is a message to a worker.
type taskMsg struct {
	Chunk  uint64          `json:"chunk"`
	Cancel bool            `json:"cancel,omitempty"` // cancel chunk Chunk: its running task's context, and the tasks not run yet
	Args   json.RawMessage `json:"-"`                // the chunk's inputs, a JSON array: the next message
}

// chunkReply is a worker's answer for one chunk.
type chunkReply struct {
	Chunk uint64          `json:"chunk"`
	Fails []taskFail      `json:"fails,omitempty"` // the tasks that failed
	Err   string          `json:"err,omitempty"`   // the chunk failed as a whole
	Outs  json.RawMessage `json:"-"`               // one result per input (the zero value where a task failed), a JSON array: the next message
}

// encodeTwo returns the messages of a header and the payload that follows it.
func encodeTwo(hdr any, payload []byte) ([]byte, error) {
	msg, err := encodeMsg(hdr)
	if err != nil {
		return nil, err
	}
	return appendFrame(msg, payload), nil
}

// taskFail is one failed task of a chunk: its returned error, or its panic
// value and stack.
type taskFail struct {
	I int `json:"i"` // position in the chunk
	result
}

// workerPipes is the worker's argument carrying its two pipes. It is
// shareable: unlike a shared object that the parent keeps using, it hands
// over its files themselves (Start closes the parent's copies once the worker
// runs, which is what the pool wants: the parent holds only the other ends).
type workerPipes struct {
	tasks   *os.File // the worker reads taskMsgs here
	replies *os.File // the worker writes chunkReplies here
}

func (w *workerPipes) ShareFiles() ([]*os.File, []byte, error) {
	return []*os.File{w.tasks, w.replies}, nil, nil
}

func (w *workerPipes) AttachFiles(files []*os.File, meta []byte) error {
	if len(files) != 2 {
		return fmt.Errorf("pool worker: want 2 pipes, got %d", len(files))
	}
	w.tasks, w.replies = files[0], files[1]
	return nil
}

// poolWorker is the function a pool's workers run.
var poolWorker = Register("procshare.poolWorker", runWorker)

// runWorker is a worker's loop: it reads chunks, runs their tasks and
// replies, until the task pipe ends.
func runWorker(ctx context.Context, task string, pipes *workerPipes) error {
	t, ok := lookupTask(task)
	if !ok {
		return fmt.Errorf("procshare: pool worker: task %q is not registered in the worker (register at package level, identically in every run of the binary)", task)
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()

	type job struct {
		id     uint64
		args   json.RawMessage
		ctx    context.Context
		cancel context.CancelFunc
	}
	// The parent sends at most maxInFlight chunks ahead of their replies,
	// so the reader never blocks on jobs and always sees cancellations.
	jobs := make(chan *job, maxInFlight)
	var mu sync.Mutex
	running := map[uint64]context.CancelFunc{} // chunks read and not yet replied to
	go func() {
		defer close(jobs)
		defer stop() // the task pipe ended: cancel what runs and what waits
		tasks := bufio.NewReaderSize(pipes.tasks, 64<<10)
		for {
			var m taskMsg
			if err := readMsg(tasks, maxPoolMsg, &m); err != nil {
				return
			}
			if !m.Cancel {
				var err error
				if m.Args, err = readFrame(tasks, maxPoolMsg); err != nil {
					return
				}
			}
			mu.Lock()
			if m.Cancel {
				if cancel := running[m.Chunk]; cancel != nil {
					cancel()
				}
				mu.Unlock()
				continue
			}
			jctx, cancel := context.WithCancel(ctx)
			running[m.Chunk] = cancel
			mu.Unlock()
			jobs <- &job{id: m.Chunk, args: m.Args, ctx: jctx, cancel: cancel}
		}
	}()
	for j := range jobs {
		rep := t.runChunk(j.ctx, j.args)
		rep.Chunk = j.id
		mu.Lock()
		delete(running, j.id)
		mu.Unlock()
		j.cancel()
		msg, err := encodeTwo(&rep, rep.Outs)
		if err == nil {
			_, err = pipes.replies.Write(msg)
		}
		if err != nil {
			return nil // the parent is gone or closed the pool
		}
	}
	return nil
}

// runChunk decodes a chunk's inputs, runs fn on each in order (stopping
// early if ctx is cancelled) and encodes the results.
func (t *Task[In, Out]) runChunk(ctx context.Context, args json.RawMessage) chunkReply {
	var ins []In
	if err := unmarshalSlice(args, &ins); err != nil {
		return chunkReply{Err: fmt.Sprintf("procshare: pool worker: decoding the inputs: %v", err)}
	}
	outs := make([]Out, len(ins))
	fails := runTasks(ctx, t.fn, ins, outs)
	b, err := marshalSlice(outs)
	if err != nil {
		// A result that JSON cannot encode (a NaN, a cycle...) fails its
		// own task only.
		for i := range outs {
			if _, err := json.Marshal(outs[i]); err != nil {
				fails = append(fails, taskFail{I: i, result: result{Err: fmt.Sprintf("procshare: encoding the result: %v", err)}})
				var zero Out
				outs[i] = zero
			}
		}
		if b, err = marshalSlice(outs); err != nil {
			return chunkReply{Err: fmt.Sprintf("procshare: pool worker: encoding the results: %v", err)}
		}
	}
	if len(b) > maxPoolMsg/2 {
		return chunkReply{Err: fmt.Sprintf("procshare: pool worker: the chunk's results take %d bytes, over the limit of %d (use a smaller chunk size)", len(b), maxPoolMsg/2)}
	}
	return chunkReply{Outs: b, Fails: fails}
}

// runTasks runs fn on ins[i] into outs[i], in order, until ctx is
// cancelled, and returns the failures. A task that calls runtime.Goexit
// ends the goroutine that runs it, so the tasks run on a goroutine that is
// replaced when that happens.
func runTasks[In, Out any](ctx context.Context, fn func(context.Context, In) (Out, error), ins []In, outs []Out) []taskFail {
	var fails []taskFail
	next := 0
	for next < len(ins) && ctx.Err() == nil {
		stopped := make(chan int, 1)
		go func(i int) {
			goexit := false
			defer func() {
				if goexit {
					i++ // that task is done (failed); go on after it
				}
				stopped <- i
			}()
			for ; i < len(ins) && ctx.Err() == nil; i++ {
				runTask(ctx, fn, ins[i], &outs[i], i, &fails, &goexit)
			}
		}(next)
		next = <-stopped
	}
	return fails
}

// runTask runs one task, turning its error or panic into a taskFail.
func runTask[In, Out any](ctx context.Context, fn func(context.Context, In) (Out, error), in In, out *Out, i int, fails *[]taskFail, goexit *bool) {
	returned := false
	defer func() {
		if returned {
			return
		}
		p := recover()
		msg, stack := panicReport(p)
		if p == nil {
			*goexit = true
		}
		*fails = append(*fails, taskFail{I: i, result: result{Panic: truncate(msg, maxTaskErr), Stack: string(stack)}})
	}()
	v, err := fn(ctx, in)
	returned = true
	if err != nil {
		*fails = append(*fails, taskFail{I: i, result: result{Err: truncate(err.Error(), maxTaskErr)}})
		return
	}
	*out = v
}
