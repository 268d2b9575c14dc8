package shm

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// oneMessage fails unless err reads as one message: one "shm: " prefix.
func oneMessage(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || err.Error() != want || strings.Count(err.Error(), "shm: ") != 1 {
		t.Fatalf("error = %v, want %q", err, want)
	}
}

// Errors that wrap a sentinel of the package do not repeat its prefix, and
// still match it.
func TestErrorsDoNotStack(t *testing.T) {
	dir := t.TempDir() // a stand-in for /dev/shm
	path := filepath.Join(dir, "empty")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := openIn(dir, "empty")
	oneMessage(t, err, `shm: open "empty": segment is empty`)
	if !errors.Is(err, ErrTooSmall) {
		t.Fatalf("Open(empty) = %v, want ErrTooSmall", err)
	}

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var s Segment
	err = s.attach([]*os.File{f}, segmentMeta{Name: "empty", Size: 4096})
	oneMessage(t, err, "shm: attach: segment too small: file has 0 bytes, want 4096")
	if !errors.Is(err, ErrTooSmall) {
		t.Fatalf("attach = %v, want ErrTooSmall", err)
	}
}
