package main

import (
	"bufio"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/procshare/procshare/examples/internal/extest"
	"github.com/procshare/procshare/internal/pyenv"
)

func TestMain(m *testing.M) { extest.Main(m, main) }

// startServer runs server.py on a free port and returns its address, read
// from its first line. It is killed when t ends.
func startServer(t *testing.T, py pyenv.Interpreter, key string) string {
	t.Helper()
	cmd := extest.Python(t, py, "server.py", key, "0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "serving on ")
	if err != nil || !ok {
		t.Fatalf("server.py printed %q (%v)\nstderr:\n%s", line, err, stderr.String())
	}
	return addr
}

// count parses a client's output, "count = N".
func count(t *testing.T, who, out string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(out, "count = %d\n", &n); err != nil || out != fmt.Sprintf("count = %d\n", n) {
		t.Fatalf("%s printed %q", who, out)
	}
	return n
}

// TestCPythonManager runs server.py, a real CPython SyncManager, and
// against it the Go client and its Python twin: alone, each adds 100 to the
// count and prints it; then two of each run at once, and the last to finish
// prints the whole count, none lost.
func TestCPythonManager(t *testing.T) {
	for _, py := range extest.Pythons(t) {
		t.Run(py.Name(), func(t *testing.T) {
			key := extest.KeyFile(t)
			addr := startServer(t, py, key)
			goClient := func() *exec.Cmd { return extest.Go(addr, key) }
			pyClient := func() *exec.Cmd { return extest.Python(t, py, "client.py", addr, key) }

			if n := count(t, "the Go client", extest.Run(t, goClient())); n != 100 {
				t.Errorf("the Go client alone counted to %d, want 100", n)
			}
			if n := count(t, "client.py", extest.Run(t, pyClient())); n != 200 {
				t.Errorf("client.py alone counted to %d, want 200", n)
			}
			waits := map[string]func() string{
				"Go client 1": extest.Background(t, goClient()),
				"client.py 1": extest.Background(t, pyClient()),
				"Go client 2": extest.Background(t, goClient()),
				"client.py 2": extest.Background(t, pyClient()),
			}
			last := 0
			for who, wait := range waits {
				n := count(t, who, wait())
				if n < 300 || n > 600 {
					t.Errorf("%s counted to %d, want 300…600", who, n)
				}
				last = max(last, n)
			}
			if last != 600 {
				t.Errorf("four clients at once counted to %d, want 600: counts lost", last)
			}
		})
	}
}
