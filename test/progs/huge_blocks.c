/* huge_blocks.c — requests the system cannot back, and huge blocks (issue 18, section 5).
 *
 *   huge_blocks enomem     impossible requests fail with NULL and ENOMEM (malloc(1 TiB) where
 *                          vm.overcommit_memory is not 1, sizes past 2^46, alignments past
 *                          1 TiB under the library), and "try big, fall back when NULL" works
 *   huge_blocks align      aligned_alloc(2^30 .. 2^46, 10), each freed: under the library
 *                          every alignment up to 2^40 is honoured and the larger ones fail
 *                          with ENOMEM; afterwards the address space (statm size) is back
 *                          within 1 GiB of where it was and RSS within 16 MiB
 *   huge_blocks untouched  up to 64 GiB of huge blocks granted and never touched cost less
 *                          than 16 MiB of RSS; a collection does not read their untouched
 *                          pages (mincore of a block stays empty but for the one page the
 *                          test wrote) and still finds the object only that page points to,
 *                          also after realloc grew the block to twice its size
 *   huge_blocks errno      a successful malloc, calloc, realloc, aligned_alloc or free leaves
 *                          errno as it was, in 4 threads at once (locks contended, and in
 *                          collect mode collections started from inside malloc)
 *   huge_blocks reclaim    collect mode: huge blocks nothing points to are reclaimed by a
 *                          collection and their memory goes back to the OS: at least 5 of
 *                          8 leaked blocks of 300 MiB are no mapping any more
 *   huge_blocks dfree      a huge block freed twice: the library diagnoses it (never glibc's
 *                          abort); under the library only
 * Prints "huge_blocks: OK ..." and exits 0; one line on stderr and exit 1 otherwise.
 */
#include "fault_common.h"

#include <errno.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>

#define GIB ((size_t)1 << 30)

static int under_lib(void)
{
	return dlsym(RTLD_DEFAULT, "scvgc_collect") != NULL;
}

/* size and resident set, in bytes (/proc/self/statm) */
static void statm(size_t *size, size_t *rss)
{
	unsigned long s = 0, r = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%lu %lu", &s, &r) != 2)
		sc_die("cannot read /proc/self/statm");
	fclose(f);
	*size = s * (size_t)sysconf(_SC_PAGESIZE);
	*rss = r * (size_t)sysconf(_SC_PAGESIZE);
}

