package manager

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/procshare/procshare/pickle"
)

// Reply kinds.
const (
	msgReturn         = "#RETURN"
	msgError          = "#ERROR"
	msgTraceback      = "#TRACEBACK"
	msgProxy          = "#PROXY"
	msgUnserializable = "#UNSERIALIZABLE"
)

// srvReply is an encoded reply frame.
type srvReply struct {
	data   []byte
	kind   string // msgReturn, msgError, …: what data says
	hangUp bool   // send nothing and close: the client or the server is going away
	silent bool   // send nothing (ps_ack)
}

func (r srvReply) isReturn() bool { return r.kind == msgReturn }

// Pre-encoded constant replies.
var (
	replyNone, replyTrue, replyFalse srvReply
	replyOnce                        sync.Once
)

func initReplies() {
	replyNone = encodeReply(msgReturn, nil)
	replyTrue = encodeReply(msgReturn, true)
	replyFalse = encodeReply(msgReturn, false)
}

func init() { replyOnce.Do(initReplies) }

// encodeReply pickles (kind, payload). A payload that cannot be pickled
// becomes '#UNSERIALIZABLE' with the reason, as in CPython.
func encodeReply(kind string, payload pickle.Value) srvReply {
	data, err := pickle.Marshal(pickle.Tuple{kind, payload})
	if err != nil {
		data, err = pickle.Marshal(pickle.Tuple{msgUnserializable,
			formatTraceback("send", asExc(err))})
		if err != nil { // cannot happen: a tuple of two strs
			panic(err)
		}
		return srvReply{data: data, kind: msgUnserializable}
	}
	return srvReply{data: data, kind: kind}
}

// returnReply encodes ('#RETURN', v), using the constant replies for None
// and bools.
func returnReply(v pickle.Value) srvReply {
	switch v {
	case nil:
		return replyNone
	case true:
		return replyTrue
	case false:
		return replyFalse
	}
	return encodeReply(msgReturn, v)
}

// srvRequest is a decoded (ident, methodname, args, kwds).
type srvRequest struct {
	ident  string
	method string
	args   pickle.Tuple
	kw     *pickle.Dict
}

// parseRequest decodes one request frame; an args iterable that must be
// expanded is charged to m.
func parseRequest(mem *memScope, frame []byte) (srvRequest, *pyExc) {
	v, err := pickle.Unmarshal(frame)
	if err != nil {
		return srvRequest{}, excf(excValueError, "procshare: cannot unpickle request: %v", strings.TrimPrefix(err.Error(), "pickle: "))
	}
	t, ok := v.(pickle.Tuple)
	if !ok {
		if l, isList := v.(*pickle.List); isList {
			t = pickle.Tuple(l.Items)
		} else {
			return srvRequest{}, typeErrorf("cannot unpack non-iterable %s object", typeName(v))
		}
	}
	if len(t) != 4 {
		if len(t) < 4 {
			return srvRequest{}, valueErrorf("not enough values to unpack (expected 4, got %d)", len(t))
		}
		return srvRequest{}, valueErrorf("too many values to unpack (expected 4)")
	}
	var r srvRequest
	switch id := t[0].(type) {
	case nil:
	case string:
		r.ident = id
	default:
		r.ident = pickle.Repr(id)
	}
	m, ok := t[1].(string)
	if !ok {
		return r, typeErrorf("method name must be a str, not %s", typeName(t[1]))
	}
	r.method = m
	switch a := t[2].(type) {
	case pickle.Tuple:
		r.args = a
	case *pickle.List:
		r.args = pickle.Tuple(a.Items)
	case nil:
		return r, typeErrorf("%s() argument after * must be an iterable, not NoneType", m)
	default:
		items, err := iterValues(mem, a)
		if isMemoryError(err) {
			return r, err.(*pyExc)
		}
		if err != nil {
			return r, typeErrorf("%s() argument after * must be an iterable, not %s", m, typeName(a))
		}
		r.args = pickle.Tuple(items)
	}
	switch k := t[3].(type) {
	case *pickle.Dict:
		for key := range k.All() {
			if _, ok := key.(string); !ok {
				return r, typeErrorf("keywords must be strings")
			}
		}
		r.kw = k
	case nil:
	default:
		return r, typeErrorf("%s() argument after ** must be a mapping, not %s", m, typeName(k))
	}
	return r, nil
}

