/* uaf_link.c — one pointer written into a freed block never makes malloc return it.
 *
 * Two 32-byte blocks are freed, then the program writes the address of a global into the
 * first word of the freed one (a use after free: where an unprotected allocator keeps its
 * free-list link), and allocates 5000 blocks of the same size. An allocator that trusts the
 * link hands out the global (exit 3: "got target"); glibc aborts ("unaligned tcache chunk
 * detected"), and so must libscvgc, with its own diagnostic. Exit 0 ("no") means the write
 * was never noticed nor used, which also fails the test.
 */
/* the use after free is the point of this program */
#pragma GCC diagnostic ignored "-Wuse-after-free"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static long target[8];

static void *esc(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

int main(void)
{
	void **a = esc(malloc(32)), **b = esc(malloc(32));
	uintptr_t keep = (uintptr_t)a; /* the address survives the free; the compiler may not see it */
	free(b);
	free(a);
	*(void *volatile *)esc((void *)keep) = (void *)target; /* use after free */
	for (int i = 0; i < 5000; i++) {
		void *x = esc(malloc(32));
		if (x == (void *)target) {
			printf("got target\n");
			return 3;
		}
	}
	printf("no\n");
	return 0;
}
