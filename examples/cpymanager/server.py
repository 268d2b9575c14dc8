# A CPython manager server sharing a dict ("stats") and a Lock ("lock"),
# for main.go and client.py. It prints its address, then serves until
# killed.
#   python3 server.py AUTHKEY_FILE [PORT]
import sys
import threading
from multiprocessing.managers import AcquirerProxy, DictProxy, SyncManager

stats = {}
lock = threading.Lock()


class StatsManager(SyncManager):
    pass


StatsManager.register('stats', callable=lambda: stats, proxytype=DictProxy)
StatsManager.register('lock', callable=lambda: lock, proxytype=AcquirerProxy)

if __name__ == '__main__':
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 50000
    m = StatsManager(address=('127.0.0.1', port), authkey=open(sys.argv[1], 'rb').read())
    server = m.get_server()
    print('serving on %s:%d' % server.address, flush=True)
    server.serve_forever()
