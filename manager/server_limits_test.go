package manager_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/procshare/procshare/internal/pyenv"
	"github.com/procshare/procshare/internal/wire"
	"github.com/procshare/procshare/manager"
)

// stLog is a server log that tests read.
type stLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *stLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *stLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *stLog) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// waitLog waits until the log has a line containing every one of want.
func (l *stLog) waitLog(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, line := range strings.Split(l.String(), "\n") {
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(line, w)
			}
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q in:\n%s", want, l.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const stMaxFrame = 1 << 16

// startLimitServer runs a server with cfg on transport, its log going to
// the returned stLog.
func startLimitServer(t *testing.T, transport string, cfg *manager.ServerConfig) (*stServer, *stLog) {
	t.Helper()
	l := &stLog{}
	cfg.Logger = l.logger()
	return startStServer(t, transport, cfg), l
}

// A request over MaxFrame gets a ValueError naming the limit, its bytes are
// skipped, it is logged at WARN with the peer, and the connection goes on.
// Before authentication an oversized frame just closes the connection.
func TestServerOversizedRequest(t *testing.T) {
	for _, tr := range stTransports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			ts, log := startLimitServer(t, tr, &manager.ServerConfig{MaxFrame: stMaxFrame})
			big := bytes.Repeat([]byte{'x'}, stMaxFrame+1)
			msg := "procshare: request of " + strconv.Itoa(len(big)) +
				" bytes exceeds the server's frame limit of " + strconv.Itoa(stMaxFrame) + " bytes (--max-frame)"

			// Object connection: answered, and it goes on.
			id, _ := ts.create("list")
			o := ts.stObj()
			for i := 0; i < 2; i++ {
				if err := o.wc.WriteFrame(big); err != nil {
					t.Fatal(err)
				}
				kind, v := o.recv()
				stWantExc(t, kind, v, "ValueError", msg)
				pyEq(t, o.must(id, "__len__"), int64(0))
			}
			log.waitLog(t, "level=WARN", "frame limit", "remote=", "size="+strconv.Itoa(len(big)), "max_frame="+strconv.Itoa(stMaxFrame))

			// A long-form header is skipped too.
			var long []byte
			long = binary.BigEndian.AppendUint32(long, 0xffffffff)
			long = binary.BigEndian.AppendUint64(long, stMaxFrame+5)
			o.nc.Write(append(long, make([]byte, stMaxFrame+5)...))
			kind, v := o.recv()
			stWantExc(t, kind, v, "ValueError", "")
			pyEq(t, o.must(id, "__len__"), int64(0))

			// Management connection: answered, then closed as usual.
			c := ts.conn()
			c.wc.WriteFrame(big)
			kind, v = c.recv()
			stWantExc(t, kind, v, "ValueError", msg)
			expectClosed(t, c)

			// Before authentication: closed, nothing read.
			nc, err := ts.dial()
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(10 * time.Second))
			var hdr [4]byte
			if _, err := nc.Read(hdr[:]); err != nil { // the challenge's header
				t.Fatal(err)
			}
			nc.Write(binary.BigEndian.AppendUint32(nil, 1<<30))
			expectClosedRaw(t, nc)
			ts.mustServer("dummy")
		})
	}
}

// expectClosedRaw waits for the server to close nc, discarding what it
// sends.
func expectClosedRaw(t *testing.T, nc interface {
	Read([]byte) (int, error)
	SetReadDeadline(time.Time) error
}) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := nc.Read(buf); err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Fatal("the server did not close the connection")
			}
			return
		}
	}
}

