package manager

import (
	"sync"
	"time"
)

// srvWaiter is one blocked call waiting on a srvWaitq.
type srvWaiter struct {
	ch       chan struct{} // receives one token when notified
	notified bool          // set by notify, under the object's mutex
}

// srvWaitq is a FIFO of waiters with the semantics of a Python Condition
// bound to an object's mutex: notify(n) wakes the n oldest waiters, who
// re-check their condition. All methods need the object's mutex held.
type srvWaitq struct {
	w []*srvWaiter
}

func (q *srvWaitq) len() int { return len(q.w) }

// notify wakes up to n waiters.
func (q *srvWaitq) notify(n int) {
	for n > 0 && len(q.w) > 0 {
		w := q.w[0]
		q.w[0] = nil
		q.w = q.w[1:]
		w.notified = true
		w.ch <- struct{}{}
		n--
	}
	if len(q.w) == 0 {
		q.w = nil
	}
}

func (q *srvWaitq) notifyAll() { q.notify(len(q.w)) }

func (q *srvWaitq) remove(w *srvWaiter) {
	for i, x := range q.w {
		if x == w {
			copy(q.w[i:], q.w[i+1:])
			q.w[len(q.w)-1] = nil
			q.w = q.w[:len(q.w)-1]
			return
		}
	}
}

// srvWaitResult is how a wait ended.
type srvWaitResult int

const (
	waitNotified srvWaitResult = iota
	waitTimeout
	waitStopped // interrupted, peer gone or server stopping: return c.stoppedErr()
)

// wait blocks the call on q: mu (the object's mutex) is held on entry and
// on return, released while blocked. It ends when the waiter is notified,
// at deadline (zero: none), or when the call is stopped — by ps_interrupt
// only if interruptible, always when the peer or the server goes away. A
// notification that races with a stop is handed on to the next waiter, so
// none is lost.
func (c *srvCall) wait(mu *sync.Mutex, q *srvWaitq, deadline time.Time, interruptible bool) srvWaitResult {
	w := &srvWaiter{ch: make(chan struct{}, 1)}
	q.w = append(q.w, w)
	mu.Unlock()
	stop, dead := c.prepare()
	if !interruptible {
		stop = nil
	}
	s := c.conn.s
	s.blocked.Add(1)
	defer s.blocked.Add(-1)
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timeout = t.C
	}
	r := waitNotified
	select {
	case <-w.ch:
	case <-timeout:
		r = waitTimeout
	case <-stop:
		r = waitStopped
	case <-dead:
		r = waitStopped
	case <-s.done:
		r = waitStopped
	}
	mu.Lock()
	if r != waitNotified {
		if w.notified {
			if r == waitTimeout {
				r = waitNotified // woken in time after all
			} else {
				q.notify(1) // pass the wakeup on
			}
		} else {
			q.remove(w)
		}
	}
	return r
}

// beforeDeadline reports whether deadline (zero: none) has not yet passed.
func beforeDeadline(deadline time.Time) bool {
	return deadline.IsZero() || time.Now().Before(deadline)
}
