/* api_edges.c — every malloc entry point glibc offers behaves as glibc documents it.
 *
 * Covers malloc(0), calloc overflow and zeroing (also over dirty memory and at 64 MiB), realloc
 * edge cases and content preservation across every size boundary from 16 B to 4 MiB,
 * reallocarray overflow, memalign / posix_memalign / aligned_alloc for every power-of-two
 * alignment up to 4 MiB, posix_memalign's EINVAL cases, valloc / pvalloc, malloc_usable_size,
 * huge requests (ENOMEM), malloc_trim, mallinfo2, mallopt, malloc_stats, and free_sized /
 * free_aligned_sized (C23; looked up with dlsym because glibc 2.36 has no prototypes).
 *
 * Flags, passed by the test script when the program runs under libscvgc:
 *   --expect-free-sized  free_sized and free_aligned_sized must be found with dlsym.
 *   --strict             aligned_alloc with an alignment that is not a power of two fails with
 *                        EINVAL (glibc >= 2.38 does this; glibc 2.36 rounds the alignment up).
 *   --mallinfo           mallinfo2 must account for the bytes the program holds (glibc's own
 *                        mallinfo2 does; an allocator preloaded without one reports glibc's
 *                        empty arena).
 * Each failed check prints one "api_edges: FAIL ..." line on stdout; the exit status is 1 when
 * any check failed, 0 otherwise.
 */
#include "stress_common.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>

static int failures;
static bool expect_free_sized, strict, check_mallinfo;

#define CHECK(cond, ...)                                       \
	do {                                                   \
		if (!(cond)) {                                 \
			printf("api_edges: FAIL %s:%d: ", __func__, __LINE__); \
			printf(__VA_ARGS__);                   \
			printf("\n");                          \
			fflush(stdout);                        \
			failures++;                            \
		}                                              \
	} while (0)

/* Sizes the compiler cannot see, so that it neither warns about nor folds huge requests. */
static volatile size_t v_size_max = SIZE_MAX;
static volatile size_t v_half = SIZE_MAX / 2;
static volatile size_t v_huge = (size_t)1 << 62;
static volatile size_t v_zero = 0;
static volatile size_t v_4g = (size_t)1 << 32;

static void fill(void *p, size_t n, uint64_t seed) { sc_fill(p, n, sc_key(p, seed)); }
static bool intact(const void *p, size_t n, uint64_t seed) { return sc_check(p, n, sc_key(p, seed)) == (size_t)-1; }

static void test_malloc_zero(void)
{
	enum { N = 64 };
	void *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = sc_escape(malloc(v_zero));
		CHECK(p[i] != NULL, "malloc(0) returned NULL");
		for (int j = 0; j < i; j++)
			CHECK(p[i] != p[j] || !p[i], "malloc(0) returned %p twice", p[i]);
	}
	for (int i = 0; i < N; i++)
		free(p[i]);
	free(NULL); /* free(NULL) does nothing */
	void *c = sc_escape(calloc(v_zero, 16));
	CHECK(c != NULL, "calloc(0, 16) returned NULL");
	free(c);
	c = sc_escape(calloc(16, v_zero));
	CHECK(c != NULL, "calloc(16, 0) returned NULL");
	free(c);
}

