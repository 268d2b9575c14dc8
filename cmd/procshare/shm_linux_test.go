package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The tests here run "procshare shm" as a real process against a stand-in
// for /dev/shm full of files that a hostile local user can plant: the
// child is started in a private mount namespace and bind-mounts a
// temporary directory over /dev/shm there (see TestMain), so neither the
// hostile files nor the bind mount ever reach the machine's /dev/shm.

// shmDirEnv names the stand-in directory for the child.
const shmDirEnv = "PROCSHARE_TEST_SHM_DIR"

// otherUID owns the files that "another user" plants (nobody).
const otherUID = 65534

// bindShmDir makes dir this process's /dev/shm. It refuses to run outside
// a private mount namespace, where the bind mount would replace the
// machine's /dev/shm.
func bindShmDir(dir string) error {
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return err
	}
	parent, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", os.Getppid()))
	if err != nil {
		return err
	}
	if self == parent {
		return errors.New("not in a private mount namespace")
	}
	return syscall.Mount(dir, "/dev/shm", "", syscall.MS_BIND, "")
}

// procshareResult is how a "procshare" child process ended.
type procshareResult struct {
	code           int // exit status; -1 when killed by a signal
	stdout, stderr string
}

// runInShmDir runs "procshare ARGS" in a child process whose /dev/shm is
// dir and returns how it ended. A child that has not exited after a
// generous bound is killed and fails the test: the command blocks.
func runInShmDir(t *testing.T, dir string, args ...string) procshareResult {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the stand-in /dev/shm is bind-mounted in a private mount namespace")
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "PROCSHARE_TEST_MAIN="+strings.Join(args, "\n"), shmDirEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // and / made private
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("cannot create a mount namespace here: %v", err)
		}
		t.Fatal(err)
	}
	r := procshareResult{code: waitExit(t, cmd, strings.Join(args, " "))}
	r.stdout, r.stderr = stdout.String(), stderr.String()
	if r.code == 3 && strings.Contains(r.stderr, "stand-in /dev/shm") {
		t.Fatalf("child: %s", r.stderr)
	}
	return r
}

