package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/procshare/procshare/manager"
)

// TestMain lets a test run the command in a real child process: the test
// binary re-executed with PROCSHARE_TEST_MAIN set to the command's
// arguments, one per line, none if it is empty (and, on Linux,
// PROCSHARE_TEST_SHM_DIR to a stand-in for /dev/shm, see runInShmDir).
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("PROCSHARE_TEST_MAIN"); ok {
		if dir := os.Getenv("PROCSHARE_TEST_SHM_DIR"); dir != "" {
			if err := bindShmDir(dir); err != nil {
				fmt.Fprintf(os.Stderr, "stand-in /dev/shm: %v\n", err)
				os.Exit(3)
			}
		}
		var argv []string // "": no arguments
		if args != "" {
			argv = strings.Split(args, "\n")
		}
		os.Exit(run(argv))
	}
	code := m.Run()
	if plain.path != "" {
		os.RemoveAll(filepath.Dir(plain.path)) // plainBinary's build
	}
	os.Exit(code)
}

// waitExit waits for cmd and returns its exit status (-1: killed by a
// signal). If it has not exited after 60 s it is killed and the test
// fails; the bound is no claim about speed.
func waitExit(t *testing.T, cmd *exec.Cmd, what string) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("procshare %s has not exited after 60 s: it blocks", what)
	}
	return cmd.ProcessState.ExitCode()
}

// TestServeStopsOnSignal: "procshare serve", a process of its own, stops
// gracefully on SIGTERM and on SIGINT: a client's blocked call ends with an
// error instead of hanging, the process exits with status 0, and the Unix
// socket is removed.
func TestServeStopsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := shortTempDir(t)
			sock := filepath.Join(dir, "m.sock")
			keyFile := filepath.Join(dir, "key")
			addrFile := filepath.Join(dir, "addr")
			key := []byte("signal key")
			if err := os.WriteFile(keyFile, key, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), "PROCSHARE_TEST_MAIN="+strings.Join([]string{
				"serve", "--address", sock, "--authkey-file", keyFile, "--addr-file", addrFile}, "\n"))
			var stderr syncBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := false
			defer func() {
				if !exited {
					cmd.Process.Kill()
					cmd.Wait()
				}
			}()
			waitFile(t, addrFile)

			ctx := context.Background()
			c, err := manager.Dial(ctx, sock, key, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			q, err := c.NewQueue(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan error, 1)
			go func() {
				_, err := q.Get(ctx) // blocks: the queue stays empty
				got <- err
			}()
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-got:
				if err == nil {
					t.Fatal("Get on an empty queue returned an item")
				}
			case <-time.After(20 * time.Second):
				t.Fatal("a blocked Get still hangs 20 s after the server's signal")
			}
			waitErr := make(chan error, 1)
			go func() { waitErr <- cmd.Wait() }()
			select {
			case err := <-waitErr:
				exited = true
				if err != nil {
					t.Fatalf("serve exited with %v; stderr:\n%s", err, stderr.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("serve did not exit after %v; stderr:\n%s", sig, stderr.String())
			}
			if !strings.Contains(stderr.String(), "procshare: server stopped") {
				t.Errorf("stderr does not say the server stopped:\n%s", stderr.String())
			}
			if _, err := os.Stat(sock); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("socket file after exit: %v", err)
			}
		})
	}
}
