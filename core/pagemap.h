/* pagemap.h — the PAGEMAP_SCAN ioctl of /proc/PID/pagemap (linux/fs.h of Linux 6.7), for the
 * build machines whose kernel headers predate it. One copy for its three users: os.c (touched
 * pages), roots.c (the roots' pages), wp.c (written pages of concurrent marking). Each tries
 * the ioctl and gives it up where the running kernel lacks it.
 */
#ifndef SCVGC_PAGEMAP_H
#define SCVGC_PAGEMAP_H

#include <linux/fs.h>
#include <stdint.h>
#include <sys/ioctl.h>

#ifndef PAGEMAP_SCAN
struct page_region { uint64_t start, end, categories; };
struct pm_scan_arg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted,
      category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#endif

#endif
