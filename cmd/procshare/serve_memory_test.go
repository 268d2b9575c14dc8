package main

import (
	"bytes"
	"io"
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
	"github.com/procshare/procshare/pickle"
)

// startServeProcess runs "procshare serve" with extra flags as a process of
// its own (the test binary re-executed) on a Unix socket, and returns the
// socket path, the key and the process; it is killed when the test ends.
func startServeProcess(t *testing.T, flags ...string) (string, []byte, *os.Process) {
	t.Helper()
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "m.sock")
	keyFile := filepath.Join(dir, "key")
	addrFile := filepath.Join(dir, "addr")
	key := []byte("memory key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--address", sock, "--authkey-file", keyFile, "--addr-file", addrFile}, flags...)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "PROCSHARE_TEST_MAIN="+strings.Join(args, "\n"))
	if raceEnabled {
		// The race detector's shadow memory would hide what is measured:
		// run a procshare built without it.
		cmd = exec.Command(plainBinary(t), args...)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("serve stderr:\n%s", stderr.String())
		}
	})
	waitFile(t, addrFile)
	return sock, key, cmd.Process
}

var plain struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// plainBinary builds procshare without the race detector, once per test
// binary.
func plainBinary(t *testing.T) string {
	t.Helper()
	plain.once.Do(func() {
		dir, err := os.MkdirTemp("", "procshare-plain")
		if err != nil {
			plain.err = err
			return
		}
		plain.path = filepath.Join(dir, "procshare")
		plain.out, plain.err = exec.Command("go", "build", "-o", plain.path, ".").CombinedOutput()
	})
	if plain.err != nil {
		t.Fatalf("go build: %v\n%s", plain.err, plain.out)
	}
	return plain.path
}

// rawConn is a connection to the server speaking the protocol directly, so
// that a test controls when (and whether) replies are read.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	wc *wire.Conn
}

func dialRaw(t *testing.T, sock string, key []byte) *rawConn {
	t.Helper()
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	wc := wire.NewConn(nc, &wire.Config{MaxFrame: 1 << 30})
	if err := wire.ClientHandshake(wc, key); err != nil {
		t.Fatal(err)
	}
	return &rawConn{t: t, nc: nc, wc: wc}
}

func (c *rawConn) send(ident pickle.Value, method string, args ...pickle.Value) {
	c.t.Helper()
	req, err := pickle.Marshal(pickle.Tuple{ident, method, pickle.Tuple(args), pickle.NewDict()})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.wc.WriteFrame(req); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawConn) recv() (string, pickle.Value) {
	c.t.Helper()
	f, err := c.wc.ReadFrame()
	if err != nil {
		c.t.Fatal(err)
	}
	v, err := pickle.Unmarshal(f)
	if err != nil {
		c.t.Fatal(err)
	}
	r := v.(pickle.Tuple)
	return r[0].(string), r[1]
}

func (c *rawConn) call(ident pickle.Value, method string, args ...pickle.Value) pickle.Value {
	c.t.Helper()
	c.send(ident, method, args...)
	kind, v := c.recv()
	if kind != "#RETURN" {
		c.t.Fatalf("%s: %s %s", method, kind, pickle.Repr(v))
	}
	return v
}

