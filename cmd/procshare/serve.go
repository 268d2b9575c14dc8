package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/procshare/procshare/manager"
)

func init() {
	register(command{
		name:     "serve",
		summary:  "run a manager server that Go and Python clients use",
		graceful: true,
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

The authkey is mandatory. It is the bytes of --authkey-file exactly (no
newline is stripped), or of the file $PROCSHARE_AUTHKEY_FILE names, or of
the default key file, ~/.config/procshare/authkey, which serve creates with
32 random bytes the first time; the path is printed. A key file that its
group or others can access is refused (chmod 600 it).

A client may store in an object a proxy to another manager's object.
Like CPython's server, procshare's can then hold a reference on that
manager, so that the object lives as long as the stored copy: only on the
managers --foreign-allow lists, with the key of --foreign-authkey-file,
never with its own (PROTOCOL.md 11.1). By default it dials no one.

Memory: --max-memory bounds what the server's objects store plus what calls
hold until their replies are written (default 1GiB); a call that would pass
it raises MemoryError in the client and changes nothing. Sizes are
estimates: the process uses somewhat more. Unless GOMEMLIMIT is set, the Go
runtime's soft memory limit is set to 1.5 times the budget plus 64MiB.

On startup it prints "procshare: serving on ADDRESS" on stderr (and writes
ADDRESS to --addr-file), so scripts can use port 0.

With --metrics-address, it serves Prometheus metrics at /metrics
(connections by handshake outcome, calls and their latency by typeid,
method and outcome, open connections, objects, blocked calls, memory
budget use, and Go's and the process's own) and /healthz (200 while
serving); "procshare: metrics on http://ADDRESS/metrics" is printed.

Limits (PROTOCOL.md section 3.1): a client over --max-connections or
--max-peer-connections is refused at once with a message naming the limit
(CPython raises AuthenticationError or AssertionError with it); a request
over --max-frame gets a ValueError and the connection goes on. Refusals and
oversized requests are logged at WARN, idle closes at INFO (with -v).

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

// addressList collects --foreign-allow addresses.
type addressList []manager.Address

func (l *addressList) String() string {
	var parts []string
	for _, a := range *l {
		parts = append(parts, a.String())
	}
	return strings.Join(parts, ",")
}

func (l *addressList) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		a, err := manager.ParseAddress(strings.TrimSpace(part))
		if err != nil {
			return err
		}
		*l = append(*l, a)
	}
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
	keyFile := fs.String("authkey-file", "", "`file` holding the authkey, mode 0600 (default: $"+authkeyEnv+", else the default key file, created on first use)")
	addrFile := fs.String("addr-file", "", "write the listening address to this `file` once serving")
	release := fs.Bool("release-on-disconnect", false, "release Lock/Semaphore acquisitions of clients whose connection dies")
	threads := fs.Int("threads", 0, "object connections served by a blocking read on a thread of their own, the rest by Go's netpoller (0: 128; -1: none)")
	maxFrame := sizeFlag(defaultMaxFrame)
	fs.Var(&maxFrame, "max-frame", "largest request, as `bytes` or with a unit (64MiB, 512KiB, 1GiB, 10MB); a larger one is skipped and answered with a ValueError naming the limit (logged at WARN)")
	maxConns := fs.Int("max-connections", 0, "connections held at once, in the handshake or not; past it a client is refused with an error naming the limit (logged at WARN). At most half of them may be in the handshake: past that the one longest in it is closed. 0: half the descriptor limit (ulimit -n) less 32; -1: no limit")
	maxPeer := fs.Int("max-peer-connections", 0, "connections one peer may hold (a peer: an IP address for TCP, a process for a Unix socket), so that no peer alone reaches --max-connections; all local TCP clients are one peer. 0: half of --max-connections; -1: no limit")
	idle := fs.Duration("idle-timeout", 0, "close a connection on which no request arrived for this long (e.g. 10m); a call blocked in the server is not idle. CPython proxies do not reconnect: a thread whose connection was closed fails on every later call. 0: never")
	metricsAddr := fs.String("metrics-address", "", "serve Prometheus metrics at http://`host:port`/metrics and a health check at /healthz (default: off)")
	verbose := fs.Bool("v", false, "log connections, errors and recovered panics to stderr")
	var maxMemory budgetFlag
	fs.Var(&maxMemory, "max-memory", "memory budget `SIZE` for stored values and replies in flight, e.g. 512MiB or 2GiB; a call that would pass it raises MemoryError (0: 1GiB; -1: no limit)")
	var expose exposeFlag
	fs.Var(&expose, "expose", "a named shared object `NAME=TYPEID` (e.g. get_queue=Queue); repeatable")
	foreignKeyFile := fs.String("foreign-authkey-file", "", "`file` holding the key for other managers' objects stored here (must differ from the server's key); with --foreign-allow")
	var foreignAllow addressList
	fs.Var(&foreignAllow, "foreign-allow", "`ADDRESS`es of other managers the server may take references on, comma-separated or repeated (default: none, the server never dials out)")
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
	key, err := serveAuthkey(*keyFile, stderr)
	if err != nil {
		return err
	}
	var foreign *manager.ForeignConfig
	switch {
	case *foreignKeyFile != "" && len(foreignAllow) > 0:
		fkey, err := readAuthkeyFile(*foreignKeyFile)
		if err != nil {
			return err
		}
		foreign = &manager.ForeignConfig{Authkey: fkey, Allow: foreignAllow}
	case *foreignKeyFile != "" || len(foreignAllow) > 0:
		return errors.New("--foreign-authkey-file and --foreign-allow go together")
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	var observer manager.ServerObserver
	var metricsLn net.Listener
	var registry *prometheus.Registry
	if *metricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", *metricsAddr); err != nil {
			return fmt.Errorf("--metrics-address: %w", err)
		}
		defer metricsLn.Close()
		var po *promObserver
		registry, po = newMetrics()
		observer = po
	}
	srv, err := manager.NewServer(&manager.ServerConfig{
		Observer:            observer,
		Authkey:             key,
		ReleaseOnDisconnect: *release,
		DedicatedThreads:    *threads,
		MaxFrame:            int64(maxFrame),
		MaxConnections:      *maxConns,
		MaxPeerConnections:  *maxPeer,
		IdleTimeout:         *idle,
		MaxMemory:           int64(maxMemory.sizeFlag),
		Expose:              expose,
		Foreign:             foreign,
		Logger:              slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	})
	if err != nil {
		return err
	}
	setMemoryLimit(int64(maxMemory.sizeFlag))
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
	if metricsLn != nil {
		registry.MustRegister(newStatsCollector(srv))
		fmt.Fprintf(stderr, "procshare: metrics on http://%s/metrics\n", metricsLn.Addr())
		go metricsServer(ctx, metricsLn, registry, srv, stderr)
	}
	err = srv.Serve(ctx, ln)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	fmt.Fprintln(stderr, "procshare: server stopped")
	return err
}

