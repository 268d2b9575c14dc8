package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/procshare/procshare/pickle"
)

// proxy is what every typed proxy is made of: one reference to one shared
// object of one manager. It is embedded first in each proxy type, so its
// exported methods (Token, Close, ShareFiles, PythonValue, Repr) belong to
// every proxy.
type proxy struct {
	c       *Client
	tok     Token
	ident   pickle.Value // tok.ID, boxed once for every request
	exposed []string
	closed  atomic.Bool
	cleanup runtime.Cleanup

	// borrowed is set for a proxy attached in a child process (AttachFiles):
	// it uses the reference of the parent's proxy and owns none.
	borrowed bool
}

// proxyRef is what a proxy's cleanup needs: no pointer back to the proxy.
type proxyRef struct {
	c  *Client
	id string
}

// adopt makes p the owner of one reference to tok's object, which the caller
// has already taken on the server (create, incref, or a #PROXY reply).
func (c *Client) adopt(p *proxy, tok Token, exposed []string) {
	p.c, p.tok, p.exposed, p.ident = c, tok, exposed, tok.ID
	c.mu.Lock()
	c.refs[tok.ID]++
	c.mu.Unlock()
	// A proxy dropped without Close still gives its reference back.
	p.cleanup = runtime.AddCleanup(p, func(r proxyRef) { r.c.releaseLater(r.id) }, proxyRef{c, tok.ID})
}

// release gives back one reference to object id (decref).
func (c *Client) release(id string) error {
	c.mu.Lock()
	if c.closed || c.refs[id] == 0 {
		// Close released (or is releasing) everything.
		c.mu.Unlock()
		return nil
	}
	if c.refs[id]--; c.refs[id] == 0 {
		delete(c.refs, id)
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.serverCall(ctx, "decref", id)
	return err
}

// releaseLater is release from a proxy's cleanup, which must not block.
func (c *Client) releaseLater(id string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		c.release(id)
	}()
}

// Token returns the identity of the shared object: typeid, manager address
// and object id.
func (p *proxy) Token() Token { return p.tok }

// Exposed returns the names of the methods the manager lets clients call on
// the object, as the manager reported them.
func (p *proxy) Exposed() []string { return slices.Clone(p.exposed) }

// Client returns the client the proxy calls through.
func (p *proxy) Client() *Client { return p.c }

// Close gives the proxy's reference back to the manager (decref); the object
// is freed when no process holds a reference any more. Calls on the proxy
// then fail with ErrClosed. Close is idempotent. A proxy that is garbage
// collected without Close gives its reference back too, eventually.
func (p *proxy) Close() error {
	if p.c == nil || !p.closed.CompareAndSwap(false, true) || p.borrowed {
		return nil
	}
	p.cleanup.Stop()
	return p.c.release(p.tok.ID)
}

// Repr returns the manager's repr() of the object (what str(proxy) prints in
// Python), e.g. "{'a': 1}" or "Value('i', 7)".
func (p *proxy) Repr(ctx context.Context) (string, error) {
	v, err := p.call(ctx, "__repr__")
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%w: __repr__ returned %s", ErrProtocol, pickle.TypeName(v))
	}
	return s, nil
}

// PythonValue returns the proxy as Python pickles it inside a value
// (multiprocessing.managers.RebuildProxy(class, token, 'pickle', kwds)), so
// that it can be stored in a shared dict or list, or pickled and handed to a
// Python process, which rebuilds a working proxy from it (with
// multiprocessing.current_process().authkey set to the manager's authkey).
// Proxies passed as call arguments are converted this way automatically.
func (p *proxy) PythonValue() pickle.Value { return rebuildProxyValue(p.tok, p.exposed) }

// MarshalPickle makes pickle.ToValue convert a proxy found anywhere inside a
// Go value (a struct field, a map value) to PythonValue.
func (p *proxy) MarshalPickle() (pickle.Value, error) { return p.PythonValue(), nil }

// shareMeta is what ShareFiles hands to the child process.
type shareMeta struct {
	Network string   `json:"network"`
	Addr    string   `json:"addr"`
	Authkey []byte   `json:"authkey"`
	TypeID  string   `json:"typeid"`
	ID      string   `json:"id"`
	Exposed []string `json:"exposed"`
}

