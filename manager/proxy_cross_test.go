package manager_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/internal/pyenv"
	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/manager/interop"
	"github.com/procshare/procshare/pickle"
)

// namedKinds are the named objects of every kind that both servers of
// TestNamedProxiesCross offer: interop's cpython_server.py registers them
// (NAMED there), and procshare's server exposes them (ServerConfig.Expose).
var namedKinds = []manager.ExposedObject{
	{Name: "stats", TypeID: "dict"},
	{Name: "items", TypeID: "list"},
	{Name: "lock", TypeID: "Lock"},
	{Name: "rlock", TypeID: "RLock"},
	{Name: "sem", TypeID: "Semaphore", Args: []pickle.Value{int64(2)}},
	{Name: "bsem", TypeID: "BoundedSemaphore", Args: []pickle.Value{int64(2)}},
	{Name: "cond", TypeID: "Condition"},
	{Name: "event", TypeID: "Event"},
	{Name: "barrier", TypeID: "Barrier", Args: []pickle.Value{int64(1)}},
	{Name: "value", TypeID: "Value", Args: []pickle.Value{"i", int64(0)}},
	{Name: "array", TypeID: "Array", Args: []pickle.Value{"i", &pickle.List{Items: []pickle.Value{int64(0), int64(0), int64(0)}}}},
	{Name: "ns", TypeID: "Namespace"},
	{Name: "jobs", TypeID: "Queue"},
	{Name: "tasks", TypeID: "JoinableQueue"},
}

// namedProxies holds one proxy of every kind, got with manager.Named.
type namedProxies struct {
	d     *manager.Dict
	l     *manager.List
	lock  *manager.Lock
	rlock *manager.RLock
	sem   *manager.Semaphore
	bsem  *manager.Semaphore
	cond  *manager.Condition
	ev    *manager.Event
	bar   *manager.Barrier
	v     *manager.Value[int]
	a     *manager.Array[int32]
	ns    *manager.Namespace
	jobs  *manager.Queue
	tasks *manager.JoinableQueue
	// also the generic proxy, for a typeid without a typed proxy
	any *manager.Proxy
}

