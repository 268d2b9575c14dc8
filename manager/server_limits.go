package manager

import (
	"container/list"
	"fmt"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/procshare/procshare/internal/wire"
)

// Connection limits: ServerConfig.MaxConnections and MaxPeerConnections.
//
// Every accepted connection counts against MaxConnections from its accept
// to its close, in the handshake or authenticated (a connection leaves the
// handshake when the client's answer to the challenge is verified, before
// the client is told: see wire.ServerHandshakeNotify). On top of that, one peer
// (see peerOf) may hold at most MaxPeerConnections of them, so that one
// client cannot take every slot; and at most half of the slots may be in
// the handshake at once: when that many are, the connection that has been
// in the handshake longest is closed to make room for the new one (a real
// client authenticates in one round trip; a peer that connects and says
// nothing, or does not have the key, holds its slot until
// handshakeTimeout otherwise).

// defaultMaxConnections is MaxConnections' default: half of the
// process's descriptor limit (RLIMIT_NOFILE, which Go raises to its hard
// limit at start-up), less 32, and at least 16. Each connection holds one
// descriptor, a connection on a dedicated thread briefly more (when it
// moves, or while a call of its blocks); the rest is left for listeners,
// connections to other managers and files.
func defaultMaxConnections() int {
	n := fdLimit()
	if n <= 0 {
		n = 1024
	}
	return max(16, n/2-32)
}

// connLimits counts connections against the limits. It is safe for
// concurrent use.
type connLimits struct {
	max, perPeer, handshakes int // 0 means no limit

	mu    sync.Mutex
	total int            // connections accepted and not yet finished
	peers map[string]int // the same, by peer
	hs    list.List      // the connections in the handshake, oldest first (*srvConn)
}

// init resolves the configured limits (validated by NewServer).
func (l *connLimits) init(cfg *ServerConfig) {
	switch {
	case cfg.MaxConnections == 0:
		l.max = defaultMaxConnections()
	case cfg.MaxConnections > 0:
		l.max = cfg.MaxConnections
	}
	switch {
	case cfg.MaxPeerConnections == 0:
		l.perPeer = half(l.max)
	case cfg.MaxPeerConnections > 0:
		l.perPeer = cfg.MaxPeerConnections
	}
	l.handshakes = half(l.max)
	l.peers = make(map[string]int)
}

// half is n/2 rounded up, 0 (no limit) for 0.
func half(n int) int { return (n + 1) / 2 }

// admit counts c, a connection just accepted from c.peer, as in the
// handshake. It returns why c is refused instead ("" if it is not), and
// the connection it evicts from the handshake to make room, if any (the
// caller closes it; it stays counted until it finishes).
func (l *connLimits) admit(c *srvConn) (refusal string, evicted *srvConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.total >= l.max {
		return fmt.Sprintf("the server is at its limit of %d connections (--max-connections)", l.max), nil
	}
	if n := l.peers[c.peer]; l.perPeer > 0 && n >= l.perPeer {
		return fmt.Sprintf("%s holds %d connections, the most one client may (--max-peer-connections)", c.peer, n), nil
	}
	if l.handshakes > 0 && l.hs.Len() >= l.handshakes {
		evicted = l.hs.Remove(l.hs.Front()).(*srvConn)
		evicted.hsElem = nil
	}
	l.total++
	l.peers[c.peer]++
	c.hsElem = l.hs.PushBack(c)
	return "", evicted
}

// authenticated moves c out of the handshake.
func (l *connLimits) authenticated(c *srvConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.hsElem != nil {
		l.hs.Remove(c.hsElem)
		c.hsElem = nil
	}
}

// release uncounts c, which admit counted, when it finishes.
func (l *connLimits) release(c *srvConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.hsElem != nil {
		l.hs.Remove(c.hsElem)
		c.hsElem = nil
	}
	l.total--
	if l.peers[c.peer]--; l.peers[c.peer] <= 0 {
		delete(l.peers, c.peer)
	}
}

// refuseTimeout bounds the write of a refusal.
const refuseTimeout = time.Second

// refuse tells a connection it is not taken, in place of the challenge
// (see wire.Refuse: CPython clients raise AuthenticationError or
// AssertionError with the reason), and closes it.
func (s *Server) refuse(nc net.Conn, peer, reason string) {
	s.log.Warn("manager: connection refused", "remote", nc.RemoteAddr(), "peer", peer, "reason", reason)
	s.observeConnection("refused")
	nc.SetWriteDeadline(time.Now().Add(refuseTimeout))
	wire.Refuse(wire.NewConn(nc, nil), "procshare: connection refused: "+reason+"; try again later")
	nc.Close()
}

// unixPeerPID returns the pid of the process that connected the Unix
// socket nc, where the system tells it (fdPeerPID), or 0.
func unixPeerPID(nc net.Conn) int {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	pid := 0
	rc.Control(func(fd uintptr) { pid = fdPeerPID(fd) })
	return pid
}

// peerOf names the client at the other end of nc, for MaxPeerConnections:
// its IP address for TCP; for a Unix socket, its process (its pid, from
// the socket's peer credentials) where the system tells it (Linux, macOS),
// else all Unix-socket clients are one peer; for anything else, the
// remote address.
func peerOf(nc net.Conn) string {
	switch a := nc.RemoteAddr().(type) {
	case *net.TCPAddr:
		return a.IP.String()
	case *net.UnixAddr:
		if pid := unixPeerPID(nc); pid > 0 {
			return "process " + strconv.Itoa(pid)
		}
		return "unix-socket clients"
	}
	return nc.RemoteAddr().Network() + " " + nc.RemoteAddr().String()
}