static void test_huge(void)
{
	size_t sizes[] = { v_size_max, v_size_max - 4096, v_huge, v_half + 1 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		errno = 0;
		void *p = sc_escape(malloc(sizes[i]));
		CHECK(p == NULL && errno == ENOMEM, "malloc(%#zx) = %p, errno %d (want NULL, ENOMEM)", sizes[i], p, errno);
		free(p);
		errno = 0;
		p = sc_escape(realloc(NULL, sizes[i]));
		CHECK(p == NULL && errno == ENOMEM, "realloc(NULL, %#zx) = %p, errno %d (want NULL, ENOMEM)", sizes[i], p, errno);
		free(p);
		errno = 0;
		p = sc_escape(calloc(1, sizes[i]));
		CHECK(p == NULL && errno == ENOMEM, "calloc(1, %#zx) = %p, errno %d (want NULL, ENOMEM)", sizes[i], p, errno);
		free(p);
		errno = 0;
		p = sc_escape(memalign(64, sizes[i]));
		CHECK(p == NULL && errno == ENOMEM, "memalign(64, %#zx) = %p, errno %d (want NULL, ENOMEM)", sizes[i], p, errno);
		free(p);
		p = NULL;
		int rc = posix_memalign(&p, 4096, sizes[i]);
		CHECK(rc == ENOMEM, "posix_memalign(4096, %#zx) returned %d (want ENOMEM)", sizes[i], rc);
		if (rc == 0)
			free(p);
	}
	/* a failed realloc leaves the block alone */
	unsigned char *b = malloc(100);
	CHECK(b != NULL, "malloc(100) returned NULL");
	if (!b)
		return;
	fill(b, 100, 1);
	errno = 0;
	void *q = sc_escape(realloc(b, v_huge));
	CHECK(q == NULL && errno == ENOMEM, "realloc(p, 1<<62) = %p, errno %d (want NULL, ENOMEM)", q, errno);
	if (q) {
		free(q);
		return;
	}
	CHECK(intact(b, 100, 1), "realloc(p, 1<<62) failed but changed p's contents");
	free(b);
}

static void test_calloc(void)
{
	errno = 0;
	void *p = sc_escape(calloc(v_half, 3));
	CHECK(p == NULL && errno == ENOMEM, "calloc(SIZE_MAX/2, 3) = %p, errno %d (want NULL, ENOMEM)", p, errno);
	free(p);
	errno = 0;
	p = sc_escape(calloc(3, v_half));
	CHECK(p == NULL && errno == ENOMEM, "calloc(3, SIZE_MAX/2) = %p, errno %d (want NULL, ENOMEM)", p, errno);
	free(p);
	errno = 0;
	p = sc_escape(calloc(v_4g, v_4g));
	CHECK(p == NULL && errno == ENOMEM, "calloc(1<<32, 1<<32) = %p, errno %d (want NULL, ENOMEM)", p, errno);
	free(p);

	/* calloc over memory that was just freed dirty, at many sizes, several times each so that
	 * the same slot comes back from the thread cache */
	static const size_t sizes[] = { 1, 8, 16, 24, 48, 100, 128, 500, 1000, 1024, 4000, 4096, 8192,
					12345, 32768, 40000, 65536, 100000, 262144, 300000,
					1 << 20, (1 << 20) + 1, 2 << 20, 5 << 20 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = sizes[i];
		for (int round = 0; round < 4; round++) {
			unsigned char *d = malloc(n);
			CHECK(d != NULL, "malloc(%zu) returned NULL", n);
			if (!d)
				break;
			memset(d, 0xa5, n);
			free(sc_escape(d));
			unsigned char *z = calloc(1, n);
			CHECK(z != NULL, "calloc(1, %zu) returned NULL", n);
			if (!z)
				break;
			size_t bad = (size_t)-1;
			for (size_t k = 0; k < n; k++)
				if (z[k]) {
					bad = k;
					break;
				}
			CHECK(bad == (size_t)-1, "calloc(1, %zu) after freeing a dirty block of that size: byte %zu is 0x%02x",
			      n, bad, bad == (size_t)-1 ? 0 : z[bad]);
			/* leave this one dirty for the next round */
			memset(z, 0x5a, n);
			free(z);
		}
	}
	/* calloc(n, size) with a count, not just calloc(1, n) */
	unsigned *a = calloc(1000, sizeof *a);
	CHECK(a != NULL, "calloc(1000, 4) returned NULL");
	if (a) {
		for (int k = 0; k < 1000; k++)
			CHECK(a[k] == 0, "calloc(1000, 4)[%d] = %u", k, a[k]);
		free(a);
	}
	/* a large calloc is all zero */
	size_t big = 64u << 20;
	unsigned char *g = calloc(big, 1);
	CHECK(g != NULL, "calloc(64 MiB, 1) returned NULL");
	if (g) {
		size_t bad = (size_t)-1;
		const uint64_t *w = (const uint64_t *)g;
		for (size_t k = 0; k < big / 8; k++)
			if (w[k]) {
				bad = k * 8;
				break;
			}
		CHECK(bad == (size_t)-1, "calloc(64 MiB, 1): word at offset %zu is not zero", bad);
		memset(g, 0xff, big);
		free(g);
		g = calloc(big / 16, 16);
		CHECK(g != NULL, "calloc(4 Mi, 16) returned NULL");
		if (g) {
			bad = (size_t)-1;
			w = (const uint64_t *)g;
			for (size_t k = 0; k < big / 8; k++)
				if (w[k]) {
					bad = k * 8;
					break;
				}
			CHECK(bad == (size_t)-1, "calloc(4 Mi, 16) after freeing a dirty 64 MiB block: offset %zu is not zero", bad);
			free(g);
		}
	}
}

