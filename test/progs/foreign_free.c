/* foreign_free.c — memory that glibc's own malloc handed out can be given to free(), realloc()
 * and malloc_usable_size() of the preloaded allocator, and libc's and the loader's internal
 * allocations work with it.
 *
 * Part 1: blocks from __libc_malloc / __libc_calloc / __libc_memalign / __libc_realloc (glibc
 * exports them; they always reach glibc's own heap, also under LD_PRELOAD), small and mmapped
 * sizes, from the main thread and from other threads, are passed to plain malloc_usable_size(),
 * realloc() (grow and shrink, contents kept) and free(), also from another thread.
 * Part 2 (--deepbind LIB): a library dlopen'd with RTLD_DEEPBIND binds malloc to glibc's even
 * under LD_PRELOAD; the program frees, reallocs and sizes what that library's deep_malloc /
 * deep_strdup return.
 * Part 3: libc and the loader allocate through the interposed malloc and the program frees
 * the results: strdup, asprintf, getline, open_memstream, realpath, regcomp, glob, scandir,
 * fopen buffers, qsort's scratch, dlerror strings, dlopen/dlclose of libm and of a library
 * that does not exist, many times.
 * Exit 0 and "foreign_free: OK" on success; one line on stderr and exit 1 on failure.
 */
#include "stress_common.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <regex.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static const size_t sizes[] = { 1, 16, 24, 100, 1000, 4096, 20000, 100000, 200000, 1 << 20, 3 << 20 };
#define NSIZES (sizeof sizes / sizeof sizes[0])

struct blk {
	unsigned char *p;
	size_t n;
	uint64_t key;
};

static void check_blk(const struct blk *b, size_t n, const char *what)
{
	size_t bad = sc_check(b->p, n, b->key);
	if (bad != (size_t)-1)
		sc_die("foreign_free: %s: block %p of %zu bytes changed at byte %zu", what, (void *)b->p, b->n, bad);
}

/* Runs the free/realloc/usable-size round on one glibc block; frees it in the end. */
static void use_foreign(struct blk b, const char *origin)
{
	size_t u = malloc_usable_size(b.p);
	if (u < b.n)
		sc_die("foreign_free: malloc_usable_size of a %zu-byte block from %s = %zu", b.n, origin, u);
	check_blk(&b, b.n, origin);
	/* grow, then shrink; what realloc returns may be glibc's or the allocator's */
	size_t grow = b.n * 3 + 50000;
	unsigned char *q = realloc(b.p, grow);
	if (!q)
		sc_die("foreign_free: realloc(%zu-byte block from %s, %zu) returned NULL", b.n, origin, grow);
	b.p = q;
	check_blk(&b, b.n, "realloc grow of a foreign block");
	if (malloc_usable_size(q) < grow)
		sc_die("foreign_free: malloc_usable_size after realloc grow = %zu < %zu", malloc_usable_size(q), grow);
	memset(q + b.n, 0x44, grow - b.n);
	size_t shrink = b.n / 2 + 1;
	q = realloc(b.p, shrink);
	if (!q)
		sc_die("foreign_free: realloc shrink to %zu returned NULL", shrink);
	b.p = q;
	check_blk(&b, shrink, "realloc shrink of a foreign block");
	free(b.p);
}

static struct blk glibc_block(size_t n, int how, uint64_t seed)
{
	struct blk b;
	switch (how) {
	case 0: b.p = __libc_malloc(n); break;
	case 1: b.p = __libc_calloc(1, n); break;
	case 2: b.p = __libc_memalign(64, n); break;
	default: {
		unsigned char *p = __libc_malloc(n / 2 + 1);
		b.p = p ? __libc_realloc(p, n) : NULL;
		break;
	}
	}
	if (!b.p)
		sc_die("foreign_free: glibc allocation of %zu bytes (way %d) failed", n, how);
	if (how == 1)
		for (size_t i = 0; i < n; i++)
			if (b.p[i])
				sc_die("foreign_free: __libc_calloc(1, %zu) byte %zu not zero", n, i);
	b.n = n;
	b.key = sc_key(b.p, seed);
	sc_fill(b.p, n, b.key);
	return b;
}

struct handover {
	struct blk b[NSIZES * 4];
	int n;
};

