package manager

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/procshare/procshare/pickle"
)

// ServerConfig configures a Server. Authkey is required; every other field
// has a working zero value.
type ServerConfig struct {
	// Authkey is the shared secret of the HMAC handshake that every
	// connection must pass (CPython's authkey). It must not be empty: the
	// server never picks a default key.
	Authkey []byte

	// MaxFrame is the largest request frame, in bytes, that the server
	// reads. A longer request on an authenticated connection is not kept:
	// its bytes are read and discarded (through a fixed buffer), it is
	// answered with ('#ERROR', ValueError('procshare: request of N bytes
	// exceeds the server's frame limit of M bytes (--max-frame)')), which a
	// CPython proxy raises as that ValueError, and the connection goes on;
	// the server logs it at WARN with the peer's address. During the
	// handshake every frame is limited to 256 bytes and a longer one
	// closes the connection. Zero means the wire package's default (64 MiB).
	MaxFrame int64

	// MaxConnections bounds the connections the server holds at once,
	// those still in the handshake included, so that it never runs out of
	// descriptors. A connection past the limit is accepted, sent a refusal
	// in place of the handshake's challenge and closed at once: a CPython
	// client raises AuthenticationError (3.12+) or AssertionError
	// (3.8–3.11) with "procshare: connection refused: the server is at its
	// limit of N connections" in the message, procshare's Go client
	// returns an error wrapping ErrRefused, and the server logs it at WARN
	// with the peer. At most half of the slots may be in the handshake at
	// once; past that, the connection that has been in the handshake
	// longest is closed to make room (a client with the key authenticates
	// in one round trip). Zero means half of the process's descriptor
	// limit (RLIMIT_NOFILE) less 32, and at least 16; a negative value
	// means no limit.
	MaxConnections int

	// MaxPeerConnections bounds the connections one peer may hold, so that
	// no peer alone can reach MaxConnections and lock the others out. A
	// peer is an IP address for TCP; for a Unix socket, the process that
	// connected (its pid, on Linux and macOS; on other systems all
	// Unix-socket clients are one peer). Connections past it are refused
	// as for MaxConnections. Zero means half of MaxConnections, rounded up
	// (no limit when MaxConnections has none); a negative value means no
	// limit per peer.
	MaxPeerConnections int

	// IdleTimeout closes an authenticated connection on which the server
	// has waited that long for a request (the whole request must arrive
	// within it). A connection whose call is being served, such as a queue
	// get waiting for an item, is not idle however long the call blocks.
	// CPython's server has no such timeout, and its clients do not expect
	// one: a CPython proxy's connection belongs to its thread for the
	// thread's life, and once the server has closed it every later call of
	// that thread (through any proxy of this manager) fails with EOFError
	// or BrokenPipeError. Set it for clients that make their calls and go.
	// The server logs each close at INFO. Zero, the default, means no
	// timeout.
	IdleTimeout time.Duration

	// MaxMemory is the server's memory budget, in bytes: what objects
	// store (the estimated size of the values held in lists, dicts,
	// queues, Values, Namespaces, Arrays) plus what calls hold until
	// their replies are written (results such as l * n, expanded ranges,
	// reprs, and replies over 64 KiB while a slow client reads them). A
	// call that would pass it raises MemoryError, as CPython does when
	// it runs out of memory, before allocating and without changing
	// anything; the connection goes on. Sizes are estimates of the Go
	// heap, so the process uses somewhat more (the garbage collector's
	// headroom, buffers of requests being read): see PROTOCOL.md. Zero
	// means 1 GiB; a negative value means no budget.
	MaxMemory int64

	// ReleaseOnDisconnect makes the server release Lock, Semaphore and
	// BoundedSemaphore acquisitions made over an object connection when
	// that connection ends (its client process died or closed it without
	// releasing). CPython never does this; it is off by default. RLock
	// and Condition ownership is always released on disconnect, since no
	// other connection could ever release it. Without it, an acquisition
	// granted to a client killed as the reply was sent stays held too,
	// unless the connection confirms its grants (accept_connection with
	// confirm=True, as the Go client does): an unconfirmed grant is
	// always given back when the connection ends.
	ReleaseOnDisconnect bool

	// Expose lists named shared objects: single objects that every
	// create(name) returns, like the get_queue of the Python
	// documentation's remote-manager recipe (a Python client registers
	// the name with QueueManager.register('get_queue') and calls
	// m.get_queue()). They are created by NewServer and live as long as
	// the server.
	Expose []ExposedObject

	// Foreign lets the server take references on other managers, for the
	// proxies to their objects that clients store here (PROTOCOL.md §11.1).
	// Nil, the default, takes none and never dials out: such a proxy is
	// stored as a value, and the client that reads it back takes its own
	// reference on the other manager as usual, but the stored copy does not
	// keep the object alive.
	Foreign *ForeignConfig

	// DedicatedThreads is how many object connections at most are served
	// the way CPython's server serves them: by a blocking read on an OS
	// thread of their own. For request/reply clients such as CPython's
	// proxies this takes fewer system calls and less CPU per call than Go's
	// netpoller (BENCHMARKS.md). A connection moves to its thread after
	// 16 requests, so short-lived connections cost no thread, and back to
	// the netpoller after 10 seconds without a request, so the threads go
	// to busy connections rather than to ones merely kept open.
	// Connections past the budget stay in the netpoller, so a flood of
	// connections cannot exhaust the process's threads. Zero means 128; a
	// negative value serves every connection through the netpoller. Only
	// Unix systems have dedicated threads.
	//
	// A thread waiting for a request holds a P (GOMAXPROCS) in the
	// syscall state; when no P is idle, Go's sysmon takes the P away
	// during each wait, which costs CPU on every call. A process serving
	// several busy connections at once therefore does better with more Ps
	// than CPUs: procshare serve runs with twice as many.
	DedicatedThreads int

	// Observer, if set, is told of every connection and call, for
	// metrics (see ServerObserver). Nil means none, at no cost.
	Observer ServerObserver

	// Logger receives connection errors, recovered panics and lifecycle
	// events. Nil discards them.
	Logger *slog.Logger
}

