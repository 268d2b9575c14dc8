package seedpython_test

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

	"github.com/procshare/procshare/internal/pyenv"
)

// buildProcshare builds cmd/procshare into dir.
func buildProcshare(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build cmd/procshare: %v", err)
	}
	bin := filepath.Join(dir, "procshare")
	out, err := exec.Command(goBin, "build", "-o", bin, "github.com/procshare/procshare/cmd/procshare").CombinedOutput()
	if err != nil {
		t.Fatalf("go build cmd/procshare: %v\n%s", err, out)
	}
	return bin
}

// startServe runs `procshare serve` on 127.0.0.1 (a free port) with the key
// file and returns the address it serves on. It is stopped with SIGTERM
// when t ends and must exit cleanly.
func startServe(t *testing.T, bin, keyFile string) string {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	cmd := exec.Command(bin, "serve", "--address", "127.0.0.1:0", "--authkey-file", keyFile,
		"--addr-file", addrFile, "--expose", "get_queue=Queue")
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
			t.Errorf("procshare serve did not stop within 20 s of SIGTERM")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(addrFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
			return strings.TrimSpace(string(b))
		}
		select {
		case err := <-exited:
			t.Fatalf("procshare serve exited: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("procshare serve wrote no address within 30 s\n%s", stderr.String())
		}
	}
}

// TestSeed3 runs seed3.py (100 processes, ~200 connections at once) with
// every CPython against `procshare serve` over TCP: it must print 100.
// With -short, only the oldest and newest interpreters run.
func TestSeed3(t *testing.T) {
	all := pyenv.Interpreters()
	if len(all) == 0 {
		t.Skip("no CPython 3.8+ interpreter on this machine")
	}
	dir := t.TempDir()
	bin := buildProcshare(t, dir)
	key := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "key")
	// the key is the file's bytes exactly: 32 hex characters, no newline
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startServe(t, bin, keyFile)
	script, err := filepath.Abs("seed3.py")
	if err != nil {
		t.Fatal(err)
	}
	for i, py := range all {
		t.Run(py.Name(), func(t *testing.T) {
			if testing.Short() && i != 0 && i != len(all)-1 {
				t.Skip("-short: only the oldest and newest interpreters run")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, py.Path, script, addr, keyFile)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("seed3.py stalled: killed after 3 minutes\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			}
			if err != nil {
				t.Fatalf("seed3.py: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			if last := lines[len(lines)-1]; last != "100" {
				t.Fatalf("seed3.py printed %q as its last line, want 100\nstdout:\n%s\nstderr:\n%s", last, stdout.String(), stderr.String())
			}
			t.Logf("%s: seed3.py took %v", py.Version, time.Since(start).Round(time.Millisecond))
		})
	}
}
