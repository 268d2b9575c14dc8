package shm_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"github.com/procshare/procshare/internal/pyenv"
	"github.com/procshare/procshare/shm"
)

// testName returns a fresh segment name for this test process.
func testName(t testing.TB, tag string) string {
	t.Helper()
	var r [4]byte
	rand.Read(r[:])
	name := fmt.Sprintf("pstest_%s_%d_%s", tag, os.Getpid(), hex.EncodeToString(r[:]))
	t.Cleanup(func() { shm.Remove(name) })
	return name
}

func requireLinux(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Python interop needs /dev/shm (Linux)")
	}
}

type pyReport struct {
	Size     int             `json:"size"`
	Head     string          `json:"head"`
	Seg      string          `json:"seg"`
	Items    [][]any         `json:"items"`
	Format   string          `json:"format"`
	Len      int             `json:"len"`
	Count1   int             `json:"count1"`
	Overflow string          `json:"overflow"`
	Value    map[string]any  `json:"value"`
	Array    map[string]any  `json:"array"`
	Raw      json.RawMessage `json:"-"`
}

// pyItems renders Go items the way the Python scripts' enc() does, after a
// JSON round trip.
func pyItems(t *testing.T, items []any) [][]any {
	t.Helper()
	out := make([][]any, len(items))
	for i, v := range items {
		switch x := v.(type) {
		case int64:
			out[i] = []any{"int", x}
		case float64:
			out[i] = []any{"float", pyFloatRepr(x)}
		case bool:
			out[i] = []any{"bool", x}
		case nil:
			out[i] = []any{"NoneType", nil}
		case string:
			out[i] = []any{"str", x}
		case []byte:
			out[i] = []any{"bytes", hex.EncodeToString(x)}
		default:
			t.Fatalf("item %d: unexpected %T", i, v)
		}
	}
	b, _ := json.Marshal(out)
	var back [][]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&back); err != nil {
		t.Fatal(err)
	}
	return back
}

func pyFloatRepr(f float64) string {
	switch f {
	case 3.25:
		return "3.25"
	case 2.5:
		return "2.5"
	case -1.25:
		return "-1.25"
	case 1.5:
		return "1.5"
	case 7:
		return "7.0"
	}
	return fmt.Sprint(f)
}

func decodeReport(t *testing.T, line []byte) pyReport {
	t.Helper()
	var r pyReport
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	if err := d.Decode(&r); err != nil {
		t.Fatalf("python report %q: %v", line, err)
	}
	return r
}

