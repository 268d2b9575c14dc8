package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/procshare/procshare/internal/pyenv"
	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
	"github.com/procshare/procshare/shm"
)

// procshareRun runs "procshare ARGS" in a child process (the test binary,
// see TestMain) and returns its stdout, stderr and exit status.
func procshareRun(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "PROCSHARE_TEST_MAIN="+strings.Join(args, "\n"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	code = waitExit(t, cmd, strings.Join(args, " "))
	return out.String(), errb.String(), code
}

// TestHelp: help that is asked for goes to stdout and exits 0, with
// nothing on stderr (serve -h printed to stderr and exited 1 with "flag:
// help requested").
func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in stdout
	}{
		{[]string{"help"}, "commands:"},
		{[]string{"-h"}, "commands:"},
		{[]string{"--help"}, "commands:"},
		{[]string{"serve", "-h"}, "-expose NAME=TYPEID[:ARGS]"},
		{[]string{"serve", "--help"}, "ARGS of --expose"},
		{[]string{"help", "serve"}, "-log-format"},
		{[]string{"inspect", "-h"}, "-json"},
		{[]string{"help", "inspect"}, "usage: procshare inspect"},
		{[]string{"shm", "-h"}, "procshare shm ls"},
		{[]string{"shm", "ls", "-h"}, "flags of ls:"},
		{[]string{"shm", "rm", "--help"}, "flags of rm:"},
		{[]string{"version", "-h"}, "usage: procshare version"},
	} {
		stdout, stderr, code := procshareRun(t, tc.args...)
		if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "usage:") || !strings.Contains(stdout, tc.want) {
			t.Errorf("procshare %q: exit %d, stderr %q, stdout %q; want exit 0, no stderr, usage with %q",
				tc.args, code, stderr, stdout, tc.want)
		}
	}
}

