package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/procshare/procshare/manager"
)

func init() {
	register(command{
		name:    "serve",
		summary: "run a manager server that Go and Python clients use",
		run: func(ctx context.Context, args []string) error {
			spareProcs()
			return serveCommand(ctx, args, os.Stderr)
		},
	})
}

// spareProcs gives the daemon twice as many Ps as CPUs, unless GOMAXPROCS
// is set in the environment. A connection on a dedicated thread waits for
// each request in read(2) holding a P; when no P is idle, Go's sysmon takes
// it away 20 µs into every wait and the thread must get one back when the
// request arrives. With two busy clients on two CPUs that cost a quarter to
// a third of the server's CPU per call; with spare Ps it is gone
// (BENCHMARKS.md). The server's goroutines mostly wait, so the extra Ps do
// not oversubscribe the CPUs.
func spareProcs() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(2 * runtime.GOMAXPROCS(0))
	}
}

const serveUsage = `usage: procshare serve [flags]

Runs a manager server speaking CPython's multiprocessing.managers protocol:
Python 3.8-3.13 clients connect with SyncManager(address, authkey).connect()
(or a BaseManager subclass), Go clients with manager.Dial. SIGINT or
SIGTERM, or a client's shutdown request, stops it gracefully.

The authkey is mandatory. Without --authkey-file, 32 random bytes are
written to a new file (mode 0600) whose path is printed; give that file to
the clients. The key is the file's bytes exactly (no newline is stripped).

Memory: --max-memory bounds what the server's objects store plus what calls
hold until their replies are written (default 1GiB); a call that would pass
it raises MemoryError in the client and changes nothing. Sizes are
estimates: the process uses somewhat more. Unless GOMEMLIMIT is set, the Go
runtime's soft memory limit is set to 1.5 times the budget plus 64MiB.

On startup it prints "procshare: serving on ADDRESS" on stderr (and writes
ADDRESS to --addr-file), so scripts can use port 0.

flags:
`

// exposeFlag collects repeated --expose NAME=TYPEID flags.
type exposeFlag []manager.ExposedObject

func (e *exposeFlag) String() string {
	var parts []string
	for _, x := range *e {
		parts = append(parts, x.Name+"="+x.TypeID)
	}
	return strings.Join(parts, ",")
}

func (e *exposeFlag) Set(s string) error {
	name, typeid, ok := strings.Cut(s, "=")
	if !ok || name == "" || typeid == "" {
		return fmt.Errorf("want NAME=TYPEID (e.g. get_queue=Queue), got %q", s)
	}
	*e = append(*e, manager.ExposedObject{Name: name, TypeID: typeid})
	return nil
}

// sizeFlag is a --max-memory SIZE: bytes, or a number with a unit (KiB,
// MiB, GiB, TiB or K, M, G, T: powers of 1024), 0 for the default, -1 for
// no limit.
type sizeFlag int64

func (f *sizeFlag) String() string { return strconv.FormatInt(int64(*f), 10) }

func (f *sizeFlag) Set(s string) error {
	num, unit := s, int64(1)
	for i, u := range []string{"K", "M", "G", "T"} {
		for _, suffix := range []string{u + "iB", u + "B", u} {
			if n, ok := strings.CutSuffix(s, suffix); ok && len(n) > 0 {
				num, unit = n, 1<<(10*(i+1))
				break
			}
		}
		if unit != 1 {
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < -1 || unit > 1 && n < 0 || n > (1<<62)/unit {
		return fmt.Errorf("want a size such as 512MiB, 2GiB or 1073741824 (0: default, -1: no limit), got %q", s)
	}
	*f = sizeFlag(n * unit)
	return nil
}

// setMemoryLimit sets the Go runtime's soft memory limit from the server's
// budget, unless GOMEMLIMIT is set: the garbage collector then works harder
// as the heap nears it rather than letting garbage double the heap.
func setMemoryLimit(budget int64) {
	if os.Getenv("GOMEMLIMIT") != "" || budget < 0 {
		return
	}
	if budget == 0 {
		budget = manager.DefaultMaxMemory
	}
	debug.SetMemoryLimit(budget + budget/2 + 64<<20)
}

// serveCommand runs "procshare serve" until ctx is cancelled or a client
// sends shutdown. Messages go to stderr.
func serveCommand(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, serveUsage)
		fs.PrintDefaults()
	}
	address := fs.String("address", "127.0.0.1:50000", "`host:port` for TCP, or a Unix socket path (created with mode 0600)")
	keyFile := fs.String("authkey-file", "", "file holding the authkey (default: generate one)")
	addrFile := fs.String("addr-file", "", "write the listening address to this `file` once serving")
	release := fs.Bool("release-on-disconnect", false, "release Lock/Semaphore acquisitions of clients whose connection dies")
	threads := fs.Int("threads", 0, "object connections served by a blocking read on a thread of their own, the rest by Go's netpoller (0: 128; -1: none)")
	verbose := fs.Bool("v", false, "log connections, errors and recovered panics to stderr")
	var maxMemory sizeFlag
	fs.Var(&maxMemory, "max-memory", "memory budget `SIZE` for stored values and replies in flight, e.g. 512MiB (0: 1GiB; -1: no limit)")
	var expose exposeFlag
	fs.Var(&expose, "expose", "a named shared object `NAME=TYPEID` (e.g. get_queue=Queue); repeatable")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	addr, err := manager.ParseAddress(*address)
	if err != nil {
		return err
	}
	key, err := loadOrCreateAuthkey(*keyFile, stderr)
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	srv, err := manager.NewServer(&manager.ServerConfig{
		Authkey:             key,
		ReleaseOnDisconnect: *release,
		DedicatedThreads:    *threads,
		MaxMemory:           int64(maxMemory),
		Expose:              expose,
		Logger:              slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	})
	if err != nil {
		return err
	}
	setMemoryLimit(int64(maxMemory))
	ln, err := manager.Listen(addr)
	if err != nil {
		return err
	}
	real := ln.Addr().String()
	if _, ok := ln.Addr().(*net.UnixAddr); ok {
		real = addr.Addr
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(real), 0o644); err != nil {
			ln.Close()
			return err
		}
	}
	fmt.Fprintf(stderr, "procshare: serving on %s\n", real)
	err = srv.Serve(ctx, ln)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	fmt.Fprintln(stderr, "procshare: server stopped")
	return err
}

// loadOrCreateAuthkey reads the key file, or generates 32 random bytes into
// a new 0600 file and says where.
func loadOrCreateAuthkey(path string, stderr io.Writer) ([]byte, error) {
	if path != "" {
		key, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if len(key) == 0 {
			return nil, fmt.Errorf("authkey file %s is empty", path)
		}
		return key, nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "procshare-authkey-*") // mode 0600
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "procshare: authkey written to %s\n", f.Name())
	return key, nil
}
