// Command seed runs, in Go, the programs of the article that procshare
// started from ("0x03 共享变量", shared variables in Python's
// multiprocessing), in order:
//
//  1. ten processes append to a global list, which stays empty in the parent:
//     processes do not share variables;
//  2. a Value and an Array in shared memory, changed by a child, seen by the
//     parent;
//  3. a Manager's Value, incremented under a lock by 100 processes
//     (manager.go).
//
// Usage:
//
//	go run ./examples/seed              # every program
//	go run ./examples/seed -program 2   # one of them
//
// Each program is a table entry; a file of this package adds its program
// from an init function with addProgram.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/shm"
)

// program is one of the article's programs. run writes the program's output
// to out, and passes out to its children as their standard output.
type program struct {
	num   int
	title string
	run   func(ctx context.Context, out io.Writer) error
}

// programs holds the programs by number; see addProgram.
var programs = map[int]program{}

// addProgram adds p to the table. Call it from an init function (or a
// package-level var): programs must be known to the parent and to the
// children alike, which register their functions at package level too.
func addProgram(p program) {
	if _, dup := programs[p.num]; dup {
		panic(fmt.Sprintf("seed: program %d added twice", p.num))
	}
	programs[p.num] = p
}

func init() {
	addProgram(program{1, "a global list is not shared between processes", program1})
	addProgram(program{2, "Value and Array in shared memory", program2})
}

func main() {
	procshare.Main() // a child runs its function here and exits
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it parses args and runs the programs,
// returning the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.Int("program", 0, "run only this program (1, 2, 3); 0 runs them all")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "seed: unexpected arguments %q\n", fs.Args())
		return 2
	}
	nums := make([]int, 0, len(programs))
	for n := range programs {
		if *only == 0 || n == *only {
			nums = append(nums, n)
		}
	}
	if len(nums) == 0 {
		fmt.Fprintf(stderr, "seed: no program %d\n", *only)
		return 2
	}
	slices.Sort(nums)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for i, n := range nums {
		p := programs[n]
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "=== program %d: %s ===\n", p.num, p.title)
		if err := p.run(ctx, stdout); err != nil {
			fmt.Fprintf(stderr, "seed: program %d: %v\n", p.num, err)
			return 1
		}
	}
	return 0
}

// Program 1. Each child appends to its own copy of vipList: the parent's
// stays empty.

var vipList []int

var testFunc = procshare.Register("seed.testFunc", func(cc int) {
	vipList = append(vipList, cc)
	fmt.Println("process id:", os.Getpid())
})

func program1(ctx context.Context, out io.Writer) error {
	var procs []*procshare.Process
	for ll := range 10 {
		p, err := procshare.NewProcess(testFunc, &procshare.Config{Daemon: true, Stdout: out}, ll)
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	return runAll(ctx, procs, func() {
		fmt.Fprintln(out, "------------------------")
		fmt.Fprintln(out, "process id:", os.Getpid())
		fmt.Fprintln(out, vipList)
	})
}

// runAll starts procs, joins them all, and then calls report. If a start
// fails, the processes already started are killed and joined.
func runAll(ctx context.Context, procs []*procshare.Process, report func()) error {
	var errs []error
	for i, p := range procs {
		if err := p.Start(); err != nil {
			errs = append(errs, err)
			for _, q := range procs[:i] {
				q.Kill()
			}
			procs = procs[:i]
			break
		}
	}
	for _, p := range procs {
		if err := p.Join(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	report()
	return nil
}

// Program 2. A float64 Value (Python's 'd') and an int32 Array ('i') live in
// shared memory; the child's changes are the parent's.

var f = procshare.Register("seed.f", func(ctx context.Context, n *shm.Value[float64], a *shm.Array[int32]) error {
	n.Store(3.1415927)
	// Python's a[i] = -a[i] takes the array's lock at each access; here the
	// whole loop runs under it.
	return a.Do(ctx, func() error {
		for i := range a.Len() {
			a.StoreRaw(i, -a.LoadRaw(i))
		}
		return nil
	})
})

func program2(ctx context.Context, out io.Writer) error {
	num, err := shm.NewValue[float64](0.0)
	if err != nil {
		return err
	}
	defer num.Close()
	arr, err := shm.NewArrayFrom([]int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	if err != nil {
		return err
	}
	defer arr.Close()

	p, err := procshare.NewProcess(f, &procshare.Config{Stdout: out}, num, arr)
	if err != nil {
		return err
	}
	return runAll(ctx, []*procshare.Process{p}, func() {
		fmt.Fprintln(out, num.Load())
		fmt.Fprintln(out, arr.Slice())
	})
}
