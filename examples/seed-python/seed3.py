#!/usr/bin/env python3
"""The seed article's third program, in Python, against `procshare serve`.

100 processes each add 1 to a shared manager Value under a manager Lock;
the parent prints the total: 100. Unlike the article, the manager is not
started by Python: the program connects to a procshare server (or any
multiprocessing manager server) with its address and authkey.

    procshare serve --address 127.0.0.1:50000 --authkey-file key &
    python3 seed3.py 127.0.0.1:50000 key

ADDRESS is host:port (TCP) or a Unix socket path; AUTHKEY_FILE holds the
key (its bytes, as the server reads it). Stdlib only; CPython 3.8+.
"""
import multiprocessing
import os
import sys
from multiprocessing import Process
from multiprocessing.managers import SyncManager


def testFunc(cc, total, lock):
    with lock:
        total.value += cc


def parse_address(s):
    if '/' not in s and s.count(':') == 1:
        host, port = s.rsplit(':', 1)
        if port.isdigit():
            return (host, int(port))
    return s


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: seed3.py ADDRESS AUTHKEY_FILE')
    address = parse_address(sys.argv[1])
    with open(sys.argv[2], 'rb') as f:
        authkey = f.read()
    # Children authenticate with the process key; make it the server's.
    multiprocessing.current_process().authkey = authkey
    manager = SyncManager(address=address, authkey=authkey)
    manager.connect()
    total = manager.Value('tmp', 0)
    lock = manager.Lock()

    threads = []
    for ll in range(100):
        t = Process(target=testFunc, args=(1, total, lock))
        t.daemon = True
        threads.append(t)

    for i in range(len(threads)):
        threads[i].start()

    for j in range(len(threads)):
        threads[j].join()

    print("------------------------")
    print('process id:', os.getpid())
    print(total.value)
    for t in threads:
        if t.exitcode != 0:
            sys.exit('a child exited with code %s' % t.exitcode)


if __name__ == '__main__':
    main()
