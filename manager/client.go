package manager

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/procshare/procshare/internal/wire"
	"github.com/procshare/procshare/pickle"
)

// Config holds the options of a Client. A nil *Config, and the zero value of
// each field, select the defaults.
type Config struct {
	// MaxConns is the number of connections that non-blocking calls are
	// pipelined on (many goroutines share them, replies are matched in
	// order). Zero means 2.
	MaxConns int

	// MaxIdle is the number of idle dedicated connections kept for blocking
	// calls (Queue.Get, Lock.Lock, Event.Wait …). Zero means 8.
	MaxIdle int

	// MaxFrame is the largest reply, in bytes, the client accepts. Zero
	// means the wire package's default (64 MiB).
	MaxFrame int64

	// PollInterval bounds how long a blocking call waits on the server in
	// one request when the manager is CPython's, which cannot interrupt a
	// call: the call is made with this timeout and repeated until it
	// succeeds or ctx is done, so cancellation takes effect within one
	// interval. Against procshare's server calls block in one request and
	// are interrupted on cancellation. Zero means 200ms.
	PollInterval time.Duration

	// Name is the process name sent when a connection switches to object
	// calls (CPython logs it). Empty means "GoProcess-<pid>".
	Name string

	// DialTimeout bounds the setup of each connection the client opens —
	// connecting, the authentication handshake and, for connections that
	// carry object calls, the first request — when ctx does not end
	// sooner. A peer that is not a manager (a web server, a port that
	// accepts and stays silent) then fails Dial with a *DialError naming
	// the phase it stalled in, rather than hanging. Zero means 10s, as
	// procshare's server allows a client for its handshake; a negative
	// value sets no bound but ctx's.
	DialTimeout time.Duration
}

// defaultDialTimeout is Config.DialTimeout's default.
const defaultDialTimeout = 10 * time.Second

func (cfg *Config) withDefaults() (Config, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.MaxConns < 0 || c.MaxIdle < 0 || c.MaxFrame < 0 || c.PollInterval < 0 {
		return c, errors.New("manager: negative value in Config")
	}
	if c.MaxConns == 0 {
		c.MaxConns = 2
	}
	if c.MaxIdle == 0 {
		c.MaxIdle = 8
	}
	if c.PollInterval == 0 {
		c.PollInterval = 200 * time.Millisecond
	}
	if c.Name == "" {
		c.Name = "GoProcess-" + strconv.Itoa(os.Getpid())
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = defaultDialTimeout
	}
	return c, nil
}

// Client is a connection to one manager server — procshare's own or
// CPython's multiprocessing SyncManager, over TCP or a Unix socket — and the
// factory of proxies to its shared objects.
//
// A Client is safe for concurrent use by any number of goroutines and
// throughput grows with them: non-blocking calls from all goroutines are
// pipelined over a few connections (Config.MaxConns), and every blocking call
// (a Queue get, a Lock acquire, an Event wait …) gets a connection of its own
// for its duration, so it never holds up other calls.
//
// A Client is not process-safe: each process dials its own. Proxies move to
// other processes through ShareFiles/AttachFiles (or PythonValue for Python
// processes) and reconnect there.
//
// The zero value is not usable; create a Client with Dial, DialAddress or
// Start.
type Client struct {
	addr    Address
	authkey []byte
	cfg     Config
	ext     bool // the server is procshare's: ps_* extensions and ps_interrupt
	confirm bool // object connections confirm grants (accept_connection(confirm=True))

	pipeMu sync.Mutex
	pipes  []*clientPipe

	mu       sync.Mutex
	idle     []*clientConn
	refs     map[string]int // references owned by this client's live proxies
	closed   bool
	closeErr error
	wg       sync.WaitGroup     // background work: decrefs from cleanups, re-puts
	life     context.Context    // cancelled by Close
	kill     context.CancelFunc // cancels life
	stop     func() error       // stops an embedded server (Start); may be nil
}

// Dial connects to the manager at address (host:port for TCP, a path for a
// Unix socket; see ParseAddress) with the given authkey. It authenticates,
// opens the first connection and finds out whether the server is procshare's
// (which enables the protocol extensions). A nil cfg selects the defaults.
//
// Dial returns when ctx ends or Config.DialTimeout (10s by default) passes,
// whichever is first, if the peer does not complete the setup. Its errors are
// *DialError values, which name the address and the phase that failed and
// wrap the cause: ctx's error, a network error, or an error matching
// ErrAuthFailed for a wrong authkey.
func Dial(ctx context.Context, address string, authkey []byte, cfg *Config) (*Client, error) {
	a, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	return DialAddress(ctx, a, authkey, cfg)
}

