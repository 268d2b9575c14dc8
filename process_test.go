//go:build unix

package procshare_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/procshare/procshare"
)

// The functions children run. They are registered at package level, so the
// test binary re-executed as a child knows them too.
var (
	nothing = procshare.Register("test.nothing", func() {})

	fail = procshare.Register("test.fail", func(msg string) error {
		return errors.New(msg)
	})

	panicker = procshare.Register("test.panicker", func(msg string) {
		panic(msg)
	})

	goexiter = procshare.Register("test.goexiter", func() {
		runtime.Goexit()
	})

	exiter = procshare.Register("test.exiter", func(code int) {
		os.Exit(code)
	})

	// waiter reports "ready" and waits for its context; when cancelled it
	// reports "cleanup" and returns the context's error.
	waiter = procshare.Register("test.waiter", func(ctx context.Context, out *pipeWriter) error {
		out.Printf("ready\n")
		<-ctx.Done()
		out.Printf("cleanup\n")
		return ctx.Err()
	})

	// stubborn reports cancellation but keeps running.
	stubborn = procshare.Register("test.stubborn", func(ctx context.Context, out *pipeWriter) {
		out.Printf("ready\n")
		<-ctx.Done()
		out.Printf("cancelled\n")
		select {}
	})

	// sleeper has no context and sleeps.
	sleeper = procshare.Register("test.sleeper", func(out *pipeWriter) {
		out.Printf("ready\n")
		time.Sleep(time.Hour)
	})

	// echo writes its plain arguments back, %v-formatted, one per line.
	echo = procshare.Register("test.echo", func(ctx context.Context, out pipeWriter, i int64, u uint8, f float64,
		s string, b bool, pt point, sl []int, m map[string]int, ptr *point, nilPtr *point, x any) error {
		if ctx == nil {
			return errors.New("nil context")
		}
		for _, v := range []any{out.label, i, u, f, s, b, pt, sl, m, *ptr, nilPtr == nil, x} {
			out.Printf("%v\n", v)
		}
		return nil
	})

	// printer writes to its standard output, and reports its environment.
	printer = procshare.Register("test.printer", func(msg string) {
		_, marked := os.LookupEnv("PROCSHARE_CHILD")
		fmt.Printf("%s FOO=%s marked=%v\n", msg, os.Getenv("FOO"), marked)
		fmt.Fprintf(os.Stderr, "to stderr\n")
	})

	// twoPipes takes two shared values among plain ones.
	twoPipes = procshare.Register("test.twoPipes", func(n int, a *pipeWriter, s string, b *pipeWriter) {
		a.Printf("%s %d %s\n", a.label, n, s)
		b.Printf("%s %d %s\n", b.label, n, s)
	})

	broken = procshare.Register("test.broken", func(brokenSharer) {})

	// middle starts a grandchild, reports its pid, and waits to be killed.
	middle = procshare.Register("test.middle", func(ctx context.Context, out *pipeWriter, daemon, pdeathsig, watch bool) error {
		procshare.SetPdeathsig(pdeathsig)
		env := os.Environ()
		if !watch {
			env = append(env, envNoParentWatch+"=1")
		}
		p, err := procshare.NewProcess(sleeper, &procshare.Config{Daemon: daemon, Env: env}, out)
		if err != nil {
			return err
		}
		if err := p.Start(); err != nil {
			return err
		}
		out.Printf("%d\n", p.Pid())
		select {}
	})
)

type point struct {
	X, Y int
	Name string
}

var bg = context.Background()

func TestSuccess(t *testing.T) {
	t.Parallel()
	p, err := procshare.Start(nothing)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pid() <= 0 || p.Pid() == os.Getpid() {
		t.Fatalf("Pid() = %d", p.Pid())
	}
	if err := p.Join(bg); err != nil {
		t.Fatalf("Join: %v", err)
	}
	if code, exited := p.ExitCode(); code != 0 || !exited {
		t.Fatalf("ExitCode() = %d, %v; want 0, true", code, exited)
	}
	if p.Alive() {
		t.Fatal("Alive after Join")
	}
	// Join again, from several goroutines: same answer.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := p.Join(bg); err != nil {
				t.Errorf("second Join: %v", err)
			}
		})
	}
	wg.Wait()
	if err := p.Start(); !errors.Is(err, procshare.ErrStarted) {
		t.Fatalf("second Start: %v, want ErrStarted", err)
	}
	if err := p.Kill(); err != nil {
		t.Fatalf("Kill after exit: %v", err)
	}
}

