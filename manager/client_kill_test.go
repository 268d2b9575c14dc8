package manager_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/procshare/procshare/internal/pyenv"
	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

// A child process of the kill tests: PROCSHARE_CONFIRM_CHILD holds
// "address|role". It dials the server with the Go client, prints READY and
// then "G <repr>" for every grant it receives, before the client confirms
// it, so that a grant the server keeps is always one the test sees:
//
//	get:  Queue.Get on the named queue get_queue, forever;
//	lock: Lock.Lock on the named lock get_lock, then "L" once it holds it.
func init() {
	spec := os.Getenv("PROCSHARE_CONFIRM_CHILD")
	if spec == "" {
		return
	}
	fmt.Println("ERROR", confirmChild(spec))
	os.Exit(1)
}

func confirmChild(spec string) error {
	addr, role, _ := strings.Cut(spec, "|")
	ctx := context.Background()
	c, err := manager.Dial(ctx, addr, stKey, nil)
	if err != nil {
		return err
	}
	if !c.Extended() {
		return fmt.Errorf("the server is not procshare's")
	}
	out := os.Stdout // unbuffered: a line is written before the ack
	manager.SetGrantHookForTest(func(v pickle.Value) { fmt.Fprintf(out, "G %s\n", pickle.Repr(v)) })
	switch role {
	case "get":
		q, err := manager.Named[manager.Queue](ctx, c, "get_queue")
		if err != nil {
			return err
		}
		fmt.Fprintln(out, "READY")
		for {
			if _, err := q.Get(ctx); err != nil {
				return err
			}
		}
	case "lock":
		l, err := manager.Named[manager.Lock](ctx, c, "get_lock")
		if err != nil {
			return err
		}
		fmt.Fprintln(out, "READY")
		if err := l.Lock(ctx); err != nil {
			return err
		}
		fmt.Fprintln(out, "L")
		time.Sleep(time.Minute)
		return nil
	}
	return fmt.Errorf("unknown role %q", role)
}

// killable is a child process whose stdout lines are collected until it is
// killed.
type killable struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan []string // all lines, once stdout ends
}

// startKillable starts cmd and waits for its READY line.
func startKillable(t *testing.T, cmd *exec.Cmd) *killable {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	k := &killable{t: t, cmd: cmd, lines: make(chan []string, 1)}
	t.Cleanup(func() { k.kill() })
	r := bufio.NewReader(out)
	line, err := r.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "READY" {
		k.kill()
		t.Fatalf("child: %q %v", line, err)
	}
	go func() {
		var lines []string
		for {
			l, err := r.ReadString('\n')
			if err == io.EOF && l == "" || err != nil && err != io.EOF {
				break
			}
			lines = append(lines, strings.TrimSuffix(l, "\n"))
			if err != nil {
				break
			}
		}
		k.lines <- lines
	}()
	return k
}

// kill SIGKILLs the child and returns what it printed after READY.
func (k *killable) kill() []string {
	if k.cmd.ProcessState != nil {
		return nil
	}
	k.cmd.Process.Signal(syscall.SIGKILL)
	lines := <-k.lines
	k.cmd.Wait()
	for _, l := range lines {
		if strings.HasPrefix(l, "ERROR") || strings.HasPrefix(l, "Traceback") {
			k.t.Errorf("child: %s", l)
		}
	}
	return lines
}

func startConfirmChild(t *testing.T, addr, role string) *killable {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PROCSHARE_CONFIRM_CHILD="+addr+"|"+role)
	return startKillable(t, cmd)
}

// streamUntilKilled puts items next, next+1 … into queue q while child
// waits for them, and kills child at a random moment within max meanwhile;
// it returns what child printed.
func streamUntilKilled(child *killable, o *stObj, q string, next *int64, max time.Duration) []string {
	killed := make(chan []string, 1)
	time.AfterFunc(rand.N(max), func() { killed <- child.kill() })
	for {
		select {
		case lines := <-killed:
			return lines
		default:
		}
		o.must(q, "put", *next)
		*next++
		jitter(time.Millisecond)
	}
}

// drainQueue waits until the server has finished every connection but o's
// (the dead children's compensations have run), then empties queue q.
func drainQueue(t *testing.T, ts *stServer, o *stObj, q string) []int64 {
	t.Helper()
	waitFor(t, "the killed clients' connections to end", func() bool { return ts.srv.ConnsForTest() == 1 })
	var items []int64
	for {
		kind, v := o.do(q, "get_nowait")
		if kind != "#RETURN" {
			stWantExc(t, kind, v, "_queue.Empty", "")
			return items
		}
		items = append(items, v.(int64))
	}
}

