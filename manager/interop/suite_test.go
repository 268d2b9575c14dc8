package interop_test

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/procshare/procshare/internal/pyenv"
	"github.com/procshare/procshare/manager/interop"
)

// suiteTimeout bounds one run of interop_suite.py (about 90 tests; a
// healthy run takes seconds).
const suiteTimeout = 4 * time.Minute

// runSuite runs interop_suite.py with py against the server at address
// (and address2, a second server of the same kind with the key authkey2,
// for the cross-server tests; "" skips them) and reports each Python test
// as a subtest of t. kind is "procshare" or
// "cpython" (whose server this is: the suite checks the procshare
// extensions only against ours).
//
// args are passed to the suite (e.g. "-k", "TestValues").
func runSuite(t *testing.T, py pyenv.Interpreter, address, address2 string, authkey, authkey2 []byte, kind string, args ...string) []interop.Result {
	t.Helper()
	out := interop.RunScript(t, py, suiteTimeout, []string{
		"PS_ADDRESS=" + address,
		"PS_ADDRESS2=" + address2,
		"PS_AUTHKEY=" + hex.EncodeToString(authkey),
		"PS_AUTHKEY2=" + hex.EncodeToString(authkey2),
		"PS_SERVER=" + kind,
	}, interop.Testdata("interop_suite.py"), args...)
	failed := 0
	for _, r := range out.Results {
		r := r
		t.Run(r.Test, func(t *testing.T) {
			switch {
			case r.Status == "skip":
				t.Skip(r.Detail)
			case r.Failed():
				t.Errorf("%s (%s client, %s server at %s):\n%s", r.Status, py.Version, kind, address, r.Detail)
			}
		})
		if r.Failed() {
			failed++
		}
	}
	if len(out.Results) == 0 {
		t.Fatalf("interop_suite.py reported no results (%v)\nstdout:\n%s\nstderr:\n%s",
			out.Err, interop.Tail(out.Stdout, 2000), interop.Tail(out.Stderr, 4000))
	}
	if out.Err != nil && failed == 0 {
		t.Fatalf("interop_suite.py: %v with no failing test reported\nstderr:\n%s", out.Err, interop.Tail(out.Stderr, 4000))
	}
	return out.Results
}

// interpreters returns every CPython 3.8+ on this machine, or skips t.
func interpreters(t *testing.T) []pyenv.Interpreter {
	all := pyenv.Interpreters()
	if len(all) == 0 {
		t.Skip("no CPython 3.8+ interpreter on this machine")
	}
	return all
}
