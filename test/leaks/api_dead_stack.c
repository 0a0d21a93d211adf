// case: a block whose address went through fprintf just before scvgc_leak_check() is reported by that check
// expect: direct_objects=1 direct_bytes=1337 indirect_objects=0 indirect_bytes=0
// expect-leak: function=main kind=direct objects=1 bytes=1337
/* fprintf's frames below main keep copies of the address; the check's own frames lie over
 * them, and slots it never writes still hold it. The calling thread is scanned from the sp
 * with which it entered the library, so the first check finds the leak. main then _exit()s,
 * so the report checked is the check's. */
#include "leakcase.h"

int main(void)
{
    leak_check_fn check = find_leak_check();
    fprintf(stderr, "%p\n", malloc(1337));
    size_t n = check ? check() : 1;
    if (n != 1)
        fprintf(stderr, "scvgc_leak_check() returned %zu\n", n);
    _exit(n == 1 ? 0 : 3);
}
