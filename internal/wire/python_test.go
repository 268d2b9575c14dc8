package wire_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/procshare/procshare/internal/pyenv"
	"github.com/procshare/procshare/internal/wire"
)

var pyKey = []byte("procshare \x00\xff key")

// TestPythonClient: CPython's multiprocessing.connection.Client (every
// interpreter 3.8–3.13) against a Go listener doing ServerHandshake, over a
// Unix socket and TCP, with the right key (frames echoed) and a wrong one.
func TestPythonClient(t *testing.T) {
	skipWithoutPython(t)
	for _, py := range pyenv.Interpreters() {
		t.Run(py.Name(), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var (
				mu      sync.Mutex
				results []string // per accepted connection: "ok" or the error
				wg      sync.WaitGroup
			)
			serve := func(ln net.Listener) {
				defer wg.Done()
				for {
					nc, err := ln.Accept()
					if err != nil {
						return
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						res := echo(nc)
						mu.Lock()
						results = append(results, ln.Addr().Network()+": "+res)
						mu.Unlock()
					}()
				}
			}
			unixLn, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
			if err != nil {
				t.Fatal(err)
			}
			tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(2)
			go serve(unixLn)
			go serve(tcpLn)

			out, err := exec.CommandContext(ctx, py.Path, "testdata/pyclient.py", hex.EncodeToString(pyKey),
				"unix:"+unixLn.Addr().String(), "tcp:"+tcpLn.Addr().String()).CombinedOutput()
			unixLn.Close()
			tcpLn.Close()
			wg.Wait()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			want := "ok unix\n" +
				"wrong key: unix AuthenticationError: digest sent was rejected\n" +
				"ok tcp\n" +
				"wrong key: tcp AuthenticationError: digest sent was rejected\n"
			if string(out) != want {
				t.Errorf("python printed:\n%s\nwant:\n%s", out, want)
			}
			got := strings.Join(results, "\n")
			for _, network := range []string{"unix", "tcp"} {
				for _, res := range []string{"ok: 5 frames echoed", "wire: authentication failed: digest received was wrong"} {
					if !strings.Contains(got, network+": "+res) {
						t.Errorf("go side: no %q among\n%s", network+": "+res, got)
					}
				}
			}
		})
	}
}

// echo authenticates nc as a server and echoes frames until EOF.
func echo(nc net.Conn) string {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(time.Minute))
	c := wire.NewConn(nc, nil)
	if err := wire.ServerHandshake(c, pyKey); err != nil {
		if !errors.Is(err, wire.ErrAuthFailed) {
			return "unexpected error: " + err.Error()
		}
		return err.Error()
	}
	n := 0
	for {
		wire.SetQuickAck(nc)
		p, err := c.ReadFrame()
		if err != nil {
			return fmt.Sprintf("ok: %d frames echoed (%v)", n, err)
		}
		if err := c.WriteFrame(p); err != nil {
			return "write: " + err.Error()
		}
		n++
	}
}

// TestPythonListener: Go's ClientHandshake against CPython's
// multiprocessing.connection.Listener (every interpreter 3.8–3.13), over a
// Unix socket and TCP, with the right key (frames echoed by Python) and a
// wrong one.
func TestPythonListener(t *testing.T) {
	skipWithoutPython(t)
	for _, py := range pyenv.Interpreters() {
		t.Run(py.Name(), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			path := filepath.Join(t.TempDir(), "s")
			cmd := exec.CommandContext(ctx, py.Path, "testdata/pylistener.py", hex.EncodeToString(pyKey), path)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			lines := bufio.NewScanner(stdout)
			if !lines.Scan() || !strings.HasPrefix(lines.Text(), "ready ") {
				cmd.Wait()
				t.Fatalf("python did not start: %q\n%s", lines.Text(), stderr.String())
			}
			port := strings.TrimPrefix(lines.Text(), "ready ")
			for _, addr := range []struct{ network, addr string }{{"unix", path}, {"tcp", "127.0.0.1:" + port}} {
				frames := [][]byte{{}, []byte("hello"), payload(70000), payload(16385)}
				c := dialPython(t, addr.network, addr.addr)
				if err := wire.ClientHandshake(c, pyKey); err != nil {
					t.Fatalf("%s: %v", addr.network, err)
				}
				for _, f := range frames {
					if err := c.WriteFrame(f); err != nil {
						t.Fatal(err)
					}
					got, err := c.ReadFrame()
					if err != nil || !bytes.Equal(got, f) {
						t.Fatalf("%s: echo of %d bytes: %d bytes, %v", addr.network, len(f), len(got), err)
					}
				}
				c.Close()
				c = dialPython(t, addr.network, addr.addr)
				err := wire.ClientHandshake(c, []byte("wrong"))
				c.Close()
				if !errors.Is(err, wire.ErrAuthFailed) || err.Error() != "wire: authentication failed: digest sent was rejected" {
					t.Errorf("%s: wrong key: %v", addr.network, err)
				}
			}
			var got []string
			for lines.Scan() {
				got = append(got, lines.Text())
			}
			want := []string{
				"echoed unix 4",
				"wrong key: unix AuthenticationError: digest received was wrong",
				"echoed tcp 4",
				"wrong key: tcp AuthenticationError: digest received was wrong",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("python printed:\n%s\nwant:\n%s\nstderr:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), stderr.String())
			}
		})
	}
}

func dialPython(t *testing.T, network, addr string) *wire.Conn {
	t.Helper()
	nc, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(time.Minute))
	return wire.NewConn(nc, nil)
}

func skipWithoutPython(t *testing.T) {
	if len(pyenv.Interpreters()) == 0 {
		t.Skip("no CPython 3.8+ interpreter on this machine")
	}
}
