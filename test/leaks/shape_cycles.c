// case: a leaked ring of three objects is reported as one direct and two indirect; a leaked object pointing to itself as one direct
// expect: direct_objects=2 direct_bytes=56 indirect_objects=2 indirect_bytes=64
// expect-leak: function=make_ring kind=direct objects=1 bytes=32
// expect-leak: function=make_ring kind=indirect objects=2 bytes=64
// expect-leak: function=make_selfref kind=direct objects=1 bytes=24
/* Every member of a leaked cycle is pointed to by a leaked object, so "direct" would be empty;
 * the contract reports one member of each unreachable cycle as direct (which one is the
 * collector's choice) and the rest as indirect. */
#include "leakcase.h"

struct ring {
    struct ring *next;
    char payload[24];
};

struct self {
    struct self *me;
    long a, b;
};

static NOINLINE void make_ring(void)
{
    struct ring *first = NULL, *prev = NULL;
    for (int i = 0; i < 3; i++) {
        struct ring *r = malloc(sizeof *r);
        if (!r)
            die("malloc failed");
        if (prev)
            prev->next = r;
        else
            first = r;
        prev = r;
    }
    prev->next = first;
    first = prev = NULL;
}

static NOINLINE void make_selfref(void)
{
    struct self *s = malloc(sizeof *s);
    if (!s)
        die("malloc failed");
    s->me = s;
    s = NULL;
}

int main(void)
{
    make_ring();
    make_selfref();
    scrub();
    return 0;
}