/* The sizes at which an allocator's behaviour changes: every multiple of 8 up to 1 KiB, every
 * multiple of 64 up to 8 KiB, then each power of two up to 4 MiB with its neighbours, and a few
 * odd sizes in between. Returns the count written to out. */
static size_t boundary_sizes(size_t *out, size_t max)
{
	size_t n = 0;
	for (size_t s = 16; s <= 1024 && n < max; s += 8)
		out[n++] = s;
	for (size_t s = 1024 + 64; s <= 8192 && n < max; s += 64)
		out[n++] = s;
	for (size_t s = 16384; s <= ((size_t)4 << 20) && n + 5 < max; s *= 2) {
		out[n++] = s / 2 + s / 4 + 7;
		out[n++] = s - 8;
		out[n++] = s - 1;
		out[n++] = s;
		out[n++] = s + 1;
	}
	return n;
}

static void test_realloc(void)
{
	size_t sizes[512];
	size_t ns = boundary_sizes(sizes, 512);

	/* realloc(NULL, n) is malloc(n) */
	unsigned char *p = realloc(NULL, 100);
	CHECK(p != NULL, "realloc(NULL, 100) returned NULL");
	if (!p)
		return;
	fill(p, 100, 2);
	CHECK(malloc_usable_size(p) >= 100, "malloc_usable_size(realloc(NULL, 100)) = %zu", malloc_usable_size(p));

	/* realloc(p, 0) frees p and returns NULL, as glibc does */
	void *r = sc_escape(realloc(p, v_zero));
	CHECK(r == NULL, "realloc(p, 0) returned %p (glibc frees p and returns NULL)", r);
	free(r);

	/* grow step by step across every boundary: the kept prefix survives every move */
	p = NULL;
	size_t cur = 0;
	uint64_t key = 0;
	for (size_t i = 0; i < ns; i++) {
		size_t n = sizes[i];
		unsigned char *q = realloc(p, n);
		CHECK(q != NULL, "realloc(%zu -> %zu) returned NULL", cur, n);
		if (!q)
			return;
		if (cur) {
			size_t bad = sc_check(q, cur, key);
			CHECK(bad == (size_t)-1, "realloc grow %zu -> %zu: byte %zu changed", cur, n, bad);
		}
		CHECK(malloc_usable_size(q) >= n, "realloc grow to %zu: usable size %zu", n, malloc_usable_size(q));
		p = q;
		cur = n;
		key = sc_key(q, i);
		sc_fill(q, n, key);
	}
	/* and shrink all the way down again */
	for (size_t i = ns; i-- > 0;) {
		size_t n = sizes[i];
		unsigned char *q = realloc(p, n);
		CHECK(q != NULL, "realloc(%zu -> %zu) returned NULL", cur, n);
		if (!q)
			return;
		size_t bad = sc_check(q, n, key);
		CHECK(bad == (size_t)-1, "realloc shrink %zu -> %zu: byte %zu changed", cur, n, bad);
		CHECK(malloc_usable_size(q) >= n, "realloc shrink to %zu: usable size %zu", n, malloc_usable_size(q));
		p = q;
		cur = n;
		key = sc_key(q, i + 1000);
		sc_fill(q, n, key);
	}
	free(p);

	/* fresh block for every pair (a, b) of neighbouring and distant boundary sizes */
	for (size_t i = 0; i < ns; i += 3) {
		size_t targets[] = { sizes[(i + 1) % ns], sizes[(i + ns / 2) % ns], sizes[i] > 1 ? sizes[i] - 1 : 1,
				     sizes[i] + 1, sizes[i] / 3 + 1 };
		for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
			size_t a = sizes[i], b = targets[t];
			unsigned char *x = malloc(a);
			CHECK(x != NULL, "malloc(%zu) returned NULL", a);
			if (!x)
				return;
			uint64_t k = sc_key(x, a ^ b);
			sc_fill(x, a, k);
			unsigned char *y = realloc(x, b);
			CHECK(y != NULL, "realloc(%zu -> %zu) returned NULL", a, b);
			if (!y)
				return;
			size_t keep = a < b ? a : b;
			size_t bad = sc_check(y, keep, k);
			CHECK(bad == (size_t)-1, "realloc %zu -> %zu: byte %zu of the kept %zu changed", a, b, bad, keep);
			CHECK(malloc_usable_size(y) >= b, "realloc %zu -> %zu: usable size %zu", a, b, malloc_usable_size(y));
			memset(y, 0x33, b);
			free(y);
		}
	}
}