// DialAddress is Dial with an already parsed Address.
func DialAddress(ctx context.Context, addr Address, authkey []byte, cfg *Config) (*Client, error) {
	conf, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if addr.Network != "tcp" && addr.Network != "unix" {
		return nil, fmt.Errorf("manager: unsupported network %q", addr.Network)
	}
	c := &Client{
		addr:    addr,
		authkey: append([]byte(nil), authkey...),
		cfg:     conf,
		refs:    map[string]int{},
	}
	c.life, c.kill = context.WithCancel(context.Background())
	// The first object connection asks for procshare's connection id and
	// confirmed grants; a server that does not know the keywords (CPython's)
	// rejects them and closes that connection, and the next is plain.
	var cc *clientConn
	for _, mode := range []struct{ ps, confirm bool }{{true, true}, {false, false}} {
		cc, err = c.dialObject(ctx, mode.ps, mode.confirm)
		var re *RemoteError
		if err == nil || !errors.As(err, &re) {
			break
		}
	}
	if err != nil {
		c.kill()
		return nil, err
	}
	c.ext, c.confirm = cc.id != "", cc.confirm
	c.pipes = []*clientPipe{newClientPipe(cc)}
	return c, nil
}

// Address returns the address of the manager.
func (c *Client) Address() Address { return c.addr }

// Authkey returns a copy of the authentication key.
func (c *Client) Authkey() []byte { return append([]byte(nil), c.authkey...) }

// Extended reports whether the manager is procshare's server, which offers
// the protocol extensions (Value.Add, Dict.Incr, Queue.GetMany …) and
// interrupts cancelled blocking calls. Against a CPython manager it is false.
func (c *Client) Extended() bool { return c.ext }

// NumObjects returns the number of shared objects the manager holds with a
// nonzero reference count, from every client (the server-level
// number_of_objects, which Python's BaseManager._number_of_objects calls).
// Tests use it to check that references are given back.
func (c *Client) NumObjects(ctx context.Context) (int, error) {
	return intOf(c.serverCall(ctx, "number_of_objects"))
}

// Close releases every reference the client's proxies still hold (as a
// Python process does at exit), closes the connections and, for a client
// made by Start, stops the embedded server. It waits for the client's
// background goroutines. Calls made after Close fail with ErrClosed; calls
// in flight fail with an error wrapping ErrConnLost. Close is idempotent and
// returns the same result every time.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.wg.Wait()
		return c.closeErr
	}
	c.closed = true
	c.kill()
	refs := c.refs
	c.refs = map[string]int{}
	c.mu.Unlock()
	c.wg.Wait()

	if c.stop != nil {
		refs = nil // the embedded server is about to go, objects and all
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	for id, n := range refs {
		for ; n > 0; n-- {
			if _, err := c.serverCall(ctx, "decref", id); err != nil {
				break // the manager is gone or busy: nothing more to do
			}
		}
	}
	cancel()

	c.pipeMu.Lock()
	pipes := c.pipes
	c.pipes = nil
	c.pipeMu.Unlock()
	for _, p := range pipes {
		p.close()
	}
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, cc := range idle {
		cc.close()
	}
	var err error
	if c.stop != nil {
		err = c.stop()
	}
	c.mu.Lock()
	c.closeErr = err
	c.mu.Unlock()
	return err
}

func (c *Client) isClosed() bool { return c.life.Err() != nil }

// ---- connections -----------------------------------------------------------

// clientConn is one authenticated connection, used by one goroutine at a
// time for strict request/reply exchanges (or by a clientPipe).
type clientConn struct {
	wc      *wire.Conn
	id      string       // procshare connection id for ps_interrupt; "" on CPython
	seq     uint64       // object requests sent, numbered as ps_interrupt counts them
	broken  bool         // an exchange failed: the connection must not be reused
	confirm bool         // grants must be confirmed with ps_ack (accept_connection(confirm=True))
	ackBuf  []byte       // the last ps_ack request, reused
	ackArgs pickle.Tuple // ackVal's args, (seq,)
	ackVal  pickle.Value // (None, 'ps_ack', ackArgs, {}), built on the first ack

	// pipe is set while a pipelined connection is lent to a blocking
	// call (see borrowPipe): putConn gives it back to pipelined service.
	pipe *clientPipe
}

func (cc *clientConn) close() { cc.wc.Close() }

// roundTrip sends one request and reads its reply.
func (cc *clientConn) roundTrip(req []byte) (pickle.Value, error) {
	cc.seq++
	if err := cc.wc.WriteFrame(req); err != nil {
		cc.broken = true
		return nil, lostError(err)
	}
	frame, err := cc.wc.ReadFrame()
	if err != nil {
		cc.broken = true
		return nil, lostError(err)
	}
	v, err := decodeReply(frame)
	if errors.Is(err, ErrProtocol) {
		cc.broken = true
	}
	return v, err
}

