// case: a malloc'd alternate signal stack that only the kernel points to is not reported, on the main thread and on another; one disabled again is
// expect: direct_objects=2 direct_bytes=65549 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-leak: function=lose_disabled_altstack kind=direct objects=1 bytes=65536
// expect-not-reported: install_altstack
/* sigaltstack(ss_sp = malloc(...)) and the pointer dropped: the kernel holds the only copy,
 * and the next signal frame is written there. The library interposes sigaltstack and keeps
 * the current stack of every thread alive (SPEC root class 2). A stack replaced by
 * SS_DISABLE is the program's again: dropped, it is a leak. */
#include "leakcase.h"
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>

static sem_t installed;

static NOINLINE void install_altstack(size_t n)
{
    stack_t ss = {.ss_sp = malloc(n), .ss_size = n, .ss_flags = 0};
    if (!ss.ss_sp || sigaltstack(&ss, NULL))
        die("sigaltstack failed");
    memset(&ss, 0, sizeof ss);
}

static NOINLINE void lose_disabled_altstack(void)
{
    stack_t ss = {.ss_sp = malloc(65536), .ss_size = 65536, .ss_flags = 0};
    if (!ss.ss_sp || sigaltstack(&ss, NULL))
        die("sigaltstack failed");
    stack_t off = {.ss_flags = SS_DISABLE};
    if (sigaltstack(&off, NULL))
        die("sigaltstack(SS_DISABLE) failed");
    memset(&ss, 0, sizeof ss);
}

static void *thread_main(void *arg)
{
    (void)arg;
    install_altstack(49152);
    scrub();
    sem_post(&installed);
    for (;;)
        pause();
    return NULL;
}

int main(void)
{
    pthread_t t;
    sem_init(&installed, 0, 0);
    if (pthread_create(&t, NULL, thread_main, NULL))
        die("pthread_create failed");
    sem_wait(&installed);
    lose_disabled_altstack();
    install_altstack(40960);
    control_leak();
    scrub();
    return 0;
}
