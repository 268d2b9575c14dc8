package manager

import (
	"fmt"
	"sync"
	"time"

	"github.com/procshare/procshare/pickle"
)

// objQueue is queue.Queue (typeids Queue and JoinableQueue, which CPython
// registers with the same class), including 3.13's shutdown.
type objQueue struct {
	mu         sync.Mutex
	items      []pickle.Value // items[head:] are queued, oldest first
	head       int
	maxsize    int64
	unfinished int64
	shutdown   bool
	notEmpty   srvWaitq
	notFull    srvWaitq
	allDone    srvWaitq
	mem        memStored // itemsCost of the queued items
	t          *srvTable
}

func init() {
	for _, name := range []string{"Queue", "JoinableQueue"} {
		registerType(&srvType{
			name:    name,
			pyClass: "queue.Queue",
			exposed: []string{"empty", "full", "get", "get_nowait", "join", "put", "put_nowait",
				"qsize", "shutdown", "task_done", "ps_get_many", "ps_put_many", "ps_unget"},
			create: newObjQueue,
		})
	}
}

var queueInit = srvParams{fn: "Queue.__init__", names: []string{"maxsize"}}

func newObjQueue(s *Server, _ *memScope, args pickle.Tuple, kw *pickle.Dict) (srvObj, error) {
	out := []pickle.Value{int64(0)}
	if err := queueInit.bind(args, kw, out); err != nil {
		return nil, err
	}
	n, err := pyIndex(out[0])
	if err != nil {
		return nil, err
	}
	return &objQueue{maxsize: n, t: &s.table, mem: memStored{b: &s.mem}}, nil
}

func (q *objQueue) size() int { return len(q.items) - q.head }

func (q *objQueue) push(v pickle.Value) { q.items = append(q.items, v) }

func (q *objQueue) pop() pickle.Value {
	v := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 64 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return v
}

func (q *objQueue) pushFront(v pickle.Value) {
	if q.head > 0 {
		q.head--
		q.items[q.head] = v
		return
	}
	q.items = append(q.items, nil)
	copy(q.items[1:], q.items)
	q.items[0] = v
}

func (q *objQueue) full() bool { return q.maxsize > 0 && int64(q.size()) >= q.maxsize }

var (
	queuePut     = srvParams{fn: "Queue.put", names: []string{"item", "block", "timeout"}, nreq: 1}
	queueGet     = srvParams{fn: "Queue.get", names: []string{"block", "timeout"}}
	queuePutMany = srvParams{fn: "Queue.ps_put_many", names: []string{"items", "block", "timeout"}, nreq: 1}
	queueGetMany = srvParams{fn: "Queue.ps_get_many", names: []string{"n", "block", "timeout"}, nreq: 1}
	queueUnget   = srvParams{fn: "Queue.ps_unget", names: []string{"item"}, nreq: 1}
	queueShut    = srvParams{fn: "Queue.shutdown", names: []string{"immediate"}}
	queuePutNW   = srvParams{fn: "Queue.put_nowait", names: []string{"item"}, nreq: 1}
)

