/* api_conform.c — the standard malloc API to the letter (issue 18, section 4), as glibc 2.36
 * gives it: the same program passes without the preload and under libscvgc in every mode.
 *
 *   errors   every failing allocation returns NULL with errno ENOMEM (posix_memalign returns
 *            it); an invalid alignment gives EINVAL where glibc does; memalign, aligned_alloc
 *            and posix_memalign accept every alignment up to 2^63 and fail with ENOMEM.
 *   errno    free() leaves errno alone: small, large, huge (pages back to the OS), NULL, and
 *            (with --scvgc) a double free that prints a diagnostic.
 *   cancel   malloc_stats(), malloc and free that start collections (collect mode), and with
 *            --scvgc malloc_info(), a bad free's diagnostic and the collections of
 *            scvgc_collect() and scvgc_leak_check(), in a
 *            thread with a pending cancellation request: they return, the thread is then
 *            cancelled at pthread_testcancel(). (glibc's own malloc_info writes through stdio
 *            and may be cancelled; its bad frees abort.)
 *   names    glibc's own names (__libc_malloc, __libc_free, __libc_calloc, __libc_realloc,
 *            __libc_memalign, __libc_valloc, __libc_pvalloc) and the plain ones are one
 *            family: a block from either is freed or resized through the other.
 *   entries  malloc_usable_size, malloc_trim, mallinfo2, mallopt, malloc_stats, malloc_info,
 *            valloc, pvalloc, reallocarray, aligned_alloc, posix_memalign, memalign, and (with
 *            --scvgc; glibc 2.36 has none) free_sized and free_aligned_sized.
 * Each failed check prints "api_conform: FAIL ..." on stdout; exit 1 when any failed, else
 * "api_conform: OK" and 0.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

static int failures;
static bool scvgc;

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			printf("api_conform: FAIL %s:%d: ", __func__, __LINE__); \
			printf(__VA_ARGS__);                                    \
			printf("\n");                                           \
			fflush(stdout);                                         \
			failures++;                                             \
		}                                                               \
	} while (0)

/* Values the compiler cannot see through (no warnings, no folding). */
static volatile size_t v_max = SIZE_MAX, v_half = SIZE_MAX / 2, v_2_63 = (size_t)1 << 63,
		       v_2_62 = (size_t)1 << 62;