// ExposedObject is one named shared object of ServerConfig.Expose.
type ExposedObject struct {
	// Name is the typeid clients pass to create, e.g. "get_queue".
	Name string
	// TypeID is the kind of object: one of the SyncManager typeids
	// ("Queue", "dict", "list", "Value", "Lock", …).
	TypeID string
	// Args are the constructor arguments, as for create (e.g. a maxsize
	// for a Queue, the typecode and value of a Value). May be empty.
	Args []pickle.Value
}

// ForeignConfig is ServerConfig.Foreign: which other managers the server
// may connect to, and with which key.
//
// The key must differ from the server's own. A server that answered other
// managers' challenges with its own key would let any party that can make
// it dial (any client storing a proxy whose token names the party's
// address) relay a challenge of this server to it and log in without
// knowing the key. CPython's server is safe in the same way only when its
// authkey differs from its process's authkey, which it uses for other
// managers.
type ForeignConfig struct {
	// Authkey is the key the server authenticates with to the managers of
	// Allow (CPython's process authkey, in a Python deployment). Required,
	// and different from ServerConfig.Authkey.
	Authkey []byte

	// Allow lists the managers the server may connect to: a stored proxy
	// whose token names any other address takes no reference, so no client
	// can make the server dial an address of its choosing. Required.
	Allow []Address
}

