package shm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/procshare/procshare/shm"
)

// pidnsHolderEnv, when set, makes the test binary a holder in another pid
// namespace (see containerHolder); it carries the Value's sharing metadata.
const pidnsHolderEnv = "SHM_TEST_PIDNS_HOLDER"

// The holder runs from init, before TestMain and procshare.Main: it is
// started by the test itself, not by procshare.Process.
func init() {
	if meta, ok := os.LookupEnv(pidnsHolderEnv); ok {
		if err := containerHolder([]byte(meta)); err != nil {
			fmt.Fprintln(os.Stderr, "pid namespace holder:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// containerHolder is a container's process: in its own pid and mount
// namespaces, with a /proc of its pid namespace, it attaches the Value
// passed as descriptor 3, locks it, says so by storing 1, and holds the
// lock until the parent stores 2.
func containerHolder(meta []byte) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	var v shm.Value[int64]
	if err := v.AttachFiles([]*os.File{os.NewFile(3, "segment")}, meta); err != nil {
		return err
	}
	if err := v.Lock(context.Background()); err != nil {
		return err
	}
	v.Store(1)
	for v.Load() != 2 {
		time.Sleep(time.Millisecond)
	}
	v.Unlock()
	return v.Close()
}

// TestValueLockOtherPIDNamespace: a Value in an anonymous segment (a
// memfd) is locked by a process of another pid namespace, a container's
// process whose pid is 1 there. Lock here must wait for it, not take the
// lock over as from a dead process, and get it once the holder unlocks.
func TestValueLockOtherPIDNamespace(t *testing.T) {
	t.Parallel()
	v, err := shm.NewValue[int64](0)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	files, meta, err := v.ShareFiles()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), pidnsHolderEnv+"="+string(meta))
	cmd.ExtraFiles = files
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS}
	err = cmd.Start()
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC) {
			t.Skipf("cannot create pid and mount namespaces here (needs CAP_SYS_ADMIN): %v", err)
		}
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill() // by pid; a no-op once it has been reaped
		<-exited
	}()
	for deadline := time.Now().Add(60 * time.Second); v.Load() != 1; time.Sleep(time.Millisecond) {
		select {
		case err := <-exited:
			exited <- err
			if strings.Contains(stderr.String(), "mount /proc") {
				// A container whose /proc is partly masked may not mount another.
				t.Skipf("the holder cannot mount a /proc of its pid namespace: %s", stderr.String())
			}
			t.Fatalf("holder exited before it locked: %v: %s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the holder to lock")
		}
	}
	owner := v.Mutex().Owner()
	if owner == cmd.Process.Pid {
		t.Fatalf("holder recorded pid %d, its pid in our namespace: not in a new pid namespace", owner)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := v.Lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock on a Value held in another pid namespace = %v, want context.DeadlineExceeded", err)
	}
	if ok, err := v.TryLock(); ok || err != nil {
		t.Fatalf("TryLock on a Value held in another pid namespace = %v, %v; want false, nil", ok, err)
	}
	if got := v.Mutex().Owner(); got != owner {
		t.Fatalf("owner = %d, want the holder's %d", got, owner)
	}

	v.Store(2)
	if err := v.Lock(context.Background()); err != nil {
		t.Fatalf("Lock after the holder released = %v", err)
	}
	v.Unlock()
	err = <-exited
	exited <- err
	if err != nil {
		t.Fatalf("holder: %v: %s", err, stderr.String())
	}
}
