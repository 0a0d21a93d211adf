// case: a leak matched by a SCVGC_SUPPRESS pattern is counted as suppressed and not listed; the other leak is reported
// env: SCVGC_SUPPRESS=@SRCDIR@/suppress.supp
// expect: direct_objects=1 direct_bytes=32 indirect_objects=0 indirect_bytes=0 suppressed_objects=1
// expect-leak: function=my_own_leak kind=direct objects=1 bytes=32
// expect-not-reported: third_party_cache_init
/* suppress.supp holds "leak:third_party_cache_init". The suppressed object (64 bytes) points to
 * nothing, so no indirect leak hangs on it. */
#include "leakcase.h"

static NOINLINE void third_party_cache_init(void)
{
    void *volatile p = malloc(64);
    if (!p)
        die("malloc failed");
    p = NULL;
}

static NOINLINE void my_own_leak(void)
{
    void *volatile p = malloc(32);
    if (!p)
        die("malloc failed");
    p = NULL;
}

int main(void)
{
    third_party_cache_init();
    my_own_leak();
    scrub();
    return 0;
}
