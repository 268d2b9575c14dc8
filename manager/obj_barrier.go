package manager

import (
	"fmt"
	"sync"
	"time"

	"github.com/procshare/procshare/pickle"
)

// objBarrier is threading.Barrier with Python's state machine: filling,
// draining, resetting and broken. A call that is stopped while waiting
// (ps_interrupt, or its client died) breaks the barrier, since that party
// will never arrive.
type objBarrier struct {
	mu      sync.Mutex
	cond    srvWaitq
	parties int64
	timeout pickle.Value // the default timeout, None or a number
	state   int          // 0 filling, 1 draining, -1 resetting, -2 broken
	count   int64
}

func init() {
	registerType(&srvType{name: "Barrier", pyClass: "threading.Barrier",
		exposed: []string{"__getattribute__", "wait", "abort", "reset"}, create: newObjBarrier})
}

var barrierInit = srvParams{fn: "Barrier.__init__", names: []string{"parties", "action", "timeout"}, nreq: 1}

func newObjBarrier(s *Server, _ *memScope, args pickle.Tuple, kw *pickle.Dict) (srvObj, error) {
	a := []pickle.Value{nil, nil, nil}
	if err := barrierInit.bind(args, kw, a); err != nil {
		return nil, err
	}
	if a[1] != nil {
		return nil, typeErrorf("procshare: Barrier(action=...) needs a Python callable, which the procshare server cannot run; create the Barrier without action")
	}
	n, err := pyIndex(a[0])
	if err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, valueErrorf("parties must be > 0")
	}
	if a[2] != nil {
		if _, err := parseTimeout(a[2]); err != nil {
			return nil, err
		}
	}
	return &objBarrier{parties: n, timeout: a[2]}, nil
}

func (b *objBarrier) call(c *srvCall, m string, args pickle.Tuple, kw *pickle.Dict) (pickle.Value, error) {
	switch m {
	case "__getattribute__":
		a := []pickle.Value{nil}
		p := srvParams{fn: "__getattribute__", names: []string{"name"}, nreq: 1}
		if err := p.bind(args, kw, a); err != nil {
			return nil, err
		}
		name, ok := a[0].(string)
		if !ok {
			return nil, typeErrorf("attribute name must be string, not '%s'", typeName(a[0]))
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		switch name {
		case "parties":
			return b.parties, nil
		case "n_waiting":
			if b.state == 0 {
				return b.count, nil
			}
			return int64(0), nil
		case "broken":
			return b.state == -2, nil
		}
		return nil, attrError("Barrier", name)
	case "wait":
		a := []pickle.Value{nil}
		if err := waitParams.bind(args, kw, a); err != nil {
			return nil, err
		}
		return b.wait(c, a[0])
	case "abort":
		if err := noArgs("Barrier.abort", args, kw); err != nil {
			return nil, err
		}
		b.mu.Lock()
		b.breakLocked()
		b.mu.Unlock()
		return nil, nil
	case "reset":
		if err := noArgs("Barrier.reset", args, kw); err != nil {
			return nil, err
		}
		b.mu.Lock()
		if b.count > 0 {
			if b.state == 0 || b.state == -2 {
				b.state = -1
			}
		} else {
			b.state = 0
		}
		b.cond.notifyAll()
		b.mu.Unlock()
		return nil, nil
	}
	return nil, errNoMethod
}

func (b *objBarrier) breakLocked() {
	b.state = -2
	b.cond.notifyAll()
}

func (b *objBarrier) wait(c *srvCall, timeoutArg pickle.Value) (pickle.Value, error) {
	if timeoutArg == nil {
		timeoutArg = b.timeout
	}
	to, err := parseTimeout(timeoutArg)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// _enter: block while the barrier drains or resets.
	for b.state == -1 || b.state == 1 {
		if c.wait(&b.mu, &b.cond, time.Time{}, true) == waitStopped {
			return nil, c.stoppedErr()
		}
	}
	if b.state < 0 {
		return nil, newExc(excBrokenBarrier)
	}
	index := b.count
	b.count++
	defer func() {
		// _exit
		b.count--
		if b.count == 0 && (b.state == -1 || b.state == 1) {
			b.state = 0
			b.cond.notifyAll()
		}
	}()
	if index+1 == b.parties {
		b.state = 1
		b.cond.notifyAll()
		return index, nil
	}
	// _wait: wait_for(state != 0, timeout).
	var deadline time.Time
	if !to.none {
		deadline = deadlineAfter(to.seconds)
	}
	for b.state == 0 {
		if !to.none && !beforeDeadline(deadline) {
			b.breakLocked()
			return nil, newExc(excBrokenBarrier)
		}
		if c.wait(&b.mu, &b.cond, deadline, true) == waitStopped {
			b.breakLocked()
			return nil, c.stoppedErr()
		}
	}
	if b.state < 0 {
		return nil, newExc(excBrokenBarrier)
	}
	return index, nil
}

func (b *objBarrier) repr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == -2 {
		return fmt.Sprintf("<threading.Barrier at %p: broken>", b)
	}
	n := int64(0)
	if b.state == 0 {
		n = b.count
	}
	return fmt.Sprintf("<threading.Barrier at %p: waiters=%d/%d>", b, n, b.parties)
}

func (b *objBarrier) getvalue() (pickle.Value, error) {
	return nil, typeErrorf("cannot pickle '_thread.lock' object")
}
