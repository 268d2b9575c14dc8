//go:build unix

package procshare_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/shm"
)

// counters holds shared values in every place a user puts them: a field, a
// pointer field, a slice, an array, a map, a map of structs, a value (not
// pointer) field, and plain data next to them.
type counters struct {
	Label   string
	Counter *shm.Value[int64]
	Inline  shm.Value[int32]
	Slots   []*shm.Value[int64]
	Pair    [2]*shm.Value[int64]
	ByName  map[string]*shm.Value[int64]
	Workers map[int]worker
	Deep    *struct{ Arr *shm.Array[int32] }
	Unset   *shm.Value[int64] // nil: travels as nil
	hidden  int               // unexported plain data: does not travel, silently
}

type worker struct {
	Name string
	Hits *shm.Value[int64]
}

var nestedChild = procshare.Register("procshare_test.nestedChild", func(c counters, ptr *counters, list []counters) error {
	for _, c := range append([]counters{c, *ptr}, list...) {
		if c.Unset != nil || c.hidden != 0 {
			return fmt.Errorf("%s: Unset %v, hidden %d: want nil and 0", c.Label, c.Unset, c.hidden)
		}
		c.Counter.Add(1)
		c.Inline.Add(1)
		for _, s := range c.Slots {
			s.Add(1)
		}
		for _, s := range c.Pair {
			s.Add(1)
		}
		for _, s := range c.ByName {
			s.Add(1)
		}
		for _, w := range c.Workers {
			w.Hits.Add(int64(len(w.Name)))
		}
		c.Deep.Arr.Add(2, 1)
	}
	return nil
})

func newCounters(t *testing.T, label string) *counters {
	t.Helper()
	v := func() *shm.Value[int64] {
		x, err := shm.NewValue[int64](0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { x.Close() })
		return x
	}
	inline, err := shm.NewValue[int32](0)
	if err != nil {
		t.Fatal(err)
	}
	arr, err := shm.NewArray[int32](3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inline.Close(); arr.Close() })
	return &counters{
		Label:   label,
		Counter: v(),
		Inline:  *inline,
		Slots:   []*shm.Value[int64]{v(), v(), v()},
		Pair:    [2]*shm.Value[int64]{v(), v()},
		ByName:  map[string]*shm.Value[int64]{"a": v(), "b": v()},
		Workers: map[int]worker{1: {"one", v()}, 2: {"three", v()}},
		Deep:    &struct{ Arr *shm.Array[int32] }{arr},
		hidden:  7,
	}
}

// TestNestedShared passes shared values nested in structs, slices, arrays
// and maps (and a struct by value, by pointer and in a slice); the child
// updates each of them and the parent sees every update.
func TestNestedShared(t *testing.T) {
	t.Parallel()
	a, b, c, d := newCounters(t, "a"), newCounters(t, "b"), newCounters(t, "c"), newCounters(t, "d")
	p, err := procshare.Start(nestedChild, *a, b, []counters{*c, *d})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*counters{a, b, c, d} {
		vals := map[string]int64{"Counter": x.Counter.Load(), "Inline": int64(x.Inline.Load()), "Deep.Arr[2]": int64(x.Deep.Arr.Load(2))}
		for i, s := range x.Slots {
			vals[fmt.Sprintf("Slots[%d]", i)] = s.Load()
		}
		for i, s := range x.Pair {
			vals[fmt.Sprintf("Pair[%d]", i)] = s.Load()
		}
		for k, s := range x.ByName {
			vals["ByName["+k+"]"] = s.Load()
		}
		for name, v := range vals {
			if v != 1 {
				t.Errorf("%s: %s = %d after the child, want 1", x.Label, name, v)
			}
		}
		for k, w := range x.Workers {
			if got := w.Hits.Load(); got != int64(len(w.Name)) {
				t.Errorf("%s: Workers[%d].Hits = %d, want %d", x.Label, k, got, len(w.Name))
			}
		}
	}
}

// Shapes that cannot travel. Each is refused by Start with an *ArgError
// naming the place; before, they passed Start as JSON {} or null and the
// child failed (a nil dereference, "shm: Add on an unknown element kind").
type (
	withClient struct{ C *manager.Client }
	withMutex  struct {
		Mu    sync.Mutex
		Count int
	}
	withChan struct {
		N    int
		done chan struct{}
	}
	withExportedChan struct{ Done chan int }
	withHidden       struct {
		N       int
		counter *shm.Value[int64]
	}
	withTagged struct {
		N       int
		Counter *shm.Value[int64] `json:"-"`
	}
	withAny    struct{ Items []any }
	withOpaque struct{ Conf opaque }
	opaque     struct{ secret int } // what it holds never travels
	node       struct{ Next *node }
)

