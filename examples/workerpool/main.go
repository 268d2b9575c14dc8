// Command workerpool is a worker pool over two manager queues: the parent
// puts 100 jobs on one queue, 4 worker processes take them and put their
// results on the other, and the parent shows its progress ("done 37/100")
// and prints the sum. workerpool.py is the same program in Python.
//
//	go run ./examples/workerpool
//	python3 examples/workerpool/workerpool.py
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/manager"
)

var worker = procshare.Register("main.worker", func(ctx context.Context, jobs, results *manager.QueueOf[int]) error {
	for n, err := range jobs.All(ctx) { // ends when the parent shuts jobs down
		if err != nil {
			return err
		}
		if err := results.Put(ctx, n*n); err != nil {
			return err
		}
	}
	return nil
})

func main() {
	procshare.Main()
	ctx := context.Background()
	m, err := manager.Start(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	jobs, err := manager.NewQueueOf[int](ctx, m, 0)
	if err != nil {
		log.Fatal(err)
	}
	results, err := manager.NewQueueOf[int](ctx, m, 0)
	if err != nil {
		log.Fatal(err)
	}
	var workers []*procshare.Process
	for range 4 {
		p, err := procshare.Start(worker, jobs, results)
		if err != nil {
			log.Fatal(err)
		}
		workers = append(workers, p)
	}
	for n := range 100 {
		if err := jobs.Put(ctx, n); err != nil {
			log.Fatal(err)
		}
	}
	if err := jobs.Shutdown(ctx, false); err != nil {
		log.Fatal(err)
	}
	total := 0
	for done := 1; done <= 100; done++ {
		sq, err := results.Get(ctx)
		if err != nil {
			log.Fatal(err)
		}
		total += sq
		fmt.Printf("\rdone %d/100", done)
	}
	fmt.Println()
	for _, p := range workers {
		if err := p.Join(ctx); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("sum of squares:", total)
}
