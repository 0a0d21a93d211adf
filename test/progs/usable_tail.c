/* usable_tail.c — every byte malloc_usable_size hands out is scanned for pointers.
 *
 * 64 times: p = malloc(100); the program asks malloc_usable_size(p) and keeps a pointer to a
 * new 48-byte object q (filled with a pattern) in the last aligned word of that usable size,
 * and nowhere else (the copy in the program's variables is overwritten). Then it runs a
 * collection (scvgc_collect through dlsym when the library is there), allocates and fills
 * 20,000 more 48-byte objects — a freed q would be handed out again and overwritten — and
 * checks every q's pattern. Exit 0 and "usable_tail: OK"; one line on stderr and exit 1 when
 * a q lost its bytes (collect mode freed it).
 */
#include "stress_common.h"

#include <dlfcn.h>
#include <malloc.h>

#define N 64

static unsigned char *holders[N];

__attribute__((noinline)) static void make(int i, uint64_t seed)
{
	unsigned char *p = malloc(100), *q = malloc(48);
	if (!p || !q)
		sc_die("usable_tail: malloc returned NULL");
	memset(p, 0, 100);
	size_t n = malloc_usable_size(p);
	if (n < 100)
		sc_die("usable_tail: malloc_usable_size(malloc(100)) = %zu", n);
	sc_fill(q, 48, sc_key(q, seed));
	uintptr_t v = (uintptr_t)q;
	memcpy(p + ((n - 8) & ~(size_t)7), &v, 8); /* the only copy: in the usable tail */
	holders[i] = p;
	q = NULL;
	v = 0;
	sc_escape(&v);
}

__attribute__((noinline)) static void scrub(void)
{
	volatile unsigned char pad[16384];
	memset((unsigned char *)pad, 0, sizeof pad);
}

int main(void)
{
	for (int i = 0; i < N; i++)
		make(i, (uint64_t)i + 1);
	scrub();
	void (*collect)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "scvgc_collect");
	if (collect)
		collect();
	for (int i = 0; i < 20000; i++) {
		void *x = malloc(48);
		if (!x)
			sc_die("usable_tail: malloc returned NULL");
		memset(x, 0xee, 48);
		sc_escape(x);
	}
	for (int i = 0; i < N; i++) {
		size_t n = malloc_usable_size(holders[i]);
		uintptr_t v;
		memcpy(&v, holders[i] + ((n - 8) & ~(size_t)7), 8);
		if (sc_check((void *)v, 48, sc_key((void *)v, (uint64_t)i + 1)) != (size_t)-1)
			sc_die("usable_tail: the object kept in the usable tail of block %d was freed", i);
	}
	printf("usable_tail: OK\n");
	return 0;
}
