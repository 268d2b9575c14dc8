package interop_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/procshare/procshare/internal/pyenv"
	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/manager/interop"
)

// TestSuite runs the interop suite with every CPython 3.8+ against
// procshare's server, started in-process, over a Unix socket and over TCP:
// one Python process per interpreter and transport, each Python test a
// subtest. The "netpoller" runs serve every connection through Go's
// netpoller instead of dedicated threads (ServerConfig.DedicatedThreads
// -1). With -short, TCP runs with the oldest and newest interpreter only,
// and the netpoller run with the newest.
func TestSuite(t *testing.T) {
	all := interpreters(t)
	for i, py := range all {
		py := py
		newest, oldest := i == len(all)-1, i == 0
		t.Run(py.Name(), func(t *testing.T) {
			t.Parallel()
			for _, run := range []struct {
				name, network string
				threads       int
				short         bool // runs with -short
			}{
				{"unix", "unix", 0, true},
				{"tcp", "tcp", 0, oldest || newest},
				{"unix-netpoller", "unix", -1, newest},
			} {
				t.Run(run.name, func(t *testing.T) {
					if testing.Short() && !run.short {
						t.Skip("-short: TCP runs with the oldest and newest interpreters, the netpoller run with the newest")
					}
					// The second server has a key of its own, which the
					// first holds for the references it takes there.
					key, key2 := interop.NewAuthkey(t), interop.NewAuthkey(t)
					addr2 := interop.StartServer(t, run.network, &manager.ServerConfig{Authkey: key2, DedicatedThreads: run.threads})
					b, err := manager.ParseAddress(addr2)
					if err != nil {
						t.Fatal(err)
					}
					addr := interop.StartServer(t, run.network, &manager.ServerConfig{
						Authkey:          key,
						DedicatedThreads: run.threads,
						Foreign:          &manager.ForeignConfig{Authkey: key2, Allow: []manager.Address{b}},
					})
					runSuite(t, py, addr, addr2, key, key2, "procshare")
				})
			}
		})
	}
}

// systemPython is Debian's python3, where Debian's python3-numpy can be
// installed (the pyenv interpreters cannot import it).
const systemPython = "/usr/bin/python3"

// TestNumpyArray stores a numpy array (an object the server cannot know:
// numpy.core.multiarray._reconstruct + BUILD with raw bytes) through
// procshare's server with the system python, when that python has numpy.
func TestNumpyArray(t *testing.T) {
	if _, err := os.Stat(systemPython); err != nil {
		t.Skipf("no %s", systemPython)
	}
	out, err := exec.Command(systemPython, "-c", "import sys, numpy; print(sys.version_info[1], sys.version.split()[0])").Output()
	if err != nil {
		t.Skipf("numpy is not importable by %s (Debian: apt-get install python3-numpy): %v", systemPython, err)
	}
	fields := strings.Fields(string(out))
	minor, _ := strconv.Atoi(fields[0])
	py := pyenv.Interpreter{Version: fields[1], Minor: minor, Path: systemPython}
	key := interop.NewAuthkey(t)
	addr := interop.StartServer(t, "unix", &manager.ServerConfig{Authkey: key})
	for _, r := range runSuite(t, py, addr, "", key, nil, "procshare", "-k", "test_numpy_array") {
		if r.Status == "skip" {
			t.Errorf("%s skipped although %s imports numpy: %s", r.Test, systemPython, r.Detail)
		}
	}
}
