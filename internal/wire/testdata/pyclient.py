"""CPython multiprocessing.connection.Client against a Go ServerHandshake.

usage: pyclient.py AUTHKEY_HEX ADDRESS...   (ADDRESS: unix:PATH or tcp:HOST:PORT)

For each address: connect with the right key and have a few frames echoed,
then connect with a wrong key and report the exception.
"""
import sys
from multiprocessing.connection import Client, AuthenticationError

key = bytes.fromhex(sys.argv[1])
payloads = [b"", b"hello", bytes(range(256)) * 4, b"x" * 100000]

for spec in sys.argv[2:]:
    kind, _, rest = spec.partition(":")
    if kind == "unix":
        address = rest
    else:
        host, _, port = rest.rpartition(":")
        address = (host, int(port))
    with Client(address, authkey=key) as c:
        for p in payloads:
            c.send_bytes(p)
            got = c.recv_bytes()
            assert got == p, (spec, len(got), len(p))
        c.send({"answer": 42, "list": [1, 2.5, "three"]})
        assert c.recv() == {"answer": 42, "list": [1, 2.5, "three"]}
    print("ok", kind, flush=True)
    try:
        Client(address, authkey=key + b"-wrong")
    except AuthenticationError as e:
        print("wrong key:", kind, type(e).__name__ + ":", e, flush=True)
    else:
        print("wrong key:", kind, "no error", flush=True)
