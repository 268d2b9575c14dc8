package manager_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

// Start is Python's Manager(): a manager server inside this process, and a
// client of it. Results are Python values; As converts them to Go types.
func Example() {
	ctx := context.Background()
	m, err := manager.Start(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	d, err := m.NewDict(ctx, map[string]int{"apples": 3})
	if err != nil {
		log.Fatal(err)
	}
	d.Set(ctx, "pears", 5)
	n, err := manager.As[int](d.Get(ctx, "pears"))
	fmt.Println(n, err)
	_, err = d.Get(ctx, "plums")
	fmt.Println(errors.Is(err, manager.ErrKeyNotFound), err)
	s, _ := d.Repr(ctx)
	fmt.Println(s)
	// Output:
	// 5 <nil>
	// true manager: dict.__getitem__: KeyError: 'plums'
	// {'apples': 3, 'pears': 5}
}

// A blocking call takes a context; when it ends first the call returns its
// error and leaves the queue as it was.
func ExampleQueue_Get() {
	ctx := context.Background()
	m, err := manager.Start(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	q, _ := m.NewQueue(ctx, 0)

	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	_, err = q.Get(short)
	fmt.Println(err)

	q.Put(ctx, "job 1")
	q.Put(ctx, []int{2, 3})
	v, _ := q.Get(ctx)
	fmt.Println(v)
	xs, _ := manager.As[[]int](q.Get(ctx))
	fmt.Println(xs)
	_, err = q.TryGet(ctx)
	fmt.Println(errors.Is(err, manager.ErrEmpty))
	// Output:
	// context deadline exceeded
	// job 1
	// [2 3]
	// true
}

// addOne runs in child processes: the proxies it receives reconnect to the
// parent's manager.
var addOne = procshare.Register("manager_test.addOne", func(ctx context.Context, sum *manager.Value[int], lock *manager.Lock) error {
	if err := lock.Lock(ctx); err != nil {
		return err
	}
	defer lock.Unlock(ctx)
	v, err := sum.Get(ctx)
	if err != nil {
		return err
	}
	return sum.Set(ctx, v+1)
})

// The seed's program: processes add 1 to a shared Value under a shared
// Lock (Python: with lock: sum.value += 1).
func ExampleValue() {
	ctx := context.Background()
	m, err := manager.Start(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	sum, _ := manager.NewValue(ctx, m, "i", 0)
	lock, _ := m.NewLock(ctx)

	var procs []*procshare.Process
	for range 5 {
		p, err := procshare.Start(addOne, sum, lock)
		if err != nil {
			log.Fatal(err)
		}
		procs = append(procs, p)
	}
	for _, p := range procs {
		if err := p.Join(ctx); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(sum.Get(ctx))
	// Output: 5 <nil>
}

// Add is one atomic round trip on procshare's server (an extension of the
// protocol); against a CPython manager it reports ErrUnsupported.
func ExampleValue_Add() {
	ctx := context.Background()
	m, err := manager.Start(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	hits, _ := manager.NewValue(ctx, m, "", 0.5)
	fmt.Println(hits.Add(ctx, 2))
	swapped, _ := hits.CompareAndSwap(ctx, 2.5, 10)
	fmt.Println(swapped)
	fmt.Println(hits.Get(ctx))
	// Output:
	// 2.5 <nil>
	// true
	// 10 <nil>
}

// PythonValue pickles a proxy as Python does
// (multiprocessing.managers.RebuildProxy), so that a Python process can
// unpickle it into a working proxy, after setting
// multiprocessing.current_process().authkey to the manager's key: see
// examples/mixed.
func ExampleList_PythonValue() {
	ctx := context.Background()
	m, err := manager.Start(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	l, _ := m.NewList(ctx, []string{"shared"})
	b, _ := pickle.Marshal(l.PythonValue())
	fmt.Println(bytes.Contains(b, []byte("RebuildProxy")), bytes.Contains(b, []byte("ListProxy")))
	fmt.Println(l.Token().TypeID, len(m.Authkey()))
	// Output:
	// true true
	// list 32
}
