package manager

import (
	"crypto/rand"
	"encoding/binary"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/procshare/procshare/pickle"
)

// srvObj is a shared object living in the server. Implementations guard
// their own state with their own mutex, so calls on different objects never
// contend.
type srvObj interface {
	// call runs one exposed method. It returns the result, or a *pyExc
	// (sent as '#ERROR'), errNoMethod (the object has no such method:
	// the fallbacks apply), or another error (sent as '#TRACEBACK'). A
	// *srvNewProxy result is registered as a new object and answered with
	// '#PROXY'.
	call(c *srvCall, method string, args pickle.Tuple, kw *pickle.Dict) (pickle.Value, error)
	// repr is Python's repr(obj) (str(obj) is the same for every type).
	repr() string
	// getvalue is what '#GETVALUE' returns: the object as a picklable
	// value, or an error text for objects CPython cannot pickle.
	getvalue() (pickle.Value, error)
}

// srvContainer is implemented by objects that store client values, which
// may contain proxies to other objects of the server.
type srvContainer interface {
	// values calls fn with every stored value (used when the object is
	// freed, to release the objects its values reference).
	values(fn func(pickle.Value))
}

// srvSession identifies an owner of locks: one object connection of the
// front (a CPython client's thread, or one of a Go client's connections).
// Objects key ownership (RLock, a Condition's lock, and the holders of
// Lock and Semaphore acquisitions for ServerConfig.ReleaseOnDisconnect) by
// it and never see the connection itself. It is a comparable value; the
// zero srvSession is no owner.
type srvSession struct {
	id   string // unique in the server's life: the connection's label ("c12")
	name string // the client's process|thread name, for reprs
}

// srvSessionState is implemented by objects that keep state per session
// (lock ownership); sessionEnded is called when such a session ends (its
// connection closed), with ServerConfig.ReleaseOnDisconnect as releaseAll.
type srvSessionState interface {
	sessionEnded(s srvSession, releaseAll bool)
}

// srvNewProxy is returned by a method listed in a type's method_to_typeid
// map (dict.__iter__): the server registers obj under typeid and replies
// '#PROXY'.
type srvNewProxy struct {
	typeid string
	obj    srvObj
}

// srvEntry is one id of the object table.
type srvEntry struct {
	id     string
	typeid string   // the typeid it was created as ("list", or an exposed name)
	typ    *srvType // its kind
	obj    srvObj

	// Guarded by srvTable.mu.
	refcount int  // client references (create, incref, decref)
	holds    int  // references from values stored in other objects
	named    bool // an exposed named object: never freed
	freed    bool

	dead atomic.Bool // set when freed; lets lock-free lookups see it
}

// srvTable maps ids to objects and counts references, like CPython's
// id_to_obj, id_to_refcount and id_to_local_proxy_obj together.
type srvTable struct {
	s    *Server
	objs sync.Map // id string -> *srvEntry; read without locks on every call

	mu      sync.Mutex
	nextID  uint64
	entries map[string]*srvEntry // the same set, for listing under mu
}

// lingerDelay is how long an object nobody references any more stays
// alive: a value just taken out of a container (a proxy popped from a list,
// got from a queue) is on its way to a client that will incref it.
var lingerDelay = 30 * time.Second

func (t *srvTable) init(s *Server) {
	t.s = s
	t.entries = make(map[string]*srvEntry)
	var b [8]byte
	rand.Read(b[:])
	// CPython's ids are addresses such as 7f3a5c0d1e40; ours look alike,
	// start at a random point and never repeat within a server.
	t.nextID = 0x7f0000000000 | (binary.LittleEndian.Uint64(b[:]) & 0xffffffff0)
}

// add registers obj under a new id with refcount 1.
// len returns the number of objects.
func (t *srvTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}

func (t *srvTable) add(typeid string, typ *srvType, obj srvObj, named bool) *srvEntry {
	t.mu.Lock()
	t.nextID += 0x10
	e := &srvEntry{id: strconv.FormatUint(t.nextID, 16), typeid: typeid, typ: typ, obj: obj, refcount: 1, named: named}
	if named {
		e.refcount = 0
	}
	t.entries[e.id] = e
	t.objs.Store(e.id, e)
	t.mu.Unlock()
	return e
}

