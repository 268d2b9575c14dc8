# A client of server.py in Python, the twin of main.go: adds 1 to
# stats['count'] 100 times, each under the shared lock, and prints the last
# count it wrote.
#   python3 client.py HOST:PORT AUTHKEY_FILE
import sys
from multiprocessing.managers import AcquirerProxy, BaseManager, DictProxy


class StatsManager(BaseManager):
    pass


if __name__ == '__main__':
    StatsManager.register('stats', proxytype=DictProxy)
    StatsManager.register('lock', proxytype=AcquirerProxy)
    host, port = sys.argv[1].rsplit(':', 1)
    m = StatsManager(address=(host, int(port)), authkey=open(sys.argv[2], 'rb').read())
    m.connect()
    stats, lock = m.stats(), m.lock()
    for _ in range(100):
        with lock:
            n = stats.get('count', 0) + 1
            stats['count'] = n
    print('count =', n)
