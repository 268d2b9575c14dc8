package manager

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Listen opens a listener for a, ready for Serve: TCP as given, or a Unix
// socket that only its owner may connect to (see listenUnix).
func Listen(a Address) (net.Listener, error) {
	switch a.Network {
	case "tcp":
		return net.Listen("tcp", a.Addr)
	case "unix":
		return listenUnix(a.Addr)
	}
	return nil, fmt.Errorf("manager: listen: unknown network %q", a.Network)
}

// listenUnix creates a Unix socket at path with mode 0600 from the moment
// the path exists: it binds in a new private directory (mode 0700) next to
// path, sets the mode, and hard-links the socket to path, which fails if
// anything is there. A socket bound at path directly would be open to
// everyone (mode 0777 less the umask) until a chmod after the bind. A stale
// socket file left by a dead server is removed first; a live server's, or
// any other file, is left alone and reported.
//
// Closing the listener removes path.
func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("manager: listen %s: a server is already listening there", path)
		}
		os.Remove(path)
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".ps")
	if err != nil {
		return nil, fmt.Errorf("manager: listen %s: %w", path, err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	if len(tmp) >= len(syscall.RawSockaddrUnix{}.Path) {
		return nil, fmt.Errorf("manager: listen %s: path too long for a Unix socket (a socket is made at %s first, which must fit in %d bytes)",
			path, tmp, len(syscall.RawSockaddrUnix{}.Path)-1)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("manager: listen %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("manager: listen %s: %w", path, err)
	}
	if err := os.Link(tmp, path); err != nil {
		ln.Close()
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("manager: listen %s: a file that is not a socket is there", path)
		}
		return nil, fmt.Errorf("manager: listen %s: %w", path, err)
	}
	return &unixListener{UnixListener: ln, addr: &net.UnixAddr{Name: path, Net: "unix"}}, nil
}

// unixListener is a Unix socket listener known by the path it was linked
// to rather than the one it was bound at.
type unixListener struct {
	*net.UnixListener
	addr   *net.UnixAddr
	unlink sync.Once
}

func (l *unixListener) Addr() net.Addr { return l.addr }

// Close removes the socket file (once: a later server may own the path by
// then) and closes the listener.
func (l *unixListener) Close() error {
	l.unlink.Do(func() { os.Remove(l.addr.Name) })
	return l.UnixListener.Close()
}