// get returns the live entry for id, or nil. Objects held only by nested
// proxies (refcount 0) are live too.
func (t *srvTable) get(id string) *srvEntry {
	v, ok := t.objs.Load(id)
	if !ok {
		return nil
	}
	e := v.(*srvEntry)
	if e.dead.Load() {
		return nil
	}
	return e
}

// incref adds a client reference; an object held only internally (or
// lingering) is revived.
func (t *srvTable) incref(id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[id]
	if e == nil {
		return keyError(id)
	}
	e.refcount++
	return nil
}

// decref drops a client reference and frees the object at zero. A decref of
// an object that has no client references but is held internally is
// ignored, as CPython does.
func (t *srvTable) decref(id string) error {
	t.mu.Lock()
	e := t.entries[id]
	if e == nil {
		t.mu.Unlock()
		return keyError(id)
	}
	if e.refcount <= 0 {
		t.mu.Unlock()
		if e.holds > 0 || e.named {
			return nil
		}
		return newExc(excAssertionError, "Id "+id+" has refcount 0, not 1+")
	}
	e.refcount--
	free := e.refcount == 0 && e.holds == 0 && !e.named
	if free {
		t.removeLocked(e)
	}
	t.mu.Unlock()
	if free {
		t.dispose(e)
	}
	return nil
}

// removeLocked takes e out of the table; t.mu is held.
func (t *srvTable) removeLocked(e *srvEntry) {
	e.freed = true
	e.dead.Store(true)
	delete(t.entries, e.id)
	t.objs.Delete(e.id)
}

// dispose releases what a freed object held: its stored values' references
// to other objects, its waiters (woken by the object itself if it
// implements io.Closer-like cleanup) and its share of the memory budget.
// t.mu is not held.
func (t *srvTable) dispose(e *srvEntry) {
	if c, ok := e.obj.(srvContainer); ok {
		c.values(func(v pickle.Value) { t.releaseValue(v, false) })
	}
	if d, ok := e.obj.(interface{ dispose() }); ok {
		d.dispose()
	}
	if m, ok := e.obj.(srvSized); ok {
		m.releaseMemory()
	}
}

// hold records that value v (being stored in an object) references the
// objects named by the proxies it contains: objects of this server are
// held in the table, objects of other managers through foreignRefs (which
// never blocks: object locks may be held).
func (t *srvTable) hold(v pickle.Value) {
	if !mayContainProxy(v) {
		return
	}
	walkProxies(v, func(tok Token) {
		if !t.s.isLocal(tok.Address) {
			t.s.foreign.hold(tok)
			return
		}
		t.mu.Lock()
		if e := t.entries[tok.ID]; e != nil {
			e.holds++
		}
		t.mu.Unlock()
	})
}

// holdAll is hold for each value.
func (t *srvTable) holdAll(vs []pickle.Value) {
	for _, v := range vs {
		t.hold(v)
	}
}

// release is the inverse of hold, for a value removed from an object. An
// object left with no references at all lingers for lingerDelay before it
// is freed, since the value is usually on its way to a client that will
// incref it; so does the reference taken on another manager for a foreign
// proxy.
func (t *srvTable) release(v pickle.Value) { t.releaseValue(v, true) }

// releaseValue is release; with foreignLinger unset, a reference on another
// manager that no copy uses any more is given back at once (the value was
// in an object that is being freed: it is on its way nowhere).
func (t *srvTable) releaseValue(v pickle.Value, foreignLinger bool) {
	if !mayContainProxy(v) {
		return
	}
	walkProxies(v, func(tok Token) {
		if !t.s.isLocal(tok.Address) {
			t.s.foreign.release(tok, foreignLinger)
			return
		}
		t.mu.Lock()
		e := t.entries[tok.ID]
		if e != nil && e.holds > 0 {
			e.holds--
			if e.holds == 0 && e.refcount == 0 && !e.named {
				t.linger(e)
			}
		}
		t.mu.Unlock()
	})
}

