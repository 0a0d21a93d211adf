// case: with SCVGC_STACK_DEPTH=1, leaks from one allocating function reached through two callers form a single group
// env: SCVGC_STACK_DEPTH=1
// expect: direct_objects=5 direct_bytes=120 indirect_objects=0 indirect_bytes=0
// expect-leak: function=alloc_helper kind=direct objects=5 bytes=120 groups=1
// expect-not-reported: caller_a caller_b
/* alloc_helper() leaks 24 bytes; caller_a() calls it three times, caller_b() twice. With one
 * frame, the frame that called malloc (the library's own frames are not counted), the stacks
 * are identical. */
#include "leakcase.h"

static NOINLINE void alloc_helper(void)
{
    void *p = malloc(24);
    if (!p)
        die("malloc failed");
    p = NULL;
}

static NOINLINE void caller_a(void)
{
    for (int i = 0; i < 3; i++)
        alloc_helper();
}

static NOINLINE void caller_b(void)
{
    alloc_helper();
    alloc_helper();
}

int main(void)
{
    caller_a();
    caller_b();
    scrub();
    return 0;
}
