package manager

import "time"

// ServerObserver is told of a server's connections and calls, for a
// metrics system: procshare serve --metrics-address exports them to
// Prometheus. Set it in ServerConfig.Observer. Its methods are called from
// the connections' goroutines, many at once; they must be safe for
// concurrent use, fast, and must not block or call the Server.
//
// The names it is given come from the server, never from a client: a
// method that the object does not expose is reported as "(unexposed)", an
// unknown server method as "(unknown)", so a client cannot grow a metrics
// system's label sets at will.
type ServerObserver interface {
	// Connection is called once for each accepted connection, when its
	// handshake has ended: outcome is "ok", "refused" (a connection limit
	// was reached) or "failed" (a wrong key, a malformed handshake, a
	// timeout).
	Connection(outcome string)

	// Call is called for every answered request. typeid is the object's
	// typeid (or exposed name), "" for a server method (create, incref,
	// …); method is the method's name; outcome is "ok" (#RETURN or
	// #PROXY), "error" (a Python exception, #ERROR) or "traceback" (the
	// server refused the request: #TRACEBACK, #UNSERIALIZABLE); d is the
	// time from the request's arrival to its reply, waits included.
	Call(typeid, method, outcome string, d time.Duration)
}

// ServerStats is a snapshot of a server's state (Server.Stats).
type ServerStats struct {
	Connections  int   // open connections, those in the handshake included
	Objects      int   // shared objects, named ones and those held only by stored proxies included
	BlockedCalls int   // calls waiting now (a queue get, a lock acquire, an event wait, …)
	MemoryUsed   int64 // bytes charged to the memory budget (ServerConfig.MaxMemory)
	MemoryBudget int64 // the budget; negative when there is none
}

// Stats returns a snapshot of the server's state. Safe from any goroutine.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	conns := len(s.conns)
	s.mu.Unlock()
	st := ServerStats{
		Connections:  conns,
		Objects:      s.table.len(),
		BlockedCalls: int(s.blocked.Load()),
		MemoryUsed:   s.mem.used.Load(),
		MemoryBudget: s.mem.limit,
	}
	if st.MemoryBudget == 0 {
		st.MemoryBudget = -1
	}
	return st
}

// outcome names a reply kind for ServerObserver.Call.
func outcome(r srvReply) string {
	switch r.kind {
	case msgReturn, msgProxy:
		return "ok"
	case msgError:
		return "error"
	}
	return "traceback"
}

// observeConnection reports a handshake's outcome.
func (s *Server) observeConnection(outcome string) {
	if s.cfg.Observer != nil {
		s.cfg.Observer.Connection(outcome)
	}
}

// observeCall reports a request answered with r.
func (s *Server) observeCall(typeid, method string, r srvReply, start time.Time) {
	if r.hangUp {
		return
	}
	s.cfg.Observer.Call(typeid, method, outcome(r), time.Since(start))
}
