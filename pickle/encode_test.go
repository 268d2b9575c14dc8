package pickle_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/procshare/procshare/pickle"
)

func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	var ee *pickle.EncodeError
	if _, err := pickle.MarshalProtocol(nil, 1); !errors.As(err, &ee) {
		t.Errorf("protocol 1: %v", err)
	}
	if err := pickle.NewEncoder(&bytes.Buffer{}, &pickle.EncoderConfig{Protocol: 6}).Encode(nil); !errors.As(err, &ee) {
		t.Errorf("protocol 6: %v", err)
	}
	if _, err := pickle.Marshal(struct{}{}); !errors.As(err, &ee) {
		t.Errorf("Go struct: %v", err)
	}
	deep := pickle.Value(nil)
	for range 20000 {
		deep = &pickle.List{Items: []pickle.Value{deep}}
	}
	if _, err := pickle.Marshal(deep); !errors.Is(err, pickle.ErrTooLarge) {
		t.Errorf("20000 levels: %v", err)
	}
}

// TestEncodeGoScalars: Go ints and float32 encode as Python int and float.
func TestEncodeGoScalars(t *testing.T) {
	t.Parallel()
	p, err := pickle.Marshal(pickle.Tuple{int(1), uint8(2), int32(-3), uint64(1 << 63), float32(0.5)})
	if err != nil {
		t.Fatal(err)
	}
	v, err := pickle.Unmarshal(p)
	if err != nil || pickle.Repr(v) != "(1, 2, -3, 9223372036854775808, 0.5)" {
		t.Errorf("got %s, %v", pickle.Repr(v), err)
	}
}

// TestEncodeIdentity: a container referenced twice is written once, and
// decodes to one shared Go value; recursion survives.
func TestEncodeIdentity(t *testing.T) {
	t.Parallel()
	shared := &pickle.List{Items: []pickle.Value{int64(1)}}
	d := pickle.NewDict()
	d.Set("self", d)
	obj := &pickle.Object{Callable: pickle.Global{Module: "m", Name: "C"}, Args: pickle.Tuple{}, New: true}
	obj.State, obj.HasState = pickle.Tuple{obj}, true
	for proto := 2; proto <= 5; proto++ {
		p, err := pickle.MarshalProtocol(pickle.Tuple{shared, shared, d, obj}, proto)
		if err != nil {
			t.Fatal(err)
		}
		v, err := pickle.Unmarshal(p)
		if err != nil {
			t.Fatal(err)
		}
		tup := v.(pickle.Tuple)
		if tup[0].(*pickle.List) != tup[1].(*pickle.List) {
			t.Errorf("protocol %d: shared list decoded twice", proto)
		}
		dd := tup[2].(*pickle.Dict)
		if self, _, _ := dd.Get("self"); self != pickle.Value(dd) {
			t.Errorf("protocol %d: recursive dict lost", proto)
		}
		o := tup[3].(*pickle.Object)
		if o.State.(pickle.Tuple)[0] != pickle.Value(o) {
			t.Errorf("protocol %d: recursive object lost", proto)
		}
	}
}
