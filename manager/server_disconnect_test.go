package manager_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/procshare/procshare/internal/wire"
	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

// A child process of the disconnect tests: PROCSHARE_SRVTEST_CHILD holds
// "address|role|id,id,...". It connects, does its role, prints READY and
// waits to be killed.
func init() {
	spec := os.Getenv("PROCSHARE_SRVTEST_CHILD")
	if spec == "" {
		return
	}
	if err := srvTestChild(spec); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func srvTestChild(spec string) error {
	parts := strings.Split(spec, "|")
	addr, role, ids := parts[0], parts[1], strings.Split(parts[2], ",")
	a, err := manager.ParseAddress(addr)
	if err != nil {
		return err
	}
	nc, err := net.Dial(a.Network, a.Addr)
	if err != nil {
		return err
	}
	wc := wire.NewConn(nc, nil)
	if err := wire.ClientHandshake(wc, stKey); err != nil {
		return err
	}
	call := func(ident pickle.Value, method string, args ...pickle.Value) (pickle.Value, error) {
		if role == "get" && method == "get" {
			// The reply never comes: we are killed blocked.
			return nil, rawSend(wc, ident, method, args...)
		}
		return rawCall(wc, ident, method, args...)
	}
	if _, err := call(nil, "accept_connection", "child"); err != nil {
		return err
	}
	switch role {
	case "get":
		// Enough requests first for the connection to move to a
		// dedicated thread when the server has them.
		for range 20 {
			if _, err := call(ids[0], "qsize"); err != nil {
				return err
			}
		}
		if _, err := call(ids[0], "get"); err != nil {
			return err
		}
	case "locks":
		for _, id := range ids {
			if v, err := call(id, "acquire"); err != nil || v != true {
				return fmt.Errorf("acquire %s: %v %v", id, v, err)
			}
		}
	}
	fmt.Println("READY")
	time.Sleep(time.Minute)
	return nil
}

// rawSend writes one request without a testing.TB (child processes).
func rawSend(wc *wire.Conn, ident pickle.Value, method string, args ...pickle.Value) error {
	data, err := pickle.Marshal(pickle.Tuple{ident, method, pickle.Tuple(args), pickle.NewDict()})
	if err != nil {
		return err
	}
	return wc.WriteFrame(data)
}

// rawCall makes one call and returns the result of a '#RETURN' reply, or
// an error.
func rawCall(wc *wire.Conn, ident pickle.Value, method string, args ...pickle.Value) (pickle.Value, error) {
	if err := rawSend(wc, ident, method, args...); err != nil {
		return nil, err
	}
	f, err := wc.ReadFrame()
	if err != nil {
		return nil, err
	}
	v, err := pickle.Unmarshal(f)
	if err != nil {
		return nil, err
	}
	r, ok := v.(pickle.Tuple)
	if !ok || len(r) != 2 || r[0] != "#RETURN" {
		return nil, fmt.Errorf("%s: %s", method, pickle.Repr(v))
	}
	return r[1], nil
}

// startChild runs the test binary as a child with a role and waits for its
// READY line; the child is SIGKILLed by kill.
func startChild(t *testing.T, addr, role string, ids ...string) (kill func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PROCSHARE_SRVTEST_CHILD="+addr+"|"+role+"|"+strings.Join(ids, ","))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	kill = func() {
		if !killed {
			killed = true
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
		}
	}
	t.Cleanup(kill)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "READY" {
		t.Fatalf("child: %q %v", line, err)
	}
	return kill
}

// TestServerKilledClientBlockedInGet: a client process killed while
// blocked in q.get() must not consume a later put (CPython's server loses
// that item), over either transport, whether the connection has a thread
// of its own or is in the netpoller.
func TestServerKilledClientBlockedInGet(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		for _, threads := range []int{0, -1} {
			t.Run(fmt.Sprintf("%s/DedicatedThreads=%d", network, threads), func(t *testing.T) {
				t.Parallel()
				ts := startStServer(t, network, &manager.ServerConfig{DedicatedThreads: threads})
				q, _ := ts.create("Queue")
				kill := startChild(t, ts.addr, "get", q)
				time.Sleep(50 * time.Millisecond) // let the server block in get
				kill()
				o := ts.stObj()
				o.must(q, "put", "item")
				// The dead client's get is cancelled once the server
				// sees the EOF, or gives the item back if it was
				// granted first; a live client's get receives it.
				kind, v := o.do(q, "get", true, 5.0)
				if kind != "#RETURN" || v != "item" {
					t.Fatalf("get after the kill: %s %s", kind, pyRepr(v))
				}
			})
		}
	}
}

