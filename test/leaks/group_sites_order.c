// case: leaks from three sites are three groups, largest total bytes first (not most objects, not largest object)
// expect: direct_objects=14 direct_bytes=1800 indirect_objects=0 indirect_bytes=0
// expect-leak: function=site_one_big kind=direct objects=1 bytes=1000 groups=1
// expect-leak: function=site_many_small kind=direct objects=10 bytes=500 groups=1
// expect-leak: function=site_few_medium kind=direct objects=3 bytes=300 groups=1
// expect-order: site_one_big site_many_small site_few_medium
/* 1 x 1000 bytes, 10 x 50 bytes, 3 x 100 bytes, allocated in the opposite order of the
 * report's. "Largest first" means largest group total, as in LeakSanitizer. */
#include "leakcase.h"

static NOINLINE void site_few_medium(void)
{
    for (int i = 0; i < 3; i++) {
        void *volatile p = malloc(100);
        if (!p)
            die("malloc failed");
        p = NULL;
    }
}

static NOINLINE void site_many_small(void)
{
    for (int i = 0; i < 10; i++) {
        void *volatile p = malloc(50);
        if (!p)
            die("malloc failed");
        p = NULL;
    }
}

static NOINLINE void site_one_big(void)
{
    void *volatile p = malloc(1000);
    if (!p)
        die("malloc failed");
    p = NULL;
}

int main(void)
{
    site_few_medium();
    site_many_small();
    site_one_big();
    scrub();
    return 0;
}
