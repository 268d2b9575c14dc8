// Command cpymanager is a Go client of a real CPython manager: server.py
// (Python's SyncManager) shares a dict and a Lock; this program adds 1 to
// stats["count"] 100 times, each time under the lock, and prints the last
// count it wrote. client.py is the same client in Python; any number of
// either can run at once without losing a count.
//
//	python3 examples/cpymanager/server.py KEYFILE &   # serving on 127.0.0.1:50000
//	go run ./examples/cpymanager 127.0.0.1:50000 KEYFILE
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/procshare/procshare/manager"
)

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
	stats, err := manager.Named[manager.DictOf[string, int]](ctx, c, "stats")
	if err != nil {
		log.Fatal(err)
	}
	lock, err := manager.Named[manager.Lock](ctx, c, "lock")
	if err != nil {
		log.Fatal(err)
	}
	n := 0
	for range 100 {
		err := lock.Do(ctx, func() error {
			v, err := stats.GetDefault(ctx, "count", 0)
			if err != nil {
				return err
			}
			n = v + 1
			return stats.Set(ctx, "count", n)
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("count =", n)
}