func lostError(err error) error {
	return fmt.Errorf("%w: %w", ErrConnLost, err)
}

// testHookGrant, when set (by tests), is called with every grant a
// confirming connection received, just before its ps_ack is written.
var testHookGrant func(v pickle.Value)

// ackRequest encodes ps_ack(seq) into cc.ackBuf: the confirmation that the
// replies to cc's requests up to seq have been received, so the server
// keeps what they granted (see PROTOCOL.md §15). The server sends no reply.
func (cc *clientConn) ackRequest(seq uint64) []byte {
	if cc.ackVal == nil {
		// Built once: an ack then costs one allocation (the boxed seq).
		cc.ackArgs = pickle.Tuple{nil}
		cc.ackVal = pickle.Tuple{nil, "ps_ack", cc.ackArgs, emptyKwds}
	}
	cc.ackArgs[0] = int64(seq)
	b, err := pickle.AppendMarshal(cc.ackBuf[:0], cc.ackVal, 4)
	if err != nil { // cannot happen: a tuple of None, a str, an int and a dict
		panic(err)
	}
	cc.ackBuf = b
	return b
}

// ack confirms the grant v that the reply to cc's last request carried,
// on a connection the caller owns. Until the confirmation is written the
// server would give the grant back if the connection ended, so callers
// hand v on only after ack succeeds; when it fails the connection is
// broken and the server gives the grant back.
func (cc *clientConn) ack(v pickle.Value) error {
	if h := testHookGrant; h != nil {
		h(v)
	}
	req := cc.ackRequest(cc.seq)
	cc.seq++
	if err := cc.wc.WriteFrame(req); err != nil {
		cc.broken = true
		return lostError(err)
	}
	return nil
}

// The phases of a connection's setup, as DialError.Phase names them.
const (
	PhaseDial      = "dial"              // connecting
	PhaseChallenge = wire.PhaseChallenge // reading the server's challenge (a manager sends it at once) and answering it
	PhaseWelcome   = wire.PhaseWelcome   // waiting for the server's verdict on the answer (a wrong authkey fails here)
	PhaseVerify    = wire.PhaseVerify    // challenging the server, which must prove it knows the authkey too
	PhaseAccept    = "accept"            // the first request of a connection for object calls (accept_connection)
)

// DialError reports a connection to a manager that could not be set up: the
// manager's address, the phase that failed (PhaseDial, PhaseChallenge,
// PhaseWelcome, PhaseVerify or PhaseAccept) and the cause, which it wraps:
// ctx's error, a network error, a *DialTimeoutError, an error matching
// ErrAuthFailed (a wrong authkey) or a *RemoteError.
type DialError struct {
	Addr  Address
	Phase string
	Err   error
}

func (e *DialError) Error() string {
	detail := e.Err.Error()
	var op *net.OpError
	if errors.As(e.Err, &op) && op.Op == "dial" && op.Err != nil {
		detail = op.Err.Error() // the address is ours to print
	}
	if e.Phase == PhaseChallenge && errors.Is(e.Err, wire.ErrBadHandshake) {
		detail += " (not a manager's challenge: is this a manager?)"
	}
	return fmt.Sprintf("manager: %s %s: %s: %s", e.Addr.Network, e.Addr.Addr, e.Phase, detail)
}

func (e *DialError) Unwrap() error { return e.Err }

// Timeout reports whether the setup ran out of time: Config.DialTimeout,
// ctx's deadline or a network timeout.
func (e *DialError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.Is(e.Err, context.DeadlineExceeded) || errors.As(e.Err, &t) && t.Timeout()
}

// DialTimeoutError is the cause of a DialError when Config.DialTimeout ran
// out (before ctx ended).
type DialTimeoutError struct {
	Timeout time.Duration // the Config.DialTimeout in force
	Phase   string        // the phase it ran out in
}

func (e *DialTimeoutError) Error() string {
	switch e.Phase {
	case PhaseDial:
		return fmt.Sprintf("not connected within %v", e.Timeout)
	case PhaseChallenge:
		return fmt.Sprintf("no challenge within %v: a manager sends one at once; is this a manager?", e.Timeout)
	case PhaseWelcome:
		return fmt.Sprintf("no verdict on our answer within %v", e.Timeout)
	case PhaseVerify:
		return fmt.Sprintf("no answer to our challenge within %v", e.Timeout)
	case PhaseAccept:
		return fmt.Sprintf("no reply to accept_connection within %v (authenticated: a multiprocessing Listener that is not a manager?)", e.Timeout)
	}
	return fmt.Sprintf("no reply within %v", e.Timeout)
}

// Is makes a DialTimeoutError match context.DeadlineExceeded, as other
// deadlines do.
func (e *DialTimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// dialLimit bounds ctx by timeout (none when timeout <= 0); setupError tells
// the two bounds apart.
func dialLimit(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, timeout)
}

