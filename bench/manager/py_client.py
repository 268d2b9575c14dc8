"""Python-client side of the manager client benchmark (bench/manager/run.sh).

    python py_client.py ADDRESS HEXKEY SECS

Connects to a manager (CPython's SyncManager or procshare's) with the
stdlib client and measures, for SECS seconds each, from one thread:

  get      d['k'] on a dict proxy: one round trip
  locked   with lock: v.value += 1 (acquire, get, set, release)
  putget   q.put(1); q.get()

Prints one line per measurement: NAME OPS_PER_SECOND.
"""
import multiprocessing
import sys
import time
from multiprocessing.managers import SyncManager


def parse_address(s):
    if '/' not in s and s.count(':') == 1:
        host, port = s.rsplit(':', 1)
        if port.isdigit():
            return (host, int(port))
    return s


def rate(fn, secs):
    fn()  # connect and warm up
    n, t0 = 0, time.perf_counter()
    end = t0 + secs
    while True:
        for _ in range(100):
            fn()
        n += 100
        t = time.perf_counter()
        if t >= end:
            return n / (t - t0)


def main():
    address, key, secs = parse_address(sys.argv[1]), bytes.fromhex(sys.argv[2]), float(sys.argv[3])
    multiprocessing.current_process().authkey = key
    m = SyncManager(address=address, authkey=key)
    m.connect()
    d = m.dict({'k': 1})
    v = m.Value('i', 0)
    lock = m.Lock()
    q = m.Queue()

    def get():
        d['k']

    def locked():
        with lock:
            v.value += 1

    def putget():
        q.put(1)
        q.get()

    for name, fn in (('get', get), ('locked', locked), ('putget', putget)):
        print(name, '%.0f' % rate(fn, secs), flush=True)


if __name__ == '__main__':
    main()
