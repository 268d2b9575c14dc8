//go:build unix

package procshare_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/shm"
)

// greet runs in a child. Functions are registered at package level so that
// the parent and its children (the same binary) know them under one name.
var greet = procshare.Register("example.greet", func(name string, times int) {
	for range times {
		fmt.Println("hello,", name, "from a child")
	}
})

var divide = procshare.Register("example.divide", func(ctx context.Context, a, b int) error {
	if b == 0 {
		return errors.New("division by zero")
	}
	fmt.Println(a / b)
	return nil
})

// The program's main (and a test binary's TestMain) calls procshare.Main
// first; in a child it runs the registered function and exits. The child
// inherits the parent's standard output, so its lines come before the
// parent's, which prints after Join.
func Example() {
	p, err := procshare.Start(greet, "gopher", 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := p.Join(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	code, _ := p.ExitCode()
	fmt.Println("parent: child exited with code", code, "and the parent's pid is still", os.Getpid() != p.Pid())
	// Output:
	// hello, gopher from a child
	// hello, gopher from a child
	// parent: child exited with code 0 and the parent's pid is still true
}

// A function's returned error reaches Join as an *ExitError with exit code 1.
func ExampleExitError() {
	p, err := procshare.NewProcess(divide, &procshare.Config{Name: "divider"}, 1, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := p.Start(); err != nil {
		fmt.Println(err)
		return
	}
	err = p.Join(context.Background())
	var ee *procshare.ExitError
	if errors.As(err, &ee) {
		fmt.Println(ee.Name, ee.Code, ee.Err)
	}
	// Output:
	// divider 1 division by zero
}

// Arguments are checked against the registered signature before anything
// starts.
func ExampleNewProcess_argError() {
	_, err := procshare.NewProcess(divide, nil, 1, "two")
	fmt.Println(err)
	// Output:
	// procshare: example.divide: argument 2: cannot use value of type string as int
}

var fragile = procshare.Register("example.fragile", func(done *shm.Event) error {
	return errors.New("out of input") // fails before it sets done
})

// A parent waiting for a child's signal (here an Event; a manager Queue's
// Get alike) gives up when the child fails, rather than waiting forever.
func ExampleWithProcesses() {
	done, _ := shm.NewEvent()
	defer done.Close()
	p, err := procshare.NewProcess(fragile, &procshare.Config{Name: "fragile"}, done)
	if err == nil {
		err = p.Start()
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := procshare.WithProcesses(context.Background(), p)
	defer cancel()
	if err := done.Wait(ctx); err != nil {
		var ee *procshare.ExitError
		if errors.As(context.Cause(ctx), &ee) {
			fmt.Printf("gave up waiting: %s exited with code %d: %s\n", ee.Name, ee.Code, ee.Err)
		}
	}
	// Output: gave up waiting: fragile exited with code 1: out of input
}
