package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/procshare/procshare/internal/pyenv"
	"github.com/procshare/procshare/internal/wire"
	"github.com/procshare/procshare/manager"
)

// syncBuffer is a bytes.Buffer safe for the command's goroutine and the
// test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFile waits for path to exist with content.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
	return ""
}

func shortTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "psc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestServeAndInspect(t *testing.T) {
	t.Setenv(authkeyEnv, "")
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			dir := shortTempDir(t)
			t.Setenv("XDG_CONFIG_HOME", dir)
			address := "127.0.0.1:0"
			if network == "unix" {
				address = filepath.Join(dir, "m.sock")
			}
			addrFile := filepath.Join(dir, "addr")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stderr syncBuffer
			done := make(chan error, 1)
			go func() {
				done <- serveCommand(ctx, []string{"--address", address, "--addr-file", addrFile,
					"--expose", "get_queue=Queue", "--expose", "shared=dict", "--release-on-disconnect"}, io.Discard, &stderr)
			}()
			addr := waitFile(t, addrFile)
			if network == "unix" {
				if fi, err := os.Stat(address); err != nil || fi.Mode().Perm() != 0o600 {
					t.Fatalf("socket mode: %v %v", fi.Mode(), err)
				}
			}
			if !strings.Contains(stderr.String(), "procshare: serving on "+addr) {
				t.Fatalf("stderr: %q", stderr.String())
			}
			// The generated default key file, in the configuration
			// directory.
			keyFile := filepath.Join(dir, "procshare", "authkey")
			if !strings.Contains(stderr.String(), "new authkey written to "+keyFile) {
				t.Fatalf("no authkey path in %q", stderr.String())
			}
			if fi, err := os.Stat(keyFile); err != nil || fi.Size() != 32 || fi.Mode().Perm() != 0o600 {
				t.Fatalf("key file: %v %v", fi, err)
			}

			// inspect finds the default key by itself.
			var out bytes.Buffer
			if err := inspectCommand(ctx, []string{"--address", addr}, &out, os.Stderr); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "get_queue") || !strings.Contains(out.String(), "shared") ||
				!strings.Contains(out.String(), "REFCOUNT") {
				t.Fatalf("inspect output:\n%s", out.String())
			}
			// A wrong key fails cleanly.
			bad := filepath.Join(dir, "bad")
			os.WriteFile(bad, []byte("wrong"), 0o600)
			if err := inspectCommand(ctx, []string{"--address", addr, "--authkey-file", bad}, &out, os.Stderr); err == nil {
				t.Fatal("inspect with a wrong key succeeded")
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("serve: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("serve did not stop on cancel")
			}
		})
	}
}

func TestServeFlags(t *testing.T) {
	ctx := context.Background()
	var stderr syncBuffer
	if err := serveCommand(ctx, []string{"--expose", "noequals"}, io.Discard, &stderr); err == nil {
		t.Fatal("bad --expose accepted")
	}
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	if err := serveCommand(ctx, []string{"--authkey-file", empty}, io.Discard, &stderr); err == nil {
		t.Fatal("empty authkey accepted")
	}
	if err := serveCommand(ctx, []string{"--authkey-file", empty + "x"}, io.Discard, &stderr); err == nil {
		t.Fatal("missing authkey file accepted")
	}
	t.Setenv(authkeyEnv, "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	if err := inspectCommand(ctx, []string{"--address", "x:1"}, &stderr, &stderr); err == nil {
		t.Fatal("inspect without a key file accepted")
	}

	// Foreign references: both flags or neither, and never the server's
	// own key.
	key := filepath.Join(t.TempDir(), "key")
	os.WriteFile(key, []byte("k3y"), 0o600)
	if err := serveCommand(ctx, []string{"--authkey-file", key, "--foreign-allow", "127.0.0.1:1"}, io.Discard, &stderr); err == nil || !strings.Contains(err.Error(), "go together") {
		t.Fatalf("--foreign-allow alone: %v", err)
	}
	if err := serveCommand(ctx, []string{"--authkey-file", key, "--foreign-authkey-file", key, "--foreign-allow", "127.0.0.1:1"}, io.Discard, &stderr); err == nil || !strings.Contains(err.Error(), "must differ") {
		t.Fatalf("the server's own key for other managers: %v", err)
	}
}

