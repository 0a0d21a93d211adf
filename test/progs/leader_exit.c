/* leader_exit.c — a cycle after the main thread has called pthread_exit sees every root.
 *
 * Once the thread group's leader has exited, /proc/self/maps (the leader's view) reads empty
 * and /proc/self/pagemap cannot be opened: a collector reading its roots there finds no
 * mapping at all and frees, in collect mode, every object only a global points to (glibc's
 * own dlopen state among them: the process then crashed in _dl_fini at exit). Here objects
 * held only by a global array are checked after scvgc_collect() runs in a thread that outlived
 * the main thread, and after churn that would reuse their memory.
 * Prints "leader_exit: OK"; a lost object is a failure (exit 1).
 */
#define SCVGC_OPTIONAL
#include "stress_common.h"

#include <malloc.h>
#include <pthread.h>

#include "../../include/scvgc.h"

#define N 64
static unsigned char *held[N]; /* the only references: .bss */

static void fill(unsigned char *p, size_t n, int k)
{
	for (size_t j = 0; j < n; j++)
		p[j] = (unsigned char)(k * 31 + j);
}

static void *survivor(void *arg)
{
	pthread_join(*(pthread_t *)arg, NULL); /* the main thread has ended */
	for (int round = 0; round < 3; round++) {
		scvgc_collect();
		for (int i = 0; i < 20000; i++) /* memory a lost object's slot would go to */
			free(sc_escape(malloc(40 + (size_t)(i % 200))));
	}
	for (int k = 0; k < N; k++) {
		size_t n = 40 + (size_t)k * 8;
		if (malloc_usable_size(held[k]) < n)
			sc_die("leader_exit: object %d (held by a global) was freed", k);
		for (size_t j = 0; j < n; j++)
			if (held[k][j] != (unsigned char)(k * 31 + j))
				sc_die("leader_exit: object %d (held by a global) was overwritten at %zu", k, j);
	}
	printf("leader_exit: OK\n");
	fflush(stdout);
	return NULL;
}

int main(void)
{
	for (int k = 0; k < N; k++) {
		held[k] = malloc(40 + (size_t)k * 8);
		if (!held[k])
			sc_die("leader_exit: malloc failed");
		fill(held[k], 40 + (size_t)k * 8, k);
	}
	static pthread_t self;
	self = pthread_self();
	pthread_t t;
	if (pthread_create(&t, NULL, survivor, &self))
		sc_die("leader_exit: pthread_create failed");
	pthread_exit(NULL);
}
