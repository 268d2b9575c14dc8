package main

import (
	"testing"

	"github.com/procshare/procshare/examples/internal/extest"
)

func TestMain(m *testing.M) { extest.Main(m, main) }

// want is the histogram of the last digits of 0², 1², … 99999²: a square
// ends in 0 or 5 once in ten numbers, in 1, 4, 6 or 9 twice, never in 2, 3,
// 7 or 8. A lost increment changes it.
const want = `0 10000 ##########
1 20000 ####################
2 0 
3 0 
4 20000 ####################
5 10000 ##########
6 20000 ####################
7 0 
8 0 
9 20000 ####################
`

// TestHistogram runs the Go program and its Python twin: both print the
// exact histogram.
func TestHistogram(t *testing.T) {
	if got := extest.Run(t, extest.Go()); got != want {
		t.Errorf("Go program printed\n%s\nwant\n%s", got, want)
	}
	for _, py := range extest.Pythons(t) {
		t.Run(py.Name(), func(t *testing.T) {
			if got := extest.Run(t, extest.Python(t, py, "histogram.py")); got != want {
				t.Errorf("histogram.py printed\n%s\nwant\n%s", got, want)
			}
		})
	}
}