static void test_reallocarray(void)
{
	errno = 0;
	void *p = sc_escape(reallocarray(NULL, v_half, 3));
	CHECK(p == NULL && errno == ENOMEM, "reallocarray(NULL, SIZE_MAX/2, 3) = %p, errno %d (want NULL, ENOMEM)", p, errno);
	free(p);
	unsigned char *b = reallocarray(NULL, 10, 10);
	CHECK(b != NULL, "reallocarray(NULL, 10, 10) returned NULL");
	if (!b)
		return;
	CHECK(malloc_usable_size(b) >= 100, "reallocarray(NULL, 10, 10): usable size %zu", malloc_usable_size(b));
	uint64_t key = sc_key(b, 3);
	sc_fill(b, 100, key);
	errno = 0;
	p = sc_escape(reallocarray(b, 3, v_half));
	CHECK(p == NULL && errno == ENOMEM, "reallocarray(p, 3, SIZE_MAX/2) = %p, errno %d (want NULL, ENOMEM)", p, errno);
	if (p) {
		free(p);
		return;
	}
	CHECK(sc_check(b, 100, key) == (size_t)-1, "reallocarray overflow failed but changed the block");
	unsigned char *c = reallocarray(b, 1000, 8);
	CHECK(c != NULL, "reallocarray(p, 1000, 8) returned NULL");
	if (!c)
		return;
	CHECK(sc_check(c, 100, key) == (size_t)-1, "reallocarray(p, 1000, 8) lost the first 100 bytes");
	CHECK(malloc_usable_size(c) >= 8000, "reallocarray(p, 1000, 8): usable size %zu", malloc_usable_size(c));
	memset(c, 1, 8000);
	free(c);
}

/* One aligned allocation: checks alignment, usable size, and writes a pattern the caller checks
 * after all the blocks of the same alignment are out (so overlapping blocks show). */
struct ablk {
	unsigned char *p;
	size_t n;
	uint64_t key;
};

