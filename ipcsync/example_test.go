package ipcsync_test

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/procshare/procshare/ipcsync"
)

// A Mutex in a shared mapping. Here the mapping is anonymous; a child
// process would map the same memfd or /dev/shm file instead.
func ExampleMutex() {
	mem, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANON)
	if err != nil {
		panic(err)
	}
	defer unix.Munmap(mem)

	mu, err := ipcsync.NewMutex(mem[:ipcsync.MutexSize]) // zero memory: unlocked
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	err = mu.Lock(ctx)
	switch {
	case errors.Is(err, ipcsync.ErrOwnerDead):
		// The previous owner died holding the lock. We hold it now:
		// repair what it protects, then carry on.
	case err != nil:
		panic(err) // ctx was done; we do not hold the lock
	}
	mem[64]++ // the protected state
	mu.Unlock()

	err = mu.Do(ctx, func() error {
		mem[64]++
		return nil
	})
	fmt.Println(mem[64], err, mu.Locked())
	// Output: 2 <nil> false
}

func ExampleSemaphore() {
	var s ipcsync.Semaphore // or ipcsync.NewSemaphore(mem) in shared memory
	if err := s.Init(2, 2); err != nil {
		panic(err)
	}
	ctx := context.Background()
	s.Acquire(ctx)
	fmt.Println(s.TryAcquire(), s.TryAcquire(), s.Value())
	s.Release()
	s.Release()
	fmt.Println(s.Value())
	// Output:
	// true false 0
	// 2
}

func ExampleEvent() {
	var e ipcsync.Event // or ipcsync.NewEvent(mem) in shared memory
	done := make(chan error)
	go func() { done <- e.Wait(context.Background()) }()
	e.Set()
	fmt.Println(<-done, e.IsSet())
	e.Clear()
	fmt.Println(e.IsSet())
	// Output:
	// <nil> true
	// false
}