// TestConfirmKilledGoClientGet: a Go client process blocked in Queue.Get
// while items stream in is SIGKILLed at random points, many times. Every
// item put is either one the client received (it prints each before
// confirming it) or still in the queue: none is lost. An item comes twice
// only if it was the last one a killed client printed (received, not yet
// confirmed).
func TestConfirmKilledGoClientGet(t *testing.T) {
	rounds := 30
	if testing.Short() {
		rounds = 10
	}
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			t.Parallel()
			ts := startStServer(t, network, &manager.ServerConfig{
				Expose: []manager.ExposedObject{{Name: "get_queue", TypeID: "Queue"}},
			})
			q, _ := ts.create("get_queue")
			o := ts.stObj()
			count := map[int64]int{}
			lastOf := map[int64]int{} // items printed last by a killed child
			var next int64
			for range rounds {
				child := startConfirmChild(t, ts.addr, "get")
				var last int64 = -1
				for _, l := range streamUntilKilled(child, o, q, &next, 30*time.Millisecond) {
					s, ok := strings.CutPrefix(l, "G ")
					if !ok {
						continue
					}
					n, err := strconv.ParseInt(s, 10, 64)
					if err != nil {
						t.Fatalf("child printed %q", l)
					}
					count[n]++
					last = n
				}
				if last >= 0 {
					lastOf[last]++
				}
			}
			received := len(count)
			for _, n := range drainQueue(t, ts, o, q) {
				count[n]++
			}
			dups := 0
			for n := range next {
				switch c := count[n]; {
				case c == 0:
					t.Errorf("item %d lost", n)
				case c-1 > lastOf[n]:
					t.Errorf("item %d came %d times", n, c)
				case c > 1:
					dups++
				}
			}
			if len(count) != int(next) {
				t.Errorf("%d distinct items, %d put", len(count), next)
			}
			t.Logf("%d rounds, %d items, %d received by the clients, %d twice (received, not yet confirmed)", rounds, next, received, dups)
		})
	}
}

// TestConfirmKilledGoClientLock: a Go client process blocked in Lock.Lock
// is granted the lock and SIGKILLed at random points, many times. If it
// never saw the grant, the lock is free afterwards; if it had confirmed it
// (Lock returned), the lock stays held, as a CPython client's would
// (without ReleaseOnDisconnect); in between, either.
func TestConfirmKilledGoClientLock(t *testing.T) {
	rounds := 30
	if testing.Short() {
		rounds = 10
	}
	ts := startStServer(t, "tcp", &manager.ServerConfig{
		Expose: []manager.ExposedObject{{Name: "get_lock", TypeID: "Lock"}},
	})
	l, _ := ts.create("get_lock")
	o := ts.stObj()
	outcomes := map[string]int{}
	for range rounds {
		pyEq(t, o.must(l, "acquire", false), true)
		child := startConfirmChild(t, ts.addr, "lock")
		jitter(5 * time.Millisecond)
		o.must(l, "release")
		jitter(500 * time.Microsecond)
		sawGrant, sawLocked := false, false
		for _, line := range child.kill() {
			sawGrant = sawGrant || line == "G True"
			sawLocked = sawLocked || line == "L"
		}
		waitFor(t, "the killed client's connections to end", func() bool { return ts.srv.ConnsForTest() == 1 })
		free := o.must(l, "acquire", false) == true
		switch {
		case sawLocked && free:
			t.Fatal("the lock was released although the client had confirmed its grant")
		case !sawGrant && !free:
			t.Fatal("the lock stayed held by a client that never received it")
		}
		outcomes[fmt.Sprintf("received=%v locked=%v free=%v", sawGrant, sawLocked, free)]++
		o.must(l, "release") // ours, or the dead client's
	}
	t.Logf("outcomes: %v", outcomes)
}

// TestKilledCPythonClientGet: a stock CPython client blocked in q.get()
// while items stream in is SIGKILLed at random points. Its connection does
// not confirm grants (CPython has no such thing), so the one reply the
// kernel accepted just before the process died may carry an item nobody
// gets: at most one item per kill is lost, none twice, and the server
// keeps serving.
func TestKilledCPythonClientGet(t *testing.T) {
	py := pyenv.Latest(t)
	rounds := 8
	if testing.Short() {
		rounds = 3
	}
	ts := startStServer(t, "tcp", &manager.ServerConfig{
		Expose: []manager.ExposedObject{{Name: "get_queue", TypeID: "Queue"}},
	})
	q, _ := ts.create("get_queue")
	o := ts.stObj()
	count := map[int64]int{}
	var next int64
	for range rounds {
		child := startKillable(t, exec.Command(py.Path, "testdata/killed_get.py", ts.addr, hex.EncodeToString(stKey)))
		for _, l := range streamUntilKilled(child, o, q, &next, 30*time.Millisecond) {
			n, err := strconv.ParseInt(l, 10, 64)
			if err != nil {
				t.Fatalf("child printed %q", l)
			}
			count[n]++
		}
	}
	received := len(count)
	for _, n := range drainQueue(t, ts, o, q) {
		count[n]++
	}
	lost := 0
	for n := range next {
		switch count[n] {
		case 0:
			lost++
		case 1:
		default:
			t.Errorf("item %d came %d times", n, count[n])
		}
	}
	if lost > rounds {
		t.Errorf("%d items lost in %d kills", lost, rounds)
	}
	t.Logf("%d rounds, %d items, %d printed by the clients, %d lost (received by a client killed before it printed, or accepted by its kernel)", rounds, next, received, lost)
}
