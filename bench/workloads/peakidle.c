/* peakidle: a high-memory start-up, then idle — how fast does RSS come back down?
 *
 * Allocates objects of log-uniform sizes 16 B .. 64 KiB (rng_logsize) until BYTES bytes
 * are requested, writing every byte of each; frees a random FREE_PERMILLE of them (95% by
 * default); optionally calls malloc_trim(0) (--trim); then sleeps, sampling its own RSS
 * (VmRSS of /proc/self/status) at the given seconds after the frees. Finally checks every
 * survivor's contents and frees it.
 *
 * usage: peakidle [-b BYTES] [-f FREE_PERMILLE] [-s SECONDS,SECONDS,...] [--trim]
 *        (defaults: 1.5 GiB, 950, 0,1,2,5,10,15,20,40)
 * output (stdout), one fact per line:
 *   requested <bytes>            bytes asked of malloc in all (the peak live bytes)
 *   objects <n>                  objects allocated
 *   survivors <objects> <bytes>  what stays allocated while idle
 *   phases <alloc s> <free s>
 *   rss <t s> <KiB>              one per sample, t counted from the end of the frees
 *   hwm <KiB>                    VmHWM: the peak RSS of the whole run
 *   checksum <hex>               from the survivors' contents (the same under every allocator)
 * Samples are taken on time even when a sample was late (no drift). */
#define _GNU_SOURCE
#include <malloc.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* VmRSS or VmHWM of /proc/self/status, KiB (-1: unknown). */
static long status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t k = strlen(key);
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, k) && line[k] == ':')
            v = strtol(line + k + 1, NULL, 10);
    fclose(f);
    return v;
}

static void sleep_until(double t)
{
    for (double d; (d = t - now()) > 0;) {
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

struct obj {
    unsigned char *p;
    size_t n;
};

int main(int argc, char **argv)
{
    size_t bytes = (size_t)3 << 29; /* 1.5 GiB */
    unsigned free_permille = 950;
    const char *times = "0,1,2,5,10,15,20,40";
    int trim = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-b") && i + 1 < argc)
            bytes = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "-f") && i + 1 < argc)
            free_permille = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc)
            times = argv[++i];
        else if (!strcmp(argv[i], "--trim"))
            trim = 1;
        else
            die("usage: peakidle [-b BYTES] [-f FREE_PERMILLE] [-s T,T,...] [--trim]");
    }
    rng_t r;
    rng_seed(&r, 42);
    size_t cap = 1024, n = 0, total = 0;
    struct obj *o = xmalloc(cap * sizeof *o);
    double t0 = now();
    while (total < bytes) {
        if (n == cap) {
            cap *= 2;
            o = realloc(o, cap * sizeof *o);
            if (!o)
                die("realloc failed");
        }
        size_t k = rng_logsize(&r, 16, 65536);
        unsigned char *p = xmalloc(k);
        memset(p, (int)(n & 0xff) | 1, k); /* every byte: the RSS is the real thing */
        obj_init(p, k, rng_next(&r));
        o[n].p = p;
        o[n].n = k;
        n++;
        total += k;
    }
    double t1 = now();
    /* free a random FREE_PERMILLE of the objects: shuffle the indices, free a prefix */
    size_t *idx = xmalloc(n * sizeof *idx);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)rng_below(&r, i + 1), t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    size_t nfree = n / 1000 * free_permille + n % 1000 * free_permille / 1000;
    for (size_t i = 0; i < nfree; i++) {
        struct obj *x = &o[idx[i]];
        obj_check(x->p);
        free(x->p);
        x->p = NULL;
    }
    free(idx);
    if (trim)
        malloc_trim(0);
    double t2 = now();
    size_t live = 0, nlive = 0;
    for (size_t i = 0; i < n; i++)
        if (o[i].p) {
            live += o[i].n;
            nlive++;
        }
    printf("requested %zu\nobjects %zu\nsurvivors %zu %zu\nphases %.3f %.3f\n", total, n, nlive, live,
           t1 - t0, t2 - t1);
    fflush(stdout);
    for (const char *s = times; *s;) {
        double t = strtod(s, (char **)&s);
        if (*s == ',')
            s++;
        sleep_until(t2 + t);
        printf("rss %g %ld\n", t, status_kib("VmRSS"));
        fflush(stdout);
    }
    printf("hwm %ld\n", status_kib("VmHWM"));
    uint64_t h = 0;
    for (size_t i = 0; i < n; i++)
        if (o[i].p) {
            h = mix64(h, obj_check(o[i].p));
            free(o[i].p);
        }
    free(o);
    printf("checksum %016" PRIx64 "\n", h);
    return 0;
}
