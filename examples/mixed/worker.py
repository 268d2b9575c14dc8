"""A Python worker of examples/mixed: plain CPython, standard library only.

    python3 worker.py AUTHKEY_HEX PROXIES_HEX

PROXIES_HEX is a pickle of (total, lock, queue, ready): proxies to objects of the
Go program's manager, pickled by Go the way Python pickles proxies
(multiprocessing.managers.RebuildProxy). Unpickling them connects to the
manager, authenticating with multiprocessing.current_process().authkey,
which is therefore set to the manager's key first.
"""
import multiprocessing
import os
import pickle
import sys


def main():
    multiprocessing.current_process().authkey = bytes.fromhex(sys.argv[1])
    total, lock, queue, ready = pickle.loads(bytes.fromhex(sys.argv[2]))
    ready.wait()  # every worker is up: the Go parent now fills the queue
    n = 0
    while True:
        item = queue.get()
        if item is None:
            break
        with lock:
            total.value += item
        n += 1
    print('python worker %d took %d items' % (os.getpid(), n), flush=True)


if __name__ == '__main__':
    main()