static void *escape(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

#define FAILS(expr, want, what)                                                                     \
	do {                                                                                        \
		errno = 0;                                                                          \
		void *p_ = escape(expr);                                                            \
		int e_ = errno;                                                                     \
		CHECK(p_ == NULL && e_ == (want), "%s = %p, errno %d (want NULL, %s)", what, p_, e_, \
		      #want);                                                                       \
		free(p_);                                                                           \
	} while (0)

static void test_errors(void)
{
	/* alignments up to 2^63 are valid: a request they cannot meet is out of memory */
	size_t sizes[] = { 0, 1, 100, 1 << 20 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char what[80];
		snprintf(what, sizeof what, "memalign(2^63, %zu)", sizes[i]);
		FAILS(memalign(v_2_63, sizes[i]), ENOMEM, what);
		snprintf(what, sizeof what, "memalign(2^62 + 1, %zu)", sizes[i]);
		FAILS(memalign(v_2_62 + 1, sizes[i]), ENOMEM, what); /* rounded up to 2^63 */
		snprintf(what, sizeof what, "aligned_alloc(2^63, %zu)", sizes[i]);
		FAILS(aligned_alloc(v_2_63, sizes[i]), ENOMEM, what);
		snprintf(what, sizeof what, "__libc_memalign(2^63, %zu)", sizes[i]);
		FAILS(__libc_memalign(v_2_63, sizes[i]), ENOMEM, what);
		void *p = (void *)0x1;
		int rc = posix_memalign(&p, v_2_63, sizes[i]);
		CHECK(rc == ENOMEM && p == (void *)0x1, "posix_memalign(&p, 2^63, %zu) = %d (want ENOMEM, p untouched)",
		      sizes[i], rc);
		if (rc == 0)
			free(p);
	}
	/* above 2^63 there is no power of two: EINVAL */
	FAILS(memalign(v_2_63 + 1, 16), EINVAL, "memalign(2^63 + 1, 16)");
	FAILS(memalign(v_max, 16), EINVAL, "memalign(SIZE_MAX, 16)");
	void *p = (void *)0x1;
	int rc = posix_memalign(&p, v_2_63 + 8, 16);
	CHECK(rc == EINVAL && p == (void *)0x1, "posix_memalign(&p, 2^63 + 8, 16) = %d (want EINVAL)", rc);
	rc = posix_memalign(&p, 24, 16);
	CHECK(rc == EINVAL, "posix_memalign(&p, 24, 16) = %d (want EINVAL)", rc);
	rc = posix_memalign(&p, 4, 16);
	CHECK(rc == EINVAL, "posix_memalign(&p, 4, 16) = %d (want EINVAL)", rc);

	/* sizes nobody can give: ENOMEM from every entry point */
	FAILS(malloc(v_max), ENOMEM, "malloc(SIZE_MAX)");
	FAILS(malloc(v_half + 1), ENOMEM, "malloc(2^63)");
	FAILS(calloc(v_half, 3), ENOMEM, "calloc(SIZE_MAX/2, 3) (overflow)");
	FAILS(calloc(1, v_max), ENOMEM, "calloc(1, SIZE_MAX)");
	FAILS(realloc(NULL, v_max), ENOMEM, "realloc(NULL, SIZE_MAX)");
	FAILS(reallocarray(NULL, v_half, 3), ENOMEM, "reallocarray(NULL, SIZE_MAX/2, 3)");
	FAILS(memalign(64, v_max), ENOMEM, "memalign(64, SIZE_MAX)");
	FAILS(memalign(1 << 20, v_max - 4096), ENOMEM, "memalign(1 MiB, SIZE_MAX - 4096)");
	FAILS(aligned_alloc(64, v_max), ENOMEM, "aligned_alloc(64, SIZE_MAX)");
	FAILS(valloc(v_max), ENOMEM, "valloc(SIZE_MAX)");
	FAILS(pvalloc(v_max), ENOMEM, "pvalloc(SIZE_MAX)");
	FAILS(__libc_malloc(v_max), ENOMEM, "__libc_malloc(SIZE_MAX)");
	FAILS(__libc_calloc(v_half, 3), ENOMEM, "__libc_calloc(SIZE_MAX/2, 3)");
	rc = posix_memalign(&p, 64, v_max);
	CHECK(rc == ENOMEM, "posix_memalign(&p, 64, SIZE_MAX) = %d (want ENOMEM)", rc);
	/* a failed realloc keeps the block */
	char *b = malloc(64);
	CHECK(b != NULL, "malloc(64) = NULL");
	if (b) {
		memset(b, 7, 64);
		char *volatile vb = b; /* the compiler must not know realloc had b */
		FAILS(realloc(vb, v_max), ENOMEM, "realloc(p, SIZE_MAX)");
		FAILS(reallocarray(vb, v_half, 5), ENOMEM, "reallocarray(p, SIZE_MAX/2, 5)");
		CHECK(b[0] == 7 && b[63] == 7, "a failed realloc changed the block");
		free(b);
	}
}

static void free_keeps(void *p, const char *what)
{
	errno = 4242;
	free(p);
	CHECK(errno == 4242, "free(%s) changed errno to %d", what, errno);
}

static void test_free_errno(void)
{
	free_keeps(NULL, "NULL");
	free_keeps(malloc(24), "a small block");
	free_keeps(malloc(100000), "a large block");
	char *h = malloc(64 << 20);
	if (h)
		memset(h, 1, 64 << 20); /* resident: freeing it gives pages back */
	free_keeps(h, "a 64 MiB block");
	/* many blocks of one class freed after others of another thread's... at least a span's worth */
	void *v[4096];
	for (int i = 0; i < 4096; i++)
		v[i] = malloc(48);
	for (int i = 0; i < 4096; i++)
		free_keeps(v[i], "one of 4096 blocks of 48 bytes");
	if (scvgc) {
		void *d = malloc(32);
		void *volatile vd = d;
		free(vd);
		free_keeps(d, "a block freed already (a diagnostic)");
	}
}

/* Cancellation: each case runs in a thread that asks for its own cancellation, then calls
 * the function; the function must return (step reached) and the cancellation must still come
 * at pthread_testcancel(). */
struct ccase {
	const char *name;
	void (*fn)(void);
	volatile int returned;
};

static void *cancel_thread(void *arg)
{
	struct ccase *c = arg;
	pthread_cancel(pthread_self());
	c->fn();
	c->returned = 1;
	pthread_testcancel();
	return NULL;
}

static void call_malloc_stats(void) { malloc_stats(); }

static FILE *devnull; /* opened before: fopen and fclose are cancellation points */

static void call_malloc_info(void) { malloc_info(0, devnull); }

/* 256 MiB in 1 MiB blocks, 32 held at a time: with SCVGC_GOGC set (collect mode in api.sh)
 * the heap grows past its goal and the allocation slow path starts collections, which read
 * /proc/self/maps (open and read are cancellation points) and may write trace lines. */
static void call_malloc_collecting(void)
{
	static char *held[32];
	for (int i = 0; i < 256; i++) {
		free(held[i % 32]);
		held[i % 32] = malloc(1 << 20);
		if (held[i % 32])
			memset(held[i % 32], 1, 4096);
	}
	for (int i = 0; i < 32; i++) {
		free(held[i]);
		held[i] = NULL;
	}
}

static void call_malloc_trim(void) { malloc_trim(0); }

/* The library's public API (dlsym: the program is not linked against it): a collection on
 * the calling thread. */
static void call_scvgc(const char *name)
{
	void (*fn)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, name);
	if (fn)
		fn();
}
static void call_scvgc_collect(void) { call_scvgc("scvgc_collect"); }
static void call_scvgc_leak_check(void) { call_scvgc("scvgc_leak_check"); }

static void call_bad_free(void)
{
	void *p = malloc(40);
	void *volatile vp = p;
	free(vp);
	free(p); /* a diagnostic: written with cancellation off */
}

static void run_cancel(const char *name, void (*fn)(void))
{
	struct ccase c = { name, fn, 0 };
	pthread_t t;
	void *ret = NULL;
	if (pthread_create(&t, NULL, cancel_thread, &c) != 0) {
		CHECK(0, "pthread_create failed");
		return;
	}
	pthread_join(t, &ret);
	CHECK(c.returned, "%s with a cancellation pending: the thread was cancelled inside it", name);
	CHECK(ret == PTHREAD_CANCELED, "%s: the pending cancellation was lost", name);
}

static void test_cancel(void)
{
	run_cancel("malloc_stats()", call_malloc_stats);
	run_cancel("malloc() and free() of 256 MiB, 32 MiB held, collections in between", call_malloc_collecting);
	run_cancel("malloc_trim(0)", call_malloc_trim);
	devnull = fopen("/dev/null", "w");
	if (devnull)
		setvbuf(devnull, NULL, _IONBF, 0); /* every fprintf is a write() */
	if (scvgc && devnull) {
		run_cancel("malloc_info(0, fp)", call_malloc_info);
		run_cancel("free() of a freed block", call_bad_free);
		run_cancel("scvgc_collect()", call_scvgc_collect);
		run_cancel("scvgc_leak_check()", call_scvgc_leak_check);
	}
	if (devnull)
		fclose(devnull);
}

static void test_libc_names(void)
{
	/* plain -> glibc's names */
	char *p = malloc(100);
	CHECK(p != NULL, "malloc(100) = NULL");
	memset(p, 3, 100);
	CHECK(malloc_usable_size(p) >= 100, "malloc_usable_size = %zu", malloc_usable_size(p));
	char *q = __libc_realloc(p, 200000);
	CHECK(q != NULL && q[0] == 3 && q[99] == 3, "__libc_realloc of a malloc block lost it");
	__libc_free(q);
	__libc_free(malloc(50));
	__libc_free(calloc(10, 10));
	__libc_free(aligned_alloc(256, 1000));
	__libc_free(NULL);
	/* glibc's names -> plain */
	p = __libc_malloc(100);
	CHECK(p != NULL, "__libc_malloc(100) = NULL");
	memset(p, 4, 100);
	CHECK(malloc_usable_size(p) >= 100, "malloc_usable_size(__libc_malloc(100)) = %zu", malloc_usable_size(p));
	q = realloc(p, 300000);
	CHECK(q != NULL && q[0] == 4 && q[99] == 4, "realloc of a __libc_malloc block lost it");
	free(q);
	unsigned char *z = __libc_calloc(1000, 8);
	CHECK(z != NULL, "__libc_calloc = NULL");
	if (z) {
		int nz = 0;
		for (int i = 0; i < 8000; i++)
			nz |= z[i];
		CHECK(!nz, "__libc_calloc memory is not zero");
	}
	free(z);
	void *a = __libc_memalign(4096, 100);
	CHECK(a && (uintptr_t)a % 4096 == 0, "__libc_memalign(4096, 100) = %p", a);
	free(a);
	a = __libc_valloc(100);
	CHECK(a && (uintptr_t)a % 4096 == 0, "__libc_valloc(100) = %p", a);
	free(a);
	a = __libc_pvalloc(100);
	CHECK(a && (uintptr_t)a % 4096 == 0 && malloc_usable_size(a) >= 4096, "__libc_pvalloc(100) = %p", a);
	free(a);
	/* many of each, freed through the other, interleaved (the heap stays whole) */
	void *v[2000];
	for (int i = 0; i < 2000; i++)
		v[i] = i % 2 ? __libc_malloc((size_t)i * 13 + 1) : malloc((size_t)i * 13 + 1);
	for (int i = 0; i < 2000; i++) {
		if (i % 2)
			free(v[i]);
		else
			__libc_free(v[i]);
	}
}

typedef void free_sized_fn(void *, size_t);
typedef void free_aligned_sized_fn(void *, size_t, size_t);

static void test_entries(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *p = valloc(10);
	CHECK(p && (uintptr_t)p % (uintptr_t)pg == 0, "valloc(10) = %p", (void *)p);
	free(p);
	p = pvalloc(10);
	CHECK(p && (uintptr_t)p % (uintptr_t)pg == 0 && malloc_usable_size(p) >= (size_t)pg, "pvalloc(10) = %p", (void *)p);
	free(p);
	p = reallocarray(NULL, 10, 10);
	CHECK(p && malloc_usable_size(p) >= 100, "reallocarray(NULL, 10, 10) = %p", (void *)p);
	free(p);
	p = aligned_alloc(64, 64);
	CHECK(p && (uintptr_t)p % 64 == 0, "aligned_alloc(64, 64) = %p", (void *)p);
	free(p);
	p = memalign(1 << 16, 10);
	CHECK(p && (uintptr_t)p % (1 << 16) == 0, "memalign(64 KiB, 10) = %p", (void *)p);
	free(p);
	void *v = NULL;
	CHECK(posix_memalign(&v, 128, 10) == 0 && (uintptr_t)v % 128 == 0, "posix_memalign(128, 10) = %p", v);
	free(v);
	CHECK(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) != 0");

	struct mallinfo2 mi = mallinfo2();
	CHECK(mi.arena < ((size_t)1 << 46) && mi.uordblks < ((size_t)1 << 46), "mallinfo2: arena %zu uordblks %zu",
	      mi.arena, mi.uordblks);
	int rc = mallopt(M_MMAP_THRESHOLD, 1 << 20);
	CHECK(rc == 0 || rc == 1, "mallopt(M_MMAP_THRESHOLD) = %d", rc);
	rc = malloc_trim(0);
	CHECK(rc == 0 || rc == 1, "malloc_trim(0) = %d", rc);
	malloc_stats();

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(f != NULL, "open_memstream failed");
	if (f) {
		rc = malloc_info(0, f);
		fclose(f);
		CHECK(rc == 0, "malloc_info(0, fp) = %d", rc);
		CHECK(buf && strstr(buf, "<malloc version=") && strstr(buf, "</malloc>"),
		      "malloc_info wrote no <malloc> document: %.80s", buf ? buf : "(nothing)");
		free(buf);
	}
	f = fopen("/dev/null", "w");
	if (f) {
		rc = malloc_info(1, f);
		CHECK(rc == EINVAL, "malloc_info(1, fp) = %d (want EINVAL, as glibc returns it)", rc);
		fclose(f);
	}

	free_sized_fn *fs = (free_sized_fn *)dlsym(RTLD_DEFAULT, "free_sized");
	free_aligned_sized_fn *fas = (free_aligned_sized_fn *)dlsym(RTLD_DEFAULT, "free_aligned_sized");
	if (scvgc)
		CHECK(fs && fas, "free_sized / free_aligned_sized not found");
	if (fs) {
		fs(malloc(100), 100);
		fs(malloc(100000), 100000);
		fs(NULL, 0);
	}
	if (fas) {
		fas(aligned_alloc(4096, 8192), 4096, 8192);
		fas(NULL, 64, 0);
	}
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--scvgc")) {
			scvgc = true;
		} else {
			fprintf(stderr, "usage: api_conform [--scvgc]\n");
			return 2;
		}
	}
	test_cancel(); /* first: the heap is small, so its collecting case does start collections */
	test_errors();
	test_free_errno();
	test_libc_names();
	test_entries();
	if (failures) {
		printf("api_conform: %d checks failed\n", failures);
		return 1;
	}
	printf("api_conform: OK\n");
	return 0;
}