// plant writes a segment file NAME of 64 bytes in dir, and, unless meta
// is nil, its metadata file holding meta.
func plant(t *testing.T, dir, name string, meta any) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), make([]byte, 64), 0o600); err != nil {
		t.Fatal(err)
	}
	if meta != nil {
		b, _ := json.Marshal(meta)
		if err := os.WriteFile(metaFile(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func metaFile(dir, name string) string { return filepath.Join(dir, ".procshare-"+name+".meta") }

// live and dead are metadata claiming a creator that runs (this test
// process, any start time) or has exited (this pid, another start time).
var (
	live = map[string]any{"pid": os.Getpid(), "start": 0, "size": 64, "created": "2026-01-02T03:04:05Z"}
	dead = map[string]any{"pid": os.Getpid(), "start": 1, "size": 64, "created": "2026-01-02T03:04:05Z"}
)

func chown(t *testing.T, uid int, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.Lchown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// TestShmLsHostileMeta: metadata files planted as a FIFO (which blocked
// "shm ls" forever, deaf to SIGINT), a symbolic link to /dev/zero (read
// until out of memory) and a sparse 2 GiB file (2 GiB of memory) are each
// listed as an untrusted entry with the reason, and the listing completes.
func TestShmLsHostileMeta(t *testing.T) {
	dir := t.TempDir()
	plant(t, dir, "fifo", nil)
	if err := unix.Mkfifo(metaFile(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	plant(t, dir, "zero", nil)
	if err := os.Symlink("/dev/zero", metaFile(dir, "zero")); err != nil {
		t.Fatal(err)
	}
	plant(t, dir, "big", nil)
	if err := os.WriteFile(metaFile(dir, "big"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(metaFile(dir, "big"), 2<<30); err != nil {
		t.Fatal(err)
	}
	plant(t, dir, "good", live)

	r := runInShmDir(t, dir, "shm", "ls")
	if r.code != 0 {
		t.Fatalf("shm ls: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for name, reason := range map[string]string{
		"fifo": "not a regular file but a FIFO",
		"zero": "not a regular file but a symbolic link",
		"big":  "has 2147483648 bytes, more than the 65536 allowed",
	} {
		line := findLine(r.stdout, name)
		f := strings.Fields(line)
		if len(f) < 7 || f[1] != "64" || f[3] != "0" || f[4] != "?" || !strings.Contains(line, reason) {
			t.Errorf("shm ls line for %s: %q, want pid 0, alive ? and %q", name, line, reason)
		}
	}
	if f := strings.Fields(findLine(r.stdout, "good")); len(f) != 6 || f[3] != fmt.Sprint(os.Getpid()) || f[4] != "yes" {
		t.Errorf("shm ls line for good: %q\n%s", f, r.stdout)
	}
}

// TestShmRmDeadOwners: "shm rm -dead" removes dead segments of the caller
// only, or every user's with -all-users, and never a segment whose
// metadata was planted by someone other than the segment's owner: such
// metadata claiming a dead creator made rm -dead remove a live segment.
func TestShmRmDeadOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give planted files to another uid")
	}
	dir := t.TempDir()
	seg := func(name string) string { return filepath.Join(dir, name) }
	// Live segments with metadata planted by another user, claiming a
	// dead creator: root's, and another user's.
	plant(t, dir, "victim", dead)
	chown(t, otherUID, metaFile(dir, "victim"))
	plant(t, dir, "victim2", dead)
	chown(t, otherUID, seg("victim2"))
	chown(t, otherUID-1, metaFile(dir, "victim2"))
	// Leaked segments: root's (the caller's) and another user's.
	plant(t, dir, "mine", dead)
	plant(t, dir, "theirs", dead)
	chown(t, otherUID, seg("theirs"), metaFile(dir, "theirs"))
	// A live one of the caller's.
	plant(t, dir, "running", live)

	r := runInShmDir(t, dir, "shm", "rm", "-dead")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "removed mine" {
		t.Fatalf("shm rm -dead: exit %d, stdout %q, want only mine removed; stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for name, want := range map[string]bool{"victim": true, "victim2": true, "mine": false, "theirs": true, "running": true} {
		if exists(seg(name)) != want || exists(metaFile(dir, name)) != want {
			t.Errorf("after rm -dead: %s exists %v (metadata %v), want %v", name, exists(seg(name)), exists(metaFile(dir, name)), want)
		}
	}

	r = runInShmDir(t, dir, "shm", "rm", "-dead", "-all-users")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "removed theirs" {
		t.Fatalf("shm rm -dead -all-users: exit %d, stdout %q, want only theirs removed; stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, name := range []string{"victim", "victim2", "running"} {
		if !exists(seg(name)) {
			t.Errorf("rm -dead -all-users removed the live segment %s", name)
		}
	}
	if exists(seg("theirs")) {
		t.Errorf("rm -dead -all-users left another user's leaked segment")
	}

	// ls shows each owner.
	r = runInShmDir(t, dir, "shm", "ls")
	if f := strings.Fields(findLine(r.stdout, "victim2")); len(f) < 3 || f[2] != "nobody" && f[2] != fmt.Sprint(otherUID) {
		t.Errorf("shm ls line for victim2: %q, want owner nobody\n%s", f, r.stdout)
	}
}

// TestShmLsEscapesNames: a segment name holding terminal escape sequences
// is printed quoted with Go escapes by "shm ls", "shm ls -a" and "shm rm";
// ordinary names print as they are.
func TestShmLsEscapesNames(t *testing.T) {
	dir := t.TempDir()
	evil := "x\x1b[31mred\x1b[0m"
	plant(t, dir, evil, live)
	plant(t, dir, "plain_name", live)
	foreign := "\x1b]0;title\a\xff"
	plant(t, dir, foreign, nil)
	for _, args := range [][]string{{"shm", "ls"}, {"shm", "ls", "-a"}} {
		r := runInShmDir(t, dir, args...)
		if r.code != 0 {
			t.Fatalf("%q: exit %d\n%s", args, r.code, r.stderr)
		}
		if hasRawControl(r.stdout) {
			t.Errorf("%q writes raw control bytes: %q", args, r.stdout)
		}
		if findLine(r.stdout, `"x\x1b[31mred\x1b[0m"`) == "" || findLine(r.stdout, "plain_name") == "" {
			t.Errorf("%q output lacks the quoted name or the plain one:\n%s", args, r.stdout)
		}
		if (len(args) == 3) != (findLine(r.stdout, `"\x1b]0;title\a\xff"`) != "") {
			t.Errorf("%q output and the quoted foreign name:\n%s", args, r.stdout)
		}
	}
	r := runInShmDir(t, dir, "shm", "rm", evil)
	if r.code != 0 || r.stdout != "removed \"x\\x1b[31mred\\x1b[0m\"\n" {
		t.Errorf("shm rm: exit %d, stdout %q", r.code, r.stdout)
	}
}
