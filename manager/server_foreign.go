package manager

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/procshare/procshare/pickle"
)

// Foreign proxies: references this server holds on other managers.
//
// A client may store a proxy to an object of another manager (server B) in
// one of our objects: d = M.dict(); d['q'] = m2.Queue(). CPython's server
// unpickles such a value into a real proxy, whose constructor increfs the
// object on B over a new connection (authenticated with the process's
// authkey) and whose finalizer decrefs it when the value is dropped; so B
// keeps the object alive although the client dropped its own proxy.
// procshare's objects keep values pickled, so the server takes the same
// reference itself, but only on the managers ServerConfig.Foreign allows,
// with its key (never the server's own: see ForeignConfig):
//
//   - Before a request's method runs, objectCall (and create) pin every
//     foreign proxy found in the arguments: the first pin of a token queues
//     an incref on B and the call waits for it (bounded by foreignTimeout),
//     without any object lock held. The reply, after which the client may
//     decref its own proxy, therefore never reaches the client before B
//     counted our reference, as in CPython, where the incref happens while
//     the request is unpickled.
//   - srvTable.hold and release count the stored copies of a token (under
//     object locks: they only count and queue, never touch the network).
//     One reference on B covers any number of copies; a hold that finds no
//     reference wanted yet (a value stored without a pin) queues an incref.
//   - The pins are dropped when the call returns. A token left with no use
//     at all is given back: at once when only the call used it (the value
//     was looked up, not stored) or when the object storing it was freed,
//     after lingerDelay when a stored value was removed from a live object,
//     since that value is usually on its way to a client that will incref
//     it itself (the rule local objects follow too).
//
// Increfs and decrefs run on a small pool of background goroutines
// (foreignWorkers), each one-shot connection bounded by foreignTimeout.
// Operations on one remote address are run by one goroutine at a time, in
// the order they were queued, so an incref and the decref that undoes it
// never overtake each other, and an unreachable server delays only its own
// operations. A failure (no server, a wrong key, an error reply) is logged
// and leaves the value stored without a reference on B: reading it back
// then fails on B, as it did before the server took references.
//
// When the server stops, every reference still held is given back
// (best effort, within foreignCloseTimeout), queued increfs are dropped,
// and the goroutines end; Close waits for them.
type foreignRefs struct {
	s     *Server
	key   []byte             // ForeignConfig.Authkey; nil: no foreign references
	allow map[Address]bool   // ForeignConfig.Allow, as tokens spell addresses
	life  context.Context    // cancelled foreignCloseTimeout after the server stops
	kill  context.CancelFunc // cancels life

	mu       sync.Mutex
	refs     map[foreignKey]*foreignRef
	queues   map[Address][]foreignOp // pending operations per remote address, in order
	ready    []Address               // addresses with operations and no goroutine running them
	workers  int                     // running goroutines
	stopping bool                    // the server stopped: no more increfs
	wg       sync.WaitGroup          // the workers
}

// Limits of the remote calls.
var (
	// foreignTimeout bounds one incref or decref on another server
	// (connect, handshake, request and reply), and how long a request
	// waits for the incref of a foreign proxy in its arguments.
	foreignTimeout = 5 * time.Second
	// foreignCloseTimeout bounds giving back the references when the
	// server stops.
	foreignCloseTimeout = 2 * time.Second
)

// foreignWorkers is how many remote addresses are served at once.
const foreignWorkers = 4

// foreignKey names an object of another manager.
type foreignKey struct {
	addr Address
	id   string
}

// foreignRef is the state of one foreign object. Guarded by foreignRefs.mu.
type foreignRef struct {
	uses   int           // stored copies (holds) plus calls in flight that pinned it
	want   bool          // a reference on its server is held or queued (no decref queued after the incref)
	held   int           // increfs its server acknowledged, minus decrefs sent
	queued int           // operations queued or running for it
	incref chan struct{} // closed when the last queued incref has run; nil if none pending
	gen    uint64        // bumped whenever uses leaves 0: cancels a pending linger
}

// foreignOp is one queued remote call.
type foreignOp struct {
	key    foreignKey
	incref bool          // incref, else decref
	done   chan struct{} // increfs: closed when it has run (or was dropped)
}

