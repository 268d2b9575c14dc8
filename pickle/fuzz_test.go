package pickle_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/procshare/procshare/pickle"
)

// FuzzUnmarshal checks that no input panics or exceeds the limits, and
// that whatever decodes survives Marshal and Unmarshal unchanged (Equal,
// or the same Repr where NaN defeats Equal) with the same hash. The seed corpus is the golden
// vectors plus testdata/fuzz/FuzzUnmarshal.
func FuzzUnmarshal(f *testing.F) {
	if data, err := os.ReadFile("testdata/golden.json"); err == nil {
		var cases []goldenCase
		if json.Unmarshal(data, &cases) == nil {
			for _, c := range cases {
				if p, err := hex.DecodeString(c.Hex); err == nil {
					f.Add(p)
				}
			}
		}
	}
	cfg := &pickle.DecoderConfig{MaxInput: 1 << 20, MaxItems: 1 << 16, MaxMemo: 1 << 12, MaxDepth: 200}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := pickle.UnmarshalConfig(data, cfg)
		if err != nil {
			if _, ok := err.(*pickle.DecodeError); !ok {
				t.Fatalf("error %v (%T) is not a *DecodeError", err, err)
			}
			return
		}
		_ = pickle.Repr(v)
		_, _ = pickle.Hash(v)
		for _, proto := range []int{2, 4, 5} {
			p, err := pickle.MarshalProtocol(v, proto)
			var ee *pickle.EncodeError
			if err != nil && proto < 4 && errors.As(err, &ee) {
				continue // a global name GLOBAL cannot carry
			}
			if err != nil {
				t.Fatalf("Marshal(%s, %d): %v", pickle.Repr(v), proto, err)
			}
			w, err := pickle.UnmarshalConfig(p, &pickle.DecoderConfig{MaxDepth: 400})
			if err != nil {
				t.Fatalf("Unmarshal(Marshal(%s, %d)): %v\n%x", pickle.Repr(v), proto, err, p)
			}
			if !pickle.Equal(v, w) {
				if pickle.Repr(v) != pickle.Repr(w) {
					t.Fatalf("protocol %d round trip: %s became %s", proto, pickle.Repr(v), pickle.Repr(w))
				}
				continue // NaN inside
			}
			hv, err1 := pickle.Hash(v)
			hw, err2 := pickle.Hash(w)
			if (err1 == nil) != (err2 == nil) || hv != hw {
				t.Fatalf("equal values %s hash differently (%v, %v)", pickle.Repr(v), err1, err2)
			}
		}
	})
}
