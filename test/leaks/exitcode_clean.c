// case: with SCVGC_EXITCODE=23 a program that leaks nothing keeps its own exit status 0
// env: SCVGC_EXITCODE=23
// expect-exit: 0
// expect: direct_objects=0 direct_bytes=0 indirect_objects=0 indirect_bytes=0
// expect-not-reported: kept_and_freed
#include "leakcase.h"

static void *volatile kept;

static NOINLINE void kept_and_freed(void)
{
    kept = malloc(20);
    free(malloc(30));
}

int main(void)
{
    kept_and_freed();
    scrub();
    return 0;
}
