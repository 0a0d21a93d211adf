// case: a leaked hash table: the table struct is direct; its bucket array, entries and their strdup()ed values are indirect
// expect: direct_objects=1 direct_bytes=24 indirect_objects=11 indirect_bytes=288
// expect-leak: function=table_new kind=direct objects=1 bytes=24
// expect-leak: function=table_new kind=indirect objects=1 bytes=128
// expect-leak: function=table_put kind=indirect objects=10 bytes=160
/* table_new(): a 24-byte struct and a calloc'd array of 16 bucket pointers (128 bytes).
 * table_put() x5: a 24-byte entry and a strdup() of "value-N" (8 bytes) each. The program
 * drops the table. */
#include "leakcase.h"

struct entry {
    struct entry *next;
    long key;
    char *value;
};

struct table {
    size_t nbuckets;
    size_t count;
    struct entry **buckets;
};

static NOINLINE struct table *table_new(size_t nbuckets)
{
    struct table *t = malloc(sizeof *t);
    if (!t || !(t->buckets = calloc(nbuckets, sizeof *t->buckets)))
        die("malloc failed");
    t->nbuckets = nbuckets;
    t->count = 0;
    return t;
}

static NOINLINE void table_put(struct table *t, long key, const char *value)
{
    struct entry *e = malloc(sizeof *e);
    if (!e || !(e->value = strdup(value)))
        die("malloc failed");
    e->key = key;
    size_t b = (size_t)key * 7 % t->nbuckets;
    e->next = t->buckets[b];
    t->buckets[b] = e;
    t->count++;
}

static NOINLINE void fill_and_drop(void)
{
    struct table *t = table_new(16);
    char value[8];
    for (long i = 0; i < 5; i++) {
        snprintf(value, sizeof value, "value-%ld", i);
        table_put(t, i, value);
    }
    t = NULL;
}

int main(void)
{
    fill_and_drop();
    scrub();
    return 0;
}
