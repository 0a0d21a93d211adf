/* fork_stdio.c — fork() from four threads while eight threads read streams with getline and
 * one calls fflush(NULL) in a loop, for a few seconds: nothing deadlocks.
 *
 * The cycle this pins down (issue 18, section 2): glibc's fork takes its stdio list lock
 * after the prepare handlers ran. A reader holds its FILE's lock and allocates inside getline
 * (the line buffer, the stream's first buffer); fflush(NULL) holds the list lock and waits
 * for that FILE's lock; a forking thread whose prepare handler took the allocator's locks
 * waits for the list lock, while the reader waits for the allocator's lock.
 *
 * Usage: fork_stdio [SECONDS]   (default 3). Prints "fork_stdio: OK" and the counts, exit 0.
 * A deadlock is ended by alarm() after SECONDS + 60 s: the program dies of SIGALRM.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { NFORK = 4, NREAD = 8 };

static _Atomic int stop;
static _Atomic long nforks, nlines, nflush;
static char text[2 << 20];
static size_t textlen;

static void *reader(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		FILE *f = fmemopen(text, textlen, "r");
		if (!f) {
			perror("fmemopen");
			exit(2);
		}
		char *line = NULL;
		size_t cap = 0;
		/* a fresh buffer for every line: getline allocates with the stream locked */
		while (!atomic_load(&stop) && getline(&line, &cap, f) > 0) {
			atomic_fetch_add(&nlines, 1);
			free(line);
			line = NULL;
			cap = 0;
		}
		free(line);
		fclose(f);
	}
	return NULL;
}

static void *flusher(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		fflush(NULL);
		atomic_fetch_add(&nflush, 1);
	}
	return NULL;
}

static void *forker(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			exit(2);
		}
		if (pid == 0) {
			/* the child's heap works */
			void *p = malloc(100), *q = malloc(50000);
			if (!p || !q)
				_exit(3);
			memset(p, 1, 100);
			memset(q, 2, 50000);
			free(p);
			free(q);
			_exit(0);
		}
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "fork_stdio: a child failed (status %#x)\n", st);
			exit(1);
		}
		atomic_fetch_add(&nforks, 1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3;
	alarm((unsigned)secs + 60);
	/* lines of 1 to ~300 bytes, and every 8th of 40 to 100 KiB: getline's buffer for those is
	 * a large object, whose allocation takes the heap's lock every time */
	for (int i = 0; textlen < sizeof text - (110 << 10); i++) {
		int n = i % 8 == 7 ? (40 << 10) + (i * 7919) % (60 << 10) : 1 + (i * 37) % 300;
		memset(text + textlen, 'a' + i % 26, (size_t)n);
		textlen += (size_t)n;
		text[textlen++] = '\n';
	}
	pthread_t t[NFORK + NREAD + 1];
	int k = 0;
	for (int i = 0; i < NREAD; i++)
		pthread_create(&t[k++], NULL, reader, NULL);
	pthread_create(&t[k++], NULL, flusher, NULL);
	for (int i = 0; i < NFORK; i++)
		pthread_create(&t[k++], NULL, forker, NULL);
	struct timespec ts = { (time_t)secs, (long)((secs - (time_t)secs) * 1e9) };
	nanosleep(&ts, NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < k; i++)
		pthread_join(t[i], NULL);
	printf("fork_stdio: OK %ld forks, %ld lines, %ld fflush(NULL)\n", atomic_load(&nforks),
	       atomic_load(&nlines), atomic_load(&nflush));
	return atomic_load(&nforks) > 0 ? 0 : 1;
}
