package procshare

import (
	"encoding/json"
	"math"
	"math/rand"
	"reflect"
	"testing"
)

// checkSame: the pool's slice codec and encoding/json agree on text: what
// one writes the other reads to the same slice, and for any text both
// either read the same slice or both fail.
func checkSame[T any](t *testing.T, vals []T, texts []string) {
	t.Helper()
	b, err := marshalSlice(vals)
	if err != nil {
		t.Fatalf("marshalSlice(%v): %v", vals, err)
	}
	var viaJSON []T
	if err := json.Unmarshal(b, &viaJSON); err != nil || !reflect.DeepEqual(viaJSON, vals) {
		t.Fatalf("encoding/json reads %s as %v, %v; want %v", b, viaJSON, err, vals)
	}
	jb, _ := json.Marshal(vals)
	for _, text := range append([]string{string(b), string(jb)}, texts...) {
		var fast, slow []T
		ferr := unmarshalSlice([]byte(text), &fast)
		serr := json.Unmarshal([]byte(text), &slow)
		if (ferr == nil) != (serr == nil) || ferr == nil && !reflect.DeepEqual(fast, slow) {
			t.Errorf("%T from %q: pool codec %v, %v; encoding/json %v, %v", fast, text, fast, ferr, slow, serr)
		}
	}
}

func TestPoolCodec(t *testing.T) {
	odd := []string{"null", "[]", " [ 1 , 2 ] ", "[1,]", "[,1]", "[1 2]", "[1.5]", "[1e3]", "[true]", `["1"]`,
		"[-0]", "[9223372036854775807]", "[9223372036854775808]", "[2147483648]", "[Inf]", "[NaN]", "[0x10]",
		"[1_0]", "[[1]]", "[1]x", "", "[", "[null]", "[\t1\n,\r2]", "[01]", "[+1]", "[-]", "[1e]", "[1.e5]", "[-01]"}
	checkSame(t, []int{0, 1, -1, math.MaxInt64, math.MinInt64}, odd)
	checkSame(t, []int64{3, -4}, odd)
	checkSame(t, []int32{math.MaxInt32, math.MinInt32}, odd)
	checkSame(t, []float64{0, -1.5, 1e300, 5e-324, math.Pi, 1e21, 123456789}, append(odd, "[1E5]", "[-1.25e-3]", "[+1]", "[.5]", "[1.]"))
	checkSame(t, []bool{true, false}, append(odd, "[true,false]", "[True]", "[1]"))
	checkSame(t, []string{"a", `"q"`, "é"}, odd) // through encoding/json
	checkSame[int](t, nil, nil)
	checkSame(t, []int{}, nil)

	rng := rand.New(rand.NewSource(1))
	for range 200 {
		ints := make([]int, rng.Intn(50))
		floats := make([]float64, len(ints))
		for i := range ints {
			ints[i] = int(rng.Int63()) - math.MaxInt64/2
			floats[i] = rng.NormFloat64() * math.Pow(10, float64(rng.Intn(40)-20))
		}
		checkSame(t, ints, nil)
		checkSame(t, floats, nil)
	}

	// A value JSON has no number for is refused, as encoding/json refuses
	// it, so that the pool fails that task only.
	if _, err := marshalSlice([]float64{1, math.NaN()}); err == nil {
		t.Error("marshalSlice accepted a NaN")
	}
	if _, err := marshalSlice([]float64{math.Inf(-1)}); err == nil {
		t.Error("marshalSlice accepted an infinity")
	}
}