// TestUsageErrors: a command line that cannot be run exits 2 with one
// line on stderr that names the problem, and nothing on stdout; a failure
// of a command that could run exits 1, also with one line.
func TestUsageErrors(t *testing.T) {
	keyFile := filepath.Join(shortTempDir(t), "key")
	if err := os.WriteFile(keyFile, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string // in stderr
	}{
		{[]string{"frob"}, exitUsage, `unknown command "frob"`},
		{[]string{"help", "frob"}, exitUsage, `unknown command "frob"`},
		{[]string{"serve", "-x"}, exitUsage, "flag provided but not defined: -x"},
		{[]string{"serve", "extra"}, exitUsage, `unexpected arguments ["extra"]`},
		{[]string{"serve", "--expose", "noequals"}, exitUsage, "want NAME=TYPEID[:ARGS]"},
		{[]string{"serve", "--expose", "c=Value:i,"}, exitUsage, "missing argument"},
		{[]string{"serve", "--log-format", "xml"}, exitUsage, "want text or json"},
		{[]string{"serve", "--threads", "many"}, exitUsage, `invalid value "many" for flag -threads`},
		{[]string{"serve", "--authkey-file", keyFile, "--foreign-allow", "127.0.0.1:1"}, exitUsage, "go together"},
		{[]string{"inspect", "--nope"}, exitUsage, "flag provided but not defined: -nope"},
		{[]string{"inspect", "--json", "extra"}, exitUsage, "unexpected arguments"},
		{[]string{"version", "extra"}, exitUsage, "takes no arguments"},
		{[]string{"inspect", "--address", filepath.Join(filepath.Dir(keyFile), "none.sock"), "--authkey-file", keyFile},
			exitError, "procshare inspect: "},
		{[]string{"serve", "--authkey-file", keyFile + ".missing"}, exitError, "procshare serve: "},
	} {
		stdout, stderr, code := procshareRun(t, tc.args...)
		if code != tc.code || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("procshare %q: exit %d, stdout %q, stderr %q; want exit %d, no stdout, one line with %q",
				tc.args, code, stdout, stderr, tc.code, tc.want)
		}
		if strings.Contains(stderr, "flag: help requested") {
			t.Errorf("procshare %q: %q", tc.args, stderr)
		}
	}
	// No command at all: the list of commands, on stderr.
	stdout, stderr, code := procshareRun(t)
	if code != exitUsage || stdout != "" || !strings.Contains(stderr, "commands:") {
		t.Errorf("procshare: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestVersion: "procshare version", --version and -version print the same
// line on stdout and exit 0.
func TestVersion(t *testing.T) {
	line := regexp.MustCompile(`^procshare v\d+\.\d+\.\d+\S* go\S+ \w+/\w+( commit [0-9a-f]+(-dirty)?)?\n$`)
	var first string
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		stdout, stderr, code := procshareRun(t, args...)
		if code != 0 || stderr != "" || !line.MatchString(stdout) {
			t.Errorf("procshare %q: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
		if first == "" {
			first = stdout
		} else if stdout != first {
			t.Errorf("procshare %q prints %q, procshare version %q", args, stdout, first)
		}
	}
}

// TestBuildVersion: the version comes from the build information, with a
// fallback where it has none.
func TestBuildVersion(t *testing.T) {
	info := func(v string, settings ...debug.BuildSetting) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{Main: debug.Module{Path: "github.com/procshare/procshare", Version: v}, Settings: settings}, true
		}
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	for _, tc := range []struct {
		read func() (*debug.BuildInfo, bool)
		want string
	}{
		{info("v0.2.0"), "v0.2.0"},
		{info("v0.1.1-0.20250101000000-abcdef012345"), "v0.1.1-0.20250101000000-abcdef012345"},
		{info("(devel)"), releaseVersion + "+devel"},
		{info(""), releaseVersion + "+devel"},
		{none, releaseVersion + "+devel"},
	} {
		if got := buildVersion(tc.read); got != tc.want {
			t.Errorf("buildVersion = %q, want %q", got, tc.want)
		}
	}
	rev := debug.BuildSetting{Key: "vcs.revision", Value: "0123abcd"}
	dirty := debug.BuildSetting{Key: "vcs.modified", Value: "true"}
	if got := versionLine("v0.1.0", info("v0.1.0", rev, dirty)); !strings.HasSuffix(got, " commit 0123abcd-dirty") || !strings.HasPrefix(got, "procshare v0.1.0 go") {
		t.Errorf("versionLine = %q", got)
	}
	if got := versionLine("v0.1.0", none); strings.Contains(got, "commit") {
		t.Errorf("versionLine without build information = %q", got)
	}
}

// TestExposeArgs: the ARGS syntax of --expose.
func TestExposeArgs(t *testing.T) {
	big20, _ := new(big.Int).SetString("12345678901234567890", 10)
	list := func(items ...pickle.Value) *pickle.List { return &pickle.List{Items: items} }
	for in, want := range map[string][]pickle.Value{
		"i,0":                  {"i", int64(0)},
		"100":                  {int64(100)},
		" d , -2.5 ":           {"d", -2.5},
		"1e-3,+7,-0":           {1e-3, int64(7), int64(0)},
		"True,False,None":      {true, false, nil},
		"12345678901234567890": {big20},
		`'1',"None"`:           {"1", "None"},
		`'a,b',"x\ny",'it\'s'`: {"a,b", "x\ny", "it's"},
		`'\xe9\u00e9'`:         {"éé"},
		"''":                   {""},
		"d,[0.5,0,0]":          {"d", list(0.5, int64(0), int64(0))},
		"[],[[1],['a b']]":     {list(), list(list(int64(1)), list("a b"))},
		"hello world":          {"hello world"},
		"inf,nan,0x10,1_000":   {"inf", "nan", "0x10", "1_000"},
		"été":                  {"été"},
	} {
		got, err := parseExposeArgs(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseExposeArgs(%q) = %#v, %v; want %#v", in, got, err, want)
		}
	}
	for _, in := range []string{"", " ", "1,", ",1", "1,,2", "'abc", `"a\"`, "[1,2", "1]", "[1]x", "a'b", `'\q'`,
		strings.Repeat("[", 40) + strings.Repeat("]", 40)} {
		if got, err := parseExposeArgs(in); err == nil {
			t.Errorf("parseExposeArgs(%q) = %#v, want an error", in, got)
		}
	}
	var e exposeFlag
	for _, bad := range []string{"noequals", "=Queue", "q=", "q=:1", "q=Queue:", "q=Queue:1,"} {
		if err := e.Set(bad); err == nil {
			t.Errorf("--expose %q accepted", bad)
		}
	}
	if err := e.Set("counter=Value:i,0"); err != nil {
		t.Fatal(err)
	}
	if err := e.Set("q=Queue"); err != nil {
		t.Fatal(err)
	}
	want := exposeFlag{{Name: "counter", TypeID: "Value", Args: []pickle.Value{"i", int64(0)}}, {Name: "q", TypeID: "Queue"}}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("--expose gave %#v, want %#v", e, want)
	}
	if got := e.String(); got != "counter=Value:'i',0 q=Queue" {
		t.Errorf("String() = %q", got)
	}
}

// TestExposeArgsPython: objects named with ARGS are built with them, as a
// CPython client sees: Value('i', 0), Queue(2), Barrier(3).
func TestExposeArgsPython(t *testing.T) {
	py := pyenv.Latest(t)
	addr, key, _ := startServe(t, "--expose", "counter=Value:i,0", "--expose", "jobs=Queue:2",
		"--expose", "b=Barrier:3", "--expose", "names=list:[a,'b c',3]")
	script := `
import sys, queue
from multiprocessing.managers import BaseManager, BarrierProxy
class M(BaseManager): pass
for n in ('counter', 'jobs', 'names'):
    M.register(n)
M.register('b', proxytype=BarrierProxy)  # AutoProxy cannot take __getattribute__
m = M(address=sys.argv[1], authkey=sys.argv[2].encode()); m.connect()
c = m.counter()
print(c.get(), c._callmethod('ps_add', (5,)))
j = m.jobs(); j.put(1); j.put(2)
try:
    j.put_nowait(3); print('not full')
except queue.Full:
    print('full')
print(m.b().parties)
print(m.names()._getvalue())
`
	out, err := exec.Command(py.Path, "-c", script, addr, string(key)).CombinedOutput()
	if want := "0 5\nfull\n3\n['a', 'b c', 3]\n"; err != nil || string(out) != want {
		t.Fatalf("python: %v\n%s\nwant:\n%s", err, out, want)
	}
	// A constructor that refuses its ARGS stops serve with the reason.
	err = serveCommand(context.Background(), []string{"--address", filepath.Join(shortTempDir(t), "x.sock"),
		"--authkey-file", writeKey(t), "--expose", "b=Barrier:0"}, io.Discard, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), `exposed object "b"`) {
		t.Fatalf("Barrier:0: %v", err)
	}
}