func (f *foreignRefs) init(s *Server, cfg *ForeignConfig) error {
	f.s = s
	if cfg != nil {
		if len(cfg.Authkey) == 0 {
			return errors.New("manager: ForeignConfig.Authkey is required")
		}
		if bytes.Equal(cfg.Authkey, s.authkey) {
			return errors.New("manager: ForeignConfig.Authkey must differ from the server's Authkey (a server that proves its own key to other managers lets them log in to it; PROTOCOL.md §11.1)")
		}
		if len(cfg.Allow) == 0 {
			return errors.New("manager: ForeignConfig.Allow lists no manager")
		}
		f.key = append([]byte(nil), cfg.Authkey...)
		f.allow = make(map[Address]bool, len(cfg.Allow))
		for _, a := range cfg.Allow {
			if a.Network != "tcp" && a.Network != "unix" {
				return fmt.Errorf("manager: ForeignConfig.Allow: address %q has unknown network %q", a.Addr, a.Network)
			}
			f.allow[tokenSpelling(a)] = true
		}
	}
	f.life, f.kill = context.WithCancel(context.Background())
	f.refs = make(map[foreignKey]*foreignRef)
	f.queues = make(map[Address][]foreignOp)
	return nil
}

// allowed reports whether the server takes references on the manager at a.
// Safe from any goroutine: allow is read-only after init.
func (f *foreignRefs) allowed(a Address) bool { return f.allow[a] }

// pin takes a use of every foreign proxy in args and kw, for the duration
// of a call, and waits until the references on their servers have been
// requested and answered (or foreignTimeout passed). It returns the pinned
// keys, for unpin. No lock may be held: it blocks on the network.
func (f *foreignRefs) pin(args pickle.Tuple, kw *pickle.Dict) []foreignKey {
	if f.allow == nil {
		return nil
	}
	// The common case, scalar arguments, must stay free of allocations.
	scalar := kw == nil || kw.Len() == 0
	for _, a := range args {
		if !scalar {
			break
		}
		scalar = !mayContainProxy(a)
	}
	if scalar {
		return nil
	}
	return f.pinWalk(args, kw)
}

// pinWalk is pin for arguments that may contain proxies.
func (f *foreignRefs) pinWalk(args pickle.Tuple, kw *pickle.Dict) []foreignKey {
	var keys []foreignKey
	collect := func(tok Token) {
		if f.s.isLocal(tok.Address) {
			return
		}
		if !f.allowed(tok.Address) {
			f.s.log.Debug("manager: no reference taken on a manager outside ForeignConfig.Allow",
				"address", tok.Address.String(), "id", tok.ID)
			return
		}
		k := foreignKey{tok.Address, tok.ID}
		for _, have := range keys {
			if have == k {
				return
			}
		}
		keys = append(keys, k)
	}
	for _, a := range args {
		if mayContainProxy(a) {
			walkProxies(a, collect)
		}
	}
	if kw != nil && kw.Len() > 0 {
		walkProxies(kw, collect)
	}
	if len(keys) == 0 {
		return nil
	}
	var waits []chan struct{}
	f.mu.Lock()
	for _, k := range keys {
		if ch := f.useLocked(k); ch != nil {
			waits = append(waits, ch)
		}
	}
	f.mu.Unlock()
	if len(waits) > 0 {
		timer := time.NewTimer(foreignTimeout)
		defer timer.Stop()
		for _, ch := range waits {
			select {
			case <-ch:
			case <-timer.C:
				f.s.log.Warn("manager: reply sent before the incref of a foreign proxy completed", "timeout", foreignTimeout)
				return keys
			case <-f.s.done:
				return keys
			}
		}
	}
	return keys
}

// unpin drops the uses pin took. A token no stored value kept is given
// back at once.
func (f *foreignRefs) unpin(keys []foreignKey) {
	f.mu.Lock()
	for _, k := range keys {
		f.unuseLocked(k, false)
	}
	f.mu.Unlock()
}

// hold counts a stored copy of a foreign proxy (srvTable.hold; object locks
// may be held).
func (f *foreignRefs) hold(tok Token) {
	if !f.allowed(tok.Address) {
		return
	}
	f.mu.Lock()
	f.useLocked(foreignKey{tok.Address, tok.ID})
	f.mu.Unlock()
}

