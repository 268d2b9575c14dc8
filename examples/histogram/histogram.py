# The last digits of the squares of 0..99999 counted in a shared Array by
# 8 processes, in Python: the twin of main.go.
#   python3 histogram.py
import multiprocessing as mp


def count(k, bins):
    for x in range(k, 100000, 8):
        with bins.get_lock():  # += on an Array element is not atomic
            bins[x * x % 10] += 1


if __name__ == '__main__':
    bins = mp.Array('i', 10)
    children = [mp.Process(target=count, args=(k, bins)) for k in range(8)]
    for p in children:
        p.start()
    for p in children:
        p.join()
    for digit, n in enumerate(bins):
        print(digit, n, '#' * (n // 1000))
