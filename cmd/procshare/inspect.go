package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/procshare/procshare/internal/wire"
	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

func init() {
	register(command{
		name:    "inspect",
		summary: "list the objects of a running manager",
		run: func(ctx context.Context, args []string) error {
			return inspectCommand(ctx, args, os.Stdout, os.Stderr)
		},
	})
}

const inspectUsage = `usage: procshare inspect [--address ADDRESS] [--authkey-file FILE]

Lists the shared objects of a running manager: id, typeid, client
references (refcount), references from values stored in other objects
(held), and a short repr. Control characters and invalid UTF-8 in them
are printed as Go escapes (a typeid with spaces or such characters
quoted), so a hostile client's names cannot drive the terminal. Against
a procshare server it uses the ps_info method; against a CPython manager
it prints CPython's debug_info (objects with client references only).
SIGINT or SIGTERM ends it at once.

flags:
`

// inspectCommand runs "procshare inspect".
func inspectCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, inspectUsage)
		fs.PrintDefaults()
	}
	address := fs.String("address", "127.0.0.1:50000", "the manager's `host:port` or Unix socket path")
	keyFile := fs.String("authkey-file", "", "`file` holding the authkey, mode 0600 (default: $"+authkeyEnv+", else the default key file of serve)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	key, err := clientAuthkey(*keyFile)
	if err != nil {
		return err
	}
	addr, err := manager.ParseAddress(*address)
	if err != nil {
		return err
	}
	kind, v, err := managerCall(ctx, addr, key, "ps_info")
	if err != nil {
		return err
	}
	if kind == "#TRACEBACK" && strings.Contains(pickle.Str(v), "unrecognized") {
		// A CPython manager: no ps_info.
		kind, v, err = managerCall(ctx, addr, key, "debug_info")
		if err != nil {
			return err
		}
		if kind != "#RETURN" {
			return fmt.Errorf("debug_info: %s %s", cell(kind), lines(pickle.Str(v)))
		}
		fmt.Fprintln(stdout, "# a CPython manager: debug_info (objects with client references)")
		fmt.Fprintln(stdout, lines(pickle.Str(v)))
		return nil
	}
	if kind != "#RETURN" {
		return fmt.Errorf("ps_info: %s %s", cell(kind), lines(pickle.Str(v)))
	}
	l, ok := v.(*pickle.List)
	if !ok {
		return fmt.Errorf("ps_info returned %s", text(pickle.Repr(v)))
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPEID\tREFCOUNT\tHELD\tREPR")
	for _, it := range l.Items {
		d, ok := it.(*pickle.Dict)
		if !ok {
			continue
		}
		get := func(k string) string {
			x, _, _ := d.Get(k)
			return pickle.Str(x)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cell(get("id")), cell(get("typeid")), cell(get("refcount")),
			cell(get("held")), text(truncate(get("repr"), 60)))
	}
	return tw.Flush()
}

// managerCall makes one server-level call on a fresh management
// connection, as CPython's dispatch does, and returns the reply. It gives
// up after 30 s, or as soon as ctx is done (returning its cause).
func managerCall(ctx context.Context, addr manager.Address, key []byte, method string) (_ string, _ pickle.Value, err error) {
	defer func() {
		if err != nil && ctx.Err() != nil {
			err = context.Cause(ctx)
		}
	}()
	var d net.Dialer
	nc, err := d.DialContext(ctx, addr.Network, addr.Addr)
	if err != nil {
		return "", nil, err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	// Cancelling ctx unblocks any read or write at once.
	defer context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })()
	wc := wire.NewConn(nc, nil)
	if err := wire.ClientHandshake(wc, key); err != nil {
		return "", nil, err
	}
	req, err := pickle.Marshal(pickle.Tuple{nil, method, pickle.Tuple{}, pickle.NewDict()})
	if err != nil {
		return "", nil, err
	}
	if err := wc.WriteFrame(req); err != nil {
		return "", nil, err
	}
	f, err := wc.ReadFrame()
	if err != nil {
		return "", nil, err
	}
	v, err := pickle.Unmarshal(f)
	if err != nil {
		return "", nil, err
	}
	t, ok := v.(pickle.Tuple)
	if !ok || len(t) != 2 {
		return "", nil, fmt.Errorf("reply %s is not (kind, value)", text(pickle.Repr(v)))
	}
	kind, _ := t[0].(string)
	return kind, t[1], nil
}
