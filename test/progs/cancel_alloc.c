/* cancel_alloc.c — threads cancelled while they allocate never leave the heap locked.
 *
 * usage: cancel_alloc [ROUNDS]   (default 100)
 * Each round starts a thread that allocates and frees in a loop (a few objects kept, so the
 * heap grows and collections start from its mallocs), calling pthread_testcancel() between
 * batches; the main thread lets it run 10 ms, cancels it (deferred cancellation) and joins it.
 * A cancellation point reached inside the library (the open or read of /proc files, a write
 * of a trace line, in a cycle started by malloc) would unwind the thread with the core's
 * locks held, and the next cycle would wait on them forever. Exit 0 and "cancel_alloc: OK";
 * a hang is the failure (the test runs it under a timeout).
 */
#include "stress_common.h"

#include <pthread.h>

static void *worker(void *arg)
{
	uint64_t rs = (uint64_t)(uintptr_t)arg * 7919 + 1;
	void *keep[256] = {0};
	for (;;) {
		for (int i = 0; i < 2000; i++) {
			size_t k = sc_rand(&rs) % 256;
			free(keep[k]);
			keep[k] = malloc(sc_rand_range(&rs, 16, 4096));
			if (!keep[k])
				sc_die("cancel_alloc: malloc returned NULL");
			memset(keep[k], 1, 16);
		}
		pthread_testcancel();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 100;
	for (int r = 0; r < rounds; r++) {
		pthread_t t;
		if (pthread_create(&t, NULL, worker, (void *)(uintptr_t)(r + 1)))
			sc_die("cancel_alloc: pthread_create failed");
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
		pthread_cancel(t);
		pthread_join(t, NULL);
	}
	void *p = malloc(100); /* the heap still works */
	free(p);
	printf("cancel_alloc: OK\n");
	return 0;
}
