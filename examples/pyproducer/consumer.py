# The consumer in Python, the twin of main.go: takes the jobs from the
# "jobs" queue of `procshare serve` and prints them, until a None.
#   python3 consumer.py HOST:PORT AUTHKEY_FILE
import sys
from multiprocessing.managers import BaseManager


class QueueManager(BaseManager):
    pass


if __name__ == '__main__':
    QueueManager.register('jobs')
    host, port = sys.argv[1].rsplit(':', 1)
    m = QueueManager(address=(host, int(port)), authkey=open(sys.argv[2], 'rb').read())
    m.connect()
    for job in iter(m.jobs().get, None):
        print(job['id'], job['word'])
