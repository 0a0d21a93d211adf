// case: an object referenced only from a dlopen'd library's __thread variable is not reported
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: hand_to_library dltls_keep
/* libdltls.so stores a 200-byte object in its __thread variable, in the main thread. That
 * variable lives in a dynamic TLS block glibc mallocs inside dltls_keep() (so the block's own
 * allocation stack names dltls_keep, and it must not be reported either): the chain is
 * thread pointer -> DTV -> TLS block (a heap object) -> object. The library stays loaded. */
#include "leakcase.h"

static NOINLINE void hand_to_library(void (*keep)(void *))
{
    void *obj = malloc(200);
    if (!obj)
        die("malloc failed");
    keep(obj);
    obj = NULL;
}

int main(void)
{
    void *lib = open_sibling_library("libdltls.so", RTLD_NOW);
    hand_to_library((void (*)(void *))sibling_symbol(lib, "dltls_keep"));
    control_leak();
    scrub();
    return 0;
}