// ShareFiles lets the proxy be passed to a child process (procshare
// Process arguments): no files, and metadata holding the manager's address
// and authkey and the object's token. In the child, AttachFiles on a new
// proxy of the same type connects to the manager (one connection per
// manager, shared by all the proxies the child attaches).
//
// As with Python's Process arguments, the child's proxy borrows the
// parent's reference: keep the parent's proxy open until the child is done
// (Join it first); the child's Close releases nothing on the server.
func (p *proxy) ShareFiles() ([]*os.File, []byte, error) {
	if err := p.usable(); err != nil {
		return nil, nil, err
	}
	meta, err := json.Marshal(shareMeta{
		Network: p.tok.Address.Network, Addr: p.tok.Address.Addr, Authkey: p.c.authkey,
		TypeID: p.tok.TypeID, ID: p.tok.ID, Exposed: p.exposed,
	})
	return nil, meta, err
}

// attach is the body of every proxy type's AttachFiles: it connects through
// the process's shared client for that manager (borrowing the parent's
// reference, see ShareFiles).
//
// typeids lists the SyncManager typeids the proxy type is made for (none:
// any). An object of another SyncManager typeid is refused (a Dict proxy
// for a "Queue" object). Any other typeid is a name that a server
// registered — an --expose name, a CPython BaseManager.register name such
// as "get_queue" or "stats" — and the object behind it is whatever the
// server says, so it is accepted, as Python's proxies accept it: the
// parent, which made a proxy of this type for it, already vouched for it.
func (p *proxy) attach(files []*os.File, meta []byte, typeids ...string) error {
	for _, f := range files {
		f.Close()
	}
	if p.c != nil {
		return errors.New("manager: AttachFiles on a proxy already in use")
	}
	var m shareMeta
	if err := json.Unmarshal(meta, &m); err != nil {
		return fmt.Errorf("manager: bad proxy metadata: %w", err)
	}
	if _, std := srvTypes[m.TypeID]; std && len(typeids) > 0 && !slices.Contains(typeids, m.TypeID) {
		return fmt.Errorf("manager: cannot attach a %s proxy to a %q object", typeids[0], m.TypeID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr := Address{Network: m.Network, Addr: m.Addr}
	c, err := sharedClient(ctx, addr, m.Authkey)
	if err != nil {
		return err
	}
	// Like a proxy unpickled as a Python Process argument, the child
	// borrows the parent's reference: no incref now, no decref at Close.
	p.c, p.tok, p.exposed, p.ident, p.borrowed = c, Token{TypeID: m.TypeID, Address: addr, ID: m.ID}, m.Exposed, m.ID, true
	return nil
}

// attachToken increfs tok's object and makes p its proxy.
func (c *Client) attachToken(ctx context.Context, p *proxy, tok Token, exposed []string) error {
	if _, err := c.serverCall(ctx, "incref", tok.ID); err != nil {
		if re, ok := err.(*RemoteError); ok && re.freedBy(tok.ID) {
			return &FreedError{TypeID: tok.TypeID, ID: tok.ID, Method: "incref"}
		}
		return &opError{op: "incref " + tok.TypeID + " " + tok.ID, err: err}
	}
	c.adopt(p, tok, exposed)
	return nil
}

var shared struct {
	mu      sync.Mutex
	clients map[string]*Client
}

// sharedClient returns the process-wide client for a manager, which proxies
// attached in this process (AttachFiles) share. It is never closed: the
// references of its proxies are given back by their Close.
func sharedClient(ctx context.Context, addr Address, authkey []byte) (*Client, error) {
	key := addr.Network + "\x00" + addr.Addr + "\x00" + string(authkey)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if c := shared.clients[key]; c != nil && !c.isClosed() {
		return c, nil
	}
	c, err := DialAddress(ctx, addr, authkey, nil)
	if err != nil {
		return nil, err
	}
	if shared.clients == nil {
		shared.clients = map[string]*Client{}
	}
	shared.clients[key] = c
	return c, nil
}

// usable reports why p cannot be called, if it cannot.
func (p *proxy) usable() error {
	if p.c == nil {
		return errors.New("manager: proxy not connected (zero value)")
	}
	if p.closed.Load() {
		return &closedProxyError{typeID: p.tok.TypeID}
	}
	return nil
}

// call makes a non-blocking (pipelined) call of method on the object.
func (p *proxy) call(ctx context.Context, method string, args ...pickle.Value) (pickle.Value, error) {
	return p.callKw(ctx, method, args, nil)
}

func (p *proxy) callKw(ctx context.Context, method string, args pickle.Tuple, kwds *pickle.Dict) (pickle.Value, error) {
	return p.callGrantKw(ctx, nil, method, args, kwds)
}

// callGrant is call for a method whose reply may grant something (see
// Client.callGrant).
func (p *proxy) callGrant(ctx context.Context, granted grantTest, method string, args ...pickle.Value) (pickle.Value, error) {
	return p.callGrantKw(ctx, granted, method, args, nil)
}

func (p *proxy) callGrantKw(ctx context.Context, granted grantTest, method string, args pickle.Tuple, kwds *pickle.Dict) (pickle.Value, error) {
	if err := p.usable(); err != nil {
		return nil, err
	}
	v, err := p.c.callGrant(ctx, granted, p.ident, method, args, kwds)
	if err != nil {
		return nil, p.wrap(method, err)
	}
	if pr, ok := v.(proxyReply); ok {
		return p.c.proxyFromReply(pr), nil
	}
	return v, nil
}

// block makes a blocking call on the object (see Client.block).
func (p *proxy) block(ctx context.Context, cc *clientConn, b *blockingCall) (pickle.Value, error) {
	if err := p.usable(); err != nil {
		return nil, err
	}
	v, err := p.c.block(ctx, cc, p.ident, b)
	if err != nil {
		return nil, p.wrap(b.method, err)
	}
	return v, nil
}

// wrap names the object's typeid and the method in a call's error: a
// *RemoteError gets TypeID and Method (or becomes a *FreedError when the
// manager no longer holds the object), other errors are wrapped. ctx errors
// are returned as they are, so that callers can compare them.
func (p *proxy) wrap(method string, err error) error {
	if err == context.Canceled || err == context.DeadlineExceeded {
		return err
	}
	if re, ok := err.(*RemoteError); ok {
		if re.freedBy(p.tok.ID) {
			return &FreedError{TypeID: p.tok.TypeID, ID: p.tok.ID, Method: method}
		}
		if line, ok := re.notExposedLine(method); ok {
			re.Message = line
		}
		if re.Method == "" {
			re.TypeID, re.Method = p.tok.TypeID, method
		}
		return re
	}
	return &opError{op: p.tok.TypeID + "." + method, err: err}
}

// extension returns an error wrapping ErrUnsupported when the manager does
// not offer the procshare extension method.
func (p *proxy) extension(method string) error {
	if err := p.usable(); err != nil {
		return err
	}
	if !p.c.ext || !slices.Contains(p.exposed, method) {
		return &opError{op: p.tok.TypeID + "." + method,
			err: fmt.Errorf("%w (procshare extension; the manager is not procshare's)", ErrUnsupported)}
	}
	return nil
}

// proxyFromReply wraps the new object of a #PROXY reply in a Proxy.
func (c *Client) proxyFromReply(pr proxyReply) *Proxy {
	pr.token.Address = c.addr
	p := &Proxy{}
	c.adopt(&p.proxy, pr.token, pr.exposed)
	return p
}

// valueOf converts a Go value for the wire with pickle.ToValue (proxies
// become the RebuildProxy value Python expects, see MarshalPickle).
func valueOf(x any) (pickle.Value, error) {
	v, err := pickle.ToValue(x)
	if err != nil {
		return nil, &ConvertError{Go: reflect.TypeOf(x), Err: err}
	}
	return v, nil
}

// valuesOf converts call arguments.
func valuesOf(xs ...any) (pickle.Tuple, error) {
	t := make(pickle.Tuple, len(xs))
	for i, x := range xs {
		v, err := valueOf(x)
		if err != nil {
			return nil, err
		}
		t[i] = v
	}
	return t, nil
}

// kwdsOf converts keyword arguments (nil for none).
func kwdsOf(m map[string]any) (*pickle.Dict, error) {
	if len(m) == 0 {
		return nil, nil
	}
	d := pickle.NewDict()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, err := valueOf(m[k])
		if err != nil {
			return nil, err
		}
		d.Set(k, v)
	}
	return d, nil
}

// As converts the result of a proxy call to a Go type with pickle.FromValue
// (struct tags, slices, maps, numbers range-checked), passing an error
// through. It also accepts the []pickle.Value results of methods such as
// List.Items:
//
//	n, err := manager.As[int](d.Get(ctx, "hits"))
//	xs, err := manager.As[[]string](l.Items(ctx))
func As[T any](v pickle.Value, err error) (T, error) {
	var out T
	if err != nil {
		return out, err
	}
	if items, ok := v.([]pickle.Value); ok { // List.Items, Dict.Keys …
		v = &pickle.List{Items: items}
	}
	if err := pickle.FromValue(v, &out); err != nil {
		return out, &ConvertError{Python: pickle.TypeName(v), Go: reflect.TypeFor[T](), Value: v, Err: err}
	}
	return out, nil
}

// intOf returns a Python int result as an int.
func intOf(v pickle.Value, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	switch n := v.(type) {
	case int64:
		return int(n), nil
	case bool:
		if n {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("%w: expected an int, got %s", ErrProtocol, pickle.TypeName(v))
}

// boolOf returns a Python bool result.
func boolOf(v pickle.Value, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	return pickle.Truth(v), nil
}

// noValue drops a call's result.
func noValue(_ pickle.Value, err error) error { return err }

// Proxy is a proxy to a shared object of any typeid, for typeids without a
// typed proxy (a server's custom registrations) and for objects returned by
// methods (a dict's iterator). Call makes any exposed method call.
//
// A Proxy is safe for concurrent use by multiple goroutines; its calls are
// non-blocking calls pipelined with other goroutines' (use a typed proxy for
// blocking methods).
type Proxy struct{ proxy }

// Call calls method on the object with positional arguments converted by
// pickle.ToValue (proxies as proxies) and returns the result.
func (p *Proxy) Call(ctx context.Context, method string, args ...any) (pickle.Value, error) {
	return p.CallKw(ctx, method, args, nil)
}

// CallKw is Call with keyword arguments.
func (p *Proxy) CallKw(ctx context.Context, method string, args []any, kwds map[string]any) (pickle.Value, error) {
	t, err := valuesOf(args...)
	if err != nil {
		return nil, err
	}
	kw, err := kwdsOf(kwds)
	if err != nil {
		return nil, err
	}
	return p.callKw(ctx, method, t, kw)
}

// AttachFiles is the child-process side of ShareFiles: it connects the zero
// Proxy to the shared object described by meta.
func (p *Proxy) AttachFiles(files []*os.File, meta []byte) error { return p.attach(files, meta) }

// Create creates a shared object of any typeid the manager registers
// (args and kwds are the constructor's) and returns an untyped proxy owning
// one reference to it.
func (c *Client) Create(ctx context.Context, typeid string, args []any, kwds map[string]any) (*Proxy, error) {
	p := &Proxy{}
	if err := c.create(ctx, &p.proxy, typeid, args, kwds); err != nil {
		return nil, err
	}
	return p, nil
}

// create makes the server create a typeid object and adopts its reference.
func (c *Client) create(ctx context.Context, p *proxy, typeid string, args []any, kwds map[string]any) error {
	t, err := valuesOf(args...)
	if err != nil {
		return err
	}
	kw, err := kwdsOf(kwds)
	if err != nil {
		return err
	}
	return c.createValues(ctx, p, typeid, t, kw)
}

func (c *Client) createValues(ctx context.Context, p *proxy, typeid string, args pickle.Tuple, kwds *pickle.Dict) error {
	if c.isClosed() {
		return ErrClosed
	}
	v, err := c.serverCallKw(ctx, "create", append(pickle.Tuple{typeid}, args...), kwds)
	if err != nil {
		return &opError{op: "create " + typeid, err: err}
	}
	t, ok := v.(pickle.Tuple)
	if !ok || len(t) != 2 {
		return fmt.Errorf("%w: create %s returned %.100s", ErrProtocol, typeid, pickle.Repr(v))
	}
	id, ok := t[0].(string)
	if !ok {
		return fmt.Errorf("%w: create %s returned id %.100s", ErrProtocol, typeid, pickle.Repr(t[0]))
	}
	c.adopt(p, Token{TypeID: typeid, Address: c.addr, ID: id}, stringsOf(t[1]))
	return nil
}

// proxyType is satisfied by every typed proxy (*Dict, *Queue, …).
type proxyType[T any] interface {
	*T
	base() *proxy
}

func (p *proxy) base() *proxy { return p }

// Named creates (or fetches) the object a manager registers under typeid —
// typically a named singleton such as a QueueManager's "get_queue" — and
// returns it as the typed proxy P:
//
//	q, err := manager.Named[manager.Queue](ctx, c, "get_queue")
func Named[T any, P proxyType[T]](ctx context.Context, c *Client, typeid string, args ...any) (P, error) {
	p := P(new(T))
	if err := c.create(ctx, p.base(), typeid, args, nil); err != nil {
		return nil, err
	}
	return p, nil
}

// Attach makes a typed proxy for an object known by its token (e.g. one
// found in a shared container), taking a reference of its own (incref).
func Attach[T any, P proxyType[T]](ctx context.Context, c *Client, tok Token, exposed []string) (P, error) {
	p := P(new(T))
	if err := c.attachToken(ctx, p.base(), tok, exposed); err != nil {
		return nil, err
	}
	return p, nil
}