// defaultMaxFrame is --max-frame's default: the server's own default.
const defaultMaxFrame = 64 << 20

// sizeFlag is a byte count given as a number of bytes or with a unit:
// B, KiB, MiB, GiB, TiB (powers of 1024) or kB, MB, GB, TB (powers of
// 1000), the unit's case ignored.
type sizeFlag int64

var sizeUnits = []struct {
	name string
	mult int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12}, {"b", 1},
}

// String gives the size in the largest binary unit that divides it.
func (f *sizeFlag) String() string {
	n := int64(*f)
	for i := 3; i >= 0; i-- {
		if u := sizeUnits[i]; n > 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + strings.ToUpper(u.name[:1]) + "iB"
		}
	}
	return strconv.FormatInt(n, 10)
}

func (f *sizeFlag) Set(s string) error {
	num, mult := strings.TrimSpace(s), int64(1)
	lower := strings.ToLower(num)
	for _, u := range sizeUnits {
		if strings.HasSuffix(lower, u.name) {
			num, mult = strings.TrimSpace(num[:len(num)-len(u.name)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return fmt.Errorf("want a positive size in bytes, or with a unit (64MiB, 512KiB, 10MB), got %q", s)
	}
	*f = sizeFlag(n * mult)
	return nil
}

// budgetFlag is a sizeFlag that also takes 0 (the default) and -1 (no
// limit), for --max-memory.
type budgetFlag struct{ sizeFlag }

func (f *budgetFlag) String() string {
	if f.sizeFlag <= 0 {
		return strconv.FormatInt(int64(f.sizeFlag), 10)
	}
	return f.sizeFlag.String()
}

func (f *budgetFlag) Set(s string) error {
	switch strings.TrimSpace(s) {
	case "0":
		f.sizeFlag = 0
		return nil
	case "-1":
		f.sizeFlag = -1
		return nil
	}
	return f.sizeFlag.Set(s)
}
