//go:build unix

package wire_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/procshare/procshare/internal/wire"
)

// The ping-pong benchmarks measure the floor under every manager round
// trip: one small message to another Go process over a Unix socket and back.
// The peer is this test binary re-executed with its role in echoPeerEnv; it
// echoes on the socket it inherits as fd 3 until EOF.
const (
	echoPeerEnv = "PROCSHARE_WIRE_ECHO_PEER"
	pingSize    = 64
)

// Echo peer roles.
const (
	peerNetConn = "netconn" // net.Conn Read/Write of raw bytes
	peerSyscall = "syscall" // read(2)/write(2) on the raw, blocking fd
	peerFramed  = "framed"  // wire.Conn ReadFrame/WriteFrame
)

func TestMain(m *testing.M) {
	if role := os.Getenv(echoPeerEnv); role != "" {
		if err := echoPeer(role); err != nil {
			fmt.Fprintln(os.Stderr, "echo peer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func echoPeer(role string) error {
	const fd = 3
	switch role {
	case peerSyscall:
		buf := make([]byte, 64<<10)
		for {
			n, err := syscall.Read(fd, buf)
			if err == syscall.EINTR {
				continue
			}
			if n <= 0 || err != nil {
				return err
			}
			if err := writeAllFd(fd, buf[:n]); err != nil {
				return err
			}
		}
	case peerNetConn, peerFramed:
		nc, err := net.FileConn(os.NewFile(fd, "peer"))
		if err != nil {
			return err
		}
		defer nc.Close()
		if role == peerFramed {
			c := wire.NewConn(nc, nil)
			for {
				p, err := c.ReadFrame()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				if err := c.WriteFrame(p); err != nil {
					return err
				}
			}
		}
		buf := make([]byte, 64<<10)
		for {
			n, err := nc.Read(buf)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if _, err := nc.Write(buf[:n]); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("unknown role %q", role)
}

func writeAllFd(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := syscall.Write(fd, p)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func readFullFd(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := syscall.Read(fd, p)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrUnexpectedEOF
		}
		p = p[n:]
	}
	return nil
}

// startEchoPeer starts the echo peer process and returns our end of the
// socket pair as a blocking fd; closing it makes the peer exit.
func startEchoPeer(tb testing.TB, role string) int {
	tb.Helper()
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		tb.Fatal(err)
	}
	peerEnd := os.NewFile(uintptr(fds[1]), "peer")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), echoPeerEnv+"="+role)
	cmd.ExtraFiles = []*os.File{peerEnd}
	cmd.Stderr = os.Stderr
	err = cmd.Start()
	peerEnd.Close()
	if err != nil {
		syscall.Close(fds[0])
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := cmd.Wait(); err != nil {
			tb.Errorf("echo peer %s: %v", role, err)
		}
	})
	return fds[0]
}

// netConnOf wraps our end of the pair in a net.Conn (which takes its own
// copy of the descriptor) and closes the raw fd.
func netConnOf(tb testing.TB, fd int) net.Conn {
	f := os.NewFile(uintptr(fd), "ours")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		tb.Fatal(err)
	}
	return nc
}

// TestEchoPeers checks the benchmarks' harness: each peer kind echoes
// messages across processes, then exits cleanly at EOF.
func TestEchoPeers(t *testing.T) {
	t.Parallel()
	msg := payload(pingSize)
	t.Run(peerSyscall, func(t *testing.T) {
		fd := startEchoPeer(t, peerSyscall)
		got := make([]byte, pingSize)
		for i := 0; i < 10; i++ {
			if err := writeAllFd(fd, msg); err != nil {
				t.Fatal(err)
			}
			if err := readFullFd(fd, got); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("echo: %q, %v", got, err)
			}
		}
		syscall.Close(fd)
	})
	t.Run(peerNetConn, func(t *testing.T) {
		nc := netConnOf(t, startEchoPeer(t, peerNetConn))
		got := make([]byte, pingSize)
		for i := 0; i < 10; i++ {
			if _, err := nc.Write(msg); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(nc, got); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("echo: %q, %v", got, err)
			}
		}
		nc.Close()
	})
	t.Run(peerFramed, func(t *testing.T) {
		c := wire.NewConn(netConnOf(t, startEchoPeer(t, peerFramed)), nil)
		for _, n := range []int{0, pingSize, 100000} {
			if err := c.WriteFrame(payload(n)); err != nil {
				t.Fatal(err)
			}
			if got, err := c.ReadFrame(); err != nil || !bytes.Equal(got, payload(n)) {
				t.Fatalf("echo of %d bytes: %d bytes, %v", n, len(got), err)
			}
		}
		c.Close()
	})
}

// BenchmarkPingPongUnixRaw is the baseline of the manager round-trip
// target: a 64-byte message to another Go process and back over a Unix
// socket, with net.Conn on both sides and no framing. One op = one round
// trip.
func BenchmarkPingPongUnixRaw(b *testing.B) {
	nc := netConnOf(b, startEchoPeer(b, peerNetConn))
	defer nc.Close()
	msg, got := payload(pingSize), make([]byte, pingSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := nc.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(nc, got); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPingPongUnixRawSyscall is the same round trip with read(2) and
// write(2) on blocking descriptors on both sides: the floor without Go's
// network poller.
func BenchmarkPingPongUnixRawSyscall(b *testing.B) {
	fd := startEchoPeer(b, peerSyscall)
	defer syscall.Close(fd)
	msg, got := payload(pingSize), make([]byte, pingSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := writeAllFd(fd, msg); err != nil {
			b.Fatal(err)
		}
		if err := readFullFd(fd, got); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPingPongUnixFramed is the same round trip with a 64-byte frame
// through wire.Conn on both sides: the framing overhead over
// BenchmarkPingPongUnixRaw.
func BenchmarkPingPongUnixFramed(b *testing.B) {
	c := wire.NewConn(netConnOf(b, startEchoPeer(b, peerFramed)), nil)
	defer c.Close()
	msg := payload(pingSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.WriteFrame(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := c.ReadFrame(); err != nil {
			b.Fatal(err)
		}
	}
}