// vmKiB reads a field such as VmHWM of /proc/PID/status, in KiB.
func vmKiB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// TestServeSlowReadersMemory: twenty connections ask for a 16 MiB item and
// never read the reply. Each reply is charged to the 64 MiB budget while it
// is written, so the server holds a few of them and answers the others
// MemoryError, instead of holding twenty copies (320 MiB): its peak RSS
// stays within twice the budget plus the runtime's own. When the readers
// go, the budget is given back.
func TestServeSlowReadersMemory(t *testing.T) {
	const (
		budget  = 64 << 20
		item    = 16 << 20
		readers = 20
	)
	sock, key, proc := startServeProcess(t, "--max-memory", "64MiB")
	m := dialRaw(t, sock, key)
	id := m.call(nil, "create", "dict").(pickle.Tuple)[0].(string)
	o := dialRaw(t, sock, key)
	o.call(nil, "accept_connection", "setter")
	o.call(id, "__setitem__", "big", bytes.Repeat([]byte("x"), item))

	memErrors := 0
	var slow []*rawConn
	for range readers {
		c := dialRaw(t, sock, key)
		slow = append(slow, c)
		c.call(nil, "accept_connection", "slow")
		c.send(id, "__getitem__", "big")
		// Read the frame header only: the reply has been encoded and is
		// being written (or it is a small error reply, read whole).
		var hdr [4]byte
		if _, err := io.ReadFull(c.nc, hdr[:]); err != nil {
			t.Fatal(err)
		}
		n := int(hdr[0])<<24 | int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
		if n < 1<<20 {
			body := make([]byte, n)
			if _, err := io.ReadFull(c.nc, body); err != nil {
				t.Fatal(err)
			}
			v, err := pickle.Unmarshal(body)
			if err != nil {
				t.Fatal(err)
			}
			if r := pickle.Repr(v); !strings.Contains(r, "MemoryError") || !strings.Contains(r, "memory budget of 67108864 bytes") {
				t.Fatalf("small reply to a 16 MiB __getitem__: %s", r)
			}
			memErrors++
		}
	}
	hwm := vmKiB(t, proc.Pid, "VmHWM") << 10
	t.Logf("peak RSS %d MiB with %d of %d slow readers refused", hwm>>20, memErrors, readers)
	if memErrors == 0 {
		t.Errorf("no reply was refused: %d replies of 16 MiB in flight under a 64 MiB budget", readers)
	}
	if limit := int64(2*budget + 64<<20); hwm > limit {
		t.Errorf("peak RSS %d MiB, over %d MiB (twice the budget and the runtime's)", hwm>>20, limit>>20)
	}

	// The slow readers go away: their charges are given back, and a reader
	// that reads gets the item.
	for _, c := range slow {
		c.nc.Close()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		o.send(id, "__getitem__", "big")
		kind, v := o.recv()
		if kind == "#RETURN" {
			if b, ok := v.([]byte); !ok || len(b) != item {
				t.Fatalf("__getitem__: %T of %d bytes", v, len(b))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the budget was not given back: %s %s", kind, pickle.Repr(v))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeMemoryBudgetCPython: a real CPython client against "procshare
// serve --max-memory 256MiB": l.extend(range(2**24)) and l * 2**22 raise
// MemoryError before the server allocates, the list is unchanged and the
// proxy's connection goes on; str(d) of a dict whose repr is over 1 MiB is
// the whole repr, as CPython's server returns it.
func TestServeMemoryBudgetCPython(t *testing.T) {
	py := pyenv.Latest(t)
	sock, key, proc := startServeProcess(t, "--max-memory", "256MiB")
	script := `
import sys
from multiprocessing.managers import SyncManager
m = SyncManager(address=sys.argv[1], authkey=sys.argv[2].encode())
m.connect()
l = m.list([1, 2, 3])
try:
    l.extend(range(2**24))
    print("extend: no error")
except MemoryError as e:
    print("extend: MemoryError", "memory budget of 268435456 bytes (--max-memory)" in str(e))
print("len", len(l), l[:])
try:
    l * 2**22
    print("mul: no error")
except MemoryError:
    print("mul: MemoryError")
try:
    l *= 2**26
    print("imul: no error")
except MemoryError:
    print("imul: MemoryError")
l.append(4)
print("len", len(l))
d = m.dict({i: "value %d" % i for i in range(100000)})
s = str(d)
print("repr", len(s) > 2**20, s == repr(d.copy()))
`
	out, err := exec.Command(py.Path, "-c", script, sock, string(key)).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", py.Version, err, out)
	}
	want := "extend: MemoryError True\nlen 3 [1, 2, 3]\nmul: MemoryError\nimul: MemoryError\nlen 4\nrepr True True\n"
	if string(out) != want {
		t.Errorf("%s printed\n%s\nwant\n%s", py.Version, out, want)
	}
	if hwm := vmKiB(t, proc.Pid, "VmHWM") << 10; hwm > 2*256<<20+64<<20 {
		t.Errorf("peak RSS %d MiB under a 256 MiB budget", hwm>>20)
	}
}

// TestSizeFlag: --max-memory's sizes.
func TestBudgetFlag(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "-1": -1, "1048576": 1 << 20, "512MiB": 512 << 20, "2GiB": 2 << 30, "1TiB": 1 << 40, "10MB": 10e6,
	} {
		var f budgetFlag
		if err := f.Set(in); err != nil || int64(f.sizeFlag) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, f.sizeFlag, err, want)
		}
	}
	for _, in := range []string{"", "x", "-2", "-1GiB", "1.5GiB", "MiB", "99999999999TiB"} {
		var f budgetFlag
		if err := f.Set(in); err == nil {
			t.Errorf("Set(%q) accepted: %d", in, f.sizeFlag)
		}
	}
}
