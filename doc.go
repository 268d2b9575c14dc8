// Package procshare runs Go functions in child processes, Go's answer to
// Python's multiprocessing.Process, and passes them shared objects: shared
// memory values and arrays (package shm), process-shared locks (package
// ipcsync) and manager proxies (package manager).
//
//	var worker = procshare.Register("main.worker", func(ctx context.Context, n *shm.Value[float64], a *shm.Array[int32]) error {
//		n.Store(3.1415927)
//		// ...
//		return nil
//	})
//
//	func main() {
//		procshare.Main() // in a child, runs the function and exits
//		num, _ := shm.NewValue[float64](0)
//		arr, _ := shm.NewArray[int32](10)
//		p, err := procshare.Start(worker, num, arr)
//		if err != nil {
//			log.Fatal(err)
//		}
//		if err := p.Join(context.Background()); err != nil {
//			log.Fatal(err) // an *ExitError: returned error, panic, signal
//		}
//	}
//
// # How children start
//
// Go cannot fork a running program, so a child is the same binary
// re-executed (/proc/self/exe on Linux, [os.Executable] elsewhere) with a
// marker in its environment. Functions are registered by name with
// [Register] in package-level variables (or init functions), so that the
// parent and every child register the same functions under the same names. [Main], called first in main (and in TestMain), sees
// the marker in a child, reads which function to run and with what arguments,
// runs it and exits; in the parent it returns at once. Package-level
// variables are initialized afresh in the child: like Python's Process with
// the "spawn" start method, and unlike "fork", a child does not see the
// parent's variables (program 1 of examples/seed shows it).
//
// [Process.Start] refuses to start anything ([ErrNoMain]) if the program did
// not call Main, because the child would then run main again.
//
// # What travels to a child
//
// Arguments are checked against the registered function's parameters when
// the Process is created ([NewProcess]), so a mismatch is an [*ArgError]
// before anything runs.
//
// Plain values (numbers, strings, bools, slices, maps, structs, pointers to
// them) are encoded with encoding/json when the Process is created and
// decoded into the parameter's type in the child. They are copies: unexported
// struct fields do not travel, and changes made by the child do not come
// back.
//
// Shareable values (below) may also sit inside a plain argument — a struct
// field, a slice or array element, a map value, behind pointers — and they
// travel too: the child gets the plain data decoded and, at the same
// places, shared values attached to the same memory or manager objects.
//
//	type job struct {
//		Name  string
//		Hits  *shm.Value[int64]
//		Locks map[string]*manager.Lock
//	}
//	p, err := procshare.Start(work, job{"a", hits, locks})
//
// What would not arrive intact is refused by NewProcess (and Start) with an
// [*ArgError] whose Path names the place (`argument 1: field Counter: …`),
// never left for the child to trip over: a value of a type without exported
// fields (a sync.Mutex, a *manager.Client: it would arrive as a zero value),
// a channel or function, a shareable value inside an interface value (an
// []any element: the child would not know its type) or in an unexported or
// json:"-" field (such fields do not travel), and a value that contains
// itself. A nil shareable pointer travels as nil; a type with its own
// MarshalJSON or MarshalText travels as that encoding.
//
// Shareable values travel as inherited file descriptors plus metadata. A
// value is shareable if it implements, structurally (no import of this
// package needed):
//
//	ShareFiles() (files []*os.File, meta []byte, err error) // in the parent
//	AttachFiles(files []*os.File, meta []byte) error        // in the child, pointer receiver
//
// Start calls ShareFiles, passes the files to the child (from descriptor 5
// on) and meta in the spec; the child creates a new zero value of the
// parameter's type, calls AttachFiles on it, and passes it (or, for a
// non-pointer parameter, the value it points to). The files returned by
// ShareFiles belong to the caller, which closes its copies once the child is
// started (so ShareFiles returns duplicates of the descriptors the value
// keeps); the files handed to AttachFiles belong to the callee, which may
// keep or close them.
//
// The parent sends the child a spec (function name, process name, arguments,
// its own pid, whether the child is a daemon) over a pipe inherited as
// descriptor 3, and keeps that pipe's write end open while the child lives.
// The child reports its result (the returned error's text, or the panic
// value and stack) over a second pipe, descriptor 4, just before it exits;
// [Process.Join] turns it into an [*ExitError]. Both descriptors, and the
// shared ones, are close-on-exec in the child, so programs that the function
// runs do not inherit them. The spec's fixed descriptor numbers are an
// internal protocol between a parent and a child of the same binary.
//
// # Exit codes
//
// A child exits with 0 when its function returns nil or nothing, 1 when it
// returns an error (or the child could not set up its arguments), 2 when it
// panics (as an unrecovered panic in Go; the child also prints the panic and
// stack to its standard error, as Go does), and whatever code it passes to
// os.Exit. A child killed by a signal has the negated signal number as its
// code, as Python's Process.exitcode: -9 after [Process.Kill], -15 after
// [Process.Terminate].
//
// # Waiting for what children send
//
// A parent that waits for a child's result on a manager Queue, an shm
// Event or a Lock would wait forever if the child died first. Pass the
// blocking call a context from [WithProcesses], which is cancelled as soon
// as one of the given children fails, with the child's [*ExitError] as its
// cause; [Process.Done] is a channel closed at any exit.
//
// # Daemon children
//
// A Process with Config.Daemon set is killed (SIGKILL) when its parent dies,
// however the parent dies. Unlike Python, which only terminates daemon
// children when the parent exits normally, this holds for a parent killed by
// SIGKILL too. A child that is not a daemon outlives its parent; the parent
// should Join it (Go has no exit hook through which procshare could join it
// for you, as Python's atexit does).
//
// # Linux notes
//
// On Linux a daemon child gets the parent-death signal (PR_SET_PDEATHSIG).
// The kernel sends it when the thread that forked the child exits, and the Go
// runtime may retire threads, so procshare forks daemon children from one
// goroutine locked to a thread that never exits. A parent that died before
// the child set itself up is detected by the child comparing its parent pid
// with the one in its spec. On every system, as a second line and the only
// one elsewhere, a daemon child watches the control pipe: its end of file
// means the parent is gone. Signals go through the Go runtime's pidfd
// support, so a recycled pid is never signalled.
//
// # Other systems
//
// macOS and the BSDs work the same way except for the parent-death signal
// (the pipe watch alone kills daemon children). On Windows and wasm the
// package builds, but Start returns an error wrapping [errors.ErrUnsupported]:
// a child there cannot inherit descriptors at fixed numbers.
//
// # Pools
//
// A [Pool] is Python's multiprocessing.Pool: a fixed number of worker
// processes (children as above, daemons) that run a [Task], a function of
// one input returning a result and an error, registered with
// [RegisterTask]:
//
//	var square = procshare.RegisterTask("main.square", func(ctx context.Context, n int) (int, error) {
//		return n * n, nil
//	})
//
//	pool, err := procshare.NewPool(ctx, square, &procshare.PoolConfig{Workers: 4})
//	...
//	defer pool.Close()
//	squares, err := pool.Map(ctx, []int{1, 2, 3}) // [1 4 9]
//
// [Pool.Map] returns the results in order and stops at the first failure,
// as errgroup does; [Pool.Imap] and [Pool.ImapUnordered] are iterators of
// results and per-task errors; [Pool.Go] runs one task. Inputs and results
// travel as JSON in chunks ([WithChunkSize], Python's default size), over a
// task pipe and a reply pipe per worker that the worker inherits as a
// shared argument. A task's error or panic fails that task only (a
// [*TaskError] with the worker's message); a worker that dies fails the
// chunk it was running with its [*ExitError] and is replaced at once; a
// cancelled context cancels the tasks' contexts in the workers, and Close
// (or the end of NewPool's context) stops the workers and reaps them.
//
// # Goroutine safety
//
// Register is meant for package initialization but is safe to call from any
// goroutine. A [*Func] is immutable. All methods of [*Process] are safe for
// concurrent use; Join may be called from several goroutines at once and
// every call returns the same result. A Process is started at most once.
// Nothing in this package is shared between processes: a *Process is a
// handle held by the parent only.
package procshare