func (q *objQueue) call(c *srvCall, m string, args pickle.Tuple, kw *pickle.Dict) (pickle.Value, error) {
	switch m {
	case "put":
		a := []pickle.Value{nil, true, nil}
		if err := queuePut.bind(args, kw, a); err != nil {
			return nil, err
		}
		return nil, q.put(c, []pickle.Value{a[0]}, pickle.Truth(a[1]), a[2], false)
	case "put_nowait":
		a := []pickle.Value{nil}
		if err := queuePutNW.bind(args, kw, a); err != nil {
			return nil, err
		}
		return nil, q.put(c, []pickle.Value{a[0]}, false, nil, false)
	case "ps_put_many":
		a := []pickle.Value{nil, true, nil}
		if err := queuePutMany.bind(args, kw, a); err != nil {
			return nil, err
		}
		items, err := iterValues(c.mem(), a[0])
		if err != nil {
			return nil, err
		}
		return nil, q.put(c, items, pickle.Truth(a[1]), a[2], true)
	case "get":
		a := []pickle.Value{true, nil}
		if err := queueGet.bind(args, kw, a); err != nil {
			return nil, err
		}
		items, err := q.get(c, 1, pickle.Truth(a[0]), a[1])
		if err != nil {
			return nil, err
		}
		return items[0], nil
	case "get_nowait":
		if err := noArgs("Queue.get_nowait", args, kw); err != nil {
			return nil, err
		}
		items, err := q.get(c, 1, false, nil)
		if err != nil {
			return nil, err
		}
		return items[0], nil
	case "ps_get_many":
		a := []pickle.Value{nil, true, nil}
		if err := queueGetMany.bind(args, kw, a); err != nil {
			return nil, err
		}
		n, err := pyIndex(a[0])
		if err != nil {
			return nil, err
		}
		if n < 1 {
			return nil, valueErrorf("ps_get_many() n must be >= 1, not %d", n)
		}
		items, err := q.get(c, n, pickle.Truth(a[1]), a[2])
		if err != nil {
			return nil, err
		}
		return &pickle.List{Items: items}, nil
	case "ps_unget":
		a := []pickle.Value{nil}
		if err := queueUnget.bind(args, kw, a); err != nil {
			return nil, err
		}
		q.t.hold(a[0])
		q.mu.Lock()
		q.mem.force(itemCost(a[0])) // it was taken from the queue
		q.pushFront(a[0])
		q.notEmpty.notify(1)
		q.mu.Unlock()
		return nil, nil
	case "qsize":
		if err := noArgs("Queue.qsize", args, kw); err != nil {
			return nil, err
		}
		q.mu.Lock()
		n := q.size()
		q.mu.Unlock()
		return int64(n), nil
	case "empty":
		if err := noArgs("Queue.empty", args, kw); err != nil {
			return nil, err
		}
		q.mu.Lock()
		e := q.size() == 0
		q.mu.Unlock()
		return e, nil
	case "full":
		if err := noArgs("Queue.full", args, kw); err != nil {
			return nil, err
		}
		q.mu.Lock()
		f := q.full()
		q.mu.Unlock()
		return f, nil
	case "task_done":
		if err := noArgs("Queue.task_done", args, kw); err != nil {
			return nil, err
		}
		q.mu.Lock()
		defer q.mu.Unlock()
		n := q.unfinished - 1
		if n <= 0 {
			if n < 0 {
				return nil, valueErrorf("task_done() called too many times")
			}
			q.allDone.notifyAll()
		}
		q.unfinished = n
		return nil, nil
	case "join":
		if err := noArgs("Queue.join", args, kw); err != nil {
			return nil, err
		}
		q.mu.Lock()
		defer q.mu.Unlock()
		for q.unfinished > 0 {
			if c.wait(&q.mu, &q.allDone, time.Time{}, true) == waitStopped {
				return nil, c.stoppedErr()
			}
		}
		return nil, nil
	case "shutdown":
		a := []pickle.Value{false}
		if err := queueShut.bind(args, kw, a); err != nil {
			return nil, err
		}
		var dropped []pickle.Value
		q.mu.Lock()
		q.shutdown = true
		if pickle.Truth(a[0]) {
			for q.size() > 0 {
				dropped = append(dropped, q.pop())
				if q.unfinished > 0 {
					q.unfinished--
				}
			}
			q.allDone.notifyAll()
		}
		q.notEmpty.notifyAll()
		q.notFull.notifyAll()
		q.mem.sub(itemsCost(dropped))
		q.mu.Unlock()
		q.t.releaseAll(dropped)
		return nil, nil
	}
	return nil, errNoMethod
}