// release is the inverse of hold (srvTable.release; object locks may be
// held). The last copy's reference is given back after lingerDelay if
// linger is set, else at once.
func (f *foreignRefs) release(tok Token, linger bool) {
	if !f.allowed(tok.Address) {
		return
	}
	f.mu.Lock()
	f.unuseLocked(foreignKey{tok.Address, tok.ID}, linger)
	f.mu.Unlock()
}

// useLocked adds a use of k, queueing an incref if no reference is wanted
// yet. It returns the channel of the pending incref, if any. f.mu is held.
func (f *foreignRefs) useLocked(k foreignKey) chan struct{} {
	r := f.refs[k]
	if r == nil {
		r = &foreignRef{}
		f.refs[k] = r
	}
	if r.uses == 0 {
		r.gen++
	}
	r.uses++
	if !r.want && f.enqueueLocked(foreignOp{key: k, incref: true, done: make(chan struct{})}, r) {
		r.want = true
	}
	return r.incref
}

// unuseLocked drops a use of k. At zero the reference is given back, after
// lingerDelay if linger is set. f.mu is held.
func (f *foreignRefs) unuseLocked(k foreignKey, linger bool) {
	r := f.refs[k]
	if r == nil || r.uses == 0 {
		return
	}
	r.uses--
	if r.uses > 0 {
		return
	}
	if !linger {
		f.dropLocked(k, r)
		return
	}
	gen := r.gen
	time.AfterFunc(lingerDelay, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.refs[k] == r && r.uses == 0 && r.gen == gen {
			f.dropLocked(k, r)
		}
	})
}

// dropLocked gives back the reference of k, which has no uses: it queues a
// decref if a reference is wanted, and forgets k when nothing is pending.
// f.mu is held.
func (f *foreignRefs) dropLocked(k foreignKey, r *foreignRef) {
	if r.want && f.enqueueLocked(foreignOp{key: k}, r) {
		r.want = false
	}
	f.forgetLocked(k, r)
}

// forgetLocked deletes r once it has no uses, wants no reference and has
// nothing pending. f.mu is held.
func (f *foreignRefs) forgetLocked(k foreignKey, r *foreignRef) {
	if r.uses == 0 && !r.want && r.queued == 0 && f.refs[k] == r {
		delete(f.refs, k)
	}
}

// enqueueLocked queues op for its address and makes sure a worker will run
// it. It reports false if the op was refused: an incref once the server
// stopped. f.mu is held.
func (f *foreignRefs) enqueueLocked(op foreignOp, r *foreignRef) bool {
	if op.incref && f.stopping {
		return false
	}
	r.queued++
	if op.incref {
		r.incref = op.done
	}
	a := op.key.addr
	q, busy := f.queues[a]
	f.queues[a] = append(q, op)
	if !busy {
		f.ready = append(f.ready, a)
		if f.workers < foreignWorkers {
			f.workers++
			f.wg.Add(1)
			go f.work()
		}
	}
	return true
}

// work runs queued operations, one address at a time, until none is
// ready.
func (f *foreignRefs) work() {
	defer f.wg.Done()
	f.mu.Lock()
	for len(f.ready) > 0 {
		a := f.ready[0]
		f.ready = f.ready[1:]
		for {
			q := f.queues[a]
			if len(q) == 0 {
				delete(f.queues, a)
				break
			}
			op := q[0]
			f.queues[a] = q[1:]
			f.mu.Unlock()
			f.run(op)
			f.mu.Lock()
		}
	}
	f.workers--
	f.mu.Unlock()
}

// run performs one queued operation (f.mu is not held) and records its
// outcome.
func (f *foreignRefs) run(op foreignOp) {
	f.mu.Lock()
	r := f.refs[op.key]
	call := true
	switch {
	case op.incref && f.stopping:
		call = false // the server's objects are gone
	case !op.incref && r.held == 0:
		call = false // the incref failed or was dropped: nothing to give back
	case !op.incref:
		r.held-- // given back whether or not the decref gets through
	}
	f.mu.Unlock()

	var err error
	if call {
		err = f.call(op)
	}

	f.mu.Lock()
	if call && op.incref && err == nil {
		r.held++
	}
	r.queued--
	if op.incref && r.incref == op.done {
		r.incref = nil
	}
	f.forgetLocked(op.key, r)
	f.mu.Unlock()
	if op.done != nil {
		close(op.done)
	}
}

