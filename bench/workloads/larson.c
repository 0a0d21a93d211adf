/* larson: a larson-style server simulation.
 *
 * Each thread owns SLOTS slots (filled at start).  Each step it frees the
 * object in a random slot and allocates a random size of 16..1024 bytes
 * (uniform) into it.  Occasionally (one step in XCHG_EVERY) the thread
 * instead swaps the object of a random slot with one of the MAILBOXES
 * shared mailboxes (an atomic exchange), so objects wander between threads
 * and are later freed by a thread that did not allocate them.  The total
 * number of steps is fixed and divided between the threads (the work does
 * not change with the thread count; the live memory grows with it).
 *
 * The checksum is the sum of the tags of all freed objects.  A thread's
 * choices depend only on its own generator, so the set of objects allocated
 * -- and hence the checksum -- is deterministic even though which thread
 * frees which object is not.
 *
 * usage: larson [-t threads] [steps]   (threads default 2, steps default 30M)
 * output: one line "checksum <hex>" */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define SLOTS 2000
#define MAILBOXES 64
#define XCHG_EVERY 64

static _Atomic(unsigned char *) mailbox[MAILBOXES];

struct worker {
    pthread_t tid;
    long steps;
    uint64_t seed;
    uint64_t sum;
};

static unsigned char *fresh(rng_t *r)
{
    size_t n = rng_range(r, 16, 1024);
    unsigned char *p = xmalloc(n);
    obj_init(p, n, rng_next(r));
    return p;
}

static uint64_t release(unsigned char *p)
{
    if (p == NULL)
        return 0;
    uint64_t tag = obj_check(p);
    free(p);
    return tag;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    rng_t r;
    rng_seed(&r, w->seed);
    unsigned char **slot = xmalloc(SLOTS * sizeof *slot);
    for (int i = 0; i < SLOTS; i++)
        slot[i] = fresh(&r);
    uint64_t sum = 0;
    for (long s = 0; s < w->steps; s++) {
        unsigned char **x = &slot[rng_below(&r, SLOTS)];
        if (rng_below(&r, XCHG_EVERY) == 0) {
            /* hand this object over; take whatever was left there (maybe none) */
            *x = atomic_exchange(&mailbox[rng_below(&r, MAILBOXES)], *x);
        } else {
            sum += release(*x);
            *x = fresh(&r);
        }
    }
    for (int i = 0; i < SLOTS; i++)
        sum += release(slot[i]);
    free(slot);
    w->sum = sum;
    return NULL;
}

static void usage(void)
{
    die("usage: larson [-t threads] [steps]");
}

int main(int argc, char **argv)
{
    long threads = 2, steps = 30000000;
    int c;
    while ((c = getopt(argc, argv, "t:")) != -1) {
        if (c == 't')
            threads = parse_count(optarg, "thread count");
        else
            usage();
    }
    if (optind < argc)
        steps = parse_count(argv[optind++], "steps");
    if (optind < argc || threads > 1024)
        usage();

    struct worker *w = xmalloc((size_t)threads * sizeof *w);
    for (long i = 0; i < threads; i++) {
        w[i].steps = steps / threads + (i < steps % threads ? 1 : 0);
        w[i].seed = 200 + (uint64_t)i;
        w[i].sum = 0;
        if (pthread_create(&w[i].tid, NULL, work, &w[i]) != 0)
            die("pthread_create failed");
    }
    uint64_t sum = 0;
    for (long i = 0; i < threads; i++) {
        pthread_join(w[i].tid, NULL);
        sum += w[i].sum;
    }
    for (int i = 0; i < MAILBOXES; i++)
        sum += release(atomic_load(&mailbox[i]));
    free(w);
    print_checksum(sum);
    return 0;
}
