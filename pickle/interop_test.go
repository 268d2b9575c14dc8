package pickle_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"math/big"
	"os/exec"
	"strings"
	"testing"

	"github.com/procshare/procshare/internal/pyenv"
	"github.com/procshare/procshare/pickle"
)

// runPython runs testdata/interop.py in one mode with JSON lines on stdin
// and returns its JSON lines.
func runPython(t *testing.T, py pyenv.Interpreter, mode string, input []any) []map[string]any {
	t.Helper()
	var in bytes.Buffer
	for _, x := range input {
		b, _ := json.Marshal(x)
		in.Write(b)
		in.WriteByte('\n')
	}
	cmd := exec.Command(py.Path, "testdata/interop.py", mode)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s interop.py %s: %v\n%s", py.Version, mode, err, stderr.String())
	}
	var res []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad line from python: %q", sc.Text())
		}
		res = append(res, m)
	}
	return res
}

type encodeCase struct {
	expr string // Python expression of the value, or RECURSIVE / SHARED
	v    pickle.Value
	same bool // the output must equal CPython's bytes, for every protocol
}

func encodeCases() []encodeCase {
	big70, _ := new(big.Int).SetString("-1180591620717411303424", 10)
	d := pickle.NewDict()
	d.Set("a", int64(1))
	d.Set(int64(2), &pickle.List{Items: []pickle.Value{3.5}})
	d.Set(pickle.Tuple{int64(1), "x"}, nil)
	set := pickle.NewSet()
	set.Add(int64(1))
	set.Add(int64(2))
	fs, _ := pickle.NewFrozenSet([]pickle.Value{int64(5)})
	rec := &pickle.List{Items: []pickle.Value{}}
	rec.Items = append(rec.Items, rec)
	shared := &pickle.List{Items: []pickle.Value{int64(1)}}
	many := &pickle.List{}
	for i := range 2500 {
		many.Items = append(many.Items, int64(i))
	}
	bigDict := pickle.NewDict()
	for i := range 1500 {
		bigDict.Set(int64(i), "v")
	}
	return []encodeCase{
		{"None", nil, true},
		{"(True, False)", pickle.Tuple{true, false}, true},
		{"[0, 255, 256, 65535, 65536, -1, 2**31-1, -2**31, 2**31, 2**63-1, -2**63]",
			&pickle.List{Items: []pickle.Value{int64(0), int64(255), int64(256), int64(65535), int64(65536), int64(-1),
				int64(math.MaxInt32), int64(math.MinInt32), int64(1 << 31), int64(math.MaxInt64), int64(math.MinInt64)}}, true},
		{"-2**70", big70, true},
		{"2**2100", new(big.Int).Lsh(big.NewInt(1), 2100), true},
		{"[0.1, -0.0, 1e300, float('inf')]", &pickle.List{Items: []pickle.Value{0.1, math.Copysign(0, -1), 1e300, math.Inf(1)}}, true},
		{"float('nan')", math.NaN(), false}, // Go's NaN has other payload bits
		{"complex(1.5, -2)", complex(1.5, -2), true},
		{"'h\\xe9llo \\u20ac \\U0001f600'", "h\u00e9llo \u20ac \U0001f600", true},
		{"'\\ud800x'", "\xed\xa0\x80x", false},
		{"'s' * 70000", strings.Repeat("s", 70000), true},
		{"b'\\x00\\xffabc'", []byte("\x00\xffabc"), true},
		{"b'b' * 70000", bytes.Repeat([]byte("b"), 70000), true},
		{"b''", []byte{}, true},
		{"[b'a', b'\\xe9', bytearray(b'c')]", &pickle.List{Items: []pickle.Value{[]byte("a"), []byte("\xe9"), &pickle.ByteArray{Data: []byte("c")}}}, true},
		{"bytearray(b'xyz')", &pickle.ByteArray{Data: []byte("xyz")}, true},
		{"()", pickle.Tuple{}, true},
		{"(1, (2, 3, 4, 5), [])", pickle.Tuple{int64(1), pickle.Tuple{int64(2), int64(3), int64(4), int64(5)}, &pickle.List{}}, true},
		{"{'a': 1, 2: [3.5], (1, 'x'): None}", d, true},
		{"{1, 2}", set, true},
		{"frozenset({5})", fs, true},
		{"slice(1, None, -1)", pickle.Slice{Start: int64(1), Step: int64(-1)}, true},
		{"range(0, 10, 2)", pickle.Range{Start: int64(0), Stop: int64(10), Step: int64(2)}, true},
		{"collections.OrderedDict", pickle.Global{Module: "collections", Name: "OrderedDict"}, true},
		{"list(range(2500))", many, true},
		{"{i: 'v' for i in range(1500)}", bigDict, false},
		{"('7fc6a75f6c40', '__getitem__', (slice(1, 3, None),), {})", request(), true},
		{"RECURSIVE", rec, false},
		{"SHARED", pickle.Tuple{shared, shared}, false},
	}
}