// releaseAll is release for each value.
func (t *srvTable) releaseAll(vs []pickle.Value) {
	for _, v := range vs {
		t.release(v)
	}
}

// linger frees e after lingerDelay unless it gained a reference meanwhile;
// t.mu is held.
func (t *srvTable) linger(e *srvEntry) {
	time.AfterFunc(lingerDelay, func() {
		defer func() {
			if r := recover(); r != nil {
				t.s.log.Error("manager: panic freeing an object", "panic", r)
			}
		}()
		t.mu.Lock()
		free := !e.freed && e.refcount == 0 && e.holds == 0 && !e.named
		if free {
			t.removeLocked(e)
		}
		t.mu.Unlock()
		if free {
			t.dispose(e)
		}
	})
}

// counted returns the entries with client references, sorted by id: what
// number_of_objects counts and debug_info lists.
func (t *srvTable) counted() []*srvEntry {
	t.mu.Lock()
	out := make([]*srvEntry, 0, len(t.entries))
	for _, e := range t.entries {
		if e.refcount > 0 {
			out = append(out, e)
		}
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// all returns every entry (also those held only internally), sorted by id,
// with their reference counts read under the lock.
func (t *srvTable) all() (es []*srvEntry, refs, holds []int) {
	t.mu.Lock()
	es = make([]*srvEntry, 0, len(t.entries))
	for _, e := range t.entries {
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool { return es[i].id < es[j].id })
	refs = make([]int, len(es))
	holds = make([]int, len(es))
	for i, e := range es {
		refs[i], holds[i] = e.refcount, e.holds
	}
	t.mu.Unlock()
	return es, refs, holds
}

// mayContainProxy is a cheap filter: scalars never contain proxies.
func mayContainProxy(v pickle.Value) bool {
	switch v.(type) {
	case nil, bool, int64, float64, string, []byte, complex128, *pickle.ByteArray:
		return false
	}
	return true
}

// walkProxies calls fn with the token of every RebuildProxy value inside
// v, visiting each container once (values decoded from a pickle may share
// or even contain themselves).
func walkProxies(v pickle.Value, fn func(Token)) {
	var seen map[any]bool
	var walk func(v pickle.Value, depth int)
	visit := func(p any) bool {
		if seen == nil {
			seen = make(map[any]bool)
		}
		if seen[p] {
			return false
		}
		seen[p] = true
		return true
	}
	walk = func(v pickle.Value, depth int) {
		if depth > 1000 {
			return
		}
		switch x := v.(type) {
		case pickle.Tuple:
			for _, it := range x {
				if mayContainProxy(it) {
					walk(it, depth+1)
				}
			}
		case *pickle.List:
			if !visit(x) {
				return
			}
			for _, it := range x.Items {
				if mayContainProxy(it) {
					walk(it, depth+1)
				}
			}
		case *pickle.Dict:
			if !visit(x) {
				return
			}
			for k, it := range x.All() {
				if mayContainProxy(k) {
					walk(k, depth+1)
				}
				if mayContainProxy(it) {
					walk(it, depth+1)
				}
			}
		case *pickle.Set:
			for _, it := range x.Items() {
				walk(it, depth+1)
			}
		case *pickle.FrozenSet:
			for _, it := range x.Items() {
				walk(it, depth+1)
			}
		case *pickle.Object:
			if tok, ok := tokenFromProxyValue(x); ok {
				fn(tok)
				return
			}
			if !visit(x) {
				return
			}
			walk(x.Args, depth+1)
			if x.HasState {
				walk(x.State, depth+1)
			}
			for _, it := range x.ListItems {
				walk(it, depth+1)
			}
			for _, it := range x.DictItems {
				walk(it.Key, depth+1)
				walk(it.Value, depth+1)
			}
			if x.Kwargs != nil {
				walk(x.Kwargs, depth+1)
			}
		}
	}
	walk(v, 0)
}
