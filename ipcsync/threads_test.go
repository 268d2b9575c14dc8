package ipcsync_test

import (
	"context"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/procshare/procshare/ipcsync"
)

// TestManyGoroutineWaitersBoundedThreads: a thousand goroutines waiting
// for one lock must not each pin an OS thread in the kernel.
func TestManyGoroutineWaitersBoundedThreads(t *testing.T) {
	var mu ipcsync.Mutex
	var ev ipcsync.Event
	goroutines := 1000
	if testing.Short() {
		goroutines = 400 // still far more than the 300 threads allowed below
	}
	before := pprof.Lookup("threadcreate").Count()
	mu.Lock(context.Background())
	var wg sync.WaitGroup
	var started sync.WaitGroup
	counter := 0
	for range goroutines {
		started.Add(2)
		wg.Go(func() {
			started.Done()
			if err := mu.Lock(context.Background()); err != nil {
				t.Error(err)
				return
			}
			counter++
			mu.Unlock()
		})
		wg.Go(func() {
			started.Done()
			if err := ev.Wait(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	started.Wait()
	time.Sleep(100 * time.Millisecond) // let them go to sleep (not a correctness condition)
	mu.Unlock()
	ev.Set()
	wg.Wait()
	if counter != goroutines {
		t.Fatalf("counter = %d, want %d", counter, goroutines)
	}
	if made := pprof.Lookup("threadcreate").Count() - before; made > 300 {
		t.Fatalf("%d OS threads created for %d waiting goroutines", made, 2*goroutines)
	}
}
