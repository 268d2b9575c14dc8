#!/usr/bin/env python3
"""One-round-trip manager calls from CPython clients, per second, and the
server's CPU time per call.

    python bench_client.py --address ADDR --authkey-hex HEX --server-pid PID
                           [--procs 1] [--seconds 2] [--ops dict_get,...]

Each of --procs client processes (forked) connects on its own, creates its
own objects, waits at a start line, then repeats one operation for
--seconds. The server's CPU time (utime+stime of /proc/PID/stat, all its
threads) is read just before the start line opens and after every client
is done. One JSON object per operation goes to stdout:

    {"op": "dict_get", "procs": 1, "calls": 12345, "calls_per_s": ...,
     "server_cpu_us_per_call": ..., "server_user_us_per_call": ...,
     "server_sys_us_per_call": ...}

A "call" is one request/reply round trip: queue_put_get and
lock_acquire_release make two per iteration and count both. The op 'echo'
is for echo_floor.c, the C floor of a server's cost per round trip.
Stdlib only; CPython 3.8+; Linux (/proc).
"""
import argparse
import json
import multiprocessing
import multiprocessing.connection
import os
import sys
import time
from multiprocessing.managers import SyncManager

CLK_TCK = os.sysconf('SC_CLK_TCK')


def parse_address(s):
    if '/' not in s and s.count(':') == 1:
        host, port = s.rsplit(':', 1)
        if port.isdigit():
            return (host, int(port))
    return s


def cpu_seconds(pid):
    """(user, system) CPU seconds of every thread of pid."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    # fields[0] is the state (field 3); utime and stime are fields 14, 15.
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def make_op(m, name):
    """Returns (fn, calls per fn())."""
    if name == 'dict_get':
        d = m.dict(k=1)
        return (lambda: d.get('k')), 1
    if name == 'dict_set':
        d = m.dict()
        return (lambda: d.__setitem__('k', 1)), 1
    if name == 'list_append':
        l = m.list()
        return (lambda: l.append(1)), 1
    if name == 'queue_put_get':
        q = m.Queue()
        return (lambda: (q.put(1), q.get())), 2
    if name == 'event_is_set':
        e = m.Event()
        return (lambda: e.is_set()), 1
    if name == 'lock_acquire_release':
        lock = m.Lock()
        return (lambda: (lock.acquire(), lock.release())), 2
    if name == 'value_ps_add':
        v = m.Value('i', 0)
        return (lambda: v._callmethod('ps_add', (1,))), 1
    raise SystemExit('unknown op %r' % name)


def make_echo(address):
    """The 'echo' op, for the C echo server (echo_floor.c): one 64-byte
    frame sent and read back over multiprocessing.connection, as a manager
    call's request and reply are framed, with no handshake and no pickling
    on the server's side."""
    conn = multiprocessing.connection.Client(address)
    msg = b'x' * 64
    return (lambda: (conn.send_bytes(msg), conn.recv_bytes())), 1


def worker(address, authkey, opname, seconds, start, done, results):
    multiprocessing.current_process().authkey = authkey
    if opname == 'echo':
        fn, per = make_echo(address)
    else:
        m = SyncManager(address=address, authkey=authkey)
        m.connect()
        fn, per = make_op(m, opname)
    fn()  # opens this process's object connection
    start.wait()
    n = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while True:
        for _ in range(50):
            fn()
        n += 50
        now = time.perf_counter()
        if now >= deadline:
            break
    results.put((n * per, now - t0))
    done.wait()


def run(args, opname, procs):
    address = parse_address(args.address)
    authkey = bytes.fromhex(args.authkey_hex)
    ctx = multiprocessing.get_context('fork')
    start, done = ctx.Barrier(procs + 1), ctx.Barrier(procs + 1)
    results = ctx.SimpleQueue()
    ps = [ctx.Process(target=worker, args=(address, authkey, opname, args.seconds,
                                           start, done, results))
          for _ in range(procs)]
    for p in ps:
        p.start()
    cpu0 = cpu_seconds(args.server_pid)
    start.wait()
    rs = [results.get() for _ in range(procs)]
    cpu1 = cpu_seconds(args.server_pid)
    done.wait()
    for p in ps:
        p.join()
    calls = sum(n for n, _ in rs)
    rate = sum(n / secs for n, secs in rs)
    user = (cpu1[0] - cpu0[0]) * 1e6 / calls
    system = (cpu1[1] - cpu0[1]) * 1e6 / calls
    return {
        'op': opname, 'procs': procs, 'calls': calls,
        'calls_per_s': round(rate),
        'server_cpu_us_per_call': round(user + system, 2),
        'server_user_us_per_call': round(user, 2),
        'server_sys_us_per_call': round(system, 2),
        'python': '%d.%d.%d' % sys.version_info[:3],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--address', required=True)
    ap.add_argument('--authkey-hex', required=True)
    ap.add_argument('--server-pid', type=int, required=True)
    ap.add_argument('--procs', default='1,2')
    ap.add_argument('--seconds', type=float, default=2.0)
    ap.add_argument('--ops', default='dict_get,dict_set,list_append,queue_put_get,'
                                     'event_is_set,lock_acquire_release')
    args = ap.parse_args()
    for procs in [int(p) for p in args.procs.split(',')]:
        for op in args.ops.split(','):
            print(json.dumps(run(args, op, procs)), flush=True)


if __name__ == '__main__':
    main()
