"""Python's side of bench/pool/run.sh: multiprocessing.Pool(2).map of 10,000
small tasks (square an int), with the fork start method.

Prints, in nanoseconds per Map of 10,000 tasks (median of REPS runs):
  py_pool_map_warm            map on a pool started once (and warmed up)
  py_pool_start_map_close     Pool(2), map, close, join in each run
"""
import multiprocessing as mp
import statistics
import sys
import time


def square(n):
    return n * n


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    mp.set_start_method("fork")
    ins = list(range(10000))
    want = [n * n for n in ins]

    with mp.Pool(2) as p:
        p.map(square, ins[:100])  # the workers are up
        times = []
        for _ in range(reps):
            t0 = time.perf_counter_ns()
            outs = p.map(square, ins)
            times.append(time.perf_counter_ns() - t0)
            assert outs == want
    print("py_pool_map_warm", statistics.median(times))

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
