// case: a thousand small leaks from one allocation site are reported as one group of 1000 objects
// expect: direct_objects=1000 direct_bytes=16000 indirect_objects=0 indirect_bytes=0
// expect-leak: function=leak_one kind=direct objects=1000 bytes=16000 groups=1
/* leak_one() is called from a single call site in a loop: every object has the same stack. */
#include "leakcase.h"

static NOINLINE void leak_one(void)
{
    void *p = malloc(16);
    if (!p)
        die("malloc failed");
    p = NULL;
}

static NOINLINE void leak_many(void)
{
    for (int i = 0; i < 1000; i++)
        leak_one();
}

int main(void)
{
    leak_many();
    scrub();
    return 0;
}