// setupError makes the DialError of a setup that failed in phase with err,
// where parent is the caller's ctx and ctx the one bounded by dialLimit: an
// error caused by the end of ctx becomes parent's error, or a
// DialTimeoutError if it was the timeout that ran out.
func setupError(parent, ctx context.Context, timeout time.Duration, addr Address, phase string, err error) *DialError {
	if perr := ctxErr(parent); perr != nil {
		err = perr
	} else if ctxErr(ctx) != nil {
		err = &DialTimeoutError{Timeout: timeout, Phase: phase}
	}
	return &DialError{Addr: addr, Phase: phase, Err: err}
}

// callerErr returns the caller's ctx error in place of a DialError it
// caused, as calls that dial on the way report it; other errors are
// returned as they are.
func callerErr(ctx context.Context, err error) error {
	if cerr := ctxErr(ctx); cerr != nil {
		var de *DialError
		if errors.As(err, &de) && de.Err == cerr {
			return cerr
		}
	}
	return err
}

// dialManager opens a connection to the manager at addr and authenticates
// with authkey. ctx and timeout (Config.DialTimeout; none if <= 0) bound
// the connect and the handshake; errors are *DialError. The server uses it
// too, to take references on other managers (see foreignRefs).
func dialManager(parent context.Context, addr Address, authkey []byte, maxFrame int64, timeout time.Duration) (*clientConn, error) {
	if addr.Network != "tcp" && addr.Network != "unix" {
		return nil, fmt.Errorf("manager: unsupported network %q", addr.Network)
	}
	ctx, cancel := dialLimit(parent, timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, addr.Network, addr.Addr)
	if err != nil {
		return nil, setupError(parent, ctx, timeout, addr, PhaseDial, err)
	}
	wc := wire.NewConn(nc, &wire.Config{MaxFrame: maxFrame})
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	err = wire.ClientHandshake(wc, authkey)
	if !stop() || err != nil {
		nc.Close()
		phase := wire.HandshakePhase(err)
		if phase == "" {
			phase = PhaseVerify // the handshake had succeeded as ctx ended
		}
		if err == nil {
			err = ctxErr(ctx)
		}
		return nil, setupError(parent, ctx, timeout, addr, phase, err)
	}
	nc.SetDeadline(time.Time{})
	return &clientConn{wc: wc}, nil
}

// dialObject opens a connection for object calls (accept_connection). With
// ps set it asks procshare's server for the connection's id, with confirm
// for confirmed grants; a CPython server answers either with a
// RemoteError. Errors are *DialError.
func (c *Client) dialObject(parent context.Context, ps, confirm bool) (*clientConn, error) {
	ctx, cancel := dialLimit(parent, c.cfg.DialTimeout)
	defer cancel()
	// dialManager's own bound would end with ctx's: ctx is the one bound.
	cc, err := dialManager(ctx, c.addr, c.authkey, c.cfg.MaxFrame, 0)
	if err != nil {
		var de *DialError
		if errors.As(err, &de) {
			err = setupError(parent, ctx, c.cfg.DialTimeout, c.addr, de.Phase, de.Err)
		}
		return nil, err
	}
	var kwds *pickle.Dict
	if ps || confirm {
		kwds = pickle.NewDict()
		if ps {
			kwds.Set("ps", true)
		}
		if confirm {
			kwds.Set("confirm", true)
		}
	}
	v, err := cc.exchange(ctx, nil, "accept_connection", pickle.Tuple{c.cfg.Name}, kwds)
	if err == nil && cc.broken { // ctx ended during the exchange
		if err = ctxErr(ctx); err == nil {
			err = ErrConnLost
		}
	}
	if err != nil {
		cc.close()
		return nil, setupError(parent, ctx, c.cfg.DialTimeout, c.addr, PhaseAccept, err)
	}
	if id, ok := v.(string); ok {
		cc.id = id
	}
	cc.confirm = confirm
	cc.seq = 0 // the server numbers the object requests that follow
	return cc, nil
}

// exchange makes one request on cc, a connection the caller owns, aborting
// it if ctx ends (the connection is then broken).
func (cc *clientConn) exchange(ctx context.Context, ident pickle.Value, method string, args pickle.Tuple, kwds *pickle.Dict) (pickle.Value, error) {
	req, err := encodeRequest(ident, method, args, kwds)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { cc.wc.SetDeadline(time.Unix(1, 0)) })
	v, err := cc.roundTrip(req.b)
	req.free()
	if !stop() {
		cc.broken = true
		if err != nil {
			return nil, ctx.Err()
		}
	}
	return v, err
}

