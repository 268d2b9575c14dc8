# A CPython manager client for procshare's server limits (server_limits_test.go).
# Usage: python server_limits.py MODE ADDRESS AUTHKEY_HEX [ARG]
#   oversize MAXFRAME: a value over the server's frame limit raises ValueError
#     naming the limit, and the thread's connection (and new proxies) go on.
#   refused: connecting is refused; prints the exception.
#   connect: connecting works (and a dict call).
import multiprocessing
import sys
from multiprocessing.managers import SyncManager

mode, addr, key = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])
if "/" not in addr and ":" in addr:
    host, port = addr.rsplit(":", 1)
    address = (host, int(port))
else:
    address = addr
multiprocessing.current_process().authkey = key

if mode == "oversize":
    limit = int(sys.argv[4])
    want = "exceeds the server's frame limit of %d bytes" % limit
    m = SyncManager(address=address, authkey=key)
    m.connect()
    d = m.dict()
    big = b"x" * (limit + 100000)
    for _ in range(2):
        try:
            d["big"] = big
        except ValueError as e:
            assert want in str(e), str(e)
        else:
            raise AssertionError("no ValueError for an oversized value")
        # The same thread's connection goes on.
        d["small"] = 1
        assert d["small"] == 1
    assert "big" not in d
    # New proxies in this thread share that connection.
    l = m.list([1])
    l.append(2)
    assert l[:] == [1, 2], l[:]
    # An oversized create (a management connection) fails the same way.
    try:
        m.dict(big=big)
    except ValueError as e:
        assert want in str(e), str(e)
    else:
        raise AssertionError("no ValueError for an oversized create")
    d["after"] = b"y" * (limit // 2)
    assert len(d["after"]) == limit // 2
    print("OK")
elif mode == "refused":
    m = SyncManager(address=address, authkey=key)
    try:
        m.connect()
    except Exception as e:
        print("%s: %s" % (type(e).__name__, e))
    else:
        raise AssertionError("connected")
elif mode == "connect":
    m = SyncManager(address=address, authkey=key)
    m.connect()
    d = m.dict()
    d["a"] = 1
    assert d["a"] == 1
    print("OK")
else:
    raise SystemExit("unknown mode " + mode)
