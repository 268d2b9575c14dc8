package manager_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/procshare/procshare/internal/wire"
	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

// recObserver records what a server tells its ServerObserver.
type recObserver struct {
	mu    sync.Mutex
	conns []string
	calls []string // "typeid method outcome"
}

func (r *recObserver) Connection(outcome string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conns = append(r.conns, outcome)
}

func (r *recObserver) Call(typeid, method, outcome string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d < 0 {
		panic("negative duration")
	}
	r.calls = append(r.calls, typeid+" "+method+" "+outcome)
}

func (r *recObserver) has(call string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.calls, call)
}

// TestServerObserver: every connection and call is reported, with names
// that come from the server (a client's made-up method is "(unexposed)"
// or "(unknown)"), and Stats counts objects and blocked calls.
func TestServerObserver(t *testing.T) {
	rec := &recObserver{}
	ts := startStServer(t, "unix", &manager.ServerConfig{Observer: rec})
	d, _ := ts.create("dict")
	o := ts.stObj()
	o.must(d, "__setitem__", "k", int64(1))
	kind, _ := o.do(d, "__getitem__", "missing")
	if kind != "#ERROR" {
		t.Fatalf("missing key: %s", kind)
	}
	o.do(d, "no_such_method_"+strings.Repeat("x", 10))
	o.do(d, "__repr__")
	ts.server("no_such_server_method")
	nc, err := ts.dial()
	if err != nil {
		t.Fatal(err)
	}
	if err := wire.ClientHandshake(wire.NewConn(nc, nil), []byte("wrong key")); err == nil {
		t.Fatal("a wrong key was accepted")
	}
	nc.Close()
	for _, want := range []string{
		" create ok", "dict __setitem__ ok", "dict __getitem__ error",
		"dict (unexposed) traceback", "dict __repr__ ok", " (unknown) traceback",
	} {
		if !rec.has(want) {
			t.Errorf("no call %q in %q", want, rec.calls)
		}
	}
	// The server reports the failed handshake after it has answered it.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
		rec.mu.Lock()
		conns := slices.Clone(rec.conns)
		rec.mu.Unlock()
		if slices.Contains(conns, "ok") && slices.Contains(conns, "failed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connections %q, want ok and failed ones", conns)
		}
	}

	q, _ := ts.create("Queue")
	g := ts.stObj()
	g.send(q, "get", nil, nil)
	deadline := time.Now().Add(20 * time.Second)
	for ts.srv.Stats().BlockedCalls != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("Stats().BlockedCalls = %d, want 1 while a get waits", ts.srv.Stats().BlockedCalls)
		}
		time.Sleep(time.Millisecond)
	}
	o.must(q, "put", "x")
	kind, v := g.recv()
	if kind != "#RETURN" || v != pickle.Value("x") {
		t.Fatalf("get: %s %v", kind, v)
	}
	st := ts.srv.Stats()
	if st.Objects != 2 || st.BlockedCalls != 0 || st.Connections < 2 || st.MemoryBudget <= 0 || st.MemoryUsed <= 0 {
		t.Fatalf("Stats() = %+v", st)
	}
}
