// case: in collect mode, a block whose address is left only in dead stack below main is reclaimed by a cycle that malloc starts
// env: SCVGC_MODE=collect SCVGC_GOGC=10 SCVGC_SAMPLE=0
// expect: direct_objects=0 direct_bytes=0 indirect_objects=0 indirect_bytes=0 reclaimed_objects=1 reclaimed_bytes=24
// expect-not-reported: kept_blocks make_block
/* leak_deep() leaves copies of its block's address in its local array, from 4 KiB to 128
 * bytes below main's frame, then returns. main then allocates 128 blocks of 64 KiB (kept in a global, freed at the end):
 * the heap passes the pacer's goal and malloc starts cycles on this thread, whose frames (malloc
 * and the collector's) lie over that dead stack. Each such cycle reads this thread from the
 * frame that called malloc up (the object being allocated is kept by the library itself), so
 * the dropped block is garbage, reclaimed, and not a leak at exit. */
#include "leakcase.h"

#define NBLK 128
static void *volatile blocks[NBLK];

static NOINLINE void *make_block(void)
{
    void *p = malloc(24);
    if (!p)
        die("malloc failed");
    return p;
}

/* Copies every 64 bytes from 4 KiB to 128 bytes below main's frame: where malloc's and the
 * collector's frames will lie (about 1 KiB deep), but not in kept_blocks' own small frame. */
static NOINLINE void leak_deep(void)
{
    void *volatile deep[2048];
    deep[0] = make_block();
    for (int i = 1; i < 2048; i++)
        deep[i] = i % 8 == 0 && i >= 1536 && i < 2032 ? deep[0] : NULL;
    deep[0] = NULL;
}

static NOINLINE void kept_blocks(void)
{
    for (int i = 0; i < NBLK; i++) {
        blocks[i] = malloc(64 << 10);
        if (!blocks[i])
            die("malloc failed");
        memset(blocks[i], 0, 64);
    }
}

int main(void)
{
    leak_deep();
    kept_blocks();
    for (int i = 0; i < NBLK; i++)
        free(blocks[i]);
    return 0;
}
