package manager_test

import (
	"context"
	"fmt"

	"github.com/procshare/procshare/manager"
)

// A manager server for Go and Python clients, with a named queue that a
// Python client reaches with QueueManager.register('get_queue').
func ExampleNewServer() {
	srv, err := manager.NewServer(&manager.ServerConfig{
		Authkey: []byte("a secret shared with the clients"),
		Expose:  []manager.ExposedObject{{Name: "get_queue", TypeID: "Queue"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ln, err := manager.Listen(manager.Address{Network: "tcp", Addr: "127.0.0.1:0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	// Clients connect to ln.Addr() here. Cancelling ctx (or srv.Close, or
	// a client's shutdown request) stops the server.
	cancel()
	fmt.Println(<-done)
	// Output: context canceled
}