// TestPythonOpensGoSegments: Go creates a segment and a ShareableList,
// Python attaches to both, checks and writes, Go sees the writes.
func TestPythonOpensGoSegments(t *testing.T) {
	requireLinux(t)
	for _, py := range pyenv.Interpreters() {
		t.Run(py.Name(), func(t *testing.T) {
			t.Parallel()
			segName, listName := testName(t, "seg"), testName(t, "list")
			seg, err := shm.Create(segName, 1000)
			if err != nil {
				t.Fatal(err)
			}
			defer seg.Close()
			copy(seg.Bytes(), "0123456789abcdef")

			items := []any{int64(1), "hello", 3.25, []byte("ab\x00cd"), true, nil, "h\u00e9llo w\u00f6rld",
				int64(-1 << 63), false, "", []byte{}}
			var opts []shm.ListOption
			if py.Minor == 8 {
				opts = append(opts, shm.WithLayout(shm.LayoutPython38))
			}
			l, err := shm.NewShareableList(listName, items, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if n, err := l.Count(1); err != nil || n != 2 {
				t.Errorf("Count(1) = %d, %v; want 2 (1 and True)", n, err)
			}

			goFormat, err := l.Format()
			if err != nil {
				t.Fatal(err)
			}

			// A Value and an Array in one named segment, read by Python
			// from the documented layout alone.
			objName := testName(t, "obj")
			obj, err := shm.Create(objName, shm.ValueSize+shm.ArraySize[float64](3))
			if err != nil {
				t.Fatal(err)
			}
			defer obj.Close()
			v, err := shm.ValueAt[int64](obj, 0, shm.WithTypecode('l'))
			if err != nil {
				t.Fatal(err)
			}
			v.Store(-37)
			a, err := shm.ArrayAt[float64](obj, shm.ValueSize, 3)
			if err != nil {
				t.Fatal(err)
			}
			a.CopyFrom([]float64{0.5, 1.5, 2.5})

			out, err := exec.Command(py.Path, "-B", filepath.Join("testdata", "go_created.py"), segName, "1000", listName,
				objName, fmt.Sprint(shm.ValueSize)).Output()
			if err != nil {
				t.Fatalf("python: %v\n%s", err, exitStderr(err))
			}
			r := decodeReport(t, out)
			if r.Size != 1000 {
				t.Errorf("python size = %d, want 1000", r.Size)
			}
			if r.Head != hex.EncodeToString([]byte("0123456789abcdef")) {
				t.Errorf("python read head %s", r.Head)
			}
			if got := string(seg.Bytes()[16:24]); got != "python!!" {
				t.Errorf("go sees %q, want python's write", got)
			}
			if want := pyItems(t, items); !reflect.DeepEqual(r.Items, want) {
				t.Errorf("python read items\n got %v\nwant %v", r.Items, want)
			}
			wantFormat := "q8sd8sxxxxxxx?xxxxxx?x16sqxxxxxxx?8s8s"
			if r.Format != wantFormat {
				t.Errorf("python format %q, want %q", r.Format, wantFormat)
			}
			if goFormat != r.Format {
				t.Errorf("go format %q, python %q", goFormat, r.Format)
			}
			if r.Len != len(items) || r.Count1 != 2 {
				t.Errorf("python len %d count(1) %d", r.Len, r.Count1)
			}
			if r.Overflow != "ValueError" {
				t.Errorf("python overflow: %s", r.Overflow)
			}
			got, err := l.Items()
			if err != nil {
				t.Fatal(err)
			}
			want := append([]any{"py", 2.5, nil, []byte{1, 2}, int64(-7), true}, items[6:]...)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("go reads python's writes\n got %#v\nwant %#v", got, want)
			}
			wantValue := map[string]any{"magic": "PSHM", "version": json.Number("1"), "code": "l", "size": json.Number("8"),
				"kind": "V", "len": json.Number("1"), "data": json.Number("-37")}
			if !reflect.DeepEqual(r.Value, wantValue) {
				t.Errorf("python read the Value header as %v, want %v", r.Value, wantValue)
			}
			wantArray := map[string]any{"magic": "PSHM", "version": json.Number("1"), "code": "d", "size": json.Number("8"),
				"kind": "A", "len": json.Number("3"), "data": []any{json.Number("0.5"), json.Number("1.5"), json.Number("2.5")}}
			if !reflect.DeepEqual(r.Array, wantArray) {
				t.Errorf("python read the Array header as %v, want %v", r.Array, wantArray)
			}
			if v.Load() != -32 || a.Load(2) != 9.75 {
				t.Errorf("go sees python's writes as %d, %v; want -32, 9.75", v.Load(), a.Load(2))
			}
			if err := obj.Unlink(); err != nil {
				t.Error(err)
			}
			if err := l.Unlink(); err != nil {
				t.Error(err)
			}
			if err := seg.Unlink(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestGoOpensPythonSegments: Python creates a segment and a ShareableList,
// Go opens both, checks and writes, Python sees the writes.
func TestGoOpensPythonSegments(t *testing.T) {
	requireLinux(t)
	for _, py := range pyenv.Interpreters() {
		t.Run(py.Name(), func(t *testing.T) {
			t.Parallel()
			segName, listName := testName(t, "pyseg"), testName(t, "pylist")
			cmd := exec.Command(py.Path, "-B", filepath.Join("testdata", "py_created.py"), segName, "777", listName)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer stdin.Close()
			rd := bufio.NewReader(stdout)
			line, err := rd.ReadString('\n')
			if err != nil || line != "ready\n" {
				t.Fatalf("python: %q %v\n%s", line, err, stderr.String())
			}

			seg, err := shm.Open(segName)
			if err != nil {
				t.Fatal(err)
			}
			defer seg.Close()
			if seg.Size() != 777 {
				t.Errorf("Size = %d, want 777", seg.Size())
			}
			if got := string(seg.Bytes()[:8]); got != "fromPyth" {
				t.Errorf("go read %q", got)
			}
			copy(seg.Bytes()[8:], "fromGo!!")

			l, err := shm.OpenShareableList(listName)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			wantLayout := shm.LayoutPython39
			if py.Minor == 8 {
				wantLayout = shm.LayoutPython38
			}
			if l.Layout() != wantLayout {
				t.Errorf("layout %v, want %v", l.Layout(), wantLayout)
			}
			items := []any{int64(42), -1.25, true, false, nil, "h\u00e9llo w\u00f6rld", []byte("\x00ab"), "", []byte{},
				int64(1<<63 - 1), int64(-1 << 63), "exactly8", int64(0)}
			got, err := l.Items()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, items) {
				t.Errorf("go read\n got %#v\nwant %#v", got, items)
			}
			if i, err := l.Index(false); err != nil || i != 3 {
				t.Errorf("Index(false) = %d, %v; want 3", i, err)
			}
			if n, err := l.Count(0); err != nil || n != 2 {
				t.Errorf("Count(0) = %d, %v; want 2 (False and 0)", n, err)
			}
			// Writes of every kind, into slots of other kinds.
			sets := map[int]any{0: "go", 1: 7, 5: "abc", 7: "12345678", 8: []byte("zz"), 12: 1.5, 4: false, 2: nil}
			for i, v := range sets {
				if err := l.Set(i, v); err != nil {
					t.Errorf("Set(%d, %v): %v", i, v, err)
				}
				items[i] = v
			}
			items[1] = int64(7)
			if err := l.Set(7, "123456789"); err == nil {
				t.Error("Set of a str longer than its slot: no error")
			}
			if err := l.Set(9, uint64(1<<63)); err == nil {
				t.Error("Set of 2**63: no error")
			}
			if err := l.Set(9, struct{}{}); err == nil {
				t.Error("Set of a struct: no error")
			}
			if err := l.Set(13, 1); err == nil {
				t.Error("Set out of range: no error")
			}

			fmt.Fprintln(stdin, "go")
			out, err := rd.ReadBytes('\n')
			if err != nil {
				t.Fatalf("python: %v\n%s", err, stderr.String())
			}
			r := decodeReport(t, out)
			if r.Seg != hex.EncodeToString([]byte("fromGo!!")) {
				t.Errorf("python read %s", r.Seg)
			}
			if want := pyItems(t, items); !reflect.DeepEqual(r.Items, want) {
				t.Errorf("python read go's writes\n got %v\nwant %v", r.Items, want)
			}
		})
	}
}

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
