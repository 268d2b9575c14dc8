package procshare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
)

// Config holds a Process's options. A nil *Config means all defaults; each
// field's zero value is its default.
type Config struct {
	// Name names the process in errors (Python's Process.name).
	// Zero: "Process-N", N counting the processes created by this program.
	Name string

	// Daemon makes the child die when the parent process dies, however it
	// dies (SIGKILL included): on Linux through the parent-death signal, on
	// every system through a pipe whose end of file the child watches; the
	// child is killed with SIGKILL. Zero: the child outlives its parent
	// (the parent should Join it).
	Daemon bool

	// Stdin is the child's standard input. Zero: the null device, as Python
	// does.
	Stdin io.Reader

	// Stdout and Stderr receive the child's output. An *os.File is
	// inherited directly; another writer is fed from a pipe by a goroutine,
	// and Join returns after all output was written (so after the child's
	// own children that inherited the pipe closed it, too). Zero: the
	// parent's os.Stdout and os.Stderr at the time of Start.
	Stdout, Stderr io.Writer

	// Env is the child's environment. Zero: the parent's (os.Environ).
	Env []string

	// Dir is the child's working directory. Zero: the parent's.
	Dir string
}

// processCount numbers default process names.
var processCount atomic.Int64

// Process is a registered function running, or about to run, in a child
// process: Go's multiprocessing.Process. Create it with [NewProcess] (or
// [Start]); the zero value is not usable.
//
// A Process is started once. All methods are safe for concurrent use by
// multiple goroutines; the Process value is not shared across processes
// (a child has no handle on its siblings).
type Process struct {
	fn   *Func
	cfg  Config
	name string
	args []arg

	mu      sync.Mutex // guards the fields below
	started bool
	proc    *os.Process
	pid     int

	done chan struct{} // closed when the child is reaped; then the fields below are set
	code int
	err  error // nil or *ExitError
}

// NewProcess returns a Process that will run fn with args in a child. It
// checks args against fn's parameters and encodes the plain ones now (so a
// later change to a plain argument does not reach the child; shared values,
// of course, stay shared): a mismatch or an unencodable value returns an
// [*ArgError]. cfg may be nil.
//
// Each argument must be assignable to its parameter (an untyped constant may
// also be converted exactly between numeric kinds: 1 fits a float64 or a
// uint8, 1.5 fits no integer). A shareable parameter takes exactly its type.
func NewProcess(fn *Func, cfg *Config, args ...any) (*Process, error) {
	if fn == nil {
		return nil, errors.New("procshare: NewProcess with a nil *Func")
	}
	prepared, err := prepareArgs(fn, args)
	if err != nil {
		return nil, err
	}
	p := &Process{fn: fn, args: prepared, done: make(chan struct{})}
	if cfg != nil {
		p.cfg = *cfg
		p.cfg.Env = slices.Clone(cfg.Env)
	}
	p.name = p.cfg.Name
	if p.name == "" {
		p.name = fmt.Sprintf("Process-%d", processCount.Add(1))
	}
	return p, nil
}

// Start creates a Process with the default Config and starts it.
func Start(fn *Func, args ...any) (*Process, error) {
	p, err := NewProcess(fn, nil, args...)
	if err != nil {
		return nil, err
	}
	if err := p.Start(); err != nil {
		return nil, err
	}
	return p, nil
}

// Name returns the process's name (Config.Name or "Process-N").
func (p *Process) Name() string { return p.name }

// Daemon reports whether the child dies with its parent (Config.Daemon).
func (p *Process) Daemon() bool { return p.cfg.Daemon }

// Func returns the registered function the process runs.
func (p *Process) Func() *Func { return p.fn }

