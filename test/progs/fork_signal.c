/* fork_signal.c — fork() from a signal handler that interrupts malloc, free and realloc, in
 * a program with no threads of its own: glibc allows it there (issue 18, section 2), so the
 * allocator's fork handlers must not wait for a lock the interrupted call holds.
 *
 * The main thread allocates and frees small and large blocks (a large one takes the page
 * heap's lock on every call) while an interval timer's SIGALRM, every 3 ms, forks from its
 * handler; the child _exits at once (a child of a fork in a handler calls only
 * async-signal-safe functions), the handler reaps it. After SECONDS the program checks its
 * blocks and forks once more from normal code: that child allocates, so the heap the
 * handler's forks left behind is whole.
 *
 * Usage: fork_signal [SECONDS]   (default 2). Prints "fork_signal: OK" and the count, exit 0.
 * A deadlock hangs: the test script's timeout ends it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t nforks, nfail;

static void on_alarm(int sig)
{
	(void)sig;
	int e = errno;
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0) {
		nfail++;
	} else {
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			nfail++;
		nforks++;
	}
	errno = e;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum { NSLOT = 64 };

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 3000 }, { 0, 3000 } };
	setitimer(ITIMER_REAL, &it, NULL);

	unsigned char *slot[NSLOT] = { 0 };
	size_t len[NSLOT] = { 0 };
	unsigned seed = 1;
	double end = now() + secs;
	long ops = 0;
	while (now() < end) {
		for (int k = 0; k < 1000; k++, ops++) {
			seed = seed * 1103515245 + 12345;
			int i = (int)(seed >> 16) % NSLOT;
			if (slot[i]) {
				for (size_t j = 0; j < len[i]; j += 4096)
					if (slot[i][j] != (unsigned char)i) {
						fprintf(stderr, "fork_signal: block %d changed\n", i);
						return 1;
					}
				if (seed & 0x100000) {
					free(slot[i]);
					slot[i] = NULL;
					continue;
				}
			}
			/* one in four large (40 KiB - 1 MiB): the page heap's lock */
			size_t n = (seed >> 8) % 4 == 0 ? (40u << 10) + (seed >> 4) % (1u << 20) : 16 + (seed >> 4) % 2000;
			unsigned char *p = realloc(slot[i], n);
			if (!p) {
				fprintf(stderr, "fork_signal: realloc(%zu) failed\n", n);
				return 1;
			}
			for (size_t j = 0; j < n; j += 4096)
				p[j] = (unsigned char)i;
			slot[i] = p;
			len[i] = n;
		}
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);

	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 1000; i++) {
			void *p = malloc((size_t)(i * 97) % 100000 + 1);
			if (!p)
				_exit(3);
			memset(p, 1, 1);
			free(p);
		}
		_exit(0);
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "fork_signal: the last child failed (status %#x)\n", st);
		return 1;
	}
	for (int i = 0; i < NSLOT; i++)
		free(slot[i]);
	if (nfail || nforks == 0) {
		fprintf(stderr, "fork_signal: %d forks, %d failed\n", (int)nforks, (int)nfail);
		return 1;
	}
	printf("fork_signal: OK %d forks from the handler, %ld allocations\n", (int)nforks, ops);
	return 0;
}
