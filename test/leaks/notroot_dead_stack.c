// case: a pointer left in a dead stack frame, below the stack pointer, does not keep its object alive
// expect: direct_objects=1 direct_bytes=104 indirect_objects=0 indirect_bytes=0
// expect-leak: function=make_buried kind=direct objects=1 bytes=104
/* bury() has a 1 MiB frame and stores the pointer at its lowest address, then returns: the only
 * copies of the pointer (there, and in the frames of make_buried and malloc under it) lie more
 * than 1 MiB below main's stack pointer, in the dead part of the stack. Assumes the exit path
 * and the collector use less than 1 MiB of the main thread's stack. */
#include "leakcase.h"

static NOINLINE void *make_buried(void)
{
    return malloc(104);
}

static NOINLINE void bury(void)
{
    void *volatile deep[128 * 1024]; /* deep[0] is the lowest address of the frame */
    deep[0] = make_buried();
    if (!deep[0])
        die("malloc failed");
}

int main(void)
{
    bury();
    scrub();
    return 0;
}
