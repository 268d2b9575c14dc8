package manager

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/procshare/procshare/pickle"
)

// acquireCall is the blocking acquire of Lock, Semaphore, RLock and
// Condition: acquire() on procshare's server, acquire(True, chunk) on
// CPython's. undo runs when the lock was granted after the caller gave up.
func acquireCall(undo func(ctx context.Context, cc *clientConn, v pickle.Value)) *blockingCall {
	return &blockingCall{
		method: "acquire",
		args: func(timeout pickle.Value) (pickle.Tuple, *pickle.Dict) {
			if timeout == nil {
				return nil, nil
			}
			return pickle.Tuple{true, timeout}, nil
		},
		timedOut: isFalse,
		undo:     undo,
	}
}

// Lock is a proxy to a shared lock (typeid "Lock", Python's
// threading.Lock in the manager). Any process may unlock it, as in Python.
//
// A Lock is safe for concurrent use by multiple goroutines and the lock by
// any number of processes. Lock blocks until the lock is granted or ctx
// ends; a grant that arrives after ctx ended is released again, so a
// cancelled Lock never leaves the lock held. On procshare's server a grant
// is confirmed (ps_ack) before Lock returns: a process killed before that
// leaves the lock free, one killed after leaves it held, as in Python
// (unless the server releases on disconnect).
type Lock struct{ proxy }

// NewLock creates a shared lock.
func (c *Client) NewLock(ctx context.Context) (*Lock, error) {
	l := &Lock{}
	if err := c.createValues(ctx, &l.proxy, "Lock", nil, nil); err != nil {
		return nil, err
	}
	return l, nil
}

// AttachFiles connects a zero Lock, in a child process, to the lock a parent
// shared with ShareFiles.
func (l *Lock) AttachFiles(files []*os.File, meta []byte) error {
	return l.attach(files, meta, "Lock")
}

// Lock acquires the lock, waiting while another holder has it.
func (l *Lock) Lock(ctx context.Context) error { return l.proxy.acquire(ctx) }

// TryLock acquires the lock if it is free and reports whether it did.
func (l *Lock) TryLock(ctx context.Context) (bool, error) { return l.proxy.tryAcquire(ctx) }

// Unlock releases the lock (a RuntimeError RemoteError if it is not held).
func (l *Lock) Unlock(ctx context.Context) error { return noValue(l.call(ctx, "release")) }

// acquire is Lock.Lock and Semaphore.Acquire. It first tries without
// blocking on a shared connection (one pipelined round trip, the common
// uncontended case), then waits on a dedicated connection.
func (p *proxy) acquire(ctx context.Context) error {
	if ok, err := p.tryAcquire(ctx); ok || err != nil {
		return err
	}
	b := acquireCall(func(ctx context.Context, _ *clientConn, _ pickle.Value) {
		p.call(ctx, "release")
	})
	b.granted = grantedTrue // outlives the connection, unlike an RLock's
	return noValue(p.block(ctx, nil, b))
}

func (p *proxy) tryAcquire(ctx context.Context) (bool, error) {
	return boolOf(p.callGrant(ctx, grantedTrue, "acquire", false))
}

// Semaphore is a proxy to a shared counting semaphore (typeids "Semaphore"
// and "BoundedSemaphore", Python's threading semaphores in the manager).
// Goroutine- and process-safe; Acquire blocks like Lock.Lock, with the same
// exact cancellation.
type Semaphore struct{ proxy }

// NewSemaphore creates a shared semaphore with value n.
func (c *Client) NewSemaphore(ctx context.Context, n int) (*Semaphore, error) {
	return c.newSemaphore(ctx, "Semaphore", n)
}

// NewBoundedSemaphore creates a shared semaphore with value n that may not
// be released above n (a ValueError RemoteError).
func (c *Client) NewBoundedSemaphore(ctx context.Context, n int) (*Semaphore, error) {
	return c.newSemaphore(ctx, "BoundedSemaphore", n)
}

