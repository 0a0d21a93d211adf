// case: an object stored under the 40th pthread key (in the block glibc itself callocs) is not reported, nor is that block
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: keep_under_last_key
/* Keys past the first 32 have their values in second-level arrays that pthread_setspecific()
 * callocs (512 bytes) on first use and hangs off the thread descriptor; that block is a heap
 * object whose allocation stack also names keep_under_last_key. The value (264 bytes) is
 * reachable only through it. */
#include "leakcase.h"
#include <pthread.h>

#define NKEYS 40
static pthread_key_t keys[NKEYS];

static NOINLINE void keep_under_last_key(void)
{
    void *v = malloc(264);
    if (!v)
        die("malloc failed");
    if (pthread_setspecific(keys[NKEYS - 1], v) != 0)
        die("pthread_setspecific failed");
    v = NULL;
}

int main(void)
{
    for (int i = 0; i < NKEYS; i++)
        if (pthread_key_create(&keys[i], NULL) != 0)
            die("pthread_key_create failed");
    if (keys[NKEYS - 1] < 32)
        die("expected a key index past the first 32");
    keep_under_last_key();
    control_leak();
    scrub();
    return 0;
}
