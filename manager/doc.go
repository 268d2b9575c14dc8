// Package manager shares Python-style objects between processes through a
// manager server that speaks CPython's own multiprocessing.managers
// protocol: an unmodified CPython 3.8–3.13 client (SyncManager.connect(),
// a BaseManager subclass, every stock proxy) works against the [Server] of
// this package, and the Go client of this package works against a CPython
// manager. Go and Python processes can thus share one dict, one queue, one
// lock.
//
// PROTOCOL.md at the root of the repository describes the wire protocol in
// full: framing, the two handshake forms, messages, connection kinds,
// server methods, every typeid with its exposed methods, exceptions,
// nested proxies, reference counts, and procshare's extensions.
//
// # Server
//
// [NewServer] builds a server from a [ServerConfig] (the authkey is
// required: there is no default key) and [Server.Serve] runs it on a
// listener ([Listen] creates TCP listeners and Unix sockets with mode
// 0600). Every connection is served by its own goroutine: a call that
// blocks (Queue.get, Lock.acquire, Event.wait, Condition.wait,
// Barrier.wait, JoinableQueue.join) blocks only its own connection and is
// woken by calls arriving on others. Objects are guarded by their own
// mutexes, so calls on different objects never contend.
//
// The server holds the objects (the object table), counts client
// references like CPython (create, incref, decref; an object is freed when
// its count reaches zero), and serves every typeid of CPython's
// SyncManager: Queue, JoinableQueue, Event, Lock, RLock, Semaphore,
// BoundedSemaphore, Condition, Barrier, list, dict, Value, Array, Namespace
// and the Iterator that dict.__iter__ returns; Pool and AsyncResult are
// refused, since they run Python callables. PROTOCOL.md §8 is the table of
// typeids with their constructors and exposed methods, §9 their behaviour.
//
// Ownership that Python keys by thread (RLock, a Condition's lock) is
// keyed by connection, since a CPython client uses one connection per
// thread.
//
// Each connection is served by a goroutine. After 16 requests an object
// connection moves out of Go's netpoller onto a blocking read on an OS
// thread of its own, as CPython's server serves every connection: for a
// request/reply client this saves the netpoller's wake-ups (an EAGAIN read,
// epoll_pwait, handing the goroutine between threads) on every call. After
// 10 seconds without a request it goes back to the netpoller.
// ServerConfig.DedicatedThreads bounds how many connections have a thread
// at once (128 by default); the others stay in the netpoller.
//
// # Client
//
// Dial connects to any manager, procshare's or CPython's, over TCP or a Unix
// socket; Start is Python's Manager(): it starts a Server in this process on
// a private 0600 Unix socket with a random authkey and returns a Client of
// it. The Client's constructors (NewDict, NewQueue, NewLock …, and the
// generic NewValue, NewArray, Named, Attach) create shared objects and return
// proxies, one type per typeid:
//
//	typeid                      proxy                  with Go types
//	dict                        *Dict                  *DictOf[K, V]  (NewDictOf)
//	list                        *List                  *ListOf[T]     (NewListOf)
//	Queue                       *Queue                 *QueueOf[T]    (NewQueueOf)
//	JoinableQueue               *JoinableQueue
//	Value                       *Value[T]              itself
//	Array                       *Array[T]              itself (T a Number)
//	Namespace                   *Namespace
//	Lock                        *Lock                  Do(ctx, f): lock, f, unlock
//	RLock, Condition            *RLock, *Condition     Do
//	Semaphore, BoundedSemaphore *Semaphore             Do
//	Event                       *Event
//	Barrier                     *Barrier
//	any other (a named object)  *Proxy                 Call
//
// The results of Dict, List and Queue are Python values (pickle.Value),
// which As converts to Go types through pickle.FromValue: they suit mixed
// data. DictOf, ListOf and QueueOf embed the proxy and convert both ways
// with pickle.ToValue and pickle.FromValue, and range over func iterators
// (DictOf.All, Keys, Values; ListOf.All, Values: snapshots taken in one
// round trip; QueueOf.All: a consumer's loop of Gets). Named and Attach
// make either kind: Named[manager.DictOf[string, int]](ctx, c, "stats").
// A value that does not convert is a *ConvertError naming where it is (the
// key, the index) and both types, never a panic.
//
// A Client is safe for concurrent use by any number of goroutines. CPython's
// protocol allows one request at a time per connection, so the Client keeps
// two kinds: non-blocking calls from many goroutines are pipelined on a few
// shared connections (requests written back to back, replies matched in
// order; a call made while others are in flight waits for the next batch, so
// many goroutines share each write and read), and every call that may block
// (Queue.Get, Lock.Lock, Event.Wait, Barrier.Wait …) takes a connection of
// its own for its duration: an idle one from the pool, else a pipelined one
// with nothing in flight, else a new one. State that the server keys by
// connection (an RLock's or a Condition's ownership) keeps its connection for
// as long as it is held.
//
// Every blocking call takes a context. Cancelling it never leaves the server
// in a state the caller did not ask for: against procshare's server the call
// is interrupted (ps_interrupt) and its reply always read, and a lock granted
// or an item received after the caller gave up is released or put back at the
// front of the queue (ps_giveback); against CPython's server a blocking call is
// made in chunks of Config.PollInterval and a late success is undone the same
// way (an item goes back at the end of the queue). Remote exceptions are
// *RemoteError values that match sentinels such as ErrEmpty, ErrFull,
// ErrKeyNotFound and ErrBrokenBarrier with errors.Is; their message names
// the object's typeid and the Python method ("manager: dict.__getitem__:
// KeyError: 'plums'"). A call on an object the manager has freed (its last
// reference given back, e.g. by a parent that closed its proxy before its
// child was done) is a *FreedError matching ErrFreed.
//
// Proxies passed as arguments to a child process (package procshare)
// reconnect there and borrow the parent's reference, as CPython's Process
// arguments do: the parent keeps its proxy open until it has joined the
// child. Every proxy type crosses, however it was obtained: made by a New
// method, got with Named (an --expose name, or a name a CPython
// BaseManager registers), with Attach, or returned by a method.
//
// # Differences from CPython's server
//
// They are improvements no CPython client can observe, except where noted:
//
//   - A connection that dies while a call blocks is noticed (the server
//     watches the socket while a call waits): the call is cancelled, so an
//     item it would have received stays in the queue. A reply that cannot
//     be written is compensated: items a get took go back to the front of
//     the queue, lock acquisitions are released. But a reply written just
//     as the client is killed (the socket of a killed process stays open
//     for a moment, and the kernel accepts the reply) is lost for a stock
//     client, with what it granted: the item is gone, a Lock or Semaphore
//     stays acquired unless ReleaseOnDisconnect is set. Connections that
//     confirm their grants (the Go client of this package on this server,
//     see Extensions) lose nothing: a grant not yet confirmed is given
//     back when the connection ends.
//   - RLock and Condition ownership of a dead connection is released.
//     Lock and Semaphore acquisitions are released too when
//     ServerConfig.ReleaseOnDisconnect is set (CPython never does).
//   - Proxies nested in stored values keep their objects alive only while
//     referenced (CPython keeps them forever); an object taken out of a
//     container lingers for a while so the client receiving it can incref.
//     A proxy to an object of another manager, stored here, holds a
//     reference on that manager, as in CPython (taken before the reply,
//     given back when the last stored copy goes, after the same linger),
//     but only on the managers ServerConfig.Foreign allows, with a key
//     that is not the server's own; by default the server dials no one.
//     If that manager cannot be reached the value is stored all the same.
//     See PROTOCOL.md §11.1.
//   - Callables cannot run: Pool, Barrier(action=...) and list.sort(key=...)
//     are refused with a clear error. Condition(lock) accepts only a proxy
//     of a Lock or RLock of the same server.
//   - Client references are never released on disconnect, as in CPython.
//   - Connections are bounded (ServerConfig.MaxConnections, by default from
//     the descriptor limit, and MaxPeerConnections per peer); a client
//     over a limit is refused with a "#REFUSED#" frame in place of the
//     challenge, which CPython reports as AuthenticationError (3.12+) or
//     AssertionError naming the limit. ServerConfig.IdleTimeout (off by
//     default) closes connections idle that long. See PROTOCOL.md §3.1.
//   - A request over ServerConfig.MaxFrame (64 MiB by default) is skipped
//     and answered with a ValueError naming the limit; CPython's server
//     has no limit.
//   - The server has a memory budget (ServerConfig.MaxMemory, 1 GiB by
//     default) for what its objects store and what calls hold until their
//     replies are written: a call that would pass it (l.extend(range(2**24)),
//     l * 10**8, a huge repr, one slow reader too many of a large item)
//     raises MemoryError before allocating and changes nothing, where
//     CPython's server would allocate until the machine runs out. See
//     PROTOCOL.md §7.1.
//
// # Extensions
//
// Atomic read-modify-write methods are added to the exposed lists (a
// Python AutoProxy simply gains methods; any proxy can call them with
// _callmethod): Value.ps_add and ps_cas, dict.ps_incr and
// ps_setdefault_add, list.ps_pop_many, Queue.ps_put_many, ps_get_many and
// ps_unget. accept_connection(name, ps=True) returns the connection's id,
// which the server method ps_interrupt(conn_id, seq=0) uses to interrupt a
// blocking call; ps_info() lists the objects (procshare inspect). With
// accept_connection(name, ps=True, confirm=True) the server keeps what a
// reply granted (queue items taken, Lock and Semaphore acquisitions) until
// the client confirms it with ps_ack(seq), a request without a reply, and
// gives it back if the connection ends first. See PROTOCOL.md for
// arguments, results and errors.
//
// # What a killed client loses
//
// The Go client confirms every grant before it hands it to its caller, so
// against this server a Go process killed at any moment loses nothing: an
// item it had not received goes back to the front of the queue, one its
// caller received stays taken; a Lock or Semaphore it had not received is
// released, one it received stays acquired (as in CPython, unless
// ReleaseOnDisconnect). An item comes twice only if the process dies
// between reading the reply and writing its confirmation. Against
// CPython's manager, and for CPython clients of this server, a kill can
// lose the item or leave the lock acquired (PROTOCOL.md §12).
//
// # Values: Python and Go
//
// Values travel as pickles and are held by the server in the value model of
// package pickle, so a Python client can store anything it can pickle:
//
//	Python                   Go (pickle.Value)
//	None                     nil
//	bool                     bool
//	int                      int64, or *big.Int beyond 64 bits
//	float                    float64
//	complex                  complex128
//	str                      string
//	bytes / bytearray        []byte / *pickle.ByteArray
//	tuple                    pickle.Tuple
//	list                     *pickle.List
//	dict                     *pickle.Dict
//	set / frozenset          *pickle.Set / *pickle.FrozenSet
//	slice, range             pickle.Slice, pickle.Range
//	a proxy (RebuildProxy)   *pickle.Object, re-emitted unchanged
//	any other object         *pickle.Object, kept opaque and re-emitted unchanged
//
// Operations follow Python: dict keys use Python equality (1, 1.0 and True
// are one key), list.sort uses Python's ordering, str() and repr() print
// like CPython.
//
// # Concurrency and processes
//
// A Server is safe for concurrent use by any number of goroutines and
// serves any number of client processes; its objects are process-shared by
// construction (they live in the server). Close stops it and waits for its
// goroutines. The server never executes code sent by clients: pickled
// globals are data.
package manager
