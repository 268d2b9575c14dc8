package manager

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Start runs a manager server inside this process, on a Unix socket of its
// own (mode 0600, in a new private temporary directory) with a random
// 32-byte authkey, and returns a client connected to it: Go's counterpart of
// Python's multiprocessing.Manager(). Proxies made from it can be passed to
// child processes (ShareFiles) and to Python processes (PythonValue, with
// Client.Authkey as their authkey).
//
// Close on the returned client stops the server (its objects are gone) and
// removes the socket. A nil cfg selects the client defaults.
func Start(ctx context.Context, cfg *Config) (*Client, error) {
	dir, err := os.MkdirTemp("", "procshare-manager-")
	if err != nil {
		return nil, fmt.Errorf("manager: start: %w", err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	srv, err := NewServer(&ServerConfig{Authkey: key})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ln, err := Listen(Address{Network: "unix", Addr: filepath.Join(dir, "manager.sock")})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()
	stop := func() error {
		err := srv.Close()
		if serr := <-served; serr != nil && !errors.Is(serr, context.Canceled) {
			err = errors.Join(err, serr)
		}
		return errors.Join(err, os.RemoveAll(dir))
	}
	addr := Address{Network: "unix", Addr: ln.Addr().String()}
	c, err := DialAddress(ctx, addr, key, cfg)
	if err != nil {
		return nil, errors.Join(err, stop())
	}
	c.stop = stop
	return c, nil
}
