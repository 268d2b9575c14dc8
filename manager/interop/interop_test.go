package interop_test

import (
	"testing"

	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/manager/interop"
)

// TestSuite runs the interop suite with every CPython 3.8+ against
// procshare's server, started in-process, over a Unix socket and over TCP:
// one Python process per interpreter and transport, each Python test a
// subtest.
func TestSuite(t *testing.T) {
	for _, py := range interpreters(t) {
		py := py
		t.Run(py.Name(), func(t *testing.T) {
			t.Parallel()
			for _, network := range []string{"unix", "tcp"} {
				t.Run(network, func(t *testing.T) {
					key := interop.NewAuthkey(t)
					addr := interop.StartServer(t, network, &manager.ServerConfig{Authkey: key})
					runSuite(t, py, addr, key, "procshare")
				})
			}
		})
	}
}
