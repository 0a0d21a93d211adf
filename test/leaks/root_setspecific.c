// case: an object referenced only from a pthread_setspecific() value of the main thread is not reported
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: keep_under_key
/* One key, no destructor; the value (a 248-byte object) is stored in the main thread's thread
 * descriptor (the first 32 keys live inside struct pthread itself). */
#include "leakcase.h"
#include <pthread.h>

static pthread_key_t key;

static NOINLINE void keep_under_key(void)
{
    void *v = malloc(248);
    if (!v)
        die("malloc failed");
    if (pthread_setspecific(key, v) != 0)
        die("pthread_setspecific failed");
    v = NULL;
}

int main(void)
{
    if (pthread_key_create(&key, NULL) != 0)
        die("pthread_key_create failed");
    keep_under_key();
    control_leak();
    scrub();
    return 0;
}
