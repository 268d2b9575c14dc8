# Attaches to a segment, a ShareableList and a segment holding a Value and
# an Array that Go created, checks what Go wrote, writes back, and prints
# one JSON report. argv: segname seglen listname objname valuesize
import json, struct, sys
from multiprocessing import shared_memory
from pyenc import enc, untrack

segname, seglen, listname = sys.argv[1], int(sys.argv[2]), sys.argv[3]
objname, valuesize = sys.argv[4], int(sys.argv[5])

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

# The documented layout of Value and Array headers (package doc, # Layout).
obj = shared_memory.SharedMemory(name=objname)
untrack(obj)
def header(off):
    magic, version, code, size, kind, length = struct.unpack_from("=4sBcBcQ", obj.buf, off)
    return {"magic": magic.decode(), "version": version, "code": code.decode(),
            "size": size, "kind": kind.decode(), "len": length}
out["value"] = header(0)
out["value"]["data"] = struct.unpack_from("q", obj.buf, 128)[0]
struct.pack_into("q", obj.buf, 128, out["value"]["data"] + 5)
out["array"] = header(valuesize)
n = out["array"]["len"]
out["array"]["data"] = list(struct.unpack_from("%dd" % n, obj.buf, valuesize + 128))
struct.pack_into("d", obj.buf, valuesize + 128 + 8 * 2, 9.75)
obj.close()
print(json.dumps(out))
