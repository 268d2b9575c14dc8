package interop_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/procshare/procshare/internal/pyenv"
)

// suiteTimeout bounds one run of interop_suite.py (about 85 tests; a
// healthy run takes seconds).
const suiteTimeout = 4 * time.Minute

// result is one @@RESULT line of interop_suite.py.
type result struct {
	Test   string `json:"test"`
	Status string `json:"status"` // pass, fail, error, skip
	Detail string `json:"detail"`
}

// testdata returns the absolute path of a file in testdata/.
func testdata(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newAuthkey returns a random 32-byte authkey.
func newAuthkey(t testing.TB) []byte {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return key
}

// socketPath returns a Unix socket path in a fresh short temporary
// directory (sun_path holds 108 bytes; t.TempDir paths can be long).
func socketPath(t testing.TB) string {
	dir, err := os.MkdirTemp("", "psinterop")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "m.sock")
}

// runSuite runs interop_suite.py with py against the server at address
// and reports each Python test as a subtest of t. kind is "procshare" or
// "cpython" (which server this is: the suite checks the procshare
// extensions only against ours).
func runSuite(t *testing.T, py pyenv.Interpreter, address string, authkey []byte, kind string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, py.Path, testdata(t, "interop_suite.py"))
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"PS_ADDRESS="+address,
		"PS_AUTHKEY="+hex.EncodeToString(authkey),
		"PS_SERVER="+kind,
		"PYTHONDONTWRITEBYTECODE=1",
	)
	// Children the suite forks or spawns are in its process group; kill
	// the whole group if the run times out.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()

	results, err := parseResults(stdout.Bytes())
	if err != nil {
		t.Fatalf("%s: %v\nstderr:\n%s", py.Name(), err, tail(stderr.String(), 4000))
	}
	failed := 0
	for _, r := range results {
		r := r
		t.Run(r.Test, func(t *testing.T) {
			switch r.Status {
			case "pass":
			case "skip":
				t.Skip(r.Detail)
			default:
				t.Errorf("%s (%s, %s server at %s):\n%s", r.Status, py.Version, kind, address, r.Detail)
			}
		})
		if r.Status == "fail" || r.Status == "error" {
			failed++
		}
	}
	if len(results) == 0 {
		t.Fatalf("interop_suite.py reported no results (%v)\nstdout:\n%s\nstderr:\n%s",
			runErr, tail(stdout.String(), 2000), tail(stderr.String(), 4000))
	}
	if runErr != nil && failed == 0 {
		t.Fatalf("interop_suite.py: %v with no failing test reported\nstderr:\n%s", runErr, tail(stderr.String(), 4000))
	}
	if ctx.Err() != nil {
		t.Fatalf("interop_suite.py did not finish within %v\nstderr:\n%s", suiteTimeout, tail(stderr.String(), 4000))
	}
}

// parseResults extracts the @@RESULT lines of the suite's stdout.
func parseResults(out []byte) ([]result, error) {
	var rs []result
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "@@RESULT ")
		if !ok {
			continue
		}
		var r result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("bad result line %q: %v", line, err)
		}
		rs = append(rs, r)
	}
	return rs, sc.Err()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// startCPythonServer runs testdata/cpython_server.py (CPython's own
// SyncManager server) with py on address ("127.0.0.1:0" or a socket path)
// and returns the address it listens on. The server is stopped when t
// ends.
func startCPythonServer(t testing.TB, py pyenv.Interpreter, address string, authkey []byte) string {
	t.Helper()
	cmd := exec.Command(py.Path, testdata(t, "cpython_server.py"),
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
	return addr
}

// interpreters returns every CPython 3.8+ on this machine, or skips t.
func interpreters(t *testing.T) []pyenv.Interpreter {
	all := pyenv.Interpreters()
	if len(all) == 0 {
		t.Skip("no CPython 3.8+ interpreter on this machine")
	}
	return all
}
