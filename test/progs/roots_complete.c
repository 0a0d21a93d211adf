/* roots_complete.c — a cycle sees every root or frees nothing (issue 19): the user situations
 * of test/integration/roots.sh that a leak case cannot show (the checked moment is a cycle
 * during which the program holds every descriptor, or a reservation's pause time).
 *
 *   roots_complete emfile-soft   every descriptor the soft RLIMIT_NOFILE allows is taken (the
 *                                hard limit is higher): a leak check still reads the roots and
 *                                does not report a 1000-node list held by a global
 *   roots_complete emfile-hard   the same at the hard limit: /proc/self/maps cannot be opened,
 *                                so the cycle is incomplete: it reports nothing (leak mode) and
 *                                frees nothing (collect mode: the list is intact after reuse)
 *   roots_complete maps-as       /proc/self/maps outgrew the collector's buffer (40000 more
 *                                mappings) while RLIMIT_AS leaves no room for a bigger one: the
 *                                cycle is incomplete and frees nothing (before, it scanned no
 *                                root and collect mode freed the whole list)
 *   roots_complete protected     a live calloc'd buffer (256 KiB and 4 MiB) with a PROT_NONE
 *                                page inside: cycles do not crash, the objects the readable
 *                                pages point to stay alive, and the program's own SIGSEGV
 *                                handler still catches its own fault afterwards
 *   roots_complete reserve N     a 16 TiB MAP_NORESERVE reservation with one page touched
 *                                holding the only pointer to an object: N collections (each one
 *                                cost 3 s of pause when the whole range went through mincore);
 *                                the object stays alive
 * Prints "ok ..." and exits 0, or prints what went wrong and exits 1. Without the library
 * (scvgc_collect not found) every case still runs, checking less.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static void (*collect)(void);
static size_t (*leak_check)(void);

static void bad(const char *what)
{
	printf("roots_complete: FAIL %s\n", what);
	fflush(stdout);
	_exit(1);
}

/* Allocate and drop garbage so that freed slots are reused: a node freed by mistake is then
 * overwritten. */
static NOINLINE void churn(void)
{
	for (int i = 0; i < 200000; i++) {
		long *p = malloc(16);
		if (!p)
			bad("malloc failed");
		p[0] = -1;
		p[1] = -1;
	}
}

struct node {
	struct node *next;
	long value;
};
static struct node *volatile head;

static NOINLINE void build_list(void)
{
	for (long i = 0; i < 1000; i++) {
		struct node *n = malloc(sizeof *n);
		if (!n)
			bad("malloc failed");
		n->value = i;
		n->next = head;
		head = n;
	}
}

static NOINLINE void check_list(void)
{
	long want = 999, count = 0;
	for (struct node *n = head; n; n = n->next, want--, count++)
		if (n->value != want || count > 1000)
			bad("the list was freed and reused: a cycle that could not read the roots freed it");
	if (count != 1000)
		bad("the list lost nodes");
}

static int first_free;

/* Take every descriptor left; with hard, the hard limit too. Returns the first one taken. */
static void take_all(int hard)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		bad("getrlimit");
	rl.rlim_cur = 64;
	if (hard)
		rl.rlim_max = 64;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		bad("setrlimit");
	first_free = -1;
	int fd;
	while ((fd = dup(1)) >= 0)
		if (first_free < 0)
			first_free = fd;
	if (errno != EMFILE)
		bad("dup failed without EMFILE");
}

static void give_back(void)
{
	for (int fd = first_free; fd >= 0 && fd < 64; fd++)
		close(fd);
}

static int emfile(int hard)
{
	build_list();
	free(malloc(24)); /* warm up: the collector's threads and buffers exist */
	if (collect)
		collect();
	take_all(hard);
	size_t n = leak_check ? leak_check() : 0;
	if (collect)
		collect();
	give_back();
	churn();
	check_list();
	if (!hard && n >= 1000)
		bad("the list was reported as leaked: the roots were not read at EMFILE");
	if (hard && n != 0)
		bad("an incomplete cycle reported leaks");
	printf("ok emfile-%s: %zu reported\n", hard ? "hard" : "soft", n);
	return 0;
}

/* Many small writable mappings the kernel cannot merge (MADV_DONTFORK on every other page
 * sets a flag its neighbours lack): the maps grow by about 50 bytes each, and so does the
 * list of writable mappings PROCMAP_QUERY gives (Linux 6.11, roots.c R6), which read-only
 * mappings between writable ones would not have made outgrow the buffer. */