// errNoMethod is returned by srvObj.call for a method the object does not
// have; the server then applies CPython's fallbacks.
var errNoMethod = errors.New("manager: no such method")

// objectCall runs one object request (CPython's serve_client body).
func (s *Server) objectCall(c *srvCall, req srvRequest) (reply srvReply) {
	e := s.table.get(req.ident)
	if s.cfg.Observer != nil {
		start := time.Now()
		typeid, method := "(unknown)", "(unexposed)"
		if e != nil {
			typeid = e.typeid
			switch {
			case e.typ.isExposed(req.method):
				method = req.method
			case req.method == "__str__", req.method == "__repr__", req.method == "#GETVALUE":
				method = req.method // the fallbacks
			}
		}
		defer func() { s.observeCall(typeid, method, reply, start) }()
	}
	if e == nil {
		return encodeReply(msgTraceback, formatTraceback("serve_client", keyError(req.ident)))
	}
	if !e.typ.isExposed(req.method) {
		return s.fallback(c, e, req)
	}
	// Proxies to other managers in the arguments are referenced on their
	// servers before the method runs (and before the reply lets the client
	// drop its own proxy); a value the method stores keeps the reference.
	if pins := s.foreign.pin(req.args, req.kw); pins != nil {
		defer s.foreign.unpin(pins)
	}
	res, err := e.obj.call(c, req.method, req.args, req.kw)
	if err != nil {
		if err == errNoMethod {
			return s.fallback(c, e, req)
		}
		if err == errConnGone {
			return srvReply{hangUp: true}
		}
		var exc *pyExc
		if errors.As(err, &exc) {
			return c.encode(msgError, exc.value())
		}
		return c.encode(msgError, asExc(err).value())
	}
	if np, ok := res.(*srvNewProxy); ok {
		typ := srvTypes[np.typeid]
		ne := s.table.add(np.typeid, typ, np.obj, false)
		tok := Token{TypeID: np.typeid, ID: ne.id}
		return encodeReply(msgProxy, pickle.Tuple{typ.exposedTuple(), tokenValue(tok, c.conn.addrVal)})
	}
	return c.returnReply(res)
}

// returnReply is returnReply encoding with encode.
func (c *srvCall) returnReply(v pickle.Value) srvReply {
	switch v {
	case nil, true, false:
		return returnReply(v)
	}
	return c.encode(msgReturn, v)
}

// encode pickles the reply (kind, payload). One of up to smallReply bytes
// is encoded into the connection's reusable buffer and is valid until the
// connection's next reply. A larger one gets a buffer of its own, charged to
// the call (released once the reply is written) before it is encoded, from
// pickle.SizeOf: a reply that does not fit in the memory budget is a
// MemoryError instead. A payload that cannot be pickled gives
// '#UNSERIALIZABLE' with the reason, as in CPython.
func (c *srvCall) encode(kind string, payload pickle.Value) srvReply {
	conn := c.conn
	// The (kind, payload) tuple lives in the connection, boxed once, so
	// that a reply allocates nothing but what its payload needs.
	conn.msg[0], conn.msg[1] = boxedKind(kind), payload
	defer func() { conn.msg[1] = nil }()
	msg := conn.msgV
	buf, err := pickle.AppendMarshalLimit(conn.enc[:0], msg, 4, smallReply)
	if err == nil {
		conn.enc = buf[:0]
		if cap(buf) > 2*smallReply {
			conn.enc = nil // an idle connection keeps little
		}
		return srvReply{data: buf, kind: kind}
	}
	if !errors.Is(err, pickle.ErrLimit) {
		return encodeReply(kind, payload) // '#UNSERIALIZABLE' with the reason
	}
	est := pickle.SizeOf(payload) + costReply
	if err := conn.mem.take(est); err != nil {
		conn.msg[1] = nil
		return c.encode(msgError, err.(*pyExc).value())
	}
	buf, err = pickle.AppendMarshalLimit(make([]byte, 0, est), msg, 4, int(est))
	if err != nil {
		// Not ErrLimit, which SizeOf rules out, unless its bound is
		// wrong: then too the reply is not sent at any size.
		conn.mem.give(est)
		return encodeReply(msgUnserializable, formatTraceback("send", asExc(err)))
	}
	conn.mem.give(est - int64(cap(buf)))
	return srvReply{data: buf, kind: kind}
}

