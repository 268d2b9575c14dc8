"""Python's side of bench/pool/run.sh: multiprocessing.Pool(2).map of 10,000
small tasks (square an int), with the fork start method.

Prints, in nanoseconds per Map of 10,000 tasks (median of REPS runs):
  py_pool_map_warm            map on a pool started once (and warmed up)
  py_pool_start_map_close     Pool(2), map, close, join in each run
and the CPU time per warm map, in milliseconds (mean over the REPS runs):
  py_pool_warm_parent_cpu_ms  this process (its handler threads included)
  py_pool_warm_workers_cpu_ms the two workers, from /proc (10 ms ticks)
"""
import multiprocessing as mp
import os
import statistics
import sys
import time


def square(n):
    return n * n


def proc_cpu_ns(pids):
    """User+system CPU time of pids, from /proc/PID/stat."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) * 10**9 // tick
    return total


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    mp.set_start_method("fork")
    ins = list(range(10000))
    want = [n * n for n in ins]

    with mp.Pool(2) as p:
        p.map(square, ins[:100])  # the workers are up
        pids = [w.pid for w in p._pool]
        times = []
        cpu0, wcpu0 = time.process_time_ns(), proc_cpu_ns(pids)
        for _ in range(reps):
            t0 = time.perf_counter_ns()
            outs = p.map(square, ins)
            times.append(time.perf_counter_ns() - t0)
            assert outs == want
        cpu, wcpu = time.process_time_ns() - cpu0, proc_cpu_ns(pids) - wcpu0
    print("py_pool_map_warm", statistics.median(times))
    print("py_pool_warm_parent_cpu_ms", cpu / reps / 1e6)
    print("py_pool_warm_workers_cpu_ms", wcpu / reps / 1e6)

    times = []
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        p = mp.Pool(2)
        outs = p.map(square, ins)
        p.close()
        p.join()
        times.append(time.perf_counter_ns() - t0)
        assert outs == want
    print("py_pool_start_map_close", statistics.median(times))


if __name__ == "__main__":
    main()