func TestNotStarted(t *testing.T) {
	t.Parallel()
	p, err := procshare.NewProcess(nothing, &procshare.Config{Name: "idle"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Join(bg); !errors.Is(err, procshare.ErrNotStarted) {
		t.Errorf("Join: %v", err)
	}
	if err := p.Terminate(); !errors.Is(err, procshare.ErrNotStarted) {
		t.Errorf("Terminate: %v", err)
	}
	if p.Alive() || p.Pid() != 0 || p.Name() != "idle" {
		t.Errorf("Alive %v, Pid %d, Name %q", p.Alive(), p.Pid(), p.Name())
	}
	if _, exited := p.ExitCode(); exited {
		t.Error("ExitCode reports exited")
	}
}

// joinExit joins p and returns its *ExitError, failing the test otherwise.
func joinExit(t *testing.T, p *procshare.Process) *procshare.ExitError {
	t.Helper()
	err := p.Join(bg)
	var ee *procshare.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Join: %v (%T), want *ExitError", err, err)
	}
	if ee.Pid != p.Pid() || ee.Name != p.Name() {
		t.Errorf("ExitError names %s pid %d; process is %s pid %d", ee.Name, ee.Pid, p.Name(), p.Pid())
	}
	if code, exited := p.ExitCode(); code != ee.Code || !exited {
		t.Errorf("ExitCode() = %d, %v; ExitError.Code %d", code, exited, ee.Code)
	}
	return ee
}

func TestReturnedError(t *testing.T) {
	t.Parallel()
	p, err := procshare.NewProcess(fail, &procshare.Config{Name: "failer"}, "disk on fire")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ee := joinExit(t, p)
	if ee.Code != 1 || ee.Err != "disk on fire" || ee.Panic != "" || ee.Signal != 0 {
		t.Fatalf("ExitError %+v", ee)
	}
	want := fmt.Sprintf("procshare: process failer (pid %d) failed: disk on fire", p.Pid())
	if ee.Error() != want {
		t.Fatalf("Error() = %q, want %q", ee.Error(), want)
	}
}

func TestPanic(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	p, err := procshare.NewProcess(panicker, &procshare.Config{Stderr: &stderr}, "oh no")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ee := joinExit(t, p)
	if ee.Code != 2 || ee.Panic != "oh no" || !strings.Contains(ee.Stack, "procshare_test.init.func") {
		t.Fatalf("ExitError %+v", ee)
	}
	if !strings.Contains(ee.Error(), "panicked: oh no") {
		t.Fatalf("Error() = %q", ee.Error())
	}
	if !strings.Contains(stderr.String(), "panicked: oh no") {
		t.Fatalf("child's stderr: %q", stderr.String())
	}
}

func TestGoexit(t *testing.T) {
	t.Parallel()
	p, err := procshare.NewProcess(goexiter, &procshare.Config{Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if ee := joinExit(t, p); ee.Code != 2 || ee.Panic != "runtime.Goexit called" {
		t.Fatalf("ExitError %+v", ee)
	}
}

func TestOSExit(t *testing.T) {
	t.Parallel()
	p, err := procshare.Start(exiter, 3)
	if err != nil {
		t.Fatal(err)
	}
	ee := joinExit(t, p)
	if ee.Code != 3 || ee.Err != "" || ee.Panic != "" {
		t.Fatalf("ExitError %+v", ee)
	}
	if !strings.HasSuffix(ee.Error(), "exited with code 3") {
		t.Fatalf("Error() = %q", ee.Error())
	}
}

// startReady starts fn(out) and waits for its "ready" line.
func startReady(t *testing.T, fn *procshare.Func) (*procshare.Process, *bufio.Reader) {
	t.Helper()
	r, w := newPipe(t, "")
	p, err := procshare.Start(fn, w)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill(); p.Join(bg) })
	w.f.Close() // the child holds the only write end: its death is EOF
	if line := readLine(t, r); line != "ready" {
		t.Fatalf("child said %q", line)
	}
	return p, r
}

func TestTerminateCleansUp(t *testing.T) {
	t.Parallel()
	p, out := startReady(t, waiter)
	if !p.Alive() {
		t.Fatal("not Alive while running")
	}
	if err := p.Terminate(); err != nil {
		t.Fatal(err)
	}
	if line := readLine(t, out); line != "cleanup" {
		t.Fatalf("child said %q", line)
	}
	ee := joinExit(t, p)
	if ee.Code != -15 || ee.Signal != syscall.SIGTERM || ee.Err != "context canceled" {
		t.Fatalf("ExitError %+v", ee)
	}
	if !strings.Contains(ee.Error(), "killed by signal 15 (terminated): context canceled") {
		t.Fatalf("Error() = %q", ee.Error())
	}
	if p.Alive() {
		t.Fatal("Alive after Join")
	}
}

func TestTerminateWithoutContext(t *testing.T) {
	t.Parallel()
	p, _ := startReady(t, sleeper)
	if err := p.Terminate(); err != nil {
		t.Fatal(err)
	}
	if ee := joinExit(t, p); ee.Code != -15 || ee.Signal != syscall.SIGTERM {
		t.Fatalf("ExitError %+v", ee)
	}
}

func TestTerminateTwice(t *testing.T) {
	t.Parallel()
	p, out := startReady(t, stubborn)
	if err := p.Terminate(); err != nil {
		t.Fatal(err)
	}
	if line := readLine(t, out); line != "cancelled" {
		t.Fatalf("child said %q", line)
	}
	if err := p.Terminate(); err != nil { // the function ignored the first
		t.Fatal(err)
	}
	if ee := joinExit(t, p); ee.Code != -15 {
		t.Fatalf("ExitError %+v", ee)
	}
}

func TestKill(t *testing.T) {
	t.Parallel()
	p, _ := startReady(t, waiter)
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	ee := joinExit(t, p)
	if ee.Code != -9 || ee.Signal != syscall.SIGKILL || ee.Err != "" {
		t.Fatalf("ExitError %+v", ee)
	}
	if !strings.HasSuffix(ee.Error(), "killed by signal 9 (killed)") {
		t.Fatalf("Error() = %q", ee.Error())
	}
}

func TestJoinContext(t *testing.T) {
	t.Parallel()
	p, _ := startReady(t, waiter)
	ctx, cancel := context.WithTimeout(bg, time.Millisecond)
	defer cancel()
	if err := p.Join(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Join: %v, want DeadlineExceeded", err)
	}
	if !p.Alive() {
		t.Fatal("a cancelled Join stopped the child")
	}
	p.Kill()
	<-p.Done()
	if code, _ := p.ExitCode(); code != -9 {
		t.Fatalf("code %d", code)
	}
}

func TestArguments(t *testing.T) {
	t.Parallel()
	r, w := newPipe(t, "label-ok")
	p, err := procshare.Start(echo, *w, int64(-7), 255, 2, "héllo\n", true, point{1, 2, "p"},
		[]int{3, 4}, map[string]int{"a": 1}, &point{5, 6, "q"}, nil, "anything")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Join(bg); err != nil {
		t.Fatal(err)
	}
	w.f.Close()
	got := readAll(t, r)
	want := "label-ok\n-7\n255\n2\nhéllo\n\ntrue\n{1 2 p}\n[3 4]\nmap[a:1]\n{5 6 q}\ntrue\nanything\n"
	if got != want {
		t.Fatalf("child echoed %q, want %q", got, want)
	}
}

func TestArgumentErrors(t *testing.T) {
	t.Parallel()
	_, w := newPipe(t, "")
	tests := []struct {
		fn    *procshare.Func
		args  []any
		index int
		msg   string
	}{
		{fail, nil, 0, "takes 1 arguments, got 0"},
		{fail, []any{"a", "b"}, 0, "takes 1 arguments, got 2"},
		{fail, []any{42}, 1, "cannot use value of type int as string"},
		{fail, []any{nil}, 1, "cannot use nil as string"},
		{exiter, []any{1.5}, 1, "1.5 does not fit in int"},
		{exiter, []any{math.NaN()}, 1, "does not fit in int"},
		{echo, echoArgs(w, 0, 256), 3, "256 does not fit in uint8"},
		{echo, echoArgs(w, 0, -1), 3, "-1 does not fit in uint8"},
		{echo, echoArgs(w, uint64(math.MaxUint64), 0), 2, "does not fit in int64"},
		{echo, echoArgs(w, 0, 0, math.Inf(1)), 4, "unsupported value: +Inf"},
		{echo, echoArgs(nil, 0, 0), 1, "cannot use nil as procshare_test.pipeWriter"},
		{echo, echoArgs("w", 0, 0), 1, "cannot use value of type string as procshare_test.pipeWriter"},
		{sleeper, []any{pipeWriter{}}, 1, "cannot use value of type procshare_test.pipeWriter as *procshare_test.pipeWriter"},
		{sleeper, []any{(*pipeWriter)(nil)}, 1, "cannot share a nil *procshare_test.pipeWriter"},
		{fail, []any{w}, 1, "cannot pass shareable *procshare_test.pipeWriter to a parameter of type string"},
	}
	for _, tt := range tests {
		_, err := procshare.NewProcess(tt.fn, nil, tt.args...)
		var ae *procshare.ArgError
		if !errors.As(err, &ae) {
			t.Errorf("%s%v: err %v, want *ArgError", tt.fn, tt.args, err)
			continue
		}
		if ae.Func != tt.fn.Name() || ae.Index != tt.index || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s%v: %q (index %d), want index %d and %q", tt.fn, tt.args, err, ae.Index, tt.index, tt.msg)
		}
		if !strings.HasPrefix(err.Error(), "procshare: "+tt.fn.Name()+": ") {
			t.Errorf("error %q lacks its prefix", err)
		}
	}
	// Exact conversions are accepted.
	if _, err := procshare.NewProcess(echo, nil, echoArgs(w, 3, uint(200), float32(0.5))...); err != nil {
		t.Errorf("exact conversions: %v", err)
	}
}

