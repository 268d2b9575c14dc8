//go:build unix

package manager_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

// TestServerDedicatedThreadIdle: a connection whose thread waits longer
// than the idle time goes back to the netpoller and gives the thread back;
// a frame it had half sent when that happened is read whole; busy again,
// it gets a thread again.
func TestServerDedicatedThreadIdle(t *testing.T) {
	defer manager.SetThreadIdleForTest(50 * time.Millisecond)()
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			ts := startStServer(t, network, &manager.ServerConfig{DedicatedThreads: 4})
			q, _ := ts.create("Queue")
			o := ts.stObj()
			busy := func() {
				t.Helper()
				for i := range 20 {
					o.must(q, "put", int64(i))
					if v := o.must(q, "get"); v != int64(i) {
						t.Fatalf("get = %s, want %d", pyRepr(v), i)
					}
				}
			}
			waitThreads := func(want int) {
				t.Helper()
				deadline := time.Now().Add(10 * time.Second)
				for ts.srv.DedicatedThreadsForTest() != want {
					if time.Now().After(deadline) {
						t.Fatalf("%d dedicated threads, want %d", ts.srv.DedicatedThreadsForTest(), want)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			busy()
			waitThreads(1)

			// Half a request, then silence past the idle time.
			req, err := pickle.Marshal(pickle.Tuple{q, "put", pickle.Tuple{"late"}, pickle.NewDict()})
			if err != nil {
				t.Fatal(err)
			}
			frame := binary.BigEndian.AppendUint32(nil, uint32(len(req))) // CPython's short header
			frame = append(frame, req...)
			half := len(frame) / 2
			if _, err := o.nc.Write(frame[:half]); err != nil {
				t.Fatal(err)
			}
			waitThreads(0)
			if _, err := o.nc.Write(frame[half:]); err != nil {
				t.Fatal(err)
			}
			if kind, v := o.recv(); kind != "#RETURN" || v != nil {
				t.Fatalf("put split across the move: %s %s", kind, pyRepr(v))
			}
			if v := o.must(q, "get"); v != "late" {
				t.Fatalf("get = %s, want 'late'", pyRepr(v))
			}

			busy()
			waitThreads(1)
		})
	}
}