/* A thread that allocates from glibc (so, in a non-main glibc arena) and leaves the blocks to
 * the main thread. */
static void *glibc_thread(void *arg)
{
	struct handover *h = arg;
	for (size_t i = 0; i < NSIZES; i++)
		for (int how = 0; how < 4; how++)
			h->b[h->n++] = glibc_block(sizes[i], how, i * 4 + (size_t)how + 1000);
	return NULL;
}

/* A thread that frees glibc blocks the main thread allocated. */
static void *freeing_thread(void *arg)
{
	struct handover *h = arg;
	for (int i = 0; i < h->n; i++)
		use_foreign(h->b[i], "glibc, passed to another thread");
	return NULL;
}

static void part_glibc(void)
{
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < NSIZES; i++)
			for (int how = 0; how < 4; how++) {
				struct blk b = glibc_block(sizes[i], how, (uint64_t)round * 100 + i);
				if (round == 2) {
					/* just free it, no realloc */
					if (malloc_usable_size(b.p) < b.n)
						sc_die("foreign_free: malloc_usable_size of a %zu-byte glibc block = %zu",
						       b.n, malloc_usable_size(b.p));
					check_blk(&b, b.n, "glibc block before free");
					free(b.p);
				} else {
					use_foreign(b, "__libc_malloc and friends");
				}
			}

	/* realloc(glibc block, 0) frees it, as realloc(p, 0) does */
	void *z = __libc_malloc(100);
	void *r = sc_escape(realloc(z, 0));
	free(r);

	struct handover *h = __libc_calloc(1, sizeof *h);
	if (!h)
		sc_die("foreign_free: __libc_calloc of the handover table failed");
	pthread_t t;
	int rc = pthread_create(&t, NULL, glibc_thread, h);
	if (rc)
		sc_die("foreign_free: pthread_create: %s", strerror(rc));
	pthread_join(t, NULL);
	for (int i = 0; i < h->n; i++)
		use_foreign(h->b[i], "glibc in another thread");
	h->n = 0;
	for (size_t i = 0; i < NSIZES; i++)
		h->b[h->n++] = glibc_block(sizes[i], (int)(i % 4), i + 5000);
	rc = pthread_create(&t, NULL, freeing_thread, h);
	if (rc)
		sc_die("foreign_free: pthread_create: %s", strerror(rc));
	pthread_join(t, NULL);
	free(h); /* the table itself came from glibc too */
}

typedef void *deep_malloc_fn(size_t);
typedef char *deep_strdup_fn(const char *);