// boxedKind returns kind as a pickle.Value without an allocation for the
// kinds of replies (constants box statically).
func boxedKind(kind string) pickle.Value {
	switch kind {
	case msgReturn:
		return msgReturn
	case msgError:
		return msgError
	case msgProxy:
		return msgProxy
	case msgTraceback:
		return msgTraceback
	case msgUnserializable:
		return msgUnserializable
	}
	return kind
}

// tokenValue pickles a Token whose address is already a pickle value.
func tokenValue(t Token, addr pickle.Value) pickle.Value {
	return &pickle.Object{
		Callable: globalToken,
		Args:     pickle.Tuple{},
		New:      true,
		State:    pickle.Tuple{t.TypeID, addr, t.ID},
		HasState: true,
	}
}

// fallback answers a method that is not exposed (or that the object lacks):
// __str__ and __repr__ give the repr, #GETVALUE the object itself, anything
// else a '#TRACEBACK' AttributeError.
func (s *Server) fallback(c *srvCall, e *srvEntry, req srvRequest) srvReply {
	switch req.method {
	case "__str__", "__repr__":
		r, err := c.repr(e.obj)
		if err != nil {
			return c.encode(msgError, err.value())
		}
		return c.encode(msgReturn, r)
	case "#GETVALUE":
		v, err := e.obj.getvalue()
		if err != nil {
			return encodeReply(msgUnserializable, formatTraceback("send", asExc(err)))
		}
		return c.encode(msgReturn, v)
	}
	names := make([]string, len(e.typ.exposed))
	for i, n := range e.typ.exposed {
		names[i] = pickle.Repr(n)
	}
	exc := excf(excAttributeError, "method %s of <class '%s'> object is not in exposed={%s}",
		pickle.Repr(req.method), e.typ.pyClass, strings.Join(names, ", "))
	return encodeReply(msgTraceback, formatTraceback("serve_client", exc))
}

// srvLongRepr is implemented by objects whose repr has no bound of its own
// (containers): the fallback's repr is then the whole of it, as in CPython,
// if it fits in the memory budget.
type srvLongRepr interface {
	// reprLimit returns repr(obj) and true if it is at most limit bytes
	// long, else false (and builds no more than about 2*limit bytes).
	reprLimit(limit int) (string, bool)
}

// repr is the whole repr of obj, charged to the call, or MemoryError when
// it does not fit in what the budget has left. It is built within a limit
// that starts at 1 MiB and grows fourfold while the repr is longer, each
// try charged twice its limit (what building takes at most).
func (c *srvCall) repr(obj srvObj) (string, *pyExc) {
	lr, ok := obj.(srvLongRepr)
	if !ok {
		return obj.repr(), nil
	}
	mem := c.mem()
	for limit := int64(1 << 20); ; limit *= 4 {
		last := false
		if avail := mem.b.available() / 2; limit >= avail {
			limit, last = avail, true
		}
		if err := mem.take(2 * limit); err != nil {
			return "", err.(*pyExc)
		}
		r, ok := lr.reprLimit(int(min(limit, math.MaxInt)))
		if ok {
			mem.give(2*limit - int64(len(r)))
			return r, nil
		}
		mem.give(2 * limit)
		if last {
			return "", excf(excMemoryError, "procshare: a repr of more than %d bytes would pass the server's memory budget of %d bytes (--max-memory)", limit, mem.b.limit)
		}
	}
}

// serverMethod runs a request of a management connection (CPython's
// Server.public methods plus ps_interrupt and ps_info). Every error is a
// '#TRACEBACK'.
func (s *Server) serverMethod(c *srvConn, req srvRequest) (reply srvReply) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("manager: panic in server method", "method", req.method, "panic", r)
			reply = encodeReply(msgTraceback, formatTraceback(req.method,
				excf(excRuntimeError, "procshare: internal error: %v", r)))
		}
	}()
	if s.cfg.Observer != nil {
		start := time.Now()
		defer func() { s.observeCall("", serverMethodName(req.method), reply, start) }()
	}
	v, err := s.runServerMethod(c, req)
	if err != nil {
		return encodeReply(msgTraceback, formatTraceback(req.method, asExc(err)))
	}
	return returnReply(v)
}