static NOINLINE void many_mappings(int n)
{
	char *r = mmap(NULL, (size_t)n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (r == MAP_FAILED)
		bad("mmap failed");
	for (int i = 0; i < n; i += 2)
		if (madvise(r + (size_t)i * 4096, 4096, MADV_DONTFORK) != 0)
			bad("madvise failed (vm.max_map_count?)");
}

static size_t vm_size(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long pages = 0;
	if (!f || fscanf(f, "%lu", &pages) != 1)
		bad("statm");
	fclose(f);
	return pages * 4096;
}

static int maps_as(void)
{
	build_list();
	free(malloc(24));
	if (collect)
		collect(); /* the buffer of the maps and the collector's threads exist now */
	many_mappings(40000);
	struct rlimit old, rl;
	if (getrlimit(RLIMIT_AS, &old) != 0)
		bad("getrlimit");
	rl = old;
	rl.rlim_cur = vm_size() + 4096;
	if (setrlimit(RLIMIT_AS, &rl) != 0)
		bad("setrlimit");
	if (collect)
		collect();
	size_t n = leak_check ? leak_check() : 0;
	if (setrlimit(RLIMIT_AS, &old) != 0)
		bad("setrlimit back");
	churn();
	check_list();
	if (n >= 1000)
		bad("the list was reported as leaked: the maps were not read whole");
	printf("ok maps-as: %zu reported\n", n);
	return 0;
}

/* ---- protected pages inside a live object ---- */
static sigjmp_buf own_jmp;
static volatile int own_faults;
static void own_handler(int sig)
{
	(void)sig;
	own_faults++;
	siglongjmp(own_jmp, 1);
}

static char *volatile bufs[3];

static NOINLINE void fill_buffer(int k, size_t size)
{
	char *b = calloc(1, size);
	if (!b)
		bad("calloc failed");
	uintptr_t page = ((uintptr_t)b + size / 2) & ~(uintptr_t)4095;
	/* pointers before the guard page, in it and after it */
	long **before = (long **)(page - 64), **after = (long **)(page + 4096 + 64);
	*before = malloc(40);
	*after = malloc(40);
	**before = 1000 + k;
	**after = 2000 + k;
	if (mprotect((void *)page, 4096, PROT_NONE) != 0)
		bad("mprotect failed");
	bufs[k] = b;
}

/* A small object of 16 KiB (a size class: in a span with others) whose FIRST page the program
 * protects: the collector must not read its first words directly (the lean layout's key test,
 * internal.h), only through the guarded scan. */
static NOINLINE void fill_first(void)
{
	char *b = calloc(1, 16384);
	if (!b)
		bad("calloc failed");
	if ((uintptr_t)b & 4095)
		bad("a 16 KiB object is not page aligned");
	long **after = (long **)(b + 4096 + 64);
	*after = malloc(40);
	**after = 3000;
	if (mprotect(b, 4096, PROT_NONE) != 0)
		bad("mprotect failed");
	bufs[2] = b;
}

static NOINLINE void check_first(void)
{
	long **after = (long **)(bufs[2] + 4096 + 64);
	if (**after != 3000)
		bad("an object that a readable page of a live small object points to was freed");
}

static NOINLINE void check_buffer(int k, size_t size)
{
	uintptr_t page = ((uintptr_t)bufs[k] + size / 2) & ~(uintptr_t)4095;
	long **before = (long **)(page - 64), **after = (long **)(page + 4096 + 64);
	if (**before != 1000 + k || **after != 2000 + k)
		bad("an object that a readable page of a live buffer points to was freed");
}

static int protected(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = own_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	fill_buffer(0, 256 << 10);
	fill_buffer(1, 4 << 20);
	fill_first();
	for (int i = 0; i < 3; i++)
		if (collect)
			collect();
	size_t n = leak_check ? leak_check() : 0;
	churn();
	check_buffer(0, 256 << 10);
	check_buffer(1, 4 << 20);
	check_first();
	/* the program's own handler still sees its own fault */
	volatile char *guard = (char *)(((uintptr_t)bufs[0] + (128 << 10)) & ~(uintptr_t)4095);
	if (!sigsetjmp(own_jmp, 1))
		(void)*guard;
	if (own_faults != 1)
		bad("the program's own SIGSEGV handler did not see its fault");
	if (n > 10)
		bad("objects held by a live buffer were reported");
	printf("ok protected: %zu reported\n", n);
	return 0;
}

/* ---- a huge reservation, one page touched ---- */
static long *volatile *volatile slot;

static NOINLINE void reserve_keep(void)
{
	size_t len = (size_t)16 << 40;
	char *r = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED) {
		len = (size_t)1 << 40;
		r = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	}
	if (r == MAP_FAILED)
		bad("mmap of the reservation failed");
	slot = (long *volatile *)(r + len / 2 + 512);
	long *o = malloc(48);
	if (!o)
		bad("malloc failed");
	o[0] = 4242;
	*slot = o;
}

static int reserve(int cycles)
{
	reserve_keep();
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < cycles; i++)
		if (collect)
			collect();
	clock_gettime(CLOCK_MONOTONIC, &b);
	churn();
	if ((*slot)[0] != 4242)
		bad("the object held only by the reservation's touched page was freed");
	printf("ok reserve: %d collections in %.3f s\n", cycles,
	       (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}

int main(int argc, char **argv)
{
	*(void **)&collect = dlsym(RTLD_DEFAULT, "scvgc_collect");
	*(void **)&leak_check = dlsym(RTLD_DEFAULT, "scvgc_leak_check");
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "emfile-soft"))
		return emfile(0);
	if (argc >= 2 && !strcmp(argv[1], "emfile-hard"))
		return emfile(1);
	if (argc >= 2 && !strcmp(argv[1], "maps-as"))
		return maps_as();
	if (argc >= 2 && !strcmp(argv[1], "protected"))
		return protected();
	if (argc >= 3 && !strcmp(argv[1], "reserve"))
		return reserve(atoi(argv[2]));
	fprintf(stderr, "usage: roots_complete emfile-soft|emfile-hard|maps-as|protected|reserve N\n");
	return 2;
}
