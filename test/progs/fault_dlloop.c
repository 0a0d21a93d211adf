/* fault_dlloop.c — dlopen and dlclose of a library with globals and TLS, in a loop, while
 * collections run.
 *
 *   fault_dlloop LIBRARY [ROUNDS]   (LIBRARY: build/test/progs/libfault_dl.so; default 300)
 *
 * Each round dlopens the library, fills its globals (main thread) and the TLS of two threads
 * with heap objects reachable only from there, runs a collection while they are the only
 * pointers, checks every object, then frees them or leaves them behind (one round in three:
 * garbage once the library is closed or the thread gone) and dlcloses it. A collector thread
 * runs scvgc_collect back to back all along (a no-op without the library and in mode off),
 * so collections also meet the library half loaded or half unloaded.
 * Prints "fault_dlloop: OK N rounds" and exits 0; one line on stderr and exit 1 otherwise.
 */
#include "fault_common.h"

#include <stdatomic.h>

typedef int fill_fn(int, uint64_t);
typedef int check_fn(int, uint64_t);
typedef void free_fn(int);

static void (*collect)(void);
static _Atomic int stop;
static _Atomic unsigned long collections;

struct lib {
	fill_fn *fill;
	check_fn *check;
	free_fn *free;
	uint64_t seed;
	int leave;
	pthread_barrier_t *filled, *collected;
};

static void *collector(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		collect();
		atomic_fetch_add(&collections, 1);
		usleep(500);
	}
	return NULL;
}

static void *tls_user(void *arg)
{
	struct lib *l = arg;
	if (!l->fill(0, l->seed))
		sc_die("thread: dl_fill ran out of memory");
	pthread_barrier_wait(l->filled);
	pthread_barrier_wait(l->collected);
	if (!l->check(0, l->seed))
		sc_die("thread: an object reachable only from the dlopen'd library's TLS is corrupt (seed %llu)",
		       (unsigned long long)l->seed);
	if (!l->leave)
		l->free(0);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		sc_die("usage: fault_dlloop LIBRARY [ROUNDS]");
	int rounds = argc > 2 ? atoi(argv[2]) : 300;
	collect = fc_collect_fn();
	pthread_t c;
	if (pthread_create(&c, NULL, collector, NULL) != 0)
		sc_die("pthread_create failed");
	pthread_barrier_t filled, collected;
	pthread_barrier_init(&filled, NULL, 3);
	pthread_barrier_init(&collected, NULL, 3);
	for (int r = 0; r < rounds; r++) {
		void *h = dlopen(argv[1], RTLD_NOW | (r % 2 ? RTLD_LOCAL : RTLD_GLOBAL));
		if (!h)
			sc_die("dlopen(%s): %s", argv[1], dlerror());
		struct lib l = {(fill_fn *)dlsym(h, "dl_fill"), (check_fn *)dlsym(h, "dl_check"),
				(free_fn *)dlsym(h, "dl_free"), (uint64_t)r * 1000003 + 17, r % 3 == 0,
				&filled, &collected};
		if (!l.fill || !l.check || !l.free)
			sc_die("dlsym: %s", dlerror());
		pthread_t t[2];
		for (int i = 0; i < 2; i++)
			if (pthread_create(&t[i], NULL, tls_user, &l) != 0)
				sc_die("pthread_create failed");
		if (!l.fill(1, l.seed))
			sc_die("main: dl_fill ran out of memory");
		pthread_barrier_wait(&filled);
		collect(); /* the library's globals and the threads' TLS are the only roots */
		pthread_barrier_wait(&collected);
		if (!l.check(1, l.seed))
			sc_die("main: an object reachable only from the dlopen'd library's globals is corrupt (round %d)", r);
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		if (!l.leave)
			l.free(1);
		if (dlclose(h) != 0)
			sc_die("dlclose: %s", dlerror());
	}
	atomic_store(&stop, 1);
	pthread_join(c, NULL);
	printf("fault_dlloop: OK %d rounds, %lu collections\n", rounds, atomic_load(&collections));
	return 0;
}