// TestAuthkeyFiles: where the key comes from, and the key files refused.
func TestAuthkeyFiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv(authkeyEnv, "")

	// The default file is created once, then reused: a restarted server
	// keeps its key, and nothing is left in $TMPDIR.
	k1, _, err := serveAuthkey("")
	if err != nil {
		t.Fatal(err)
	}
	k2, _, err := serveAuthkey("")
	if err != nil || !bytes.Equal(k1, k2) || len(k1) != 32 {
		t.Fatalf("second start: %x %v, want the first key %x", k2, err, k1)
	}
	def := filepath.Join(dir, "config", "procshare", "authkey")
	if fi, err := os.Stat(filepath.Dir(def)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("key directory: %v %v", fi, err)
	}
	if k, err := clientAuthkey(""); err != nil || !bytes.Equal(k, k1) {
		t.Fatalf("client default key: %x %v", k, err)
	}

	// $PROCSHARE_AUTHKEY_FILE, then the flag, win over the default.
	envKey := filepath.Join(dir, "env")
	os.WriteFile(envKey, []byte("from env"), 0o600)
	t.Setenv(authkeyEnv, envKey)
	if k, _, err := serveAuthkey(""); err != nil || string(k) != "from env" {
		t.Fatalf("env key: %q %v", k, err)
	}
	flagKey := filepath.Join(dir, "flag")
	os.WriteFile(flagKey, []byte("from flag"), 0o600)
	if k, _, err := serveAuthkey(flagKey); err != nil || string(k) != "from flag" {
		t.Fatalf("flag key: %q %v", k, err)
	}
	// A named file that is missing is an error, never created.
	if _, _, err := serveAuthkey(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing key file accepted")
	}

	// Refused: readable or writable by others, not a regular file.
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620} {
		p := filepath.Join(dir, "open")
		os.Remove(p)
		os.WriteFile(p, []byte("secret"), 0o600)
		os.Chmod(p, mode)
		_, _, err := serveAuthkey(p)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("key file with mode %04o: %v, want a refusal", mode, err)
		}
		if _, err := clientAuthkey(p); err == nil {
			t.Fatalf("client: key file with mode %04o accepted", mode)
		}
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := serveAuthkey(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("FIFO key file: %v", err)
	}
	if _, _, err := serveAuthkey(dir); err == nil {
		t.Fatal("a directory accepted as a key file")
	}
}

// TestServeShutdownByClient: a client's shutdown request stops serve.
func TestServeShutdownByClient(t *testing.T) {
	dir := shortTempDir(t)
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte("k3y"), 0o600)
	addrFile := filepath.Join(dir, "addr")
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- serveCommand(context.Background(), []string{"--address", "127.0.0.1:0",
			"--authkey-file", keyFile, "--addr-file", addrFile}, io.Discard, &stderr)
	}()
	addr, err := manager.ParseAddress(waitFile(t, addrFile))
	if err != nil {
		t.Fatal(err)
	}
	kind, _, err := managerCall(context.Background(), addr, []byte("k3y"), "shutdown")
	if err != nil || kind != "#RETURN" {
		t.Fatalf("shutdown: %s %v", kind, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop on shutdown")
	}
}

// TestInspectCPythonManager: against a CPython manager inspect falls back
// to debug_info.
func TestInspectCPythonManager(t *testing.T) {
	py := pyenv.Latest(t)
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "py.sock")
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte("pykey"), 0o600)
	script := `
import sys
from multiprocessing.managers import SyncManager
m = SyncManager(address=sys.argv[1], authkey=b"pykey")
s = m.get_server()
s.create(None, "list", [1, 2, 3])
print("READY", flush=True)
s.serve_forever()
`
	cmd := exec.Command(py.Path, "-c", script, sock)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "READY\n" {
		t.Fatalf("python: %q %v", line, err)
	}
	var out bytes.Buffer
	if err := inspectCommand(context.Background(), []string{"--address", sock, "--authkey-file", keyFile}, &out, os.Stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "debug_info") || !strings.Contains(out.String(), "refcount=1") ||
		!strings.Contains(out.String(), "[1, 2, 3]") {
		t.Fatalf("inspect output:\n%s", out.String())
	}
	out.Reset()
	if err := inspectCommand(context.Background(), []string{"--address", sock, "--authkey-file", keyFile, "--json"}, &out, os.Stderr); err != nil {
		t.Fatal(err)
	}
	var r inspectReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Server != "cpython" || len(r.Objects) != 1 ||
		r.Objects[0].Repr != "[1, 2, 3]" || r.Objects[0].Refcount == nil || *r.Objects[0].Refcount != 1 || r.Objects[0].TypeID != nil {
		t.Fatalf("inspect --json: %v\n%s", err, out.String())
	}
}