// isRemote reports whether err is a *RemoteError (a reply).
func isRemote(err error) bool {
	_, ok := err.(*RemoteError)
	return ok
}

// ctxErr is ctx.Err(), except that a deadline in the past counts even before
// ctx's timer has fired (a socket deadline set from it may expire first).
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// serverCall makes a server-level request on a connection of its own, as
// CPython clients do for create, incref and decref (the server closes such
// connections after the reply).
func (c *Client) serverCall(ctx context.Context, method string, args ...pickle.Value) (pickle.Value, error) {
	return c.serverCallKw(ctx, method, args, nil)
}

func (c *Client) serverCallKw(ctx context.Context, method string, args pickle.Tuple, kwds *pickle.Dict) (pickle.Value, error) {
	return managerCall(ctx, c.addr, c.authkey, c.cfg.MaxFrame, c.cfg.DialTimeout, method, args, kwds)
}

// managerCall makes one server-level request to the manager at addr on a
// connection of its own, closed after the reply. dialTimeout bounds the
// connection's setup (see dialManager).
func managerCall(ctx context.Context, addr Address, authkey []byte, maxFrame int64, dialTimeout time.Duration, method string, args pickle.Tuple, kwds *pickle.Dict) (pickle.Value, error) {
	cc, err := dialManager(ctx, addr, authkey, maxFrame, dialTimeout)
	if err != nil {
		return nil, callerErr(ctx, err)
	}
	defer cc.close()
	return cc.exchange(ctx, nil, method, args, kwds)
}

// getConn returns a connection for a blocking call: an idle dedicated
// one, else a pipelined one that has no call in flight (borrowPipe), else a
// new one.
func (c *Client) getConn(ctx context.Context) (*clientConn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if n := len(c.idle); n > 0 {
		cc := c.idle[n-1]
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		return cc, nil
	}
	c.mu.Unlock()
	if cc := c.borrowPipe(); cc != nil {
		return cc, nil
	}
	cc, err := c.dialObject(ctx, c.ext, c.confirm)
	return cc, callerErr(ctx, err)
}

// borrowPipe takes a pipelined connection with no call in flight out of
// pipelined service, for a blocking call; putConn gives it back. A process
// whose one goroutine takes a lock (a child of the seed's program) thus
// needs one connection, not two. Calls made meanwhile by other goroutines
// use the other pipelined connections, or dial one.
func (c *Client) borrowPipe() *clientConn {
	c.pipeMu.Lock()
	defer c.pipeMu.Unlock()
	for i, p := range c.pipes {
		// inflight counts the calls that picked p (pipe increments
		// it under pipeMu), so 0 means nobody uses or is about to use
		// p's connection.
		if p.inflight.Load() == 0 && !p.failed() {
			c.pipes = append(c.pipes[:i], c.pipes[i+1:]...)
			p.cc.pipe = p
			return p.cc
		}
	}
	return nil
}

// putConn gives a connection back after a blocking call (or closes it).
func (c *Client) putConn(cc *clientConn) {
	if p := cc.pipe; p != nil {
		cc.pipe = nil
		if !cc.broken {
			c.pipeMu.Lock()
			if !c.isClosed() {
				c.pipes = append(c.pipes, p)
				c.pipeMu.Unlock()
				return
			}
			c.pipeMu.Unlock()
		}
		p.close()
		return
	}
	if cc.broken {
		cc.close()
		return
	}
	c.mu.Lock()
	if c.closed || len(c.idle) >= c.cfg.MaxIdle {
		c.mu.Unlock()
		cc.close()
		return
	}
	c.idle = append(c.idle, cc)
	c.mu.Unlock()
}

// ---- requests and replies --------------------------------------------------

var emptyKwds = pickle.NewDict() // never modified

// request is an encoded request in a pooled buffer.
type request struct{ b []byte }

var requestPool = sync.Pool{New: func() any { return &request{b: make([]byte, 0, 256)} }}

// encodeRequest pickles (ident, method, args, kwds); give the request back
// with free once it has been written.
func encodeRequest(ident pickle.Value, method string, args pickle.Tuple, kwds *pickle.Dict) (*request, error) {
	if args == nil {
		args = pickle.Tuple{}
	}
	if kwds == nil {
		kwds = emptyKwds
	}
	r := requestPool.Get().(*request)
	b, err := pickle.AppendMarshal(r.b[:0], pickle.Tuple{ident, method, args, kwds}, 4)
	if err != nil {
		requestPool.Put(r)
		return nil, fmt.Errorf("manager: %s: %w", method, err)
	}
	r.b = b
	return r, nil
}

// free returns r to the pool (unless it grew large).
func (r *request) free() {
	if cap(r.b) <= 64<<10 {
		requestPool.Put(r)
	}
}

