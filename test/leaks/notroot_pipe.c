// case: an object whose only pointer is parked in a pipe (inside the kernel) is reported; one whose pointer was read back into a global is not
// expect: direct_objects=1 direct_bytes=200 indirect_objects=0 indirect_bytes=0
// expect-leak: function=park_in_pipe kind=direct objects=1 bytes=200
// expect-not-reported: round_trip
/* park_in_pipe() writes the address of a 200-byte object into a pipe and drops it; the pipe is
 * never read, so the only copy is in the kernel's pipe buffer. round_trip() does the same with
 * a 208-byte object but reads the address back into a global. */
#include "leakcase.h"

static int parked[2], trip[2];
static void *volatile returned;

static NOINLINE void park_in_pipe(void)
{
    void *p = malloc(200);
    if (!p)
        die("malloc failed");
    if (write(parked[1], &p, sizeof p) != sizeof p)
        die("write failed");
    p = NULL;
}

static NOINLINE void round_trip(void)
{
    void *p = malloc(208);
    if (!p)
        die("malloc failed");
    if (write(trip[1], &p, sizeof p) != sizeof p)
        die("write failed");
    p = NULL;
    if (read(trip[0], &p, sizeof p) != sizeof p)
        die("read failed");
    returned = p;
    p = NULL;
}

int main(void)
{
    if (pipe(parked) != 0 || pipe(trip) != 0)
        die("pipe failed");
    park_in_pipe();
    round_trip();
    scrub();
    return 0;
}
