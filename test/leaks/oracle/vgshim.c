/* The oracle's scvgc_leak_check(): under valgrind, the cases that check mid-run find this one
   (preloaded) and get memcheck's leak check at the same moment. */
#include <stddef.h>
#include <valgrind/memcheck.h>

size_t scvgc_leak_check(void)
{
    VALGRIND_DO_LEAK_CHECK;
    return 0;
}
