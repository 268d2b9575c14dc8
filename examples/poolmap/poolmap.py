# examples/workerpool with Python's multiprocessing.Pool: the twin of main.go.
#   python3 poolmap.py
import multiprocessing as mp


def square(n):
    return n * n


if __name__ == '__main__':
    total = 0
    with mp.Pool(4) as pool:
        for done, sq in enumerate(pool.imap_unordered(square, range(100)), 1):
            total += sq
            print('\rdone %d/100' % done, end='', flush=True)
    print()
    print('sum of squares:', total)