func (c *Client) newSemaphore(ctx context.Context, typeid string, n int) (*Semaphore, error) {
	s := &Semaphore{}
	if err := c.createValues(ctx, &s.proxy, typeid, pickle.Tuple{int64(n)}, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// AttachFiles connects a zero Semaphore, in a child process, to the
// semaphore a parent shared with ShareFiles.
func (s *Semaphore) AttachFiles(files []*os.File, meta []byte) error {
	return s.attach(files, meta, "Semaphore", "BoundedSemaphore")
}

// Acquire decrements the semaphore, waiting while it is zero.
func (s *Semaphore) Acquire(ctx context.Context) error { return s.proxy.acquire(ctx) }

// TryAcquire decrements the semaphore if it is positive and reports whether
// it did.
func (s *Semaphore) TryAcquire(ctx context.Context) (bool, error) { return s.proxy.tryAcquire(ctx) }

// Release increments the semaphore.
func (s *Semaphore) Release(ctx context.Context) error { return noValue(s.call(ctx, "release")) }

// ownerLock is the client side of a lock owned by a connection (RLock, and
// the lock of a Condition): the server records the owner per connection,
// so a handle that holds the lock keeps ("pins") the connection it acquired
// it on, and makes every later call on that connection until it releases.
// Its exported methods are RLock's and Condition's.
type ownerLock struct {
	proxy
	mu    sync.Mutex
	cc    *clientConn // pinned while depth > 0
	depth int         // acquisitions through this handle not yet released
}

// onOwner makes a non-blocking call on the pinned connection. o.mu is held.
func (o *ownerLock) onOwner(ctx context.Context, method string, args ...pickle.Value) (pickle.Value, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, err := o.cc.exchange(context.WithoutCancel(ctx), o.ident, method, args, nil)
	if o.cc.broken {
		// The connection is gone, and the ownership with it.
		o.cc.close()
		o.cc, o.depth = nil, 0
	}
	if err != nil {
		return nil, o.wrap(method, err)
	}
	return v, nil
}

// Lock acquires the lock for this handle, waiting while another owner holds
// it. A grant that arrives after ctx ended is released again.
func (o *ownerLock) Lock(ctx context.Context) error {
	if err := o.usable(); err != nil {
		return err
	}
	o.mu.Lock()
	if o.depth > 0 {
		defer o.mu.Unlock()
		_, err := o.onOwner(ctx, "acquire") // re-entrant: granted at once
		if err == nil {
			o.depth++
		}
		return err
	}
	o.mu.Unlock()
	cc, err := o.c.getConn(ctx)
	if err != nil {
		return err
	}
	_, err = o.block(ctx, cc, acquireCall(func(ctx context.Context, cc *clientConn, _ pickle.Value) {
		cc.exchange(ctx, o.ident, "release", nil, nil)
	}))
	if err != nil {
		o.c.putConn(cc)
		return err
	}
	o.mu.Lock()
	o.cc, o.depth = cc, 1
	o.mu.Unlock()
	return nil
}

// TryLock acquires the lock if it is free or held by this handle, and
// reports whether it did.
func (o *ownerLock) TryLock(ctx context.Context) (bool, error) {
	if err := o.usable(); err != nil {
		return false, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.depth > 0 {
		ok, err := boolOf(o.onOwner(ctx, "acquire", false))
		if ok {
			o.depth++
		}
		return ok, err
	}
	cc, err := o.c.getConn(ctx)
	if err != nil {
		return false, err
	}
	ok, err := boolOf(cc.exchange(context.WithoutCancel(ctx), o.ident, "acquire", pickle.Tuple{false}, nil))
	if !ok || err != nil {
		o.c.putConn(cc)
		if err != nil {
			return false, o.wrap("acquire", err)
		}
		return false, nil
	}
	o.cc, o.depth = cc, 1
	return true, nil
}

// Unlock releases one acquisition made through this handle (a RuntimeError
// RemoteError if this handle does not hold the lock).
func (o *ownerLock) Unlock(ctx context.Context) error {
	if err := o.usable(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.depth == 0 {
		// Not held through this handle: the server reports the error
		// ("cannot release un-acquired lock").
		return noValue(o.call(ctx, "release"))
	}
	if _, err := o.onOwner(ctx, "release"); err != nil {
		return err
	}
	if o.depth--; o.depth == 0 {
		o.c.putConn(o.cc)
		o.cc = nil
	}
	return nil
}

// Close drops the lock if this handle holds it (by closing the pinned
// connection: the server releases what a vanished owner held), then gives
// the reference back.
func (o *ownerLock) Close() error {
	o.mu.Lock()
	if o.cc != nil {
		o.cc.close()
		o.cc, o.depth = nil, 0
	}
	o.mu.Unlock()
	return o.proxy.Close()
}

// RLock is a proxy to a shared re-entrant lock (typeid "RLock", Python's
// threading.RLock in the manager).
//
// The owner of an RLock is the handle (the *RLock value): Lock through a
// handle that holds it succeeds at once and counts, and only the holding
// handle may Unlock. A handle is safe for concurrent use, but the goroutines
// using it share its ownership (as the code of one Python thread does): give
// each goroutine that needs to be an owner of its own a handle of its own
// (Attach with the same token). Lock blocks like Lock.Lock, with exact
// cancellation.
type RLock struct{ ownerLock }

// NewRLock creates a shared re-entrant lock.
func (c *Client) NewRLock(ctx context.Context) (*RLock, error) {
	l := &RLock{}
	if err := c.createValues(ctx, &l.proxy, "RLock", nil, nil); err != nil {
		return nil, err
	}
	return l, nil
}

// AttachFiles connects a zero RLock, in a child process, to the lock a
// parent shared with ShareFiles (the child's handle is a new owner).
func (l *RLock) AttachFiles(files []*os.File, meta []byte) error {
	return l.attach(files, meta, "RLock")
}

// Condition is a proxy to a shared condition variable (typeid "Condition",
// Python's threading.Condition in the manager, whose lock is an RLock).
//
// As with RLock, the owner of the lock is the handle; Wait and Notify must
// be called through the handle that holds the lock. While one goroutine
// waits, other goroutines using the same handle wait for it: give each
// goroutine its own handle. Wait releases the lock, waits for a Notify, and
// re-acquires the lock before returning — also when ctx ends, in which case
// it returns ctx's error with the lock held.
type Condition struct{ ownerLock }

// NewCondition creates a shared condition variable.
func (c *Client) NewCondition(ctx context.Context) (*Condition, error) {
	cv := &Condition{}
	if err := c.createValues(ctx, &cv.proxy, "Condition", nil, nil); err != nil {
		return nil, err
	}
	return cv, nil
}

// AttachFiles connects a zero Condition, in a child process, to the
// condition a parent shared with ShareFiles.
func (cv *Condition) AttachFiles(files []*os.File, meta []byte) error {
	return cv.attach(files, meta, "Condition")
}

// Wait waits for Notify (the lock must be held through this handle).
func (cv *Condition) Wait(ctx context.Context) error {
	if err := cv.usable(); err != nil {
		return err
	}
	cv.mu.Lock()
	defer cv.mu.Unlock()
	if cv.depth == 0 {
		return noValue(cv.call(ctx, "wait", 0.0)) // the server's RuntimeError
	}
	_, err := cv.block(ctx, cv.cc, &blockingCall{
		method: "wait",
		args: func(timeout pickle.Value) (pickle.Tuple, *pickle.Dict) {
			return pickle.Tuple{timeout}, nil
		},
		timedOut: isFalse,
	})
	if cv.cc.broken {
		cv.cc.close()
		cv.cc, cv.depth = nil, 0
	}
	return err
}

// Notify wakes up to n waiters (the lock must be held through this handle).
func (cv *Condition) Notify(ctx context.Context, n int) error {
	return cv.notify(ctx, "notify", int64(n))
}

// NotifyAll wakes every waiter (the lock must be held through this handle).
func (cv *Condition) NotifyAll(ctx context.Context) error { return cv.notify(ctx, "notify_all") }

func (cv *Condition) notify(ctx context.Context, method string, args ...pickle.Value) error {
	if err := cv.usable(); err != nil {
		return err
	}
	cv.mu.Lock()
	defer cv.mu.Unlock()
	if cv.depth == 0 {
		return noValue(cv.call(ctx, method, args...))
	}
	return noValue(cv.onOwner(ctx, method, args...))
}

// Event is a proxy to a shared event flag (typeid "Event", Python's
// threading.Event in the manager). Goroutine- and process-safe; Wait blocks
// until the flag is set or ctx ends.
type Event struct{ proxy }

// NewEvent creates a shared event, initially clear.
func (c *Client) NewEvent(ctx context.Context) (*Event, error) {
	e := &Event{}
	if err := c.createValues(ctx, &e.proxy, "Event", nil, nil); err != nil {
		return nil, err
	}
	return e, nil
}

// AttachFiles connects a zero Event, in a child process, to the event a
// parent shared with ShareFiles.
func (e *Event) AttachFiles(files []*os.File, meta []byte) error {
	return e.attach(files, meta, "Event")
}

// Set sets the flag, waking every waiter.
func (e *Event) Set(ctx context.Context) error { return noValue(e.call(ctx, "set")) }

// Clear clears the flag.
func (e *Event) Clear(ctx context.Context) error { return noValue(e.call(ctx, "clear")) }

// IsSet reports the flag.
func (e *Event) IsSet(ctx context.Context) (bool, error) { return boolOf(e.call(ctx, "is_set")) }

// Wait waits until the flag is set.
func (e *Event) Wait(ctx context.Context) error {
	return noValue(e.block(ctx, nil, &blockingCall{
		method: "wait",
		args: func(timeout pickle.Value) (pickle.Tuple, *pickle.Dict) {
			return pickle.Tuple{timeout}, nil
		},
		timedOut: isFalse,
	}))
}

// Barrier is a proxy to a shared barrier (typeid "Barrier", Python's
// threading.Barrier in the manager). Goroutine- and process-safe.
type Barrier struct{ proxy }

// NewBarrier creates a shared barrier for parties participants.
func (c *Client) NewBarrier(ctx context.Context, parties int) (*Barrier, error) {
	b := &Barrier{}
	if err := c.createValues(ctx, &b.proxy, "Barrier", pickle.Tuple{int64(parties)}, nil); err != nil {
		return nil, err
	}
	return b, nil
}

// AttachFiles connects a zero Barrier, in a child process, to the barrier a
// parent shared with ShareFiles.
func (b *Barrier) AttachFiles(files []*os.File, meta []byte) error {
	return b.attach(files, meta, "Barrier")
}

// Wait waits until all parties have called Wait, and returns this caller's
// arrival index (0 … parties-1). A broken barrier gives an error matching
// ErrBrokenBarrier.
//
// Python breaks a barrier whose waiter times out, so cancelling a Wait
// cannot leave the others untouched. On procshare's server the call is
// interrupted; on CPython's, ctx's deadline is passed as Python's timeout
// and a cancellation aborts the barrier (Abort).
func (b *Barrier) Wait(ctx context.Context) (int, error) {
	return intOf(b.block(ctx, nil, &blockingCall{
		method: "wait",
		args: func(timeout pickle.Value) (pickle.Tuple, *pickle.Dict) {
			return pickle.Tuple{timeout}, nil
		},
		noChunk:   true,
		timeoutOK: true,
		abandon: func(*clientConn) {
			actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			b.call(actx, "abort")
		},
	}))
}

// Abort breaks the barrier: current and future waiters fail with
// ErrBrokenBarrier until Reset.
func (b *Barrier) Abort(ctx context.Context) error { return noValue(b.call(ctx, "abort")) }

// Reset returns the barrier to its initial state (waiters fail with
// ErrBrokenBarrier).
func (b *Barrier) Reset(ctx context.Context) error { return noValue(b.call(ctx, "reset")) }

// Parties returns the number of parties.
func (b *Barrier) Parties(ctx context.Context) (int, error) { return intOf(b.attr(ctx, "parties")) }

// NWaiting returns the number of parties waiting now.
func (b *Barrier) NWaiting(ctx context.Context) (int, error) {
	return intOf(b.attr(ctx, "n_waiting"))
}

// Broken reports whether the barrier is broken.
func (b *Barrier) Broken(ctx context.Context) (bool, error) { return boolOf(b.attr(ctx, "broken")) }

func (b *Barrier) attr(ctx context.Context, name string) (pickle.Value, error) {
	return b.call(ctx, "__getattribute__", name)
}
