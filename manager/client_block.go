package manager

import (
	"context"
	"errors"
	"time"

	"github.com/procshare/procshare/pickle"
)

// blockingCall describes a method call that may wait on the server for other
// clients (a queue get, a lock acquire, an event wait), and how to cancel it
// without leaving the server in a state the caller did not ask for.
type blockingCall struct {
	method string

	// args builds the request's arguments. timeout is nil for "wait as
	// long as it takes" and a float64 number of seconds when the call is
	// made in chunks (CPython servers).
	args func(timeout pickle.Value) (pickle.Tuple, *pickle.Dict)

	// timedOut reports whether a chunk's outcome means "nothing happened
	// yet, try again" (a False result, queue.Empty, queue.Full).
	timedOut func(v pickle.Value, err error) bool

	// undo, when set, reverses a call that succeeded after the caller had
	// given up (releases the lock, puts the item back); cc is the
	// connection the call was made on. When undo is nil a late success
	// stands and is returned.
	undo func(ctx context.Context, cc *clientConn, v pickle.Value)

	// granted, when set, tells the replies that grant something the
	// server keeps for a confirming connection until ps_ack (a queue
	// item, a Lock or Semaphore acquisition): the client confirms them
	// before returning, or refuses a late one with ps_giveback instead of
	// undo.
	granted grantTest

	// noChunk marks calls that cannot be made in timed chunks (a timed-out
	// Barrier.wait breaks the barrier; Queue.join takes no timeout). Against
	// a CPython server they are made once, with the time left before ctx's
	// deadline when timeoutOK, and abandon is called on cancellation.
	noChunk   bool
	timeoutOK bool

	// abandon makes a noChunk call return early on a CPython server; nil
	// means closing the connection (fine for calls that change nothing).
	abandon func(cc *clientConn)
}

// block makes a blocking call on shared object ident. When cc is nil the
// call takes a dedicated connection from the pool for its duration; a
// caller that must use a particular connection (lock ownership) passes it.
//
// On procshare's server the call is sent once, without a timeout; if ctx
// ends first the client interrupts it (ps_interrupt on a separate
// connection) and then reads the reply, which is either the interruption or
// the call's normal result if it had completed — in that case undo reverses
// it. On a CPython server the call is repeated with a timeout of at most
// Config.PollInterval until it succeeds or ctx ends.
func (c *Client) block(ctx context.Context, cc *clientConn, ident pickle.Value, b *blockingCall) (pickle.Value, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cc == nil {
		var err error
		if cc, err = c.getConn(ctx); err != nil {
			return nil, err
		}
		defer c.putConn(cc)
	}
	if c.ext {
		return c.blockInterruptible(ctx, cc, ident, b)
	}
	if b.noChunk {
		return c.blockOnce(ctx, cc, ident, b)
	}
	for {
		d := c.cfg.PollInterval
		if dl, ok := ctx.Deadline(); ok {
			left := time.Until(dl)
			if left <= 0 {
				return nil, context.DeadlineExceeded
			}
			d = min(d, left)
		}
		args, kwds := b.args(d.Seconds())
		req, err := encodeRequest(ident, b.method, args, kwds)
		if err != nil {
			return nil, err
		}
		v, err := cc.roundTrip(req.b)
		req.free()
		if errors.Is(err, ErrConnLost) {
			if cerr := ctxErr(ctx); cerr != nil {
				return nil, cerr
			}
		}
		if b.timedOut != nil && b.timedOut(v, err) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			continue
		}
		return c.settle(ctx, cc, b, v, err)
	}
}

// settle returns the outcome of a blocking call that completed, reversing a
// success that came after ctx ended when the call can be reversed.
func (c *Client) settle(ctx context.Context, cc *clientConn, b *blockingCall, v pickle.Value, err error) (pickle.Value, error) {
	if err == nil && ctx.Err() != nil && b.undo != nil {
		uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		b.undo(uctx, cc, v)
		cancel()
		return nil, ctx.Err()
	}
	return v, err
}

// blockInterruptible is block on procshare's server.
func (c *Client) blockInterruptible(ctx context.Context, cc *clientConn, ident pickle.Value, b *blockingCall) (pickle.Value, error) {
	args, kwds := b.args(nil)
	req, err := encodeRequest(ident, b.method, args, kwds)
	if err != nil {
		return nil, err
	}
	seq := cc.seq + 1 // the number roundTrip gives this request
	replied := make(chan struct{})
	finished := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(finished)
		// The interrupt names the call by its sequence number on the
		// connection, so it cannot hit a later call, and the server arms
		// it if the call has not been read yet. It is repeated (harmless)
		// in case a management connection fails.
		delay := 100 * time.Millisecond
		for {
			ictx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c.serverCall(ictx, "ps_interrupt", cc.id, int64(seq))
			cancel()
			select {
			case <-replied:
				return
			case <-c.life.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, time.Second)
		}
	})
	v, err := cc.roundTrip(req.b)
	req.free()
	close(replied)
	grant := cc.confirm && b.granted != nil && b.granted(v, err)
	if stop() {
		if grant {
			if err := cc.ack(v); err != nil {
				return nil, err
			}
		}
		return v, err
	}
	// The interrupter ran: wait until it is done, so that no stale
	// ps_interrupt can hit the next call made on this connection.
	<-finished
	if errors.Is(err, ErrInterrupted) {
		return nil, ctx.Err()
	}
	if grant {
		// A grant the caller no longer wants, and the server has not
		// made final: it gives it back now, as it would if this process
		// died (items to the front of the queue, in order).
		gctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := cc.exchange(gctx, nil, "ps_giveback", pickle.Tuple{int64(seq)}, nil); err != nil {
			cc.broken = true // the server gives it back when the connection ends
		}
		cancel()
		return nil, ctx.Err()
	}
	return c.settle(ctx, cc, b, v, err)
}

// blockOnce is block for calls that cannot be chunked, on a CPython server.
func (c *Client) blockOnce(ctx context.Context, cc *clientConn, ident pickle.Value, b *blockingCall) (pickle.Value, error) {
	var timeout pickle.Value
	if dl, ok := ctx.Deadline(); ok && b.timeoutOK {
		left := time.Until(dl)
		if left <= 0 {
			return nil, context.DeadlineExceeded
		}
		timeout = left.Seconds()
	}
	args, kwds := b.args(timeout)
	req, err := encodeRequest(ident, b.method, args, kwds)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() {
		if b.abandon != nil {
			b.abandon(cc)
			return
		}
		cc.wc.SetDeadline(time.Unix(1, 0))
	})
	v, err := cc.roundTrip(req.b)
	req.free()
	stop()
	if err != nil {
		// Abandoned, or (Barrier) timed out at ctx's deadline.
		if cerr := ctxErr(ctx); cerr != nil {
			return nil, cerr
		}
	}
	return v, err
}

// isFalse is the timedOut test of calls that return False on timeout.
func isFalse(v pickle.Value, err error) bool {
	b, ok := v.(bool)
	return err == nil && ok && !b
}
