/* churn.c — the heap holds under thread churn: threads come and go every round, blocks cross
 * threads and are freed by others, frees come in bursts, blocks grow by realloc.
 *
 * usage: churn [THREADS [ROUNDS [OPS]]]   (defaults 32 40 3000)
 *
 * Every round creates THREADS threads and joins them all. Each thread runs OPS random steps
 * over a private table of 64 blocks: malloc (mostly 16 B..1 KiB, some up to 40 KiB, a few
 * large), calloc (every byte checked zero before it is filled), realloc growth (the kept
 * prefix checked), a swap of a block with a slot of the shared exchange (the block it gets
 * was allocated by another thread, maybe one that has exited, and is checked and freed or
 * kept), and bursts that free the whole table at once. Every block carries the pattern of
 * stress_common.h over its whole size (a cookie in every word, keyed by its address) and is
 * checked in full before every free and realloc. A thread that ends leaves a quarter of its
 * blocks in the exchange for the next round's threads and 16 more in a "left" list that the
 * main thread frees only rounds later (blocks that outlive the thread and its cache).
 * A second phase replays the shape of a worker pool: two workers at a time, each leaving 256
 * blocks allocated when it ends, joined and replaced at once, for ROUNDS*4 workers.
 * Exit 0 and "churn: OK" on stdout on success; one line on stderr and exit 1 on the first
 * bad block.
 */
#include "stress_common.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>

#define TABLE 2048
#define XSLOTS 1024
#define LEFT_PER_THREAD 16

struct blk {
	unsigned char *p;
	size_t size;
	uint64_t seed;
};

/* The exchange: a block is published as a struct blk * (malloc'd itself, so the box too
 * crosses threads). */
static _Atomic(struct blk *) xchg[XSLOTS];
static int nthreads = 32, rounds = 40, ops = 3000;
static atomic_ulong n_ops, n_cross;

struct left {
	struct blk b[LEFT_PER_THREAD];
	int round;
	struct left *next;
};
static pthread_mutex_t left_mu = PTHREAD_MUTEX_INITIALIZER;
static struct left *left_list;

static void check(const struct blk *b, const char *when)
{
	size_t bad = sc_check(b->p, b->size, sc_key(b->p, b->seed));
	if (bad != (size_t)-1)
		sc_die("churn: block %p of %zu bytes differs at offset %zu %s", (void *)b->p, b->size, bad,
		       when);
	if (malloc_usable_size(b->p) < b->size)
		sc_die("churn: block %p of %zu bytes has usable size %zu", (void *)b->p, b->size,
		       malloc_usable_size(b->p));
}

static void release(struct blk *b)
{
	check(b, "before free");
	free(b->p);
	b->p = NULL;
}

static size_t rsize(uint64_t *rs)
{
	unsigned r = (unsigned)(sc_rand(rs) % 1000);
	if (r < 900) /* a few classes, many objects each: spans fill up and empty in bursts */
		return (size_t)8 << (sc_rand(rs) % 6);
	if (r < 990)
		return sc_rand_range(rs, 1, 4096);
	if (r < 999)
		return sc_rand_range(rs, 4097, 40000);
	return sc_rand_range(rs, 40001, 300000);
}

static void make(struct blk *b, uint64_t *rs, int zeroed)
{
	size_t n = rsize(rs);
	b->p = zeroed ? calloc(1, n) : malloc(n);
	if (!b->p)
		sc_die("churn: %s(%zu) returned NULL", zeroed ? "calloc" : "malloc", n);
	if (zeroed)
		for (size_t i = 0; i < n; i++)
			if (b->p[i])
				sc_die("churn: calloc(1, %zu) = %p: byte %zu is %#x", n, (void *)b->p, i, b->p[i]);
	b->size = n;
	b->seed = sc_rand(rs);
	sc_fill(b->p, n, sc_key(b->p, b->seed));
}

static void grow(struct blk *b, uint64_t *rs)
{
	check(b, "before realloc");
	size_t old = b->size, n = old + sc_rand_range(rs, 1, old < 4096 ? 4096 : old);
	uint64_t oldkey = sc_key(b->p, b->seed);
	uintptr_t oldp = (uintptr_t)b->p;
	unsigned char *q = realloc(b->p, n);
	if (!q)
		sc_die("churn: realloc(%zu) returned NULL", n);
	/* the prefix moves with the block: check it against the old key, then refill */
	size_t bad = sc_check(q, old, oldkey);
	if (bad != (size_t)-1)
		sc_die("churn: realloc %#lx -> %p (%zu -> %zu) lost byte %zu", (unsigned long)oldp,
		       (void *)q, old, n, bad);
	b->p = q;
	b->size = n;
	sc_fill(q, n, sc_key(q, b->seed));
}

