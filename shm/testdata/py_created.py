# Creates a segment and a ShareableList, waits for Go to read and write
# them (one line on stdin), checks Go's writes, unlinks both and prints one
# JSON report. argv: segname seglen listname
import json, sys
from multiprocessing import shared_memory
from pyenc import enc

segname, seglen, listname = sys.argv[1], int(sys.argv[2]), sys.argv[3]

shm = shared_memory.SharedMemory(name=segname, create=True, size=seglen)
shm.buf[:8] = b"fromPyth"
items = [42, -1.25, True, False, None, "h\u00e9llo w\u00f6rld", b"\x00ab\x00", "", b"",
         2**63 - 1, -2**63, "exactly8", 0]
sl = shared_memory.ShareableList(items, name=listname)
print("ready", flush=True)
sys.stdin.readline()

out = {}
out["seg"] = bytes(shm.buf[8:16]).hex()
out["items"] = [enc(v) for v in sl]
out["format"] = sl.format
shm.close(); shm.unlink()
sl.shm.close(); sl.shm.unlink()
print(json.dumps(out), flush=True)