static int overcommit_policy(void)
{
	int v = -1;
	FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* volatile: the compiler must not see (and warn about) the impossible sizes */
static volatile size_t v_tib = (size_t)1 << 40, v_past = ((size_t)1 << 46) + 1;

static void enomem(void)
{
	struct sysinfo si;
	if (sysinfo(&si) != 0)
		sc_die("sysinfo failed");
	size_t backing = ((size_t)si.totalram + (size_t)si.totalswap) * si.mem_unit;
	int policy = overcommit_policy();
	size_t big = v_tib;
	while (big < 4 * backing)
		big *= 2;
	if (policy != 1) { /* 0: the heuristic refuses one request above RAM + swap; 2: the limit */
		errno = 0;
		void *p = malloc(big);
		if (p || errno != ENOMEM)
			sc_die("malloc(%zu GiB) on %zu GiB of RAM + swap (overcommit_memory %d): %p, errno %d; want NULL, ENOMEM",
			       big >> 30, backing >> 30, policy, p, errno);
		errno = 0;
		p = calloc(big >> 4, 16);
		if (p || errno != ENOMEM)
			sc_die("calloc of %zu GiB: %p, errno %d; want NULL, ENOMEM", big >> 30, p, errno);
	}
	/* the program's way: try a big buffer, halve it while NULL */
	size_t n = big;
	char *buf;
	while (!(buf = malloc(n)) && n > ((size_t)1 << 20))
		n /= 2;
	if (!buf)
		sc_die("no buffer of 1 MiB or more could be had");
	if (policy != 1 && n > 2 * backing)
		sc_die("a buffer of %zu GiB was granted on %zu GiB of RAM + swap", n >> 30, backing >> 30);
	buf[0] = 1;
	buf[n - 1] = 1;
	free(buf);
	errno = 0;
	if (malloc(v_past) || errno != ENOMEM)
		sc_die("malloc(2^46 + 1) did not fail with ENOMEM");
	if (under_lib()) {
		void *p = (void *)1;
		int r = posix_memalign(&p, (size_t)1 << 41, 10);
		if (r != ENOMEM)
			sc_die("posix_memalign(2^41, 10) returned %d, not ENOMEM", r);
		errno = 0;
		if (aligned_alloc((size_t)1 << 44, 10) || errno != ENOMEM)
			sc_die("aligned_alloc(2^44, 10) did not fail with ENOMEM");
	}
	printf("huge_blocks: OK enomem (overcommit_memory %d, %zu GiB of RAM + swap, fell back to %zu MiB)\n",
	       policy, backing >> 30, n >> 20);
}

static void align(void)
{
	size_t size0, rss0, size1, rss1;
	int lib = under_lib(), ok = 0;
	free(malloc(100));
	statm(&size0, &rss0);
	for (int k = 30; k <= 46; k++) {
		size_t a = (size_t)1 << k;
		errno = 0;
		char *p = aligned_alloc(a, 10);
		if (!p) {
			if (errno != ENOMEM)
				sc_die("aligned_alloc(2^%d, 10): NULL with errno %d", k, errno);
			if (lib && k <= 40)
				sc_die("aligned_alloc(2^%d, 10) failed: alignments up to 2^40 must be honoured", k);
			continue;
		}
		if (lib && k > 40)
			sc_die("aligned_alloc(2^%d, 10) succeeded: alignments past 2^40 must fail with ENOMEM", k);
		if ((uintptr_t)p % a)
			sc_die("aligned_alloc(2^%d, 10) = %p is not aligned", k, (void *)p);
		memset(p, 0x5a, 10);
		free(p);
		ok++;
	}
	statm(&size1, &rss1);
	if (size1 > size0 + GIB)
		sc_die("after the aligned blocks were freed the process keeps %zu MiB more address space",
		       (size1 - size0) >> 20);
	if (rss1 > rss0 + ((size_t)16 << 20))
		sc_die("after the aligned blocks were freed RSS is %zu MiB higher", (rss1 - rss0) >> 20);
	printf("huge_blocks: OK align (%d of 17 granted, address space %+ld MiB, RSS %+ld KiB)\n", ok,
	       (long)(size1 - size0) / (1 << 20), (long)(rss1 - rss0) / 1024);
}

#define MAXBLK 8
static char *blk[MAXBLK];

/* OS pages of [p, p + n) mapped in (the zero page included: a read maps it) */
static size_t resident_pages(const char *p, size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), cnt = 0, chunk = (size_t)1 << 30;
	static unsigned char vec[(1 << 30) / 4096];
	size_t head = (uintptr_t)p % pg; /* glibc's blocks start past a header */
	p -= head;
	n += head;
	for (size_t off = 0; off < n; off += chunk) {
		size_t len = n - off < chunk ? n - off : chunk;
		if (mincore((void *)(p + off), len, vec) != 0)
			sc_die("mincore failed: %s", strerror(errno));
		for (size_t i = 0; i < (len + pg - 1) / pg; i++)
			cnt += vec[i] & 1;
	}
	return cnt;
}

