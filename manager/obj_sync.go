package manager

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/procshare/procshare/pickle"
)

// This file holds the threading primitives: Lock, RLock, Semaphore,
// BoundedSemaphore, Condition and Event. Ownership that Python keys by
// thread is keyed by connection (one client thread = one connection).

func init() {
	acq := []string{"acquire", "release"}
	registerType(&srvType{name: "Lock", pyClass: "_thread.lock", exposed: acq, create: newObjLock})
	registerType(&srvType{name: "RLock", pyClass: "_thread.RLock", exposed: acq, create: newObjRLock})
	registerType(&srvType{name: "Semaphore", pyClass: "threading.Semaphore", exposed: acq,
		create: func(s *Server, _ *memScope, a pickle.Tuple, kw *pickle.Dict) (srvObj, error) {
			return newObjSemaphore(s, a, kw, false)
		}})
	registerType(&srvType{name: "BoundedSemaphore", pyClass: "threading.BoundedSemaphore", exposed: acq,
		create: func(s *Server, _ *memScope, a pickle.Tuple, kw *pickle.Dict) (srvObj, error) {
			return newObjSemaphore(s, a, kw, true)
		}})
	registerType(&srvType{name: "Condition", pyClass: "threading.Condition",
		exposed: []string{"acquire", "release", "wait", "notify", "notify_all"}, create: newObjCondition})
	registerType(&srvType{name: "Event", pyClass: "threading.Event",
		exposed: []string{"is_set", "set", "clear", "wait"}, create: newObjEvent})
}

var (
	lockAcquire = srvParams{fn: "lock.acquire", names: []string{"blocking", "timeout"}}
	semAcquire  = srvParams{fn: "Semaphore.acquire", names: []string{"blocking", "timeout"}}
	semRelease  = srvParams{fn: "Semaphore.release", names: []string{"n"}}
	semInit     = srvParams{fn: "Semaphore.__init__", names: []string{"value"}}
	waitParams  = srvParams{fn: "wait", names: []string{"timeout"}}
	notifyArgs  = srvParams{fn: "Condition.notify", names: []string{"n"}}
	condInit    = srvParams{fn: "Condition.__init__", names: []string{"lock"}}
)

// lockTimeout parses the (blocking, timeout) of _thread.lock.acquire:
// timeout -1 (or None) is forever.
func lockTimeout(args pickle.Tuple, kw *pickle.Dict) (block bool, deadline time.Time, err error) {
	a := []pickle.Value{true, int64(-1)}
	if err := lockAcquire.bind(args, kw, a); err != nil {
		return false, time.Time{}, err
	}
	block = pickle.Truth(a[0])
	if a[1] == nil {
		return block, time.Time{}, nil
	}
	to, ok := pyNumber(a[1])
	if !ok {
		return false, time.Time{}, typeErrorf("'%s' object cannot be interpreted as an integer", typeName(a[1]))
	}
	if !block && to != -1 {
		return false, time.Time{}, valueErrorf("can't specify a timeout for a non-blocking call")
	}
	if to < 0 && to != -1 {
		return false, time.Time{}, valueErrorf("timeout value must be a non-negative number")
	}
	if to == -1 {
		return block, time.Time{}, nil
	}
	if to == 0 {
		return false, time.Time{}, nil
	}
	return block, deadlineAfter(to), nil
}

// srvHolders records which sessions hold acquisitions of a Lock or
// Semaphore, for ServerConfig.ReleaseOnDisconnect. Guarded by the
// object's mutex.
type srvHolders struct {
	on       bool
	sessions []srvSession
}

func (h *srvHolders) add(c srvSession) {
	if h.on {
		h.sessions = append(h.sessions, c)
	}
}

// remove drops one acquisition: the releasing session's own if it has
// one, else the oldest (a Lock may be released by anyone).
func (h *srvHolders) remove(c srvSession) {
	if !h.on || len(h.sessions) == 0 {
		return
	}
	i := 0
	for j, x := range h.sessions {
		if x == c {
			i = j
			break
		}
	}
	h.sessions = slices.Delete(h.sessions, i, i+1)
}

// drop removes every acquisition of c and returns how many there were.
func (h *srvHolders) drop(c srvSession) int {
	n := len(h.sessions)
	h.sessions = slices.DeleteFunc(h.sessions, func(x srvSession) bool { return x == c })
	return n - len(h.sessions)
}