// Server is a manager server that speaks CPython's multiprocessing.managers
// protocol: unmodified CPython 3.8–3.13 clients (SyncManager.connect,
// BaseManager subclasses, every proxy type) and procshare's Go client use
// it. See the package documentation and PROTOCOL.md.
//
// A Server is safe for concurrent use. It serves each connection with one
// goroutine; a blocking call (a queue get, a lock acquire, a wait) blocks
// only its own connection. A Server has no zero value: create it with
// NewServer, run it with Serve and stop it with Close.
type Server struct {
	authkey []byte
	cfg     ServerConfig
	log     *slog.Logger
	table   srvTable
	foreign foreignRefs              // references held on other managers
	limits  connLimits               // MaxConnections, MaxPeerConnections
	named   map[string]*srvEntry     // ExposedObject name -> its entry
	own     atomic.Pointer[ownAddrs] // listener addresses (isLocal); replaced under mu
	mem     memBudget                // MaxMemory

	mu        sync.Mutex
	addr      Address // of the first listener
	hasAddr   bool
	listeners map[net.Listener]struct{}
	conns     map[*srvConn]struct{}
	byID      map[string]*srvConn // object connections, by the id ps_interrupt takes
	nextConn  uint64
	closed    bool
	threads   int // connections on dedicated threads (DedicatedThreads)

	blocked atomic.Int64 // calls waiting now (Stats)

	done     chan struct{} // closed when the server stops
	doneOnce sync.Once
	wg       sync.WaitGroup // Serve loops
	connWG   sync.WaitGroup // connection goroutines
}

// defaultDedicatedThreads is DedicatedThreads' default.
const defaultDedicatedThreads = 128

// takeThread reserves one of the DedicatedThreads for a connection.
func (s *Server) takeThread() bool {
	limit := s.cfg.DedicatedThreads
	if limit == 0 {
		limit = defaultDedicatedThreads
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !threadConnSupported || s.threads >= limit {
		return false
	}
	s.threads++
	return true
}

// putThread gives back what takeThread reserved.
func (s *Server) putThread() {
	s.mu.Lock()
	s.threads--
	s.mu.Unlock()
}

// handshakeTimeout bounds the authentication of a new connection.
var handshakeTimeout = 10 * time.Second

// NewServer returns a server configured by cfg, with its named objects
// created. It does not listen yet: call Serve.
func NewServer(cfg *ServerConfig) (*Server, error) {
	if cfg == nil || len(cfg.Authkey) == 0 {
		return nil, errors.New("manager: ServerConfig.Authkey is required (the server has no default key)")
	}
	if cfg.MaxFrame < 0 {
		return nil, fmt.Errorf("manager: negative MaxFrame %d", cfg.MaxFrame)
	}
	if cfg.IdleTimeout < 0 {
		return nil, fmt.Errorf("manager: negative IdleTimeout %v", cfg.IdleTimeout)
	}
	s := &Server{
		authkey:   append([]byte(nil), cfg.Authkey...),
		cfg:       *cfg,
		log:       cfg.Logger,
		named:     make(map[string]*srvEntry),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*srvConn]struct{}),
		byID:      make(map[string]*srvConn),
		done:      make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.mem.init(cfg.MaxMemory)
	s.table.init(s)
	if err := s.foreign.init(s, cfg.Foreign); err != nil {
		return nil, err
	}
	s.limits.init(cfg)
	for _, x := range cfg.Expose {
		if x.Name == "" {
			return nil, errors.New("manager: ExposedObject with an empty Name")
		}
		if _, ok := srvTypes[x.Name]; ok {
			return nil, fmt.Errorf("manager: exposed name %q is already a typeid", x.Name)
		}
		if _, dup := s.named[x.Name]; dup {
			return nil, fmt.Errorf("manager: exposed name %q given twice", x.Name)
		}
		typ := srvTypes[x.TypeID]
		if typ == nil || typ.create == nil {
			return nil, fmt.Errorf("manager: exposed object %q: unknown typeid %q", x.Name, x.TypeID)
		}
		m := memScope{b: &s.mem}
		obj, err := typ.create(s, &m, pickle.Tuple(x.Args), nil)
		m.done()
		if err != nil {
			return nil, &opError{op: fmt.Sprintf("exposed object %q", x.Name), err: err}
		}
		s.named[x.Name] = s.table.add(x.Name, typ, obj, true)
	}
	return s, nil
}