static void part_deepbind(const char *lib)
{
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
	if (!h)
		sc_die("foreign_free: dlopen(%s, RTLD_DEEPBIND): %s", lib, dlerror());
	deep_malloc_fn *dm = (deep_malloc_fn *)dlsym(h, "deep_malloc");
	deep_strdup_fn *ds = (deep_strdup_fn *)dlsym(h, "deep_strdup");
	if (!dm || !ds)
		sc_die("foreign_free: %s lacks deep_malloc or deep_strdup", lib);
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < NSIZES; i++) {
			struct blk b;
			b.n = sizes[i];
			b.p = dm(b.n);
			if (!b.p)
				sc_die("foreign_free: deep_malloc(%zu) returned NULL", b.n);
			b.key = sc_key(b.p, i);
			sc_fill(b.p, b.n, b.key);
			if (round == 0)
				use_foreign(b, "an RTLD_DEEPBIND library");
			else
				free(b.p);
		}
		char *s = ds("a string duplicated by a library that binds malloc to glibc");
		if (!s || strcmp(s, "a string duplicated by a library that binds malloc to glibc"))
			sc_die("foreign_free: deep_strdup returned a wrong string");
		s = realloc(s, 4000);
		if (!s || strncmp(s, "a string duplicated", 19))
			sc_die("foreign_free: realloc of a deep_strdup string lost it");
		free(s);
	}
	dlclose(h);
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static void part_libc(void)
{
	for (int round = 0; round < 20; round++) {
		char *s = strdup("hello, allocator");
		if (!s || strcmp(s, "hello, allocator"))
			sc_die("foreign_free: strdup failed");
		free(s);
		s = strndup("abcdefghij", 5);
		if (!s || strcmp(s, "abcde"))
			sc_die("foreign_free: strndup failed");
		free(s);

		char *a = NULL;
		if (asprintf(&a, "%d-%s-%0*d", round, "asprintf", 3000, 7) < 0 || !a || strlen(a) < 3000)
			sc_die("foreign_free: asprintf failed");
		free(a);

		char *buf = NULL;
		size_t len = 0;
		FILE *ms = open_memstream(&buf, &len);
		if (!ms)
			sc_die("foreign_free: open_memstream: %s", strerror(errno));
		for (int i = 0; i < 2000; i++)
			fprintf(ms, "line %d of a memstream\n", i);
		fclose(ms);
		if (!buf || len < 2000 * 20)
			sc_die("foreign_free: open_memstream produced %zu bytes", len);
		FILE *in = fmemopen(buf, len, "r");
		if (!in)
			sc_die("foreign_free: fmemopen: %s", strerror(errno));
		char *line = NULL;
		size_t cap = 0;
		int lines = 0;
		while (getline(&line, &cap, in) > 0)
			lines++;
		fclose(in);
		free(line);
		free(buf);
		if (lines != 2000)
			sc_die("foreign_free: getline read %d lines, want 2000", lines);

		char *rp = realpath("/usr/lib/../lib/.", NULL);
		if (!rp)
			sc_die("foreign_free: realpath: %s", strerror(errno));
		free(rp);

		regex_t re;
		if (regcomp(&re, "^([a-z]+)-([0-9]{2,})(x|y)*$", REG_EXTENDED))
			sc_die("foreign_free: regcomp failed");
		regmatch_t m[4];
		if (regexec(&re, "abc-12345xyxy", 4, m, 0) || m[2].rm_eo - m[2].rm_so != 5)
			sc_die("foreign_free: regexec did not match as expected");
		regfree(&re);

		glob_t g;
		if (glob("/usr/lib/*", 0, NULL, &g) == 0)
			globfree(&g);

		struct dirent **ents;
		int n = scandir("/usr/lib", &ents, NULL, alphasort);
		if (n < 0)
			sc_die("foreign_free: scandir: %s", strerror(errno));
		for (int i = 0; i < n; i++)
			free(ents[i]);
		free(ents);

		FILE *f = fopen("/proc/self/maps", "r");
		if (!f)
			sc_die("foreign_free: fopen /proc/self/maps: %s", strerror(errno));
		char tmp[512];
		while (fgets(tmp, sizeof tmp, f))
			;
		fclose(f);

		/* qsort allocates a scratch buffer for large arrays */
		int count = 100000;
		int *arr = malloc((size_t)count * sizeof *arr);
		if (!arr)
			sc_die("foreign_free: malloc for qsort failed");
		uint64_t rs = (uint64_t)round + 1;
		for (int i = 0; i < count; i++)
			arr[i] = (int)(sc_rand(&rs) % 1000000);
		qsort(arr, (size_t)count, sizeof *arr, cmp_int);
		for (int i = 1; i < count; i++)
			if (arr[i - 1] > arr[i])
				sc_die("foreign_free: qsort result is not sorted");
		free(arr);

		/* the loader: dlopen/dlclose of a real library, and dlerror's malloc'd message */
		void *h = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
		if (!h)
			sc_die("foreign_free: dlopen libm.so.6: %s", dlerror());
		double (*cosp)(double) = (double (*)(double))dlsym(h, "cos");
		if (!cosp || cosp(0.0) != 1.0)
			sc_die("foreign_free: cos from libm is wrong");
		dlclose(h);
		if (dlopen("libscvgc-no-such-library.so.42", RTLD_NOW))
			sc_die("foreign_free: dlopen of a missing library succeeded");
		const char *e = dlerror();
		if (!e || !strstr(e, "libscvgc-no-such-library"))
			sc_die("foreign_free: dlerror says %s", e ? e : "(null)");
	}
}

int main(int argc, char **argv)
{
	const char *deeplib = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--deepbind") && i + 1 < argc)
			deeplib = argv[++i];
		else {
			fprintf(stderr, "usage: foreign_free [--deepbind LIB]\n");
			return 2;
		}
	}
	part_glibc();
	if (deeplib)
		part_deepbind(deeplib);
	part_libc();
	printf("foreign_free: OK\n");
	return 0;
}
