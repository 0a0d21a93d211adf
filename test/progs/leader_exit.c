/* leader_exit.c — the roots of a process whose main thread has ended (core/roots.c R7).
 *
 * Once the main thread calls pthread_exit, the thread group leader is a zombie: /proc/self
 * names it, /proc/self/maps reads empty and /proc/self/pagemap fails, while the process goes
 * on in its other threads. The main thread fills a block that only a global points to, then
 * ends; the other thread runs two full cycles (scvgc_collect, found with dlsym: without the
 * preload the check is only the pattern) and checks the block: allocated, every byte as
 * written. A cycle that read the empty maps saw no data segment, freed the block (and every
 * block only globals reach: the loader's, stdio's), and glibc crashed at exit
 * (last_thread_exit, in collect mode, about 1 run in 10).
 * Prints "leader_exit: OK" on success; one line on stderr and exit 1 otherwise.
 */
#include "stress_common.h"

#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>

#define N 4096
static unsigned char *kept; /* the only pointer to the block */

static void *after(void *arg)
{
	pthread_join(*(pthread_t *)arg, NULL); /* the main thread has ended */
	void (*collect)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "scvgc_collect");
	if (collect) {
		collect();
		collect(); /* its start ends the first one's sweep */
	}
	if (malloc_usable_size(kept) < N)
		sc_die("leader_exit: the block only a global reaches was freed (usable size %zu)",
		       malloc_usable_size(kept));
	for (size_t i = 0; i < N; i++)
		if (kept[i] != (unsigned char)(i * 7))
			sc_die("leader_exit: the block differs at offset %zu", i);
	printf("leader_exit: OK\n");
	fflush(stdout);
	return NULL;
}

int main(void)
{
	kept = malloc(N);
	if (!kept)
		sc_die("leader_exit: malloc failed");
	for (size_t i = 0; i < N; i++)
		kept[i] = (unsigned char)(i * 7);
	static pthread_t self;
	self = pthread_self();
	pthread_t t;
	if (pthread_create(&t, NULL, after, &self))
		sc_die("leader_exit: pthread_create failed");
	pthread_exit(NULL); /* the process ends when `after` does */
}
