package manager

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/procshare/procshare/pickle"
)

// Address is where a manager listens: a TCP host:port or a Unix socket path.
// The zero value is not a valid address.
type Address struct {
	Network string // "tcp" or "unix"
	Addr    string // "127.0.0.1:50000", or a socket path
}

// ParseAddress reads "host:port" as TCP and anything containing a '/' (or not
// of the form host:port) as a Unix socket path, the same rule the procshare
// command uses for --address.
func ParseAddress(s string) (Address, error) {
	if s == "" {
		return Address{}, fmt.Errorf("manager: empty address")
	}
	if !strings.Contains(s, "/") {
		if _, port, err := net.SplitHostPort(s); err == nil {
			if _, err := strconv.ParseUint(port, 10, 16); err != nil {
				return Address{}, fmt.Errorf("manager: bad port in address %q", s)
			}
			return Address{Network: "tcp", Addr: s}, nil
		}
	}
	return Address{Network: "unix", Addr: s}, nil
}

// String returns the address in the form ParseAddress reads.
func (a Address) String() string { return a.Addr }

// pickleValue returns the address as CPython represents it: a (host, port)
// tuple for TCP, a str path for Unix sockets.
func (a Address) pickleValue() pickle.Value {
	if a.Network == "tcp" {
		host, port, err := net.SplitHostPort(a.Addr)
		if err == nil {
			if p, err := strconv.ParseInt(port, 10, 64); err == nil {
				return pickle.Tuple{host, p}
			}
		}
	}
	return a.Addr
}

// addressFromValue is the inverse of pickleValue.
func addressFromValue(v pickle.Value) (Address, error) {
	switch a := v.(type) {
	case string:
		return Address{Network: "unix", Addr: a}, nil
	case []byte:
		return Address{Network: "unix", Addr: string(a)}, nil
	case pickle.Tuple:
		if len(a) == 2 {
			host, ok1 := a[0].(string)
			port, ok2 := a[1].(int64)
			if ok1 && ok2 {
				return Address{Network: "tcp", Addr: net.JoinHostPort(host, strconv.FormatInt(port, 10))}, nil
			}
		}
	}
	return Address{}, fmt.Errorf("manager: address %s is neither (host, port) nor a path", pickle.Repr(v))
}

// Token identifies one shared object of a manager, like CPython's
// multiprocessing.managers.Token: the typeid it was created as, the manager's
// address, and the object's id (an opaque string).
type Token struct {
	TypeID  string
	Address Address
	ID      string
}

var (
	globalToken        = pickle.Global{Module: "multiprocessing.managers", Name: "Token"}
	globalRebuildProxy = pickle.Global{Module: "multiprocessing.managers", Name: "RebuildProxy"}
	globalAutoProxy    = pickle.Global{Module: "multiprocessing.managers", Name: "AutoProxy"}
)

// pickleValue encodes t as CPython does: NEWOBJ(Token) then BUILD with the
// (typeid, address, id) state tuple.
func (t Token) pickleValue() pickle.Value {
	return &pickle.Object{
		Callable: globalToken,
		Args:     pickle.Tuple{},
		New:      true,
		State:    pickle.Tuple{t.TypeID, t.Address.pickleValue(), t.ID},
		HasState: true,
	}
}

// tokenFromValue decodes a pickled Token.
func tokenFromValue(v pickle.Value) (Token, error) {
	o, ok := v.(*pickle.Object)
	if !ok || o.Callable != globalToken || !o.HasState {
		return Token{}, fmt.Errorf("manager: %s is not a Token", pickle.Repr(v))
	}
	st, ok := o.State.(pickle.Tuple)
	if !ok || len(st) != 3 {
		return Token{}, fmt.Errorf("manager: Token state %s is not (typeid, address, id)", pickle.Repr(o.State))
	}
	typeid, ok1 := st[0].(string)
	id, ok2 := st[2].(string)
	if !ok1 || !ok2 {
		return Token{}, fmt.Errorf("manager: Token state %s is not (typeid, address, id)", pickle.Repr(o.State))
	}
	addr, err := addressFromValue(st[1])
	if err != nil {
		return Token{}, err
	}
	return Token{TypeID: typeid, Address: addr, ID: id}, nil
}

// proxyClasses maps each SyncManager typeid to the CPython proxy class that a
// nested proxy of it is rebuilt with (module multiprocessing.managers). A
// typeid not listed uses the AutoProxy function with an 'exposed' keyword.
var proxyClasses = map[string]string{
	"list":             "ListProxy",
	"dict":             "DictProxy",
	"Namespace":        "NamespaceProxy",
	"Value":            "ValueProxy",
	"Array":            "ArrayProxy",
	"Lock":             "AcquirerProxy",
	"RLock":            "AcquirerProxy",
	"Semaphore":        "AcquirerProxy",
	"BoundedSemaphore": "AcquirerProxy",
	"Condition":        "ConditionProxy",
	"Event":            "EventProxy",
	"Barrier":          "BarrierProxy",
	"Iterator":         "IteratorProxy",
	"Pool":             "PoolProxy",
}

// rebuildProxyValue returns the value CPython pickles for a proxy that is
// part of another value: RebuildProxy(func, token, 'pickle', kwds). exposed is
// used only for typeids proxied by AutoProxy.
func rebuildProxyValue(t Token, exposed []string) pickle.Value {
	kwds := pickle.NewDict()
	fn := globalAutoProxy
	if cls, ok := proxyClasses[t.TypeID]; ok {
		fn = pickle.Global{Module: "multiprocessing.managers", Name: cls}
	} else {
		names := make(pickle.Tuple, len(exposed))
		for i, n := range exposed {
			names[i] = n
		}
		kwds.Set("exposed", names) // a str key is always hashable
	}
	return &pickle.Object{
		Callable: globalRebuildProxy,
		Args:     pickle.Tuple{fn, t.pickleValue(), "pickle", kwds},
	}
}

// tokenFromProxyValue reports whether v is a pickled proxy
// (RebuildProxy(func, token, serializer, kwds)) and returns its token.
func tokenFromProxyValue(v pickle.Value) (Token, bool) {
	o, ok := v.(*pickle.Object)
	if !ok || o.New || o.Callable != globalRebuildProxy || len(o.Args) < 2 {
		return Token{}, false
	}
	t, err := tokenFromValue(o.Args[1])
	return t, err == nil
}