var (
	takesClient   = procshare.Register("procshare_test.takesClient", func(*manager.Client) {})
	takesWith     = procshare.Register("procshare_test.takesWithClient", func(withClient) {})
	takesMutex    = procshare.Register("procshare_test.takesMutex", func(*withMutex) {})
	takesSyncMu   = procshare.Register("procshare_test.takesSyncMutex", func(*sync.Mutex) {})
	takesChan     = procshare.Register("procshare_test.takesChan", func(withChan) {})
	takesExpChan  = procshare.Register("procshare_test.takesExportedChan", func(withExportedChan) {})
	takesHidden   = procshare.Register("procshare_test.takesHidden", func(withHidden) {})
	takesTagged   = procshare.Register("procshare_test.takesTagged", func(withTagged) {})
	takesAny      = procshare.Register("procshare_test.takesAny", func(withAny) {})
	takesAnyMap   = procshare.Register("procshare_test.takesAnyMap", func(map[string]any) {})
	takesOpaque   = procshare.Register("procshare_test.takesOpaque", func([]withOpaque) {})
	takesNode     = procshare.Register("procshare_test.takesNode", func(*node) {})
	takesCounters = procshare.Register("procshare_test.takesCounters", func(map[string][]counters) {})
)

func TestNestedRefused(t *testing.T) {
	t.Parallel()
	v, err := shm.NewValue[int64](0)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	cycle := &node{}
	cycle.Next = cycle
	badMap := map[string][]counters{"ok": {*newCounters(t, "ok")}, "bad": {{Deep: &struct{ Arr *shm.Array[int32] }{}, Workers: map[int]worker{3: {}}, ByName: map[string]*shm.Value[int64]{"m": v}}}}
	badMap["bad"][0].Inline = shm.Value[int32]{} // a zero (unattached) value: its ShareFiles fails at Start

	for _, tc := range []struct {
		fn   *procshare.Func
		arg  any
		path string
		msg  string
	}{
		{takesClient, &manager.Client{}, "", "manager.Client has no exported fields, so it would arrive as a zero value"},
		{takesWith, withClient{&manager.Client{}}, "field C", "manager.Client has no exported fields"},
		{takesMutex, &withMutex{}, "field Mu", "sync.Mutex works within one process only"},
		{takesSyncMu, &sync.Mutex{}, "", "sync.Mutex works within one process only"},
		{takesChan, withChan{done: make(chan struct{})}, "field done", "the field is unexported, so the chan struct {} in it would not travel"},
		{takesExpChan, withExportedChan{Done: make(chan int)}, "field Done", "a chan int cannot travel to a child process"},
		{takesHidden, withHidden{counter: v}, "field counter", "the field is unexported, so the shared *shm.Value[int64] in it would not travel"},
		{takesTagged, withTagged{Counter: v}, "field Counter", `the field is tagged json:"-", so the shared *shm.Value[int64]`},
		{takesAny, withAny{Items: []any{1, "two", v}}, "field Items: index 2", "a *shm.Value[int64] inside an interface value cannot be rebuilt in the child"},
		{takesAnyMap, map[string]any{"n": 1, "v": v}, `key "v"`, "inside an interface value cannot be rebuilt"},
		{takesOpaque, []withOpaque{{Conf: opaque{secret: 1}}}, "index 0: field Conf", "procshare_test.opaque has no exported fields"},
		{takesNode, cycle, "field Next", "the value contains itself"},
	} {
		_, err := procshare.Start(tc.fn, tc.arg)
		var ae *procshare.ArgError
		if !errors.As(err, &ae) || ae.Index != 1 || ae.Path != tc.path || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: Start = %v, want an *ArgError at argument 1, path %q, saying %q", tc.fn, err, tc.path, tc.msg)
			continue
		}
		if want := "argument 1: " + tc.path; tc.path != "" && !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %q does not name %q", tc.fn, err, want)
		}
	}

	// Allowed: nil shared values, unexported plain data, nil channels in
	// unexported fields, plain values in interfaces.
	for _, tc := range []struct {
		fn  *procshare.Func
		arg any
	}{
		{takesChan, withChan{N: 1}},
		{takesHidden, withHidden{N: 1}},
		{takesAny, withAny{Items: []any{1, "two", map[string]any{"x": []any{1.5}}}}},
		{takesOpaque, []withOpaque(nil)},
	} {
		if _, err := procshare.NewProcess(tc.fn, nil, tc.arg); err != nil {
			t.Errorf("%s(%v): %v", tc.fn, tc.arg, err)
		}
	}

	// A nested value whose ShareFiles fails fails Start, naming the place.
	_, err = procshare.Start(takesCounters, badMap)
	if err == nil || !strings.Contains(err.Error(), `argument 1: key "bad": index 0: field Inline: `) {
		t.Errorf("Start with an unattached nested value = %v", err)
	}
}
