// case: an fopen()ed stream never closed (its FILE and buffer belong to glibc) is not reported
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: open_and_forget
/* fopen() mallocs the FILE and the first write mallocs its buffer; the program drops its FILE
 * pointer but glibc chains every open stream from _IO_list_all in its data, so both stay
 * reachable (at exit, even after glibc unbuffers the streams, the buffer is kept in the FILE
 * as _freeres_buf). */
#include "leakcase.h"

static NOINLINE void open_and_forget(void)
{
    FILE *f = fopen("/dev/null", "w");
    if (!f)
        die("fopen /dev/null failed");
    if (fputs("written into the stream's buffer, never flushed by the program\n", f) < 0)
        die("fputs failed");
    f = NULL;
}

int main(void)
{
    open_and_forget();
    control_leak();
    scrub();
    return 0;
}
