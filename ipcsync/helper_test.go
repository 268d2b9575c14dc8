package ipcsync_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/procshare/procshare/ipcsync"
)

// The multi-process tests re-execute the test binary (x/sync TestPanicDoChan
// style): roleEnv names what the child does, memEnv the file whose mapping
// the processes share, argsEnv its parameters.
const (
	roleEnv = "IPCSYNC_TEST_ROLE"
	memEnv  = "IPCSYNC_TEST_MEM"
	argsEnv = "IPCSYNC_TEST_ARGS"
)

// shared is the layout of the test's shared page. The synchronisation
// objects are embedded directly (the way shm headers embed them); the
// counters guarded by mu are plain words on purpose.
type shared struct {
	mu      ipcsync.Mutex
	counter uint64 // guarded by mu, updated non-atomically
	dirty   uint64 // guarded by mu: 1 while a critical section is half done

	deaths  atomic.Int64 // ErrOwnerDead seen
	corrupt atomic.Int64 // dirty state seen without ErrOwnerDead, or other violations
	ready   atomic.Int64 // children that reached their rendezvous
	held    atomic.Int64 // set by a child once it holds mu
	stop    atomic.Int64 // set by the parent to end children's loops
	done    atomic.Int64 // operations completed by a victim before it was killed
	inside  atomic.Int64 // semaphore holders right now
	woke    atomic.Int64 // event waiters woken

	sem  ipcsync.Semaphore
	ev   ipcsync.Event
	cond ipcsync.Cond
	bar  ipcsync.Barrier
}

const pageSize = 4096

func init() {
	if unsafe.Sizeof(shared{}) > pageSize {
		panic("shared layout exceeds a page")
	}
}

// mapFile maps the first page of path shared.
func mapFile(path string) (*shared, []byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), 0, pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return (*shared)(unsafe.Pointer(&mem[0])), mem, nil
}

// newShared creates a zeroed shared page for the test and returns it with
// the path children attach to.
func newShared(t testing.TB) (*shared, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "page")
	if err := os.WriteFile(path, make([]byte, pageSize), 0o600); err != nil {
		t.Fatal(err)
	}
	s, mem, err := mapFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	return s, path
}

// child is a re-executed test binary playing a role.
type child struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
}

// spawn starts a child playing role on the shared page at path.
func spawn(t testing.TB, path, role string, args ...int) *child {
	t.Helper()
	c := command(path, role, args...)
	if err := c.start(t); err != nil {
		t.Fatal(err)
	}
	return c
}

// command prepares, without starting it, a child playing role on the
// shared page at path.
func command(path, role string, args ...int) *child {
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	sargs := make([]string, len(args))
	for i, a := range args {
		sargs[i] = strconv.Itoa(a)
	}
	c.cmd.Env = append(os.Environ(), roleEnv+"="+role, memEnv+"="+path, argsEnv+"="+strings.Join(sargs, ","))
	c.cmd.Stderr = &c.stderr
	return c
}

// start starts c and arranges for it to be killed at the end of the test
// if it is still running.
func (c *child) start(t testing.TB) error {
	if err := c.cmd.Start(); err != nil {
		return err
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
	})
	return nil
}

// wait waits for the child and fails the test if it did not exit 0.
func (c *child) wait(t testing.TB) {
	t.Helper()
	if err := c.cmd.Wait(); err != nil {
		t.Errorf("child %v: %v\n%s", c.cmd.Env[len(c.cmd.Env)-3:], err, c.stderr.String())
	}
}

// waitFor polls cond until it holds or a generous deadline passes (the
// deadline only turns a hang into a failure; nothing is timed).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestMain runs a child role when the environment names one.
func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		if err := runRole(role); err != nil {
			fmt.Fprintf(os.Stderr, "role %s: %v\n", role, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runRole(role string) error {
	s, _, err := mapFile(os.Getenv(memEnv))
	if err != nil {
		return err
	}
	var args []int
	if a := os.Getenv(argsEnv); a != "" {
		for _, f := range strings.Split(a, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				return err
			}
			args = append(args, n)
		}
	}
	fn, ok := roles[role]
	if !ok {
		return fmt.Errorf("unknown role")
	}
	return fn(context.Background(), s, args)
}

// roles maps a role name to what the child does; filled by the test files.
var roles = map[string]func(ctx context.Context, s *shared, args []int) error{}
