//go:build unix

package procshare_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pipeWriter is a small shareable type: the write end of a pipe that the
// parent reads. It implements the procshare sharing contract, so a child
// writes into the parent's pipe through it; meta carries a label to check
// that metadata travels too.
type pipeWriter struct {
	f     *os.File
	label string
}

// ShareFiles returns a duplicate of the write end (the caller closes it).
func (p *pipeWriter) ShareFiles() ([]*os.File, []byte, error) {
	fd, err := unix.FcntlInt(p.f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	return []*os.File{os.NewFile(uintptr(fd), "pipeWriter")}, []byte(p.label), nil
}

func (p *pipeWriter) AttachFiles(files []*os.File, meta []byte) error {
	if len(files) != 1 {
		return fmt.Errorf("pipeWriter: want 1 file, got %d", len(files))
	}
	p.f, p.label = files[0], string(meta)
	return nil
}

func (p *pipeWriter) Printf(format string, args ...any) {
	fmt.Fprintf(p.f, format, args...)
}

// newPipe returns a reader and a shareable writer. The parent's copy of the
// write end is closed when the test ends, or earlier by closeWriter, after
// which the reader sees EOF once every child holding it has exited.
func newPipe(t testing.TB, label string) (*bufio.Reader, *pipeWriter) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return bufio.NewReader(r), &pipeWriter{f: w, label: label}
}

// readLine reads one line (without its newline) or fails the test.
func readLine(t testing.TB, r *bufio.Reader) string {
	t.Helper()
	s, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading from child: %v (got %q)", err, s)
	}
	return strings.TrimSuffix(s, "\n")
}

func readAll(t testing.TB, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// gone reports whether pid no longer runs: it does not exist, or it is a
// zombie (an orphan's zombie waits for a reaper that a container's init may
// not be).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
		return true
	}
	if runtime.GOOS == "linux" {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		// pid (comm) S ...: the state follows the last ')'.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
			return s[i+2] == 'Z' || s[i+2] == 'X'
		}
	}
	return false
}

// waitGone waits until pid is gone; it fails the test after a generous
// deadline (a liveness bound, not a timing assertion).
func waitGone(t testing.TB, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// countFDs returns the number of open descriptors of this process.
func countFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// errShare is what brokenSharer's ShareFiles fails with.
var errShare = errors.New("cannot share today")

// brokenSharer fails to share, after opening a descriptor that the caller
// must still close.
type brokenSharer struct{}

func (brokenSharer) ShareFiles() ([]*os.File, []byte, error) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		return nil, nil, err
	}
	return []*os.File{f}, nil, errShare
}

func (*brokenSharer) AttachFiles([]*os.File, []byte) error { return nil }
