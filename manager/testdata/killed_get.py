# A stock CPython client blocked in a queue get while items stream in:
# it prints every item it receives, until it is killed.
# Usage: python killed_get.py ADDRESS AUTHKEY_HEX
import sys
from multiprocessing.managers import BaseManager

addr, key = sys.argv[1], bytes.fromhex(sys.argv[2])
host, port = addr.rsplit(":", 1)


class QueueManager(BaseManager):
    pass


QueueManager.register("get_queue")
m = QueueManager(address=(host, int(port)), authkey=key)
m.connect()
q = m.get_queue()
q.qsize()  # the object connection is open
print("READY", flush=True)
while True:
    print(q.get(), flush=True)
