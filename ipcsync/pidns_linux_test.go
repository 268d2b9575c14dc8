package ipcsync_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/procshare/procshare/ipcsync"
)

func init() {
	roles["container-hold"] = roleContainerHold
	roles["foreign-proc-wait"] = roleForeignProcWait
	roles["container-recover"] = roleContainerRecover
	roles["probe-proc"] = func(context.Context, *shared, []int) error { return mountOwnProc() }
}

// mountOwnProc makes the process look like a container's: in its private
// mount namespace it mounts a /proc of its own pid namespace (so /proc/1 is
// the namespace's init, as in a container).
func mountOwnProc() error {
	// Private first, so that the new /proc does not propagate to the
	// parent's mount namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	return nil
}

// roleContainerHold plays roleHold in a container-like process.
func roleContainerHold(ctx context.Context, s *shared, args []int) error {
	if err := mountOwnProc(); err != nil {
		return err
	}
	return roleHold(ctx, s, args)
}

// roleContainerRecover is a container's init: it starts a holder of its
// namespace, kills it (SIGKILL, then reaps it) while it holds the lock, and
// must take the lock over with ErrOwnerDead, as outside namespaces.
func roleContainerRecover(ctx context.Context, s *shared, args []int) error {
	if err := mountOwnProc(); err != nil {
		return err
	}
	h := command(os.Getenv(memEnv), "hold")
	if err := h.cmd.Start(); err != nil {
		return err
	}
	for s.held.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	owner := s.mu.Owner()
	h.cmd.Process.Signal(syscall.SIGKILL)
	h.cmd.Wait()
	var od *ipcsync.OwnerDeadError
	if err := s.mu.Lock(ctx); !errors.As(err, &od) || od.PID != owner {
		return fmt.Errorf("Lock after the holder (pid %d) was killed = %v, want an OwnerDeadError for it", owner, err)
	}
	s.mu.Unlock()
	return nil
}

// roleForeignProcWait runs in a new pid namespace with its parent's /proc
// still mounted, where /proc/PID names another process than pid PID of its
// namespace (as after nsenter --pid without --mount). It starts a holder
// of its own namespace that mounts a /proc of that namespace (as a
// container's process does), and checks that it does not take the lock
// from it: through several liveness checks, then a cancelled Lock; then the
// holder unlocks and Lock succeeds.
func roleForeignProcWait(ctx context.Context, s *shared, args []int) error {
	h := command(os.Getenv(memEnv), "container-hold")
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	if err := h.cmd.Start(); err != nil {
		return err
	}
	defer func() {
		h.cmd.Process.Kill()
		h.cmd.Wait()
	}()
	for s.held.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	owner := s.mu.Owner()
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- s.mu.Lock(lctx) }()
	for base := ipcsync.LivenessChecks(); ipcsync.LivenessChecks() < base+5; {
		select {
		case err := <-res:
			return fmt.Errorf("Lock on the live holder (pid %d of this namespace) returned %v", owner, err)
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		return fmt.Errorf("cancelled Lock = %v, want context.Canceled", err)
	}
	s.stop.Store(1)
	if err := s.mu.Lock(ctx); err != nil {
		return fmt.Errorf("Lock after the holder released = %v", err)
	}
	s.mu.Unlock()
	if err := h.cmd.Wait(); err != nil {
		return fmt.Errorf("holder: %v: %s", err, h.stderr.String())
	}
	return nil
}

// probeNamespaces tells whether a child can be made in new pid and mount
// namespaces and mount a /proc there: the empty string, or why not. A
// container without CAP_SYS_ADMIN may not create namespaces, and one whose
// /proc is partly masked may not mount another.
var probeNamespaces = sync.OnceValue(func() string {
	dir, err := os.MkdirTemp("", "ipcsync-probe")
	if err != nil {
		return err.Error()
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "page")
	if err := os.WriteFile(path, make([]byte, pageSize), 0o600); err != nil {
		return err.Error()
	}
	c := command(path, "probe-proc")
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS}
	if err := c.cmd.Run(); err != nil {
		return fmt.Sprintf("%v %s", err, c.stderr.String())
	}
	return ""
})

