// case: a helper that leaks 1000 one-byte blocks through a local variable is reported as 1000 objects at exit
// expect: direct_objects=1000 direct_bytes=1000 indirect_objects=0 indirect_bytes=0
// expect-leak: function=leak_bytes kind=direct objects=1000 bytes=1000
/* No scrub(): the last block's address stays in leak_bytes' dead frame, below main's, where
 * glibc's exit path (exit -> the exit handlers -> the loader's fini -> the library's
 * destructor) lays frames whose slots it never writes. Only the frames from main's caller up
 * are live at the exit check (LeakSanitizer's and memcheck's "leak through a loop" case). */
#include "leakcase.h"

static NOINLINE void leak_bytes(void)
{
    for (int i = 0; i < 1000; i++) {
        char *volatile p = malloc(1);
        if (!p)
            die("malloc failed");
        *p = (char)i;
    }
}

int main(void)
{
    leak_bytes();
    return 0;
}
