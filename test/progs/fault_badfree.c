/* fault_badfree.c — bad calls into the heap each give one diagnostic and change nothing.
 *
 *   fault_badfree     (only under the preload: glibc aborts at the first of these)
 *
 * Bad calls, in order (their names on stdout, nothing else of ours on stderr):
 *   double-small       free twice of a 40-byte object
 *   double-large       free twice of a 100,000-byte object
 *   double-remote      free of a 24-byte object already freed by another thread
 *   interior-small     free of a pointer 8 bytes into a live 96-byte object
 *   interior-large     free of a pointer 4 KiB into a live 1 MiB object
 *   never-allocated    free of the slot after a live object, never handed out
 *   freed-span         free of a pointer into a large object freed already (its pages
 *                      may be free or hold another span)
 *   realloc-freed      realloc of a freed object (must return NULL, not move it)
 *   realloc-interior   realloc of an interior pointer
 * and good calls that must give no diagnostic: free, realloc and malloc_usable_size of
 * memory from glibc's own allocator (__libc_malloc: a foreign pointer, handed to glibc).
 * Around every step, live objects of several sizes are checked, and allocations made after
 * a bad call must not overlap them (an object freed twice into a free list would come back
 * twice). The last line on stdout is "fault_badfree: OK, N bad calls": faults.sh checks
 * that stderr holds exactly N lines saying "invalid pointer", one per call.
 */
#include "fault_common.h"

#include <malloc.h>

extern void *__libc_malloc(size_t);

static void *volatile v; /* bad calls go through it: gcc must neither warn nor drop them */
static fc_obj_t live[64];
static uint64_t r = 31337;
static int nbad;

static void churn(const char *step)
{
	for (int i = 0; i < 64; i++)
		fc_check(&live[i], step);
	fc_obj_t o[200];
	for (int i = 0; i < 200; i++) {
		fc_new(&o[i], i % 20 ? sc_rand_range(&r, 1, 2048) : sc_rand_range(&r, 40000, 300000), sc_rand(&r), step);
		for (int k = 0; k < 64; k++)
			if (o[i].p < live[k].p + live[k].n && live[k].p < o[i].p + o[i].n)
				sc_die("%s: a new object overlaps a live one", step);
	}
	for (int i = 0; i < 200; i++)
		fc_free(&o[i], step);
	for (int i = 0; i < 64; i++)
		fc_check(&live[i], step);
}

static void step(const char *name)
{
	printf("%s\n", name);
	fflush(stdout);
	nbad++;
}

static void *freer(void *p)
{
	free(p);
	return NULL;
}

int main(void)
{
	for (int i = 0; i < 64; i++)
		fc_new(&live[i], i % 8 ? sc_rand_range(&r, 1, 3000) : sc_rand_range(&r, 33000, 200000), sc_rand(&r), "setup");

	step("double-small");
	v = malloc(40);
	free(v);
	free(v);
	churn("double-small");

	step("double-large");
	v = malloc(100000);
	free(v);
	free(v);
	churn("double-large");

	step("double-remote");
	v = malloc(24);
	pthread_t t;
	pthread_create(&t, NULL, freer, v);
	pthread_join(t, NULL);
	free(v);
	churn("double-remote");

	step("interior-small");
	fc_obj_t a;
	fc_new(&a, 96, 1, "interior-small");
	v = a.p + 8;
	free(v);
	churn("interior-small");
	fc_free(&a, "interior-small (the object itself)");

	step("interior-large");
	fc_new(&a, 1 << 20, 2, "interior-large");
	v = a.p + 4096;
	free(v);
	churn("interior-large");
	fc_free(&a, "interior-large (the object itself)");

	step("never-allocated");
	/* an object of a rare size: the next slot of its span was never handed out */
	fc_new(&a, 20000, 3, "never-allocated");
	v = a.p + malloc_usable_size(a.p);
	free(v);
	churn("never-allocated");
	fc_free(&a, "never-allocated (the object itself)");

	step("freed-span");
	v = malloc(300000);
	unsigned char *in = (unsigned char *)v + 65536;
	free(v);
	v = in;
	free(v);
	churn("freed-span");

	step("realloc-freed");
	v = malloc(200);
	free(v);
	if (realloc(v, 400) != NULL)
		sc_die("realloc of a freed pointer returned a block");
	churn("realloc-freed");

	step("realloc-interior");
	fc_new(&a, 500, 4, "realloc-interior");
	v = a.p + 16;
	if (realloc(v, 1000) != NULL)
		sc_die("realloc of an interior pointer returned a block");
	churn("realloc-interior");
	fc_free(&a, "realloc-interior (the object itself)");

	/* foreign pointers: glibc's own blocks, no diagnostic */
	for (int i = 0; i < 100; i++) {
		size_t n = i % 10 ? 100 : 300000;
		unsigned char *g = __libc_malloc(n);
		if (!g)
			sc_die("__libc_malloc failed");
		memset(g, 0x77, n);
		if (malloc_usable_size(g) < n)
			sc_die("malloc_usable_size of a glibc block is below its size");
		g = realloc(g, n * 2);
		if (!g || g[n - 1] != 0x77)
			sc_die("realloc of a glibc block lost it");
		free(g);
	}
	churn("foreign");
	for (int i = 0; i < 64; i++)
		fc_free(&live[i], "the end");
	printf("fault_badfree: OK, %d bad calls\n", nbad);
	return 0;
}
