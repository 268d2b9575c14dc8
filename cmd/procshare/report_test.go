package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runChild runs "procshare ARGS" in a child process (the test binary, see
// TestMain) and returns its exit status and stderr.
func runChild(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "PROCSHARE_TEST_MAIN="+strings.Join(args, "\n"))
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return waitExit(t, cmd, strings.Join(args, " ")), stderr.String()
}

// A failing command prints one message per error, with the command's
// prefix and not its package's as well.
func TestErrorMessages(t *testing.T) {
	missing := fmt.Sprintf("pstest_cli_missing_%d", os.Getpid())
	code, stderr := runChild(t, "shm", "rm", missing, missing+"_2")
	want := fmt.Sprintf("procshare shm: remove %q: ", missing)
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if code != 1 || len(lines) != 2 || !strings.HasPrefix(lines[0], want) ||
		!strings.HasPrefix(lines[1], fmt.Sprintf("procshare shm: remove %q: ", missing+"_2")) {
		t.Fatalf("shm rm of missing segments: exit %d, stderr %q; want two lines, the first starting with %q", code, stderr, want)
	}
	if strings.Contains(stderr, "shm: shm:") {
		t.Fatalf("stacked prefix: %q", stderr)
	}

	dir := shortTempDir(t)
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stderr = runChild(t, "inspect", "--address", filepath.Join(dir, "nothing.sock"), "--authkey-file", keyFile)
	if code != 1 || !strings.HasPrefix(stderr, "procshare inspect: ") || strings.Contains(stderr, "manager: ") ||
		strings.Count(stderr, "\n") != 1 {
		t.Fatalf("inspect of nothing: exit %d, stderr %q", code, stderr)
	}
}
