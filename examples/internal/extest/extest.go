// Package extest runs the programs of examples/ as real processes for their
// tests: the Go program (the test binary re-executed into the example's
// main), its Python twin under a CPython of internal/pyenv, and
// `procshare serve` built from cmd/procshare.
//
// An example's test file hands its main to [Main] from TestMain:
//
//	func TestMain(m *testing.M) { extest.Main(m, main) }
//
// and runs the program with [Go], which re-executes the test binary so that
// it calls main instead of the tests; the program's own children (procshare
// processes) re-execute it again and run their functions from
// procshare.Main, which main calls first.
package extest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/internal/pyenv"
)

// mainEnv marks a re-executed test binary that runs the example's main.
const mainEnv = "PROCSHARE_EXAMPLE_MAIN"

// timeout bounds every program a test runs: a program stuck on a queue is
// killed and the test fails with what it printed.
const timeout = 3 * time.Minute

// Main is the example test's TestMain: in a process started by [Go] it runs
// the example's main and exits 0 (main exits otherwise itself, e.g. with
// log.Fatal); in a procshare child it runs the child's function; otherwise
// it runs the tests.
func Main(m *testing.M, main func()) {
	if os.Getenv(mainEnv) == "1" {
		main()
		os.Exit(0)
	}
	procshare.Main()
	os.Exit(m.Run())
}

// Go returns a command that runs the example's Go program (its main) with
// args.
func Go(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	return cmd
}

// Python returns a command that runs the script (a path relative to the
// test's directory) with the interpreter.
func Python(t *testing.T, py pyenv.Interpreter, script string, args ...string) *exec.Cmd {
	t.Helper()
	abs, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	return exec.Command(py.Path, append([]string{abs}, args...)...)
}

// Pythons returns the interpreters an example's Python twin runs with: the
// newest CPython and 3.8, the oldest supported, when both are here. It skips
// t when there is none.
func Pythons(t *testing.T) []pyenv.Interpreter {
	all := pyenv.Interpreters()
	if len(all) == 0 {
		t.Skip("no CPython 3.8+ interpreter on this machine")
	}
	newest := all[len(all)-1]
	if all[0].Minor == 8 && newest.Minor != 8 {
		return []pyenv.Interpreter{all[0], newest}
	}
	return []pyenv.Interpreter{newest}
}

// Run runs cmd to its end and returns its standard output; it fails t if the
// program fails or runs past the timeout.
func Run(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	wait := Background(t, cmd)
	return wait()
}

// Background starts cmd in a process group of its own and returns a function
// that waits for it and returns its standard output, failing t if it fails
// or runs past the timeout (its whole group is then killed by SIGKILL).
func Background(t *testing.T, cmd *exec.Cmd) (wait func() string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var result string
	waited := false
	wait = func() string {
		t.Helper()
		if waited {
			return result
		}
		waited = true
		var err error
		select {
		case err = <-exited:
		case <-time.After(timeout):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
			t.Fatalf("%s: still running after %v, killed\nstdout:\n%s\nstderr:\n%s", cmd, timeout, stdout.String(), stderr.String())
		}
		if err != nil {
			t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", cmd, err, stdout.String(), stderr.String())
		}
		result = stdout.String()
		return result
	}
	t.Cleanup(func() {
		if !waited {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	return wait
}

// KeyFile writes a new random authkey (32 hex characters, no newline: a key
// is its file's bytes exactly) to a 0600 file in a temporary directory and
// returns the file's path.
func KeyFile(t *testing.T) string {
	t.Helper()
	key := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "authkey")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// BuildProcshare builds cmd/procshare into a temporary directory and returns
// the binary's path.
func BuildProcshare(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build cmd/procshare: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "procshare")
	out, err := exec.Command(goBin, "build", "-o", bin, "github.com/procshare/procshare/cmd/procshare").CombinedOutput()
	if err != nil {
		t.Fatalf("go build cmd/procshare: %v\n%s", err, out)
	}
	return bin
}

// Serve runs `bin serve` on 127.0.0.1 (a free port) with the key file and
// the other flags, and returns the address it serves on. It is stopped with
// SIGTERM when t ends and must then exit cleanly.
func Serve(t *testing.T, bin, keyFile string, flags ...string) string {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	args := append([]string{"serve", "--address", "127.0.0.1:0", "--authkey-file", keyFile, "--addr-file", addrFile}, flags...)
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("procshare serve exited with %v after SIGTERM\n%s", err, stderr.String())
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("procshare serve did not stop within 20 s of SIGTERM\n%s", stderr.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if b, err := os.ReadFile(addrFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
			return strings.TrimSpace(string(b))
		}
		select {
		case err := <-exited:
			t.Fatalf("procshare serve exited: %v\n%s", err, stderr.String())
		case <-ctx.Done():
			t.Fatalf("procshare serve wrote no address within 30 s\n%s", stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
