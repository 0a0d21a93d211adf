/* bad_free.c — a double free or a free of an interior pointer is reported and ignored, and the
 * heap stays sound afterwards.
 *
 * Only meaningful under libscvgc: glibc aborts on the first of these. The program makes, in
 * order (the step names are printed on stdout, never on stderr, so that stderr holds only what
 * the allocator says):
 *   1. a double free of a 32-byte object,
 *   2. a double free of a 20,000-byte object,
 *   3. a double free of a 3 MiB object,
 *   4. a double free of a 48-byte object whose first free ran in another thread,
 *   5. a free of a pointer 16 bytes into a live 64-byte object,
 *   6. a free of a pointer 8 KiB into a live 2 MiB object.
 * After each, it allocates a few hundred objects of the same size and of other sizes, keeps
 * them all live at once and checks their contents (an object freed twice into a free list
 * comes back twice and shows as an overlap), and for 5 and 6 checks that the object that was
 * wrongly freed is still intact and can then be freed properly.
 * Prints "bad_free: OK" on stdout and exits 0 when the heap held up; one line on stderr and
 * exit 1 otherwise. The test script counts the allocator's diagnostics on stderr.
 */
#include "stress_common.h"

#include <pthread.h>

#define NCHURN 300

/* The bad frees go through a volatile pointer so that gcc neither warns nor drops them. */
static void *volatile victim;

struct obj {
	unsigned char *p;
	size_t n;
	uint64_t key;
};

static void step(const char *what)
{
	printf("bad_free: %s\n", what);
	fflush(stdout);
}

/* Allocates NCHURN objects, a third of them of size same, the rest of mixed sizes; checks
 * them all while all are live; frees them. */
static void churn(size_t same, const char *after)
{
	static struct obj o[NCHURN];
	uint64_t rs = sc_mix(same) | 1;
	for (int i = 0; i < NCHURN; i++) {
		size_t n;
		if (i % 3 == 0 && (same <= 100000 || i < 30))
			n = same; /* a big size: only ten of them */
		else if (same > 100000 && i < 30)
			n = sc_rand_range(&rs, same / 2, same * 2);
		else
			n = sc_rand_range(&rs, 1, 5000);
		o[i].p = malloc(n);
		if (!o[i].p)
			sc_die("bad_free: after %s: malloc(%zu) returned NULL", after, n);
		o[i].n = n;
		o[i].key = sc_key(o[i].p, (uint64_t)i);
		sc_fill(o[i].p, n, o[i].key);
	}
	for (int i = 0; i < NCHURN; i++) {
		size_t bad = sc_check(o[i].p, o[i].n, o[i].key);
		if (bad != (size_t)-1) {
			int other = -1;
			for (int j = 0; j < NCHURN; j++)
				if (j != i && o[j].p < o[i].p + o[i].n && o[i].p < o[j].p + o[j].n)
					other = j;
			sc_die("bad_free: after %s: object %d (%p, %zu bytes) changed at byte %zu%s", after, i,
			       (void *)o[i].p, o[i].n, bad,
			       other >= 0 ? ": it overlaps another live object (handed out twice)" : "");
		}
	}
	for (int i = 0; i < NCHURN; i++)
		free(o[i].p);
}

static void free_twice(size_t n, const char *what)
{
	step(what);
	unsigned char *p = malloc(n);
	if (!p)
		sc_die("bad_free: malloc(%zu) returned NULL", n);
	memset(p, 0x5c, n);
	victim = p;
	free(victim);
	free(victim);
	churn(n, what);
}

static void *free_in_thread(void *arg)
{
	(void)arg;
	free(victim);
	return NULL;
}

static void interior_free(size_t n, size_t off, const char *what)
{
	step(what);
	unsigned char *p = malloc(n);
	if (!p)
		sc_die("bad_free: malloc(%zu) returned NULL", n);
	uint64_t key = sc_key(p, n);
	sc_fill(p, n, key);
	victim = p + off;
	free(victim);
	churn(n, what);
	size_t bad = sc_check(p, n, key);
	if (bad != (size_t)-1)
		sc_die("bad_free: after %s: the live object changed at byte %zu", what, bad);
	free(p); /* the proper free still works */
	churn(n, what);
}

int main(void)
{
	churn(32, "start");
	free_twice(32, "double free of a 32-byte object");
	free_twice(20000, "double free of a 20000-byte object");
	free_twice(3u << 20, "double free of a 3 MiB object");

	step("double free of a 48-byte object first freed by another thread");
	victim = malloc(48);
	if (!victim)
		sc_die("bad_free: malloc(48) returned NULL");
	memset(victim, 0x3c, 48);
	pthread_t t;
	int rc = pthread_create(&t, NULL, free_in_thread, NULL);
	if (rc)
		sc_die("bad_free: pthread_create: %s", strerror(rc));
	pthread_join(t, NULL);
	free(victim);
	churn(48, "double free across threads");

	interior_free(64, 16, "free of a pointer 16 bytes into a 64-byte object");
	interior_free(2u << 20, 8192, "free of a pointer 8 KiB into a 2 MiB object");

	printf("bad_free: OK\n");
	return 0;
}