// call makes the remote incref or decref, bounded by foreignTimeout.
func (f *foreignRefs) call(op foreignOp) error {
	method := "decref"
	if op.incref {
		method = "incref"
	}
	ctx, cancel := context.WithTimeout(f.life, foreignTimeout)
	defer cancel()
	_, err := managerCall(ctx, op.key.addr, f.key, 0, 0, method, pickle.Tuple{op.key.id}, nil)
	if err != nil {
		if op.incref {
			f.s.log.Warn("manager: cannot take a reference on another manager for a stored proxy",
				"address", op.key.addr.String(), "id", op.key.id, "err", err)
		} else {
			f.s.log.Debug("manager: decref on another manager failed",
				"address", op.key.addr.String(), "id", op.key.id, "err", err)
		}
	}
	return err
}

// stop gives back every reference (the server's objects are dropped with
// it) and refuses further increfs. The decrefs run in the background,
// bounded by foreignCloseTimeout; wait waits for them.
func (f *foreignRefs) stop() {
	f.mu.Lock()
	f.stopping = true
	for k, r := range f.refs {
		r.uses = 0
		f.dropLocked(k, r)
	}
	f.mu.Unlock()
	time.AfterFunc(foreignCloseTimeout, f.kill)
}

// wait waits for the workers to finish after stop.
func (f *foreignRefs) wait() {
	f.wg.Wait()
	f.kill()
}

// ownAddrs is the set of addresses of the server's listeners, as the tokens
// it hands out carry them (addressFromValue of the pickled address).
type ownAddrs []Address

// isLocal reports whether a names one of this server's listeners, as
// listened on or as a client on this machine may spell it (see
// addOwnLocked): a token with such an address is one of ours. Any other
// address names another manager. Safe from any goroutine, lock-free.
func (s *Server) isLocal(a Address) bool {
	p := s.own.Load()
	if p == nil {
		return false
	}
	for _, o := range *p {
		if o == a {
			return true
		}
	}
	return false
}

// tokenSpelling returns a as a token that names it carries it, so that
// addresses compare equal to tokens' (a TCP host:port is rebuilt from its
// (host, port) pair).
func tokenSpelling(a Address) Address {
	if t, err := addressFromValue(a.pickleValue()); err == nil {
		return t
	}
	return a
}

// addOwnLocked records a listener address for isLocal, with the other
// spellings of it that a client on this machine may have connected with
// (and so put in the tokens it pickles: CPython clients build tokens with
// their own spelling of the address). s.mu is held.
func (s *Server) addOwnLocked(a Address) {
	next := ownAddrs{tokenSpelling(a)}
	next = append(next, ownSpellings(a)...)
	if p := s.own.Load(); p != nil {
		next = append(next, *p...)
	}
	s.own.Store(&next)
}

// ownSpellings returns the other names of a TCP listener's address that
// reach it from this machine: localhost and the loopback address of its
// family (127.0.0.1, ::1) for a listener on a loopback address; for one on
// an unspecified address (0.0.0.0, ::), both loopback addresses and each of
// the machine's own IP addresses. Host names other than localhost are not
// resolved: a token naming one is another manager's.
func ownSpellings(a Address) []Address {
	if a.Network != "tcp" {
		return nil
	}
	host, port, err := net.SplitHostPort(a.Addr)
	if err != nil {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() && !ip.IsUnspecified() {
		return nil
	}
	var hosts []string
	switch {
	case ip.IsUnspecified():
		hosts = []string{"localhost", "127.0.0.1", "::1"}
	case ip.To4() != nil:
		hosts = []string{"localhost", "127.0.0.1"}
	default:
		hosts = []string{"localhost", "::1"}
	}
	if ip.IsUnspecified() {
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, ia := range addrs {
				if n, ok := ia.(*net.IPNet); ok {
					hosts = append(hosts, n.IP.String())
				}
			}
		}
	}
	var out []Address
	for _, h := range hosts {
		alias := tokenSpelling(Address{Network: "tcp", Addr: net.JoinHostPort(h, port)})
		if alias != tokenSpelling(a) {
			out = append(out, alias)
		}
	}
	return out
}
