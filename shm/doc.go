// Package shm shares memory between processes: segments (anonymous, or
// named so that Python's multiprocessing.shared_memory opens them too),
// typed numbers and arrays with atomic operations and a robust
// process-shared lock, and Python-compatible ShareableLists.
//
// # Segments
//
// [New] makes an anonymous segment (a memfd on Linux) that reaches child
// processes as an inherited descriptor. [Create] and [Open] make and open
// named segments: /dev/shm/NAME on Linux, the very object that Python's
// SharedMemory(name=NAME) maps, so Go and Python processes share bytes by
// name. A named segment outlives its creator until [Segment.Unlink],
// [Remove] or "procshare shm rm NAME"; Create records the creator's pid and
// start time in a metadata file (Dir()/.procshare-NAME.meta) so that
// "procshare shm ls" tells leaked segments from live ones ([List]).
//
// /dev/shm is writable by every local user, so any of them can plant files
// there. [List] trusts a metadata file only when it is a regular file (no
// symbolic link, FIFO or device; opened with O_NOFOLLOW|O_NONBLOCK and
// checked with fstat), at most 64 KiB long, and owned by the segment's
// owner; any other is reported in [Info].Err as a *[MetaError] (matching
// [ErrBadMeta]), with no creator pid, so it can neither block the listing
// nor pass another user's live segment off as leaked. [Info].UID is the
// segment's owner. [Open] refuses a name that is not a regular file, and
// [Create] replaces a metadata file planted under its name rather than
// write through it.
//
// Names follow shm_open and Python: non-empty, no '/', at most
// [MaxNameLen] bytes for Create (255 for Open); a bad name gives a
// *[NameError] matching [ErrBadName]. Opening a missing name gives an
// error matching fs.ErrNotExist.
//
// # Values and arrays
//
// [Value], [Array], [Bool] and [BoolArray] are Python's
// multiprocessing.Value and Array (typecodes b B h H i I l L q Q f d ?,
// see [Number]) with Go's atomics: Load, Store, Swap and CompareAndSwap on
// every type, Add on numbers (8- and 16-bit elements use compare-and-swap
// on their aligned 32-bit word; floats use compare-and-swap loops on their
// bits). Each object also carries a robust process-shared lock
// ([ipcsync.Mutex]): Lock, TryLock, Unlock and Do serve compound updates
// with LoadRaw and StoreRaw, and a process that dies holding the lock
// hands it to the next locker with [ErrOwnerDead].
//
// Each object lives either in an anonymous segment of its own ([NewValue],
// [NewArray], [NewArrayFrom], [NewBool], [NewBoolArray]) or at an offset
// in a caller's segment ([ValueAt], [ArrayAt], [BoolAt], [BoolArrayAt]),
// which is how several objects share one named segment. The typecode lives
// in the object's header, so a child, or another program mapping the
// segment, knows what it holds: attaching with a mismatched type, to a
// segment too small, or to bytes that are not an object header returns an
// error ([ErrBadHeader], [ErrTooSmall]), never a panic.
//
// # Layout
//
// A Value or Array at offset OFF of a segment (OFF a multiple of 8)
// occupies 128 header bytes and its data; integers are in the machine's
// native byte order (little-endian on amd64 and arm64):
//
//	offset  size  field
//	0       4     magic "PSHM" (0x50 0x53 0x48 0x4d)
//	4       1     layout version: 1 (0 while the creator is still writing the header)
//	5       1     typecode, ASCII: one of b B h H i I l L q Q f d ?
//	6       1     element size in bytes: 1, 2, 4 or 8
//	7       1     kind: 'V' (0x56) for a Value or Bool, 'A' (0x41) for an Array or BoolArray
//	8       8     length: number of elements, uint64 (1 for a Value)
//	16      48    reserved, zero
//	64      64    lock: an ipcsync.Mutex in the first 16 bytes (see package ipcsync), rest zero
//	128     L     data: length × element size bytes, element i at 128 + i×size
//
// The data are padded with zeros to a multiple of 8 bytes, so an object
// takes [ValueSize] (136) bytes for a Value and [ArraySize](n) for an
// array. Every element is naturally aligned and an 8- or 16-bit element's
// containing 32-bit word lies inside the data. bool elements are one byte,
// 0 false, anything else true. All-zero header bytes mean "no object yet":
// ValueAt and ArrayAt initialise such a header with a compare-and-swap of
// its first 8 bytes (version 0), write the length and the zero lock, then
// publish version 1; concurrent attachers wait for version 1.
//
// # Synchronisation objects
//
// [NewLock], [NewSemaphore], [NewBoundedSemaphore], [NewEvent],
// [NewCondition] and [NewBarrier] are Python's multiprocessing.Lock(),
// Semaphore(n), BoundedSemaphore(n), Event(), Condition(lock) and
// Barrier(n): each an ipcsync primitive (whose methods it has) in an
// anonymous segment of its own, passed to child processes like any other
// object here. [WithLock] is Python's lock= argument: several Values and
// Arrays made with WithLock(l) use l for Lock, TryLock, Unlock, Do and
// Mutex, so that an update spanning them is atomic, and a child that
// receives one of them receives l with it.
//
//	lock, _ := shm.NewLock()
//	sum, _ := shm.NewValue[int64](0, shm.WithLock(lock))
//	hist, _ := shm.NewArray[int64](10, shm.WithLock(lock))
//	done, _ := shm.NewEvent()
//	p, _ := procshare.Start(worker, sum, hist, done)
//
// Their segment holds a header like a Value's — magic "PSHM", version 1,
// typecode 0, element size 0, kind 'L' (Lock), 'S' (Semaphore), 'E'
// (Event), 'C' (Condition) or 'B' (Barrier), length 0 — and the primitive
// at offset 64, in the layout of package ipcsync; a Condition's lock is a
// Lock in a segment of its own.
//
// # ShareableList
//
// [ShareableList] reads and writes the byte format of CPython's
// multiprocessing.shared_memory.ShareableList in a named segment, in both
// the 3.8 layout and the 3.9–3.13 one (see [ListLayout]; they differ, and
// Go detects which one a segment holds). Items are int (int64), float
// (float64), bool, str (string), bytes ([]byte) and None (nil). Like
// Python's, it has no lock. Its format, all integers native-endian int64
// (struct 'q'), for N items:
//
//	0                count N
//	8                3.9–3.13: N+1 offsets of the items' slots from the data
//	                 start (the first 0, the last the data's size);
//	                 3.8: N allocated slot sizes
//	D = (N+2)×8      data (3.8: D = (N+1)×8): each slot a multiple of 8 bytes;
//	                 int 'q', float 'd', bool 'xxxxxxx?' (byte 7), None
//	                 'xxxxxx?x' (all zero), str/bytes 'Ks' (K = slot size,
//	                 padded with NULs, which are stripped on read)
//	D + data size    N packing formats, 8 bytes each, NUL-padded ASCII
//	then             N back-transform codes, 1 byte each: 0 value as unpacked,
//	                 1 str (UTF-8), 2 bytes, 3 None
//
// The segment is exactly that long. Python sizes a str slot by its length
// in characters (8×(len/8+1)); Go by its UTF-8 length, so a non-ASCII
// string that Python would silently truncate fits.
//
// # Passing to children
//
// Segments, every object in them and the synchronisation objects implement
// the procshare sharing contract: ShareFiles in the parent returns a duplicate of the segment's
// descriptor and JSON metadata (name, size, offset, kind, length);
// AttachFiles, on a zero value in the child, maps the descriptor and
// validates the header against the child's own type. procshare.Process
// calls both, so a *Value[int64] argument in the parent arrives as a
// *Value[int64] on the same memory in the child.
//
// # Platform notes
//
// Linux: anonymous segments are memfds (MFD_CLOEXEC), named segments are
// files in /dev/shm opened with O_NOFOLLOW|O_CLOEXEC and mode 0600, sized
// with ftruncate to exactly the size requested (so Python's
// SharedMemory.size matches). Locks sleep on shared futexes. Processes of
// different pid namespaces (containers sharing /dev/shm) may share
// objects, but a lock held by a process of another namespace is never
// taken over by a waiter outside that namespace, even if its holder died
// (see "Linux notes" in package ipcsync).
//
// Other Unix systems (darwin): anonymous segments are unlinked temporary
// files; named segments are files in os.TempDir()/procshare-shm ([Dir]).
// POSIX shm_open objects need libc there, so those named segments are
// shared among procshare programs but are not Python-interoperable.
package shm
