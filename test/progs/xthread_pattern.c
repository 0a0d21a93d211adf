/* xthread_pattern.c — objects allocated in one thread and freed in another keep their bytes.
 *
 * NTHREADS threads each allocate objects of random sizes (mostly 16 B..1 KiB, some up to
 * 64 KiB, a few of about 1 MiB; some through calloc, which must be zero, some through
 * posix_memalign), fill each with a pattern derived from its address and a seed, and pass about
 * half of them to a random other thread through a mutex-protected queue. Every object is checked
 * in full before it is freed, by whichever thread frees it; some are grown or shrunk with
 * realloc first and the kept prefix is checked. Runs for DURATION seconds (argv[1], default 2),
 * then the threads meet at a barrier, drain their queues and free everything they hold.
 * Exit 0 on success; one line on stderr and exit 1 on the first mismatch.
 */
#include "stress_common.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>

#define NTHREADS 6
#define POOL 512   /* live objects a thread keeps before it frees one */
#define QCAP 2048  /* capacity of one thread's incoming queue */

struct obj {
	unsigned char *p;
	size_t size;
	uint64_t key;  /* pattern key: sc_key(address when filled, seed) */
};

struct queue {
	pthread_mutex_t mu;
	struct obj items[QCAP];
	size_t head, len;
};

static struct queue queues[NTHREADS];
static pthread_barrier_t stop_barrier;
static double deadline;
static atomic_ulong n_alloc, n_free, n_passed, n_realloc;

static void check_obj(const struct obj *o, int tid, const char *when)
{
	size_t bad = sc_check(o->p, o->size, o->key);
	if (bad != (size_t)-1)
		sc_die("xthread_pattern: thread %d: object %p of %zu bytes differs at offset %zu %s",
		       tid, (void *)o->p, o->size, bad, when);
}

static void release(struct obj *o, int tid)
{
	check_obj(o, tid, "before free");
	free(o->p);
	atomic_fetch_add(&n_free, 1);
}

static size_t random_size(uint64_t *rs)
{
	unsigned r = (unsigned)(sc_rand(rs) % 1000);
	if (r < 900)
		return sc_rand_range(rs, 16, 1024);
	if (r < 997)
		return sc_rand_range(rs, 1025, 64 * 1024);
	return sc_rand_range(rs, 1024 * 1024 - 64, 1024 * 1024 + 4096);
}

static struct obj make_obj(uint64_t *rs, int tid)
{
	struct obj o;
	size_t n = random_size(rs);
	unsigned how = (unsigned)(sc_rand(rs) % 16);
	if (how == 0) {
		o.p = calloc(1, n);
		if (o.p) {
			for (size_t i = 0; i < n; i++)
				if (o.p[i] != 0)
					sc_die("xthread_pattern: thread %d: calloc(1, %zu) = %p has byte %zu = 0x%02x",
					       tid, n, (void *)o.p, i, o.p[i]);
		}
	} else if (how == 1) {
		size_t align = (size_t)16 << (sc_rand(rs) % 9); /* 16 .. 4096 */
		void *p = NULL;
		int rc = posix_memalign(&p, align, n);
		if (rc != 0)
			sc_die("xthread_pattern: thread %d: posix_memalign(%zu, %zu) failed: %d", tid, align, n, rc);
		if ((uintptr_t)p % align)
			sc_die("xthread_pattern: thread %d: posix_memalign(%zu, %zu) = %p misaligned", tid, align, n, p);
		o.p = p;
	} else {
		o.p = malloc(n);
	}
	if (!o.p)
		sc_die("xthread_pattern: thread %d: allocation of %zu bytes returned NULL (errno %d)", tid, n, errno);
	if (malloc_usable_size(o.p) < n)
		sc_die("xthread_pattern: thread %d: malloc_usable_size(%p) = %zu < %zu", tid, (void *)o.p,
		       malloc_usable_size(o.p), n);
	o.size = n;
	o.key = sc_key(o.p, sc_rand(rs));
	sc_fill(o.p, n, o.key);
	atomic_fetch_add(&n_alloc, 1);
	return o;
}

