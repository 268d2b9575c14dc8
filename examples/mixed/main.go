// Command mixed shows Go and Python processes sharing one manager's objects:
// the Go program starts a manager (manager.Start), starts Go workers
// (procshare processes) and Python workers (plain python3, standard library
// only), meets them at a shared Barrier, and then puts the numbers 1..N on a
// shared Queue. Every worker takes numbers
// from the queue and adds them to a shared Value under a shared Lock, the
// Python ones with
//
//	with lock:
//	    total.value += item
//
// and the Go ones with the same three calls. The total is exact:
// N(N+1)/2.
//
// Usage:
//
//	go run ./examples/mixed [-n 1000] [-go 2] [-py 2] [-python python3]
package main

import (
	"context"
	_ "embed"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

//go:embed worker.py
var workerPy string

func main() {
	procshare.Main() // a Go worker runs here and exits
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config is what the flags set.
type config struct {
	n, goWorkers, pyWorkers int
	python                  string
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mixed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	fs.IntVar(&cfg.n, "n", 1000, "numbers to add")
	fs.IntVar(&cfg.goWorkers, "go", 2, "Go worker processes")
	fs.IntVar(&cfg.pyWorkers, "py", 2, "Python worker processes")
	fs.StringVar(&cfg.python, "python", "python3", "Python interpreter")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	total, err := mixed(ctx, cfg, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "mixed:", err)
		return 1
	}
	want := cfg.n * (cfg.n + 1) / 2
	fmt.Fprintf(stdout, "total = %d (want %d)\n", total, want)
	if total != want {
		return 1
	}
	return 0
}

// goWorker is the Go worker: the same loop as worker.py.
var goWorker = procshare.Register("mixed.goWorker", func(ctx context.Context, total *manager.Value[int], lock *manager.Lock, q *manager.Queue, ready *manager.Barrier) error {
	if _, err := ready.Wait(ctx); err != nil {
		return err
	}
	n := 0
	for {
		item, err := q.Get(ctx)
		if err != nil {
			return err
		}
		if item == nil {
			break
		}
		x, err := manager.As[int](item, nil)
		if err != nil {
			return err
		}
		if err := lock.Lock(ctx); err != nil {
			return err
		}
		v, err := total.Get(ctx)
		if err == nil {
			err = total.Set(ctx, v+x)
		}
		if uerr := lock.Unlock(ctx); err == nil {
			err = uerr
		}
		if err != nil {
			return err
		}
		n++
	}
	fmt.Printf("go worker %d took %d items\n", os.Getpid(), n)
	return nil
})

// mixed runs the workers and returns the total they computed.
func mixed(ctx context.Context, cfg config, out io.Writer) (int, error) {
	m, err := manager.Start(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	total, err := manager.NewValue(ctx, m, "i", 0)
	if err != nil {
		return 0, err
	}
	lock, err := m.NewLock(ctx)
	if err != nil {
		return 0, err
	}
	q, err := m.NewQueue(ctx, 0)
	if err != nil {
		return 0, err
	}
	ready, err := m.NewBarrier(ctx, cfg.goWorkers+cfg.pyWorkers+1)
	if err != nil {
		return 0, err
	}

	// Python workers get the proxies pickled as Python pickles them.
	proxies, err := pickle.Marshal(pickle.Tuple{total.PythonValue(), lock.PythonValue(), q.PythonValue(), ready.PythonValue()})
	if err != nil {
		return 0, err
	}
	// Each worker is waited for in a goroutine; one that fails breaks the
	// barrier, so that nobody waits for it forever.
	var started int
	done := make(chan error)
	watch := func(wait func() error) {
		started++
		go func() {
			err := wait()
			if err != nil {
				ready.Abort(context.WithoutCancel(ctx))
			}
			done <- err
		}()
	}
	var errs []error
	for range cfg.pyWorkers {
		cmd := exec.CommandContext(ctx, cfg.python, "-c", workerPy, hex.EncodeToString(m.Authkey()), hex.EncodeToString(proxies))
		cmd.Stdout, cmd.Stderr = out, os.Stderr
		if err := cmd.Start(); err != nil {
			errs = append(errs, err)
			break
		}
		watch(func() error {
			if err := cmd.Wait(); err != nil {
				return fmt.Errorf("python worker: %w", err)
			}
			return nil
		})
	}
	for range cfg.goWorkers {
		p, err := procshare.NewProcess(goWorker, &procshare.Config{Stdout: out}, total, lock, q, ready)
		if err == nil {
			err = p.Start()
		}
		if err != nil {
			errs = append(errs, err)
			break
		}
		watch(func() error { return p.Join(ctx) })
	}
	if len(errs) > 0 {
		ready.Abort(ctx)
	} else {
		errs = append(errs, fill(ctx, q, ready, cfg))
	}
	for range started {
		errs = append(errs, <-done)
	}
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	return total.Get(ctx)
}

// fill meets the workers at the barrier, then puts 1..n and one nil ("stop")
// per worker on the queue.
func fill(ctx context.Context, q *manager.Queue, ready *manager.Barrier, cfg config) error {
	if _, err := ready.Wait(ctx); err != nil {
		return err
	}
	for i := 1; i <= cfg.n; i++ {
		if err := q.Put(ctx, i); err != nil {
			return err
		}
	}
	for range cfg.goWorkers + cfg.pyWorkers {
		if err := q.Put(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}