// spawnNewPIDNS starts a child playing role in a new pid namespace (where
// its pid is 1 and means another process in ours) and a new mount
// namespace, or skips the test when this process may not create them or
// mount a /proc there.
func spawnNewPIDNS(t *testing.T, path, role string, args ...int) *child {
	t.Helper()
	if why := probeNamespaces(); why != "" {
		t.Skipf("cannot run a child in new pid and mount namespaces with its own /proc (needs CAP_SYS_ADMIN and an unmasked /proc): %s", why)
	}
	c := command(path, role, args...)
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS}
	if err := c.start(t); err != nil {
		t.Fatal(err)
	}
	return c
}

// expectNotTaken checks that Lock and TryLock leave a lock held by a
// process of another pid namespace alone: the waiter goes through several
// liveness checks and then gives up with its context's error, never with
// ErrOwnerDead.
func expectNotTaken(t *testing.T, s *shared, owner int) {
	t.Helper()
	cancel, res := lockAsync(&s.mu)
	base := ipcsync.LivenessChecks()
	var early error
	returned := false
	waitFor(t, "liveness checks", func() bool {
		select {
		case early = <-res:
			returned = true
		default:
		}
		return returned || ipcsync.LivenessChecks() >= base+5
	})
	if returned {
		cancel()
		t.Fatalf("Lock on another pid namespace's lock returned %v while it was held, want to keep waiting", early)
	}
	if ok, err := s.mu.TryLock(); ok || err != nil {
		t.Fatalf("TryLock on another pid namespace's lock = %v, %v; want false, nil", ok, err)
	}
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock on another pid namespace's lock = %v, want context.Canceled", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.mu.Lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock with a deadline on another pid namespace's lock = %v, want context.DeadlineExceeded", err)
	}
	if got := s.mu.Owner(); got != owner {
		t.Fatalf("owner = %d, want %d (the record was changed)", got, owner)
	}
}

// holderRoles are the two ways a holder lives in another pid namespace:
// with a /proc of its own namespace, as in a container, and with the
// parent's /proc still mounted (as after a bare unshare --pid --fork), where
// /proc/PID names the processes of the parent's namespace.
var holderRoles = []struct{ name, role string }{
	{"own /proc", "container-hold"},
	{"inherited /proc", "hold"},
}

// TestMutexOwnerInOtherPIDNamespace: a child in a new pid namespace (pid
// 1 there; pid 1 here is another process, with another start time) holds
// the lock. A waiter here cannot judge it by its pid and must not take the
// lock; when the child unlocks, the waiter gets it normally.
func TestMutexOwnerInOtherPIDNamespace(t *testing.T) {
	t.Parallel()
	for _, h := range holderRoles {
		t.Run(h.name, func(t *testing.T) {
			s, path := newShared(t)
			holder := spawnNewPIDNS(t, path, h.role)
			waitFor(t, "holder to lock", func() bool { return s.held.Load() == 1 })
			owner := s.mu.Owner()
			if owner == holder.cmd.Process.Pid {
				t.Fatalf("holder recorded pid %d, its pid in our namespace: not in a new pid namespace", owner)
			}
			expectNotTaken(t, s, owner)

			cancel, res := lockAsync(&s.mu)
			defer cancel()
			s.stop.Store(1)
			if err := <-res; err != nil {
				t.Fatalf("Lock after the holder released = %v", err)
			}
			s.mu.Unlock()
			holder.wait(t)
		})
	}
}