// proxyReply is the result of a call the server answered with #PROXY: a new
// shared object (with one reference, now ours) returned by a method such as
// dict.__iter__.
type proxyReply struct {
	exposed []string
	token   Token
}

// decodeReply unpickles a reply and turns it into a result or an error.
func decodeReply(frame []byte) (pickle.Value, error) {
	v, err := pickle.Unmarshal(frame)
	if err != nil {
		return nil, fmt.Errorf("%w: undecodable reply: %w", ErrProtocol, err)
	}
	t, ok := v.(pickle.Tuple)
	if !ok || len(t) != 2 {
		return nil, fmt.Errorf("%w: reply %.100s is not a (kind, payload) pair", ErrProtocol, pickle.Repr(v))
	}
	kind, _ := t[0].(string)
	switch kind {
	case "#RETURN":
		return t[1], nil
	case "#ERROR":
		return nil, remoteErrorFrom(t[1])
	case "#TRACEBACK", "#UNSERIALIZABLE":
		s, ok := t[1].(string)
		if !ok {
			return nil, fmt.Errorf("%w: %s payload is %s, not str", ErrProtocol, kind, pickle.TypeName(t[1]))
		}
		if kind == "#UNSERIALIZABLE" {
			s = "Unserializable message: " + s
		}
		return nil, remoteErrorFromTraceback(s)
	case "#PROXY":
		p, ok := t[1].(pickle.Tuple)
		if ok && len(p) == 2 {
			tok, err := tokenFromValue(p[1])
			if err == nil {
				return proxyReply{exposed: stringsOf(p[0]), token: tok}, nil
			}
		}
		return nil, fmt.Errorf("%w: bad #PROXY payload %.100s", ErrProtocol, pickle.Repr(t[1]))
	}
	return nil, fmt.Errorf("%w: unrecognized reply kind %.40s", ErrProtocol, pickle.Repr(t[0]))
}

