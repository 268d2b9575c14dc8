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
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

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
			return serveCommand(ctx, args, os.Stdout, os.Stderr)
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
over --max-frame gets a ValueError and the connection goes on.

Logs go to stderr, as text or (--log-format json) one JSON object a line;
the startup and stop notices take the same format. WARN and ERROR are
always logged: refused connections, failed logins (a wrong authkey, with
the peer's address), oversized requests, recovered panics. -v adds INFO and
DEBUG: each accepted connection, handshakes that fail for other reasons,
connection errors, idle closes, a client's shutdown request.

Signals: SIGINT or SIGTERM stop the server gracefully (exit status 0).
SIGHUP is logged and ignored: the daemon keeps running when its terminal
closes, and has no configuration or log file to reload (logs go to stderr;
under systemd, journald keeps them; see docs/deploy).

Named objects: --expose NAME=TYPEID[:ARGS] creates one object at startup
that every client shares; a Python client registers NAME on its
BaseManager subclass and calls it, a Go client uses manager.Named.
` + exposeArgsHelp + `
flags:
`

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
// sends shutdown. Help goes to stdout, notices and logs to stderr.
func serveCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// SIGHUP must not kill the daemon from the moment it starts.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
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
	verbose := fs.Bool("v", false, "also log at INFO and DEBUG: accepted connections, failed handshakes, connection errors, idle closes (WARN and ERROR are always logged)")
	logFormat := fs.String("log-format", "text", "log `format` on stderr: text (key=value) or json (one object a line)")
	var maxMemory budgetFlag
	fs.Var(&maxMemory, "max-memory", "memory budget `SIZE` for stored values and replies in flight, e.g. 512MiB or 2GiB; a call that would pass it raises MemoryError (0: 1GiB; -1: no limit)")
	var expose exposeFlag
	fs.Var(&expose, "expose", "a named shared object `NAME=TYPEID[:ARGS]`, created at startup with the constructor arguments ARGS (e.g. get_queue=Queue, jobs=Queue:100, counter=Value:i,0, b=Barrier:3; see above); repeatable")
	foreignKeyFile := fs.String("foreign-authkey-file", "", "`file` holding the key for other managers' objects stored here (must differ from the server's key); with --foreign-allow")
	var foreignAllow addressList
	fs.Var(&foreignAllow, "foreign-allow", "`ADDRESS`es of other managers the server may take references on, comma-separated or repeated (default: none, the server never dials out)")
	if err := parseFlags(fs, args, stdout, serveUsage); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if *logFormat != "text" && *logFormat != "json" {
		return usagef("--log-format: want text or json, got %q", *logFormat)
	}
	addr, err := manager.ParseAddress(*address)
	if err != nil {
		return &usageError{err}
	}
	if (*foreignKeyFile != "") != (len(foreignAllow) > 0) {
		return usagef("--foreign-authkey-file and --foreign-allow go together")
	}
	key, keyNote, err := serveAuthkey(*keyFile)
	if err != nil {
		return err
	}
	var foreign *manager.ForeignConfig
	if *foreignKeyFile != "" {
		fkey, err := readAuthkeyFile(*foreignKeyFile)
		if err != nil {
			return err
		}
		foreign = &manager.ForeignConfig{Authkey: fkey, Allow: foreignAllow}
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
	logger := newLogger(stderr, *logFormat, level)
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
		Logger:              logger,
	})
	if err != nil {
		return err
	}
	setMemoryLimit(int64(maxMemory.sizeFlag))
	say := noticer(stderr, *logFormat)
	say(keyNote)
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
	say("procshare: serving on "+real, "address", real)
	if metricsLn != nil {
		registry.MustRegister(newStatsCollector(srv))
		say("procshare: metrics on http://"+metricsLn.Addr().String()+"/metrics", "metrics", metricsLn.Addr().String())
		go metricsServer(ctx, metricsLn, registry, srv, stderr)
	}
	stopHUP := make(chan struct{})
	defer close(stopHUP)
	go func() {
		for {
			select {
			case <-hup:
				say("procshare: SIGHUP ignored (serve has nothing to reload; SIGTERM or SIGINT stops it)")
			case <-stopHUP:
				return
			}
		}
	}()
	if *verbose {
		ln = loggedListener{ln, logger}
	}
	err = srv.Serve(ctx, ln)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	say("procshare: server stopped")
	return err
}

// newLogger returns the server's logger: slog's text or JSON handler on w.
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// noticer returns the function that writes serve's notices (where the key
// is, the address served, a SIGHUP, the stop), whatever the log level: in
// the text format a plain line of msg, which scripts may wait for ("procshare:
// serving on ADDRESS"); in the JSON format an INFO record with msg and the
// key-value pairs args, so that stderr stays one JSON object a line.
func noticer(w io.Writer, format string) func(msg string, args ...any) {
	if format == "json" {
		l := newLogger(w, format, slog.LevelInfo)
		return func(msg string, args ...any) { l.Info(msg, args...) }
	}
	return func(msg string, _ ...any) { fmt.Fprintln(w, msg) }
}

// loggedListener logs each connection it accepts at DEBUG (what -v shows).
// It hands on the connection itself, so the server sees the socket's own
// type (for peer credentials and dedicated threads).
type loggedListener struct {
	net.Listener
	log *slog.Logger
}

func (l loggedListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err == nil {
		l.log.Debug("procshare: connection accepted", "network", nc.RemoteAddr().Network(), "remote", nc.RemoteAddr())
	}
	return nc, err
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
