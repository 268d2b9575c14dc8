// Package ipcsync provides process-shared synchronisation on words in
// shared memory: a robust [Mutex], a counting [Semaphore], an [Event], a
// condition variable [Cond] and a [Barrier]. They are the locks inside procshare's shared Value and Array headers, and
// work in any memory that several processes map (a shm segment, a memfd, a
// MAP_SHARED file). For one that travels to child processes as Python's
// mp.Lock(), mp.Event() … do, package shm has them in segments of their own
// (shm.NewLock, shm.NewSemaphore, shm.NewEvent, shm.NewCondition,
// shm.NewBarrier), ready to pass to procshare.Start.
//
// # Use
//
// Each object occupies a fixed number of bytes ([MutexSize], [SemaphoreSize],
// [EventSize], [CondSize], [BarrierSize]) at an 8-byte aligned address, and
// all-zero memory is a ready object: an unlocked Mutex, a Semaphore with
// count 0, a clear Event, a Cond (a Barrier needs [Barrier.Init]). Get one
// with [NewMutex], [NewSemaphore], [NewEvent], [NewCond] or [NewBarrier] on
// the memory, or embed the type in a struct laid over the memory. The objects point into the
// memory, so the mapping must stay mapped while they are used; they hold no
// other state, and a process may create any number of handles to one
// object. The zero value of each type (in ordinary Go memory) is a usable,
// process-local object.
//
// All methods are safe for concurrent use by goroutines and by processes.
// Blocking methods take a [context.Context]; when they return its error
// the state is as it was before the call.
//
//	mu, err := ipcsync.NewMutex(mem[0:ipcsync.MutexSize])
//	...
//	if err := mu.Lock(ctx); errors.Is(err, ipcsync.ErrOwnerDead) {
//		repair() // the previous owner died mid-update; we hold the lock
//	} else if err != nil {
//		return err // ctx done; we do not hold the lock
//	}
//	defer mu.Unlock()
//
// # Mutex semantics
//
// The owner of a locked Mutex is a process. Two goroutines of one process
// exclude each other as two processes do; any goroutine of the owning
// process may unlock (as with sync.Mutex); a Mutex is not reentrant.
// Unlocking a Mutex that is not locked, or that another process holds,
// panics. Uncontended Lock and Unlock are one compare-and-swap each (Lock
// also loads the owner record word, and stores it when the owner changes),
// with no system call; Unlock makes a FUTEX_WAKE call only when a waiter
// may sleep.
//
// When ctx is cancelled exactly as the lock is granted, the grant wins:
// Lock returns nil and holds the lock. A ctx that is already done makes
// Lock fail without acquiring, even if the lock is free.
//
// # Robustness
//
// A process that dies holding a Mutex (even by SIGKILL) does not deadlock
// the others, as long as one of them can judge it (below). A locked Mutex
// records its owner's process id and start token in the same 64-bit word
// as the lock state, written by the single compare-and-swap that takes the
// lock: there is no moment at which a held lock lacks its owner's identity
// or shows a half-written one. On Linux the owner also records its pid
// namespace, in a second word that it writes just after taking the lock
// (see "Memory layout" and "Linux notes"): a pid means something only in
// its namespace.
//
// A waiter sleeps in bounded steps and, every 10 ms at first and then every
// 200 ms at most, checks that the owner is alive. If the owner recorded a
// pid namespace other than the waiter's, or the waiter cannot tell, the
// waiter cannot judge the pid and presumes the owner alive. Otherwise
// kill(pid, 0) must not report ESRCH, and where the OS tells (Linux
// /proc/PID/stat, darwin sysctl kern.proc.pid) the process must not be a
// zombie and its start token must equal the recorded one — a different
// token means the pid was reused by another process after the owner died
// (and a record with the checker's own pid but another identity names an
// earlier, dead process). Only positive evidence of death counts: if the
// process exists but cannot be inspected, it is presumed alive. On
// evidence of death the waiter takes the lock over with a
// compare-and-swap from the exact word it judged (so a lock released or
// re-taken meanwhile is never stolen), and Lock returns an
// [*OwnerDeadError], which matches [ErrOwnerDead], while holding the lock
// (like EOWNERDEAD from a robust pthread mutex). Exactly one waiter sees
// it. The caller should repair what the lock protects and continue; no
// "consistent" call is needed. [Mutex.Do] runs its function anyway and
// joins the OwnerDeadError to its result. Hence a live owner is never
// judged dead, and a dead one is found within about 200 ms by a waiter of
// its own pid namespace; waiters of other namespaces wait until their
// context ends or a waiter of the owner's namespace takes the lock over.
//
// A [Semaphore] has no owner and is not robust: a process that dies between
// Acquire and Release loses that unit, as in Python; a process that dies
// waiting at a [Barrier] still counts as arrived. Sleeper counts in
// Semaphore, Event and Cond left behind by dead processes only cost
// spurious wake-up calls.
//
// # Memory layout
//
// All fields are native-endian and accessed only atomically. Offsets are
// from the 8-byte aligned start of the object.
//
// Mutex, 16 bytes:
//
//	offset 0, uint64 state (64-bit compare-and-swap, load, store)
//	    bits  0..29  owner process id (in the owner's pid namespace); 0 = unlocked
//	    bit  30      namespace recorded: the record word names the owner's pid namespace
//	    bit  31      waiters (see below)
//	    bits 32..63  owner start token; 0 = unknown (liveness by pid alone)
//	offset 8, uint64 record (load, store), meaningful only when bit 30 is set
//	    bits  0..31  owner's pid namespace: the inode number of /proc/self/ns/pid
//	    bits 32..63  tag: the high 32 bits of I × 0x9e3779b97f4a7c15 (mod 2^64),
//	                 lowest bit set, where I is the state without bit 31
//
// The record word is written only by the owner, after the compare-and-swap
// that takes the lock (and not at all when it already holds that owner's
// record); Unlock leaves it. A waiter that finds bit 30 set loads the
// record after the state and trusts it only if its tag is the state's:
// until the new owner has stored it, the word still holds an earlier
// owner's record (or 0), which must not be read as this one's. Such a
// pending record is no evidence: the owner is presumed alive. If the same
// owner still shows a pending record after 1 s (it takes a live owner a few
// instructions), Lock concludes that it died before writing it and judges
// it by pid as a record without namespace (wrongly, if it is a live
// process of another namespace that was stopped, by SIGSTOP or a cgroup
// freezer, in those instructions); TryLock, which does not wait, never
// does. A record with bit 30 clear carries no namespace: it is
// written by versions of this package before bit 30 was defined (which
// left the record word 0 and ignore bit 30 and the record word, so they
// share locks with this version) and by processes that cannot read
// /proc/self/ns/pid; it is judged by pid, as those versions judge every
// owner.
//
// The futex word is the least significant half of state: offset 0 on
// little-endian machines, 4 on big-endian ones. Lock: compare-and-swap
// state from 0 to pid | token<<32 (| 1<<30 with a namespace), then store
// the record word if it differs. Contended: set bit 31 with a
// compare-and-swap, then FUTEX_WAIT (shared, not FUTEX_PRIVATE) on the low
// half with the low half of the observed state as the expected value and a
// timeout of at most 200 ms; after having slept, take a free lock with bit
// 31 set. Unlock: compare-and-swap own identity to 0; if bit 31 was set,
// FUTEX_WAKE one waiter. The polling implementation uses bit 31 as a
// hand-over request instead (see "Other platforms"): its Unlock then
// stores exactly 1<<31, a free lock that only lockers that have waited for
// at least 1 ms (and TryLock) may take. A state with pid 0 is free in either reading.
//
// Start token: on Linux the low 32 bits of field 22 (starttime, clock ticks
// since boot) of /proc/PID/stat; on darwin the low 32 bits of p_starttime
// in microseconds since the epoch; a result of 0 is replaced by 1, so that
// 0 always means unknown. Other systems record 0.
//
// Semaphore, 16 bytes:
//
//	offset  0, uint32 count (the futex word): available units
//	offset  4, uint32 sleepers: waiters that may sleep on count
//	offset  8, uint32 max: upper bound of count for Release; 0 = none
//	offset 12, uint32 reserved, 0
//
// Event, 8 bytes:
//
//	offset 0, uint32 flag (the futex word): 0 clear, 1 set
//	offset 4, uint32 sleepers: waiters that may sleep on flag
//
// Cond, 8 bytes:
//
//	offset 0, uint32 seq (the futex word): incremented by Signal/Broadcast
//	offset 4, uint32 sleepers: waiters that may sleep on seq
//
// A waiter increments sleepers before its FUTEX_WAIT (expected value 0 for
// count and flag, the seq it read before unlocking the Mutex for seq) and
// decrements it after; Release, Set, Signal and Broadcast wake (one, all,
// one, all) when sleepers is not 0.
//
// Barrier, 16 bytes:
//
//	offset 0, uint64 state (64-bit atomics)
//	    bits  0..31  generation (the futex word: the low half, as for Mutex)
//	    bits 32..63  parties arrived in this generation
//	offset 8,  uint32 parties
//	offset 12, uint32 reserved, 0
//
// A party arrives by adding 1<<32 to state; the last one instead stores
// the next generation with 0 arrived and wakes all; waiters sleep on the
// generation and withdraw (subtract 1<<32) if cancelled before it
// changes.
//
// # Linux notes
//
// Waits use FUTEX_WAIT/FUTEX_WAKE on the shared mapping, so processes
// sleeping on one lock are woken directly by the unlocker. Every sleep has
// a timeout so that a dead owner and a cancelled context are noticed;
// cancellation also wakes the sleepers of that word at once. A goroutine
// sleeping in FUTEX_WAIT occupies an OS thread, so at most 64 goroutines
// of a process do at once; any others wait by polling (every 5 ms at most)
// in the Go scheduler, which bounds the threads that many waiting
// goroutines create.
//
// Processes of several pid namespaces may share a Mutex (containers that
// share /dev/shm or a memfd, for example), but a pid is meaningful only in
// its own namespace: pid 1 of a container is not pid 1 of the host. So an
// owner records its namespace (the inode of /proc/self/ns/pid, read once
// per process; all namespaces of one kernel are on one nsfs device), and a
// waiter judges only owners of its own namespace. One of another namespace
// is presumed alive however long it holds the lock, and if it dies holding
// it only a waiter of its namespace (in the same container) can take the
// lock over; waiters elsewhere return their context's error.
//
// The kernel cannot help: these are userspace owner records, not the kernel's robust
// futex list (FUTEX_OWNER_DIED applies to thread-id futex words registered
// with set_robust_list), so nothing in the kernel releases them when a
// process dies; sharing locks with processes that no waiter can judge
// trades robustness for safety.
//
// A process whose /proc is of another
// (ancestor) pid namespace, as after nsenter --pid without --mount, cannot
// read the start times of its namespace's processes there: it judges
// owners by kill(pid, 0) alone, as on systems without start times (its own
// start token it reads from /proc/self). A process that cannot read
// /proc/self/ns/pid (no /proc) records no namespace and is judged by pid,
// as older versions of this package are (see "Memory layout"); they should
// not share locks with processes of other namespaces.
//
// Memory that outlives
// a reboot (a file on disk) should be zeroed before use, since start tokens
// and namespace numbers are only meaningful within one boot.
//
// # Other platforms
//
// On other systems, and on Linux when built with the procshare_nofutex tag
// (which CI uses to test it), the objects keep the same layout and
// semantics but waiters poll: they sleep from 50 µs, doubling up to 5 ms,
// and re-read the word. A polling waiter that has waited 1 ms sets bit 31
// to ask the next Unlock to hand the lock to the waiters instead of to
// whoever locks first, so a process that re-locks in a loop cannot starve
// the others. On darwin the owner's start time comes from sysctl
// kern.proc.pid, so pid reuse is detected as on Linux. Outside Linux owner
// records carry no pid namespace (bit 30 clear). On other Unix
// systems the start token is unknown and liveness is judged by pid alone:
// a dead owner whose pid is reused by a live process before a waiter
// checks keeps the lock until that process exits. On non-Unix systems
// dead owners are not detected. Futex and polling processes may share one
// object correctly, but a futex sleeper waits for its timeout rather than
// a wake-up when a polling process unlocks.
package ipcsync
