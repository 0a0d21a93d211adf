/* churn: single-threaded small-object churn.
 *
 * Many short-lived small objects (16..128 bytes), the pattern of the
 * mimalloc-bench cfrac and espresso programs: a FIFO ring of RING live
 * objects, where each step frees the oldest object and allocates a new one
 * of random size, plus 0..3 temporaries that are allocated, written and freed
 * again at once (LIFO).  Every object is fully written and verified before
 * it is freed.
 *
 * usage: churn [steps]        (default 10M)
 * output: one line "checksum <hex>" */
#include "common.h"

#define RING 4096
#define MAXTMP 3

static uint64_t fill(unsigned char *p, size_t n, uint64_t tag)
{
    memset(p + 12, (int)(tag & 0xff), n - 12);
    obj_init(p, n, tag);
    return tag;
}

int main(int argc, char **argv)
{
    long steps = argc > 1 ? parse_count(argv[1], "steps") : 10000000;
    rng_t r;
    rng_seed(&r, 1);
    unsigned char **ring = xmalloc(RING * sizeof *ring);
    memset(ring, 0, RING * sizeof *ring);
    uint64_t sum = 0;

    for (long i = 0; i < steps; i++) {
        unsigned char **slot = &ring[i % RING];
        if (*slot) {
            sum = mix64(sum, obj_check(*slot));
            free(*slot);
        }
        size_t n = rng_range(&r, 16, 128);
        *slot = xmalloc(n);
        fill(*slot, n, rng_next(&r));

        unsigned ntmp = (unsigned)rng_below(&r, MAXTMP + 1);
        unsigned char *tmp[MAXTMP];
        for (unsigned t = 0; t < ntmp; t++) {
            size_t m = rng_range(&r, 16, 128);
            tmp[t] = xmalloc(m);
            fill(tmp[t], m, rng_next(&r));
        }
        while (ntmp > 0) {
            ntmp--;
            sum += obj_check(tmp[ntmp]);
            free(tmp[ntmp]);
        }
    }
    for (long i = 0; i < RING; i++) {
        if (ring[i]) {
            sum = mix64(sum, obj_check(ring[i]));
            free(ring[i]);
        }
    }
    free(ring);
    print_checksum(sum);
    return 0;
}
