/* mixed: single-threaded mixed sizes with random lifetimes.
 *
 * Sizes are log-uniform in 8 B .. 64 KiB.  SLOTS slots hold the live
 * objects; each step replaces the object in one slot, chosen as
 * random() mod 2^k with k uniform in 1..12, so low slots are replaced
 * very often (short lifetimes) and high slots rarely (long lifetimes):
 * lifetimes spread over several orders of magnitude.  Each object gets its
 * first 8 bytes, its last byte (beyond 8) and one byte in every 4 KiB page written, and
 * is verified before it is freed.
 *
 * usage: mixed [steps]        (default 4M)
 * output: one line "checksum <hex>" */
#include "common.h"

#define SLOT_BITS 12
#define SLOTS (1u << SLOT_BITS)

struct slot {
    unsigned char *p;
    size_t n;
    uint64_t tag;
};

static void put(struct slot *s, rng_t *r)
{
    size_t n = rng_logsize(r, 8, 65536);
    uint64_t tag = rng_next(r);
    unsigned char *p = xmalloc(n);
    memcpy(p, &tag, 8);
    for (size_t off = 4096; off < n - 1; off += 4096)
        p[off] = (unsigned char)(tag >> 8);
    if (n > 8)
        p[n - 1] = (unsigned char)(tag >> 16);
    s->p = p;
    s->n = n;
    s->tag = tag;
}

static uint64_t drop(struct slot *s)
{
    uint64_t tag;
    memcpy(&tag, s->p, 8);
    if (tag != s->tag || (s->n > 8 && s->p[s->n - 1] != (unsigned char)(tag >> 16))
        || (s->n > 4097 && s->p[4096] != (unsigned char)(tag >> 8))) {
        fprintf(stderr, "corrupted object %p of %zu bytes\n", (void *)s->p, s->n);
        exit(2);
    }
    free(s->p);
    s->p = NULL;
    return tag ^ s->n;
}

int main(int argc, char **argv)
{
    long steps = argc > 1 ? parse_count(argv[1], "steps") : 4000000;
    rng_t r;
    rng_seed(&r, 2);
    struct slot *slots = xmalloc(SLOTS * sizeof *slots);
    memset(slots, 0, SLOTS * sizeof *slots);
    uint64_t sum = 0;

    for (long i = 0; i < steps; i++) {
        unsigned k = 1 + (unsigned)rng_below(&r, SLOT_BITS);
        struct slot *s = &slots[rng_below(&r, (uint64_t)1 << k)];
        if (s->p)
            sum = mix64(sum, drop(s));
        put(s, &r);
    }
    for (unsigned i = 0; i < SLOTS; i++)
        if (slots[i].p)
            sum = mix64(sum, drop(&slots[i]));
    free(slots);
    print_checksum(sum);
    return 0;
}