func request() pickle.Value {
	return pickle.Tuple{"7fc6a75f6c40", "__getitem__", pickle.Tuple{pickle.Slice{Start: int64(1), Stop: int64(3)}}, pickle.NewDict()}
}

// TestCPythonLoadsGoPickles encodes values with every protocol 2-5 and has
// each CPython interpreter load them (one process per interpreter).
func TestCPythonLoadsGoPickles(t *testing.T) {
	t.Parallel()
	cases := encodeCases()
	for _, py := range pyenv.Interpreters() {
		t.Run(py.Name(), func(t *testing.T) {
			t.Parallel()
			type job struct {
				Expr  string `json:"expr"`
				Hex   string `json:"hex"`
				Proto int    `json:"proto"`
			}
			var jobs []any
			var meta []encodeCase
			for _, c := range cases {
				for proto := 2; proto <= 5; proto++ {
					p, err := pickle.MarshalProtocol(c.v, proto)
					if err != nil {
						t.Fatalf("%s protocol %d: %v", c.expr, proto, err)
					}
					jobs = append(jobs, job{c.expr, hex.EncodeToString(p), proto})
					meta = append(meta, c)
				}
			}
			res := runPython(t, py, "check", jobs)
			if len(res) != len(jobs) {
				t.Fatalf("python answered %d of %d cases", len(res), len(jobs))
			}
			for i, r := range res {
				j := jobs[i].(job)
				if r["ok"] != true {
					t.Errorf("%s protocol %d: CPython loaded %v", j.Expr, j.Proto, r["got"])
				}
				if meta[i].same && r["same"] != true {
					t.Errorf("%s protocol %d: bytes differ from CPython's pickle.dumps", j.Expr, j.Proto)
				}
			}
		})
	}
}

// TestOpaqueRoundTrip has CPython pickle objects the codec keeps opaque
// (dataclass, datetime, Decimal, OrderedDict, defaultdict, recursive and
// shared structures) with every protocol, decodes them in Go, re-encodes
// them, and has CPython load the result and compare it with the original.
func TestOpaqueRoundTrip(t *testing.T) {
	t.Parallel()
	for _, py := range pyenv.Interpreters() {
		t.Run(py.Name(), func(t *testing.T) {
			t.Parallel()
			made := runPython(t, py, "make", nil)
			type job struct {
				Name string `json:"name"`
				Hex  string `json:"hex"`
			}
			var jobs []any
			var desc []string
			for _, m := range made {
				data, _ := hex.DecodeString(m["hex"].(string))
				v, err := pickle.Unmarshal(data)
				if err != nil {
					t.Errorf("%s protocol %v: %v", m["name"], m["proto"], err)
					continue
				}
				for _, proto := range []int{2, 4, 5} {
					if proto == 5 && py.Minor < 8 {
						continue
					}
					out, err := pickle.MarshalProtocol(v, proto)
					if err != nil {
						t.Errorf("%s: %v", m["name"], err)
						continue
					}
					jobs = append(jobs, job{m["name"].(string), hex.EncodeToString(out)})
					desc = append(desc, m["name"].(string)+" from protocol "+
						jsonNum(m["proto"])+" to "+jsonNum(float64(proto)))
				}
			}
			res := runPython(t, py, "verify", jobs)
			if len(res) != len(jobs) {
				t.Fatalf("python answered %d of %d cases", len(res), len(jobs))
			}
			for i, r := range res {
				if r["ok"] != true {
					t.Errorf("%s: CPython loaded %v", desc[i], r["got"])
				}
			}
		})
	}
}

func jsonNum(x any) string {
	b, _ := json.Marshal(x)
	return string(b)
}

// TestReprMatchesCPython compares Repr with CPython's repr for thousands of
// random strs (printable and escaped characters of every plane, lone
// surrogates) and floats. It uses CPython 3.12, whose Unicode database
// (15.0) is the one Go's unicode package has.
func TestReprMatchesCPython(t *testing.T) {
	t.Parallel()
	py := pyenv.Version(t, 12)
	res := runPython(t, py, "reprs", nil)
	if len(res) < 6000 {
		t.Fatalf("only %d values", len(res))
	}
	bad := 0
	for _, r := range res {
		data, _ := hex.DecodeString(r["hex"].(string))
		v, err := pickle.Unmarshal(data)
		if err != nil {
			t.Fatal(err)
		}
		if got := pickle.Repr(v); got != r["repr"] {
			bad++
			if bad <= 10 {
				t.Errorf("Repr = %s, CPython repr = %s", got, r["repr"])
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d reprs differ", bad, len(res))
	}
}
