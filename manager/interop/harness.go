package interop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/procshare/procshare/internal/pyenv"
	"github.com/procshare/procshare/manager"
)

// Result is one "@@RESULT {json}" line that interop_suite.py and the
// conformance runner print per test.
type Result struct {
	Test   string  `json:"test"`
	Status string  `json:"status"` // pass, fail, error or skip
	Detail string  `json:"detail"` // traceback, or the skip reason
	Secs   float64 `json:"secs"`
}

// Failed reports whether the test failed or raised.
func (r Result) Failed() bool { return r.Status == "fail" || r.Status == "error" }

// Output is what a result-printing Python script produced.
type Output struct {
	Results []Result
	Started []string // tests announced by "@@START {json}" lines, in order
	Stdout  string
	Stderr  string
	Err     error // the process's exit error, or nil
}

// Running returns the test that started but never reported a result (the
// one running when the script died or was killed), or "".
func (o *Output) Running() string {
	if len(o.Started) > len(o.Results) {
		return o.Started[len(o.Started)-1]
	}
	return ""
}

// Tail returns the last n bytes of s, marked when cut.
func Tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// ParseOutput extracts the @@RESULT and @@START lines of a script's stdout.
func ParseOutput(stdout []byte) (results []Result, started []string, err error) {
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "@@RESULT "); ok {
			var r Result
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				return nil, nil, fmt.Errorf("interop: bad result line %q: %v", rest, err)
			}
			results = append(results, r)
		} else if rest, ok := strings.CutPrefix(line, "@@START "); ok {
			var s struct{ Test string }
			if err := json.Unmarshal([]byte(rest), &s); err != nil {
				return nil, nil, fmt.Errorf("interop: bad start line %q: %v", rest, err)
			}
			started = append(started, s.Test)
		}
	}
	return results, started, sc.Err()
}

// RunScript runs a Python script with args and extra environment entries,
// in its own process group (killed whole on timeout), and parses its
// result lines. It fails t only when the output cannot be parsed.
func RunScript(t testing.TB, py pyenv.Interpreter, timeout time.Duration, env []string, script string, args ...string) *Output {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, py.Path, append([]string{script}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1"), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if ctx.Err() != nil {
		runErr = fmt.Errorf("killed after %v: %w", timeout, runErr)
	}
	o := &Output{Stdout: stdout.String(), Stderr: stderr.String(), Err: runErr}
	var err error
	o.Results, o.Started, err = ParseOutput(stdout.Bytes())
	if err != nil {
		t.Fatalf("%s: %v\nstderr:\n%s", script, err, Tail(o.Stderr, 4000))
	}
	return o
}

// Testdata returns the absolute path of a file in this package's
// testdata directory (interop_suite.py, cpython_server.py), wherever the
// calling test runs.
func Testdata(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", name)
}

// NewAuthkey returns a random 32-byte authkey.
func NewAuthkey(t testing.TB) []byte {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return key
}

// SocketPath returns a Unix socket path in a fresh, short temporary
// directory removed when t ends (sun_path holds 108 bytes; t.TempDir
// paths can be longer).
func SocketPath(t testing.TB) string {
	dir, err := os.MkdirTemp("", "psi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "m.sock")
}

// StartCPythonServer runs testdata/cpython_server.py (CPython's own
// SyncManager server, plus the named object get_queue) with py on address
// ("127.0.0.1:0" or a socket path) and returns the address it listens on
// and its pid. The server is stopped when t ends.
func StartCPythonServer(t testing.TB, py pyenv.Interpreter, address string, authkey []byte) (string, int) {
	t.Helper()
	cmd := exec.Command(py.Path, Testdata("cpython_server.py"),
		"--address", address, "--authkey-hex", hex.EncodeToString(authkey))
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "READY ")
	if err != nil || !ok {
		t.Fatalf("cpython_server.py did not start: %q %v\n%s", line, err, stderr.String())
	}
	return addr, cmd.Process.Pid
}

// StartServer serves a procshare manager.Server in-process on network
// ("unix": a fresh socket path; "tcp": 127.0.0.1 on a free port) and
// returns the address clients connect to, in the form --address and
// cpython's parse rule accept ("127.0.0.1:PORT" or the path). cfg's
// Expose defaults to get_queue=Queue. The server is closed when t ends.
func StartServer(t testing.TB, network string, cfg *manager.ServerConfig) string {
	t.Helper()
	c := *cfg
	if c.Expose == nil {
		c.Expose = []manager.ExposedObject{{Name: "get_queue", TypeID: "Queue"}}
	}
	srv, err := manager.NewServer(&c)
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	switch network {
	case "unix":
		ln, err = manager.Listen(manager.Address{Network: "unix", Addr: SocketPath(t)})
	case "tcp":
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	default:
		t.Fatalf("interop: unknown network %q", network)
	}
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; err != nil {
			t.Errorf("manager: Serve: %v", err)
		}
	})
	return addr
}
