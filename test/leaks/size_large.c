// case: a leaked 1 MiB buffer is reported with its exact size; a 3 MiB buffer referenced only 2 MiB into it is not
// expect: direct_objects=1 direct_bytes=1048576 indirect_objects=0 indirect_bytes=0
// expect-leak: function=leak_large kind=direct objects=1 bytes=1048576
// expect-not-reported: keep_large_by_inside
/* Large objects get spans of their own in a Go-style heap; the interior-pointer rule holds for
 * them too, at any depth into the span. */
#include "leakcase.h"

static char *volatile inside;

static NOINLINE void leak_large(void)
{
    char *p = malloc(1 << 20);
    if (!p)
        die("malloc failed");
    p[0] = p[(1 << 20) - 1] = 1;
    p = NULL;
}

static NOINLINE void keep_large_by_inside(void)
{
    char *p = malloc(3 << 20);
    if (!p)
        die("malloc failed");
    inside = p + (2 << 20);
    p = NULL;
}

int main(void)
{
    leak_large();
    keep_large_by_inside();
    scrub();
    return 0;
}
