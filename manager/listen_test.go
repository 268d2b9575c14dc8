package manager_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/procshare/procshare/manager"
)

// TestListenUnixNeverOpen: under the most permissive umask, the socket is
// never seen at its path with a mode that lets others connect. A poller
// stats the path while Listen runs, many times; binding at the path and
// chmodding afterwards shows 0777 in that window.
func TestListenUnixNeverOpen(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir, err := os.MkdirTemp("", "psl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "m.sock")
	var open atomic.Int64
	for i := 0; i < 200; i++ {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if fi, err := os.Lstat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
					open.Add(1)
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
		ln, err := manager.Listen(manager.Address{Network: "unix", Addr: path})
		if err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		if fi, err := os.Lstat(path); err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
			t.Fatalf("socket after Listen: %v %v, want a socket with mode 0600", fi.Mode(), err)
		}
		if got := ln.Addr().String(); got != path {
			t.Fatalf("Addr() = %q, want %q", got, path)
		}
		ln.Close()
		if _, err := os.Lstat(path); !os.IsNotExist(err) {
			t.Fatalf("socket left after Close: %v", err)
		}
	}
	if n := open.Load(); n > 0 {
		t.Fatalf("the socket was seen %d times with group or other permissions", n)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Fatalf("Listen left %v in the directory", ents)
	}
}

func TestListenUnixExisting(t *testing.T) {
	dir, err := os.MkdirTemp("", "psl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "m.sock")
	a := manager.Address{Network: "unix", Addr: path}
	ln, err := manager.Listen(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := manager.Listen(a); err == nil || !strings.Contains(err.Error(), "already listening") {
		t.Fatalf("second Listen on a live socket: %v", err)
	}
	ln.Close()
	ln.Close() // idempotent: does not remove a later server's socket
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("data"), 0o600)
	if _, err := manager.Listen(manager.Address{Network: "unix", Addr: file}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Listen over a regular file: %v", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "data" {
		t.Fatal("Listen clobbered a regular file")
	}
}
