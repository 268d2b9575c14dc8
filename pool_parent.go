package procshare

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// pool is the untyped machinery behind a Pool: the worker processes, the
// queue of chunks waiting for one, and the chunks each worker has been sent.
// Its state is guarded by mu; the goroutines are two per worker (one writes
// the task pipe, one reads the reply pipe and reaps the worker) and they end
// before stop returns.
type pool struct {
	task    string
	cfg     PoolConfig // resolved: Workers > 0, StopTimeout > 0
	prefix  string     // workers are named prefix-N
	nextID  atomic.Uint64
	wg      sync.WaitGroup // the workers' goroutines
	stopped chan struct{}  // closed when stop has reaped every worker
	release func() bool    // stops the context.AfterFunc of NewPool's ctx; set before newPool returns

	mu       sync.Mutex
	closed   bool
	cause    error     // why the pool stopped (ErrPoolClosed, or one wrapping ctx's error)
	workers  []*worker // one per slot; nil while a slot's restart fails
	queue    []*chunk  // chunks waiting for a worker, oldest first
	startErr error     // why the last restart failed
}

// worker is one worker process and what it was sent.
type worker struct {
	slot     int
	proc     *Process
	sendq    chan []byte // messages for the writer goroutine; closed to end the task pipe
	replies  *os.File
	inflight []*chunk // sent and not yet replied to, oldest first (at most maxInFlight)
	answered bool     // it replied at least once
	ended    bool     // sendq is closed
}

// endTasks closes w's task pipe (through its writer). p.mu is held.
func (w *worker) endTasks() {
	if !w.ended {
		w.ended = true
		close(w.sendq)
	}
}

// chunk is a run of consecutive tasks of one call, sent to a worker as one
// message.
type chunk struct {
	id       uint64
	call     *poolCall
	first, n int    // the tasks call's inputs[first:first+n]
	msg      []byte // the encoded taskMsg
	done     bool   // its outcome was delivered; a late reply is dropped
}

// poolCall is one Map, iteration or Go: the chunks it submitted and where their
// outcomes go.
type poolCall struct {
	// deliver receives each chunk's outcome exactly once; it is called with
	// pool.mu held and must not block.
	deliver func(chunkResult)
	chunks  []*chunk
}

// chunkResult is the outcome of one chunk.
type chunkResult struct {
	first, n int
	reply    *chunkReply // the worker's reply, or nil
	died     *ExitError  // the worker died while the chunk ran
	worker   string      // the worker that ran it
	pid      int
	err      error // the chunk did not run: the pool stopped, the call was cancelled, no worker could start
}

// newPool starts the workers of a pool running task.
func newPool(ctx context.Context, task string, cfg *PoolConfig) (*pool, error) {
	p := &pool{task: task, stopped: make(chan struct{})}
	if cfg != nil {
		p.cfg = *cfg
	}
	switch {
	case p.cfg.Workers < 0:
		return nil, fmt.Errorf("procshare: pool: %d workers", p.cfg.Workers)
	case p.cfg.Workers == 0:
		p.cfg.Workers = defaultWorkers()
	}
	switch {
	case p.cfg.StopTimeout < 0:
		return nil, fmt.Errorf("procshare: pool: negative StopTimeout %v", p.cfg.StopTimeout)
	case p.cfg.StopTimeout == 0:
		p.cfg.StopTimeout = 5 * time.Second
	}
	if in := p.cfg.Worker.Stdin; in != nil {
		if _, ok := in.(*os.File); !ok {
			return nil, fmt.Errorf("procshare: pool: the workers' Stdin must be nil or an *os.File, not a %T (every worker would read it)", in)
		}
	}
	p.prefix = p.cfg.Worker.Name
	if p.prefix == "" {
		p.prefix = "PoolWorker"
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.workers = make([]*worker, p.cfg.Workers)
	for i := range p.workers {
		w, err := p.startWorker(i)
		if err != nil {
			p.mu.Unlock()
			p.stop(err)
			return nil, err
		}
		p.workers[i] = w
	}
	p.mu.Unlock()
	p.release = context.AfterFunc(ctx, func() {
		p.stop(fmt.Errorf("%w: %w", ErrPoolClosed, ctx.Err()))
	})
	return p, nil
}

// workerCount numbers the workers of every pool of the program.
var workerCount atomic.Int64

// startWorker starts a worker for slot. p.mu is held.
func (p *pool) startWorker(slot int) (*worker, error) {
	tasksR, tasksW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("procshare: pool: %w", err)
	}
	repliesR, repliesW, err := os.Pipe()
	if err != nil {
		tasksR.Close()
		tasksW.Close()
		return nil, fmt.Errorf("procshare: pool: %w", err)
	}
	pc := p.cfg.Worker
	pc.Name = fmt.Sprintf("%s-%d", p.prefix, workerCount.Add(1))
	pc.Daemon = true
	proc, err := NewProcess(poolWorker, &pc, p.task, &workerPipes{tasks: tasksR, replies: repliesW})
	if err == nil {
		err = proc.Start() // on success it closed tasksR and repliesW
	}
	if err != nil {
		for _, f := range []*os.File{tasksR, tasksW, repliesR, repliesW} {
			f.Close()
		}
		return nil, err
	}
	w := &worker{slot: slot, proc: proc, sendq: make(chan []byte, 2*maxInFlight), replies: repliesR}
	p.wg.Add(2)
	go p.writeLoop(w, tasksW)
	go p.readLoop(w)
	return w, nil
}