// objLock is threading.Lock.
type objLock struct {
	mu      sync.Mutex
	locked  bool
	grants  uint64 // acquisitions so far: names the current one
	q       srvWaitq
	holders srvHolders
}

func newObjLock(s *Server, _ *memScope, args pickle.Tuple, kw *pickle.Dict) (srvObj, error) {
	if err := noArgs("allocate_lock", args, kw); err != nil {
		return nil, err
	}
	return &objLock{holders: srvHolders{on: s.cfg.ReleaseOnDisconnect}}, nil
}

func (o *objLock) call(c *srvCall, m string, args pickle.Tuple, kw *pickle.Dict) (pickle.Value, error) {
	switch m {
	case "acquire":
		block, deadline, err := lockTimeout(args, kw)
		if err != nil {
			return nil, err
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		for o.locked {
			if !block || !beforeDeadline(deadline) {
				return false, nil
			}
			if c.wait(&o.mu, &o.q, deadline, true) == waitStopped {
				return nil, c.stoppedErr()
			}
		}
		o.locked = true
		o.grants++
		o.holders.add(c.session())
		if o.holders.on {
			c.trackSession(o)
		}
		// Any connection may release a Lock: the compensation releases
		// this grant only, not a later holder's.
		grant, sess := o.grants, c.session()
		c.onLost(func() {
			o.mu.Lock()
			if o.locked && o.grants == grant {
				o.releaseLocked(sess)
			}
			o.mu.Unlock()
		})
		return true, nil
	case "release":
		if err := noArgs("lock.release", args, kw); err != nil {
			return nil, err
		}
		return nil, o.release(c.session())
	}
	return nil, errNoMethod
}

func (o *objLock) release(sess srvSession) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.locked {
		return excf(excRuntimeError, "release unlocked lock")
	}
	o.releaseLocked(sess)
	return nil
}

// releaseLocked unlocks (mu held, the lock locked).
func (o *objLock) releaseLocked(sess srvSession) {
	o.locked = false
	o.holders.remove(sess)
	o.q.notify(1)
}

func (o *objLock) sessionEnded(sess srvSession, releaseAll bool) {
	if !releaseAll {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.holders.drop(sess) > 0 && o.locked {
		o.locked = false
		o.q.notify(1)
	}
}

func (o *objLock) repr() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lockRepr()
}

func (o *objLock) getvalue() (pickle.Value, error) {
	return nil, typeErrorf("cannot pickle '_thread.lock' object")
}

// rlockState is the state of a re-entrant lock owned by a session;
// guarded by the owning object's mutex.
type rlockState struct {
	owner srvSession
	count int
	q     srvWaitq
}

// acquire takes the lock for the call's session (mu held).
func (r *rlockState) acquire(c *srvCall, mu *sync.Mutex, block bool, deadline time.Time, interruptible bool) (bool, error) {
	sess := c.session()
	if r.owner == sess {
		r.count++
		return true, nil
	}
	for r.owner.id != "" {
		if !block || !beforeDeadline(deadline) {
			return false, nil
		}
		if c.wait(mu, &r.q, deadline, interruptible) == waitStopped {
			return false, c.stoppedErr()
		}
	}
	r.owner, r.count = sess, 1
	return true, nil
}

func (r *rlockState) release(sess srvSession) error {
	if r.owner != sess || r.count == 0 {
		return excf(excRuntimeError, "cannot release un-acquired lock")
	}
	r.count--
	if r.count == 0 {
		r.owner = srvSession{}
		r.q.notify(1)
	}
	return nil
}

func (r *rlockState) sessionEnded(sess srvSession) {
	if r.owner == sess {
		r.owner, r.count = srvSession{}, 0
		r.q.notify(1)
	}
}

func (r *rlockState) repr(addr any) string {
	if r.owner.id == "" {
		return fmt.Sprintf("<unlocked _thread.RLock object owner=0 count=0 at %p>", addr)
	}
	return fmt.Sprintf("<locked _thread.RLock object owner=%s count=%d at %p>", pickle.Repr(r.owner.name), r.count, addr)
}

// objRLock is threading.RLock.
type objRLock struct {
	mu sync.Mutex
	rlockState
}

