// case: what threads that have exited left in their stacks and __thread variables keeps nothing alive
// expect: direct_objects=4 direct_bytes=208 indirect_objects=0 indirect_bytes=0
// expect-leak: function=leak_into_tls kind=direct objects=2 bytes=80
// expect-leak: function=leak_into_exit_frame kind=direct objects=2 bytes=128
/* Two threads, one joined and one detached, each leave one object in their own instance of a
 * __thread variable and one in a deep local array of a pthread-key destructor that runs on
 * their way out (after the thread's last scrub, as the library's own exit-time work does).
 * glibc keeps both stack blocks in its stack cache, static TLS included; main waits until
 * both threads are gone (/proc/self/task/TID), then returns: all four objects are leaks. */
#include "leakcase.h"
#include <pthread.h>
#include <time.h>

static __thread void *volatile in_tls;
static __thread void *volatile for_exit;
static pthread_key_t key;
static volatile pid_t detached_tid;
static int detached_mark;

static NOINLINE void leak_into_tls(void)
{
    if (!(in_tls = malloc(40)))
        die("malloc failed");
}

static NOINLINE void leak_into_exit_frame(void)
{
    if (!(for_exit = malloc(64)))
        die("malloc failed");
}

/* Deep in the exiting thread's stack: a copy far below the destructor's caller. */
static NOINLINE void park_deep(void *p)
{
    void *volatile deep[1024];
    for (int i = 0; i < 1024; i++)
        deep[i] = NULL;
    deep[17] = p;
    if (deep[17] != p)
        die("the store did not happen");
}

static void on_exit_key(void *v)
{
    (void)v;
    park_deep(for_exit);
    for_exit = NULL;
}

static void *worker(void *arg)
{
    if (arg)
        detached_tid = gettid();
    leak_into_tls();
    leak_into_exit_frame();
    if (pthread_setspecific(key, (void *)1) != 0)
        die("pthread_setspecific failed");
    scrub();
    return NULL;
}

static int task_alive(pid_t tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d", (int)tid);
    return access(path, F_OK) == 0;
}

int main(void)
{
    pthread_t joined, detached;
    pthread_attr_t a;
    if (pthread_key_create(&key, on_exit_key) != 0)
        die("pthread_key_create failed");
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&joined, NULL, worker, NULL) != 0 ||
        pthread_create(&detached, &a, worker, &detached_mark) != 0)
        die("pthread_create failed");
    pthread_join(joined, NULL);
    for (int i = 0; !detached_tid || task_alive(detached_tid); i++) { /* gone with its task */
        if (i == 10000)
            die("the detached thread did not exit");
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    scrub();
    return 0;
}
