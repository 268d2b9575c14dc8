# Round trips of a stock CPython manager client against a manager server:
# d.get() on a DictProxy, v.value on a ValueProxy, and "with lock:
# v.value += 1" (4 round trips). Prints one line per case: name, ops/s,
# microseconds per op.
#
# Usage:
#   python bench_manager_client.py ADDRESS AUTHKEY_HEX [N]   a running server
#   python bench_manager_client.py --cpython [N]             CPython's own server
#                                                            (started here, unix socket)
import os
import sys
import tempfile
import time
from multiprocessing.managers import SyncManager


def run(m, n):
    d = m.dict(key="value")
    v = m.Value("i", 0)
    lock = m.Lock()
    for name, f in [
        ("dict.get", lambda: d.get("key")),
        ("Value.get", lambda: v.value),
        ("lock+inc+unlock", None),
    ]:
        if f is None:
            def f():
                with lock:
                    v.value += 1
        for _ in range(min(n // 10, 500)):  # warm up (connection, caches)
            f()
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        dt = time.perf_counter() - t0
        print("%-16s %9.0f ops/s %8.1f us/op" % (name, n / dt, dt / n * 1e6), flush=True)


def main():
    args = sys.argv[1:]
    if args and args[0] == "--cpython":
        n = int(args[1]) if len(args) > 1 else 20000
        path = os.path.join(tempfile.mkdtemp(), "cpy.sock")
        m = SyncManager(address=path, authkey=b"bench")
        m.start()
        try:
            run(m, n)
        finally:
            m.shutdown()
        return
    addr, key = args[0], bytes.fromhex(args[1])
    n = int(args[2]) if len(args) > 2 else 20000
    if "/" not in addr and ":" in addr:
        host, port = addr.rsplit(":", 1)
        addr = (host, int(port))
    m = SyncManager(address=addr, authkey=key)
    m.connect()
    run(m, n)


main()
