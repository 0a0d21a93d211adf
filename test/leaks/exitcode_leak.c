// case: with SCVGC_EXITCODE=23 a program that leaks exits with status 23
// env: SCVGC_EXITCODE=23
// expect-exit: 23
// expect: direct_objects=1 direct_bytes=20 indirect_objects=0 indirect_bytes=0
// expect-leak: function=leak_twenty kind=direct objects=1 bytes=20
#include "leakcase.h"

static NOINLINE void leak_twenty(void)
{
    void *volatile p = malloc(20);
    if (!p)
        die("malloc failed");
    p = NULL;
}

int main(void)
{
    leak_twenty();
    scrub();
    return 0;
}
