"""CPython multiprocessing.connection.Listener for a Go ClientHandshake.

usage: pylistener.py AUTHKEY_HEX UNIX_PATH

Listens on the Unix path and on a TCP port, prints "ready PORT", then for
each listener: accepts one connection with the right key and echoes frames
until EOF, then accepts one with a wrong key and reports the exception.
"""
import sys
from multiprocessing.connection import Listener, AuthenticationError

key = bytes.fromhex(sys.argv[1])
listeners = [
    ("unix", Listener(sys.argv[2], authkey=key)),
    ("tcp", Listener(("127.0.0.1", 0), authkey=key)),
]
print("ready", listeners[1][1].address[1], flush=True)
for kind, ln in listeners:
    with ln.accept() as c:
        n = 0
        try:
            while True:
                c.send_bytes(c.recv_bytes())
                n += 1
        except EOFError:
            pass
    print("echoed", kind, n, flush=True)
    try:
        ln.accept()
    except AuthenticationError as e:
        print("wrong key:", kind, type(e).__name__ + ":", e, flush=True)
    else:
        print("wrong key:", kind, "no error", flush=True)
    ln.close()