static void take_aligned(struct ablk *b, void *p, size_t align, size_t n, const char *fn)
{
	b->p = p;
	b->n = n;
	CHECK(p != NULL, "%s(align %zu, size %zu) returned NULL (errno %d)", fn, align, n, errno);
	if (!p)
		return;
	CHECK((uintptr_t)p % align == 0, "%s(align %zu, size %zu) = %p is not aligned", fn, align, n, p);
	CHECK(malloc_usable_size(p) >= n, "%s(align %zu, size %zu): malloc_usable_size = %zu", fn, align, n,
	      malloc_usable_size(p));
	b->key = sc_key(p, align * 7 + n);
	sc_fill(p, n, b->key);
}

static void test_aligned(void)
{
	enum { PER = 4 * 3 };
	for (size_t align = 1; align <= ((size_t)4 << 20); align *= 2) {
		size_t ns[4] = { 1, align - 1, align, 3 * align + 5 };
		struct ablk blk[PER];
		int nb = 0;
		for (int i = 0; i < 4; i++) {
			size_t n = ns[i];
			if (n == 0)
				continue; /* align 1: size align-1 is 0 */
			errno = 0;
			take_aligned(&blk[nb++], memalign(align, n), align, n, "memalign");
			errno = 0;
			take_aligned(&blk[nb++], aligned_alloc(align, n), align, n, "aligned_alloc");
			if (align >= sizeof(void *)) {
				void *p = (void *)0x1;
				int rc = posix_memalign(&p, align, n);
				CHECK(rc == 0, "posix_memalign(align %zu, size %zu) returned %d", align, n, rc);
				take_aligned(&blk[nb++], rc == 0 ? p : NULL, align, n, "posix_memalign");
			}
		}
		for (int i = 0; i < nb; i++) {
			if (!blk[i].p)
				continue;
			size_t bad = sc_check(blk[i].p, blk[i].n, blk[i].key);
			CHECK(bad == (size_t)-1, "aligned block %p (align %zu, size %zu) changed at byte %zu while other "
			      "blocks of that alignment were written: overlap?", (void *)blk[i].p, align, blk[i].n, bad);
			free(blk[i].p);
		}
	}

	/* posix_memalign rejects alignments that are not a power of two or not a multiple of
	 * sizeof(void *), and leaves *memptr alone */
	static const size_t bad_aligns[] = { 0, 1, 2, 4, 12, 24, 40, 48, 96, 4097, 3 << 20, (size_t)1 << 63 | 8 };
	for (size_t i = 0; i < sizeof bad_aligns / sizeof bad_aligns[0]; i++) {
		void *sentinel = (void *)0x5a5a5a5a;
		void *p = sentinel;
		int rc = posix_memalign(&p, bad_aligns[i], 64);
		CHECK(rc == EINVAL, "posix_memalign(&p, %zu, 64) returned %d (want EINVAL)", bad_aligns[i], rc);
		CHECK(p == sentinel, "posix_memalign(&p, %zu, 64) failed but changed *memptr to %p", bad_aligns[i], p);
		if (rc == 0 && p != sentinel)
			free(p);
	}

	/* aligned_alloc(3, 10): 3 is not a valid alignment */
	errno = 0;
	void *p = sc_escape(aligned_alloc(3, 10));
	if (strict)
		CHECK(p == NULL && errno == EINVAL, "aligned_alloc(3, 10) = %p, errno %d (want NULL, EINVAL)", p, errno);
	free(p);
	/* memalign with a non-power-of-two alignment rounds it up (glibc) and still works */
	unsigned char *m = memalign(24, 100);
	CHECK(m != NULL && (uintptr_t)m % 8 == 0, "memalign(24, 100) = %p", (void *)m);
	if (m) {
		memset(m, 1, 100);
		free(m);
	}
}

