//go:build unix

package procshare_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/procshare/procshare"
)

// square runs in the pool's workers. Tasks, like functions, are registered
// at package level, so that the workers (the same binary) know them.
var square = procshare.RegisterTask("example.square", func(ctx context.Context, n int) (int, error) {
	if n < 0 {
		return 0, errors.New("negative input")
	}
	return n * n, nil
})

// A Pool is Python's multiprocessing.Pool: Map returns the results in
// input order; the first failing task ends it with a *TaskError that
// carries the worker's message.
func ExamplePool() {
	ctx := context.Background()
	pool, err := procshare.NewPool(ctx, square, &procshare.PoolConfig{Workers: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close() // stops and reaps the workers

	squares, err := pool.Map(ctx, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	fmt.Println(squares, err)

	_, err = pool.Map(ctx, []int{1, -2, 3})
	var te *procshare.TaskError
	if errors.As(err, &te) {
		fmt.Println("input", te.Index, "failed:", te.Err)
	}

	sum := 0
	for sq, err := range pool.ImapUnordered(ctx, []int{1, 2, 3}, procshare.WithChunkSize(1)) {
		if err != nil {
			fmt.Println(err)
			return
		}
		sum += sq
	}
	fmt.Println("sum of squares:", sum)

	r := pool.Go(ctx, 12) // one task, as apply_async
	fmt.Println(r.Get(ctx))
	// Output:
	// [1 4 9 16 25 36 49 64 81 100] <nil>
	// input 1 failed: negative input
	// sum of squares: 14
	// 144 <nil>
}

// WithProgress reports completed tasks in the calling goroutine, chunk by
// chunk.
func ExampleWithProgress() {
	ctx := context.Background()
	pool, err := procshare.NewPool(ctx, square, &procshare.PoolConfig{Workers: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	inputs := make([]int, 100)
	for i := range inputs {
		inputs[i] = i
	}
	_, err = pool.Map(ctx, inputs, procshare.WithChunkSize(25), procshare.WithProgress(func(done, total int) {
		fmt.Printf("%d/%d\n", done, total)
	}))
	fmt.Println(err)
	// Output:
	// 25/100
	// 50/100
	// 75/100
	// 100/100
	// <nil>
}
