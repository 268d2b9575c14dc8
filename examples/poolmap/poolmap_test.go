package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/procshare/procshare/examples/internal/extest"
)

func TestMain(m *testing.M) { extest.Main(m, main) }

// checkOutput checks what a poolmap program printed: progress that only
// grows ("\rdone N/100", one line rewritten; the Go pool reports it once a
// chunk, Python's imap_unordered once a task) up to 100/100, then the sum.
func checkOutput(t *testing.T, who, out string) {
	t.Helper()
	progress, sum, ok := strings.Cut(out, "\n")
	if !ok || sum != "sum of squares: 328350\n" || !strings.HasPrefix(progress, "\r") {
		t.Fatalf("%s printed %q", who, out)
	}
	last := 0
	for _, step := range strings.Split(progress[1:], "\r") {
		var done int
		if _, err := fmt.Sscanf(step, "done %d/100", &done); err != nil || step != fmt.Sprintf("done %d/100", done) || done <= last {
			t.Fatalf("%s printed progress %q after %d/100, in %q", who, step, last, out)
		}
		last = done
	}
	if last != 100 {
		t.Fatalf("%s's progress ended at %d/100: %q", who, last, out)
	}
}

// TestPoolMap runs the Go program and its Python twin.
func TestPoolMap(t *testing.T) {
	checkOutput(t, "the Go program", extest.Run(t, extest.Go()))
	for _, py := range extest.Pythons(t) {
		t.Run(py.Name(), func(t *testing.T) {
			checkOutput(t, "poolmap.py", extest.Run(t, extest.Python(t, py, "poolmap.py")))
		})
	}
}