// stringsOf returns the strs of a tuple or list (an exposed list).
func stringsOf(v pickle.Value) []string {
	items, _ := sequenceOf(v)
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// sequenceOf returns the items of a list or tuple, including the
// builtins.list(...) form CPython uses for dict views.
func sequenceOf(v pickle.Value) ([]pickle.Value, bool) {
	switch s := v.(type) {
	case *pickle.List:
		return s.Items, true
	case pickle.Tuple:
		return s, true
	case *pickle.Object:
		if g, ok := s.Callable.(pickle.Global); ok && g.Module == "builtins" &&
			(g.Name == "list" || g.Name == "tuple") && !s.New && len(s.Args) == 1 {
			return sequenceOf(s.Args[0])
		}
	}
	return nil, false
}

// ---- calls -----------------------------------------------------------------

// callGrant makes a non-blocking method call on shared object ident,
// pipelined with other goroutines' calls. ctx is checked before the request
// is sent; once sent, the call waits for its reply (the server answers it
// without waiting for anything), so a call never returns while its effect
// is undecided. When the reply grants something (an item taken, a lock
// acquired: granted, if not nil, tells from the reply) a confirming
// connection confirms it with ps_ack before the call returns.
func (c *Client) callGrant(ctx context.Context, granted grantTest, ident pickle.Value, method string, args pickle.Tuple, kwds *pickle.Dict) (pickle.Value, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	req, err := encodeRequest(ident, method, args, kwds)
	if err != nil {
		return nil, err
	}
	p, err := c.pipe(ctx)
	if err != nil {
		req.free()
		return nil, err
	}
	v, err := p.call(req.b, granted)
	if err == nil || isRemote(err) {
		req.free() // written: a reply came after it
	}
	return v, err
}

// grantTest reports whether a reply granted something that outlives the
// connection (a queue item, a Lock or Semaphore acquisition), which a
// confirming connection confirms with ps_ack.
type grantTest func(v pickle.Value, err error) bool

// grantedItems is the grantTest of queue gets: every result is an item.
func grantedItems(_ pickle.Value, err error) bool { return err == nil }

// grantedTrue is the grantTest of acquire: True is a grant.
func grantedTrue(v pickle.Value, err error) bool { return err == nil && v == true }

// pipe picks the pipelined connection with the fewest calls in flight,
// dialling another one while fewer than MaxConns exist and all are busy.
// The call is counted in the pipe's inflight at once (the caller's
// clientPipe.call takes it over).
func (c *Client) pipe(ctx context.Context) (*clientPipe, error) {
	c.pipeMu.Lock()
	defer c.pipeMu.Unlock()
	if c.isClosed() {
		return nil, ErrClosed
	}
	var best *clientPipe
	live := c.pipes[:0]
	for _, p := range c.pipes {
		if p.failed() {
			p.close()
			continue
		}
		live = append(live, p)
		if best == nil || p.inflight.Load() < best.inflight.Load() {
			best = p
		}
	}
	clear(c.pipes[len(live):])
	c.pipes = live
	if best != nil && (best.inflight.Load() == 0 || len(c.pipes) >= c.cfg.MaxConns) {
		best.inflight.Add(1)
		return best, nil
	}
	cc, err := c.dialObject(ctx, c.ext, c.confirm)
	if err != nil {
		if best != nil {
			best.inflight.Add(1)
			return best, nil
		}
		return nil, callerErr(ctx, err)
	}
	p := newClientPipe(cc)
	p.inflight.Add(1)
	c.pipes = append(c.pipes, p)
	return p, nil
}

// clientPipe is a connection shared by many goroutines for non-blocking
// calls. Replies come back in request order; there is no reader goroutine:
// the caller whose call is oldest reads replies, handing each to its caller,
// until it has its own, and then passes the reading on to the caller of the
// oldest call still pending. A lone caller thus writes its request and
// reads its reply itself, like a plain request/reply client.
//
// Requests are batched like Nagle's algorithm batches segments: a call made
// while no other call is in flight is written at once; a call made while
// others are in flight is queued, and the reader writes the whole queue in
// one go before it next waits for a reply (a reply is on its way, so the
// queue waits at most one round trip). Many goroutines therefore share each
// write and each read, and the server answers a batch with one write too.
//
// On a confirming connection the reader confirms the grants it reads (see
// grantTest) with one ps_ack, written with the queue, before it hands them
// to their callers: a grant a caller has is one the server keeps.
type clientPipe struct {
	cc       *clientConn
	inflight atomic.Int64 // calls that picked the pipe and have not returned

	mu      sync.Mutex
	queue   [][]byte      // requests not yet written
	spare   [][]byte      // the previous queue, reused
	writing bool          // a caller is writing the queue out
	wrote   sync.Cond     // broadcast when a batch is written or the pipe fails
	written uint64        // the sequence number of the last batch's last request, once written
	pending []*clientCall // calls sent (or queued), oldest first
	reading bool          // a caller is reading replies
	granted uint64        // the last reply read that granted something
	acked   uint64        // the last reply confirmed (its ps_ack queued)
	err     error         // sticky: the connection failed
}

// clientCall is one call in flight on a clientPipe. Its caller waits on
// wake, which says either that the result is in val/err or that the caller
// must now read replies (turn).
type clientCall struct {
	wake    chan bool // true: your turn to read; false: result ready
	pending bool      // in clientPipe.pending (guarded by its mu)
	granted grantTest // on a confirming connection; else nil
	seq     uint64    // the request's sequence number on the connection
	val     pickle.Value
	err     error
}

var callPool = sync.Pool{New: func() any { return &clientCall{wake: make(chan bool, 1)} }}

func newClientPipe(cc *clientConn) *clientPipe {
	p := &clientPipe{cc: cc}
	p.wrote.L = &p.mu
	return p
}

func (p *clientPipe) failed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err != nil
}

func (p *clientPipe) call(req []byte, granted grantTest) (pickle.Value, error) {
	cl := callPool.Get().(*clientCall)
	p.mu.Lock()
	if p.err != nil {
		err := p.err
		p.mu.Unlock()
		p.inflight.Add(-1)
		callPool.Put(cl)
		return nil, err
	}
	cl.pending = true
	p.pending = append(p.pending, cl)
	p.queue = append(p.queue, req)
	cl.seq = p.cc.seq + uint64(len(p.queue))
	cl.granted = nil
	if p.cc.confirm {
		cl.granted = granted
	}
	if len(p.pending) == 1 {
		// Nothing in flight: no reply is coming that would make a
		// reader write the queue, so write it now.
		p.writeQueueLocked()
	}
	read := false
	if cl.pending && !p.reading && p.err == nil {
		// Nobody reads (and while this caller was writing, nobody read
		// its reply either): take the reading.
		p.reading, read = true, true
	}
	p.mu.Unlock()
	for {
		if read {
			p.readUntil(cl)
			break
		}
		if turn := <-cl.wake; !turn {
			break
		}
		read = true
	}
	v, err := cl.val, cl.err
	cl.val, cl.err = nil, nil
	select { // a failure's wake-up that nobody waited for
	case <-cl.wake:
	default:
	}
	callPool.Put(cl)
	return v, err
}

