/* realloc: growing buffers, like string builders.
 *
 * BUILDERS buffers are grown concurrently (each step appends a chunk to a
 * randomly chosen buffer, so the growth of different buffers interleaves in
 * the heap).  Each buffer has a target length, log-uniform in 64 B .. 4 MiB,
 * and one of two growth policies:
 *   - exact: realloc to exactly the new length on every append of 1..64
 *     bytes (a naive string builder: many small realloc steps);
 *   - doubling: appends of 1..512 bytes, the capacity doubles (starting at
 *     32) whenever it is exceeded.
 * When a buffer reaches its target its contents are sampled and verified,
 * it is freed, and a new one is started.
 *
 * usage: realloc [buffers]    (number of buffers completed, default 800)
 * output: one line "checksum <hex>" */
#include "common.h"

#define BUILDERS 32

struct builder {
    unsigned char *buf;
    size_t len, cap, target;
    int doubling;
    unsigned char seed;
};

static unsigned char byte_at(const struct builder *b, size_t i)
{
    return (unsigned char)(b->seed + i * 31 + (i >> 8));
}

static void start(struct builder *b, rng_t *r)
{
    b->buf = NULL;
    b->len = b->cap = 0;
    b->target = rng_logsize(r, 64, 2u << 20);
    b->doubling = (int)rng_below(r, 2);
    b->seed = (unsigned char)rng_next(r);
}

static void append(struct builder *b, rng_t *r)
{
    size_t add = rng_range(r, 1, b->doubling ? 512 : 64);
    if (add > b->target - b->len)
        add = b->target - b->len;
    size_t need = b->len + add;
    if (need > b->cap) {
        size_t cap = need;
        if (b->doubling) {
            cap = b->cap ? b->cap : 32;
            while (cap < need)
                cap *= 2;
        }
        unsigned char *nb = realloc(b->buf, cap);
        if (nb == NULL)
            die("realloc failed");
        b->buf = nb;
        b->cap = cap;
    }
    for (size_t i = b->len; i < need; i++)
        b->buf[i] = byte_at(b, i);
    b->len = need;
}

static uint64_t finish(struct builder *b)
{
    uint64_t h = b->len;
    for (size_t i = 0; i < b->len; i += 61) {
        if (b->buf[i] != byte_at(b, i)) {
            fprintf(stderr, "corrupted buffer %p at %zu of %zu\n", (void *)b->buf, i, b->len);
            exit(2);
        }
        h = h * 31 + b->buf[i];
    }
    if (b->buf[b->len - 1] != byte_at(b, b->len - 1))
        die("corrupted buffer end");
    free(b->buf);
    b->buf = NULL;
    return h;
}

int main(int argc, char **argv)
{
    long total = argc > 1 ? parse_count(argv[1], "buffers") : 800;
    rng_t r;
    rng_seed(&r, 3);
    struct builder b[BUILDERS];
    for (int i = 0; i < BUILDERS; i++)
        start(&b[i], &r);
    uint64_t sum = 0;
    long done = 0;
    while (done < total) {
        struct builder *x = &b[rng_below(&r, BUILDERS)];
        append(x, &r);
        if (x->len == x->target) {
            sum = mix64(sum, finish(x));
            done++;
            start(x, &r);
        }
    }
    for (int i = 0; i < BUILDERS; i++) {
        if (b[i].len > 0)
            sum = mix64(sum, finish(&b[i]));
    }
    print_checksum(sum);
    return 0;
}
