package manager

import (
	"container/list"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/procshare/procshare/internal/wire"
	"github.com/procshare/procshare/pickle"
)

// srvConn is one accepted connection: a one-shot management connection, or
// (after accept_connection) a long-lived object connection whose identity
// is what RLock and Condition ownership is keyed by.
type srvConn struct {
	s       *Server
	nc      net.Conn    // the socket: a *threadConn while on a dedicated thread; replaced under sockMu
	sockMu  sync.Mutex  // guards the replacement of nc against closeSocket
	rc      *srvNetConn // nc with a pushback buffer; what wc reads from
	wc      *wire.Conn
	addrVal pickle.Value // this listener's address, as tokens carry it
	id      string       // object connection id, a secret that ps_interrupt takes; "" before accept_connection
	confirm bool         // accept_connection(confirm=True): grants are kept until ps_ack
	label   string       // the id's public part ("c12"), for logs
	session srvSession   // who owns what this connection's calls acquire (set by accept_connection)
	polled  int          // requests served in the netpoller since the last try for a thread
	name    string       // the client's process|thread name

	skipping bool // an oversized request frame is being skipped (skipOversized)

	peer   string        // who connected, for MaxPeerConnections (peerOf)
	hsElem *list.Element // c in Server.limits' handshake list; guarded by limits.mu

	call srvCall  // the call in progress, reused for every request
	mem  memScope // memory the call in progress holds until its reply is written

	// dead is closed when the peer is known to be gone (the socket
	// watcher saw EOF or an error) or the server stops.
	dead     chan struct{}
	deadOnce sync.Once

	mu       sync.Mutex // guards seq, running, pendingI and call.stop/interrupted/prepared
	seq      uint64     // object requests read so far; the current one's number
	running  bool       // a request is being handled
	pendingI uint64     // a ps_interrupt that arrived before its call (its seq), 0 if none

	states []srvSessionState // objects holding state for this connection's session
	enc    []byte            // reply encoding buffer, reused (BufferFrame copies)
	msg    [2]pickle.Value   // the (kind, payload) tuple of the reply being encoded
	msgV   pickle.Value      // msg as a Tuple, boxed once

	// Compensations, owned by the connection's goroutine: undo holds
	// those of replies not yet flushed; on a confirming connection,
	// unacked holds those of grants flushed but not yet confirmed with
	// ps_ack (oldest first), and acked is the highest seq confirmed.
	undo    []srvUndo
	unacked []srvUndo
	acked   uint64
}

// srvUndo is a compensation registered by the call seq: it gives back what
// the call granted if the client does not get (or, on a confirming
// connection, does not confirm) its reply.
type srvUndo struct {
	seq     uint64
	f       func()
	confirm bool // kept until ps_ack on a confirming connection (onLost)
}

func newSrvConn(s *Server, nc net.Conn, addrVal pickle.Value) *srvConn {
	c := &srvConn{s: s, nc: nc, addrVal: addrVal, peer: peerOf(nc), dead: make(chan struct{}), mem: memScope{b: &s.mem}}
	c.msgV = pickle.Tuple(c.msg[:])
	c.rc = &srvNetConn{Conn: nc}
	c.wc = wire.NewConn(c.rc, &wire.Config{MaxFrame: s.cfg.MaxFrame})
	c.call.conn = c
	return c
}

func (c *srvConn) markDead() { c.deadOnce.Do(func() { close(c.dead) }) }

// thread returns the socket when the connection has a dedicated thread,
// else nil. Only the connection's goroutine may call it.
func (c *srvConn) thread() *threadConn {
	tc, _ := c.nc.(*threadConn)
	return tc
}

// closeSocket closes the connection's socket (from any goroutine): its
// goroutine's blocked read or write returns.
func (c *srvConn) closeSocket() {
	c.sockMu.Lock()
	nc := c.nc
	c.sockMu.Unlock()
	nc.Close()
}

// dedicateAfter is the number of requests an object connection serves in
// Go's netpoller before it tries for a dedicated thread (again, if the
// budget was spent or the connection went idle): a short-lived connection
// (a child process making a few calls) does not cost the server a new OS
// thread, a busy one soon stops paying the netpoller's wake-ups.
const dedicateAfter = 16