func newObjRLock(s *Server, _ *memScope, args pickle.Tuple, kw *pickle.Dict) (srvObj, error) {
	if err := noArgs("RLock", args, kw); err != nil {
		return nil, err
	}
	return &objRLock{}, nil
}

func (o *objRLock) call(c *srvCall, m string, args pickle.Tuple, kw *pickle.Dict) (pickle.Value, error) {
	return rlockCall(c, m, args, kw, &o.mu, &o.rlockState, o)
}

// rlockCall runs acquire and release of a connection-owned re-entrant
// lock r guarded by mu, for the objects that have one (RLock, Condition);
// st is the object, told when an owning connection closes.
func rlockCall(c *srvCall, m string, args pickle.Tuple, kw *pickle.Dict, mu *sync.Mutex, r *rlockState, st srvSessionState) (pickle.Value, error) {
	switch m {
	case "acquire":
		block, deadline, err := lockTimeout(args, kw)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		ok, err := r.acquire(c, mu, block, deadline, true)
		if ok {
			c.trackSession(st)
			sess := c.session()
			c.onFail(func() {
				mu.Lock()
				r.release(sess)
				mu.Unlock()
			})
		}
		return ok, err
	case "release":
		if err := noArgs("release", args, kw); err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		return nil, r.release(c.session())
	}
	return nil, errNoMethod
}

func (o *objRLock) sessionEnded(sess srvSession, _ bool) {
	o.mu.Lock()
	o.rlockState.sessionEnded(sess)
	o.mu.Unlock()
}

func (o *objRLock) repr() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lockRepr()
}

func (o *objRLock) getvalue() (pickle.Value, error) {
	return nil, typeErrorf("cannot pickle '_thread.RLock' object")
}

// objSemaphore is threading.Semaphore or BoundedSemaphore.
type objSemaphore struct {
	mu      sync.Mutex
	value   int64
	initial int64
	bounded bool
	q       srvWaitq
	holders srvHolders
}

func newObjSemaphore(s *Server, args pickle.Tuple, kw *pickle.Dict, bounded bool) (srvObj, error) {
	a := []pickle.Value{int64(1)}
	if err := semInit.bind(args, kw, a); err != nil {
		return nil, err
	}
	v, err := pyIndex(a[0])
	if err != nil {
		return nil, err
	}
	if v < 0 {
		return nil, valueErrorf("semaphore initial value must be >= 0")
	}
	return &objSemaphore{value: v, initial: v, bounded: bounded, holders: srvHolders{on: s.cfg.ReleaseOnDisconnect}}, nil
}

