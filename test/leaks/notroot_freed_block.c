// case: an object whose only pointer was inside a block since freed is reported
// expect: direct_objects=1 direct_bytes=120 indirect_objects=0 indirect_bytes=0
// expect-leak: function=make_child kind=direct objects=1 bytes=120
// expect-not-reported: make_holder
/* The holder (64 bytes) points to a 120-byte child; the program frees the holder without
 * freeing the child. The stale pointer stays in the freed block's bytes, but free slots are not
 * roots. Nothing is allocated after the free, so no live object can reuse the slot and bring
 * the stale pointer back to life. */
#include "leakcase.h"

struct holder {
    void *child;
    char payload[56];
};

static NOINLINE void *make_child(void)
{
    void *c = malloc(120);
    if (!c)
        die("malloc failed");
    return c;
}

static NOINLINE struct holder *make_holder(void)
{
    struct holder *h = malloc(sizeof *h);
    if (!h)
        die("malloc failed");
    return h;
}

static NOINLINE void free_holder_only(void)
{
    struct holder *h = make_holder();
    h->child = make_child();
    free(h);
    h = NULL;
}

int main(void)
{
    free_holder_only();
    scrub();
    return 0;
}
