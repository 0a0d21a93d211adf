// case: a block that points only to itself, whose address went through fprintf, is reported at exit
// expect: direct_objects=1 direct_bytes=16 indirect_objects=0 indirect_bytes=0
// expect-leak: function=make_self_loop kind=direct objects=1 bytes=16
/* fprintf's frames (vfprintf and its helpers, deep below main) keep copies of the address in
 * slots that glibc's exit path lays its frames over without writing: dead stack, no root. */
#include "leakcase.h"

struct self {
    struct self *me;
    long pad;
};

static NOINLINE struct self *make_self_loop(void)
{
    struct self *s = malloc(sizeof *s);
    if (!s)
        die("malloc failed");
    s->me = s;
    return s;
}

int main(void)
{
    fprintf(stderr, "made %p (%d, %s)\n", (void *)make_self_loop(), 1, "self");
    return 0;
}