// dedicateThread moves an object connection onto a thread of its own (see
// threadConn) if the server's budget of ServerConfig.DedicatedThreads
// allows; otherwise, or if the socket cannot be detached, the connection
// stays in Go's netpoller. Bytes already buffered by the frame reader stay
// where they are: only the source it reads from changes.
func (c *srvConn) dedicateThread() {
	s := c.s
	if !s.takeThread() {
		return
	}
	tc, err := detachConn(c.nc, c.s.cfg.IdleTimeout)
	if err != nil {
		s.putThread()
		s.log.Debug("manager: connection stays in the netpoller", "remote", c.nc.RemoteAddr(), "err", err)
		return
	}
	c.sockMu.Lock()
	c.nc, c.rc.Conn = tc, tc
	c.sockMu.Unlock()
	select {
	case <-s.done: // stop may have closed the old socket, not this one
		tc.Close()
	default:
	}
}

// undedicateThread moves a connection whose thread waited threadIdle for
// a request back to the netpoller, and gives the thread back to the
// budget. If that fails the connection keeps its thread.
func (c *srvConn) undedicateThread() {
	s := c.s
	tc := c.thread()
	nc, err := tc.toNetpoller()
	if err != nil {
		s.log.Debug("manager: idle connection keeps its thread", "remote", c.nc.RemoteAddr(), "err", err)
		return
	}
	c.sockMu.Lock()
	c.nc, c.rc.Conn = nc, nc
	c.sockMu.Unlock()
	tc.release()
	s.putThread()
	select {
	case <-s.done: // stop may have shut the old socket down before the swap
		nc.Close()
	default:
	}
}

