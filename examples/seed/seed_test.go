package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/procshare/procshare"
)

func TestMain(m *testing.M) {
	procshare.Main() // the programs' children run here
	os.Exit(m.Run())
}

// lockedBuffer collects the output of the parent and of the children, whose
// output os/exec copies from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runSeed runs the command with args, as main would.
func runSeed(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut lockedBuffer
	code = run(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

var childLine = regexp.MustCompile(`^process id: ([0-9]+)$`)

// expect holds the exact output of each program, given the output actually
// printed (whose children's pids vary). It fails the test on any other
// difference, and returns the canonical text so that runs of several
// programs can be compared as a whole.
var expect = map[int]func(t *testing.T, got string) string{
	1: func(t *testing.T, got string) string {
		// Ten children print their pids, in any order, then the parent.
		lines := strings.SplitAfter(got, "\n")
		if len(lines) < 10 {
			t.Fatalf("program 1 printed %q", got)
		}
		seen := map[int]bool{}
		for _, l := range lines[:10] {
			m := childLine.FindStringSubmatch(strings.TrimSuffix(l, "\n"))
			if m == nil {
				t.Fatalf("program 1: line %q is not a child's", l)
			}
			pid, _ := strconv.Atoi(m[1])
			if pid == os.Getpid() || seen[pid] {
				t.Fatalf("program 1: child pid %d repeated or the parent's", pid)
			}
			seen[pid] = true
		}
		return strings.Repeat("process id: CHILD\n", 10) + strings.Join(lines[10:], "")
	},
	2: func(t *testing.T, got string) string { return got },
	3: func(t *testing.T, got string) string { return got },
}

// want is the exact output of each program, children's pids written CHILD.
func want(n int) string {
	parent := fmt.Sprintf("process id: %d\n", os.Getpid())
	switch n {
	case 1:
		return strings.Repeat("process id: CHILD\n", 10) + "------------------------\n" + parent + "[]\n"
	case 2:
		return "3.1415927\n[0 -1 -2 -3 -4 -5 -6 -7 -8 -9]\n"
	case 3:
		return "------------------------\n" + parent + "100\n"
	}
	panic("no such program")
}

func header(n int) string {
	return fmt.Sprintf("=== program %d: %s ===\n", n, programs[n].title)
}

func TestPrograms(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			if _, ok := programs[n]; !ok {
				t.Skipf("program %d is not in this build (examples/seed/manager.go adds program 3)", n)
			}
			if testing.Short() && n != 2 {
				// Program 3 starts 100 children, costly under -race.
				t.Skipf("-short: TestAll checks program %d; program 2 checks -program here", n)
			}
			stdout, stderr, code := runSeed(t, "-program", strconv.Itoa(n))
			if code != 0 || stderr != "" {
				t.Fatalf("exit code %d, stderr %q", code, stderr)
			}
			h := header(n)
			if !strings.HasPrefix(stdout, h) {
				t.Fatalf("output %q lacks the header %q", stdout, h)
			}
			if got := expect[n](t, stdout[len(h):]); got != want(n) {
				t.Fatalf("program %d printed\n%s\nwant\n%s", n, got, want(n))
			}
		})
	}
}

// TestAll runs every program, in order, as "go run ./examples/seed" does.
func TestAll(t *testing.T) {
	stdout, stderr, code := runSeed(t)
	if code != 0 || stderr != "" {
		t.Fatalf("exit code %d, stderr %q", code, stderr)
	}
	var nums []int
	for n := range programs {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	rest := stdout
	for i, n := range nums {
		if i > 0 {
			if !strings.HasPrefix(rest, "\n") {
				t.Fatalf("no blank line before program %d in %q", n, rest)
			}
			rest = rest[1:]
		}
		h := header(n)
		if !strings.HasPrefix(rest, h) {
			t.Fatalf("want header %q, got %q", h, rest)
		}
		rest = rest[len(h):]
		// This program's output ends where the next blank line starts.
		end := strings.Index(rest, "\n\n")
		if end < 0 {
			end = len(rest)
		} else {
			end++
		}
		if got := expect[n](t, rest[:end]); got != want(n) {
			t.Fatalf("program %d printed\n%s\nwant\n%s", n, got, want(n))
		}
		rest = rest[end:]
	}
	if rest != "" {
		t.Fatalf("trailing output %q", rest)
	}
}

func TestFlags(t *testing.T) {
	for _, tt := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"-program", "9"}, 2, "seed: no program 9\n"},
		{[]string{"extra"}, 2, "seed: unexpected arguments [\"extra\"]\n"},
		{[]string{"-nope"}, 2, "flag provided but not defined: -nope"},
	} {
		stdout, stderr, code := runSeed(t, tt.args...)
		if code != tt.code || !strings.HasPrefix(stderr, tt.stderr) || stdout != "" {
			t.Errorf("%q: code %d, stdout %q, stderr %q; want code %d, stderr %q", tt.args, code, stdout, stderr, tt.code, tt.stderr)
		}
	}
}
