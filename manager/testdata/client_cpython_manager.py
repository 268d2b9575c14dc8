"""Serve CPython's own SyncManager for the Go client's tests.

    python client_cpython_manager.py ADDRESS HEXKEY

ADDRESS is host:port (port 0 picks one) or a Unix socket path. Prints
"READY <address>" once listening, and exits when stdin is closed (so a
test that dies does not leave the server behind).

Besides SyncManager's typeids it registers 'get_queue' (one queue shared by
every caller, like the Python documentation's remote-manager recipe).
"""
import multiprocessing
import os
import queue
import sys
import threading
from multiprocessing.managers import SyncManager


def main():
    address, key = sys.argv[1], bytes.fromhex(sys.argv[2])
    if '/' not in address and address.count(':') == 1:
        host, port = address.rsplit(':', 1)
        address = (host, int(port))
    # Nested proxies unpickled in the server authenticate with this key.
    multiprocessing.current_process().authkey = key

    the_queue = queue.Queue()

    class Manager(SyncManager):
        pass
    Manager.register('get_queue', callable=lambda: the_queue)

    server = Manager(address=address, authkey=key).get_server()
    a = server.address
    print('READY', '%s:%d' % a if isinstance(a, tuple) else a, flush=True)

    def watch_stdin():
        sys.stdin.read()
        os._exit(0)
    threading.Thread(target=watch_stdin, daemon=True).start()
    server.serve_forever()


if __name__ == '__main__':
    main()