// Start starts the child: it re-executes the program's binary (on Linux
// /proc/self/exe, the very file the parent runs even if its path was since
// replaced; elsewhere [os.Executable]), whose [Main] runs the registered
// function. Start returns once the child exists; it does not wait for the
// function to begin. Shareable arguments' ShareFiles methods are called now.
//
// Start returns [ErrStarted] if it was called before, [ErrNoMain] if the
// program did not call Main, or the error of ShareFiles or of starting the
// executable.
func (p *Process) Start() error {
	if !mainCalled.Load() {
		return ErrNoMain
	}
	if err := supported(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		return ErrStarted
	}
	exe, err := selfExe()
	if err != nil {
		return fmt.Errorf("procshare: start %s: %w", p.name, err)
	}

	// Parent-side copies of everything the child inherits; all closed once
	// the child has them (or the start failed).
	var inherit []*os.File
	defer func() {
		for _, f := range inherit {
			f.Close()
		}
	}()
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("procshare: start %s: %w", p.name, err)
	}
	inherit = append(inherit, ctlR)
	resR, resW, err := os.Pipe()
	if err != nil {
		ctlW.Close()
		return fmt.Errorf("procshare: start %s: %w", p.name, err)
	}
	inherit = append(inherit, resW)

	sp := spec{Func: p.fn.name, Name: p.name, PPid: os.Getpid(), Daemon: p.cfg.Daemon, Args: make([]argSpec, len(p.args))}
	// share calls s.ShareFiles and keeps the files for the child.
	share := func(s sharer) (int, []byte, error) {
		files, meta, err := s.ShareFiles()
		for _, f := range files {
			if f != nil {
				inherit = append(inherit, f)
			} else if err == nil {
				err = errors.New("ShareFiles returned a nil *os.File")
			}
		}
		return len(files), meta, err
	}
	for i, a := range p.args {
		if a.share == nil {
			as := argSpec{JSON: a.json}
			for _, ns := range a.nested {
				n, meta, err := share(ns.share)
				if err != nil {
					ctlW.Close()
					resR.Close()
					return fmt.Errorf("procshare: start %s: argument %d: %s: %w", p.name, i+1, pathString(ns.path), err)
				}
				as.Nested = append(as.Nested, nestedSpec{Path: ns.path, Files: n, Meta: meta})
			}
			sp.Args[i] = as
			continue
		}
		n, meta, err := share(a.share)
		if err != nil {
			ctlW.Close()
			resR.Close()
			return fmt.Errorf("procshare: start %s: argument %d: %w", p.name, i+1, err)
		}
		sp.Args[i] = argSpec{Share: true, Files: n, Meta: meta}
	}

	msg, err := encodeMsg(&sp)
	if err != nil { // cannot happen: the arguments were encoded by NewProcess
		ctlW.Close()
		resR.Close()
		return fmt.Errorf("procshare: start %s: %w", p.name, err)
	}
	if len(msg) <= smallSpec {
		// The child finds its spec waiting, instead of waiting for the
		// goroutine below to be scheduled.
		if _, err := ctlW.Write(msg); err != nil {
			ctlW.Close()
			resR.Close()
			return fmt.Errorf("procshare: start %s: %w", p.name, err)
		}
		msg = nil
	}

	env := p.cfg.Env
	if env == nil {
		env = os.Environ()
	}
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        []string{os.Args[0]},
		Env:         append(env[:len(env):len(env)], envChild+"=1"),
		Dir:         p.cfg.Dir,
		Stdin:       p.cfg.Stdin,
		Stdout:      p.cfg.Stdout,
		Stderr:      p.cfg.Stderr,
		ExtraFiles:  inherit,
		SysProcAttr: sysProcAttr(p.cfg.Daemon),
	}
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	if err := startCmd(cmd, p.cfg.Daemon); err != nil {
		ctlW.Close()
		resR.Close()
		return fmt.Errorf("procshare: start %s: %w", p.name, err)
	}
	p.started = true
	p.proc = cmd.Process
	p.pid = cmd.Process.Pid
	go p.wait(cmd, msg, ctlW, resR)
	return nil
}

// wait feeds the child a spec too large for Start to write, collects its result and reaps it. It owns
// ctlW and resR.
func (p *Process) wait(cmd *exec.Cmd, spec []byte, ctlW, resR *os.File) {
	// The rest of a large spec. A child that dies before reading it makes
	// this write fail (EPIPE); Wait reports how it died.
	if spec != nil {
		_, _ = ctlW.Write(spec)
	}
	var res result
	resErr := readMsg(resR, maxResult, &res)
	resR.Close()
	waitErr := cmd.Wait()
	// The child saw EOF on the control pipe only now, if it still lives
	// (a grandchild cannot: the child marks the pipe close-on-exec).
	ctlW.Close()

	code := 0
	var sig syscall.Signal
	if st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && st.Signaled() {
		sig = st.Signal()
		code = -int(sig)
	} else {
		code = cmd.ProcessState.ExitCode()
	}
	var err error
	if code != 0 {
		err = &ExitError{Name: p.name, Pid: p.pid, Code: code, Signal: sig, Err: res.Err, Panic: res.Panic, Stack: res.Stack}
	} else if waitErr != nil {
		// Exit 0, but copying the child's output to a Config writer failed.
		err = fmt.Errorf("procshare: process %s (pid %d): %w", p.name, p.pid, waitErr)
	}
	_ = resErr // a child that did not report (os.Exit, killed) is described by its code
	p.code = code
	p.err = err
	close(p.done)
}

// Pid returns the child's process id, or 0 before Start.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

