"""procshare's extensions for CPython's multiprocessing managers.

A single stdlib-only module for CPython 3.8-3.13: copy it next to your
program. It gives Python callers the ps_* methods of a procshare manager
server (``procshare serve``, or a Go program's manager.Server), each one
atomic and one round trip, as methods of the stock proxies::

    import procshare_ext
    procshare_ext.install()

    from multiprocessing.managers import SyncManager
    m = SyncManager(address=('127.0.0.1', 50000), authkey=key)
    m.connect()
    v = m.Value('i', 0)
    v.add(5)                      # 5: the new value (ps_add)
    d = m.dict()
    d.incr('hits')                # 1 (ps_incr)
    q = m.Queue()
    q.put_many([1, 2, 3])         # one round trip (ps_put_many)
    q.get_many(10)                # [1, 2, 3] (ps_get_many)

or, without install(), as functions of any proxy: ``procshare_ext.add(v, 5)``.

The methods (PROTOCOL.md section 15 has the exact semantics):

=================  ==========================================  ===============
proxy              method                                      extension
=================  ==========================================  ===============
Value              add(delta) -> new value                     ps_add
Value              cas(old, new) -> bool                       ps_cas
dict               incr(key, delta=1) -> new value             ps_incr
dict               setdefault_add(key, default, delta) -> new  ps_setdefault_add
list               pop_many(n, index=0) -> list                ps_pop_many
Queue              put_many(items, block=True, timeout=None)   ps_put_many
Queue              get_many(n, block=True, timeout=None)       ps_get_many
Queue              unget(item)                                 ps_unget
=================  ==========================================  ===============

server_info(manager) returns ps_info's list of objects (what
``procshare inspect`` prints). ps_interrupt is left out: it stops a call of
a connection whose secret id only the Go client learns. Fenced calls do not
exist yet.

Named objects of ``procshare serve --expose`` are AutoProxies, which lack
these names (they have the raw ps_* methods); register them with a proxy
type that has them::

    BaseManager.register('jobs', proxytype=procshare_ext.QueueProxy)
    BaseManager.register('counter', proxytype=procshare_ext.ValueProxy)

A CPython manager server has none of the extensions: each method raises
the server's error (a RemoteError or AttributeError naming the method).

Python behaviour that bites (not procshare's, but met with it):

* CPython's resource_tracker unlinks a named shared-memory segment that a
  Python process merely opened (SharedMemory(name=...)) when that process
  exits, so a segment a Go program created disappears under it. 3.13 adds
  SharedMemory(..., track=False); before 3.13 nothing turns it off.
  open_shared_memory(name) opens a segment untracked on every version.
* A proxy passed to a child process borrows the parent's reference until
  the child has its own: if the parent drops (del, or lets go out of scope)
  its last proxy of an object before the child has connected, the server
  frees the object and the child's calls fail with an error naming its
  id. Keep the proxy until the child is joined.
"""

import os
from multiprocessing import managers

__all__ = [
    'add', 'cas', 'incr', 'setdefault_add', 'pop_many', 'put_many',
    'get_many', 'unget', 'server_info', 'open_shared_memory',
    'ValueProxy', 'DictProxy', 'ListProxy', 'QueueProxy', 'install',
]


def add(proxy, delta):
    """ps_add: value += delta (Python +) at once; returns the new value."""
    return proxy._callmethod('ps_add', (delta,))


def cas(proxy, old, new):
    """ps_cas: sets the value to new if it == old; returns whether it did."""
    return proxy._callmethod('ps_cas', (old, new))


def incr(proxy, key, delta=1):
    """ps_incr: d[key] = d.get(key, 0) + delta; returns the new value."""
    return proxy._callmethod('ps_incr', (key, delta))


def setdefault_add(proxy, key, default, delta):
    """ps_setdefault_add: d[key] = d.get(key, default) + delta; returns it."""
    return proxy._callmethod('ps_setdefault_add', (key, default, delta))


def pop_many(proxy, n, index=0):
    """ps_pop_many: removes and returns up to n items from the front
    (index=0) or the back (index=-1, last item first)."""
    return proxy._callmethod('ps_pop_many', (n, index))


