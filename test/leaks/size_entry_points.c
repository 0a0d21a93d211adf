// case: a leak through each allocation entry point (malloc, calloc, realloc, reallocarray, memalign, posix_memalign, aligned_alloc, valloc, strdup, strndup) is reported with its requested size
// expect: direct_objects=10 direct_bytes=425 indirect_objects=0 indirect_bytes=0
// expect-leak: function=leak_malloc kind=direct objects=1 bytes=11
// expect-leak: function=leak_calloc kind=direct objects=1 bytes=21
// expect-leak: function=leak_realloc kind=direct objects=1 bytes=31
// expect-leak: function=leak_reallocarray kind=direct objects=1 bytes=45
// expect-leak: function=leak_memalign kind=direct objects=1 bytes=57
// expect-leak: function=leak_posix_memalign kind=direct objects=1 bytes=67
// expect-leak: function=leak_aligned_alloc kind=direct objects=1 bytes=96
// expect-leak: function=leak_valloc kind=direct objects=1 bytes=77
// expect-leak: function=leak_strdup kind=direct objects=1 bytes=12
// expect-leak: function=leak_strndup kind=direct objects=1 bytes=8
/* One function per entry point, each with its own size: calloc(3, 7), realloc(NULL, 31),
 * reallocarray(NULL, 5, 9), memalign(64, 57), posix_memalign(128, 67), aligned_alloc(32, 96),
 * valloc(77) (requested 77, though the block is page-aligned), strdup of an 11-character
 * string, strndup(s, 7). strdup and strndup call malloc from inside libc: the stack still
 * names the caller. */
#include "leakcase.h"
#include <malloc.h>

static void *volatile sink;

static NOINLINE void check(void *p)
{
    if (!p)
        die("allocation failed");
    sink = p;
    sink = NULL;
}

static NOINLINE void leak_malloc(void) { check(malloc(11)); }
static NOINLINE void leak_calloc(void) { check(calloc(3, 7)); }
static NOINLINE void leak_realloc(void) { check(realloc(NULL, 31)); }
static NOINLINE void leak_reallocarray(void) { check(reallocarray(NULL, 5, 9)); }
static NOINLINE void leak_memalign(void) { check(memalign(64, 57)); }
static NOINLINE void leak_aligned_alloc(void) { check(aligned_alloc(32, 96)); }
static NOINLINE void leak_valloc(void) { check(valloc(77)); }
static NOINLINE void leak_strdup(void) { check(strdup("strdup leak")); }
static NOINLINE void leak_strndup(void) { check(strndup("strndup leaks part", 7)); }

static NOINLINE void leak_posix_memalign(void)
{
    void *p = NULL;
    if (posix_memalign(&p, 128, 67) != 0)
        die("posix_memalign failed");
    check(p);
    p = NULL;
}

int main(void)
{
    leak_malloc();
    leak_calloc();
    leak_realloc();
    leak_reallocarray();
    leak_memalign();
    leak_posix_memalign();
    leak_aligned_alloc();
    leak_valloc();
    leak_strdup();
    leak_strndup();
    scrub();
    return 0;
}
