// case: a leak made by a thread that has since exited is reported; what it left in a global is not
// expect: direct_objects=1 direct_bytes=72 indirect_objects=0 indirect_bytes=0
// expect-leak: function=leak_in_thread kind=direct objects=1 bytes=72
// expect-not-reported: keep_from_thread
/* The thread leaks 72 bytes and stores 48 bytes in a global, scrubs its stack (glibc caches
 * the stacks of exited threads: the mapping stays, with whatever the thread left in it) and
 * exits; main joins it, then returns. */
#include "leakcase.h"
#include <pthread.h>

static void *volatile handed_over;

static NOINLINE void leak_in_thread(void)
{
    void *p = malloc(72);
    if (!p)
        die("malloc failed");
    p = NULL;
}

static NOINLINE void keep_from_thread(void)
{
    if (!(handed_over = malloc(48)))
        die("malloc failed");
}

static void *short_lived(void *arg)
{
    (void)arg;
    leak_in_thread();
    keep_from_thread();
    scrub();
    return NULL;
}

int main(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, short_lived, NULL) != 0)
        die("pthread_create failed");
    pthread_join(t, NULL);
    scrub();
    return 0;
}
