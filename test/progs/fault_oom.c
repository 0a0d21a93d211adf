/* fault_oom.c — out of memory: malloc returns NULL with errno ENOMEM and the program goes on.
 *
 *   sh -c 'ulimit -v KIB; exec fault_oom'     (faults.sh uses 600 MiB)
 *
 * 1. 64 MiB blocks (never touched) until malloc returns NULL: errno must be ENOMEM.
 * 2. One block freed; objects of 16 B .. 8 KiB, each written, until malloc returns NULL:
 *    ENOMEM again (the small-object path, with its side metadata, runs dry too).
 * 3. With the address space still full: calloc, realloc (the old block must stay intact),
 *    posix_memalign, aligned_alloc, memalign, valloc and strdup of a large string fail
 *    cleanly; a collection runs (a no-op without the library and in mode off).
 * 4. Everything freed: four 8 MiB blocks and 32 MiB of small objects can be allocated,
 *    filled and checked again, and stdio works.
 *    With --reuse-64m the four blocks are of 64 MiB, as in step 1: glibc manages (each is a
 *    mapping of its own); libscvgc may not, see docs/compatibility.md "Findings".
 * Prints "fault_oom: OK ..." and exits 0; one line on stderr and exit 1 otherwise.
 */
#include "fault_common.h"

#include <errno.h>
#include <malloc.h>

#define BIG ((size_t)64 << 20)
#define MAXBIG 4096
#define MAXSMALL 4000000

static void *big[MAXBIG];
static fc_obj_t *small;
/* volatile: the compiler must not see (and warn about) the impossible sizes */
static volatile size_t tib = (size_t)1 << 40, overflow = (size_t)1 << 62;

int main(int argc, char **argv)
{
	size_t again = argc > 1 && !strcmp(argv[1], "--reuse-64m") ? BIG : (size_t)8 << 20;
	void (*collect)(void) = fc_collect_fn();
	small = calloc(MAXSMALL, sizeof *small); /* before memory runs out: 96 MB, untouched */
	if (!small)
		sc_die("calloc of the object table failed");
	size_t nbig = 0;
	errno = 0;
	while (nbig < MAXBIG && (big[nbig] = malloc(BIG)) != NULL)
		nbig++;
	if (nbig == MAXBIG)
		sc_die("malloc never failed: run under ulimit -v");
	if (errno != ENOMEM)
		sc_die("malloc(64 MiB) returned NULL with errno %d, not ENOMEM", errno);
	if (nbig == 0)
		sc_die("not even one 64 MiB block: the ulimit is too low for the test");
	free(big[--nbig]);

	size_t nsmall = 0;
	uint64_t r = 7;
	for (;;) {
		if (nsmall == MAXSMALL)
			sc_die("small mallocs never failed");
		size_t n = sc_rand_range(&r, 16, 8192);
		errno = 0;
		unsigned char *p = malloc(n);
		if (!p) {
			if (errno != ENOMEM)
				sc_die("malloc(%zu) returned NULL with errno %d, not ENOMEM", n, errno);
			break;
		}
		small[nsmall].p = p;
		small[nsmall].n = n;
		small[nsmall].key = sc_key(p, nsmall);
		/* the first and last 8 bytes: enough to catch overlap, and every page is touched
		 * only as far as the objects reach */
		sc_fill(p, 8, small[nsmall].key);
		memcpy(p + n - 8, &small[nsmall].key, 8);
		nsmall++;
	}

	errno = 0;
	if (calloc(1, tib) || errno != ENOMEM)
		sc_die("calloc(1, 1 TiB) did not fail with ENOMEM");
	errno = 0;
	if (calloc(overflow, 16) || errno != ENOMEM)
		sc_die("calloc with an overflowing size did not fail with ENOMEM");
	fc_obj_t keep = {0};
	if (nsmall) { /* realloc of a live object to a size that cannot be had */
		keep = small[--nsmall];
		errno = 0;
		if (realloc(keep.p, tib) || errno != ENOMEM)
			sc_die("realloc to 1 TiB did not fail with ENOMEM");
		if (sc_check(keep.p, 8, keep.key) != (size_t)-1 || memcmp(keep.p + keep.n - 8, &keep.key, 8))
			sc_die("the block given to a failed realloc changed");
	}
	void *q = NULL;
	if (posix_memalign(&q, 4096, tib) != ENOMEM)
		sc_die("posix_memalign(4096, 1 TiB) did not return ENOMEM");
	errno = 0;
	if (aligned_alloc(65536, tib) || errno != ENOMEM)
		sc_die("aligned_alloc(65536, 1 TiB) did not fail with ENOMEM");
	errno = 0;
	if (memalign(1 << 20, tib) || errno != ENOMEM)
		sc_die("memalign(1 MiB, 1 TiB) did not fail with ENOMEM");
	errno = 0;
	if (valloc(tib) || errno != ENOMEM)
		sc_die("valloc(1 TiB) did not fail with ENOMEM");
	collect(); /* the collector itself short of memory: it may give up, never crash */

	for (size_t i = 0; i < nsmall; i++) {
		if (sc_check(small[i].p, 8, small[i].key) != (size_t)-1 ||
		    memcmp(small[i].p + small[i].n - 8, &small[i].key, 8))
			sc_die("small object %zu of %zu is corrupt after running out of memory", i, nsmall);
		free(small[i].p);
	}
	for (size_t i = 0; i < nbig; i++)
		free(big[i]);
	if (keep.p)
		free(keep.p);
	malloc_trim(0);

	/* the program goes on */
	for (int i = 0; i < 4; i++) {
		big[i] = malloc(again);
		if (!big[i])
			sc_die("malloc(%zu MiB) fails after everything was freed (block %d of 4)", again >> 20, i + 1);
		memset(big[i], i + 1, 4096);
	}
	size_t total = 0, k = 0;
	while (total < ((size_t)32 << 20)) {
		fc_new(&small[k], sc_rand_range(&r, 1, 4000), k, "after the recovery");
		total += small[k++].n;
	}
	collect();
	for (size_t i = 0; i < k; i++)
		fc_free(&small[i], "after the recovery");
	for (int i = 0; i < 4; i++)
		free(big[i]);
	free(small);
	printf("fault_oom: OK %zu blocks of 64 MiB and %zu small objects before ENOMEM\n", nbig + 1, nsmall + (keep.p != NULL));
	return 0;
}
