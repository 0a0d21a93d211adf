// case: a leak made inside a dlopen'd library is reported with the library's function in its stack; what the library keeps in its globals is not
// expect: direct_objects=1 direct_bytes=77 indirect_objects=0 indirect_bytes=0
// expect-leak: function=dlleak_alloc kind=direct objects=1 bytes=77
// expect-not-reported: dlleak_keep_one
/* libdlleak.so (loaded with dlopen, still loaded at exit) allocates 77 bytes and drops them,
 * and keeps 78 bytes in its own .bss. Symbolizing the first needs the module list as it is at
 * report time, dlopen'd libraries included. */
#include "leakcase.h"

int main(void)
{
    void *lib = open_sibling_library("libdlleak.so", RTLD_NOW);
    void (*run)(void) = (void (*)(void))sibling_symbol(lib, "dlleak_run");
    run();
    scrub();
    return 0;
}
