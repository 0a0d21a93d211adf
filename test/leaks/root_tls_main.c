// case: objects referenced only from the main thread's __thread variables are not reported
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: keep_in_tls
/* Two objects: one in a zero-initialised __thread variable (.tbss), one in an initialised one
 * (.tdata). The main thread's static TLS is in memory the loader set up before malloc existed. */
#include "leakcase.h"

static __thread void *volatile tls_zeroed;
static __thread void *volatile tls_initialised = (void *)1;

static NOINLINE void keep_in_tls(void)
{
    tls_zeroed = malloc(152);
    tls_initialised = malloc(168);
    if (!tls_zeroed || !tls_initialised)
        die("malloc failed");
}

int main(void)
{
    keep_in_tls();
    control_leak();
    scrub();
    return 0;
}
