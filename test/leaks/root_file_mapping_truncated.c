// case: an object referenced only from a written page of a private file mapping is not reported, and a truncated backing file does not crash the exit check
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: keep_in_file_mapping
/* A writable private mapping of a 64 KiB file: every page read (in the page cache, mapped),
 * the first one written (a private copy holding the only pointer to a 96-byte object), then
 * the file truncated to one page. Reading the other 15 pages now raises SIGBUS: the collector
 * reads only the pages the program wrote (docs/limitations.md), so the exit check runs, and
 * the written page is a root (SPEC root classes 4 and 5). */
#include "leakcase.h"
#include <fcntl.h>
#include <sys/mman.h>

#define FILE_BYTES (64 * 1024)

static void **volatile map; /* the mapping's address, not a heap pointer */

static NOINLINE void keep_in_file_mapping(void)
{
    map[10] = malloc(96);
    if (!map[10])
        die("malloc failed");
}

int main(void)
{
    char path[] = "/tmp/scvgc-filemap-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        die("mkstemp failed");
    unlink(path);
    static char page[4096];
    memset(page, 'x', sizeof page);
    for (int i = 0; i < FILE_BYTES / 4096; i++)
        if (write(fd, page, sizeof page) != (ssize_t)sizeof page)
            die("write failed");
    map = mmap(NULL, FILE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED)
        die("mmap failed");
    volatile char sum = 0;
    for (int i = 0; i < FILE_BYTES; i += 4096)
        sum += ((volatile char *)map)[i];
    keep_in_file_mapping();
    if (ftruncate(fd, 4096))
        die("ftruncate failed");
    control_leak();
    scrub();
    return 0;
}
