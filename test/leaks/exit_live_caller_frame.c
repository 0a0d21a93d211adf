// case: a block held in a local of the function that calls exit() is not reported; one its returned callee dropped is
// expect: direct_objects=1 direct_bytes=40 indirect_objects=0 indirect_bytes=0
// expect-leak: function=dropped kind=direct objects=1 bytes=40
// expect-not-reported: kept_until_exit
/* finish() holds p in its frame when it calls exit(0): that frame is live at the exit check
 * (the scan starts at the sp with which it called exit). dropped()'s block was only in the
 * dead frame of a callee that returned before. */
#include "leakcase.h"

static NOINLINE void dropped(void)
{
    void *volatile p = malloc(40);
    if (!p)
        die("malloc failed");
}

static NOINLINE void *kept_until_exit(void)
{
    void *p = malloc(56);
    if (!p)
        die("malloc failed");
    return p;
}

static NOINLINE void use(void *p)
{
    memset(p, 1, 56);
}

static NOINLINE void finish(void)
{
    void *volatile p = kept_until_exit();
    use(p);
    dropped();
    exit(0);
}

int main(void)
{
    finish();
}