/* Swap table slot b with a random exchange slot: what comes back came from another thread. */
static void swap(struct blk *b, uint64_t *rs)
{
	struct blk *box = NULL;
	if (b->p) {
		box = malloc(sizeof *box);
		if (!box)
			sc_die("churn: malloc(box) returned NULL");
		*box = *b;
		b->p = NULL;
	}
	struct blk *got = atomic_exchange(&xchg[sc_rand(rs) % XSLOTS], box);
	if (got) {
		*b = *got;
		free(got);
		check(b, "after crossing threads");
		atomic_fetch_add_explicit(&n_cross, 1, memory_order_relaxed);
		if (sc_rand(rs) % 2)
			release(b);
	}
}

static void *worker(void *arg)
{
	uint64_t rs = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;
	struct blk t[TABLE] = {{0}};
	for (int k = 0; k < ops; k++) {
		struct blk *b = &t[sc_rand(&rs) % TABLE];
		unsigned r = (unsigned)(sc_rand(&rs) % 100);
		if (r == 0 && sc_rand(&rs) % 8 == 0) { /* a burst: everything goes at once */
			for (int i = 0; i < TABLE; i++)
				if (t[i].p)
					release(&t[i]);
		} else if (r < 40) {
			swap(b, &rs);
		} else if (r < 50 && b->p && b->size < 100000) {
			grow(b, &rs);
		} else {
			if (b->p)
				release(b);
			make(b, &rs, r < 60);
		}
	}
	/* leave blocks behind: some to the exchange, some to the main thread for later */
	struct left *l = malloc(sizeof *l);
	if (!l)
		sc_die("churn: malloc(left) returned NULL");
	int nl = 0;
	l->round = -1;
	for (int i = 0; i < TABLE; i++) {
		if (!t[i].p)
			continue;
		if (i % 4 == 0)
			swap(&t[i], &rs);
		if (t[i].p && nl < LEFT_PER_THREAD)
			l->b[nl++] = t[i], t[i].p = NULL;
		if (t[i].p)
			release(&t[i]);
	}
	for (; nl < LEFT_PER_THREAD; nl++)
		l->b[nl].p = NULL;
	pthread_mutex_lock(&left_mu);
	l->next = left_list;
	left_list = l;
	pthread_mutex_unlock(&left_mu);
	atomic_fetch_add_explicit(&n_ops, (unsigned long)ops, memory_order_relaxed);
	return NULL;
}

/* The main thread frees what threads of three rounds ago left. */
static void free_left(int round, int all)
{
	pthread_mutex_lock(&left_mu);
	struct left **pp = &left_list;
	while (*pp) {
		struct left *l = *pp;
		if (all || l->round <= round - 3) {
			*pp = l->next;
			for (int i = 0; i < LEFT_PER_THREAD; i++)
				if (l->b[i].p)
					release(&l->b[i]);
			free(l);
		} else {
			if (l->round < 0)
				l->round = round;
			pp = &l->next;
		}
	}
	pthread_mutex_unlock(&left_mu);
}

/* Phase 3: a thread that builds up thousands of small blocks (kept in an array grown by
 * realloc) while it frees random ones and swaps others with the exchange, then frees all it
 * holds at once at its end: long runs of frees into full spans, some of whose objects other
 * threads hold and free at the same time. */
static void *burst_worker(void *arg)
{
	uint64_t id = (uint64_t)(uintptr_t)arg;
	uint64_t rs = id * 0x9e3779b97f4a7c15ULL + 3;
	size_t allocs = (size_t)ops * (1 + id % 4), retain = allocs / 2;
	struct blk **data = NULL, **kept = calloc(retain + 1, sizeof *kept);
	size_t ndata = 0, cap = 0, nkept = 0;
	if (!kept)
		sc_die("churn: calloc(kept) returned NULL");
	while (allocs > 0 || retain > 0) {
		struct blk *b = malloc(sizeof *b);
		if (!b)
			sc_die("churn: malloc(box) returned NULL");
		unsigned r = (unsigned)(sc_rand(&rs) % 100);
		size_t n = (size_t)8 << (sc_rand(&rs) % (r < 50 ? 5 : 7));
		if (sc_rand(&rs) % 100 == 0)
			n *= 100;
		b->p = (r & 1) ? calloc(1, n) : malloc(n);
		if (!b->p)
			sc_die("churn: allocation of %zu returned NULL", n);
		if (r & 1)
			for (size_t i = 0; i < n; i++)
				if (b->p[i])
					sc_die("churn: calloc(1, %zu) = %p: byte %zu is %#x", n, (void *)b->p, i, b->p[i]);
		b->size = n;
		b->seed = sc_rand(&rs);
		sc_fill(b->p, n, sc_key(b->p, b->seed));
		if (retain == 0 || (r < 50 && allocs > 0)) {
			allocs--;
			if (ndata == cap) {
				cap += 4096;
				struct blk **d = realloc(data, cap * sizeof *d);
				if (!d)
					sc_die("churn: realloc(data) returned NULL");
				data = d;
			}
			data[ndata++] = b;
		} else {
			kept[nkept++] = b;
			retain--;
		}
		if (ndata && sc_rand(&rs) % 3 != 0) { /* two in three: free an earlier one */
			size_t i = sc_rand(&rs) % ndata;
			if (data[i]) {
				release(data[i]);
				free(data[i]);
				data[i] = NULL;
			}
		}
		if (ndata && sc_rand(&rs) % 4 == 0) { /* one in four: swap with the exchange */
			size_t i = sc_rand(&rs) % ndata;
			data[i] = atomic_exchange(&xchg[sc_rand(&rs) % XSLOTS], data[i]);
			if (data[i])
				check(data[i], "after crossing threads");
		}
	}
	for (size_t i = 0; i < nkept; i++) {
		release(kept[i]);
		free(kept[i]);
	}
	for (size_t i = 0; i < ndata; i++)
		if (data[i]) {
			release(data[i]);
			free(data[i]);
		}
	free(kept);
	free(data);
	atomic_fetch_add_explicit(&n_ops, (unsigned long)ops, memory_order_relaxed);
	return NULL;
}

