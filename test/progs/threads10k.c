/* threads10k.c — a program that creates and joins 10,000 short-lived threads keeps a sane heap.
 *
 * Threads are created in batches of BATCH running at once. Each thread mallocs a few objects of
 * random sizes (one of 256 KiB now and then), fills and checks them, frees most of them itself,
 * leaves one or two for the main thread, which checks and frees them after the join, and
 * returns a last one through pthread_join. Every tenth thread frees nothing itself, so its
 * cache has to be flushed at thread exit with objects still out. At the end the resident set
 * must stay bounded: a heap that keeps dead threads' caches grows by 10,000 caches.
 * Exit 0 on success; one line on stderr and exit 1 on failure.
 */
#include "stress_common.h"

#include <errno.h>
#include <pthread.h>

#define NTHREADS 10000
#define BATCH 50
#define LEFT 2            /* objects each thread leaves in the shared table */
#define RSS_LIMIT_MB 256  /* live data is well under 1 MiB at any time */

struct obj {
	unsigned char *p;
	size_t size;
	uint64_t key;
};

static struct obj left[NTHREADS][LEFT];

static void check(const struct obj *o, int id, const char *who)
{
	size_t bad = sc_check(o->p, o->size, o->key);
	if (bad != (size_t)-1)
		sc_die("threads10k: thread %d's object %p of %zu bytes differs at offset %zu (checked by %s)",
		       id, (void *)o->p, o->size, bad, who);
}

static struct obj alloc_obj(uint64_t *rs, int id)
{
	struct obj o;
	o.size = sc_rand(rs) % 16 == 0 ? 256 * 1024 : sc_rand_range(rs, 1, 4096);
	o.p = malloc(o.size);
	if (!o.p)
		sc_die("threads10k: thread %d: malloc(%zu) returned NULL (errno %d)", id, o.size, errno);
	o.key = sc_key(o.p, (uint64_t)id);
	sc_fill(o.p, o.size, o.key);
	return o;
}

/* What a thread returns through pthread_join: objects the main thread must check and free. */
struct handoff {
	int count;
	struct obj objs[9];
};

static void *thread_main(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint64_t rs = sc_mix((uint64_t)id + 99) | 1;
	struct obj mine[8];
	int n = 2 + (int)(sc_rand(&rs) % 6);
	for (int i = 0; i < n; i++)
		mine[i] = alloc_obj(&rs, id);
	for (int i = 0; i < LEFT; i++)
		left[id][i] = alloc_obj(&rs, id);
	struct handoff *h = malloc(sizeof *h);
	if (!h)
		sc_die("threads10k: thread %d: malloc(%zu) returned NULL", id, sizeof *h);
	h->count = 0;
	h->objs[h->count++] = alloc_obj(&rs, id);
	for (int i = 0; i < n; i++) {
		if (id % 10 == 0) {
			h->objs[h->count++] = mine[i]; /* this thread exits with all of them out */
		} else {
			check(&mine[i], id, "itself");
			free(mine[i].p);
		}
	}
	return h;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

int main(void)
{
	pthread_t th[BATCH];
	double t0 = sc_now();
	long freed_by_main = 0;

	for (int base = 0; base < NTHREADS; base += BATCH) {
		for (int i = 0; i < BATCH; i++) {
			int rc = pthread_create(&th[i], NULL, thread_main, (void *)(intptr_t)(base + i));
			if (rc)
				sc_die("threads10k: pthread_create of thread %d: %s", base + i, strerror(rc));
		}
		for (int i = 0; i < BATCH; i++) {
			int id = base + i;
			void *rv;
			int rc = pthread_join(th[i], &rv);
			if (rc)
				sc_die("threads10k: pthread_join of thread %d: %s", id, strerror(rc));
			struct handoff *h = rv;
			if (!h)
				sc_die("threads10k: thread %d returned NULL", id);
			for (int k = 0; k < h->count; k++) {
				check(&h->objs[k], id, "main after join");
				free(h->objs[k].p);
				freed_by_main++;
			}
			free(h);
			for (int k = 0; k < LEFT; k++) {
				check(&left[id][k], id, "main after join");
				free(left[id][k].p);
				left[id][k].p = NULL;
				freed_by_main++;
			}
		}
	}

	long kb = rss_kb();
	if (kb > RSS_LIMIT_MB * 1024L)
		sc_die("threads10k: resident set is %ld MiB after %d threads came and went (limit %d MiB): "
		       "do exiting threads give their cached memory back?", kb / 1024, NTHREADS, RSS_LIMIT_MB);
	printf("threads10k: %d threads, %ld objects freed by main, %.1f s, RSS %ld MiB: OK\n",
	       NTHREADS, freed_by_main, sc_now() - t0, kb / 1024);
	return 0;
}
