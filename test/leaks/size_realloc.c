// case: realloc'd objects are reported with their new size (grown and moved, shrunk, grown in ten steps), and the blocks realloc freed are not
// expect: direct_objects=3 direct_bytes=101010 indirect_objects=0 indirect_bytes=0
// expect-leak: function=realloc_grow kind=direct objects=1 bytes=100000
// expect-leak: function=realloc_shrink kind=direct objects=1 bytes=10
// expect-leak: function=realloc_steps kind=direct objects=1 bytes=1000
/* Sizes are the last requested ones: 16 -> 100000 (surely moved to another span), 4000 -> 10,
 * and NULL -> 100 -> 200 -> ... -> 1000. Each function calls malloc and realloc itself, so the
 * groups match whichever call's stack the collector keeps. */
#include "leakcase.h"

static NOINLINE void realloc_grow(void)
{
    char *p = malloc(16);
    if (!p || !(p = realloc(p, 100000)))
        die("realloc failed");
    p[99999] = 1;
    p = NULL;
}

static NOINLINE void realloc_shrink(void)
{
    char *p = malloc(4000);
    if (!p || !(p = realloc(p, 10)))
        die("realloc failed");
    p = NULL;
}

static NOINLINE void realloc_steps(void)
{
    char *p = NULL;
    for (size_t n = 100; n <= 1000; n += 100)
        if (!(p = realloc(p, n)))
            die("realloc failed");
    p = NULL;
}

int main(void)
{
    realloc_grow();
    realloc_shrink();
    realloc_steps();
    scrub();
    return 0;
}
