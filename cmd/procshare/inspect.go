package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
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

const inspectUsage = `usage: procshare inspect [--address ADDRESS] [--authkey-file FILE] [--json]

Lists the shared objects of a running manager: id, typeid, client
references (refcount), references from values stored in other objects
(held), and a short repr. Control characters and invalid UTF-8 in them
are printed as Go escapes (a typeid with spaces or such characters
quoted), so a hostile client's names cannot drive the terminal. Against
a procshare server it uses the ps_info method; against a CPython manager
it prints CPython's debug_info (objects with client references only).
SIGINT or SIGTERM ends it at once.

With --json it prints one JSON object instead, the same for both servers:

  {"server": "procshare", "objects": [{"id": "7f3a5c0d1e40",
   "typeid": "Queue", "refcount": 1, "held": 0, "repr": "<queue.Queue ...>"}]}

"server" is "procshare" or "cpython"; for a CPython manager the objects
come from debug_info: "typeid" and "held" are null and "repr" is cut to 75
characters by CPython. Strings are the server's (invalid UTF-8 replaced by
U+FFFD), with JSON's escapes.

flags:
`

// inspectCommand runs "procshare inspect".
func inspectCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	address := fs.String("address", "127.0.0.1:50000", "the manager's `host:port` or Unix socket path")
	keyFile := fs.String("authkey-file", "", "`file` holding the authkey, mode 0600 (default: $"+authkeyEnv+", else the default key file of serve)")
	asJSON := fs.Bool("json", false, "print one JSON object (see above) instead of a table")
	if err := parseFlags(fs, args, stdout, inspectUsage); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	addr, err := manager.ParseAddress(*address)
	if err != nil {
		return &usageError{err}
	}
	key, err := clientAuthkey(*keyFile)
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
		if *asJSON {
			return writeJSON(stdout, inspectReport{Server: "cpython", Objects: parseDebugInfo(pickle.Str(v))})
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
	if *asJSON {
		r := inspectReport{Server: "procshare", Objects: []inspectObject{}}
		for _, it := range l.Items {
			if d, ok := it.(*pickle.Dict); ok {
				r.Objects = append(r.Objects, psInfoObject(d))
			}
		}
		return writeJSON(stdout, r)
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

// inspectReport is what inspect --json prints.
type inspectReport struct {
	Server  string          `json:"server"` // "procshare" or "cpython"
	Objects []inspectObject `json:"objects"`
}

// inspectObject is one object of inspectReport; nil fields are what the
// server does not report (CPython's debug_info has no typeid or held).
type inspectObject struct {
	ID       string  `json:"id"`
	TypeID   *string `json:"typeid"`
	Refcount *int64  `json:"refcount"`
	Held     *int64  `json:"held"`
	Repr     string  `json:"repr"`
}

// psInfoObject converts one dict of ps_info's list.
func psInfoObject(d *pickle.Dict) inspectObject {
	str := func(k string) string {
		x, _, _ := d.Get(k)
		return pickle.Str(x)
	}
	num := func(k string) *int64 {
		if x, _, _ := d.Get(k); x != nil {
			if n, ok := x.(int64); ok {
				return &n
			}
		}
		return nil
	}
	typeid := str("typeid")
	return inspectObject{ID: str("id"), TypeID: &typeid, Refcount: num("refcount"), Held: num("held"), Repr: str("repr")}
}

// debugInfoEntry is the first line of an object in CPython's debug_info:
// "  ID:       refcount=N"; the lines after it, indented by four spaces,
// are the object's str() cut to 75 characters.
var debugInfoEntry = regexp.MustCompile(`^  (\S+):\s+refcount=(-?\d+)$`)

// parseDebugInfo reads the objects of CPython's debug_info text. Lines it
// does not recognise are kept in the repr of the object before them.
func parseDebugInfo(s string) []inspectObject {
	objs := []inspectObject{}
	for _, line := range strings.Split(s, "\n") {
		if m := debugInfoEntry.FindStringSubmatch(line); m != nil {
			n, err := strconv.ParseInt(m[2], 10, 64)
			o := inspectObject{ID: m[1]}
			if err == nil {
				o.Refcount = &n
			}
			objs = append(objs, o)
			continue
		}
		if len(objs) == 0 {
			continue
		}
		o := &objs[len(objs)-1]
		if o.Repr != "" {
			o.Repr += "\n"
		}
		o.Repr += strings.TrimPrefix(line, "    ")
	}
	return objs
}

// writeJSON prints v as indented JSON, the way --json options print.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
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
