package manager_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/internal/pyenv"
	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

// addChild runs in a child process with proxies passed by its parent: it
// adds 1 to the Value under the Lock (Python's `with lock: v.value += 1`),
// records itself in the dict and the list, and sends its pid on the queue.
var addChild = procshare.Register("manager_test.addChild", func(ctx context.Context, v *manager.Value[int], l *manager.Lock, d *manager.Dict, q *manager.Queue, r *manager.RLock) error {
	if err := l.Lock(ctx); err != nil {
		return err
	}
	n, err := v.Get(ctx)
	if err == nil {
		err = v.Set(ctx, n+1)
	}
	if err2 := l.Unlock(ctx); err == nil {
		err = err2
	}
	if err != nil {
		return err
	}
	// An RLock attached in a child is an owner of its own.
	if err := r.Lock(ctx); err != nil {
		return err
	}
	if err := r.Lock(ctx); err != nil {
		return err
	}
	for range 2 {
		if err := r.Unlock(ctx); err != nil {
			return err
		}
	}
	if err := d.Set(ctx, os.Getpid(), "done"); err != nil {
		return err
	}
	for _, p := range []interface{ Close() error }{v, l, d, r} {
		p.Close()
	}
	return q.Put(ctx, os.Getpid())
})

// TestChildProcesses passes proxies to child processes (procshare.Process),
// which reconnect to the manager and share the objects with the parent.
func TestChildProcesses(t *testing.T) {
	tgs := []target{{name: "procshare"}}
	py := pyenv.Latest(t)
	tgs = append(tgs, target{name: py.Name(), py: &py})
	for _, tg := range tgs {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			c := dialTarget(t, tg, nil)
			ctx := ctxT(t)
			v := get[*manager.Value[int]](t)(manager.NewValue(ctx, c, "i", 0))
			defer v.Close()
			l := get[*manager.Lock](t)(c.NewLock(ctx))
			defer l.Close()
			d := get[*manager.Dict](t)(c.NewDict(ctx, nil))
			defer d.Close()
			q := get[*manager.Queue](t)(c.NewQueue(ctx, 0))
			defer q.Close()
			r := get[*manager.RLock](t)(c.NewRLock(ctx))
			defer r.Close()
			n := 8
			if testing.Short() {
				n = 4
			}
			var procs []*procshare.Process
			for range n {
				p, err := procshare.Start(addChild, v, l, d, q, r)
				must(t, err)
				procs = append(procs, p)
			}
			var pids []int
			for _, p := range procs {
				if err := p.Join(ctx); err != nil {
					t.Fatalf("child %d: %v", p.Pid(), err)
				}
				pids = append(pids, p.Pid())
			}
			if got := get[int](t)(v.Get(ctx)); got != n {
				t.Fatalf("value = %d, want %d", got, n)
			}
			var sent []int
			for range n {
				sent = append(sent, get[int](t)(manager.As[int](q.TryGet(ctx))))
			}
			slices.Sort(pids)
			slices.Sort(sent)
			if !slices.Equal(pids, sent) {
				t.Fatalf("queue got pids %v, children were %v", sent, pids)
			}
			for _, pid := range pids {
				if s := get[pickle.Value](t)(d.Get(ctx, pid)); s != "done" {
					t.Fatalf("d[%d] = %v", pid, s)
				}
			}
			// The children released their RLock ownership.
			if ok := get[bool](t)(r.TryLock(ctx)); !ok {
				t.Fatal("RLock still held after the children")
			}
			must(t, r.Unlock(ctx))
			// The children borrowed the parent's references: the objects
			// are alive and owned once.
			if s := get[string](t)(v.Repr(ctx)); s != fmt.Sprintf("Value('i', %d)", n) {
				t.Fatalf("Repr = %s", s)
			}
		})
	}
}

// TestReferences checks the reference counting: a proxy holds one
// reference, Close gives it back, Attach takes another, and a proxy dropped
// without Close gives its reference back when collected.
func TestReferences(t *testing.T) {
	py := pyenv.Latest(t)
	for _, name := range []string{"procshare", py.Name()} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			var c *manager.Client
			if name == "procshare" {
				c = dialTarget(t, target{name: name}, nil)
			} else {
				// A private server: the shared ones count other tests'
				// objects too.
				s := startCPython(py, "unix")
				must(t, s.err)
				t.Cleanup(func() { s.cmd.Process.Kill(); s.cmd.Wait() })
				c = get[*manager.Client](t)(manager.Dial(ctx, s.addr, s.key, nil))
				t.Cleanup(func() { c.Close() })
			}
			testReferences(t, c)
		})
	}
}

func testReferences(t *testing.T, c *manager.Client) {
	ctx := ctxT(t)
	base := get[int](t)(c.NumObjects(ctx))
	d := get[*manager.Dict](t)(c.NewDict(ctx, nil))
	if n := get[int](t)(c.NumObjects(ctx)); n != base+1 {
		t.Fatalf("objects = %d after NewDict, want %d", n, base+1)
	}
	d2 := get[*manager.Dict](t)(manager.Attach[manager.Dict](ctx, c, d.Token(), d.Exposed()))
	must(t, d.Close())
	must(t, d.Close()) // idempotent
	if err := d.Set(ctx, "k", 1); !errors.Is(err, manager.ErrClosed) {
		t.Fatalf("Set after Close = %v", err)
	}
	must(t, d2.Set(ctx, "k", 1)) // the second reference keeps it alive
	must(t, d2.Close())
	if n := get[int](t)(c.NumObjects(ctx)); n != base {
		t.Fatalf("objects = %d after both Close, want %d", n, base)
	}
	func() {
		get[*manager.List](t)(c.NewList(ctx, nil)) // dropped without Close
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		runtime.GC()
		n := get[int](t)(c.NumObjects(ctx))
		if n == base {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("objects = %d: a dropped proxy kept its reference", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
