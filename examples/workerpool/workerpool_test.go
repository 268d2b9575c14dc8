package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/procshare/procshare/examples/internal/extest"
)

func TestMain(m *testing.M) { extest.Main(m, main) }

// TestWorkerPool runs the Go program and its Python twin: both print the
// same progress (done 1/100 … done 100/100, one line rewritten with \r)
// and the same sum, byte for byte.
func TestWorkerPool(t *testing.T) {
	var want strings.Builder
	for done := 1; done <= 100; done++ {
		want.WriteString("\rdone " + strconv.Itoa(done) + "/100")
	}
	want.WriteString("\nsum of squares: 328350\n")

	if got := extest.Run(t, extest.Go()); got != want.String() {
		t.Errorf("Go program printed %q\nwant %q", got, want.String())
	}
	for _, py := range extest.Pythons(t) {
		t.Run(py.Name(), func(t *testing.T) {
			if got := extest.Run(t, extest.Python(t, py, "workerpool.py")); got != want.String() {
				t.Errorf("workerpool.py printed %q\nwant %q", got, want.String())
			}
		})
	}
}
