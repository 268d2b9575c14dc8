package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/procshare/procshare/internal/wire"
	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

// fakeManager serves one connection on a Unix socket: the handshake with
// key, then the reply to whatever is asked.
func fakeManager(t *testing.T, key []byte, reply pickle.Value) manager.Address {
	t.Helper()
	sock := filepath.Join(shortTempDir(t), "fake.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		wc := wire.NewConn(nc, nil)
		if wire.ServerHandshake(wc, key) != nil {
			return
		}
		if _, err := wc.ReadFrame(); err != nil {
			return
		}
		b, err := pickle.Marshal(pickle.Tuple{"#RETURN", reply})
		if err == nil {
			wc.WriteFrame(b)
		}
	}()
	addr, err := manager.ParseAddress(sock)
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestInspectEscapes: ids, type ids and reprs that a server reports are
// printed with control characters escaped, so a hostile server (or client
// naming things) cannot write terminal escape sequences; ordinary ones
// print as they are.
func TestInspectEscapes(t *testing.T) {
	d := pickle.NewDict()
	d.Set("id", "7f\x1b[2J")
	d.Set("typeid", "Evil\x1b]0;pwned\a")
	d.Set("refcount", int64(1))
	d.Set("held", int64(0))
	d.Set("repr", "['\x1b[31m', \xff]\n")
	plain := pickle.NewDict()
	plain.Set("id", "7f00aa")
	plain.Set("typeid", "Queue")
	plain.Set("refcount", int64(2))
	plain.Set("held", int64(0))
	plain.Set("repr", "<queue.Queue object>")
	key := []byte("k")
	addr := fakeManager(t, key, &pickle.List{Items: []pickle.Value{d, plain}})
	keyFile := filepath.Join(shortTempDir(t), "key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := inspectCommand(context.Background(), []string{"--address", addr.Addr, "--authkey-file", keyFile}, &out, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if hasRawControl(s) || strings.Count(s, "\n") != 3 {
		t.Errorf("inspect writes raw control bytes: %q", s)
	}
	if f := strings.Fields(findLine(s, `"7f\x1b[2J"`)); len(f) != 6 || f[1] != `"Evil\x1b]0;pwned\a"` ||
		f[4]+" "+f[5] != `['\x1b[31m', \xff]\n` {
		t.Errorf("inspect line for the hostile object: %q\n%s", f, s)
	}
	if f := strings.Fields(findLine(s, "7f00aa")); len(f) != 6 || f[1] != "Queue" || f[4]+" "+f[5] != "<queue.Queue object>" {
		t.Errorf("inspect line for the plain object: %q\n%s", f, s)
	}
}