// TestMutexOwnerInOtherPIDNamespaceKilled: the child in a new pid
// namespace dies (SIGKILL, reaped) holding the lock. A waiter here still
// cannot judge a pid of that namespace, so it keeps waiting as for a live
// owner and returns its context's error: only a waiter of the owner's own
// namespace may declare it dead (see "Linux notes" in the package
// documentation).
func TestMutexOwnerInOtherPIDNamespaceKilled(t *testing.T) {
	t.Parallel()
	for _, h := range holderRoles {
		t.Run(h.name, func(t *testing.T) {
			s, path := newShared(t)
			holder := spawnNewPIDNS(t, path, h.role)
			waitFor(t, "holder to lock", func() bool { return s.held.Load() == 1 })
			owner := s.mu.Owner()
			if err := holder.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			holder.cmd.Wait()
			expectNotTaken(t, s, owner)
		})
	}
}

// TestMutexOwnerRecord checks the bytes a Lock writes (see "Memory layout"
// in the package documentation): the state word with the pid, bit 30 and
// the start token; the record word with the inode of /proc/self/ns/pid and
// the odd tag of the identity. Unlock clears the state and leaves the
// record, which the next owner overwrites.
func TestMutexOwnerRecord(t *testing.T) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil {
		t.Skipf("no pid namespace file: %v", err)
	}
	ns := uint32(st.Ino)
	if got := ipcsync.PIDNamespace(); got != ns {
		t.Fatalf("PIDNamespace() = %d, want the inode of /proc/self/ns/pid, %d", got, ns)
	}
	tok, _ := ipcsync.StartToken(os.Getpid())
	buf := make([]uint64, 2)
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), ipcsync.MutexSize)
	mu, err := ipcsync.NewMutex(mem)
	if err != nil {
		t.Fatal(err)
	}
	if err := mu.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	id := uint64(tok)<<32 | 1<<30 | uint64(os.Getpid())
	if got := binary.NativeEndian.Uint64(mem[0:8]); got != id {
		t.Fatalf("state = %#x, want %#x (pid | 1<<30 | token<<32)", got, id)
	}
	rec := binary.NativeEndian.Uint64(mem[8:16])
	if uint32(rec) != ns || rec>>32&1 != 1 || rec != ipcsync.RecordOf(id, ns) {
		t.Fatalf("record = %#x, want namespace %#x in the low half and an odd tag (%#x)", rec, ns, ipcsync.RecordOf(id, ns))
	}
	mu.Unlock()
	if got := binary.NativeEndian.Uint64(mem[0:8]); got != 0 {
		t.Fatalf("state after Unlock = %#x", got)
	}
	if got := binary.NativeEndian.Uint64(mem[8:16]); got != rec {
		t.Fatalf("record after Unlock = %#x, want it left as %#x", got, rec)
	}

	// The tag tells identities apart that differ in any field.
	seen := map[uint32]uint64{}
	for _, id := range []uint64{id, id + 1, id ^ 1<<32, id ^ 1<<63, 1<<30 | 1, 1<<30 | 2, 1<<30 | 1<<32 | 1} {
		tag := uint32(ipcsync.RecordOf(id, ns) >> 32)
		if prev, dup := seen[tag]; dup {
			t.Errorf("identities %#x and %#x share tag %#x", prev, id, tag)
		}
		seen[tag] = id
	}
}

// TestMutexForeignProc: a waiter whose /proc is of another pid namespace
// cannot read its owners' start times there, and must not take a live
// owner's lock because the process it finds under the owner's pid is
// another one (see roleForeignProcWait).
func TestMutexForeignProc(t *testing.T) {
	t.Parallel()
	_, path := newShared(t)
	spawnNewPIDNS(t, path, "foreign-proc-wait").wait(t)
}

// TestMutexOwnerKilledInPIDNamespace: within one pid namespace (a
// container's), a waiter takes over from a killed owner as usual.
func TestMutexOwnerKilledInPIDNamespace(t *testing.T) {
	t.Parallel()
	s, path := newShared(t)
	spawnNewPIDNS(t, path, "container-recover").wait(t)
	if s.mu.Locked() {
		t.Fatal("mutex left locked")
	}
}
