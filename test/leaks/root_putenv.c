// case: strings handed to putenv() and made by setenv() (reachable only through environ) are not reported
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: keep_putenv keep_setenv
/* putenv() keeps the caller's string: the only pointer to it is in the environ array glibc
 * reallocates on the heap (reachable from libc's data). setenv() mallocs the "NAME=value"
 * string itself (and tsearch nodes that remember it). None of it is a leak. */
#include "leakcase.h"

static NOINLINE void keep_putenv(void)
{
    char *s = strdup("LEAKCASE_PUTENV=kept by environ");
    if (!s || putenv(s) != 0)
        die("putenv failed");
    s = NULL;
}

static NOINLINE void keep_setenv(void)
{
    if (setenv("LEAKCASE_SETENV", "made by setenv", 1) != 0)
        die("setenv failed");
}

static NOINLINE void check_environment(void)
{
    const char *a = getenv("LEAKCASE_PUTENV"), *b = getenv("LEAKCASE_SETENV");
    if (!a || strcmp(a, "kept by environ") || !b || strcmp(b, "made by setenv"))
        die("environment not set");
}

int main(void)
{
    keep_putenv();
    keep_setenv();
    check_environment();
    control_leak();
    scrub();
    return 0;
}
