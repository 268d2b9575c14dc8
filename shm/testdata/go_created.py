# Attaches to a segment and a ShareableList that Go created, checks what Go
# wrote, writes back, and prints one JSON report. argv: segname seglen listname
import json, sys
from multiprocessing import shared_memory, resource_tracker

segname, seglen, listname = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def untrack(shm):
    # 3.8-3.12 register attached segments and unlink them at exit.
    try:
        resource_tracker.unregister(shm._name, "shared_memory")
    except Exception:
        pass

def enc(v):
    if isinstance(v, bytes):
        return ["bytes", v.hex()]
    if isinstance(v, float):
        return ["float", repr(v)]
    return [type(v).__name__, v]

out = {}
shm = shared_memory.SharedMemory(name=segname)
untrack(shm)
out["size"] = shm.size
out["head"] = bytes(shm.buf[:16]).hex()
shm.buf[16:24] = b"python!!"
shm.close()

sl = shared_memory.ShareableList(name=listname)
untrack(sl.shm)
out["items"] = [enc(v) for v in sl]
out["format"] = sl.format
out["len"] = len(sl)
out["count1"] = sl.count(1)
# write back one of each kind, into slots of every original kind
sl[0] = "py"          # str into an int slot
sl[1] = 2.5
sl[2] = None
sl[3] = b"\x01\x02"
sl[4] = -7
sl[5] = True
try:
    sl[6] = "x" * 1000
    out["overflow"] = "no error"
except ValueError as e:
    out["overflow"] = "ValueError"
sl.shm.close()
print(json.dumps(out))
