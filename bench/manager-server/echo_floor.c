/* The floor of a manager server's cost per call: a C server that echoes
 * each read back with one write, one blocking thread per connection (as
 * CPython's manager serves connections), doing no work at all.
 * bench/manager-server/run.sh measures its CPU time per round trip with the
 * same Python client processes as the two manager servers.
 *
 *   echo_floor unix PATH | echo_floor tcp PORT   (prints "READY ADDRESS") */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void *serve(void *arg) {
	int fd = (int)(long)arg;
	char buf[65536];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n <= 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, n - off);
			if (w <= 0)
				goto out;
			off += w;
		}
	}
out:
	close(fd);
	return NULL;
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: echo_floor unix PATH | tcp PORT\n");
		return 2;
	}
	int s;
	if (strcmp(argv[1], "unix") == 0) {
		struct sockaddr_un u = {.sun_family = AF_UNIX};
		strncpy(u.sun_path, argv[2], sizeof u.sun_path - 1);
		unlink(u.sun_path);
		s = socket(AF_UNIX, SOCK_STREAM, 0);
		if (s < 0 || bind(s, (struct sockaddr *)&u, sizeof u) < 0) {
			perror("bind");
			return 1;
		}
		printf("READY %s\n", argv[2]);
	} else {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s = socket(AF_INET, SOCK_STREAM, 0);
		int one = 1;
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		socklen_t len = sizeof a;
		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 ||
		    getsockname(s, (struct sockaddr *)&a, &len) < 0) {
			perror("bind");
			return 1;
		}
		printf("READY 127.0.0.1:%d\n", ntohs(a.sin_port));
	}
	if (listen(s, 128) < 0) {
		perror("listen");
		return 1;
	}
	fflush(stdout);
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0)
			continue;
		pthread_t t;
		if (pthread_create(&t, NULL, serve, (void *)(long)c) != 0) {
			close(c);
			continue;
		}
		pthread_detach(t);
	}
}