// serverMethodFunc is one server method of a management connection.
type serverMethodFunc func(s *Server, c *srvConn, req srvRequest) (pickle.Value, error)

// serverMethods are the management connection's methods: CPython's
// Server.public (accept_connection is answered by the connection itself,
// as the first request only) and procshare's ps_interrupt and ps_info.
var serverMethods map[string]serverMethodFunc

func init() {
	serverMethods = map[string]serverMethodFunc{
		"dummy": func(s *Server, c *srvConn, req srvRequest) (pickle.Value, error) {
			return nil, noArgs("dummy", req.args, req.kw)
		},
		"create": func(s *Server, c *srvConn, req srvRequest) (pickle.Value, error) {
			return s.create(&c.mem, req.args, req.kw)
		},
		"incref": func(s *Server, c *srvConn, req srvRequest) (pickle.Value, error) {
			id, err := identArg(req)
			if err != nil {
				return nil, err
			}
			return nil, s.table.incref(id)
		},
		"decref": func(s *Server, c *srvConn, req srvRequest) (pickle.Value, error) {
			id, err := identArg(req)
			if err != nil {
				return nil, err
			}
			return nil, s.table.decref(id)
		},
		"get_methods": func(s *Server, c *srvConn, req srvRequest) (pickle.Value, error) {
			v, err := serverArg(req, "token")
			if err != nil {
				return nil, err
			}
			tok, err := tokenFromValue(v)
			if err != nil {
				return nil, excf(excAttributeError, "'%s' object has no attribute 'id'", typeName(v))
			}
			e := s.table.get(tok.ID)
			if e == nil {
				return nil, keyError(tok.ID)
			}
			return e.typ.exposedTuple(), nil
		},
		"debug_info": func(s *Server, c *srvConn, req srvRequest) (pickle.Value, error) {
			if err := noArgs("debug_info", req.args, req.kw); err != nil {
				return nil, err
			}
			return s.debugInfo(), nil
		},
		"number_of_objects": func(s *Server, c *srvConn, req srvRequest) (pickle.Value, error) {
			if err := noArgs("number_of_objects", req.args, req.kw); err != nil {
				return nil, err
			}
			return int64(len(s.table.counted())), nil
		},
		"shutdown": func(s *Server, c *srvConn, req srvRequest) (pickle.Value, error) {
			return nil, noArgs("shutdown", req.args, req.kw)
		},
		"ps_interrupt": func(s *Server, c *srvConn, req srvRequest) (pickle.Value, error) {
			var out [2]pickle.Value
			p := srvParams{fn: "ps_interrupt", names: []string{"conn_id", "seq"}, nreq: 1}
			if err := p.bind(req.args, req.kw, out[:]); err != nil {
				return nil, err
			}
			id, ok := out[0].(string)
			if !ok {
				return nil, typeErrorf("ps_interrupt() conn_id must be a str, not %s", typeName(out[0]))
			}
			var seq int64
			if out[1] != nil {
				var err error
				if seq, err = pyIndex(out[1]); err != nil {
					return nil, err
				}
				if seq < 0 {
					return nil, valueErrorf("ps_interrupt() seq must be >= 0")
				}
			}
			return s.interruptConn(id, uint64(seq))
		},
		"ps_info": func(s *Server, c *srvConn, req srvRequest) (pickle.Value, error) {
			if err := noArgs("ps_info", req.args, req.kw); err != nil {
				return nil, err
			}
			return s.info(), nil
		},
	}
}

// serverMethodName is method as ServerObserver reports it: a server
// method's name, or "(unknown)".
func serverMethodName(method string) string {
	if serverMethods[method] == nil {
		return "(unknown)"
	}
	return method
}

func (s *Server) runServerMethod(c *srvConn, req srvRequest) (pickle.Value, error) {
	if f := serverMethods[req.method]; f != nil {
		return f(s, c, req)
	}
	return nil, newExc(excAssertionError, pickle.Repr(req.method)+" unrecognized")
}