// TestServerDedicatedThreadBudget: with a budget of one dedicated thread,
// the first object connection to have served 16 requests gets it and the
// others stay in the netpoller; calls, blocking calls and Close work on
// both kinds at once.
func TestServerDedicatedThreadBudget(t *testing.T) {
	ts := startStServer(t, "unix", &manager.ServerConfig{DedicatedThreads: 1})
	q, _ := ts.create("Queue")
	objs := []*stObj{ts.stObj(), ts.stObj(), ts.stObj()}
	if n := ts.srv.DedicatedThreadsForTest(); n != 0 {
		t.Fatalf("%d dedicated threads before any request", n)
	}
	for i, o := range objs {
		for range 20 {
			o.must(q, "put", int64(i))
			if v := o.must(q, "get"); v != int64(i) {
				t.Fatalf("connection %d got %s", i, pyRepr(v))
			}
		}
	}
	if n := ts.srv.DedicatedThreadsForTest(); n != 1 {
		t.Fatalf("%d dedicated threads in use, want the budget of 1", n)
	}
	// Each connection blocks in a get, and a put from another wakes it.
	for i, o := range objs {
		o.send(q, "get", pickle.Tuple{true, 5.0}, nil)
		objs[(i+1)%len(objs)].must(q, "put", "x")
		if kind, v := o.recv(); kind != "#RETURN" || v != "x" {
			t.Fatalf("connection %d: blocked get returned %s %s", i, kind, pyRepr(v))
		}
	}
	// A get still blocked when the server closes ends with the connection.
	objs[0].send(q, "get", pickle.Tuple{true, nil}, nil)
	ts.srv.Close()
	if _, err := objs[0].wc.ReadFrame(); err == nil {
		t.Fatal("a blocked get answered after Close")
	}
}

// TestServerKilledClientHoldingLocks: RLock and Condition ownership is
// always released when the owner's connection dies; Lock and Semaphore
// acquisitions only with ReleaseOnDisconnect.
func TestServerKilledClientHoldingLocks(t *testing.T) {
	for _, release := range []bool{false, true} {
		t.Run(fmt.Sprintf("ReleaseOnDisconnect=%v", release), func(t *testing.T) {
			t.Parallel()
			ts := startStServer(t, "unix", &manager.ServerConfig{ReleaseOnDisconnect: release})
			rl, _ := ts.create("RLock")
			cond, _ := ts.create("Condition")
			lock, _ := ts.create("Lock")
			sem, _ := ts.create("BoundedSemaphore")
			kill := startChild(t, ts.addr, "locks", rl, cond, lock, sem)
			o := ts.stObj()
			pyEq(t, o.must(rl, "acquire", false), false)
			pyEq(t, o.must(lock, "acquire", false), false)
			kill()
			pyEq(t, o.must(rl, "acquire", true, 10.0), true)
			pyEq(t, o.must(cond, "acquire", true, 10.0), true)
			if release {
				pyEq(t, o.must(lock, "acquire", true, 10.0), true)
				pyEq(t, o.must(sem, "acquire", true, 10.0), true)
			} else {
				pyEq(t, o.must(lock, "acquire", true, 0.05), false)
				pyEq(t, o.must(sem, "acquire", true, 0.05), false)
			}
		})
	}
}