def put_many(proxy, items, block=True, timeout=None):
    """ps_put_many: puts every item at once, or none (queue.Full)."""
    return proxy._callmethod('ps_put_many', (list(items), block, timeout))


def get_many(proxy, n, block=True, timeout=None):
    """ps_get_many: returns a list of 1 to n items, oldest first; waits
    for the first as get does (queue.Empty when it gives up)."""
    return proxy._callmethod('ps_get_many', (n, block, timeout))


def unget(proxy, item):
    """ps_unget: puts item back at the front of the queue."""
    return proxy._callmethod('ps_unget', (item,))


def server_info(manager):
    """ps_info: a list of dicts (id, typeid, refcount, held, repr), one per
    object of the connected manager's server."""
    conn = manager._Client(manager._address, authkey=manager._authkey)
    try:
        return managers.dispatch(conn, None, 'ps_info')
    finally:
        conn.close()


def open_shared_memory(name):
    """Opens the named shared-memory segment name (one a Go program made
    with shm.Create, say) without registering it with the resource
    tracker, which would unlink it when this process exits. Close it with
    close(); unlink() removes it for everyone."""
    from multiprocessing import shared_memory
    try:
        return shared_memory.SharedMemory(name=name, track=False)  # 3.13+
    except TypeError:
        pass
    shm = shared_memory.SharedMemory(name=name)
    if os.name == 'posix':
        from multiprocessing import resource_tracker
        resource_tracker.unregister(shm._name, 'shared_memory')
    return shm


class ValueProxy(managers.ValueProxy):
    """The stock ValueProxy with add and cas."""
    add = add
    cas = cas


class DictProxy(managers.DictProxy):
    """The stock DictProxy with incr and setdefault_add."""
    incr = incr
    setdefault_add = setdefault_add


class ListProxy(managers.ListProxy):
    """The stock ListProxy with pop_many."""
    pop_many = pop_many


class QueueProxy(managers.BaseProxy):
    """A proxy of a Queue or JoinableQueue with queue.Queue's methods and
    put_many, get_many and unget. (SyncManager's own Queue proxy is an
    AutoProxy, a class made per server reply.)"""

    def put(self, item, block=True, timeout=None):
        return self._callmethod('put', (item, block, timeout))

    def get(self, block=True, timeout=None):
        return self._callmethod('get', (block, timeout))

    def put_nowait(self, item):
        return self._callmethod('put_nowait', (item,))

    def get_nowait(self):
        return self._callmethod('get_nowait')

    def qsize(self):
        return self._callmethod('qsize')

    def empty(self):
        return self._callmethod('empty')

    def full(self):
        return self._callmethod('full')

    def task_done(self):
        return self._callmethod('task_done')

    def join(self):
        return self._callmethod('join')

    def shutdown(self, immediate=False):
        """queue.Queue.shutdown (CPython 3.13's; procshare's server has it
        for every client)."""
        return self._callmethod('shutdown', (immediate,))

    put_many = put_many
    get_many = get_many
    unget = unget


_installed = False


def install():
    """Adds the methods to the stock proxy classes of
    multiprocessing.managers (ValueProxy: add, cas; DictProxy: incr,
    setdefault_add; ListProxy: pop_many) and makes SyncManager's Queue and
    JoinableQueue return QueueProxy. Call it before connecting, and in
    child processes that are spawned rather than forked (they import the
    stock classes afresh); calling it again does nothing. What a CPython
    server exposes does not change."""
    global _installed
    if _installed:
        return
    for cls in (ValueProxy, DictProxy, ListProxy):
        stock = cls.__bases__[0]
        for name, fn in vars(cls).items():
            if callable(fn) and not name.startswith('_'):
                setattr(stock, name, fn)
    for typeid in ('Queue', 'JoinableQueue'):
        callable_ = managers.SyncManager._registry[typeid][0]
        # exposed=None keeps what a CPython server exposes: the object's
        # public methods, as with the AutoProxy it replaces.
        managers.SyncManager.register(typeid, callable_, QueueProxy)
    _installed = True