// writeLoop writes w's messages to its task pipe, and closes the pipe when
// sendq is closed. A write to a dead worker fails; its messages are then
// dropped (readLoop handles the death).
func (p *pool) writeLoop(w *worker, tasks *os.File) {
	defer p.wg.Done()
	ok := true
	for msg := range w.sendq {
		if ok {
			_, err := tasks.Write(msg)
			ok = err == nil
		}
	}
	tasks.Close()
}

// readLoop reads w's replies until the worker exits, reaps it, and lets
// exited handle its death.
func (p *pool) readLoop(w *worker) {
	defer p.wg.Done()
	br := bufio.NewReaderSize(w.replies, 64<<10) // a reply's two messages in one read, mostly
	for {
		rep := new(chunkReply)
		err := readMsg(br, maxPoolMsg, rep)
		if err == nil {
			rep.Outs, err = readFrame(br, maxPoolMsg)
		}
		if err == nil && !p.replied(w, rep) {
			err = fmt.Errorf("reply for chunk %d out of order", rep.Chunk)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				// A broken stream from a live worker (it cannot happen between
				// two processes of one binary): stop it.
				_ = w.proc.Kill()
			}
			break
		}
	}
	w.replies.Close()
	err := w.proc.Join(context.Background()) // returns once the worker is reaped
	p.exited(w, err)
}

// replied delivers a reply to the chunk it answers; it reports false if w
// was not running that chunk.
func (p *pool) replied(w *worker, rep *chunkReply) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(w.inflight) == 0 || w.inflight[0].id != rep.Chunk {
		return false
	}
	c := w.inflight[0]
	w.inflight = w.inflight[1:]
	w.answered = true
	if !c.done {
		c.done = true
		c.call.deliver(chunkResult{first: c.first, n: c.n, reply: rep, worker: w.proc.Name(), pid: w.proc.Pid()})
	}
	p.dispatch()
	return true
}

// exited handles the end of w: the chunk it was running fails with its
// death, the chunks sent after it go back to the front of the queue (the
// worker runs chunks in order, so it had not started them), and, unless the
// pool is stopping, a new worker takes the slot.
//
// A worker that dies with nothing to do before it ever replied failed to
// start (its task is not registered in the child, say): its slot stays
// empty until the next submission restarts it, so that a worker that cannot
// run is not restarted in a loop. Every other death is replaced at once.
func (p *pool) exited(w *worker, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w.endTasks()
	p.workers[w.slot] = nil
	var ee *ExitError
	if !errors.As(err, &ee) {
		// Exit code 0 (a task called os.Exit(0)), or Join's other error.
		ee = &ExitError{Name: w.proc.Name(), Pid: w.proc.Pid()}
	}
	busy := len(w.inflight) > 0
	if busy {
		if c := w.inflight[0]; !c.done {
			c.done = true
			c.call.deliver(chunkResult{first: c.first, n: c.n, died: ee, worker: w.proc.Name(), pid: w.proc.Pid()})
		}
		var requeue []*chunk
		for _, c := range w.inflight[1:] {
			if !c.done {
				requeue = append(requeue, c)
			}
		}
		p.queue = append(requeue, p.queue...)
		w.inflight = nil
	}
	if p.closed {
		return
	}
	if !busy && !w.answered {
		p.startErr = fmt.Errorf("worker %s (pid %d) exited before its first task: %w", w.proc.Name(), w.proc.Pid(), ee)
		return
	}
	p.restart()
	p.dispatch()
}