static void test_valloc(void)
{
	long page = sysconf(_SC_PAGESIZE);
	static const size_t sizes[] = { 1, 100, 4095, 4096, 4097, 10000, 65536, 1 << 20 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = sizes[i];
		unsigned char *v = valloc(n);
		CHECK(v != NULL && (uintptr_t)v % (uintptr_t)page == 0, "valloc(%zu) = %p (want page-aligned)", n, (void *)v);
		if (v) {
			CHECK(malloc_usable_size(v) >= n, "valloc(%zu): usable size %zu", n, malloc_usable_size(v));
			memset(v, 0x77, n);
			free(v);
		}
		size_t rounded = (n + (size_t)page - 1) / (size_t)page * (size_t)page;
		unsigned char *pv = pvalloc(n);
		CHECK(pv != NULL && (uintptr_t)pv % (uintptr_t)page == 0, "pvalloc(%zu) = %p (want page-aligned)", n, (void *)pv);
		if (pv) {
			CHECK(malloc_usable_size(pv) >= rounded, "pvalloc(%zu): usable size %zu, want >= %zu (size rounded up to a page)",
			      n, malloc_usable_size(pv), rounded);
			memset(pv, 0x78, rounded);
			free(pv);
		}
	}
	unsigned char *pv = pvalloc(v_zero);
	CHECK(pv != NULL, "pvalloc(0) returned NULL");
	free(pv);
}

static void test_usable_size(void)
{
	CHECK(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) = %zu", malloc_usable_size(NULL));
	for (size_t n = 1; n < 70000; n = n * 3 / 2 + 1) {
		unsigned char *p = malloc(n);
		CHECK(p != NULL, "malloc(%zu) returned NULL", n);
		if (!p)
			continue;
		size_t u = malloc_usable_size(p);
		CHECK(u >= n && u < 2 * n + 8192, "malloc_usable_size(malloc(%zu)) = %zu", n, u);
		memset(p, 0xee, u); /* the whole usable size is the program's to write */
		free(p);
	}
}

static void test_housekeeping(void)
{
	/* hold about 8 MiB in small and large blocks while looking at the statistics */
	enum { NSMALL = 4096 };
	void **small = malloc(NSMALL * sizeof *small);
	CHECK(small != NULL, "malloc returned NULL");
	if (!small)
		return;
	size_t held = 0;
	for (int i = 0; i < NSMALL; i++) {
		small[i] = malloc(1024);
		CHECK(small[i] != NULL, "malloc(1024) returned NULL");
		if (small[i])
			memset(small[i], i, 1024);
		held += 1024;
	}
	void *large = malloc(4 << 20);
	CHECK(large != NULL, "malloc(4 MiB) returned NULL");
	if (large)
		memset(large, 1, 4 << 20);
	held += 4 << 20;

	struct mallinfo2 mi = mallinfo2();
	const size_t sane = (size_t)1 << 44; /* 16 TiB: anything above is garbage */
	CHECK(mi.arena < sane && mi.ordblks < sane && mi.smblks < sane && mi.hblks < sane && mi.hblkhd < sane &&
	      mi.usmblks < sane && mi.fsmblks < sane && mi.uordblks < sane && mi.fordblks < sane && mi.keepcost < sane,
	      "mallinfo2 has an implausible field: arena %zu ordblks %zu hblks %zu hblkhd %zu uordblks %zu fordblks %zu keepcost %zu",
	      mi.arena, mi.ordblks, mi.hblks, mi.hblkhd, mi.uordblks, mi.fordblks, mi.keepcost);
	if (check_mallinfo)
		CHECK(mi.uordblks + mi.hblkhd >= held,
		      "mallinfo2: uordblks %zu + hblkhd %zu < %zu bytes the program holds", mi.uordblks, mi.hblkhd, held);

	int rc = mallopt(M_TRIM_THRESHOLD, 256 * 1024);
	(void)rc; /* any return value; it must return */
	rc = mallopt(M_MMAP_THRESHOLD, 1 << 20);
	(void)rc;
	rc = mallopt(-12345, 1); /* unknown option: glibc returns 0 */
	(void)rc;

	malloc_stats(); /* prints on stderr; must not crash */

	for (int i = 0; i < NSMALL; i += 2) {
		free(small[i]);
		small[i] = NULL;
	}
	free(large);
	rc = malloc_trim(0);
	CHECK(rc == 0 || rc == 1, "malloc_trim(0) returned %d (want 0 or 1)", rc);
	rc = malloc_trim(1 << 20);
	CHECK(rc == 0 || rc == 1, "malloc_trim(1 MiB) returned %d (want 0 or 1)", rc);
	/* the heap still works after trimming, and what was kept is intact */
	for (int i = 1; i < NSMALL; i += 2) {
		unsigned char *b = small[i];
		if (!b)
			continue;
		int ok = 1;
		for (int k = 0; k < 1024; k++)
			if (b[k] != (unsigned char)i)
				ok = 0;
		CHECK(ok, "block %d changed across malloc_trim", i);
		free(b);
	}
	free(small);
	void *after = malloc(3 << 20);
	CHECK(after != NULL, "malloc(3 MiB) after malloc_trim returned NULL");
	if (after)
		memset(after, 2, 3 << 20);
	free(after);
}

