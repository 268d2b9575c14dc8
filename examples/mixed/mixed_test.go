package main

import (
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/internal/pyenv"
)

func TestMain(m *testing.M) {
	procshare.Main() // the Go workers run here
	os.Exit(m.Run())
}

var workerLine = regexp.MustCompile(`^(go|python) worker [0-9]+ took [0-9]+ items$`)

// TestMixed runs the demo with Go and Python workers, for every Python
// interpreter (the newest only in -short mode): the total must be exact and
// every worker must report.
func TestMixed(t *testing.T) {
	pys := pyenv.Interpreters()
	if len(pys) == 0 {
		t.Skip("no CPython interpreter")
	}
	if testing.Short() {
		pys = pys[len(pys)-1:]
	}
	for _, py := range pys {
		t.Run(py.Name(), func(t *testing.T) {
			var out, errOut strings.Builder
			sw := &syncWriter{w: &out}
			code := run([]string{"-n", "200", "-go", "2", "-py", "2", "-python", py.Path}, sw, &errOut)
			if code != 0 {
				t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
			}
			lines := strings.Split(strings.TrimSuffix(sw.String(), "\n"), "\n")
			if len(lines) != 5 || lines[4] != "total = 20100 (want 20100)" {
				t.Fatalf("output:\n%s", out.String())
			}
			langs := map[string]int{}
			for _, l := range lines[:4] {
				m := workerLine.FindStringSubmatch(l)
				if m == nil {
					t.Fatalf("unexpected line %q", l)
				}
				langs[m[1]]++
			}
			if langs["go"] != 2 || langs["python"] != 2 {
				t.Fatalf("worker reports %v", langs)
			}
		})
	}
}

// syncWriter serializes the writes of the workers' output copiers.
type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}
