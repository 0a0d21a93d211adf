// case: a leaked malloc(0) block is reported as one object of 0 bytes; one kept in a global is not
// expect: direct_objects=1 direct_bytes=0 indirect_objects=0 indirect_bytes=0
// expect-leak: function=leak_empty kind=direct objects=1 bytes=0
// expect-not-reported: keep_empty
/* malloc(0) returns a unique pointer (as glibc's does) that must still be freed; the requested
 * size, 0, is what the report counts. The kept one is pointed to at its start address. */
#include "leakcase.h"

static void *volatile kept;

static NOINLINE void leak_empty(void)
{
    void *p = malloc(0);
    if (!p)
        die("malloc(0) returned NULL");
    p = NULL;
}

static NOINLINE void keep_empty(void)
{
    if (!(kept = malloc(0)))
        die("malloc(0) returned NULL");
}

int main(void)
{
    leak_empty();
    keep_empty();
    scrub();
    return 0;
}
