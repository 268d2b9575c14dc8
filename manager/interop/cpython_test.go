package interop_test

import (
	"testing"

	"github.com/procshare/procshare/manager/interop"
)

// TestSuiteAgainstCPython runs the interop suite against CPython's own
// manager server of the same version: the suite must pass there too, which
// shows that what it checks is CPython's behaviour. With -short only the
// newest interpreter runs, over a Unix socket; without, every interpreter
// over a Unix socket and over TCP (slow: CPython's server stalls ~40 ms per
// connection over TCP, a delayed ACK against its unset TCP_NODELAY, and the
// run takes ~50 s per interpreter).
func TestSuiteAgainstCPython(t *testing.T) {
	all := interpreters(t)
	for i, py := range all {
		py := py
		t.Run(py.Name(), func(t *testing.T) {
			if testing.Short() && i != len(all)-1 {
				t.Skip("-short: only the newest interpreter runs against CPython's server")
			}
			t.Parallel()
			key := interop.NewAuthkey(t)
			t.Run("unix", func(t *testing.T) {
				addr, _ := interop.StartCPythonServer(t, py, interop.SocketPath(t), key)
				addr2, _ := interop.StartCPythonServer(t, py, interop.SocketPath(t), key)
				runSuite(t, py, addr, addr2, key, key, "cpython")
			})
			t.Run("tcp", func(t *testing.T) {
				if testing.Short() {
					t.Skip("-short: CPython's server takes ~50 s per interpreter over TCP (delayed-ACK stall)")
				}
				addr, _ := interop.StartCPythonServer(t, py, "127.0.0.1:0", key)
				addr2, _ := interop.StartCPythonServer(t, py, "127.0.0.1:0", key)
				runSuite(t, py, addr, addr2, key, key, "cpython")
			})
		})
	}
}
