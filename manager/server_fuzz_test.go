package manager_test

import (
	"testing"
	"time"

	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

// FuzzServeConn feeds one arbitrary frame to a connection of a fresh
// server, as the first (management) request or as an object call after
// accept_connection. The server must answer or close the connection, never
// crash or hang, and keep serving other clients.
func FuzzServeConn(f *testing.F) {
	add := func(obj bool, v pickle.Value) {
		data, err := pickle.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(obj, data)
	}
	add(false, pickle.Tuple{nil, "create", pickle.Tuple{"list", pyList(int64(1))}, pickle.NewDict()})
	add(false, pickle.Tuple{nil, "create", pickle.Tuple{"Queue", int64(2)}, pickle.NewDict()})
	add(false, pickle.Tuple{nil, "create", pickle.Tuple{"Barrier", int64(2)}, pyKw("timeout", 1.5)})
	add(false, pickle.Tuple{nil, "debug_info", pickle.Tuple{}, pickle.NewDict()})
	add(false, pickle.Tuple{nil, "incref", pickle.Tuple{"7f00"}, pickle.NewDict()})
	add(false, pickle.Tuple{nil, "ps_interrupt", pickle.Tuple{"c1", int64(3)}, pickle.NewDict()})
	add(true, pickle.Tuple{"7f00", "get", pickle.Tuple{}, pyKw("timeout", 0.5)})
	add(true, pickle.Tuple{nil, "__getitem__", pickle.Tuple{pickle.Slice{Start: int64(1)}}, pickle.NewDict()})
	add(true, pickle.Tuple{"0", "#GETVALUE", pickle.Tuple{}, pickle.NewDict()})
	add(true, pickle.Tuple{pyList(), pyList(), int64(1), "x"})
	f.Add(false, []byte("\x80\x04garbage"))
	f.Add(true, []byte{})
	f.Add(true, []byte("\x80\x04]\x940(h\x00h\x00l\x940(h\x01h\x01l\x940h\x02."))
	f.Fuzz(func(t *testing.T, obj bool, payload []byte) {
		ts := startStServer(t, "pipe", &manager.ServerConfig{MaxFrame: 1 << 20})
		c := ts.conn()
		if obj {
			kind, _ := c.call(nil, "accept_connection", pickle.Tuple{"fuzz"}, pickle.NewDict())
			if kind != "#RETURN" {
				t.Fatalf("accept_connection: %s", kind)
			}
		}
		if err := c.wc.WriteFrame(payload); err != nil {
			t.Fatal(err)
		}
		c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
		if f, err := c.wc.ReadFrame(); err == nil {
			if _, err := pickle.Unmarshal(f); err != nil {
				t.Fatalf("reply does not unpickle: %v", err)
			}
		} else if obj {
			t.Fatalf("object connection: no reply: %v", err)
		}
		select {
		case <-ts.srv.Done():
			return // the payload was a shutdown request
		default:
		}
		ts.mustServer("dummy")
	})
}
