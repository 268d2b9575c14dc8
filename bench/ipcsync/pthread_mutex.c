/*
 * The C floor for ipcsync.Mutex: a process-shared, robust pthread mutex in
 * MAP_SHARED memory, doing lock + increment + unlock.
 *
 *   pthread_mutex [iterations [plain]]
 *
 * prints two lines, in the same units as `go test -bench`:
 *   c/LockIncUnlock       <ns per operation, one process>
 *   c/LockIncUnlock2Proc  <ns per operation of this process while a forked
 *                          peer hammers the same mutex>  <peer ops per op>
 * With "plain", the mutex is process-shared but not robust (rows c-plain/).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared {
	pthread_mutex_t mu;
	long counter;
	long peer_ops;
	volatile int ready;
	volatile int stop;
};

static void lock(struct shared *s) {
	int r = pthread_mutex_lock(&s->mu);
	if (r == EOWNERDEAD) {
		pthread_mutex_consistent(&s->mu);
	} else if (r != 0) {
		fprintf(stderr, "pthread_mutex_lock: %d\n", r);
		exit(1);
	}
}

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double run(struct shared *s, long n) {
	double t0 = now();
	for (long i = 0; i < n; i++) {
		lock(s);
		s->counter++;
		pthread_mutex_unlock(&s->mu);
	}
	return (now() - t0) / n;
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 20000000;
	int robust = !(argc > 2 && strcmp(argv[2], "plain") == 0);
	const char *tag = robust ? "c" : "c-plain";
	struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE,
	                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (robust)
		pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&s->mu, &a);

	run(s, n / 10); /* warm up */
	printf("%s/LockIncUnlock\t%.2f ns/op\n", tag, run(s, n));

	long before = s->counter;
	pid_t pid = fork();
	if (pid == 0) {
		s->ready = 1;
		long k = 0;
		while (!s->stop) {
			lock(s);
			s->counter++;
			pthread_mutex_unlock(&s->mu);
			k++;
		}
		s->peer_ops = k;
		_exit(0);
	}
	while (!s->ready)
		;
	double ns = run(s, n);
	s->stop = 1;
	waitpid(pid, NULL, 0);
	if (s->counter != before + n + s->peer_ops) {
		fprintf(stderr, "lost increments\n");
		return 1;
	}
	printf("%s/LockIncUnlock2Proc\t%.2f ns/op\t%.4f peer-ops/op\n", tag, ns, (double)s->peer_ops / n);
	return 0;
}