/* Phase 2: a worker leaves 256 blocks allocated and ends; nobody else touches them until the
 * end (no cross-thread frees while workers come and go). */
#define POOLW 256
static struct blk *pool_blocks;

static void *pool_worker(void *arg)
{
	size_t w = (size_t)(uintptr_t)arg;
	uint64_t rs = w * 0x2545f4914f6cdd1dULL + 7;
	struct blk tmp[32] = {{0}};
	for (int k = 0; k < 2000; k++) { /* some churn of its own first */
		struct blk *b = &tmp[sc_rand(&rs) % 32];
		if (b->p)
			release(b);
		make(b, &rs, k % 7 == 0);
	}
	for (int i = 0; i < 32; i++)
		if (tmp[i].p)
			release(&tmp[i]);
	for (int i = 0; i < POOLW; i++)
		make(&pool_blocks[w * POOLW + (size_t)i], &rs, 0);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		nthreads = atoi(argv[1]);
	if (argc > 2)
		rounds = atoi(argv[2]);
	if (argc > 3)
		ops = atoi(argv[3]);
	if (nthreads < 1 || rounds < 1 || ops < 1)
		sc_die("usage: churn [THREADS [ROUNDS [OPS]]]");
	pthread_t *th = malloc(sizeof *th * (size_t)nthreads);
	if (!th)
		sc_die("churn: malloc(threads) returned NULL");
	uint64_t id = 1;
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < nthreads; i++)
			if (pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)id++))
				sc_die("churn: pthread_create failed");
		for (int i = 0; i < nthreads; i++)
			pthread_join(th[i], NULL);
		free_left(r, 0);
	}
	free_left(0, 1);
	for (int i = 0; i < XSLOTS; i++) {
		struct blk *got = atomic_exchange(&xchg[i], NULL);
		if (got) {
			release(got);
			free(got);
		}
	}

	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < nthreads; i++)
			if (pthread_create(&th[i], NULL, burst_worker, (void *)(uintptr_t)id++))
				sc_die("churn: pthread_create failed");
		for (int i = 0; i < nthreads; i++)
			pthread_join(th[i], NULL);
		uint64_t rs = (uint64_t)r + 99;
		for (int i = 0; i < XSLOTS; i++) /* half the exchange is freed between rounds */
			if (sc_rand(&rs) % 2 || r + 1 == rounds) {
				struct blk *got = atomic_exchange(&xchg[i], NULL);
				if (got) {
					release(got);
					free(got);
				}
			}
	}

	size_t nw = (size_t)rounds * 4;
	pool_blocks = calloc(nw * POOLW, sizeof *pool_blocks);
	if (!pool_blocks)
		sc_die("churn: calloc(pool) returned NULL");
	pthread_t pw[2];
	for (size_t w = 0; w + 1 < nw; w += 2) {
		for (int i = 0; i < 2; i++)
			if (pthread_create(&pw[i], NULL, pool_worker, (void *)(uintptr_t)(w + (size_t)i)))
				sc_die("churn: pthread_create failed");
		for (int i = 0; i < 2; i++)
			pthread_join(pw[i], NULL);
	}
	for (size_t i = 0; i < nw * POOLW; i++)
		if (pool_blocks[i].p)
			release(&pool_blocks[i]);
	free(pool_blocks);
	free(th);
	printf("churn: OK (%lu ops, %lu blocks crossed threads)\n", (unsigned long)n_ops,
	       (unsigned long)n_cross);
	return 0;
}
