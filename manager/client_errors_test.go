package manager_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

// checkOnePrefix fails unless err's message reads as one message: one
// "manager: " prefix, no "remote RemoteError".
func checkOnePrefix(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	msg := err.Error()
	if strings.Count(msg, "manager: ") != 1 || !strings.HasPrefix(msg, "manager: ") ||
		strings.Contains(msg, "RemoteError") || strings.Contains(msg, "pickle: ") {
		t.Fatalf("%s: stacked or bare message %q", what, msg)
	}
}

// Remote exceptions name the object's typeid and the method called, and
// stay testable with errors.Is and errors.As.
func TestRemoteErrorNamesObject(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		d := get[*manager.Dict](t)(c.NewDict(ctx, nil))
		defer d.Close()
		_, err := d.Get(ctx, "missing")
		if want := "manager: dict.__getitem__: KeyError: 'missing'"; err == nil || err.Error() != want {
			t.Fatalf("Get(missing) = %v, want %q", err, want)
		}
		var re *manager.RemoteError
		if !errors.Is(err, manager.ErrKeyNotFound) || !errors.As(err, &re) ||
			re.Type != "KeyError" || re.TypeID != "dict" || re.Method != "__getitem__" || re.Message != "'missing'" {
			t.Fatalf("Get(missing) = %#v", err)
		}

		q := get[*manager.Queue](t)(c.NewQueue(ctx, 1))
		defer q.Close()
		must(t, q.Put(ctx, 1))
		err = q.TryPut(ctx, 2)
		if want := "manager: Queue.put: queue.Full"; err == nil || err.Error() != want || !errors.Is(err, manager.ErrFull) {
			t.Fatalf("TryPut on a full queue = %v, want %q", err, want)
		}

		// A method the object does not expose: CPython's traceback ends in
		// a KeyError of its fallback table; the message is the
		// AttributeError that says why.
		l := get[*manager.List](t)(c.NewList(ctx, nil))
		defer l.Close()
		p := get[*manager.Proxy](t)(manager.Attach[manager.Proxy](ctx, c, l.Token(), l.Exposed()))
		defer p.Close()
		_, err = p.Call(ctx, "nosuchmethod")
		checkOnePrefix(t, "not exposed", err)
		if want := "manager: list.nosuchmethod: AttributeError: method 'nosuchmethod' of <class 'list'> object is not in exposed="; !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("not exposed = %q, want it to start with %q", err, want)
		}
		if !errors.As(err, &re) || re.Traceback == "" {
			t.Fatalf("not exposed: %#v", err)
		}
	})
}

// Errors that wrap others read as one message.
func TestErrorsDoNotStack(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		d := get[*manager.Dict](t)(c.NewDict(ctx, nil))
		must(t, d.Close())
		_, err := d.Get(ctx, "k")
		if want := "manager: dict proxy closed"; err == nil || err.Error() != want || !errors.Is(err, manager.ErrClosed) {
			t.Fatalf("Get on a closed proxy = %v, want %q", err, want)
		}

		_, err = c.Create(ctx, "nosuchtype", nil, nil)
		checkOnePrefix(t, "create", err)
		if want := "manager: create nosuchtype: KeyError: 'nosuchtype'"; err.Error() != want {
			t.Fatalf("Create(nosuchtype) = %q, want %q", err, want)
		}

		l := get[*manager.List](t)(c.NewList(ctx, nil))
		defer l.Close()
		err = l.Append(ctx, make(chan int))
		checkOnePrefix(t, "Append(chan)", err)
		var ce *manager.ConvertError
		var pce *pickle.ConvertError
		if !errors.As(err, &ce) || !errors.As(err, &pce) || err.Error() != "manager: cannot convert Go type chan int to a Python value" {
			t.Fatalf("Append(chan) = %v", err)
		}

		must(t, l.Append(ctx, "s"))
		_, err = manager.As[int](l.Get(ctx, 0))
		checkOnePrefix(t, "As", err)
		if !errors.As(err, &ce) || ce.Python != "str" || ce.Go.String() != "int" || ce.Value != "s" {
			t.Fatalf("As[int](str) = %#v", err)
		}

		v := get[*manager.Value[int]](t)(manager.NewValue(ctx, c, "", 1))
		defer v.Close()
		_, err = v.Add(ctx, 1)
		if !c.Extended() {
			checkOnePrefix(t, "Add on CPython", err)
			if !errors.Is(err, manager.ErrUnsupported) || !strings.HasPrefix(err.Error(), "manager: Value.ps_add: not supported") {
				t.Fatalf("Add on CPython = %v", err)
			}
		}
	})
}

