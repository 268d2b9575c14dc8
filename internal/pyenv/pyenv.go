// Package pyenv finds the CPython interpreters on this machine for the
// project's interoperability tests: every version that `pyenv versions` lists
// from 3.8 up, plus python3 from PATH when pyenv is absent.
//
// Tests call [Interpreters] and run each case once per interpreter, as a
// subtest named after the version ("py3.12").
package pyenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Interpreter is one CPython installation.
type Interpreter struct {
	Version string // "3.12.1"
	Minor   int    // 12 for 3.12
	Path    string // absolute path of the python executable
}

// Name is the subtest name for the interpreter: "py3.12".
func (in Interpreter) Name() string { return "py3." + strconv.Itoa(in.Minor) }

var (
	once   sync.Once
	found  []Interpreter
	verRe  = regexp.MustCompile(`^3\.(\d+)\.\d+$`)
	minMin = 8
)

// Interpreters returns the CPython 3.8+ interpreters on this machine, oldest
// first, at most one per minor version. It never returns nil when python3 is
// on PATH.
func Interpreters() []Interpreter {
	once.Do(func() { found = discover() })
	return found
}

// Latest returns the newest interpreter, or skips t when there is none.
func Latest(t testing.TB) Interpreter {
	all := Interpreters()
	if len(all) == 0 {
		t.Skip("pyenv: no CPython 3.8+ interpreter on this machine")
	}
	return all[len(all)-1]
}

// Version returns the interpreter of minor version 3.minor, or skips t when
// this machine has none.
func Version(t testing.TB, minor int) Interpreter {
	for _, in := range Interpreters() {
		if in.Minor == minor {
			return in
		}
	}
	t.Skipf("pyenv: no CPython 3.%d on this machine", minor)
	return Interpreter{}
}

func discover() []Interpreter {
	byMinor := map[int]Interpreter{}
	add := func(version, path string) {
		m := verRe.FindStringSubmatch(version)
		if m == nil {
			return
		}
		minor, _ := strconv.Atoi(m[1])
		if minor < minMin {
			return
		}
		if _, dup := byMinor[minor]; dup {
			return
		}
		if _, err := os.Stat(path); err != nil {
			return
		}
		byMinor[minor] = Interpreter{Version: version, Minor: minor, Path: path}
	}
	root := os.Getenv("PYENV_ROOT")
	if root == "" {
		if home, err := os.UserHomeDir(); err == nil {
			root = filepath.Join(home, ".pyenv")
		}
	}
	if root != "" {
		entries, _ := os.ReadDir(filepath.Join(root, "versions"))
		for _, e := range entries {
			add(e.Name(), filepath.Join(root, "versions", e.Name(), "bin", "python3"))
		}
	}
	if len(byMinor) == 0 {
		if path, err := exec.LookPath("python3"); err == nil {
			out, err := exec.Command(path, "-c", "import platform; print(platform.python_version())").Output()
			if err == nil {
				add(strings.TrimSpace(string(out)), path)
			}
		}
	}
	all := make([]Interpreter, 0, len(byMinor))
	for _, in := range byMinor {
		all = append(all, in)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Minor < all[j].Minor })
	return all
}
