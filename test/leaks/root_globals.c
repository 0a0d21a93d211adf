// case: objects referenced only from globals and statics (.bss, .data, a function-local static) are not reported
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: keep_in_bss keep_in_data keep_in_table keep_in_static_local
/* The classic "still reachable at exit" objects: a cache in a zero-initialised global, one in
 * an initialised global, one in a table initialised with pointers (.data.rel.local), one in a
 * function-local static. All stay there until main returns. */
#include "leakcase.h"

static void *volatile in_bss;
void *volatile in_data = (void *)1;
static struct {
    const char *name;
    void *volatile value;
} table[3] = {{"alpha", 0}, {"beta", 0}, {"gamma", 0}};

static NOINLINE void keep_in_bss(void)
{
    if (!(in_bss = malloc(16)))
        die("malloc failed");
}

static NOINLINE void keep_in_data(void)
{
    if (!(in_data = malloc(24)))
        die("malloc failed");
}

static NOINLINE void keep_in_table(void)
{
    if (!(table[2].value = malloc(32)))
        die("malloc failed");
}

static NOINLINE void keep_in_static_local(void)
{
    static void *volatile cache;
    if (!cache && !(cache = malloc(40)))
        die("malloc failed");
}

int main(void)
{
    keep_in_bss();
    keep_in_data();
    keep_in_table();
    keep_in_static_local();
    control_leak();
    scrub();
    return 0;
}