// writeQueueLocked writes the queued requests, unless another caller is
// writing them already (it writes what is queued meanwhile too). p.mu is
// held; it is released during the writes.
func (p *clientPipe) writeQueueLocked() {
	if p.writing {
		return
	}
	p.writing = true
	for len(p.queue) > 0 && p.err == nil {
		q := p.queue
		p.queue = p.spare[:0]
		p.cc.seq += uint64(len(q)) // as the server will number them
		end := p.cc.seq
		p.mu.Unlock()
		var err error
		for _, r := range q {
			if err = p.cc.wc.BufferFrame(r); err != nil {
				break
			}
		}
		if err == nil {
			err = p.cc.wc.Flush()
		}
		clear(q)
		p.mu.Lock()
		p.spare = q[:0]
		if err != nil {
			p.failLocked(lostError(err))
		} else {
			p.written = end
			p.wrote.Broadcast()
		}
	}
	p.writing = false
}

// confirmLocked confirms the grants read so far, if any is unconfirmed:
// it queues a ps_ack, writes the queue and waits until the ps_ack is
// written (another caller may be writing the queue). Then, or when the
// pipe fails, it hands the held calls their results: a grant whose
// confirmation could not be written becomes the pipe's error, since the
// server gives it back. p.mu is held; it is released during the write.
func (p *clientPipe) confirmLocked(held []*clientCall) {
	if p.granted > p.acked && p.err == nil {
		p.queue = append(p.queue, p.cc.ackRequest(p.granted))
		p.acked = p.granted
		seq := p.cc.seq + uint64(len(p.queue))
		p.writeQueueLocked()
		for p.err == nil && p.written < seq {
			p.wrote.Wait()
		}
	}
	for _, cl := range held {
		if p.err != nil {
			cl.val, cl.err = nil, p.err
		}
		p.inflight.Add(-1)
		cl.wake <- false
	}
}

// readUntil reads replies, delivering each to its call, until it has read
// own's. The caller holds the reading role, and passes it on when done.
// Before each wait for a reply it writes the requests queued meanwhile.
// When the connection fails, every pending call (own included) gets the
// error. Grants read are confirmed before they are delivered (see
// confirmLocked): their calls are held until then.
func (p *clientPipe) readUntil(own *clientCall) {
	var held []*clientCall
	for {
		if p.cc.wc.Buffered() == 0 {
			p.mu.Lock()
			p.confirmLocked(held)
			held = held[:0]
			if len(p.queue) > 0 {
				p.writeQueueLocked()
			}
			p.mu.Unlock()
		}
		frame, err := p.cc.wc.ReadFrame()
		if err != nil {
			p.mu.Lock()
			p.failLocked(lostError(err))
			p.confirmLocked(held)
			p.mu.Unlock()
			return
		}
		v, err := decodeReply(frame)
		p.mu.Lock()
		if len(p.pending) == 0 { // own was failed meanwhile, or a stray reply
			p.failLocked(fmt.Errorf("%w: reply without a request", ErrProtocol))
			p.confirmLocked(held)
			p.mu.Unlock()
			return
		}
		cl := p.pending[0]
		cl.pending = false
		p.pending[0] = nil
		p.pending = p.pending[1:]
		if len(p.pending) == 0 {
			p.pending = p.pending[:0:0]
		}
		cl.val, cl.err = v, err
		if errors.Is(err, ErrProtocol) {
			// The stream cannot be trusted any more.
			p.inflight.Add(-1)
			p.failLocked(err)
			p.confirmLocked(held)
			p.mu.Unlock()
			if cl != own {
				cl.wake <- false
			}
			return
		}
		grant := cl.granted != nil && cl.granted(v, err)
		if grant {
			if h := testHookGrant; h != nil {
				h(v)
			}
			p.granted = cl.seq
		}
		if cl != own {
			if grant {
				held = append(held, cl)
				p.mu.Unlock()
				continue
			}
			p.inflight.Add(-1)
			p.mu.Unlock()
			cl.wake <- false
			continue
		}
		// Done: confirm, then pass the reading on to the oldest pending
		// call.
		p.confirmLocked(held)
		if grant && p.err != nil {
			own.val, own.err = nil, p.err
		}
		p.inflight.Add(-1)
		if len(p.pending) > 0 {
			p.pending[0].wake <- true
		} else {
			p.reading = false
		}
		p.mu.Unlock()
		return
	}
}

// failLocked marks the pipe failed, closes its connection and fails every
// pending call. p.mu is held. A call whose wake already holds its turn to
// read finds the error when it tries to read.
func (p *clientPipe) failLocked(err error) {
	if p.err == nil {
		p.err = err
		p.cc.close()
	}
	for _, cl := range p.pending {
		p.inflight.Add(-1)
		cl.pending = false
		cl.val, cl.err = nil, p.err
		select {
		case cl.wake <- false:
		default:
		}
	}
	p.pending = nil
	p.queue = nil
	p.reading = false
	p.wrote.Broadcast()
}

// close closes the connection; calls in flight fail.
func (p *clientPipe) close() {
	p.mu.Lock()
	p.failLocked(ErrClosed)
	p.mu.Unlock()
}
