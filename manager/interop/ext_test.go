package interop_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/manager/interop"
	"github.com/procshare/procshare/shm"
)

// pythonDir is the repository's python/ directory, which holds
// procshare_ext.py.
func pythonDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "python")
}

// TestExtModule runs testdata/ext_suite.py, the tests of
// python/procshare_ext.py (the ps_* extensions as methods of stock
// proxies), with every CPython 3.8+ against procshare's server over a Unix
// socket; each Python test is a subtest.
func TestExtModule(t *testing.T) {
	for _, py := range interpreters(t) {
		t.Run(py.Name(), func(t *testing.T) {
			t.Parallel()
			key := interop.NewAuthkey(t)
			addr := interop.StartServer(t, "unix", &manager.ServerConfig{Authkey: key})
			out := interop.RunScript(t, py, 5*time.Minute, []string{
				"PS_ADDRESS=" + addr,
				"PS_AUTHKEY=" + hex.EncodeToString(key),
				"PS_EXT_DIR=" + pythonDir(),
			}, interop.Testdata("ext_suite.py"))
			if len(out.Results) == 0 {
				t.Fatalf("ext_suite.py reported no results (%v)\nstderr:\n%s", out.Err, interop.Tail(out.Stderr, 4000))
			}
			for _, r := range out.Results {
				t.Run(r.Test, func(t *testing.T) {
					if r.Failed() {
						t.Errorf("%s (CPython %s):\n%s", r.Status, py.Version, r.Detail)
					}
				})
			}
			if out.Err != nil && !t.Failed() {
				t.Fatalf("ext_suite.py: %v with no failing test\nstderr:\n%s", out.Err, interop.Tail(out.Stderr, 4000))
			}
		})
	}
}

// TestResourceTrackerUnlinks shows the CPython behaviour that the docs
// warn about, with every CPython 3.8+: a Python process that merely opens
// a named segment a Go program created has it unlinked by its resource
// tracker; opened with procshare_ext.open_shared_memory the segment stays.
// Either way what Python wrote is seen from Go.
func TestResourceTrackerUnlinks(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Python shares named segments with Go on Linux only (shm's platform notes)")
	}
	for i, py := range interpreters(t) {
		t.Run(py.Name(), func(t *testing.T) {
			t.Parallel()
			for _, tracked := range []bool{true, false} {
				name := fmt.Sprintf("pstest_tracker_%d_%d_%v", os.Getpid(), i, tracked)
				t.Cleanup(func() { shm.Remove(name) })
				seg, err := shm.Create(name, 64)
				if err != nil {
					t.Fatal(err)
				}
				open := "procshare_ext.open_shared_memory(name)"
				if tracked {
					open = "shared_memory.SharedMemory(name=name)"
				}
				// The script ends its resource tracker as its exit would
				// (closing the tracker's pipe) and waits for it, so that
				// whatever the tracker unlinks is gone when it returns.
				script := `
import os, sys
sys.path.insert(0, sys.argv[2])
import procshare_ext
from multiprocessing import resource_tracker, shared_memory
name = sys.argv[1]
s = ` + open + `
s.buf[0] = 42
s.close()
rt = resource_tracker._resource_tracker
if rt._pid is not None:
    os.close(rt._fd)
    os.waitpid(rt._pid, 0)
    rt._fd = rt._pid = None
`
				out, err := exec.Command(py.Path, "-c", script, name, pythonDir()).CombinedOutput()
				if err != nil {
					seg.Close()
					t.Fatalf("python: %v\n%s", err, out)
				}
				if b := seg.Bytes()[0]; b != 42 {
					t.Errorf("tracked=%v: byte 0 is %d, want what Python wrote, 42", tracked, b)
				}
				seg.Close()
				_, err = os.Stat(filepath.Join(shm.Dir(), name))
				if gone := errors.Is(err, fs.ErrNotExist); gone != tracked {
					t.Errorf("opened by CPython %s (tracked=%v): stat after it exited: %v\n%s", py.Version, tracked, err, out)
				}
			}
		})
	}
}
