"""Compare the Go codec with CPython's pickle on the manager's hot path.

Run from the repository root:  python3 pickle/testdata/bench_cpython.py
It runs the Go benchmarks (go test -bench) and CPython's pickle.dumps/loads
(C accelerated, protocol 4) on the same objects in the same run, and prints
a Markdown table of medians with Go/CPython ratios (below 1 = Go faster).
"""
import pickle
import re
import statistics
import subprocess
import sys
import timeit

OBJECTS = {
    "request": ('7fc6a75f6c40', '__getitem__', (slice(1, 3, None),), {}),
    "reply": ('#RETURN', [100, 'two', 3.0]),
}
RUNS = 5


def py_ns(stmt, glb):
    t = timeit.Timer(stmt, globals=glb)
    n, _ = t.autorange()
    return min(t.repeat(3, n)) / n * 1e9


def go_once(res):
    out = subprocess.run(
        ["go", "test", "-run", "^$", "-bench", "^Benchmark(Marshal|Unmarshal)$",
         "-benchtime", "200000x", "-count", "1", "./pickle"],
        capture_output=True, text=True, check=True).stdout
    for m in re.finditer(r"^Benchmark(\w+)/(\S+?)-\d+\s+\d+\s+([\d.]+) ns/op.*?(\d+) allocs/op", out, re.M):
        res.setdefault((m.group(1), m.group(2)), []).append((float(m.group(3)), int(m.group(4))))


def py_once(res):
    for name, obj in OBJECTS.items():
        data = pickle.dumps(obj, 4)
        res.setdefault(("Marshal", name), []).append(py_ns("dumps(obj, 4)", {"dumps": pickle.dumps, "obj": obj}))
        res.setdefault(("Unmarshal", name), []).append(py_ns("loads(data)", {"loads": pickle.loads, "data": data}))


def main():
    # Interleave the Go and CPython runs so that both see the same machine
    # load, then take medians.
    gor, pyr = {}, {}
    for _ in range(RUNS):
        go_once(gor)
        py_once(pyr)
    go = {k: (statistics.median(x for x, _ in v), v[0][1]) for k, v in gor.items()}
    print("| operation | Go ns/op (allocs) | CPython ns/op | Go / CPython |")
    print("|---|---|---|---|")
    for name in OBJECTS:
        rows = [
            ("Marshal", name, statistics.median(pyr[("Marshal", name)])),
            ("Marshal", name + "/append", None),
            ("Unmarshal", name, statistics.median(pyr[("Unmarshal", name)])),
        ]
        for op, key, py in rows:
            g, allocs = go[(op, key)]
            if py is None:
                print("| %s %s | %.0f (%d) | | |" % (op, key, g, allocs))
            else:
                print("| %s %s | %.0f (%d) | %.0f | %.2f |" % (op, key, g, allocs, py, g / py))
    print()
    print("CPython %s" % sys.version.split()[0])


main()