// useNamed runs in a child with a proxy of every kind got by name in the
// parent: it uses each, so that the parent can see the effect.
var useNamed = procshare.Register("manager_test.useNamed", func(ctx context.Context,
	d *manager.Dict, l *manager.List, lock *manager.Lock, rlock *manager.RLock,
	sem, bsem *manager.Semaphore, cond *manager.Condition, ev *manager.Event,
	bar *manager.Barrier, v *manager.Value[int], a *manager.Array[int32],
	ns *manager.Namespace, jobs *manager.Queue, tasks *manager.JoinableQueue, anyp *manager.Proxy) error {
	pid := os.Getpid()
	steps := []struct {
		what string
		do   func() error
	}{
		{"dict", func() error { return d.Set(ctx, "child", pid) }},
		{"list", func() error { return l.Append(ctx, pid) }},
		{"lock and value", func() error {
			if err := lock.Lock(ctx); err != nil {
				return err
			}
			n, err := v.Get(ctx)
			if err == nil {
				err = v.Set(ctx, n+1)
			}
			if uerr := lock.Unlock(ctx); err == nil {
				err = uerr
			}
			return err
		}},
		{"rlock", func() error {
			for range 2 {
				if err := rlock.Lock(ctx); err != nil {
					return err
				}
			}
			for range 2 {
				if err := rlock.Unlock(ctx); err != nil {
					return err
				}
			}
			return nil
		}},
		{"semaphores", func() error {
			for _, s := range []*manager.Semaphore{sem, bsem} {
				if err := s.Acquire(ctx); err != nil {
					return err
				}
				if err := s.Release(ctx); err != nil {
					return err
				}
			}
			return nil
		}},
		{"condition", func() error {
			if err := cond.Lock(ctx); err != nil {
				return err
			}
			if err := cond.NotifyAll(ctx); err != nil {
				return err
			}
			return cond.Unlock(ctx)
		}},
		{"barrier", func() error { _, err := bar.Wait(ctx); return err }},
		{"array", func() error { return a.Set(ctx, 1, 7) }},
		{"namespace", func() error { return ns.Set(ctx, "who", pid) }},
		{"generic proxy", func() error { _, err := anyp.Call(ctx, "__setitem__", "generic", pid); return err }},
		{"joinable queue", func() error {
			if err := tasks.Put(ctx, pid); err != nil {
				return err
			}
			if _, err := tasks.Get(ctx); err != nil {
				return err
			}
			return tasks.TaskDone(ctx)
		}},
		{"event", func() error { return ev.Set(ctx) }},
		{"queue", func() error { return jobs.Put(ctx, pid) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return nil
})

// TestNamedProxiesCross passes a proxy of every kind, got with
// manager.Named (an --expose name of procshare's server, a registered name
// of CPython's), to a child process, which uses them all. It used to fail
// in the child for everything but a Queue: "manager: cannot attach a dict
// proxy to a "stats" object".
func TestNamedProxiesCross(t *testing.T) {
	pys := []pyenv.Interpreter{pyenv.Latest(t)}
	if !testing.Short() {
		pys = pyenv.Interpreters() // 3.8 to 3.13
	}
	servers := []*pyenv.Interpreter{nil} // nil: procshare's
	for i := range pys {
		servers = append(servers, &pys[i])
	}
	for _, py := range servers {
		server := "procshare"
		if py != nil {
			server = py.Name()
		}
		t.Run(server, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			key := interop.NewAuthkey(t)
			var addr string
			if py == nil {
				addr = interop.StartServer(t, "unix", &manager.ServerConfig{Authkey: key, Expose: namedKinds})
			} else {
				addr, _ = interop.StartCPythonServer(t, *py, interop.SocketPath(t), key)
			}
			c := get[*manager.Client](t)(manager.Dial(ctx, addr, key, nil))
			t.Cleanup(func() { c.Close() })

			p := namedProxies{
				d:     get[*manager.Dict](t)(manager.Named[manager.Dict](ctx, c, "stats")),
				l:     get[*manager.List](t)(manager.Named[manager.List](ctx, c, "items")),
				lock:  get[*manager.Lock](t)(manager.Named[manager.Lock](ctx, c, "lock")),
				rlock: get[*manager.RLock](t)(manager.Named[manager.RLock](ctx, c, "rlock")),
				sem:   get[*manager.Semaphore](t)(manager.Named[manager.Semaphore](ctx, c, "sem")),
				bsem:  get[*manager.Semaphore](t)(manager.Named[manager.Semaphore](ctx, c, "bsem")),
				cond:  get[*manager.Condition](t)(manager.Named[manager.Condition](ctx, c, "cond")),
				ev:    get[*manager.Event](t)(manager.Named[manager.Event](ctx, c, "event")),
				bar:   get[*manager.Barrier](t)(manager.Named[manager.Barrier](ctx, c, "barrier")),
				v:     get[*manager.Value[int]](t)(manager.Named[manager.Value[int]](ctx, c, "value")),
				a:     get[*manager.Array[int32]](t)(manager.Named[manager.Array[int32]](ctx, c, "array")),
				ns:    get[*manager.Namespace](t)(manager.Named[manager.Namespace](ctx, c, "ns")),
				jobs:  get[*manager.Queue](t)(manager.Named[manager.Queue](ctx, c, "jobs")),
				tasks: get[*manager.JoinableQueue](t)(manager.Named[manager.JoinableQueue](ctx, c, "tasks")),
				any:   get[*manager.Proxy](t)(manager.Named[manager.Proxy](ctx, c, "stats")),
			}
			child := get[*procshare.Process](t)(procshare.Start(useNamed, p.d, p.l, p.lock, p.rlock,
				p.sem, p.bsem, p.cond, p.ev, p.bar, p.v, p.a, p.ns, p.jobs, p.tasks, p.any))
			if err := child.Join(ctx); err != nil {
				t.Fatal(err)
			}
			pid := child.Pid()

			// Every proxy reached the same object as the parent's.
			if got := get[int](t)(manager.As[int](p.d.Get(ctx, "child"))); got != pid {
				t.Errorf("stats[child] = %d, want %d", got, pid)
			}
			if got := get[int](t)(manager.As[int](p.d.Get(ctx, "generic"))); got != pid {
				t.Errorf("stats[generic] = %d, want %d", got, pid)
			}
			if got := get[[]int](t)(manager.As[[]int](p.l.Items(ctx))); len(got) != 1 || got[0] != pid {
				t.Errorf("items = %v, want [%d]", got, pid)
			}
			if got := get[int](t)(p.v.Get(ctx)); got != 1 {
				t.Errorf("value = %d, want 1", got)
			}
			if got := get[[]int32](t)(p.a.Values(ctx)); len(got) != 3 || got[1] != 7 {
				t.Errorf("array = %v, want [0 7 0]", got)
			}
			if got := get[int](t)(manager.As[int](p.ns.Get(ctx, "who"))); got != pid {
				t.Errorf("ns.who = %d, want %d", got, pid)
			}
			if !get[bool](t)(p.ev.IsSet(ctx)) {
				t.Error("event not set")
			}
			if got := get[int](t)(manager.As[int](p.jobs.Get(ctx))); got != pid {
				t.Errorf("jobs got %d, want %d", got, pid)
			}
			must(t, p.tasks.Join(ctx)) // the child's task is done
			// The locks and semaphores were given back.
			for name, l := range map[string]interface {
				TryLock(context.Context) (bool, error)
				Unlock(context.Context) error
			}{"lock": p.lock, "rlock": p.rlock, "cond": p.cond} {
				if !get[bool](t)(l.TryLock(ctx)) {
					t.Errorf("%s still held after the child", name)
					continue
				}
				must(t, l.Unlock(ctx))
			}
			for name, s := range map[string]*manager.Semaphore{"sem": p.sem, "bsem": p.bsem} {
				for i := range 2 {
					if !get[bool](t)(s.TryAcquire(ctx)) {
						t.Errorf("%s: unit %d lost", name, i)
					}
				}
				must(t, s.Release(ctx))
				must(t, s.Release(ctx))
			}
		})
	}
}

// TestAttachRefusesOtherStandardType checks that AttachFiles still refuses
// an object of another SyncManager typeid, the one mismatch the child can
// see (Start itself insists on the parameter's exact Go type).
func TestAttachRefusesOtherStandardType(t *testing.T) {
	ctx := ctxT(t)
	c := dialTarget(t, target{name: "procshare"}, nil)
	q := get[*manager.Queue](t)(c.NewQueue(ctx, 0))
	defer q.Close()
	_, meta, err := q.ShareFiles()
	must(t, err)
	var d manager.Dict
	err = d.AttachFiles(nil, meta)
	if err == nil || !strings.Contains(err.Error(), `cannot attach a dict proxy to a "Queue" object`) {
		t.Fatalf("AttachFiles of a Queue's metadata to a Dict = %v", err)
	}
}

// team holds proxies in the places users put them: fields, a slice, a map.
type team struct {
	Name    string
	Stats   *manager.Dict
	Guard   *manager.Lock
	Inboxes []*manager.Queue
	Counts  map[string]*manager.Value[int]
}

var teamChild = procshare.Register("manager_test.teamChild", func(ctx context.Context, tm team) error {
	if err := tm.Guard.Lock(ctx); err != nil {
		return err
	}
	defer tm.Guard.Unlock(ctx)
	if err := tm.Stats.Set(ctx, tm.Name, len(tm.Inboxes)); err != nil {
		return err
	}
	for i, q := range tm.Inboxes {
		if err := q.Put(ctx, i); err != nil {
			return err
		}
	}
	for _, v := range tm.Counts {
		if _, err := v.Add(ctx, 1); err != nil {
			return err
		}
	}
	return nil
})

// TestNestedProxiesCross passes proxies inside a struct, a slice and a map
// to a child.
func TestNestedProxiesCross(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := dialTarget(t, target{name: "procshare"}, nil)
	tm := team{
		Name:   "blue",
		Stats:  get[*manager.Dict](t)(c.NewDict(ctx, nil)),
		Guard:  get[*manager.Lock](t)(c.NewLock(ctx)),
		Counts: map[string]*manager.Value[int]{},
	}
	for range 2 {
		tm.Inboxes = append(tm.Inboxes, get[*manager.Queue](t)(c.NewQueue(ctx, 0)))
	}
	for _, k := range []string{"a", "b"} {
		tm.Counts[k] = get[*manager.Value[int]](t)(manager.NewValue(ctx, c, "i", 0))
	}
	p := get[*procshare.Process](t)(procshare.Start(teamChild, tm))
	must(t, p.Join(ctx))
	if n := get[int](t)(manager.As[int](tm.Stats.Get(ctx, "blue"))); n != 2 {
		t.Errorf("stats[blue] = %d", n)
	}
	for i, q := range tm.Inboxes {
		if got := get[int](t)(manager.As[int](q.TryGet(ctx))); got != i {
			t.Errorf("inbox %d got %d", i, got)
		}
	}
	for k, v := range tm.Counts {
		if got := get[int](t)(v.Get(ctx)); got != 1 {
			t.Errorf("counts[%s] = %d", k, got)
		}
	}
}

// dieBeforeReply is a worker that takes a job and dies (SIGKILL, as by the
// OOM killer) before it puts a result.
var dieBeforeReply = procshare.Register("manager_test.dieBeforeReply", func(ctx context.Context, jobs, results *manager.Queue) error {
	if _, err := jobs.Get(ctx); err != nil {
		return err
	}
	return syscall.Kill(os.Getpid(), syscall.SIGKILL)
})

// TestResultQueueChildDies waits on a results Queue for a child that dies
// before it replies: with procshare.WithProcesses the Get ends, and the
// context's cause says how the child died (against procshare's and
// CPython's servers).
func TestResultQueueChildDies(t *testing.T) {
	t.Parallel()
	py := pyenv.Latest(t)
	for _, tg := range []target{{name: "procshare"}, {name: py.Name(), py: &py}} {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			base := ctxT(t)
			c := dialTarget(t, tg, nil)
			jobs := get[*manager.Queue](t)(c.NewQueue(base, 0))
			results := get[*manager.Queue](t)(c.NewQueue(base, 0))
			defer jobs.Close()
			defer results.Close()
			p := get[*procshare.Process](t)(procshare.Start(dieBeforeReply, jobs, results))
			must(t, jobs.Put(base, "job 1"))
			ctx, cancel := procshare.WithProcesses(base, p)
			defer cancel()
			v, err := results.Get(ctx)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Get = %v, %v; want context.Canceled", v, err)
			}
			var ee *procshare.ExitError
			if !errors.As(context.Cause(ctx), &ee) || ee.Code != -9 {
				t.Fatalf("cause %v, want the child's death by SIGKILL", context.Cause(ctx))
			}
			// The queue is intact: nothing was taken or lost.
			if n := get[int](t)(results.Len(base)); n != 0 {
				t.Fatalf("results holds %d items", n)
			}
		})
	}
}