typedef void free_sized_fn(void *, size_t);
typedef void free_aligned_sized_fn(void *, size_t, size_t);

static void test_free_sized(void)
{
	free_sized_fn *fs = (free_sized_fn *)dlsym(RTLD_DEFAULT, "free_sized");
	free_aligned_sized_fn *fas = (free_aligned_sized_fn *)dlsym(RTLD_DEFAULT, "free_aligned_sized");
	if (expect_free_sized) {
		CHECK(fs != NULL, "dlsym(RTLD_DEFAULT, \"free_sized\") found nothing");
		CHECK(fas != NULL, "dlsym(RTLD_DEFAULT, \"free_aligned_sized\") found nothing");
	}
	if (fs) {
		static const size_t sizes[] = { 1, 16, 100, 1000, 5000, 70000, 1 << 20, 5 << 20 };
		for (int round = 0; round < 3; round++)
			for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
				unsigned char *p = malloc(sizes[i]);
				CHECK(p != NULL, "malloc(%zu) returned NULL", sizes[i]);
				if (!p)
					continue;
				memset(p, 0x11, sizes[i]);
				fs(p, sizes[i]);
				p = calloc(sizes[i], 1);
				CHECK(p != NULL, "calloc(%zu, 1) returned NULL", sizes[i]);
				if (!p)
					continue;
				CHECK(p[0] == 0 && p[sizes[i] - 1] == 0, "calloc(%zu, 1) after free_sized is not zero", sizes[i]);
				fs(p, sizes[i]);
			}
		fs(NULL, 0);
	}
	if (fas) {
		for (size_t align = 1; align <= (1 << 20); align *= 4) {
			size_t n = 3 * align + 5;
			void *p = aligned_alloc(align, n);
			CHECK(p != NULL && (uintptr_t)p % align == 0, "aligned_alloc(%zu, %zu) = %p", align, n, p);
			if (p) {
				memset(p, 0x22, n);
				fas(p, align, n);
			}
		}
		fas(NULL, 64, 0);
	}
	/* and the heap still works */
	void *p = malloc(4096);
	CHECK(p != NULL, "malloc(4096) after free_sized returned NULL");
	free(p);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--expect-free-sized"))
			expect_free_sized = true;
		else if (!strcmp(argv[i], "--strict"))
			strict = true;
		else if (!strcmp(argv[i], "--mallinfo"))
			check_mallinfo = true;
		else {
			fprintf(stderr, "usage: api_edges [--expect-free-sized] [--strict] [--mallinfo]\n");
			return 2;
		}
	}
	test_malloc_zero();
	test_huge();
	test_calloc();
	test_realloc();
	test_reallocarray();
	test_aligned();
	test_valloc();
	test_usable_size();
	test_housekeeping();
	test_free_sized();
	if (failures) {
		printf("api_edges: %d checks failed\n", failures);
		return 1;
	}
	printf("api_edges: OK\n");
	return 0;
}
