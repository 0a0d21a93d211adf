// case: exit() from a thread with a 64 KiB stack writes the whole report and keeps the exit status
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: kept_by_main
/* Thread pools and coroutine libraries run code on small stacks; the exit check runs on the
 * thread that calls exit(), and the symbolizer's frames alone need tens of KiB: the report is
 * written on a stack of the library's own. main waits in pthread_join with an object in a
 * global; the worker leaks the control object and calls exit(0). */
#include "leakcase.h"
#include <pthread.h>

static void *volatile global;

static NOINLINE void kept_by_main(void)
{
    if (!(global = malloc(64)))
        die("malloc failed");
}

static void *worker(void *arg)
{
    (void)arg;
    control_leak();
    exit(0);
}

int main(void)
{
    pthread_attr_t a;
    pthread_t t;
    kept_by_main();
    pthread_attr_init(&a);
    if (pthread_attr_setstacksize(&a, 64 << 10) != 0)
        die("pthread_attr_setstacksize failed");
    if (pthread_create(&t, &a, worker, NULL) != 0)
        die("pthread_create failed");
    pthread_join(t, NULL);
    return 1;
}