// restart starts a worker in every empty slot. If none can start and no
// worker is left, the queued chunks fail with the reason. p.mu is held.
func (p *pool) restart() {
	live := 0
	for i, w := range p.workers {
		if w == nil {
			nw, err := p.startWorker(i)
			if err != nil {
				p.startErr = err
				continue
			}
			p.workers[i] = nw
		}
		live++
	}
	if live == 0 {
		err := fmt.Errorf("procshare: pool: no worker could be started: %w", p.startErr)
		for _, c := range p.queue {
			p.fail(c, err)
		}
		p.queue = nil
	}
}

// dispatch sends queued chunks to the workers that have room, one chunk
// per worker in turn. p.mu is held.
func (p *pool) dispatch() {
	for len(p.queue) > 0 {
		sent := false
		for _, w := range p.workers {
			if w == nil || w.ended || len(w.inflight) >= maxInFlight || len(p.queue) == 0 {
				continue
			}
			c := p.queue[0]
			p.queue = p.queue[1:]
			w.inflight = append(w.inflight, c)
			w.sendq <- c.msg // never blocks: see worker.sendq's capacity
			sent = true
		}
		if !sent {
			return
		}
	}
}

// fail delivers err as c's outcome, if c has none yet. p.mu is held.
func (p *pool) fail(c *chunk, err error) {
	if !c.done {
		c.done = true
		c.call.deliver(chunkResult{first: c.first, n: c.n, err: err})
	}
}

// submit queues c's chunks, or returns why the pool cannot take them.
func (p *pool) submit(c *poolCall) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return p.cause
	}
	p.restart()
	for _, w := range p.workers {
		if w != nil {
			p.queue = append(p.queue, c.chunks...)
			p.dispatch()
			return nil
		}
	}
	return fmt.Errorf("procshare: pool: no worker could be started: %w", p.startErr)
}

// cancel gives every chunk of c that has no outcome yet err as its outcome:
// the queued ones leave the queue, and the workers running the others are
// told to cancel them (their replies will be dropped).
func (p *pool) cancel(c *poolCall, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := p.queue[:0]
	for _, ch := range p.queue {
		if ch.call != c {
			q = append(q, ch)
		}
	}
	clear(p.queue[len(q):])
	p.queue = q
	for _, w := range p.workers {
		if w == nil || w.ended {
			continue
		}
		for _, ch := range w.inflight {
			if ch.call == c && !ch.done {
				msg, _ := encodeMsg(taskMsg{Chunk: ch.id, Cancel: true})
				w.sendq <- msg // never blocks: at most one per chunk in flight
			}
		}
	}
	for _, ch := range c.chunks {
		p.fail(ch, err)
	}
}

// stop stops the pool for cause: every chunk without an outcome fails with
// it, the task pipes are closed (so each worker cancels its running task and
// exits), workers still running after StopTimeout are killed, and stop
// returns once every worker is reaped. Later calls wait for the first.
func (p *pool) stop(cause error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.stopped
		return
	}
	p.closed = true
	p.cause = cause
	for _, c := range p.queue {
		p.fail(c, cause)
	}
	p.queue = nil
	for _, w := range p.workers {
		if w == nil {
			continue
		}
		for _, c := range w.inflight {
			p.fail(c, cause)
		}
		w.endTasks()
	}
	p.mu.Unlock()
	kill := time.AfterFunc(p.cfg.StopTimeout, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, w := range p.workers {
			if w != nil {
				_ = w.proc.Kill()
			}
		}
	})
	p.wg.Wait()
	kill.Stop()
	close(p.stopped)
}

// pids returns the pids of the current workers, by slot (0 for an empty
// slot).
func (p *pool) pids() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	pids := make([]int, len(p.workers))
	for i, w := range p.workers {
		if w != nil {
			pids[i] = w.proc.Pid()
		}
	}
	return pids
}

// newCall splits a call's n inputs into chunks of size (the last one may
// be shorter) and encodes their messages; encode returns the JSON array of
// the inputs [lo, hi).
func (p *pool) newCall(n, size int, encode func(lo, hi int) (json.RawMessage, error), deliver func(chunkResult)) (*poolCall, error) {
	c := &poolCall{deliver: deliver}
	for lo := 0; lo < n; lo += size {
		hi := min(lo+size, n)
		args, err := encode(lo, hi)
		if err != nil {
			return nil, err
		}
		id := p.nextID.Add(1)
		msg, err := encodeTwo(taskMsg{Chunk: id}, args)
		if err != nil {
			return nil, err
		}
		c.chunks = append(c.chunks, &chunk{id: id, call: c, first: lo, n: hi - lo, msg: msg})
	}
	return c, nil
}
