package pickle_test

import (
	"testing"

	"github.com/procshare/procshare/pickle"
)

// The manager's hot path: a request and a reply, as CPython sends them.
func benchRequest() pickle.Value { return request() }

func benchReply() pickle.Value {
	return pickle.Tuple{"#RETURN", &pickle.List{Items: []pickle.Value{int64(100), "two", 3.0}}}
}

func BenchmarkMarshal(b *testing.B) {
	for _, bc := range []struct {
		name string
		v    pickle.Value
	}{{"request", benchRequest()}, {"reply", benchReply()}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pickle.Marshal(bc.v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/append", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 256)
			for b.Loop() {
				var err error
				if buf, err = pickle.AppendMarshal(buf[:0], bc.v, pickle.DefaultProtocol); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	for _, bc := range []struct {
		name string
		v    pickle.Value
	}{{"request", benchRequest()}, {"reply", benchReply()}} {
		data, err := pickle.Marshal(bc.v)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := pickle.Unmarshal(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
