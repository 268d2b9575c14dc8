// Command histogram counts the last digits of the squares of 0…99999 in a
// shared-memory array: 8 child processes each take every 8th number and add
// 1 to the digit's bin (an atomic add, no lock needed), and the parent
// prints the histogram. histogram.py is the same program in Python.
//
//	go run ./examples/histogram
//	python3 examples/histogram/histogram.py
package main

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/shm"
)

var count = procshare.Register("main.count", func(ctx context.Context, k int, bins *shm.Array[int32]) error {
	for x := k; x < 100000; x += 8 {
		bins.Add(x*x%10, 1)
	}
	return nil
})

func main() {
	procshare.Main()
	bins, err := shm.NewArray[int32](10)
	if err != nil {
		log.Fatal(err)
	}
	var children []*procshare.Process
	for k := range 8 {
		p, err := procshare.Start(count, k, bins)
		if err != nil {
			log.Fatal(err)
		}
		children = append(children, p)
	}
	for _, p := range children {
		if err := p.Join(context.Background()); err != nil {
			log.Fatal(err)
		}
	}
	for digit, n := range bins.Slice() {
		fmt.Println(digit, n, strings.Repeat("#", int(n)/1000))
	}
}
