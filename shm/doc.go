// Package shm shares memory between processes: segments (anonymous, or
// named so that Python's multiprocessing.shared_memory opens them too),
// typed values and arrays with atomic operations and a process-shared
// lock, and Python-compatible ShareableLists.
//
// # Segments
//
// [New] makes an anonymous segment (a memfd on Linux) that reaches child
// processes as an inherited descriptor; [Create] and [Open] make and open
// named segments, /dev/shm/NAME on Linux, the same object as Python's
// SharedMemory(name=NAME). Named segments outlive their creator until
// [Segment.Unlink] or "procshare shm rm NAME".
//
// # ShareableList
//
// [ShareableList] reads and writes the byte format of CPython's
// multiprocessing.shared_memory.ShareableList, both the 3.8 layout and the
// 3.9–3.13 one (see [ListLayout]).
//
// # Passing to children
//
// Segments and the objects in them implement the procshare sharing
// contract, ShareFiles in the parent and AttachFiles in the child, so
// procshare.Process passes them to child processes as inherited file
// descriptors.
package shm
