// case: objects referenced only from a dlopen'd library's globals (.bss and .data) are not reported
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: hand_to_library
/* libdlglobals.so, opened at run time, stores a 216-byte object in its .bss and a 232-byte one
 * in its .data; main keeps no copy. The library stays loaded until exit. */
#include "leakcase.h"

static NOINLINE void hand_to_library(void (*keep)(void *, void *))
{
    void *a = malloc(216), *b = malloc(232);
    if (!a || !b)
        die("malloc failed");
    keep(a, b);
    a = b = NULL;
}

int main(void)
{
    void *lib = open_sibling_library("libdlglobals.so", RTLD_NOW);
    hand_to_library((void (*)(void *, void *))sibling_symbol(lib, "dlglobals_keep"));
    control_leak();
    scrub();
    return 0;
}
