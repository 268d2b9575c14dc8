package manager_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/procshare/procshare/internal/pyenv"
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