// echoArgs returns arguments for echo with the first few replaced.
func echoArgs(w any, i, u any, rest ...any) []any {
	f := any(1.0)
	if len(rest) > 0 {
		f = rest[0]
	}
	var pw any = w
	if p, ok := w.(*pipeWriter); ok {
		pw = *p
	}
	return []any{pw, i, u, f, "s", false, point{}, []int(nil), map[string]int(nil), &point{}, nil, nil}
}

func TestRegisterMisuse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fn   any
		msg  string
	}{
		{"", func() {}, "empty name"},
		{"test.nothing", func() {}, "already registered"},
		{"test.notfunc", 42, "int is not a function"},
		{"test.nilfunc", (func())(nil), "is not a function"},
		{"test.variadic", func(...int) {}, "variadic"},
		{"test.results", func() int { return 0 }, "must return nothing or an error"},
		{"test.chan", func(chan int) {}, "a chan cannot travel"},
		{"test.nested", func(map[string][]func()) {}, "a func cannot travel"},
		{"test.iface", func(io.Reader) {}, "cannot be rebuilt"},
		{"test.ctxlater", func(int, context.Context) {}, "cannot be rebuilt"},
	}
	for _, tt := range tests {
		func() {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, tt.msg) || !strings.HasPrefix(s, "procshare: ") {
					t.Errorf("Register(%q, %T) panicked with %v, want %q", tt.name, tt.fn, r, tt.msg)
				}
			}()
			procshare.Register(tt.name, tt.fn)
		}()
	}
}

