// case: leaks from eight threads at one allocation site are reported as one group of 80 objects
// expect: direct_objects=80 direct_bytes=2560 indirect_objects=0 indirect_bytes=0
// expect-leak: function=worker_leak kind=direct objects=80 bytes=2560 groups=1
/* Eight threads each call worker_leak() ten times from the same call site, then scrub their
 * stacks and exit; main joins them. The stacks are identical in every thread (worker_leak,
 * worker, start_thread, clone3), so per-thread caches must not split the group. */
#include "leakcase.h"
#include <pthread.h>

static NOINLINE void worker_leak(void)
{
    void *p = malloc(32);
    if (!p)
        die("malloc failed");
    p = NULL;
}

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++)
        worker_leak();
    scrub();
    return NULL;
}

int main(void)
{
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        if (pthread_create(&t[i], NULL, worker, NULL) != 0)
            die("pthread_create failed");
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    scrub();
    return 0;
}
