// case: objects referenced only from a write-only private mapping and from a private copy-on-write mapping of a /dev/shm file are not reported
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: keep_in_write_only keep_in_dev_shm
/* Both are writable private mappings (SPEC root class 5): a PROT_WRITE-only one (listed
 * "-w-p", readable on x86-64) and a MAP_PRIVATE mapping of a file on the tmpfs at /dev/shm,
 * whose written page is the program's own copy. Neither is a device: the collector tells
 * devices by file type, not by a /dev/ prefix. */
#include "leakcase.h"
#include <fcntl.h>
#include <sys/mman.h>

static void **volatile wonly, **volatile shm; /* the mappings' addresses, not heap pointers */

static NOINLINE void keep_in_write_only(void)
{
    void **m = mmap(NULL, 1 << 16, PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        die("mmap failed");
    m[100] = malloc(72);
    if (!m[100])
        die("malloc failed");
    wonly = m;
}

static NOINLINE void keep_in_dev_shm(void)
{
    char path[] = "/dev/shm/scvgc-case-XXXXXX";
    int fd = mkstemp(path);
    void **m;
    if (fd < 0) { /* no /dev/shm here: an anonymous mapping shows the rest of the case */
        m = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    } else {
        unlink(path);
        if (ftruncate(fd, 1 << 16) != 0)
            die("ftruncate failed");
        m = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        close(fd);
    }
    if (m == MAP_FAILED)
        die("mmap failed");
    m[200] = malloc(88);
    if (!m[200])
        die("malloc failed");
    shm = m;
}

int main(void)
{
    keep_in_write_only();
    keep_in_dev_shm();
    control_leak();
    scrub();
    return 0;
}
