// Package ipcsync provides process-shared synchronisation — a robust
// [Mutex], a counting [Semaphore] and an [Event] — on words in memory that
// several processes map (a shm segment, a memfd, a MAP_SHARED file).
//
// Each object lives in a fixed number of bytes ([MutexSize], [SemaphoreSize],
// [EventSize]) at an 8-byte aligned address; all-zero memory is a ready,
// unlocked/empty object. Obtain one with [NewMutex], [NewSemaphore] or
// [NewEvent] on the memory, or embed the type in a struct that is laid over
// the memory. The objects point into the memory: it must stay mapped while
// they are used.
//
// (Full documentation of the memory layout and robustness follows in a
// later revision.)
package ipcsync
