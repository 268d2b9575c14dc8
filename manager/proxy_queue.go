package manager

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/procshare/procshare/pickle"
)

// Queue is a proxy to a shared FIFO queue (typeid "Queue", Python's
// queue.Queue in the manager; also named queues such as a QueueManager's
// "get_queue", see Named).
//
// A Queue is safe for concurrent use by multiple goroutines and the queue by
// any number of processes, Go or Python. Put and Get block (on a connection
// of their own) until there is room or an item; they return ctx's error when
// ctx ends first, and cancellation is exact: an item that reached a
// cancelled Get is put back (at the front on procshare's server, at the
// back on CPython's), and a Put either happened (nil error) or did not.
// The Try forms never block. On procshare's server an item is confirmed
// (ps_ack) before a Get returns it: if the process is killed before, the
// item goes back to the front of the queue (see the package doc, "What a
// killed client loses").
type Queue struct{ proxy }

// NewQueue creates a shared queue holding at most maxsize items (0 for no
// limit).
func (c *Client) NewQueue(ctx context.Context, maxsize int) (*Queue, error) {
	q := &Queue{}
	if err := c.createValues(ctx, &q.proxy, "Queue", pickle.Tuple{int64(maxsize)}, nil); err != nil {
		return nil, err
	}
	return q, nil
}

// AttachFiles connects a zero Queue, in a child process, to the queue a
// parent shared with ShareFiles.
func (q *Queue) AttachFiles(files []*os.File, meta []byte) error { return q.attach(files, meta) }

// Put adds item at the back, waiting for room while the queue is full.
func (q *Queue) Put(ctx context.Context, item any) error {
	v, err := valueOf(item)
	if err != nil {
		return err
	}
	// Without waiting first (pipelined): an unbounded queue always has
	// room.
	if _, err := q.call(ctx, "put", v, false); !errors.Is(err, ErrFull) {
		return err
	}
	return noValue(q.block(ctx, nil, &blockingCall{
		method: "put",
		args: func(timeout pickle.Value) (pickle.Tuple, *pickle.Dict) {
			if timeout == nil {
				return pickle.Tuple{v}, nil
			}
			return pickle.Tuple{v, true, timeout}, nil
		},
		timedOut: isErr(ErrFull),
	}))
}

// TryPut adds item if there is room, or fails with an error matching
// ErrFull.
func (q *Queue) TryPut(ctx context.Context, item any) error {
	v, err := valueOf(item)
	if err != nil {
		return err
	}
	return noValue(q.call(ctx, "put", v, false))
}

// Get removes and returns the item at the front, waiting for one while the
// queue is empty.
func (q *Queue) Get(ctx context.Context) (pickle.Value, error) {
	// Without waiting first (pipelined), then on a dedicated connection.
	if v, err := q.callGrant(ctx, grantedItems, "get", false); !errors.Is(err, ErrEmpty) {
		return v, err
	}
	return q.block(ctx, nil, &blockingCall{
		method:  "get",
		granted: grantedItems,
		args: func(timeout pickle.Value) (pickle.Tuple, *pickle.Dict) {
			if timeout == nil {
				return nil, nil
			}
			return pickle.Tuple{true, timeout}, nil
		},
		timedOut: isErr(ErrEmpty),
		undo: func(ctx context.Context, _ *clientConn, v pickle.Value) {
			q.giveBack(ctx, []pickle.Value{v})
		},
	})
}

// TryGet removes and returns the front item, or fails with an error
// matching ErrEmpty.
func (q *Queue) TryGet(ctx context.Context) (pickle.Value, error) {
	return q.callGrant(ctx, grantedItems, "get", false)
}

// giveBack returns items a cancelled Get received: to the front with
// procshare's ps_unget, else (CPython) with put — at the back, and in the
// background if the queue has filled up meanwhile.
func (q *Queue) giveBack(ctx context.Context, items []pickle.Value) {
	if q.c.ext && slices.Contains(q.exposed, "ps_unget") {
		for i := len(items) - 1; i >= 0; i-- {
			q.call(ctx, "ps_unget", items[i])
		}
		return
	}
	for i, it := range items {
		if _, err := q.call(ctx, "put", it, false); errors.Is(err, ErrFull) {
			rest := items[i:]
			q.c.background(func(ctx context.Context) {
				for _, it := range rest {
					q.Put(ctx, it)
				}
			})
			return
		}
	}
}

// Len returns the approximate number of items (qsize()).
func (q *Queue) Len(ctx context.Context) (int, error) { return intOf(q.call(ctx, "qsize")) }

