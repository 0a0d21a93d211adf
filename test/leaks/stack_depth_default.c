// case: a leak made 30 calls deep is reported with at most 16 frames (SCVGC_STACK_DEPTH's default), the innermost ones
// expect: direct_objects=1 direct_bytes=40 indirect_objects=0 indirect_bytes=0
// expect-leak: function=leaf_alloc kind=direct objects=1 bytes=40
// expect-not-reported: main
/* main -> descend x 30 -> leaf_alloc -> malloc: the 16 innermost frames are leaf_alloc and
 * descend only, so main must not appear in the stack. */
#include "leakcase.h"

static NOINLINE void leaf_alloc(void)
{
    void *p = malloc(40);
    if (!p)
        die("malloc failed");
    p = NULL;
}

static NOINLINE void descend(int n)
{
    if (n > 0)
        descend(n - 1);
    else
        leaf_alloc();
    BARRIER();
}

int main(void)
{
    descend(30);
    scrub();
    return 0;
}
