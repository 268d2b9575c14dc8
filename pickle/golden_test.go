package pickle_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/procshare/procshare/pickle"
)

// goldenCase is one pickle written by CPython (testdata/gen_golden.py).
type goldenCase struct {
	Src   string `json:"src"`
	Proto int    `json:"proto"`
	Hex   string `json:"hex"`
	Repr  string `json:"repr"`
	Same  bool   `json:"same"`
}

func loadGolden(t testing.TB) []goldenCase {
	t.Helper()
	data, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestGoldenDecode decodes every CPython pickle (protocols 0-5, and Python
// 2.7's 0-2) and compares the repr with CPython's.
func TestGoldenDecode(t *testing.T) {
	t.Parallel()
	for _, c := range loadGolden(t) {
		data, err := hex.DecodeString(c.Hex)
		if err != nil {
			t.Fatal(err)
		}
		v, err := pickle.Unmarshal(data)
		if err != nil {
			t.Errorf("%s protocol %d: %v", c.Src, c.Proto, err)
			continue
		}
		if got := pickle.Repr(v); got != c.Repr {
			t.Errorf("%s protocol %d: Repr = %s, CPython says %s", c.Src, c.Proto, got, c.Repr)
		}
		// The stream decoder agrees with Unmarshal, one byte at a time.
		w, err := pickle.NewDecoder(&oneByteReader{data}, nil).Decode()
		if err != nil || pickle.Repr(w) != pickle.Repr(v) {
			t.Errorf("%s protocol %d: stream decode = %s, %v", c.Src, c.Proto, pickle.Repr(w), err)
		}
	}
}

// TestGoldenEncode re-encodes the decoded values: protocol 4 output is
// byte-identical to CPython's for plain values, and every protocol decodes
// back to an equal value.
func TestGoldenEncode(t *testing.T) {
	t.Parallel()
	for _, c := range loadGolden(t) {
		data, _ := hex.DecodeString(c.Hex)
		v, err := pickle.Unmarshal(data)
		if err != nil {
			continue // reported by TestGoldenDecode
		}
		if c.Same {
			got, err := pickle.Marshal(v)
			if err != nil {
				t.Errorf("%s: Marshal: %v", c.Src, err)
			} else if !bytes.Equal(got, data) {
				t.Errorf("%s: Marshal =\n%x\nCPython wrote\n%x", c.Src, got, data)
			}
		}
		for proto := 2; proto <= pickle.HighestProtocol; proto++ {
			p, err := pickle.MarshalProtocol(v, proto)
			if err != nil {
				t.Errorf("%s: MarshalProtocol(%d): %v", c.Src, proto, err)
				continue
			}
			w, err := pickle.Unmarshal(p)
			if err != nil {
				t.Errorf("%s: protocol %d round trip: %v", c.Src, proto, err)
				continue
			}
			if pickle.Repr(w) != pickle.Repr(v) {
				t.Errorf("%s: protocol %d round trip gives %s", c.Src, proto, pickle.Repr(w))
			}
		}
	}
}

type oneByteReader struct{ p []byte }

func (r *oneByteReader) Read(b []byte) (int, error) {
	if len(r.p) == 0 {
		return 0, errEOF
	}
	if len(b) == 0 {
		return 0, nil
	}
	b[0] = r.p[0]
	r.p = r.p[1:]
	return 1, nil
}
