// Command pyproducer is the Go consumer of a queue that a Python producer
// fills through `procshare serve`: producer.py puts jobs (dicts) on the
// server's "jobs" queue, and this program takes them as Go structs and
// prints them, until the producer's None. consumer.py is the same consumer
// in Python.
//
//	procshare serve --address 127.0.0.1:50000 --expose jobs=Queue &
//	python3 examples/pyproducer/producer.py 127.0.0.1:50000 ~/.config/procshare/authkey
//	go run ./examples/pyproducer 127.0.0.1:50000 ~/.config/procshare/authkey
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/procshare/procshare/manager"
)

type job struct {
	ID   int    `pickle:"id"`
	Word string `pickle:"word"`
}

func main() {
	ctx := context.Background()
	key, err := os.ReadFile(os.Args[2])
	if err != nil {
		log.Fatal(err)
	}
	c, err := manager.Dial(ctx, os.Args[1], key, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	jobs, err := manager.Named[manager.QueueOf[*job]](ctx, c, "jobs")
	if err != nil {
		log.Fatal(err)
	}
	for j, err := range jobs.All(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		if j == nil { // the producer's None: no more jobs
			break
		}
		fmt.Println(j.ID, j.Word)
	}
}