// A lost connection is named with the call, once.
func TestConnLostMessage(t *testing.T) {
	ctx := ctxT(t)
	key := []byte("secret")
	sock := filepath.Join(t.TempDir(), "m.sock")
	p := get[*procshare.Process](t)(procshare.Start(serveChild, sock, key))
	defer p.Join(ctx)
	defer p.Kill()
	c := get[*manager.Client](t)(dialChild(ctx, p, sock, key, nil))
	defer c.Close()
	d := get[*manager.Dict](t)(c.NewDict(ctx, nil))
	must(t, d.Set(ctx, "k", 1))
	must(t, p.Kill())
	p.Join(ctx)
	_, err := d.Get(ctx, "k")
	if !errors.Is(err, manager.ErrConnLost) {
		// The pipelined connection may be redialled (and refused).
		t.Logf("Get after the server died = %v", err)
	}
	t.Logf("Get after the server died: %v", err)
	checkOnePrefix(t, "Get after the server died", err)
	if !strings.HasPrefix(err.Error(), "manager: dict.__getitem__: ") {
		t.Fatalf("Get after the server died = %q", err)
	}
}

// freedInChild runs in a child process: it waits for the parent's signal
// (the parent has closed its proxy of d by then), then calls d.
var freedInChild = procshare.Register("manager_test.freedInChild", func(ctx context.Context, d *manager.Dict, signal *manager.Queue) error {
	if _, err := signal.Get(ctx); err != nil {
		return err
	}
	_, err := d.Get(ctx, "k")
	var fe *manager.FreedError
	return fmt.Errorf("freed=%v as=%v: %w", errors.Is(err, manager.ErrFreed), errors.As(err, &fe), err)
})

// A call on an object that the manager freed says so: here the child's
// proxy borrows the parent's reference, which the parent gives back before
// the child uses it.
func TestFreedObject(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		d := get[*manager.Dict](t)(c.NewDict(ctx, map[string]int{"k": 1}))
		signal := get[*manager.Queue](t)(c.NewQueue(ctx, 0))
		defer signal.Close()
		id := d.Token().ID
		p := get[*procshare.Process](t)(procshare.Start(freedInChild, d, signal))
		must(t, d.Close())
		must(t, signal.Put(ctx, "go"))
		err := p.Join(ctx)
		var ee *procshare.ExitError
		want := "freed=true as=true: manager: dict.__getitem__: object " + id + " was freed: its last reference was dropped"
		if !errors.As(err, &ee) || ee.Err != want {
			t.Fatalf("child: %v\nwant %q", err, want)
		}

		// In this process: a borrowed proxy (as a child has), and Attach
		// of the freed object's token.
		d = get[*manager.Dict](t)(c.NewDict(ctx, nil))
		_, meta, err := d.ShareFiles()
		must(t, err)
		var borrowed manager.Dict
		must(t, borrowed.AttachFiles(nil, meta))
		tok := d.Token()
		must(t, d.Close())
		_, ok, err := borrowed.Lookup(ctx, "k")
		var fe *manager.FreedError
		if ok || !errors.Is(err, manager.ErrFreed) || errors.Is(err, manager.ErrKeyNotFound) || !errors.As(err, &fe) ||
			fe.TypeID != "dict" || fe.ID != tok.ID || fe.Method != "__getitem__" {
			t.Fatalf("Lookup on a freed dict = %v, %v", ok, err)
		}
		_, err = manager.Attach[manager.Dict](ctx, c, tok, nil)
		if want := "manager: dict.incref: object " + tok.ID + " was freed: its last reference was dropped"; err == nil || err.Error() != want || !errors.Is(err, manager.ErrFreed) {
			t.Fatalf("Attach of a freed object = %v, want %q", err, want)
		}
	})
}

// A server configuration error names the object once.
func TestExposeErrorMessage(t *testing.T) {
	_, err := manager.NewServer(&manager.ServerConfig{
		Authkey: []byte("k"),
		Expose:  []manager.ExposedObject{{Name: "b", TypeID: "Barrier", Args: []pickle.Value{"two"}}},
	})
	checkOnePrefix(t, "NewServer", err)
	if want := `manager: exposed object "b": `; !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("NewServer = %q, want it to start with %q", err, want)
	}
}

// Value and Array results of another type name the object and method.
func TestValueConvertError(t *testing.T) {
	forEachTarget(t, nil, func(t *testing.T, c *manager.Client) {
		ctx := ctxT(t)
		s := get[*manager.Value[string]](t)(manager.NewValue(ctx, c, "u", "text"))
		defer s.Close()
		v := get[*manager.Value[int]](t)(manager.Attach[manager.Value[int]](ctx, c, s.Token(), s.Exposed()))
		defer v.Close()
		_, err := v.Get(ctx)
		wantConvertError(t, err, "manager: Value.get: cannot convert Python str to Go int", "str", "text")

		a := get[*manager.Array[float64]](t)(manager.NewArray(ctx, c, "d", []float64{1e300}))
		defer a.Close()
		f := get[*manager.Array[float32]](t)(manager.Attach[manager.Array[float32]](ctx, c, a.Token(), a.Exposed()))
		defer f.Close()
		_, err = f.Get(ctx, 0)
		wantConvertError(t, err, "manager: Array.__getitem__: index 0: cannot convert Python float to Go float32: out of range", "float", 1e300)
	})
}