// Addr returns the address of the first listener Serve was called with, in
// the form tokens carry; the zero Address before that.
func (s *Server) Addr() Address {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Done returns a channel that is closed when the server stops: Close was
// called, the context of Serve was cancelled, or a client sent shutdown.
func (s *Server) Done() <-chan struct{} { return s.done }

// Serve accepts connections on ln and serves each in its own goroutine
// until the server stops. It returns nil after Close or a client's shutdown
// request, ctx.Err() when ctx is cancelled (which also closes the server,
// as Close does), or the listener's error; when the server stops it returns
// only after every connection has ended. Serve closes ln. It may be called
// for several listeners; tokens name each connection's own listener
// address. Addr reports the first listener's address once Serve has been
// called (use ln.Addr() before that).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	addr, err := listenerAddress(ln)
	if err != nil {
		ln.Close()
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return errors.New("manager: Serve called on a closed server")
	}
	if !s.hasAddr {
		s.addr, s.hasAddr = addr, true
	}
	s.addOwnLocked(addr)
	s.listeners[ln] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.done:
		case <-stop:
		}
	}()

	addrVal := addr.pickleValue()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				// Stopping: let the connections finish (they are
				// closed and their blocked calls woken) first.
				s.connWG.Wait()
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				// Out of descriptors or a transient error: retry,
				// as net/http does.
				if backoff == 0 {
					backoff = 5 * time.Millisecond
				} else if backoff < time.Second {
					backoff *= 2
				}
				s.log.Warn("manager: accept", "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			s.Close()
			return fmt.Errorf("manager: accept: %w", err)
		}
		backoff = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		c := newSrvConn(s, nc, addrVal)
		refusal, evicted := s.limits.admit(c)
		if refusal != "" {
			s.mu.Unlock()
			s.refuse(nc, c.peer, refusal)
			continue
		}
		s.conns[c] = struct{}{}
		s.connWG.Add(1)
		s.mu.Unlock()
		if evicted != nil {
			s.log.Warn("manager: closing the connection longest in the handshake to admit a new one",
				"remote", evicted.nc.RemoteAddr(), "peer", evicted.peer)
			evicted.closeSocket()
		}
		go c.serve()
	}
}

// Close stops the server: it closes the listeners and every connection,
// wakes blocked calls, and waits for all of its goroutines. Objects are
// dropped with the server; the references they held on other managers
// (proxies to their objects stored here) are given back first, best effort
// and within a short deadline. Close is idempotent and returns nil.
func (s *Server) Close() error {
	s.stop()
	s.wg.Wait()
	s.connWG.Wait()
	s.foreign.wait()
	return nil
}

// stop closes listeners and connections without waiting (used by the
// shutdown method, which runs on one of the connections Close waits for).
func (s *Server) stop() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	lns := make([]net.Listener, 0, len(s.listeners))
	for ln := range s.listeners {
		lns = append(lns, ln)
	}
	conns := make([]*srvConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.doneOnce.Do(func() { close(s.done) })
	for _, ln := range lns {
		ln.Close()
	}
	for _, c := range conns {
		c.closeSocket()
	}
	s.foreign.stop()
	s.log.Info("manager: server stopped")
}

// listenerAddress returns ln's address as CPython's Listener.address.
func listenerAddress(ln net.Listener) (Address, error) {
	switch a := ln.Addr().(type) {
	case *net.TCPAddr:
		host := a.IP.String()
		if a.IP == nil {
			host = "0.0.0.0"
		}
		return Address{Network: "tcp", Addr: net.JoinHostPort(host, strconv.Itoa(a.Port))}, nil
	case *net.UnixAddr:
		return Address{Network: "unix", Addr: a.Name}, nil
	}
	// Other listeners (in-memory pipes in tests) still work; tokens then
	// carry the listener's own string.
	return Address{Network: ln.Addr().Network(), Addr: ln.Addr().String()}, nil
}