func (o *objSemaphore) call(c *srvCall, m string, args pickle.Tuple, kw *pickle.Dict) (pickle.Value, error) {
	switch m {
	case "acquire":
		a := []pickle.Value{true, nil}
		if err := semAcquire.bind(args, kw, a); err != nil {
			return nil, err
		}
		block := pickle.Truth(a[0])
		if !block && a[1] != nil {
			return nil, valueErrorf("can't specify timeout for non-blocking acquire")
		}
		to, err := parseTimeout(a[1])
		if err != nil {
			return nil, err
		}
		var deadline time.Time
		if !to.none {
			deadline = deadlineAfter(to.seconds)
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		for o.value == 0 {
			if !block || !beforeDeadline(deadline) {
				return false, nil
			}
			if c.wait(&o.mu, &o.q, deadline, true) == waitStopped {
				return nil, c.stoppedErr()
			}
		}
		o.value--
		o.holders.add(c.session())
		if o.holders.on {
			c.trackSession(o)
		}
		sess := c.session()
		c.onLost(func() { o.release(sess, 1) })
		return true, nil
	case "release":
		a := []pickle.Value{int64(1)}
		if err := semRelease.bind(args, kw, a); err != nil {
			return nil, err
		}
		n, err := pyIndex(a[0])
		if err != nil {
			return nil, err
		}
		if n < 1 {
			return nil, valueErrorf("n must be one or more")
		}
		return nil, o.release(c.session(), n)
	}
	return nil, errNoMethod
}

func (o *objSemaphore) release(sess srvSession, n int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.bounded && o.value+n > o.initial {
		return valueErrorf("Semaphore released too many times")
	}
	o.value += n
	for i := 0; int64(i) < n && i < len(o.holders.sessions); i++ {
		o.holders.remove(sess)
	}
	o.q.notify(int(min(n, int64(o.q.len()))))
	return nil
}

func (o *objSemaphore) sessionEnded(sess srvSession, releaseAll bool) {
	if !releaseAll {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if n := o.holders.drop(sess); n > 0 {
		o.value += int64(n)
		if o.bounded && o.value > o.initial {
			o.value = o.initial
		}
		o.q.notify(n)
	}
}

func (o *objSemaphore) repr() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.bounded {
		return fmt.Sprintf("<threading.BoundedSemaphore at %p: value=%d/%d>", o, o.value, o.initial)
	}
	return fmt.Sprintf("<threading.Semaphore at %p: value=%d>", o, o.value)
}

func (o *objSemaphore) getvalue() (pickle.Value, error) {
	return nil, typeErrorf("cannot pickle '_thread.lock' object")
}

// condLock is the lock of a Condition: its own RLock, or a Lock or RLock
// of the server given to the constructor (a nested proxy). The Condition's
// waiters are guarded by the lock's mutex.
type condLock interface {
	srvObj
	mutex() *sync.Mutex
	// The following need mutex() held.
	owned(sess srvSession) bool
	releaseSave(sess srvSession) int
	acquireRestore(c *srvCall, saved int) error
	lockRepr() string
}

func (o *objRLock) mutex() *sync.Mutex             { return &o.mu }
func (o *objRLock) owned(sess srvSession) bool     { return o.owner == sess }
func (o *objRLock) lockRepr() string               { return o.rlockState.repr(o) }
func (o *objLock) mutex() *sync.Mutex              { return &o.mu }
func (o *objLock) owned(sess srvSession) bool      { return o.locked } // Python: locked by anyone
func (o *objLock) releaseSave(sess srvSession) int { o.releaseLocked(sess); return 0 }

func (o *objRLock) releaseSave(sess srvSession) int {
	saved := o.count
	o.owner, o.count = srvSession{}, 0
	o.q.notify(1)
	return saved
}

// acquireRestore re-acquires after a wait, ignoring ps_interrupt: the
// caller must get the lock back in the state it had.
func (o *objRLock) acquireRestore(c *srvCall, saved int) error {
	if _, err := o.acquire(c, &o.mu, true, time.Time{}, false); err != nil {
		return err
	}
	o.count = saved
	return nil
}

func (o *objLock) acquireRestore(c *srvCall, _ int) error {
	for o.locked {
		if c.wait(&o.mu, &o.q, time.Time{}, false) == waitStopped {
			return c.stoppedErr()
		}
	}
	o.locked = true
	o.grants++
	o.holders.add(c.session())
	if o.holders.on {
		c.trackSession(o)
	}
	return nil
}

func (o *objLock) lockRepr() string {
	st := "unlocked"
	if o.locked {
		st = "locked"
	}
	return fmt.Sprintf("<%s _thread.lock object at %p>", st, o)
}

// objCondition is threading.Condition.
type objCondition struct {
	lock    condLock
	lockVal pickle.Value // the lock argument (a proxy), nil for the own RLock
	cond    srvWaitq     // guarded by lock.mutex()
}

func newObjCondition(s *Server, _ *memScope, args pickle.Tuple, kw *pickle.Dict) (srvObj, error) {
	a := []pickle.Value{nil}
	if err := condInit.bind(args, kw, a); err != nil {
		return nil, err
	}
	if a[0] == nil {
		return &objCondition{lock: &objRLock{}}, nil
	}
	tok, ok := tokenFromProxyValue(a[0])
	var e *srvEntry
	if ok && s.isLocal(tok.Address) {
		e = s.table.get(tok.ID)
	}
	if e != nil {
		if l, ok := e.obj.(condLock); ok {
			s.table.hold(a[0])
			return &objCondition{lock: l, lockVal: a[0]}, nil
		}
	}
	return nil, typeErrorf("procshare: Condition(lock) needs a proxy of a Lock or RLock of this manager, not %s", typeName(a[0]))
}

func (o *objCondition) call(c *srvCall, m string, args pickle.Tuple, kw *pickle.Dict) (pickle.Value, error) {
	switch m {
	case "acquire", "release":
		return o.lock.call(c, m, args, kw)
	case "wait":
		a := []pickle.Value{nil}
		if err := waitParams.bind(args, kw, a); err != nil {
			return nil, err
		}
		to, err := parseTimeout(a[0])
		if err != nil {
			return nil, err
		}
		mu := o.lock.mutex()
		mu.Lock()
		defer mu.Unlock()
		if !o.lock.owned(c.session()) {
			return nil, excf(excRuntimeError, "cannot wait on un-acquired lock")
		}
		saved := o.lock.releaseSave(c.session())
		got := false
		var stopErr error
		if to.none || to.seconds > 0 {
			var deadline time.Time
			if !to.none {
				deadline = deadlineAfter(to.seconds)
			}
			r := c.wait(mu, &o.cond, deadline, true)
			got = r == waitNotified
			if r == waitStopped {
				stopErr = c.stoppedErr()
			}
		}
		if err := o.lock.acquireRestore(c, saved); err != nil {
			return nil, err
		}
		if stopErr != nil {
			return nil, stopErr
		}
		return got, nil
	case "notify", "notify_all":
		n := int64(-1)
		if m == "notify" {
			a := []pickle.Value{int64(1)}
			if err := notifyArgs.bind(args, kw, a); err != nil {
				return nil, err
			}
			var err error
			if n, err = pyIndex(a[0]); err != nil {
				return nil, err
			}
		} else if err := noArgs("notify_all", args, kw); err != nil {
			return nil, err
		}
		mu := o.lock.mutex()
		mu.Lock()
		defer mu.Unlock()
		if !o.lock.owned(c.session()) {
			return nil, excf(excRuntimeError, "cannot notify on un-acquired lock")
		}
		if n < 0 {
			o.cond.notifyAll()
		} else if n > 0 {
			o.cond.notify(int(min(n, int64(o.cond.len()))))
		}
		return nil, nil
	}
	return nil, errNoMethod
}

func (o *objCondition) repr() string {
	mu := o.lock.mutex()
	mu.Lock()
	defer mu.Unlock()
	return fmt.Sprintf("<Condition(%s, %d)>", o.lock.lockRepr(), o.cond.len())
}

func (o *objCondition) values(fn func(pickle.Value)) {
	if o.lockVal != nil {
		fn(o.lockVal)
	}
}

func (o *objCondition) getvalue() (pickle.Value, error) {
	return nil, typeErrorf("cannot pickle '_thread.RLock' object")
}

// objEvent is threading.Event.
type objEvent struct {
	mu   sync.Mutex
	flag bool
	q    srvWaitq
}

func newObjEvent(s *Server, _ *memScope, args pickle.Tuple, kw *pickle.Dict) (srvObj, error) {
	if err := noArgs("Event", args, kw); err != nil {
		return nil, err
	}
	return &objEvent{}, nil
}

func (o *objEvent) call(c *srvCall, m string, args pickle.Tuple, kw *pickle.Dict) (pickle.Value, error) {
	switch m {
	case "is_set":
		if err := noArgs("Event.is_set", args, kw); err != nil {
			return nil, err
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.flag, nil
	case "set":
		if err := noArgs("Event.set", args, kw); err != nil {
			return nil, err
		}
		o.mu.Lock()
		o.flag = true
		o.q.notifyAll()
		o.mu.Unlock()
		return nil, nil
	case "clear":
		if err := noArgs("Event.clear", args, kw); err != nil {
			return nil, err
		}
		o.mu.Lock()
		o.flag = false
		o.mu.Unlock()
		return nil, nil
	case "wait":
		a := []pickle.Value{nil}
		if err := waitParams.bind(args, kw, a); err != nil {
			return nil, err
		}
		to, err := parseTimeout(a[0])
		if err != nil {
			return nil, err
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.flag {
			return true, nil
		}
		var deadline time.Time
		if !to.none {
			if to.seconds <= 0 {
				return false, nil
			}
			deadline = deadlineAfter(to.seconds)
		}
		switch c.wait(&o.mu, &o.q, deadline, true) {
		case waitStopped:
			return nil, c.stoppedErr()
		case waitTimeout:
			return false, nil
		}
		return true, nil
	}
	return nil, errNoMethod
}

func (o *objEvent) repr() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := "unset"
	if o.flag {
		st = "set"
	}
	return fmt.Sprintf("<threading.Event at %p: %s>", o, st)
}

func (o *objEvent) getvalue() (pickle.Value, error) {
	return nil, typeErrorf("cannot pickle '_thread.lock' object")
}
