# A CPython manager client that exercises procshare's server: every common
# SyncManager type through the stock proxies, nested proxies, a named
# shared object (the remote-manager recipe) and a procshare extension.
# Usage: python server_smoke.py ADDRESS AUTHKEY_HEX
import multiprocessing
import queue
import sys
from multiprocessing.managers import BaseManager, SyncManager

addr, key = sys.argv[1], bytes.fromhex(sys.argv[2])
if "/" not in addr and ":" in addr:
    host, port = addr.rsplit(":", 1)
    address = (host, int(port))
else:
    address = addr
# Nested proxies authenticate with the process's key (see PROTOCOL.md).
multiprocessing.current_process().authkey = key

m = SyncManager(address=address, authkey=key)
m.connect()

l = m.list([1, 2])
l.append(3)
l += [4]
assert list(l) == [1, 2, 3, 4], list(l)
assert l[1:3] == [2, 3]
assert str(l) == "[1, 2, 3, 4]", str(l)
l.sort(reverse=True)
assert l[:] == [4, 3, 2, 1]
try:
    l[10]
except IndexError as e:
    assert str(e) == "list index out of range"
else:
    raise AssertionError("no IndexError")

d = m.dict(a=1)
d["b"] = 2
d[1.0] = "one"
assert d[1] == "one" and d[True] == "one"
assert list(d.keys()) == ["a", "b", 1.0], d.keys()
assert list(iter(d)) == ["a", "b", 1.0]
assert d.copy() == {"a": 1, "b": 2, 1: "one"}
try:
    d["missing"]
except KeyError:
    pass
else:
    raise AssertionError("no KeyError")

q = m.Queue(2)
q.put("x")
q.put("y", True, 0.5)
try:
    q.put_nowait("z")
except queue.Full:
    pass
else:
    raise AssertionError("no Full")
assert q.get(timeout=1) == "x"
assert q.get() == "y"
try:
    q.get(timeout=0.01)
except queue.Empty:
    pass
else:
    raise AssertionError("no Empty")

v = m.Value("i", 7)
v.value += 1
assert v.value == 8
assert str(v) == "Value('i', 8)", str(v)
assert v._callmethod("ps_add", (2,)) == 10

lock = m.Lock()
with lock:
    assert not lock.acquire(False)
rl = m.RLock()
with rl:
    with rl:
        pass
e = m.Event()
e.set()
assert e.wait(1) is True
c = m.Condition()
with c:
    c.notify_all()
    assert c.wait(0.01) is False
b = m.Barrier(1)
assert b.wait() == 0
assert b.parties == 1 and b.n_waiting == 0 and not b.broken
s = m.BoundedSemaphore(2)
with s:
    pass

ns = m.Namespace(x=1)
ns.y = "two"
assert ns.x == 1
assert str(ns) == "Namespace(x=1, y='two')", str(ns)
assert not hasattr(ns, "z")

a = m.Array("i", [1, 2, 3])
a[0] = 5
assert list(a) == [5, 2, 3]
assert a[0:2].tolist() == [5, 2]
assert len(a) == 3

outer = m.list([l])
assert outer[0][0] == 4
if sys.version_info >= (3, 9):
    outer.append(m.Queue())
    outer[1].put(123)
    assert outer[1].get() == 123

class QueueManager(BaseManager):
    pass

QueueManager.register("get_queue")
qm = QueueManager(address=address, authkey=key)
qm.connect()
gq = qm.get_queue()
gq.put("shared")
assert gq.get() == "shared"

assert m._number_of_objects() > 0
assert "refcount=" in m._debug_info()
print("OK")