func TestSizeFlag(t *testing.T) {
	for in, want := range map[string]int64{
		"65536": 65536, "64MiB": 64 << 20, "512kib": 512 << 10, "1 GiB": 1 << 30, "10MB": 10e6,
		"3kB": 3000, "100B": 100, "2TiB": 2 << 40,
	} {
		var f sizeFlag
		if err := f.Set(in); err != nil || int64(f) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, f, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "12XB", "MiB", "1.5MiB", "99999999999TiB"} {
		var f sizeFlag
		if err := f.Set(in); err == nil {
			t.Errorf("Set(%q) accepted: %d", in, f)
		}
	}
	for n, want := range map[sizeFlag]string{64 << 20: "64MiB", 3072: "3KiB", 1536: "1536"} {
		if got := n.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int64(n), got, want)
		}
	}
}

// startServe runs serveCommand with args on a Unix socket and returns its
// address, the authkey and its stderr; it is stopped when the test ends.
func startServe(t *testing.T, args ...string) (string, []byte, *syncBuffer) {
	t.Helper()
	dir := shortTempDir(t)
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte("k3y"), 0o600)
	addrFile := filepath.Join(dir, "addr")
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- serveCommand(ctx, append([]string{"--address", filepath.Join(dir, "m.sock"),
			"--authkey-file", keyFile, "--addr-file", addrFile}, args...), io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return waitFile(t, addrFile), []byte("k3y"), stderr
}

// TestServeLimits: --max-frame, --max-connections and --idle-timeout reach
// the server.
func TestServeLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr, key, stderr := startServe(t, "--max-frame", "64KiB")
	c, err := manager.Dial(ctx, addr, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d, err := c.NewDict(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = d.Set(ctx, "big", make([]byte, 70000))
	if err == nil || !strings.Contains(err.Error(), "exceeds the server's frame limit of 65536 bytes (--max-frame)") {
		t.Fatalf("oversized Set: %v", err)
	}
	if err := d.Set(ctx, "small", 1); err != nil {
		t.Fatal(err)
	}
	if want := "level=WARN msg=\"manager: request over the frame limit"; !strings.Contains(stderr.String(), want) {
		t.Fatalf("stderr lacks %q:\n%s", want, stderr.String())
	}

	addr, key, stderr = startServe(t, "--max-connections", "2", "--max-peer-connections", "-1")
	for i := 0; i < 2; i++ {
		authenticated(t, addr, key)
	}
	_, err = manager.Dial(ctx, addr, key, nil)
	if !errors.Is(err, manager.ErrRefused) ||
		!strings.Contains(err.Error(), "the server is at its limit of 2 connections (--max-connections)") {
		t.Fatalf("over --max-connections: %v", err)
	}
	if want := "level=WARN msg=\"manager: connection refused"; !strings.Contains(stderr.String(), want) {
		t.Fatalf("stderr lacks %q:\n%s", want, stderr.String())
	}

	addr, key, stderr = startServe(t, "--idle-timeout", "50ms", "-v")
	wc := authenticated(t, addr, key)
	wc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := wc.ReadFrame(); err != io.EOF {
		t.Fatalf("idle connection: %v, want EOF", err)
	}
	for !strings.Contains(stderr.String(), "closing an idle connection") {
		if ctx.Err() != nil {
			t.Fatalf("stderr: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := serveCommand(ctx, []string{"--max-frame", "0"}, io.Discard, stderr); err == nil {
		t.Fatal("--max-frame 0 accepted")
	}
}

// authenticated opens a connection to addr and authenticates it.
func authenticated(t *testing.T, addr string, key []byte) *wire.Conn {
	t.Helper()
	nc, err := net.Dial("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	wc := wire.NewConn(nc, nil)
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	if err := wire.ClientHandshake(wc, key); err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Time{})
	return wc
}