func TestOutputAndEnv(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	p, err := procshare.NewProcess(printer, &procshare.Config{
		Stdout: &stdout,
		Stderr: &stderr,
		Env:    append(os.Environ(), "FOO=bar"),
	}, "hi")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if err := p.Join(bg); err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); got != "hi FOO=bar marked=false\n" {
		t.Errorf("stdout %q", got)
	}
	if got := stderr.String(); got != "to stderr\n" {
		t.Errorf("stderr %q", got)
	}
}

func TestDaemonDiesWithParent(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                     string
		daemon, pdeathsig, watch bool
	}{
		{"both", true, true, true},
		{"pdeathsig", true, true, false},
		{"pipe", true, false, true},
		{"nondaemon", false, false, true},
		// Both mechanisms off: the grandchild survives, which shows that
		// each case above tests what it names.
		{"neither", true, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if c.pdeathsig && !c.watch && runtime.GOOS != "linux" {
				t.Skip("the parent-death signal is Linux's")
			}
			r, w := newPipe(t, "")
			p, err := procshare.Start(middle, w, c.daemon, c.pdeathsig, c.watch)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Kill(); p.Join(bg) })
			w.f.Close() // only the children hold the write end
			pid, err := strconv.Atoi(readLine(t, r))
			if err != nil {
				t.Fatal(err)
			}
			if line := readLine(t, r); line != "ready" { // the grandchild runs
				t.Fatalf("grandchild said %q", line)
			}
			if err := p.Kill(); err != nil {
				t.Fatal(err)
			}
			if ee := joinExit(t, p); ee.Code != -9 {
				t.Fatalf("middle: %+v", ee)
			}
			if c.daemon && (c.pdeathsig || c.watch) {
				waitGone(t, pid)
				return
			}
			// A non-daemon grandchild outlives its parent.
			if c.daemon {
				// Give a knob that did not reach the grandchild time to
				// show; working knobs pass whatever the delay.
				time.Sleep(100 * time.Millisecond)
			}
			if gone(pid) {
				t.Fatalf("grandchild %d died with its parent", pid)
			}
			syscall.Kill(pid, syscall.SIGKILL)
			waitGone(t, pid)
		})
	}
}

