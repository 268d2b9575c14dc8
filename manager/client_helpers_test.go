package manager_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/internal/pyenv"
	"github.com/procshare/procshare/manager"
)

// A child process of these tests (procshare.Process) runs its function here
// and exits. init rather than TestMain, which the package's server tests may
// own.
func init() { procshare.Main() }

// target is a manager the client tests run against: procshare's own
// (embedded with manager.Start) or a CPython SyncManager.
type target struct {
	name  string
	py    *pyenv.Interpreter // nil for procshare's server
	child bool               // procshare's server in a child process, not embedded
}

// targets returns procshare's server and one CPython manager per installed
// interpreter (3.8+).
func targets() []target {
	ts := []target{{name: "procshare"}}
	for _, py := range pyenv.Interpreters() {
		ts = append(ts, target{name: py.Name(), py: &py})
	}
	return ts
}

// forEachTarget runs f, in parallel subtests, with a client of each target.
func forEachTarget(t *testing.T, cfg *manager.Config, f func(t *testing.T, c *manager.Client)) {
	t.Helper()
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			f(t, dialTarget(t, tg, cfg))
		})
	}
}

// dialTarget returns a client of tg, closed when the test ends.
func dialTarget(t testing.TB, tg target, cfg *manager.Config) *manager.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var c *manager.Client
	var err error
	switch {
	case tg.child:
		c, err = dialChildServer(t, ctx, cfg)
	case tg.py == nil:
		c, err = manager.Start(ctx, cfg)
	default:
		s := cpythonServer(t, *tg.py, "unix")
		c, err = manager.Dial(ctx, s.addr, s.key, cfg)
	}
	if err != nil {
		t.Fatalf("dial %s: %v", tg.name, err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// cpyServer is a CPython SyncManager serving in a python process
// (testdata/client_cpython_manager.py), shared by the tests of the package
// run and ended when the test binary exits (its stdin closes).
type cpyServer struct {
	addr string
	key  []byte
	cmd  *exec.Cmd
	err  error
}

var cpyServers struct {
	mu sync.Mutex
	m  map[string]*cpyServer
}

// cpythonServer returns the shared server of interpreter py on network
// ("unix" or "tcp"), starting it on first use.
func cpythonServer(t testing.TB, py pyenv.Interpreter, network string) *cpyServer {
	t.Helper()
	key := py.Path + " " + network
	cpyServers.mu.Lock()
	defer cpyServers.mu.Unlock()
	if cpyServers.m == nil {
		cpyServers.m = map[string]*cpyServer{}
	}
	s := cpyServers.m[key]
	if s == nil {
		s = startCPython(py, network)
		cpyServers.m[key] = s
	}
	if s.err != nil {
		t.Fatalf("CPython %s manager: %v", py.Version, s.err)
	}
	return s
}

// startCPython starts a CPython manager and waits for its address.
func startCPython(py pyenv.Interpreter, network string) *cpyServer {
	authkey := make([]byte, 16)
	rand.Read(authkey)
	s := &cpyServer{key: authkey}
	addr := "127.0.0.1:0"
	if network == "unix" {
		dir, err := tempDir()
		if err != nil {
			s.err = err
			return s
		}
		addr = filepath.Join(dir, fmt.Sprintf("%s-%d.sock", py.Name(), socketSeq.Add(1)))
	}
	cmd := exec.Command(py.Path, "testdata/client_cpython_manager.py", addr, hex.EncodeToString(authkey))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		s.err = err
		return s
	}
	_ = stdin // kept open until the test binary exits
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.err = err
		return s
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		s.err = err
		return s
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "READY ") {
		cmd.Process.Kill()
		cmd.Wait()
		s.err = fmt.Errorf("no READY line (%q, %v): %s", line, err, stderr.String())
		return s
	}
	s.addr = strings.TrimSpace(strings.TrimPrefix(line, "READY "))
	s.cmd = cmd
	return s
}

// socketSeq numbers the CPython servers' socket paths.
var socketSeq atomic.Int64

var tmp struct {
	once sync.Once
	dir  string
	err  error
}

// tempDir is a directory for the CPython servers' sockets, with a path short
// enough for a Unix socket.
func tempDir() (string, error) {
	tmp.once.Do(func() {
		tmp.dir, tmp.err = os.MkdirTemp("", "pscl-")
	})
	return tmp.dir, tmp.err
}

// ctxT returns a context that ends with the test (or after a minute).
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// must fails the test on err.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// get fails the test on err, else returns v.
func get[T any](t testing.TB) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
