"""Python's side of bench/shm/run.sh: multiprocessing.Value and Array.

Prints one line per figure: NAME VALUE_NS.
"""
import multiprocessing as mp
import sys
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000


def locked_incr(v, n):
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def contender(v, n, ready, go):
    ready.set()
    go.wait()
    locked_incr(v, n)


def writer(arr, took):
    data = [float(i) for i in range(len(arr))]
    for i in range(2):
        t = time.perf_counter_ns()
        arr[:] = data
        took[i] = time.perf_counter_ns() - t


def main():
    ctx = mp.get_context("fork")

    # 1 process: with v.get_lock(): v.value += 1
    v = ctx.Value("q", 0)
    best = None
    for _ in range(3):
        t = time.perf_counter_ns()
        locked_incr(v, N)
        d = (time.perf_counter_ns() - t) / N
        best = d if best is None else min(best, d)
    print("py_locked_incr", best)

    # 2 processes contended, N increments each; wall time per increment.
    v = ctx.Value("q", 0)
    ready = [ctx.Event(), ctx.Event()]
    go = ctx.Event()
    ps = [ctx.Process(target=contender, args=(v, N, ready[i], go)) for i in range(2)]
    for p in ps:
        p.start()
    for r in ready:
        r.wait()
    t = time.perf_counter_ns()
    go.set()
    for p in ps:
        p.join()
    d = (time.perf_counter_ns() - t) / (2 * N)
    assert v.value == 2 * N, v.value
    print("py_contended_incr_2proc", d)

    # Array('d', 10**6) written from a child (arr[:] = list), in the child.
    arr = ctx.Array("d", 10**6)
    took = ctx.Array("q", 2)
    p = ctx.Process(target=writer, args=(arr, took))
    p.start()
    p.join()
    assert arr[-1] == 10**6 - 1
    print("py_array_write_child_cold", took[0])
    print("py_array_write_child_warm", took[1])


if __name__ == "__main__":
    main()
