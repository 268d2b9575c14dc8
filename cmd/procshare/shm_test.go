package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/procshare/procshare/shm"
)

func TestShmLsRm(t *testing.T) {
	name := fmt.Sprintf("pstest_cli_%d", os.Getpid())
	t.Cleanup(func() { shm.Remove(name) })
	seg, err := shm.Create(name, 4321)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()

	var out bytes.Buffer
	if err := shmCommand(context.Background(), []string{"ls"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	line := findLine(out.String(), name)
	if f := strings.Fields(line); len(f) != 6 || f[1] != "4321" || f[3] != fmt.Sprint(os.Getpid()) || f[4] != "yes" {
		t.Errorf("ls line for our segment: %q\n%s", line, out.String())
	}

	// A segment not created by procshare (as Python's would be) shows
	// with -a only.
	foreign := fmt.Sprintf("pstest_cliforeign_%d", os.Getpid())
	if err := os.WriteFile(shm.Dir()+"/"+foreign, make([]byte, 77), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shm.Remove(foreign) })
	out.Reset()
	if err := shmCommand(context.Background(), []string{"ls"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if findLine(out.String(), foreign) != "" {
		t.Errorf("ls lists a foreign segment")
	}
	out.Reset()
	if err := shmCommand(context.Background(), []string{"ls", "-a"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(findLine(out.String(), foreign)); len(f) != 6 || f[1] != "77" || f[3] != "0" || f[4] != "?" {
		t.Errorf("ls -a line for a foreign segment: %q", f)
	}
	if findLine(out.String(), name) == "" {
		t.Errorf("ls -a misses our segment")
	}

	out.Reset()
	if err := shmCommand(context.Background(), []string{"rm", name}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := shm.Open(name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("segment still there after rm: %v", err)
	}
	out.Reset()
	shmCommand(context.Background(), []string{"ls"}, &out, io.Discard)
	if findLine(out.String(), name) != "" {
		t.Errorf("ls still lists %s:\n%s", name, out.String())
	}
}

// TestShmDeadCreator: a segment created by a process that has exited is
// listed as not alive and removed by "rm -dead".
func TestShmDeadCreator(t *testing.T) {
	if os.Getenv("PROCSHARE_SHM_TEST_CREATE") != "" {
		seg, err := shm.Create(os.Getenv("PROCSHARE_SHM_TEST_CREATE"), 100)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		seg.Close() // leaked on purpose
		os.Exit(0)
	}
	name := fmt.Sprintf("pstest_clidead_%d", os.Getpid())
	t.Cleanup(func() { shm.Remove(name) })
	cmd := exec.Command(os.Args[0], "-test.run=^TestShmDeadCreator$")
	cmd.Env = append(os.Environ(), "PROCSHARE_SHM_TEST_CREATE="+name)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("creator: %v\n%s", err, out)
	}
	var out bytes.Buffer
	if err := shmCommand(context.Background(), []string{"ls"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(findLine(out.String(), name)); len(f) != 6 || f[4] != "no" {
		t.Fatalf("ls: want %s listed as not alive:\n%s", name, out.String())
	}
	out.Reset()
	if err := shmCommand(context.Background(), []string{"rm", "-dead"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "removed "+name) {
		t.Errorf("rm -dead output: %q", out.String())
	}
	if _, err := shm.Open(name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("leaked segment still there: %v", err)
	}
}

// TestShmErrors: a command line that cannot be run exits 2, a failure 1.
func TestShmErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"shm"}, exitUsage},
		{[]string{"shm", "frob"}, exitUsage},
		{[]string{"shm", "rm"}, exitUsage},
		{[]string{"shm", "rm", "a/b"}, exitError},
		{[]string{"shm", "rm", ""}, exitError},
		{[]string{"shm", "rm", fmt.Sprintf("pstest_cli_missing_%d", os.Getpid())}, exitError},
		{[]string{"shm", "ls", "extra"}, exitUsage},
		{[]string{"shm", "ls", "-x"}, exitUsage},
		{[]string{"shm", "rm", "-all-users"}, exitUsage},
	} {
		if code := run(tc.args); code != tc.code {
			t.Errorf("procshare %q exit code = %d, want %d", tc.args, code, tc.code)
		}
	}
	err := shmCommand(context.Background(), []string{"rm", "a/b"}, io.Discard, io.Discard)
	if !errors.Is(err, shm.ErrBadName) {
		t.Errorf("rm a/b = %v, want shm.ErrBadName", err)
	}
}

func findLine(s, name string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, name+" ") {
			return l
		}
	}
	return ""
}
