/* fault_threads.c — more threads than the collector's thread table and mark stack start
 * with (256 threads; they grow), all holding objects only on their stacks, through
 * collections.
 *
 *   fault_threads [THREADS]   (default 1000; 64 KiB stacks)
 *
 * Every thread builds a 20-node list whose head is only in its registers and stack (and a
 * 4 KiB object only in its __thread slot). Half the threads then wait on a barrier; the
 * other half keep allocating and freeing. The main thread runs collections (a no-op without
 * the library and in mode off) while they all exist, churns memory so that anything
 * wrongly reclaimed is reused, then releases the barrier; every thread checks its list and
 * its TLS object, churns and checks again, then exits; a second wave of threads starts while
 * the first exits, with collections running meanwhile.
 * Prints "fault_threads: OK N threads" and exits 0; one line on stderr and exit 1 otherwise.
 */
#include "fault_common.h"

#include <stdatomic.h>

struct node {
	struct node *next;
	uintptr_t self;
	uint64_t val;
};

static pthread_barrier_t ready, go;
static _Atomic int stop_churn;
static _Atomic int bad;
static __thread fc_obj_t tls_obj;

static struct node *build(uint64_t seed)
{
	struct node *h = NULL;
	for (int i = 0; i < 20; i++) {
		struct node *n = malloc(sizeof *n);
		if (!n)
			sc_die("malloc failed");
		n->next = h;
		n->self = (uintptr_t)n;
		n->val = seed + (uint64_t)i;
		h = n;
	}
	return h;
}

static void check_free(struct node *h, uint64_t seed, int do_free)
{
	int i = 19;
	for (struct node *n = h, *next; n; n = next, i--) {
		next = n->next;
		if (n->self != (uintptr_t)n || n->val != seed + (uint64_t)i)
			atomic_fetch_add(&bad, 1);
		if (do_free)
			free(n);
	}
}

static void *thread(void *arg)
{
	uint64_t id = (uintptr_t)arg;
	struct node *h = build(id * 100);
	fc_new(&tls_obj, 4096, id, "thread (TLS object)");
	uint64_t r = id | 1;
	if (id % 2) { /* churn while the others wait and the collections run */
		pthread_barrier_wait(&ready);
		while (!atomic_load(&stop_churn)) {
			fc_obj_t o;
			fc_new(&o, sc_rand_range(&r, 1, 500), sc_rand(&r), "churning thread");
			fc_free(&o, "churning thread");
		}
	} else {
		pthread_barrier_wait(&ready);
	}
	pthread_barrier_wait(&go);
	check_free(h, id * 100, 0);
	fc_check(&tls_obj, "thread (TLS object after the collections)");
	fc_obj_t o[8];
	for (int i = 0; i < 8; i++)
		fc_new(&o[i], sc_rand_range(&r, 1, 300), sc_rand(&r), "thread");
	for (int i = 0; i < 8; i++)
		fc_free(&o[i], "thread");
	check_free(h, id * 100, 1);
	fc_free(&tls_obj, "thread (TLS object)");
	return NULL;
}

static void churn(uint64_t *r)
{
	fc_obj_t o[2000];
	for (int i = 0; i < 2000; i++)
		fc_new(&o[i], sc_rand_range(r, 16, 300), sc_rand(r), "main churn");
	for (int i = 0; i < 2000; i++)
		fc_free(&o[i], "main churn");
}

static void wave(int n, pthread_t *t, void (*collect)(void), uint64_t base)
{
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 << 10);
	pthread_barrier_init(&ready, NULL, (unsigned)n + 1);
	pthread_barrier_init(&go, NULL, (unsigned)n + 1);
	atomic_store(&stop_churn, 0);
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], &a, thread, (void *)(uintptr_t)(base + (uint64_t)i)) != 0)
			sc_die("pthread_create of thread %d failed", i);
	pthread_barrier_wait(&ready);
	uint64_t r = base + 1;
	for (int k = 0; k < 3; k++) {
		collect();
		churn(&r);
	}
	atomic_store(&stop_churn, 1);
	pthread_barrier_wait(&go);
	collect(); /* while they check, free and exit */
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&ready);
	pthread_barrier_destroy(&go);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	void (*collect)(void) = fc_collect_fn();
	pthread_t *t = calloc((size_t)n, sizeof *t);
	if (!t)
		sc_die("calloc failed");
	wave(n, t, collect, 1000000);
	wave(n / 2, t, collect, 2000000);
	if (atomic_load(&bad))
		sc_die("%d list nodes were corrupt (reclaimed while reachable from a thread's stack?)", atomic_load(&bad));
	free(t);
	printf("fault_threads: OK %d threads\n", n + n / 2);
	return 0;
}
