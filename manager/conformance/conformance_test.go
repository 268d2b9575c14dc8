package conformance_test

import (
	"bufio"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/procshare/procshare/internal/pyenv"
	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/manager/interop"
)

// runTimeout bounds one run of CPython's manager tests (about 70 tests;
// ~30-60 s on two cores).
const runTimeout = 8 * time.Minute

// notApplicable is one entry of testdata/not_applicable.txt.
type notApplicable struct {
	name     string // Class or Class.test_method
	versions string // "*" or "3.8,3.9"
	reason   string
}

func (na notApplicable) appliesTo(py pyenv.Interpreter) bool {
	if na.versions == "*" {
		return true
	}
	for _, v := range strings.Split(na.versions, ",") {
		if v == "3."+strconv.Itoa(py.Minor) {
			return true
		}
	}
	return false
}

// covers reports whether test (Class.test_method) is na's test or in na's class.
func (na notApplicable) covers(test string) bool {
	return test == na.name || strings.HasPrefix(test, na.name+".")
}

func loadNotApplicable(t *testing.T, py pyenv.Interpreter) []notApplicable {
	f, err := os.Open("testdata/not_applicable.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var list []notApplicable
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.SplitN(line, " ", 3)
		if len(fields) != 3 {
			t.Fatalf("not_applicable.txt: bad line %q", line)
		}
		na := notApplicable{fields[0], fields[1], fields[2]}
		if na.appliesTo(py) {
			list = append(list, na)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return list
}

// selected returns the interpreters to run: PROCSHARE_CONFORMANCE
// ("all" or minor versions "3.8,3.13") if set, else the oldest and the
// newest with -short (what CI runs) and all of them without.
func selected(t *testing.T) []pyenv.Interpreter {
	all := pyenv.Interpreters()
	if len(all) == 0 {
		t.Skip("no CPython 3.8+ interpreter on this machine")
	}
	spec := os.Getenv("PROCSHARE_CONFORMANCE")
	switch {
	case spec == "all":
		return all
	case spec != "":
		var sel []pyenv.Interpreter
		for _, v := range strings.Split(spec, ",") {
			minor, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(v), "3."))
			if err != nil {
				t.Fatalf("PROCSHARE_CONFORMANCE: bad version %q", v)
			}
			sel = append(sel, pyenv.Version(t, minor))
		}
		return sel
	case testing.Short():
		if len(all) > 1 {
			return []pyenv.Interpreter{all[0], all[len(all)-1]}
		}
		return all
	}
	return all
}

// hasManagerTests reports whether py's stdlib ships the test suite.
func hasManagerTests(py pyenv.Interpreter) bool {
	return exec.Command(py.Path, "-c", "import test._test_multiprocessing").Run() == nil
}

// runConformance runs CPython's manager tests with py against the server
// at address and reports each as a subtest of t: the not-applicable ones
// are skipped with their reason, every other one must pass.
func runConformance(t *testing.T, py pyenv.Interpreter, address string, authkey []byte) {
	t.Helper()
	if !hasManagerTests(py) {
		t.Skipf("%s has no test._test_multiprocessing (stdlib tests not installed)", py.Path)
	}
	na := loadNotApplicable(t, py)
	exclude := make([]string, len(na))
	for i, x := range na {
		exclude[i] = x.name
		t.Run(x.name, func(t *testing.T) { t.Skip("not applicable: " + x.reason) })
	}
	runner, err := filepath.Abs("testdata/runner.py")
	if err != nil {
		t.Fatal(err)
	}
	start := os.Getenv("PROCSHARE_CONFORMANCE_START")
	if start == "" {
		start = "fork"
	}
	out := interop.RunScript(t, py, runTimeout, nil, runner,
		"--address", address, "--authkey-hex", hex.EncodeToString(authkey),
		"--exclude", strings.Join(exclude, ","), "--timeout", "120", "--start-method", start)
	var failed []string
	for _, r := range out.Results {
		r := r
		for _, x := range na {
			if x.covers(r.Test) {
				t.Errorf("%s ran although not_applicable.txt lists %s", r.Test, x.name)
			}
		}
		t.Run(r.Test, func(t *testing.T) {
			switch {
			case r.Status == "skip":
				t.Skip(r.Detail)
			case r.Failed():
				t.Errorf("%s with %s against %s:\n%s", r.Status, py.Version, address, r.Detail)
			}
		})
		if r.Failed() {
			failed = append(failed, r.Test)
		}
	}
	if running := out.Running(); running != "" {
		t.Errorf("the runner died during %s (%v); stderr:\n%s", running, out.Err, interop.Tail(out.Stderr, 6000))
	} else if len(out.Results) == 0 {
		t.Fatalf("runner.py reported no results (%v)\nstderr:\n%s", out.Err, interop.Tail(out.Stderr, 6000))
	} else if out.Err != nil && len(failed) == 0 {
		t.Errorf("runner.py: %v with no failing test reported\nstderr:\n%s", out.Err, interop.Tail(out.Stderr, 6000))
	}
	passed, skipped := 0, 0
	var secs float64
	for _, r := range out.Results {
		secs += r.Secs
		switch r.Status {
		case "pass":
			passed++
		case "skip":
			skipped++
		}
	}
	sort.Strings(failed)
	t.Logf("summary %s against %s: %d passed, %d failed %v, %d skipped by the suite itself, %d not applicable; %.1f s in tests",
		py.Version, address, passed, len(failed), failed, skipped, len(na), secs)
}

// TestConformance runs CPython's own manager tests against procshare's
// server (in-process, Unix socket).
func TestConformance(t *testing.T) {
	for _, py := range selected(t) {
		py := py
		t.Run(py.Name(), func(t *testing.T) {
			t.Parallel()
			key := interop.NewAuthkey(t)
			addr := interop.StartServer(t, "unix", &manager.ServerConfig{Authkey: key})
			runConformance(t, py, addr, key)
		})
	}
}

// TestConformanceAgainstCPython runs the same selection against CPython's
// own server of the same version, started as a separate process: it shows
// that every test the harness expects to pass does pass against CPython
// when its server is external. Slow; set PROCSHARE_CONFORMANCE_CPYTHON=1.
func TestConformanceAgainstCPython(t *testing.T) {
	if os.Getenv("PROCSHARE_CONFORMANCE_CPYTHON") == "" {
		t.Skip("set PROCSHARE_CONFORMANCE_CPYTHON=1 to check the harness against CPython's own server")
	}
	for _, py := range selected(t) {
		py := py
		t.Run(py.Name(), func(t *testing.T) {
			t.Parallel()
			key := interop.NewAuthkey(t)
			addr, _ := interop.StartCPythonServer(t, py, interop.SocketPath(t), key)
			runConformance(t, py, addr, key)
		})
	}
}