// serverArg binds the one required argument name of a server method.
func serverArg(req srvRequest, name string) (pickle.Value, error) {
	var out [1]pickle.Value
	p := srvParams{fn: req.method, names: []string{name}, nreq: 1}
	if err := p.bind(req.args, req.kw, out[:]); err != nil {
		return nil, err
	}
	return out[0], nil
}

// identArg binds the object id argument of incref and decref.
func identArg(req srvRequest) (string, error) {
	v, err := serverArg(req, "ident")
	if err != nil {
		return "", err
	}
	id, ok := v.(string)
	if !ok {
		return "", keyError(v)
	}
	return id, nil
}

// create implements create(typeid, *args, **kwds); the constructor charges
// what it expands to m.
func (s *Server) create(m *memScope, args pickle.Tuple, kw *pickle.Dict) (pickle.Value, error) {
	if len(args) == 0 {
		return nil, typeErrorf("Server.create() missing 1 required positional argument: 'typeid'")
	}
	typeid, ok := args[0].(string)
	if !ok {
		return nil, keyError(args[0])
	}
	if e := s.named[typeid]; e != nil {
		if len(args) > 1 || (kw != nil && kw.Len() > 0) {
			return nil, typeErrorf("%s() takes 0 positional arguments but %d were given", typeid, len(args)-1)
		}
		if err := s.table.incref(e.id); err != nil {
			return nil, err
		}
		return pickle.Tuple{e.id, e.typ.exposedTuple()}, nil
	}
	typ := srvTypes[typeid]
	if typ == nil {
		return nil, keyError(typeid)
	}
	if typ.create == nil {
		return nil, typ.refuse
	}
	if pins := s.foreign.pin(args[1:], kw); pins != nil {
		defer s.foreign.unpin(pins)
	}
	obj, err := typ.create(s, m, args[1:], kw)
	if err != nil {
		return nil, err
	}
	e := s.table.add(typeid, typ, obj, false)
	return pickle.Tuple{e.id, typ.exposedTuple()}, nil
}

// debugInfo is CPython's debug_info text.
func (s *Server) debugInfo() string {
	es := s.table.counted()
	lines := make([]string, 0, len(es))
	s.table.mu.Lock()
	refs := make([]int, len(es))
	for i, e := range es {
		refs[i] = e.refcount
	}
	s.table.mu.Unlock()
	for i, e := range es {
		lines = append(lines, fmt.Sprintf("  %s:       refcount=%d\n    %s", e.id, refs[i], truncRunes(e.obj.repr(), 75)))
	}
	return strings.Join(lines, "\n")
}

// info implements ps_info: one dict per object (also those held only by
// nested proxies), sorted by id.
func (s *Server) info() pickle.Value {
	es, refs, holds := s.table.all()
	out := &pickle.List{Items: make([]pickle.Value, 0, len(es))}
	for i, e := range es {
		d := pickle.NewDict()
		d.Set("id", e.id)
		d.Set("typeid", e.typeid)
		d.Set("refcount", int64(refs[i]))
		d.Set("held", int64(holds[i]))
		d.Set("repr", truncRunes(e.obj.repr(), 200))
		out.Items = append(out.Items, d)
	}
	return out
}

func truncRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// srvType is one typeid of the registry.
type srvType struct {
	name    string
	pyClass string   // the Python class, for messages: "list", "queue.Queue"
	exposed []string // the exposed list create returns, in order
	set     map[string]bool
	tuple   pickle.Tuple
	create  func(s *Server, m *memScope, args pickle.Tuple, kw *pickle.Dict) (srvObj, error)
	refuse  error // why create is refused when create is nil
}

func (t *srvType) isExposed(m string) bool { return t.set[m] }

func (t *srvType) exposedTuple() pickle.Tuple { return t.tuple }

// srvTypes is the registry: SyncManager's typeids.
var srvTypes = map[string]*srvType{}

func registerType(t *srvType) {
	t.set = make(map[string]bool, len(t.exposed))
	t.tuple = make(pickle.Tuple, len(t.exposed))
	for i, n := range t.exposed {
		t.set[n] = true
		t.tuple[i] = n
	}
	srvTypes[t.name] = t
}