// The Go client gets the ValueError as a *RemoteError, and its connection
// goes on.
func TestClientOversizedRequest(t *testing.T) {
	t.Parallel()
	ts, _ := startLimitServer(t, "unix", &manager.ServerConfig{MaxFrame: stMaxFrame})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := manager.Dial(ctx, ts.addr, stKey, &manager.Config{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d, err := c.NewDict(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		err = d.Set(ctx, "big", make([]byte, stMaxFrame+1))
		var re *manager.RemoteError
		if !errors.As(err, &re) || re.Type != "ValueError" || !strings.Contains(re.Message, "frame limit of "+strconv.Itoa(stMaxFrame)) {
			t.Fatalf("oversized Set: %v", err)
		}
		if err := d.Set(ctx, "small", int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := d.Get(ctx, "small"); err != nil || v != int64(1) {
		t.Fatalf("Get = %v, %v", v, err)
	}
	if _, err := c.NewDict(ctx, map[string]any{"big": make([]byte, stMaxFrame+1)}); err == nil ||
		!strings.Contains(err.Error(), "frame limit") {
		t.Fatalf("oversized NewDict: %v", err)
	}
}

// A CPython client's thread goes on after a value over the frame limit:
// its next call and new proxies work (before, every later call in that
// thread raised BrokenPipeError).
func TestServerCPythonOversized(t *testing.T) {
	pys := pyenv.Interpreters()
	if len(pys) == 0 {
		t.Skip("no CPython interpreter")
	}
	if len(pys) > 1 {
		pys = []pyenv.Interpreter{pys[0], pys[len(pys)-1]} // the oldest and the newest
	}
	for _, py := range pys {
		for _, network := range []string{"unix", "tcp"} {
			t.Run(py.Name()+"/"+network, func(t *testing.T) {
				t.Parallel()
				ts, log := startLimitServer(t, network, &manager.ServerConfig{MaxFrame: stMaxFrame})
				out := runLimitsPy(t, py, ts, "oversize", strconv.Itoa(stMaxFrame))
				if !strings.Contains(out, "OK") {
					t.Fatalf("%s", out)
				}
				log.waitLog(t, "level=WARN", "frame limit", "remote=")
			})
		}
	}
}

// runLimitsPy runs testdata/server_limits.py against ts and returns its
// output; it fails the test if the script fails.
func runLimitsPy(t *testing.T, py pyenv.Interpreter, ts *stServer, mode string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py.Path, append([]string{"testdata/server_limits.py", mode,
		ts.addr, hex.EncodeToString(stKey)}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s %s: %v\n%s", py.Name(), mode, ts.addr, err, out)
	}
	return string(out)
}

// limitServer is a server listening on both a Unix socket and TCP, so that
// one test process is two peers.
type limitServer struct {
	srv        *manager.Server
	log        *stLog
	unix, tcp  *stServer // dialers for each listener (sharing srv)
	unixAddr   string
	tcpAddress string
}

func startLimitServer2(t *testing.T, cfg *manager.ServerConfig) *limitServer {
	t.Helper()
	ls := &limitServer{log: &stLog{}}
	cfg.Authkey = stKey
	cfg.Logger = ls.log.logger()
	srv, err := manager.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ls.srv = srv
	dir, err := os.MkdirTemp("", "pst")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ls.unixAddr = filepath.Join(dir, "m.sock")
	uln, err := manager.Listen(manager.Address{Network: "unix", Addr: ls.unixAddr})
	if err != nil {
		t.Fatal(err)
	}
	tln, err := manager.Listen(manager.Address{Network: "tcp", Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ls.tcpAddress = tln.Addr().String()
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(context.Background(), uln) }()
	go func() { errc <- srv.Serve(context.Background(), tln) }()
	t.Cleanup(func() {
		srv.Close()
		for i := 0; i < 2; i++ {
			if err := <-errc; err != nil {
				t.Errorf("Serve: %v", err)
			}
		}
	})
	ls.unix = &stServer{t: t, srv: srv, addr: ls.unixAddr, key: stKey,
		dial: func() (net.Conn, error) { return net.Dial("unix", ls.unixAddr) }}
	ls.tcp = &stServer{t: t, srv: srv, addr: ls.tcpAddress, key: stKey,
		dial: func() (net.Conn, error) { return net.Dial("tcp", ls.tcpAddress) }}
	return ls
}

// refusedHandshake dials ts and requires the server to refuse the
// connection with a reason containing want.
func refusedHandshake(t *testing.T, ts *stServer, want string) {
	t.Helper()
	nc, err := ts.dial()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	err = clientHandshake(nc, stKey)
	if !errors.Is(err, wire.ErrRefused) || !strings.Contains(err.Error(), want) {
		t.Fatalf("handshake = %v, want a refusal containing %q", err, want)
	}
	expectClosedRaw(t, nc)
}

// admitted retries ts.conn until the server admits a connection again (a
// closed connection's slot is given back when its goroutine ends).
func admitted(t *testing.T, ts *stServer) *stConn {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		nc, err := ts.dial()
		if err != nil {
			t.Fatal(err)
		}
		wc := wire.NewConn(nc, nil)
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		err = wire.ClientHandshake(wc, stKey)
		if err == nil {
			nc.SetDeadline(time.Time{})
			t.Cleanup(func() { nc.Close() })
			return &stConn{t: t, nc: nc, wc: wc}
		}
		nc.Close()
		if !errors.Is(err, wire.ErrRefused) || time.Now().After(deadline) {
			t.Fatalf("handshake: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// At MaxConnections a new client is refused with a clear error, whichever
// client it is (raw, Go, CPython), and the server logs it; once a
// connection closes, clients get in again.
func TestServerMaxConnections(t *testing.T) {
	t.Parallel()
	ls := startLimitServer2(t, &manager.ServerConfig{MaxConnections: 2, MaxPeerConnections: -1})
	first := ls.unix.conn()
	ls.tcp.conn()
	const reason = "procshare: connection refused: the server is at its limit of 2 connections (--max-connections)"
	refusedHandshake(t, ls.unix, reason)
	refusedHandshake(t, ls.tcp, reason)
	ls.log.waitLog(t, "level=WARN", "connection refused", "remote=", "peer=", "limit of 2 connections")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := manager.Dial(ctx, ls.unixAddr, stKey, nil); !errors.Is(err, manager.ErrRefused) ||
		!strings.Contains(err.Error(), reason) {
		t.Fatalf("Go client: %v, want ErrRefused", err)
	}
	pys := pyenv.Interpreters()
	if len(pys) > 1 {
		pys = []pyenv.Interpreter{pys[0], pys[len(pys)-1]}
	}
	for _, py := range pys {
		out := runLimitsPy(t, py, ls.unix, "refused")
		if !strings.Contains(out, reason) {
			t.Fatalf("%s: %s", py.Name(), out)
		}
		t.Logf("%s: %s", py.Name(), strings.TrimSpace(out))
	}

	first.nc.Close()
	c := admitted(t, ls.unix)
	kind, _ := c.call(nil, "dummy", nil, nil)
	pyEq(t, kind, "#RETURN")
}

// One peer cannot take every slot: this process's TCP connections (peer
// 127.0.0.1) stop at MaxPeerConnections, and so do its Unix-socket ones
// (peer "process PID"), while another process still gets in. By default a
// peer may hold half of MaxConnections.
func TestServerMaxPeerConnections(t *testing.T) {
	t.Parallel()
	ls := startLimitServer2(t, &manager.ServerConfig{MaxConnections: 20, MaxPeerConnections: 3})
	for i := 0; i < 3; i++ {
		ls.tcp.conn()
	}
	refusedHandshake(t, ls.tcp, "procshare: connection refused: 127.0.0.1 holds 3 connections, the most one client may (--max-peer-connections)")
	ls.log.waitLog(t, "level=WARN", "connection refused", "peer=127.0.0.1")
	for i := 0; i < 3; i++ {
		ls.unix.conn()
	}
	me := "process " + strconv.Itoa(os.Getpid())
	refusedHandshake(t, ls.unix, me+" holds 3 connections")
	ls.log.waitLog(t, "level=WARN", "connection refused", `peer="`+me+`"`)
	if pys := pyenv.Interpreters(); len(pys) > 0 {
		py := pys[len(pys)-1]
		if out := runLimitsPy(t, py, ls.unix, "connect"); !strings.Contains(out, "OK") {
			t.Fatalf("another process: %s", out)
		}
		// Over TCP it comes from the same IP address: the same peer.
		if out := runLimitsPy(t, py, ls.tcp, "refused"); !strings.Contains(out, "127.0.0.1 holds 3 connections") {
			t.Fatalf("another process over TCP: %s", out)
		}
	}

	ls = startLimitServer2(t, &manager.ServerConfig{MaxConnections: 4})
	ls.tcp.conn()
	ls.tcp.conn()
	refusedHandshake(t, ls.tcp, "127.0.0.1 holds 2 connections")
	ls.unix.conn()
}

// At most half of MaxConnections are in the handshake at once: a new
// connection then closes the one longest in the handshake, so peers that
// connect and say nothing do not keep clients with the key out.
func TestServerHandshakeSlots(t *testing.T) {
	t.Parallel()
	ls := startLimitServer2(t, &manager.ServerConfig{MaxConnections: 4, MaxPeerConnections: -1})
	var silent []net.Conn
	for i := 0; i < 2; i++ {
		nc, err := ls.unix.dial()
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		silent = append(silent, nc)
	}
	// Both are in the handshake once their challenges arrived.
	for _, nc := range silent {
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := nc.Read(make([]byte, 4)); err != nil {
			t.Fatal(err)
		}
	}
	c := ls.unix.conn() // evicts silent[0]
	expectClosedRaw(t, silent[0])
	ls.log.waitLog(t, "level=WARN", "longest in the handshake")
	kind, _ := c.call(nil, "dummy", nil, nil)
	pyEq(t, kind, "#RETURN")
}

// IdleTimeout closes authenticated connections that send no request for
// that long, on a dedicated thread or not, and logs it; a connection whose
// call blocks in the server (a queue get) is not idle.
func TestServerIdleTimeout(t *testing.T) {
	const idle = 100 * time.Millisecond
	for _, tr := range stTransports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			ts, log := startLimitServer(t, tr, &manager.ServerConfig{IdleTimeout: idle})
			qid, _ := ts.create("Queue")

			// An authenticated connection that sends nothing.
			expectClosed(t, ts.conn())
			log.waitLog(t, "level=INFO", "closing an idle connection", "remote=", "idle_timeout=100ms")

			// An object connection, busy enough for a dedicated thread
			// (Unix and TCP), then idle.
			o := ts.stObj()
			for i := 0; i < 20; i++ {
				o.must(qid, "qsize")
			}
			if tr != "pipe" && ts.srv.DedicatedThreadsForTest() == 0 {
				t.Fatal("the busy connection has no dedicated thread")
			}
			expectClosed(t, o.stConn)

			// A blocked get is not idle, however long it waits.
			o = ts.stObj()
			for i := 0; i < 20; i++ {
				o.must(qid, "qsize")
			}
			o.send(qid, "get", nil, nil)
			time.Sleep(10 * idle)
			ts.stObj().must(qid, "put", "item")
			o.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
			kind, v := o.recv()
			if kind != "#RETURN" || v != "item" {
				t.Fatalf("blocked get: %s %s", kind, pyRepr(v))
			}
			// Idle again afterwards.
			expectClosed(t, o.stConn)
		})
	}
}

func TestServerLimitsConfig(t *testing.T) {
	t.Parallel()
	if _, err := manager.NewServer(&manager.ServerConfig{Authkey: stKey, IdleTimeout: -time.Second}); err == nil {
		t.Fatal("negative IdleTimeout accepted")
	}
	// Negative limits mean none: many connections from one peer get in.
	ts, _ := startLimitServer(t, "unix", &manager.ServerConfig{MaxConnections: -1, MaxPeerConnections: -1})
	for i := 0; i < 40; i++ {
		ts.conn()
	}
	ts.mustServer("dummy")
}
