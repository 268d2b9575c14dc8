// Command poolmap is examples/workerpool written with a procshare.Pool in
// place of hand-made workers and queues: 4 worker processes square 0…99,
// the parent shows its progress ("done 28/100") and prints the sum.
// poolmap.py is the same program with Python's multiprocessing.Pool.
//
//	go run ./examples/poolmap
//	python3 examples/poolmap/poolmap.py
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/procshare/procshare"
)

var square = procshare.RegisterTask("main.square", func(ctx context.Context, n int) (int, error) {
	return n * n, nil
})

func main() {
	procshare.Main()
	ctx := context.Background()
	pool, err := procshare.NewPool(ctx, square, &procshare.PoolConfig{Workers: 4})
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	jobs := make([]int, 100)
	for n := range jobs {
		jobs[n] = n
	}
	total := 0
	for sq, err := range pool.ImapUnordered(ctx, jobs, procshare.WithProgress(func(done, all int) {
		fmt.Printf("\rdone %d/%d", done, all)
	})) {
		if err != nil {
			log.Fatal(err)
		}
		total += sq
	}
	fmt.Println()
	fmt.Println("sum of squares:", total)
}