/* Grows or shrinks o with realloc, checks the kept prefix, refills it for its new address. */
static void realloc_obj(struct obj *o, uint64_t *rs, int tid)
{
	check_obj(o, tid, "before realloc");
	size_t n;
	if (sc_rand(rs) & 1)
		n = o->size + sc_rand_range(rs, 1, o->size < 70000 ? 2 * o->size : 4096);
	else
		n = sc_rand_range(rs, 1, o->size);
	uintptr_t old = (uintptr_t)o->p; /* for messages only: o->p is dead after realloc */
	unsigned char *q = realloc(o->p, n);
	if (!q)
		sc_die("xthread_pattern: thread %d: realloc(%#lx, %zu) returned NULL", tid, (unsigned long)old, n);
	size_t keep = n < o->size ? n : o->size;
	size_t bad = sc_check(q, keep, o->key);
	if (bad != (size_t)-1)
		sc_die("xthread_pattern: thread %d: realloc %zu -> %zu bytes (%#lx -> %p) lost byte %zu",
		       tid, o->size, n, (unsigned long)old, (void *)q, bad);
	o->p = q;
	o->size = n;
	o->key = sc_key(q, sc_rand(rs));
	sc_fill(q, n, o->key);
	atomic_fetch_add(&n_realloc, 1);
}

static int send_obj(int to, struct obj o)
{
	struct queue *q = &queues[to];
	int ok = 0;
	pthread_mutex_lock(&q->mu);
	if (q->len < QCAP) {
		q->items[(q->head + q->len) % QCAP] = o;
		q->len++;
		ok = 1;
	}
	pthread_mutex_unlock(&q->mu);
	return ok;
}

/* Takes up to max objects from the thread's own queue into out; returns how many. */
static size_t recv_objs(int tid, struct obj *out, size_t max)
{
	struct queue *q = &queues[tid];
	size_t n = 0;
	pthread_mutex_lock(&q->mu);
	while (q->len > 0 && n < max) {
		out[n++] = q->items[q->head];
		q->head = (q->head + 1) % QCAP;
		q->len--;
	}
	pthread_mutex_unlock(&q->mu);
	return n;
}

static void *worker(void *arg)
{
	int tid = (int)(intptr_t)arg;
	uint64_t rs = sc_mix(0x1234567ULL + (uint64_t)tid) | 1;
	struct obj *pool = malloc(POOL * sizeof *pool);
	struct obj in[64];
	size_t npool = 0;
	unsigned long iter = 0;
	if (!pool)
		sc_die("xthread_pattern: thread %d: pool allocation failed", tid);

	for (;;) {
		if ((iter++ & 255) == 0 && sc_now() > deadline)
			break;
		/* adopt what other threads sent: check on arrival, keep or free at once */
		size_t got = recv_objs(tid, in, 64);
		for (size_t i = 0; i < got; i++) {
			check_obj(&in[i], tid, "on arrival from another thread");
			if (npool < POOL && (sc_rand(&rs) & 1))
				pool[npool++] = in[i];
			else
				release(&in[i], tid);
		}

		struct obj o = make_obj(&rs, tid);
		if (sc_rand(&rs) & 1) {
			int to = (int)(sc_rand(&rs) % (NTHREADS - 1));
			if (to >= tid)
				to++;
			if (send_obj(to, o)) {
				atomic_fetch_add(&n_passed, 1);
				continue;
			}
		}
		if (npool == POOL) {
			size_t victim = (size_t)(sc_rand(&rs) % POOL);
			release(&pool[victim], tid);
			pool[victim] = pool[--npool];
		}
		pool[npool++] = o;
		if (sc_rand(&rs) % 8 == 0) {
			struct obj *r = &pool[sc_rand(&rs) % npool];
			realloc_obj(r, &rs, tid);
		}
	}

	/* nobody sends after the barrier: drain the own queue, then free the pool */
	pthread_barrier_wait(&stop_barrier);
	size_t got;
	while ((got = recv_objs(tid, in, 64)) > 0)
		for (size_t i = 0; i < got; i++)
			release(&in[i], tid);
	for (size_t i = 0; i < npool; i++)
		release(&pool[i], tid);
	free(pool);
	return NULL;
}

int main(int argc, char **argv)
{
	double duration = argc > 1 ? atof(argv[1]) : 2.0;
	pthread_t th[NTHREADS];

	for (int i = 0; i < NTHREADS; i++)
		pthread_mutex_init(&queues[i].mu, NULL);
	pthread_barrier_init(&stop_barrier, NULL, NTHREADS);
	deadline = sc_now() + duration;
	for (int i = 0; i < NTHREADS; i++) {
		int rc = pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
		if (rc)
			sc_die("xthread_pattern: pthread_create: %s", strerror(rc));
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);

	unsigned long a = atomic_load(&n_alloc), f = atomic_load(&n_free);
	if (a != f)
		sc_die("xthread_pattern: %lu objects allocated but %lu freed", a, f);
	if (a < 1000)
		sc_die("xthread_pattern: only %lu objects allocated in %.1f s: too slow to be a test", a, duration);
	printf("xthread_pattern: %lu objects, %lu passed between threads, %lu reallocs: OK\n", a,
	       (unsigned long)atomic_load(&n_passed), (unsigned long)atomic_load(&n_realloc));
	return 0;
}