// TestServerInterrupt: ps_interrupt stops the blocking call of an object
// connection with InterruptedError; state is unchanged; armed interrupts
// hit the call they name.
func TestServerInterrupt(t *testing.T) {
	forStTransports(t, nil, func(t *testing.T, ts *stServer) {
		q, _ := ts.create("Queue")
		o, cid := ts.stObjPS()
		o.send(q, "get", nil, nil) // call 1 blocks
		// Naming the call interrupts it whether or not the server has
		// read it yet.
		pyEq(t, ts.mustServer("ps_interrupt", cid, int64(1)), true)
		kind, v := o.recv()
		stWantExc(t, kind, v, "InterruptedError", "procshare: call interrupted")
		// Nothing running now: no-op.
		pyEq(t, ts.mustServer("ps_interrupt", cid), false)
		// Armed for call 3 before it is sent; call 2 is not affected.
		pyEq(t, ts.mustServer("ps_interrupt", cid, int64(3)), true)
		o.must(q, "put", int64(1)) // call 2
		pyEq(t, o.must(q, "get"), int64(1))
		// Call 3 above was the get, which did not block: its normal reply
		// was sent. Arm call 5 and block in it.
		pyEq(t, ts.mustServer("ps_interrupt", cid, int64(5)), true)
		o.must(q, "qsize") // call 4
		kind, v = o.do(q, "get")
		stWantExc(t, kind, v, "InterruptedError", "")
		// The queue still works and nothing was lost.
		o.must(q, "put", "x")
		pyEq(t, o.must(q, "get"), "x")

		// A Condition.wait interrupted returns with the lock held again.
		c, _ := ts.create("Condition")
		o.must(c, "acquire")                      // call 8
		o.send(c, "wait", pickle.Tuple{nil}, nil) // call 9
		pyEq(t, ts.mustServer("ps_interrupt", cid, int64(9)), true)
		kind, v = o.recv()
		stWantExc(t, kind, v, "InterruptedError", "")
		o.must(c, "release") // still owned

		// seq 0: whatever call is running; poll until the get blocks.
		o.send(q, "get", nil, nil)
		deadline := time.Now().Add(10 * time.Second)
		for ts.mustServer("ps_interrupt", cid) != true {
			if time.Now().After(deadline) {
				t.Fatal("ps_interrupt never found the running get")
			}
			time.Sleep(time.Millisecond)
		}
		kind, v = o.recv()
		stWantExc(t, kind, v, "InterruptedError", "")
		kind, v = ts.server("ps_interrupt", "nosuchconn")
		stWantTB(t, kind, v, "KeyError")
	})
}

// TestServerInterruptNeedsSecret: a client cannot interrupt another
// client's call by guessing its connection id: the id accept_connection
// returns carries 128 random bits, and only the exact id interrupts.
func TestServerInterruptNeedsSecret(t *testing.T) {
	ts := startStServer(t, "unix", nil)
	q, _ := ts.create("Queue")
	o, cid := ts.stObjPS()
	label, secret, ok := strings.Cut(cid, "-")
	if !ok || !strings.HasPrefix(label, "c") || len(secret) != 32 {
		t.Fatalf("connection id %q: want cN-<32 hex digits>", cid)
	}
	_, cid2 := ts.stObjPS()
	if _, secret2, _ := strings.Cut(cid2, "-"); secret2 == secret {
		t.Fatal("two connections got the same secret")
	}
	o.send(q, "get", nil, nil) // call 1 blocks
	// Another client guesses: every label, with and without a suffix.
	for i := 0; i < 20; i++ {
		for _, guess := range []string{
			"c" + strconv.Itoa(i), "c" + strconv.Itoa(i) + "-", label + "-" + strings.Repeat("0", 32), label,
		} {
			kind, v := ts.server("ps_interrupt", guess, int64(1))
			stWantTB(t, kind, v, "KeyError")
		}
	}
	// The get is still waiting: it takes the item put now.
	ts.stObj().must(q, "put", "item")
	kind, v := o.recv()
	if kind != "#RETURN" {
		t.Fatalf("the get was stopped: %s %s", kind, pickle.Repr(v))
	}
	pyEq(t, v, "item")
	// The owner can interrupt.
	o.send(q, "get", nil, nil) // call 2
	pyEq(t, ts.mustServer("ps_interrupt", cid, int64(2)), true)
	kind, v = o.recv()
	stWantExc(t, kind, v, "InterruptedError", "procshare: call interrupted")
}

// TestServerUndoOnFailedReply: items taken by gets whose replies could not
// be written go back to the front of the queue, in order.
func TestServerUndoOnFailedReply(t *testing.T) {
	ts := startStServer(t, "pipe", nil)
	q, _ := ts.create("Queue")
	o := ts.stObj()
	o.must(q, "put", "a")
	o.must(q, "put", "b")
	o.must(q, "put", "c")
	c := ts.stObj()
	// Two pipelined gets in one write; the client never reads the replies
	// and closes: the server's write fails and both items go back.
	var frames []byte
	for i := 0; i < 2; i++ {
		data, _ := pickle.Marshal(pickle.Tuple{q, "get_nowait", pickle.Tuple{}, pickle.NewDict()})
		frames = append(frames, byte(len(data)>>24), byte(len(data)>>16), byte(len(data)>>8), byte(len(data)))
		frames = append(frames, data...)
	}
	if _, err := c.nc.Write(frames); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	c.nc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for o.must(q, "qsize") != int64(3) {
		if time.Now().After(deadline) {
			t.Fatalf("qsize %s after the failed replies", pyRepr(o.must(q, "qsize")))
		}
		time.Sleep(5 * time.Millisecond)
	}
	pyEq(t, o.must(q, "get"), "a")
	pyEq(t, o.must(q, "get"), "b")
	pyEq(t, o.must(q, "get"), "c")
}