// TestNoFDLeak starts and joins 100 children (20 with -short: a race-enabled
// child costs a tenth of a CPU second) and checks that the parent holds no
// more descriptors afterwards. It does not run in parallel with others.
func TestNoFDLeak(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors in /proc/self/fd (Linux)")
	}
	n := 100
	if testing.Short() {
		n = 20
	}
	_, w := newPipe(t, "")
	// Warm up what is opened once (the executable's path, the starter).
	for _, daemon := range []bool{false, true} {
		p, _ := procshare.NewProcess(nothing, &procshare.Config{Daemon: daemon})
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		p.Join(bg)
	}
	before := countFDs(t)
	// A failed start closes what ShareFiles returned.
	if p, err := procshare.NewProcess(broken, nil, brokenSharer{}); err != nil || p.Start() == nil {
		t.Fatal("brokenSharer started")
	}
	procs := make([]*procshare.Process, n)
	for i := range procs {
		var err error
		if i%2 == 0 {
			procs[i], err = procshare.NewProcess(nothing, &procshare.Config{Daemon: i%4 == 0})
		} else {
			// Shared descriptors too.
			procs[i], err = procshare.NewProcess(echo, nil, echoArgs(w, i, 0)...)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := procs[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range procs {
		if err := p.Join(bg); err != nil {
			t.Fatal(err)
		}
	}
	if after := countFDs(t); after != before {
		t.Fatalf("%d descriptors before, %d after %d children", before, after, n)
	}
}

func TestFuncAccessors(t *testing.T) {
	t.Parallel()
	if echo.Name() != "test.echo" || echo.NumArgs() != 12 || nothing.NumArgs() != 0 {
		t.Fatalf("Name %q NumArgs %d", echo.Name(), echo.NumArgs())
	}
	p, _ := procshare.NewProcess(nothing, &procshare.Config{Daemon: true})
	if !p.Daemon() || p.Func() != nothing || !strings.HasPrefix(p.Name(), "Process-") {
		t.Fatalf("Daemon %v Func %v Name %q", p.Daemon(), p.Func(), p.Name())
	}
	if !reflect.DeepEqual(p.String(), fmt.Sprintf("<Process name=%q initial daemon>", p.Name())) {
		t.Fatalf("String() = %s", p)
	}
}

// TestNoMain checks that a program that did not call Main starts nothing
// (its child would run main again). Not parallel: it changes package state.
func TestNoMain(t *testing.T) {
	restore := procshare.ForgetMain()
	defer restore()
	p, err := procshare.NewProcess(nothing, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); !errors.Is(err, procshare.ErrNoMain) {
		t.Fatalf("Start: %v, want ErrNoMain", err)
	}
	if p.Alive() || p.Pid() != 0 {
		t.Fatal("a process started")
	}
}

// TestMarkerWithoutParent runs the binary with the child marker but none of
// the descriptors a parent passes: it must say so and exit 1, not run tests.
func TestMarkerWithoutParent(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "PROCSHARE_CHILD=1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "not started by procshare.Process") {
		t.Fatalf("err %v, output %q", err, out)
	}
}

func TestSeveralSharedArguments(t *testing.T) {
	t.Parallel()
	ra, wa := newPipe(t, "first")
	rb, wb := newPipe(t, "second")
	p, err := procshare.Start(twoPipes, 7, wa, "x", wb)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Join(bg); err != nil {
		t.Fatal(err)
	}
	wa.f.Close()
	wb.f.Close()
	if a, b := readAll(t, ra), readAll(t, rb); a != "first 7 x\n" || b != "second 7 x\n" {
		t.Fatalf("child wrote %q and %q", a, b)
	}
}

func TestShareFilesError(t *testing.T) {
	t.Parallel()
	p, err := procshare.NewProcess(broken, nil, brokenSharer{})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Start()
	if !errors.Is(err, errShare) || !strings.Contains(err.Error(), "argument 1") {
		t.Fatalf("Start: %v", err)
	}
	if p.Alive() || p.Pid() != 0 {
		t.Fatal("started anyway")
	}
}

// TestLargeArgument sends a spec larger than a pipe holds, and gets it back
// as the error text.
func TestLargeArgument(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("0123456789abcdef", 20000) // 320 KB
	p, err := procshare.Start(fail, big)
	if err != nil {
		t.Fatal(err)
	}
	if ee := joinExit(t, p); ee.Code != 1 || ee.Err != big {
		t.Fatalf("code %d, error of %d bytes", ee.Code, len(ee.Err))
	}
}

// TestHugeError checks that an error text beyond the result bound arrives
// truncated rather than lost.
func TestHugeError(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("x", 600<<10) // the bound is under 512 KiB
	p, err := procshare.Start(fail, huge)
	if err != nil {
		t.Fatal(err)
	}
	ee := joinExit(t, p)
	if ee.Code != 1 || !strings.HasSuffix(ee.Err, "x [truncated]") || len(ee.Err) > 1<<20 {
		t.Fatalf("code %d, error of %d bytes ending %q", ee.Code, len(ee.Err), ee.Err[max(0, len(ee.Err)-20):])
	}
}

// TestDaemonOutlivesStartingThread starts a daemon child from a goroutine
// locked to its thread, which then exits, taking the thread with it. Linux
// sends the parent-death signal when the *thread* that forked a child exits,
// so procshare must not fork from it: the child must live on and answer
// Terminate by cleaning up (-15, "context canceled"), not die by SIGKILL.
func TestDaemonOutlivesStartingThread(t *testing.T) {
	t.Parallel()
	r, w := newPipe(t, "")
	started := make(chan *procshare.Process)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		p, err := procshare.NewProcess(waiter, &procshare.Config{Daemon: true}, w)
		if err == nil {
			err = p.Start()
		}
		if err != nil {
			t.Error(err)
			p = nil
		}
		started <- p
	}()
	p := <-started
	if p == nil {
		return
	}
	t.Cleanup(func() { p.Kill(); p.Join(bg) })
	w.f.Close() // the child holds the only write end: its death is EOF
	if line := readLine(t, r); line != "ready" {
		t.Fatalf("child said %q", line)
	}
	// Give a wrong implementation time to lose the child; a right one
	// passes whatever the delay.
	time.Sleep(100 * time.Millisecond)
	if err := p.Terminate(); err != nil {
		t.Fatal(err)
	}
	if ee := joinExit(t, p); ee.Code != -15 || ee.Err != "context canceled" {
		t.Fatalf("ExitError %+v", ee)
	}
}

// TestConcurrentStarts starts and joins children from several goroutines at
// once, daemons and not, joining each from two goroutines.
func TestConcurrentStarts(t *testing.T) {
	t.Parallel()
	per := 3
	if testing.Short() {
		per = 1
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := range per {
				p, err := procshare.NewProcess(exiter, &procshare.Config{Daemon: g%2 == 0}, g*10+i)
				if err != nil {
					t.Error(err)
					return
				}
				if err := p.Start(); err != nil {
					t.Error(err)
					return
				}
				var jw sync.WaitGroup
				for range 2 {
					jw.Go(func() {
						err := p.Join(bg)
						var ee *procshare.ExitError
						if want := g*10 + i; want == 0 && err != nil || want != 0 && (!errors.As(err, &ee) || ee.Code != want) {
							t.Errorf("child %d: %v", want, err)
						}
					})
				}
				jw.Wait()
			}
		})
	}
	wg.Wait()
}