// Join waits until the child exits, or ctx is done. It returns nil if the
// function returned nil, an [*ExitError] if the child failed (returned an
// error, panicked, was killed, or exited with a non-zero code), ctx.Err() if
// ctx was done first (the child keeps running), or [ErrNotStarted]. Join may
// be called any number of times, from any goroutine; after the child exited
// it returns at once with the same answer.
func (p *Process) Join(ctx context.Context) error {
	p.mu.Lock()
	started := p.started
	p.mu.Unlock()
	if !started {
		return ErrNotStarted
	}
	select {
	case <-p.done:
		return p.err
	default:
	}
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done returns a channel that is closed when the child has exited and been
// reaped (after which ExitCode reports its code and Join returns at once).
// For a Process that is never started, it is never closed.
func (p *Process) Done() <-chan struct{} { return p.done }

// WithProcesses returns a copy of ctx that is cancelled as soon as one of
// procs fails — exits with the error Join reports (an [*ExitError]: its
// function returned an error or panicked, it was killed, it exited with a
// non-zero code) — with that error as the context's cause
// ([context.Cause]); or when ctx is done, or cancel is called. Use it as
// the ctx of a blocking call that waits for what the children send (a
// manager Queue's Get, an Event's Wait, a Lock), so that a child's death
// ends the wait instead of hanging it:
//
//	ctx, cancel := procshare.WithProcesses(ctx, workers...)
//	defer cancel()
//	item, err := results.Get(ctx)
//	if err != nil {
//		return context.Cause(ctx) // e.g. "process Process-3 (pid 4711) killed by signal 9"
//	}
//
// A child that exits successfully does not cancel it: what it sent before
// it exited is there to be received (wait on [Process.Done] for any exit).
// Processes that are not started never cancel it. Call cancel when done
// with the context, to release the goroutines that watch the processes.
// The context and cancel are safe for concurrent use.
func WithProcesses(ctx context.Context, procs ...*Process) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	for _, p := range procs {
		go func() {
			select {
			case <-p.done:
				if p.err != nil {
					cancel(p.err)
				}
			case <-ctx.Done():
			}
		}()
	}
	return ctx, func() { cancel(context.Canceled) }
}

// ExitCode returns the child's exit code and true once it has exited, or
// 0, false while it runs or before Start. The code is 0 on success, 1 when
// the function returned an error, 2 when it panicked, the code the child
// passed to os.Exit, or the negated signal number when a signal killed it
// (-15 for SIGTERM, -9 for SIGKILL), as Python's Process.exitcode.
func (p *Process) ExitCode() (code int, exited bool) {
	select {
	case <-p.done:
		return p.code, true
	default:
		return 0, false
	}
}

// Alive reports whether the child has started and has not yet been reaped.
func (p *Process) Alive() bool {
	p.mu.Lock()
	started := p.started
	p.mu.Unlock()
	if !started {
		return false
	}
	_, exited := p.ExitCode()
	return !exited
}

// Terminate sends SIGTERM to the child. A function that takes a
// context.Context sees it cancelled, may clean up and return; the child then
// reports its result and dies by SIGTERM, so Join returns an [*ExitError] with
// Code -15 either way. A function without a context is killed at once. A
// second Terminate kills a child whose function ignores its context.
// Terminate of a child that has exited does nothing and returns nil.
func (p *Process) Terminate() error { return p.signal(syscall.SIGTERM) }

// Kill sends SIGKILL to the child: it dies at once, without cleaning up, and
// Join reports Code -9. Kill of a child that has exited does nothing and
// returns nil.
func (p *Process) Kill() error { return p.signal(syscall.SIGKILL) }

// Signal sends sig to the child; see Terminate and Kill.
func (p *Process) Signal(sig os.Signal) error { return p.signal(sig) }

func (p *Process) signal(sig os.Signal) error {
	p.mu.Lock()
	proc := p.proc
	p.mu.Unlock()
	if proc == nil {
		return ErrNotStarted
	}
	// os.Process refuses to signal a reaped child (and uses a pidfd where
	// the system has one), so a recycled pid is never hit.
	if err := proc.Signal(sig); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return nil
		}
		return fmt.Errorf("procshare: signal %s: %w", p.name, err)
	}
	return nil
}

// String returns a description like Python's repr: "<Process Process-1 pid=123 running>".
func (p *Process) String() string {
	state := "initial"
	if code, exited := p.ExitCode(); exited {
		state = fmt.Sprintf("exitcode=%d", code)
	} else if p.Alive() {
		state = "started"
	}
	pid := p.Pid()
	if p.cfg.Daemon {
		state += " daemon"
	}
	if pid != 0 {
		return fmt.Sprintf("<Process name=%q pid=%d %s>", p.name, pid, state)
	}
	return fmt.Sprintf("<Process name=%q %s>", p.name, state)
}
