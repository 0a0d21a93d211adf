// case: with SCVGC_STACK_DEPTH=0 (no stacks captured) leaks are still found and counted
// env: SCVGC_STACK_DEPTH=0
// expect: direct_objects=4 direct_bytes=80 indirect_objects=0 indirect_bytes=0
// expect-not-reported: site_a site_b
/* 3 x 16 bytes from site_a, 1 x 32 bytes from site_b. No frame can name either. */
#include "leakcase.h"

static NOINLINE void site_a(void)
{
    for (int i = 0; i < 3; i++) {
        void *volatile p = malloc(16);
        if (!p)
            die("malloc failed");
        p = NULL;
    }
}

static NOINLINE void site_b(void)
{
    void *volatile p = malloc(32);
    if (!p)
        die("malloc failed");
    p = NULL;
}

int main(void)
{
    site_a();
    site_b();
    scrub();
    return 0;
}
