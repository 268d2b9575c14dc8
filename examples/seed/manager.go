package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/manager"
)

// Program 3. A manager (started in this process, like Python's Manager())
// holds a Value and a Lock; 100 children each add 1 to the value under the
// lock — the article's
//
//	def testFunc(cc, lock):
//	    with lock:
//	        sum.value += cc
//
// — and the parent prints 100.

func init() {
	addProgram(program{3, "a Manager's Value, incremented under a lock by 100 processes", program3})
}

// addUnderLock is testFunc: the child receives the proxies, which reconnect
// to the parent's manager.
var addUnderLock = procshare.Register("seed.addUnderLock", func(ctx context.Context, cc int, sum *manager.Value[int], lock *manager.Lock) error {
	if err := lock.Lock(ctx); err != nil {
		return err
	}
	v, err := sum.Get(ctx)
	if err == nil {
		err = sum.Set(ctx, v+cc)
	}
	if uerr := lock.Unlock(ctx); err == nil {
		err = uerr
	}
	return err
})

func program3(ctx context.Context, out io.Writer) error {
	m, err := manager.Start(ctx, nil)
	if err != nil {
		return err
	}
	defer m.Close()
	sum, err := manager.NewValue(ctx, m, "tmp", 0)
	if err != nil {
		return err
	}
	lock, err := m.NewLock(ctx)
	if err != nil {
		return err
	}

	var procs []*procshare.Process
	for range 100 {
		p, err := procshare.NewProcess(addUnderLock, &procshare.Config{Daemon: true, Stdout: out}, 1, sum, lock)
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	var total int
	err = runAll(ctx, procs, func() {})
	if err == nil {
		total, err = sum.Get(ctx)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "------------------------")
	fmt.Fprintln(out, "process id:", os.Getpid())
	fmt.Fprintln(out, total)
	return nil
}