static void untouched(void)
{
	size_t size0, rss0, size1, rss1, bs = 8 * GIB;
	int nb = 0;
	void (*collect)(void) = fc_collect_fn();
	free(malloc(100));
	statm(&size0, &rss0);
	while (nb < MAXBLK && bs >= GIB) {
		if ((blk[nb] = malloc(bs)) != NULL)
			nb++;
		else
			bs /= 2;
	}
	if (nb < 2)
		sc_die("fewer than two 1 GiB blocks granted: the test cannot run here");
	size_t total = 0;
	statm(&size1, &rss1);
	total = (size_t)nb * bs; /* the last size granted: a lower bound when it was halved */
	if (rss1 > rss0 + ((size_t)16 << 20))
		sc_die("%d untouched blocks of up to %zu GiB cost %zu KiB of RSS", nb, bs >> 30,
		       (rss1 - rss0) >> 10);
	/* one page of the first block holds the only pointer to an object */
	size_t mid = (bs / 2) & ~(size_t)4095;
	fc_obj_t o;
	fc_new(&o, 48, 77, "untouched");
	memcpy(blk[0] + mid, &o.p, sizeof o.p);
	unsigned char *keep = o.p;
	o.p = NULL;
	collect();
	collect();
	size_t res = resident_pages(blk[0], bs);
	if (res > 4)
		sc_die("after a collection %zu pages of a %zu GiB block that holds one written page are mapped in: the collector read untouched pages",
		       res, bs >> 30);
	/* the object it points to survived: same bytes, and never handed out again */
	memcpy(&o.p, blk[0] + mid, sizeof o.p);
	if (o.p != keep)
		sc_die("the pointer in the block changed");
	fc_check(&o, "untouched");
	for (int i = 0; i < 2000; i++) {
		void *q = malloc(48);
		if (q == (void *)keep)
			sc_die("the object only a huge block points to was reclaimed and handed out again");
		free(q);
	}
	/* grown past its reservation, the block moves (under the library: mremap, no copy);
	 * the pointer in it still keeps the object alive */
	char *grown = realloc(blk[0], 2 * bs);
	int moved = grown != NULL;
	if (grown) {
		blk[0] = grown;
		collect();
		memcpy(&o.p, blk[0] + mid, sizeof o.p);
		if (o.p != keep)
			sc_die("realloc lost the pointer the block held");
		fc_check(&o, "untouched after realloc");
		for (int i = 0; i < 2000; i++) {
			void *q = malloc(48);
			if (q == (void *)keep)
				sc_die("after realloc, the object only the huge block points to was reclaimed");
			free(q);
		}
		statm(&size1, &rss1);
		if (rss1 > rss0 + ((size_t)32 << 20))
			sc_die("after a realloc of a %zu GiB block RSS is %zu MiB higher", bs >> 30,
			       (rss1 - rss0) >> 20);
	}
	fc_free(&o, "untouched");
	for (int i = 0; i < nb; i++)
		free(blk[i]);
	statm(&size1, &rss1);
	printf("huge_blocks: OK untouched (%d blocks, at least %zu GiB, RSS %+ld KiB, %zu pages mapped in after a collection, realloc to %zu GiB %s)\n",
	       nb, total >> 30, (long)(rss1 - rss0) / 1024, res, 2 * bs >> 30, moved ? "granted" : "refused");
}

static void check_errno(int e, const char *what, size_t n)
{
	if (errno != e)
		sc_die("%s(%zu) succeeded and changed errno from %d to %d (%s)", what, n, e, errno,
		       strerror(errno));
}

static void *errno_thread(void *arg)
{
	uint64_t r = (uintptr_t)arg;
	void *slot[64] = {0};
	for (int it = 0; it < 20000; it++) {
		int e = it % 2 ? EDOM : ERANGE;
		size_t k = (size_t)sc_rand_range(&r, 0, 63), n;
		errno = e;
		free(slot[k]);
		check_errno(e, "free", 0);
		slot[k] = NULL;
		switch (it % 7) {
		case 0:
			n = (size_t)sc_rand_range(&r, 1, 512);
			slot[k] = malloc(n);
			check_errno(e, "malloc", n);
			break;
		case 1:
			n = (size_t)sc_rand_range(&r, 1, 300000);
			slot[k] = calloc(1, n);
			check_errno(e, "calloc", n);
			break;
		case 2:
			n = (size_t)sc_rand_range(&r, 33000, 3000000);
			slot[k] = malloc(n);
			check_errno(e, "malloc", n);
			break;
		case 3:
			n = (size_t)sc_rand_range(&r, 1, 100000);
			slot[k] = aligned_alloc(4096, n);
			check_errno(e, "aligned_alloc", n);
			break;
		case 4:
			n = (size_t)sc_rand_range(&r, 1, 200000);
			slot[k] = realloc(slot[(k + 1) % 64], n);
			check_errno(e, "realloc", n);
			if (slot[k])
				slot[(k + 1) % 64] = NULL;
			break;
		case 5:
			if (it % 700 == 5) { /* a huge block now and then */
				n = ((size_t)300 << 20) + (size_t)sc_rand_range(&r, 0, 1 << 20);
				slot[k] = malloc(n);
				check_errno(e, "malloc", n);
			}
			break;
		default:
			n = (size_t)sc_rand_range(&r, 1, 64);
			slot[k] = strdup("errno must not change");
			check_errno(e, "strdup", n);
			break;
		}
		if (slot[k])
			((char *)slot[k])[0] = 1;
	}
	for (int k = 0; k < 64; k++)
		free(slot[k]);
	return NULL;
}

