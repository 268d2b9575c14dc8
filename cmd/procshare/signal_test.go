//go:build unix

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/procshare/procshare/manager"
	"golang.org/x/sys/unix"
)

func init() {
	// A command stuck where ctx cannot reach it: opening a FIFO that has no
	// writer blocks in open(2), which Go retries on EINTR.
	register(command{
		name:    "test-block-fifo",
		summary: "(tests only) open the FIFO ARG, which has no writer",
		run: func(ctx context.Context, args []string) error {
			fmt.Println("blocking")
			f, err := os.Open(args[0])
			if err == nil {
				f.Close()
			}
			return fmt.Errorf("open returned: %v", err)
		},
	})
}

// startProcshare starts "procshare ARGS" as a child process (the test
// binary, see TestMain) with its stdout piped.
func startProcshare(t *testing.T, args ...string) (*exec.Cmd, *bufio.Reader, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "PROCSHARE_TEST_MAIN="+strings.Join(args, "\n"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewReader(stdout), &stderr
}

// TestCommandEndsOnSignal: SIGINT or SIGTERM ends a command (other than
// serve) even when it is stuck in a system call that its context cannot
// interrupt: it exits with status 1, naming the signal. Before, the signal
// was caught for the context and nothing else happened.
func TestCommandEndsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "fifo")
			if err := unix.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd, stdout, stderr := startProcshare(t, "test-block-fifo", fifo)
			if line, err := stdout.ReadString('\n'); line != "blocking\n" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("child: %q %v\n%s", line, err, stderr.String())
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			code := waitExit(t, cmd, "test-block-fifo")
			if code != 1 || !strings.Contains(stderr.String(), sig.String()+" signal received") {
				t.Errorf("exit %d, stderr %q; want 1 and the signal named", code, stderr.String())
			}
		})
	}
}

// TestInspectEndsOnSignal: "procshare inspect" against a server that
// accepts and never answers stops at SIGINT, reporting the signal, rather
// than waiting for its 30 s deadline.
func TestInspectEndsOnSignal(t *testing.T) {
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "silent.sock")
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	cmd, _, stderr := startProcshare(t, "inspect", "--address", sock, "--authkey-file", keyFile)
	select {
	case c := <-accepted:
		defer c.Close() // silent: inspect waits for the handshake's challenge
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("inspect never connected; stderr:\n%s", stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	code := waitExit(t, cmd, "inspect")
	if code != 1 || !strings.Contains(stderr.String(), "interrupt signal received") {
		t.Errorf("exit %d, stderr %q; want 1 and the signal named", code, stderr.String())
	}
}

// TestManagerCallCancel: managerCall returns the context's cause once the
// context is cancelled, rather than an i/o timeout at its 30 s deadline.
func TestManagerCallCancel(t *testing.T) {
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "silent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cause := errors.New("test cause")
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		cancel(cause)           // while the client waits for the challenge
		c.Read(make([]byte, 1)) // until the client goes
	}()
	addr, err := manager.ParseAddress(sock)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := managerCall(ctx, addr, []byte("k"), "ps_info"); !errors.Is(err, cause) {
		t.Errorf("managerCall = %v, want the context's cause", err)
	}
}

// TestServeSurvivesSIGHUP: a serve process (by its PID) that gets SIGHUP,
// as when its terminal closes, logs it and goes on serving; SIGTERM then
// stops it with status 0. Before, SIGHUP's default action killed it.
func TestServeSurvivesSIGHUP(t *testing.T) {
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "m.sock")
	keyFile := filepath.Join(dir, "key")
	addrFile := filepath.Join(dir, "addr")
	key := []byte("hup key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, _, stderr := startProcshare(t, "serve", "--address", sock, "--authkey-file", keyFile, "--addr-file", addrFile)
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	}()
	waitFile(t, addrFile)
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(stderr.String(), "procshare: SIGHUP ignored") {
		select {
		case <-exited:
			t.Fatalf("serve exited on SIGHUP (%v); stderr:\n%s", cmd.ProcessState, stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	ctx := context.Background()
	c, err := manager.Dial(ctx, sock, key, nil)
	if err != nil {
		t.Fatalf("after SIGHUP: %v", err)
	}
	if _, err := c.NewQueue(ctx, 0); err != nil {
		t.Fatalf("after SIGHUP: %v", err)
	}
	c.Close()
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("serve still runs 60 s after SIGTERM; stderr:\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(stderr.String(), "procshare: server stopped") {
		t.Errorf("after SIGTERM: exit %d; stderr:\n%s", code, stderr.String())
	}
}
