#!/usr/bin/env python3
"""Serve CPython's own SyncManager as a separate process (the baseline that
the procshare interop suite, conformance harness and benchmarks compare
against).

    python cpython_server.py --address ADDR --authkey-hex HEX [--addrfile F]

ADDR is host:port (TCP, port 0 picks one) or a Unix socket path. The server
also offers the named shared object 'get_queue' (one global queue.Queue),
like `procshare serve --expose get_queue=Queue`, and one named object of
every other kind, registered with its stock proxy type as a Python program
registers its own (NAMED below: 'stats' a dict, 'lock' a Lock, ...), for
tests that hand such proxies to child processes. It prints
"READY <address>" once listening and serves until SIGTERM/SIGINT or a
client's 'shutdown' call.
"""
import argparse
import array
import os
import queue
import threading
import signal
import sys
from multiprocessing import current_process
from multiprocessing import managers
from multiprocessing.managers import SyncManager

_the_queue = queue.Queue()


def get_queue():
    return _the_queue


class ServerManager(SyncManager):
    pass


ServerManager.register('get_queue', callable=get_queue)

# name: (object, proxy type); every create of a name returns its one object.
NAMED = {
    'stats': ({}, managers.DictProxy),
    'items': ([], managers.ListProxy),
    'lock': (threading.Lock(), managers.AcquirerProxy),
    'rlock': (threading.RLock(), managers.AcquirerProxy),
    'sem': (threading.Semaphore(2), managers.AcquirerProxy),
    'bsem': (threading.BoundedSemaphore(2), managers.AcquirerProxy),
    'cond': (threading.Condition(), managers.ConditionProxy),
    'event': (threading.Event(), managers.EventProxy),
    'barrier': (threading.Barrier(1), managers.BarrierProxy),
    'value': (managers.Value('i', 0), managers.ValueProxy),
    'array': (array.array('i', [0, 0, 0]), managers.ArrayProxy),
    'ns': (managers.Namespace(), managers.NamespaceProxy),
    'jobs': (queue.Queue(), None),
    'tasks': (queue.Queue(), None),
}
for _name, (_obj, _proxy) in NAMED.items():
    ServerManager.register(_name, callable=(lambda o=_obj: o), proxytype=_proxy)


def parse_address(s):
    if '/' not in s and s.count(':') == 1:
        host, port = s.rsplit(':', 1)
        if port.isdigit():
            return (host, int(port))
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--address', required=True)
    ap.add_argument('--authkey-hex', required=True)
    ap.add_argument('--addrfile')
    args = ap.parse_args()
    authkey = bytes.fromhex(args.authkey_hex)
    # Proxies unpickled inside the server (nested proxies to another
    # server) authenticate with the process key, as under Manager().
    current_process().authkey = authkey
    address = parse_address(args.address)
    server = ServerManager(address=address, authkey=authkey).get_server()
    real = server.address
    if isinstance(real, tuple):
        real = '%s:%d' % real
    main_pid = os.getpid()

    def stop(signum, frame):
        if os.getpid() == main_pid:
            raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.addrfile:
        with open(args.addrfile + '.tmp', 'w') as f:
            f.write(real + '\n')
        os.replace(args.addrfile + '.tmp', args.addrfile)
    print('READY %s' % real, flush=True)
    # The listener's own finalizer removes a Unix socket file on exit.
    server.serve_forever()


if __name__ == '__main__':
    sys.exit(main())
