// case: a pointer left deep in the 16 KiB local array of a function that returned does not keep its block alive at exit
// expect: direct_objects=1 direct_bytes=24 indirect_objects=0 indirect_bytes=0
// expect-leak: function=leak_deep kind=direct objects=1 bytes=24
/* Copies of the address every 64 bytes of the array, from just below main's frame down to
 * 16 KiB below it: glibc's exit path and the library's destructor lay their frames over
 * that stretch, and whatever slot they never write still holds a copy. Only a scan that
 * starts at the frame of exit()'s caller leaves them all out. */
#include "leakcase.h"

static NOINLINE void leak_deep(void)
{
    void *volatile deep[2048];
    void *p = malloc(24);
    if (!p)
        die("malloc failed");
    for (int i = 0; i < 2048; i++)
        deep[i] = i % 8 ? NULL : p;
}

int main(void)
{
    leak_deep();
    return 0;
}
