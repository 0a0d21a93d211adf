/* prodcons: producer/consumer with cross-thread free (xmalloc-test-like).
 *
 * The threads form producer/consumer pairs.  A producer allocates objects
 * of 16..1024 bytes (log-uniform), writes them, and passes them in batches
 * of BATCH through a bounded queue (QCAP batches, mutex + condition
 * variables) to its consumer, which verifies and frees them: nearly every
 * free happens in another thread than the malloc.  The batch arrays are
 * malloc'ed by the producer and freed by the consumer too.  The total number
 * of objects is fixed and divided between the pairs, so the work does not
 * change with the thread count.  With -t 1 a single thread produces and
 * consumes through a local FIFO of the same depth (no cross-thread free).
 *
 * usage: prodcons [-t threads] [objects]   (threads 1 or even, default 2;
 *                                           objects default 20M)
 * output: one line "checksum <hex>" */
#include "common.h"

#include <pthread.h>
#include <unistd.h>

#define BATCH 256
#define QCAP 16

struct batch {
    int n;
    unsigned char *obj[BATCH];
};

struct pair {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    struct batch *q[QCAP];
    unsigned head, count;
    long objects;      /* to produce */
    uint64_t seed;
    uint64_t sum;      /* computed by the consumer */
    pthread_t prod, cons;
};

static struct batch *make_batch(rng_t *r, long *left)
{
    struct batch *b = xmalloc(sizeof *b);
    b->n = *left < BATCH ? (int)*left : BATCH;
    *left -= b->n;
    for (int i = 0; i < b->n; i++) {
        size_t n = rng_logsize(r, 16, 1024);
        b->obj[i] = xmalloc(n);
        obj_init(b->obj[i], n, rng_next(r));
    }
    return b;
}

static uint64_t eat_batch(struct batch *b)
{
    uint64_t sum = 0;
    for (int i = 0; i < b->n; i++) {
        sum += obj_check(b->obj[i]);
        free(b->obj[i]);
    }
    free(b);
    return sum;
}

static void *producer(void *arg)
{
    struct pair *p = arg;
    rng_t r;
    rng_seed(&r, p->seed);
    long left = p->objects;
    for (;;) {
        struct batch *b = left > 0 ? make_batch(&r, &left) : NULL; /* NULL: end */
        pthread_mutex_lock(&p->mu);
        while (p->count == QCAP)
            pthread_cond_wait(&p->not_full, &p->mu);
        p->q[(p->head + p->count) % QCAP] = b;
        p->count++;
        pthread_cond_signal(&p->not_empty);
        pthread_mutex_unlock(&p->mu);
        if (b == NULL)
            return NULL;
    }
}

static void *consumer(void *arg)
{
    struct pair *p = arg;
    uint64_t sum = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->count == 0)
            pthread_cond_wait(&p->not_empty, &p->mu);
        struct batch *b = p->q[p->head];
        p->head = (p->head + 1) % QCAP;
        p->count--;
        pthread_cond_signal(&p->not_full);
        pthread_mutex_unlock(&p->mu);
        if (b == NULL)
            break;
        sum += eat_batch(b);
    }
    p->sum = sum;
    return NULL;
}

/* -t 1: the same work in one thread, through a local FIFO of QCAP batches */
static uint64_t single_thread(long objects, uint64_t seed)
{
    rng_t r;
    rng_seed(&r, seed);
    struct batch *q[QCAP];
    unsigned head = 0, count = 0;
    uint64_t sum = 0;
    while (objects > 0 || count > 0) {
        if (objects > 0 && count < QCAP) {
            q[(head + count) % QCAP] = make_batch(&r, &objects);
            count++;
        } else {
            sum += eat_batch(q[head]);
            head = (head + 1) % QCAP;
            count--;
        }
    }
    return sum;
}

static void usage(void)
{
    die("usage: prodcons [-t threads] [objects]   (threads: 1 or an even number)");
}

int main(int argc, char **argv)
{
    long threads = 2, objects = 20000000;
    int c;
    while ((c = getopt(argc, argv, "t:")) != -1) {
        if (c == 't')
            threads = parse_count(optarg, "thread count");
        else
            usage();
    }
    if (optind < argc)
        objects = parse_count(argv[optind++], "objects");
    if (optind < argc || (threads > 1 && threads % 2 != 0) || threads > 1024)
        usage();

    uint64_t sum = 0;
    if (threads == 1) {
        /* the same objects as the single pair of -t 2 (same checksum) */
        sum = single_thread(objects, 100);
    } else {
        long npairs = threads / 2;
        struct pair *pairs = xmalloc((size_t)npairs * sizeof *pairs);
        for (long i = 0; i < npairs; i++) {
            struct pair *p = &pairs[i];
            memset(p, 0, sizeof *p);
            pthread_mutex_init(&p->mu, NULL);
            pthread_cond_init(&p->not_empty, NULL);
            pthread_cond_init(&p->not_full, NULL);
            p->objects = objects / npairs + (i < objects % npairs ? 1 : 0);
            p->seed = 100 + (uint64_t)i;
            if (pthread_create(&p->cons, NULL, consumer, p) != 0
                || pthread_create(&p->prod, NULL, producer, p) != 0)
                die("pthread_create failed");
        }
        for (long i = 0; i < npairs; i++) {
            pthread_join(pairs[i].prod, NULL);
            pthread_join(pairs[i].cons, NULL);
            sum += pairs[i].sum;
        }
        free(pairs);
    }
    print_checksum(sum);
    return 0;
}