// writeKey writes a key file and returns its path.
func writeKey(t *testing.T) string {
	t.Helper()
	p := filepath.Join(shortTempDir(t), "key")
	if err := os.WriteFile(p, []byte("k3y"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInspectJSON: inspect --json prints one JSON object that lists the
// server's objects.
func TestInspectJSON(t *testing.T) {
	addr, _, _ := startServe(t, "--expose", "counter=Value:i,7", "--expose", "jobs=Queue:100")
	var out, errb bytes.Buffer
	keyFile := writeKey(t)
	if err := inspectCommand(context.Background(), []string{"--address", addr, "--authkey-file", keyFile, "--json"}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	var r struct {
		Server  string
		Objects []struct {
			ID       string
			TypeID   *string
			Refcount *int64
			Held     *int64
			Repr     string
		}
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("inspect --json is not JSON: %v\n%s", err, out.String())
	}
	if r.Server != "procshare" || len(r.Objects) != 2 {
		t.Fatalf("inspect --json: %+v", r)
	}
	typeids := map[string]string{}
	for _, o := range r.Objects {
		if o.TypeID == nil || o.Refcount == nil || o.Held == nil || o.ID == "" {
			t.Errorf("object with fields missing: %+v", o)
			continue
		}
		typeids[*o.TypeID] = o.Repr
	}
	// A named object's typeid is its name.
	if typeids["counter"] != "Value('i', 7)" || !strings.Contains(typeids["jobs"], "queue.Queue") {
		t.Errorf("objects: %v", typeids)
	}
}

// TestParseDebugInfo: the objects of CPython's debug_info text.
func TestParseDebugInfo(t *testing.T) {
	got := parseDebugInfo("  7f01:       refcount=2\n    [1, 2, 3]\n  7f02:       refcount=1\n    line one\n    line two")
	b, _ := json.Marshal(got)
	want := `[{"id":"7f01","typeid":null,"refcount":2,"held":null,"repr":"[1, 2, 3]"},` +
		`{"id":"7f02","typeid":null,"refcount":1,"held":null,"repr":"line one\nline two"}]`
	if string(b) != want {
		t.Errorf("parseDebugInfo:\n%s\nwant\n%s", b, want)
	}
	if b, _ := json.Marshal(parseDebugInfo("")); string(b) != "[]" {
		t.Errorf("no objects: %s", b)
	}
}

// TestShmLsJSON: shm ls --json prints a JSON array with the segment's
// fields.
func TestShmLsJSON(t *testing.T) {
	name := fmt.Sprintf("pstest_clijson_%d", os.Getpid())
	t.Cleanup(func() { shm.Remove(name) })
	seg, err := shm.Create(name, 4321)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	var out bytes.Buffer
	if err := shmCommand(context.Background(), []string{"ls", "--json"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	var entries []map[string]any
	if err := json.Unmarshal(out.Bytes(), &entries); err != nil {
		t.Fatalf("shm ls --json is not JSON: %v\n%s", err, out.String())
	}
	var e map[string]any
	for _, x := range entries {
		if x["name"] == name {
			e = x
		}
	}
	created, _ := e["created"].(string)
	if _, err := time.Parse(time.RFC3339, created); err != nil || e["size"] != 4321.0 ||
		e["pid"] != float64(os.Getpid()) || e["alive"] != true || e["uid"] != float64(os.Geteuid()) || e["note"] != "" {
		t.Errorf("entry for our segment: %v\n%s", e, out.String())
	}
}

// TestFailedLoginLogged: a client with the wrong key is logged at WARN
// with its peer (it was logged at DEBUG, shown only with -v).
func TestFailedLoginLogged(t *testing.T) {
	addr, _, stderr := startServe(t)
	ctx := context.Background()
	if _, err := manager.Dial(ctx, addr, []byte("wrong"), nil); err == nil {
		t.Fatal("Dial with a wrong key succeeded")
	}
	const want = `level=WARN msg="manager: failed login" remote=`
	peer := fmt.Sprintf(`peer="process %d"`, os.Getpid())
	waitFor(t, stderr, want)
	if line := findSubstrLine(stderr.String(), want); !strings.Contains(line, peer) || !strings.Contains(line, "authentication failed") {
		t.Errorf("failed login line %q lacks %s or the reason", line, peer)
	}
}

// waitFor waits until s contains want.
func waitFor(t *testing.T, s *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in:\n%s", want, s.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// findSubstrLine returns the first line of s that contains sub.
func findSubstrLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// TestVerboseLogsConnections: -v logs each accepted connection, as its
// help says; without it only WARN and ERROR are logged.
func TestVerboseLogsConnections(t *testing.T) {
	ctx := context.Background()
	for _, verbose := range []bool{false, true} {
		var args []string
		if verbose {
			args = []string{"-v"}
		}
		addr, key, stderr := startServe(t, args...)
		c, err := manager.Dial(ctx, addr, key, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.NumObjects(ctx); err != nil {
			t.Fatal(err)
		}
		c.Close()
		const accepted = `level=DEBUG msg="procshare: connection accepted" network=unix`
		if verbose {
			waitFor(t, stderr, accepted)
		} else if strings.Contains(stderr.String(), "level=") {
			t.Errorf("without -v:\n%s", stderr.String())
		}
	}
}

// TestLogFormatJSON: with --log-format json every line on stderr is a JSON
// object, the notices too.
func TestLogFormatJSON(t *testing.T) {
	ctx := context.Background()
	dir := shortTempDir(t)
	addr, key, stderr := startServe(t, "--log-format", "json", "-v", "--address", filepath.Join(dir, "j.sock"))
	if _, err := manager.Dial(ctx, addr, []byte("wrong"), nil); err == nil {
		t.Fatal("Dial with a wrong key succeeded")
	}
	c, err := manager.Dial(ctx, addr, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	waitFor(t, stderr, `"msg":"manager: failed login"`)
	var msgs []string
	for _, line := range strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("stderr line %q is not JSON: %v", line, err)
		}
		msg, _ := rec["msg"].(string)
		msgs = append(msgs, msg)
		switch {
		case strings.HasPrefix(msg, "procshare: serving on "):
			if rec["address"] != addr || rec["level"] != "INFO" {
				t.Errorf("serving record: %v", rec)
			}
		case msg == "manager: failed login":
			if rec["level"] != "WARN" || rec["peer"] != fmt.Sprintf("process %d", os.Getpid()) {
				t.Errorf("failed login record: %v", rec)
			}
		}
	}
	joined := strings.Join(msgs, "|")
	for _, want := range []string{"procshare: authkey from", "procshare: serving on", "procshare: connection accepted", "manager: failed login"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no %q record in %q", want, joined)
		}
	}
}

// TestExposeHelpExamples: every --expose example of serve's help creates
// its object.
func TestExposeHelpExamples(t *testing.T) {
	for _, spec := range []string{"get_queue=Queue", "jobs=Queue:100", "counter=Value:i,0", "b=Barrier:3",
		"s=Semaphore:2", "a=Array:d,[0.5,0,0]", "l=list:[1,2,3]"} {
		var e exposeFlag
		if err := e.Set(spec); err != nil {
			t.Errorf("--expose %s: %v", spec, err)
			continue
		}
		srv, err := manager.NewServer(&manager.ServerConfig{Authkey: []byte("k"), Expose: e})
		if err != nil {
			t.Errorf("--expose %s: %v", spec, err)
			continue
		}
		srv.Close()
	}
}
