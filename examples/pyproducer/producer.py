# A Python producer: puts ten jobs and a None on the "jobs" queue of a
# `procshare serve --expose jobs=Queue` (or of any manager exposing one).
#   python3 producer.py HOST:PORT AUTHKEY_FILE
import sys
from multiprocessing.managers import BaseManager


class QueueManager(BaseManager):
    pass


if __name__ == '__main__':
    QueueManager.register('jobs')
    host, port = sys.argv[1].rsplit(':', 1)
    m = QueueManager(address=(host, int(port)), authkey=open(sys.argv[2], 'rb').read())
    m.connect()
    jobs = m.jobs()
    for i, word in enumerate('alpha bravo charlie delta echo foxtrot golf hotel india juliett'.split()):
        jobs.put({'id': i, 'word': word})
    jobs.put(None)