// put adds items (all at once: ps_put_many is all or nothing), following
// queue.Queue.put.
func (q *objQueue) put(c *srvCall, items []pickle.Value, block bool, timeoutArg pickle.Value, many bool) error {
	cost := itemsCost(items)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return newExc(excShutDown)
	}
	n := int64(len(items))
	if q.maxsize > 0 {
		if many && n > q.maxsize {
			return valueErrorf("ps_put_many() of %d items can never fit in a queue of maxsize %d", n, q.maxsize)
		}
		room := func() bool { return int64(q.size())+n <= q.maxsize }
		if !block {
			if !room() {
				return newExc(excFull)
			}
		} else {
			to, err := parseTimeout(timeoutArg)
			if err != nil {
				return err
			}
			var deadline time.Time
			if !to.none {
				if to.seconds < 0 {
					return valueErrorf("'timeout' must be a non-negative number")
				}
				deadline = deadlineAfter(to.seconds)
			}
			for !room() {
				if !to.none && !beforeDeadline(deadline) {
					return newExc(excFull)
				}
				r := c.wait(&q.mu, &q.notFull, deadline, true)
				if r == waitStopped {
					return c.stoppedErr()
				}
				if q.shutdown {
					return newExc(excShutDown)
				}
			}
		}
	}
	if err := q.mem.add(cost); err != nil {
		return err
	}
	q.t.holdAll(items)
	for _, it := range items {
		q.push(it)
	}
	q.unfinished += n
	q.notEmpty.notify(len(items))
	return nil
}

// get removes 1..max items, following queue.Queue.get.
func (q *objQueue) get(c *srvCall, max int64, block bool, timeoutArg pickle.Value) ([]pickle.Value, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown && q.size() == 0 {
		return nil, newExc(excShutDown)
	}
	if !block {
		if q.size() == 0 {
			return nil, newExc(excEmpty)
		}
	} else {
		to, err := parseTimeout(timeoutArg)
		if err != nil {
			return nil, err
		}
		var deadline time.Time
		if !to.none {
			if to.seconds < 0 {
				return nil, valueErrorf("'timeout' must be a non-negative number")
			}
			deadline = deadlineAfter(to.seconds)
		}
		for q.size() == 0 {
			if !to.none && !beforeDeadline(deadline) {
				return nil, newExc(excEmpty)
			}
			r := c.wait(&q.mu, &q.notEmpty, deadline, true)
			if r == waitStopped {
				return nil, c.stoppedErr()
			}
			if q.shutdown && q.size() == 0 {
				return nil, newExc(excShutDown)
			}
		}
	}
	n := int64(q.size())
	if n > max {
		n = max
	}
	items := make([]pickle.Value, n)
	for i := range items {
		items[i] = q.pop()
	}
	q.notFull.notify(int(n))
	cost := itemsCost(items)
	q.mem.sub(cost)
	c.onLost(func() {
		q.t.holdAll(items)
		q.mu.Lock()
		q.mem.force(cost)
		for i := len(items) - 1; i >= 0; i-- {
			q.pushFront(items[i])
		}
		q.notEmpty.notify(len(items))
		q.mu.Unlock()
	})
	q.t.releaseAll(items)
	return items, nil
}

func (q *objQueue) repr() string { return fmt.Sprintf("<queue.Queue object at %p>", q) }

func (q *objQueue) getvalue() (pickle.Value, error) {
	return nil, typeErrorf("cannot pickle '_thread.lock' object")
}

func (q *objQueue) values(fn func(pickle.Value)) {
	q.mu.Lock()
	items := append([]pickle.Value(nil), q.items[q.head:]...)
	q.mu.Unlock()
	for _, v := range items {
		fn(v)
	}
}

func (q *objQueue) releaseMemory() {
	q.mu.Lock()
	q.mem.release()
	q.mu.Unlock()
}

// dispose wakes nobody: a freed queue has no client references, so no
// proxy can be blocked on it except through a nested reference, which
// keeps it alive.
func (q *objQueue) dispose() {}
