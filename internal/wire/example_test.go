package wire_test

import (
	"fmt"
	"net"

	"github.com/procshare/procshare/internal/wire"
)

// A server and a client authenticate each other, then exchange frames.
// With a CPython peer the calls are the same: a multiprocessing Client
// connecting to the server side, or a Listener accepting the client side.
func Example() {
	clientSide, serverSide := net.Pipe()
	key := []byte("secret")

	done := make(chan error, 1)
	go func() {
		c := wire.NewConn(serverSide, nil)
		defer c.Close()
		if err := wire.ServerHandshake(c, key); err != nil {
			done <- err
			return
		}
		req, err := c.ReadFrame()
		if err != nil {
			done <- err
			return
		}
		done <- c.WriteFrame(append([]byte("echo: "), req...))
	}()

	c := wire.NewConn(clientSide, nil)
	defer c.Close()
	if err := wire.ClientHandshake(c, key); err != nil {
		fmt.Println(err)
		return
	}
	if err := c.WriteFrame([]byte("hello")); err != nil {
		fmt.Println(err)
		return
	}
	reply, err := c.ReadFrame()
	fmt.Printf("%s %v %v\n", reply, err, <-done)
	// Output: echo: hello <nil> <nil>
}

// Different keys: each side learns it from the handshake.
func ExampleServerHandshake_wrongKey() {
	clientSide, serverSide := net.Pipe()
	done := make(chan error, 1)
	go func() {
		c := wire.NewConn(serverSide, nil)
		err := wire.ServerHandshake(c, []byte("server key"))
		c.Close()
		done <- err
	}()
	c := wire.NewConn(clientSide, nil)
	defer c.Close()
	fmt.Println("client:", wire.ClientHandshake(c, []byte("client key")))
	fmt.Println("server:", <-done)
	// Output:
	// client: wire: authentication failed: digest sent was rejected
	// server: wire: authentication failed: digest received was wrong
}
