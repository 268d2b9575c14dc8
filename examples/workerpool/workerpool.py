# A worker pool over two manager queues, in Python: the twin of main.go.
#   python3 workerpool.py
import multiprocessing as mp


def worker(jobs, results):
    for n in iter(jobs.get, None):  # None: no more jobs
        results.put(n * n)


if __name__ == '__main__':
    with mp.Manager() as m:
        jobs, results = m.Queue(), m.Queue()
        workers = [mp.Process(target=worker, args=(jobs, results)) for _ in range(4)]
        for w in workers:
            w.start()
        for n in range(100):
            jobs.put(n)
        for _ in workers:
            jobs.put(None)
        total = 0
        for done in range(1, 101):
            total += results.get()
            print('\rdone %d/100' % done, end='', flush=True)
        print()
        for w in workers:
            w.join()
        print('sum of squares:', total)