// Empty reports whether the queue is empty (approximately, as in Python).
func (q *Queue) Empty(ctx context.Context) (bool, error) { return boolOf(q.call(ctx, "empty")) }

// Full reports whether the queue is full (approximately, as in Python).
func (q *Queue) Full(ctx context.Context) (bool, error) { return boolOf(q.call(ctx, "full")) }

// PutMany adds all items (a slice or sequence) at once, waiting until they
// all fit; one round trip (procshare extension ps_put_many; against a
// CPython manager the error wraps ErrUnsupported).
func (q *Queue) PutMany(ctx context.Context, items any) error {
	if err := q.extension("ps_put_many"); err != nil {
		return err
	}
	v, err := valueOf(items)
	if err != nil {
		return err
	}
	return noValue(q.block(ctx, nil, &blockingCall{
		method: "ps_put_many",
		args:   func(pickle.Value) (pickle.Tuple, *pickle.Dict) { return pickle.Tuple{v}, nil },
	}))
}

// GetMany removes and returns between 1 and n items from the front, waiting
// while the queue is empty; one round trip (procshare extension
// ps_get_many).
func (q *Queue) GetMany(ctx context.Context, n int) ([]pickle.Value, error) {
	if err := q.extension("ps_get_many"); err != nil {
		return nil, err
	}
	v, err := q.block(ctx, nil, &blockingCall{
		method:  "ps_get_many",
		granted: grantedItems,
		args:    func(pickle.Value) (pickle.Tuple, *pickle.Dict) { return pickle.Tuple{int64(n)}, nil },
		undo: func(ctx context.Context, _ *clientConn, v pickle.Value) {
			items, _ := sequenceOf(v)
			q.giveBack(ctx, items)
		},
	})
	return itemsOf("ps_get_many", v, err)
}

// TryGetMany removes and returns up to n items without waiting (an error
// matching ErrEmpty when there is none; procshare extension ps_get_many).
func (q *Queue) TryGetMany(ctx context.Context, n int) ([]pickle.Value, error) {
	if err := q.extension("ps_get_many"); err != nil {
		return nil, err
	}
	v, err := q.callGrant(ctx, grantedItems, "ps_get_many", int64(n), false)
	return itemsOf("ps_get_many", v, err)
}

// Shutdown shuts the queue down (Python 3.13 Queue.shutdown): puts fail
// with ErrShutDown, gets too once the queue is empty (at once when
// immediate). Managers before 3.13 do not expose it.
func (q *Queue) Shutdown(ctx context.Context, immediate bool) error {
	return noValue(q.call(ctx, "shutdown", immediate))
}

func itemsOf(method string, v pickle.Value, err error) ([]pickle.Value, error) {
	if err != nil {
		return nil, err
	}
	items, ok := sequenceOf(v)
	if !ok {
		return nil, fmt.Errorf("%w: %s returned %s", ErrProtocol, method, pickle.TypeName(v))
	}
	return items, nil
}

// isErr returns a timedOut test matching remote error target.
func isErr(target error) func(pickle.Value, error) bool {
	return func(_ pickle.Value, err error) bool { return errors.Is(err, target) }
}

// JoinableQueue is a Queue whose consumers report finished items with
// TaskDone, so that producers can Join (typeid "JoinableQueue").
// Goroutine- and process-safe like Queue.
type JoinableQueue struct{ Queue }

// NewJoinableQueue creates a shared joinable queue holding at most maxsize
// items (0 for no limit).
func (c *Client) NewJoinableQueue(ctx context.Context, maxsize int) (*JoinableQueue, error) {
	q := &JoinableQueue{}
	if err := c.createValues(ctx, &q.proxy, "JoinableQueue", pickle.Tuple{int64(maxsize)}, nil); err != nil {
		return nil, err
	}
	return q, nil
}

// TaskDone reports that an item taken with Get has been processed.
func (q *JoinableQueue) TaskDone(ctx context.Context) error {
	return noValue(q.call(ctx, "task_done"))
}

// Join waits until every item put has been reported done. On a CPython
// manager a cancelled Join closes its connection (join has no timeout).
func (q *JoinableQueue) Join(ctx context.Context) error {
	return noValue(q.block(ctx, nil, &blockingCall{
		method:  "join",
		args:    func(pickle.Value) (pickle.Tuple, *pickle.Dict) { return nil, nil },
		noChunk: true,
	}))
}

// background runs f in a goroutine that Close waits for; f's ctx ends when
// the client closes.
func (c *Client) background(f func(ctx context.Context)) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		f(c.life)
	}()
}
