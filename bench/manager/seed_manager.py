"""The seed article's third program, as the article writes it: Python's own
Manager() (a server process started by the program) and 100 forked
processes, each adding 1 to a manager Value under a lock. bench/manager/
run.sh times it against `go run ./examples/seed -program 3`.

The article's lock is a multiprocessing.Lock; like the Go program (and the
brief of the seed), this version uses a manager Lock, which costs a little
more.
"""
import multiprocessing
import os
from multiprocessing import Process, Manager


def testFunc(cc, total, lock):
    with lock:
        total.value += cc


if __name__ == '__main__':
    multiprocessing.set_start_method('fork')
    manager = Manager()
    total = manager.Value('tmp', 0)
    lock = manager.Lock()
    threads = []
    for ll in range(100):
        t = Process(target=testFunc, args=(1, total, lock))
        t.daemon = True
        threads.append(t)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("------------------------")
    print('process id:', os.getpid())
    print(total.value)
