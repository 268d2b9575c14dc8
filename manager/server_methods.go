package manager

import (
	"errors"
	"fmt"
	"strings"
	"sync"
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
	data     []byte
	isReturn bool
	hangUp   bool // send nothing and close: the client or the server is going away
	silent   bool // send nothing (ps_ack)
}

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
		return srvReply{data: data}
	}
	return srvReply{data: data, isReturn: kind == msgReturn}
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

// parseRequest decodes one request frame.
func parseRequest(frame []byte) (srvRequest, *pyExc) {
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
		items, err := iterValues(a)
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
func (s *Server) objectCall(c *srvCall, req srvRequest) srvReply {
	e := s.table.get(req.ident)
	if e == nil {
		return encodeReply(msgTraceback, formatTraceback("serve_client", keyError(req.ident)))
	}
	if !e.typ.isExposed(req.method) {
		return s.fallback(e, req)
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
			return s.fallback(e, req)
		}
		if err == errConnGone {
			return srvReply{hangUp: true}
		}
		var exc *pyExc
		if errors.As(err, &exc) {
			return encodeReply(msgError, exc.value())
		}
		return encodeReply(msgError, asExc(err).value())
	}
	if np, ok := res.(*srvNewProxy); ok {
		typ := srvTypes[np.typeid]
		ne := s.table.add(np.typeid, typ, np.obj, false)
		tok := Token{TypeID: np.typeid, ID: ne.id}
		return encodeReply(msgProxy, pickle.Tuple{typ.exposedTuple(), tokenValue(tok, c.conn.addrVal)})
	}
	return c.returnReply(res)
}

// returnReply is returnReply encoding into the connection's reusable
// buffer: the reply is valid until the connection's next reply.
func (c *srvCall) returnReply(v pickle.Value) srvReply {
	switch v {
	case nil, true, false:
		return returnReply(v)
	}
	conn := c.conn
	if cap(conn.enc) > 1<<20 {
		conn.enc = nil
	}
	buf, err := pickle.AppendMarshal(conn.enc[:0], pickle.Tuple{msgReturn, v}, 4)
	if err != nil {
		return encodeReply(msgReturn, v) // '#UNSERIALIZABLE' with the reason
	}
	conn.enc = buf
	return srvReply{data: buf, isReturn: true}
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
func (s *Server) fallback(e *srvEntry, req srvRequest) srvReply {
	switch req.method {
	case "__str__", "__repr__":
		return encodeReply(msgReturn, e.obj.repr())
	case "#GETVALUE":
		v, err := e.obj.getvalue()
		if err != nil {
			return encodeReply(msgUnserializable, formatTraceback("send", asExc(err)))
		}
		return encodeReply(msgReturn, v)
	}
	names := make([]string, len(e.typ.exposed))
	for i, n := range e.typ.exposed {
		names[i] = pickle.Repr(n)
	}
	exc := excf(excAttributeError, "method %s of <class '%s'> object is not in exposed={%s}",
		pickle.Repr(req.method), e.typ.pyClass, strings.Join(names, ", "))
	return encodeReply(msgTraceback, formatTraceback("serve_client", exc))
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
	v, err := s.runServerMethod(c, req)
	if err != nil {
		return encodeReply(msgTraceback, formatTraceback(req.method, asExc(err)))
	}
	return returnReply(v)
}

func (s *Server) runServerMethod(c *srvConn, req srvRequest) (pickle.Value, error) {
	one := func(name string) (pickle.Value, error) {
		var out [1]pickle.Value
		p := srvParams{fn: req.method, names: []string{name}, nreq: 1}
		if err := p.bind(req.args, req.kw, out[:]); err != nil {
			return nil, err
		}
		return out[0], nil
	}
	switch req.method {
	case "dummy":
		return nil, noArgs("dummy", req.args, req.kw)
	case "create":
		return s.create(req.args, req.kw)
	case "incref", "decref":
		v, err := one("ident")
		if err != nil {
			return nil, err
		}
		id, ok := v.(string)
		if !ok {
			return nil, keyError(v)
		}
		if req.method == "incref" {
			return nil, s.table.incref(id)
		}
		return nil, s.table.decref(id)
	case "get_methods":
		v, err := one("token")
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
	case "debug_info":
		if err := noArgs("debug_info", req.args, req.kw); err != nil {
			return nil, err
		}
		return s.debugInfo(), nil
	case "number_of_objects":
		if err := noArgs("number_of_objects", req.args, req.kw); err != nil {
			return nil, err
		}
		return int64(len(s.table.counted())), nil
	case "shutdown":
		return nil, noArgs("shutdown", req.args, req.kw)
	case "ps_interrupt":
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
	case "ps_info":
		if err := noArgs("ps_info", req.args, req.kw); err != nil {
			return nil, err
		}
		return s.info(), nil
	case "accept_connection":
		// Only valid as the first request, handled by the connection.
	}
	return nil, newExc(excAssertionError, pickle.Repr(req.method)+" unrecognized")
}

// create implements create(typeid, *args, **kwds).
func (s *Server) create(args pickle.Tuple, kw *pickle.Dict) (pickle.Value, error) {
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
	obj, err := typ.create(s, args[1:], kw)
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
	create  func(s *Server, args pickle.Tuple, kw *pickle.Dict) (srvObj, error)
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