static void errno_kept(void)
{
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, errno_thread, (void *)(uintptr_t)(i + 1)) != 0)
			sc_die("pthread_create failed");
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("huge_blocks: OK errno\n");
}

#define NLEAK 8
#define HIDE ((uintptr_t)0x5a5a5a5a5a5a5a5aull) /* a hidden address is no pointer */
static uintptr_t leaked[NLEAK];

/* noinline: the pointers die with this frame (the dead part of a stack is no root) */
__attribute__((noinline)) static void leak_huge(void)
{
	for (int i = 0; i < NLEAK; i++) {
		char *p = malloc((size_t)300 << 20);
		if (!p)
			sc_die("malloc(300 MiB) failed");
		memset(p, 0x11, 4096);
		leaked[i] = (uintptr_t)p ^ HIDE;
	}
}

static void reclaim(void)
{
	const char *mode = getenv("SCVGC_MODE");
	if (!under_lib() || !mode || strcmp(mode, "collect"))
		sc_die("reclaim runs in collect mode only");
	void (*collect)(void) = fc_collect_fn();
	unsigned char v;
	leak_huge(); /* 2.4 GiB: periodic collections may take some of them already */
	collect();
	collect();
	/* a block given back to the OS: its pages past the first 64 MiB are no mapping any
	 * more (mincore fails with ENOMEM); a conservative collector may keep one or two */
	int gone = 0;
	for (int i = 0; i < NLEAK; i++) {
		char *p = (char *)(leaked[i] ^ HIDE);
		if (mincore((void *)(((uintptr_t)p + ((size_t)128 << 20)) & ~(uintptr_t)4095), 4096, &v) != 0 &&
		    errno == ENOMEM)
			gone++;
	}
	if (gone < NLEAK - 3)
		sc_die("of %d leaked blocks of 300 MiB only %d went back to the OS after two collections",
		       NLEAK, gone);
	printf("huge_blocks: OK reclaim (%d of %d leaked blocks unmapped)\n", gone, NLEAK);
}

static void dfree(void)
{
	if (!under_lib())
		sc_die("dfree runs under the library only (glibc aborts)");
	char *p = malloc((size_t)300 << 20);
	if (!p)
		sc_die("malloc(300 MiB) failed");
	p[0] = 1;
	char *volatile again = p; /* hidden from the compiler's use-after-free warning */
	free(p);
	free(again); /* diagnosed and ignored */
	void *q = malloc(1000);
	if (!q)
		sc_die("the heap is unusable after the double free");
	free(q);
	printf("huge_blocks: OK dfree\n");
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	if (!strcmp(what, "enomem"))
		enomem();
	else if (!strcmp(what, "align"))
		align();
	else if (!strcmp(what, "untouched"))
		untouched();
	else if (!strcmp(what, "errno"))
		errno_kept();
	else if (!strcmp(what, "reclaim"))
		reclaim();
	else if (!strcmp(what, "dfree"))
		dfree();
	else
		sc_die("usage: huge_blocks enomem|align|untouched|errno|reclaim|dfree");
	return 0;
}
