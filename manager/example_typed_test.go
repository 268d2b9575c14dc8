package manager_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/manager"
)

// A DictOf is a shared dict with Go types: no As, and a value of another
// type (stored by a Python process, say) is an error naming its key.
func ExampleDictOf() {
	ctx := context.Background()
	m, err := manager.Start(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	stock, _ := manager.NewDictOf(ctx, m, map[string]int{"apples": 3})
	stock.Set(ctx, "pears", 5)
	n, err := stock.Get(ctx, "pears")
	fmt.Println(n, err)

	items, _ := stock.All(ctx) // one round trip: a snapshot
	for fruit, n := range items {
		fmt.Println(fruit, n)
	}

	stock.Dict.Set(ctx, "plums", "many") // the untyped proxy takes anything
	_, err = stock.Get(ctx, "plums")
	var ce *manager.ConvertError
	fmt.Println(errors.As(err, &ce), err)
	// Output:
	// 5 <nil>
	// apples 3
	// pears 5
	// true manager: dict.__getitem__: value of key 'plums': cannot convert Python str to Go int
}

type task struct {
	N int `pickle:"n"`
}

// square runs in worker processes: it takes tasks from one typed queue
// until a negative one, and puts results on another.
var square = procshare.Register("manager_test.square", func(ctx context.Context, tasks, results *manager.QueueOf[task]) error {
	for t, err := range tasks.All(ctx) {
		if err != nil {
			return err
		}
		if t.N < 0 {
			return nil
		}
		if err := results.Put(ctx, task{t.N * t.N}); err != nil {
			return err
		}
	}
	return nil
})

// A worker pool over two typed queues; each worker ranges over the tasks.
func ExampleQueueOf_All() {
	ctx := context.Background()
	m, err := manager.Start(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	tasks, _ := manager.NewQueueOf[task](ctx, m, 0)
	results, _ := manager.NewQueueOf[task](ctx, m, 0)

	var workers []*procshare.Process
	for range 3 {
		p, err := procshare.Start(square, tasks, results)
		if err != nil {
			log.Fatal(err)
		}
		workers = append(workers, p)
	}
	for i := range 10 {
		tasks.Put(ctx, task{i})
	}
	sum := 0
	for range 10 {
		r, err := results.Get(ctx)
		if err != nil {
			log.Fatal(err)
		}
		sum += r.N
	}
	for range workers {
		tasks.Put(ctx, task{-1})
	}
	for _, p := range workers {
		if err := p.Join(ctx); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(sum)
	// Output: 285
}

// Do holds a shared lock while a function runs (Python's "with lock:"),
// and releases it however the function ends.
func ExampleLock_Do() {
	ctx := context.Background()
	m, err := manager.Start(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	lock, _ := m.NewLock(ctx)
	balance, _ := manager.NewValue(ctx, m, "i", 100)

	err = lock.Do(ctx, func() error {
		b, err := balance.Get(ctx)
		if err != nil {
			return err
		}
		if b < 150 {
			return errors.New("insufficient funds")
		}
		return balance.Set(ctx, b-150)
	})
	fmt.Println(err)
	free, _ := lock.TryLock(ctx)
	fmt.Println(free)
	// Output:
	// insufficient funds
	// true
}
