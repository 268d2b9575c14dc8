/* C floor of shm's Value.Add: __atomic_add_fetch on an int64 and an int32
 * in a MAP_SHARED page (what a process-shared counter in C is), gcc -O2.
 * Prints "c_atomic_add_int64 NS" and "c_atomic_add_int32 NS" (ns per add,
 * the median of 3 runs of N adds, as Go's side is a typical run, not its
 * best). Run by bench/shm/run.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static double now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static double median3(double *v) {
	double a = v[0], b = v[1], c = v[2];
	if ((a <= b && b <= c) || (c <= b && b <= a))
		return b;
	if ((b <= a && a <= c) || (c <= a && a <= b))
		return a;
	return c;
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 100000000L;
	int64_t *p64 = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p64 == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	int32_t *p32 = (int32_t *)(p64 + 1);
	double r64[3], r32[3];
	for (int r = 0; r < 3; r++) {
		double t = now_ns();
		for (long i = 0; i < n; i++)
			__atomic_add_fetch(p64, 1, __ATOMIC_SEQ_CST);
		r64[r] = (now_ns() - t) / n;
		t = now_ns();
		for (long i = 0; i < n; i++)
			__atomic_add_fetch(p32, 1, __ATOMIC_SEQ_CST);
		r32[r] = (now_ns() - t) / n;
	}
	printf("c_atomic_add_int64 %.3f\nc_atomic_add_int32 %.3f\n", median3(r64), median3(r32));
	return 0;
}