// serve runs the connection: handshake, first request, and for object
// connections the request loop.
func (c *srvConn) serve() {
	s := c.s
	defer s.connWG.Done()
	defer func() {
		// Handlers recover their own panics; this catches the rest of
		// the connection's code, so a bug ends one connection, not the
		// program.
		if r := recover(); r != nil {
			s.log.Error("manager: panic serving a connection", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	defer c.finish()
	c.nc.SetDeadline(time.Now().Add(handshakeTimeout))
	// Once the client has proved it holds the key, it no longer takes
	// one of the handshake's slots (see connLimits).
	if err := wire.ServerHandshakeNotify(c.wc, s.authkey, func() { s.limits.authenticated(c) }); err != nil {
		if errors.Is(err, wire.ErrAuthFailed) { // a wrong authkey: for the operator to see
			s.log.Warn("manager: failed login", "remote", c.nc.RemoteAddr(), "peer", c.peer, "err", err)
		} else {
			s.log.Debug("manager: handshake failed", "remote", c.nc.RemoteAddr(), "err", err)
		}
		s.observeConnection("failed")
		return
	}
	s.observeConnection("ok")
	c.nc.SetDeadline(time.Time{})
	idleAt := c.waitRequest(time.Now())
	frame, err := c.wc.ReadFrame()
	tooLarge, skipped, err := c.skipOversized(err)
	c.endWait()
	if skipped {
		c.writeNow(tooLarge)
		return
	}
	if err != nil {
		if !c.idleClose(err, idleAt) {
			c.logReadErr(err)
		}
		return
	}
	req, exc := parseRequest(&c.mem, frame)
	if exc != nil {
		c.writeNow(encodeReply(msgTraceback, formatTraceback("serve_client", exc)))
		return
	}
	if req.method == "accept_connection" {
		if reply, ok := c.acceptConnection(req); !ok {
			c.writeNow(reply)
			return
		} else if err := c.writeNow(reply); err != nil {
			return
		}
		c.serveObjects()
		return
	}
	reply := s.serverMethod(c, req)
	c.writeNow(reply)
	if req.method == "shutdown" && reply.isReturn() {
		s.log.Info("manager: shutdown requested by a client", "remote", c.nc.RemoteAddr())
		s.stop()
	}
}

// finish releases what the connection held and forgets it.
func (c *srvConn) finish() {
	c.markDead()
	c.closeSocket()
	c.mem.done()
	s := c.s
	if tc := c.thread(); tc != nil {
		tc.release()
		s.putThread()
	}
	// Grants the client never confirmed go back first: ownership released
	// below (ReleaseOnDisconnect) must not release a lock twice.
	runUndos(c.unacked)
	c.unacked = nil
	for _, st := range c.states {
		st.sessionEnded(c.session, s.cfg.ReleaseOnDisconnect)
	}
	c.states = nil
	s.mu.Lock()
	delete(s.conns, c)
	if c.id != "" {
		delete(s.byID, c.id)
	}
	s.mu.Unlock()
	s.limits.release(c)
}

// waitRequest arms ServerConfig.IdleTimeout for the wait for a request
// that began at since: it returns when the connection becomes idle (the
// zero time if there is no timeout) and sets that as the socket's read
// deadline. On a dedicated thread, which has no deadlines, the thread's
// read timeout (see detachConn) ends the wait instead.
func (c *srvConn) waitRequest(since time.Time) time.Time {
	d := c.s.cfg.IdleTimeout
	if d <= 0 {
		return time.Time{}
	}
	at := since.Add(d)
	if c.thread() == nil {
		c.nc.SetReadDeadline(at)
	}
	return at
}

// endWait clears the deadline waitRequest set, once a request has been
// read: while the call runs, the watcher of a blocking call reads the
// socket, and the call is not idle however long it blocks.
func (c *srvConn) endWait() {
	if c.s.cfg.IdleTimeout > 0 && c.thread() == nil {
		c.nc.SetReadDeadline(time.Time{})
	}
}

// idleClose reports whether err, a failed read, is the end of a wait
// that waitRequest armed until idleAt, and if so logs that the connection
// is closed as idle.
func (c *srvConn) idleClose(err error, idleAt time.Time) bool {
	if idleAt.IsZero() || !errors.Is(err, os.ErrDeadlineExceeded) || time.Now().Before(idleAt) {
		return false
	}
	c.s.log.Info("manager: closing an idle connection", "remote", c.nc.RemoteAddr(),
		"idle_timeout", c.s.cfg.IdleTimeout)
	return true
}

// skipOversized handles a request frame over ServerConfig.MaxFrame; err
// is ReadFrame's error, returned as it is if it is another one (or nil). It
// logs the frame, discards its bytes and returns the reply for it, a
// ValueError naming the limit, and true: the connection goes on. If the
// skip fails it returns the skip's error; after a timeout, the next
// ReadFrame reports the frame again and the skip resumes where it was.
func (c *srvConn) skipOversized(err error) (srvReply, bool, error) {
	if err == nil {
		return srvReply{}, false, nil // (before the errors.As, whose target escapes)
	}
	var tl *wire.FrameTooLargeError
	if !errors.As(err, &tl) {
		return srvReply{}, false, err
	}
	if !c.skipping {
		c.skipping = true
		c.s.log.Warn("manager: request over the frame limit; its bytes are skipped",
			"remote", c.nc.RemoteAddr(), "size", tl.Size, "max_frame", tl.Max)
	}
	if err := c.wc.SkipFrame(); err != nil {
		return srvReply{}, false, err
	}
	c.skipping = false
	return encodeReply(msgError, excf(excValueError,
		"procshare: request of %d bytes exceeds the server's frame limit of %d bytes (--max-frame)",
		tl.Size, tl.Max).value()), true, nil
}

func (c *srvConn) logReadErr(err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return
	}
	c.s.log.Debug("manager: connection read", "remote", c.nc.RemoteAddr(), "err", err)
}

// writeNow sends one reply at once.
func (c *srvConn) writeNow(r srvReply) error {
	return c.wc.WriteFrame(r.data)
}

// acceptConnection handles (None, 'accept_connection', (name,), kwds): it
// switches the connection to object calls. With the keyword ps=True the
// reply carries the connection id for ps_interrupt: its label followed by
// 128 random bits, so that only the client that owns the connection (the
// one that read the reply) can interrupt its calls. With confirm=True the
// connection confirms the receipt of grants with ps_ack (see ack).
func (c *srvConn) acceptConnection(req srvRequest) (srvReply, bool) {
	var out [3]pickle.Value
	p := srvParams{fn: "accept_connection", names: []string{"name", "ps", "confirm"}, nreq: 1}
	if err := p.bind(req.args, req.kw, out[:]); err != nil {
		return encodeReply(msgTraceback, formatTraceback("accept_connection", asExc(err))), false
	}
	c.name = pickle.Str(out[0])
	c.confirm = pickle.Truth(out[2])
	s := c.s
	var secret [16]byte
	rand.Read(secret[:])
	s.mu.Lock()
	s.nextConn++
	c.label = "c" + strconv.FormatUint(s.nextConn, 10)
	c.session = srvSession{id: c.label, name: c.name}
	c.id = c.label + "-" + hex.EncodeToString(secret[:])
	s.byID[c.id] = c
	s.mu.Unlock()
	if pickle.Truth(out[1]) {
		return encodeReply(msgReturn, c.id), true
	}
	return replyNone, true
}

// serveObjects is the request loop of an object connection. Replies are
// buffered while more requests are already waiting in the input buffer
// (a pipelining client), and flushed when the input is drained or before
// a call blocks.
func (c *srvConn) serveObjects() {
	var since time.Time // when the wait for the next request began (IdleTimeout)
	for {
		if c.thread() == nil && c.polled >= dedicateAfter {
			c.polled = 0
			c.dedicateThread()
		}
		if since.IsZero() && c.s.cfg.IdleTimeout > 0 {
			since = time.Now()
		}
		idleAt := c.waitRequest(since)
		frame, err := c.wc.ReadFrame()
		tooLarge, skipped, err := c.skipOversized(err)
		if err != nil {
			if c.idleClose(err, idleAt) {
				return
			}
			if c.thread() != nil && errors.Is(err, os.ErrDeadlineExceeded) {
				// Idle for threadIdle: the frame reader resumes
				// where it was, on the netpoller.
				c.undedicateThread()
				continue
			}
			c.logReadErr(err)
			return
		}
		c.endWait()
		since = time.Time{}
		if c.thread() == nil {
			c.polled++
		}
		c.mu.Lock()
		c.seq++
		c.running = true
		c.call.reset(c.seq, c.pendingI == c.seq)
		c.mu.Unlock()

		reply := tooLarge
		if !skipped {
			reply = c.handle(frame)
		}

		c.mu.Lock()
		c.running = false
		c.mu.Unlock()
		blocked := c.call.prepared
		c.call.finish()

		if reply.hangUp {
			// The client is gone: replies flushed now join the grants
			// it never confirmed, which finish gives back.
			if c.wc.Flush() == nil {
				c.flushed()
			} else {
				c.runUndo()
			}
			return
		}
		if blocked && len(c.undo) > 0 && c.peerGone() {
			// The call waited and was granted something (a queue item,
			// a lock) while its client died. Over TCP writing the
			// reply would still succeed, and the grant would be lost:
			// give it back instead.
			c.runUndo()
			return
		}
		// Replies to a pipelining client are buffered while more of its
		// requests wait in the input buffer.
		if !reply.silent {
			err = c.wc.BufferFrame(reply.data)
		}
		if err == nil && c.wc.Buffered() == 0 {
			err = c.wc.Flush()
		}
		// The reply is written or copied to the output buffer (which
		// stays under 64 KiB): what the call held is given back.
		c.mem.done()
		if err != nil {
			c.s.log.Debug("manager: reply write failed", "remote", c.nc.RemoteAddr(), "err", err)
			c.runUndo()
			return
		}
		if c.wc.Buffered() == 0 {
			c.flushed()
		}
	}
}

// flushed drops the compensations of the replies just written, or on a
// confirming connection keeps those of grants (onLost) until the client
// confirms them with ps_ack.
func (c *srvConn) flushed() {
	if c.confirm {
		for _, u := range c.undo {
			if u.confirm && u.seq > c.acked {
				c.unacked = append(c.unacked, u)
			}
		}
	}
	clear(c.undo)
	c.undo = c.undo[:0]
}

// ack handles (None, 'ps_ack', (seq,), {}) on an object connection: the
// client confirms that it has received the replies to its requests up to
// seq (counted as ps_interrupt counts them), so the grants they carried
// are final. It has no reply, so that a client can send it without
// waiting; wrong arguments, or a connection that did not ask for
// confirm=True, get an error reply.
func (c *srvConn) ack(req srvRequest) srvReply {
	seq, reply, ok := c.confirmedSeq(req)
	if !ok {
		return reply
	}
	c.settle(seq, false)
	return srvReply{silent: true}
}

// giveBack handles (None, 'ps_giveback', (seq,), {}): the client refuses
// the grants of its requests up to seq that it has not confirmed (they
// reached it after its caller gave up), so they are given back now, as if
// the connection had ended. The reply is None once they are back.
func (c *srvConn) giveBack(req srvRequest) srvReply {
	seq, reply, ok := c.confirmedSeq(req)
	if !ok {
		return reply
	}
	c.settle(seq, true)
	return replyNone
}

var (
	psAckParams      = srvParams{fn: "ps_ack", names: []string{"seq"}, nreq: 1}
	psGiveBackParams = srvParams{fn: "ps_giveback", names: []string{"seq"}, nreq: 1}
)

// confirmedSeq parses the seq argument of ps_ack and ps_giveback: it must
// name a request answered already. Otherwise it returns the error reply.
func (c *srvConn) confirmedSeq(req srvRequest) (uint64, srvReply, bool) {
	fail := func(err error) (uint64, srvReply, bool) {
		return 0, encodeReply(msgError, asExc(err).value()), false
	}
	if !c.confirm {
		return fail(valueErrorf("procshare: %s on a connection without accept_connection(confirm=True)", req.method))
	}
	var out [1]pickle.Value
	p := &psAckParams
	if req.method == "ps_giveback" {
		p = &psGiveBackParams
	}
	if err := p.bind(req.args, req.kw, out[:]); err != nil {
		return fail(err)
	}
	seq, err := pyIndex(out[0])
	if err != nil {
		return fail(err)
	}
	if seq < 0 || uint64(seq) >= c.call.seq {
		return fail(valueErrorf("procshare: %s(%d): request %d has not been answered yet", req.method, seq, seq))
	}
	return uint64(seq), srvReply{}, true
}

// settle ends the wait for confirmation of the replies up to seq: their
// grants become final, or with giveBack are given back (newest first).
func (c *srvConn) settle(seq uint64, giveBack bool) {
	if seq <= c.acked {
		return
	}
	c.acked = seq
	i := 0
	for i < len(c.unacked) && c.unacked[i].seq <= seq {
		i++
	}
	if giveBack {
		runUndos(c.unacked[:i])
	}
	n := copy(c.unacked, c.unacked[i:])
	clear(c.unacked[n:])
	c.unacked = c.unacked[:n]
}

// peerGone reports whether the client is known to be gone: the watcher saw
// the connection end, or the socket reports the peer's hang-up.
func (c *srvConn) peerGone() bool {
	select {
	case <-c.dead:
		return true
	default:
	}
	return peerHungUp(c.nc)
}

// flush writes buffered replies (before a call blocks); on failure the
// connection is dead and the compensations run.
func (c *srvConn) flush() {
	if err := c.wc.Flush(); err != nil {
		c.runUndo()
		c.markDead()
		return
	}
	c.flushed()
}

// runUndo runs the compensations of replies that never reached the client,
// newest first.
func (c *srvConn) runUndo() {
	runUndos(c.undo)
	clear(c.undo)
	c.undo = c.undo[:0]
}

// runUndos runs compensations newest first: items taken by several gets go
// back to the front of their queues in their original order.
func runUndos(us []srvUndo) {
	for i := len(us) - 1; i >= 0; i-- {
		us[i].f()
	}
}

// handle runs one object request and returns its encoded reply. A panic in
// a handler becomes a '#TRACEBACK' for this request only.
func (c *srvConn) handle(frame []byte) (reply srvReply) {
	defer func() {
		if r := recover(); r != nil {
			c.s.log.Error("manager: panic in request handler", "panic", r, "stack", string(debug.Stack()))
			reply = encodeReply(msgTraceback, formatTraceback("serve_client",
				excf(excRuntimeError, "procshare: internal error: %v", r)))
		}
	}()
	req, exc := parseRequest(&c.mem, frame)
	if exc != nil {
		return encodeReply(msgTraceback, formatTraceback("serve_client", exc))
	}
	if req.ident == "" {
		switch req.method {
		case "ps_ack":
			return c.ack(req)
		case "ps_giveback":
			return c.giveBack(req)
		}
	}
	return c.s.objectCall(&c.call, req)
}

// trackState registers obj as holding state for c's session, to be told
// when the connection ends.
func (c *srvConn) trackState(obj srvSessionState) {
	for _, o := range c.states {
		if o == obj {
			return
		}
	}
	c.states = append(c.states, obj)
}

// srvNetConn is the accepted socket as the frame reader sees it: bytes the
// socket watcher read while a call was blocked are returned first.
type srvNetConn struct {
	net.Conn
	pend    []byte
	pendErr error
}

// SyscallConn gives the frame reader's wire.SetQuickAck the socket's
// descriptor, whichever form the socket has now (see dedicateThread).
func (r *srvNetConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := r.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("manager: the connection has no descriptor")
	}
	return sc.SyscallConn()
}

func (r *srvNetConn) Read(p []byte) (int, error) {
	if len(r.pend) > 0 {
		n := copy(p, r.pend)
		r.pend = r.pend[n:]
		if len(r.pend) == 0 {
			r.pend = nil
		}
		return n, nil
	}
	if r.pendErr != nil {
		return 0, r.pendErr
	}
	return r.Conn.Read(p)
}

// maxPushback bounds what the watcher reads ahead while a call blocks.
const maxPushback = 1 << 20

// srvCall is the request being handled on an object connection. It is how
// a blocking method learns that it must stop: the peer died, the server is
// stopping, or ps_interrupt named it.
type srvCall struct {
	conn *srvConn
	seq  uint64

	// Guarded by conn.mu.
	stop        chan struct{} // made when the call first blocks; closed to stop it
	interrupted bool          // ps_interrupt named this call
	prepared    bool

	watching bool          // the socket watcher runs (conn goroutine only)
	watchNC  net.Conn      // what the watcher reads: the socket, or a duplicate for a threadConn
	watchEnd chan struct{} // closed by the watcher when it exits
	quit     bool          // set before the watcher is told to stop (under conn.mu)
}

func (c *srvCall) reset(seq uint64, interrupted bool) {
	c.seq = seq
	c.stop = nil
	c.interrupted = interrupted
	c.prepared = false
}

// interruptLocked stops the call (ps_interrupt). conn.mu is held.
func (c *srvCall) interruptLocked() {
	c.interrupted = true
	if c.stop != nil {
		select {
		case <-c.stop:
		default:
			close(c.stop)
		}
	}
}

// prepare is called (without object locks) before the call first blocks:
// it flushes replies still buffered, starts watching the socket for the
// peer's death, and makes the stop channel. It returns the stop channel
// (closed on interrupt) and the dead channel (closed when the peer or the
// server is gone).
func (c *srvCall) prepare() (stop, dead <-chan struct{}) {
	conn := c.conn
	if c.prepared {
		return c.stop, conn.dead
	}
	c.prepared = true
	conn.flush()
	conn.mu.Lock()
	c.stop = make(chan struct{})
	if c.interrupted {
		close(c.stop)
	}
	conn.mu.Unlock()
	if !c.watching && conn.rc.pendErr == nil && len(conn.rc.pend) < maxPushback {
		c.watchNC = conn.nc
		if tc := conn.thread(); tc != nil {
			w, err := tc.watchConn()
			if err != nil {
				// Without a watcher a dead peer is noticed when the
				// call ends; interrupts and server stops still work.
				conn.s.log.Warn("manager: cannot watch a blocked call's connection", "err", err)
				return c.stop, conn.dead
			}
			c.watchNC = w
		}
		c.watching = true
		c.quit = false
		c.watchEnd = make(chan struct{})
		go c.watch()
	}
	return c.stop, conn.dead
}

// watch reads from the socket while the call blocks. Data is kept for
// the frame reader; EOF or an error means the peer is gone, which stops
// the call.
func (c *srvCall) watch() {
	conn := c.conn
	defer close(c.watchEnd)
	var buf [4096]byte
	for {
		n, err := c.watchNC.Read(buf[:])
		conn.mu.Lock()
		quit := c.quit
		conn.mu.Unlock()
		if n > 0 {
			conn.rc.pend = append(conn.rc.pend, buf[:n]...)
		}
		if err != nil {
			var ne net.Error
			if quit && errors.As(err, &ne) && ne.Timeout() {
				return
			}
			conn.rc.pendErr = err
			conn.markDead()
			return
		}
		if quit || len(conn.rc.pend) >= maxPushback {
			return
		}
	}
}

// finish ends the call: the watcher, if any, is stopped and waited for, so
// the frame reader owns the socket again.
func (c *srvCall) finish() {
	if !c.watching {
		return
	}
	conn := c.conn
	conn.mu.Lock()
	c.quit = true
	conn.mu.Unlock()
	c.watchNC.SetReadDeadline(time.Unix(1, 0))
	<-c.watchEnd
	if tc := conn.thread(); tc != nil {
		tc.unwatch(c.watchNC)
	} else {
		c.watchNC.SetReadDeadline(time.Time{})
	}
	c.watchNC = nil
	c.watching = false
}

// session is the owner of what the call acquires.
func (c *srvCall) session() srvSession { return c.conn.session }

// trackSession registers obj as holding state for the call's session (lock
// ownership), so that it is told when the session ends.
func (c *srvCall) trackSession(obj srvSessionState) { c.conn.trackState(obj) }

// onFail registers a compensation run if this call's reply cannot be
// delivered (the client died before reading it). It is for grants that end
// with the connection anyway (RLock ownership).
func (c *srvCall) onFail(f func()) {
	c.conn.undo = append(c.conn.undo, srvUndo{seq: c.seq, f: f})
}

// onLost is onFail for grants that outlive the connection (a queue item
// taken by a get goes back to the front, a Lock or Semaphore granted is
// released): on a confirming connection f also runs if the connection ends
// before the client confirms the reply with ps_ack.
func (c *srvCall) onLost(f func()) {
	c.conn.undo = append(c.conn.undo, srvUndo{seq: c.seq, f: f, confirm: true})
}

// stoppedErr is the error a blocking method returns when its wait was
// stopped: InterruptedError for ps_interrupt, errConnGone otherwise.
func (c *srvCall) stoppedErr() error {
	conn := c.conn
	conn.mu.Lock()
	intr := c.interrupted
	conn.mu.Unlock()
	select {
	case <-conn.dead:
		return errConnGone
	default:
	}
	if intr {
		return newExc(excInterrupted, interruptedMessage)
	}
	return errConnGone
}

// errConnGone ends a call whose client is gone, or when the server stops:
// no reply is sent (a partial answer such as None would be wrong) and the
// connection is closed.
var errConnGone = errors.New("manager: connection closed")

// interruptConn implements ps_interrupt: it stops call seq (0: the one
// running now) of object connection id. It reports whether a call was
// interrupted or the interrupt was armed for a call not yet read.
func (s *Server) interruptConn(id string, seq uint64) (bool, error) {
	s.mu.Lock()
	c := s.byID[id]
	s.mu.Unlock()
	if c == nil {
		return false, keyError(id)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case seq == 0 || seq == c.seq:
		if !c.running || (seq == 0 && c.seq == 0) {
			return false, nil
		}
		c.call.interruptLocked()
		return true, nil
	case seq > c.seq:
		c.pendingI = seq
		return true, nil
	}
	return false, nil
}

func (c *srvConn) String() string { return fmt.Sprintf("conn %s (%s)", c.label, c.name) }
