package main

import (
	"os/exec"
	"testing"

	"github.com/procshare/procshare/examples/internal/extest"
)

func TestMain(m *testing.M) { extest.Main(m, main) }

const want = `0 alpha
1 bravo
2 charlie
3 delta
4 echo
5 foxtrot
6 golf
7 hotel
8 india
9 juliett
`

// TestPyProducer runs `procshare serve --expose jobs=Queue` (built from
// cmd/procshare), and against it the Python producer with each consumer in
// turn, the Go program and its Python twin. Each consumer starts first and
// waits on the empty queue; both print the ten jobs in order.
func TestPyProducer(t *testing.T) {
	bin := extest.BuildProcshare(t)
	key := extest.KeyFile(t)
	addr := extest.Serve(t, bin, key, "--expose", "jobs=Queue")
	for _, py := range extest.Pythons(t) {
		t.Run(py.Name(), func(t *testing.T) {
			consumers := []struct {
				name string
				cmd  *exec.Cmd
			}{
				{"the Go consumer", extest.Go(addr, key)},
				{"consumer.py", extest.Python(t, py, "consumer.py", addr, key)},
			}
			for _, c := range consumers {
				wait := extest.Background(t, c.cmd)
				extest.Run(t, extest.Python(t, py, "producer.py", addr, key))
				if got := wait(); got != want {
					t.Errorf("%s printed\n%s\nwant\n%s", c.name, got, want)
				}
			}
		})
	}
}
