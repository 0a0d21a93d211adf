// case: an object referenced only from the globals of a library that was dlclose()d is reported
// expect: direct_objects=1 direct_bytes=160 indirect_objects=0 indirect_bytes=0
// expect-leak: function=hand_to_library kind=direct objects=1 bytes=160
/* libdlclose.so keeps the only pointer to a 160-byte object in its .bss; the program then
 * dlclose()s it and checks with RTLD_NOLOAD that it is really unloaded, so its data mapping is
 * gone and the object is unreachable. The allocation stack is in the executable, not in the
 * unloaded library. */
#include "leakcase.h"

static NOINLINE void hand_to_library(void (*keep)(void *))
{
    void *obj = malloc(160);
    if (!obj)
        die("malloc failed");
    keep(obj);
    obj = NULL;
}

int main(void)
{
    void *lib = open_sibling_library("libdlclose.so", RTLD_NOW);
    hand_to_library((void (*)(void *))sibling_symbol(lib, "dlclose_keep"));
    if (dlclose(lib) != 0)
        die("dlclose failed");
    lib = open_sibling_library("libdlclose.so", RTLD_NOW | RTLD_NOLOAD);
    if (lib)
        die("libdlclose.so is still loaded after dlclose");
    scrub();
    return 0;
}
