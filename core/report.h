/* report.h — the leak and RSS report (report.c). */
#ifndef SCVGC_REPORT_H
#define SCVGC_REPORT_H

#include "internal.h"

typedef struct {
  char prefix[32];
  uint64_t direct_objects, direct_bytes, indirect_objects, indirect_bytes;
  uint64_t suppressed_objects, suppressed_bytes, reclaimed_objects, reclaimed_bytes;
  uint64_t reported_objects; /* direct + indirect, suppressed ones excluded */
  scvgc_stats_t heap;
  int64_t rss_peak, rss_now; /* -1: unknown */
  scvgc_tlsample_t *timeline; /* the samples while the report is written (timeline.c) */
  long ntimeline;             /* -1: could not be copied */
} scvgc_report_t;

void scvgc_report_write(scvgc_report_t *r) SCVGC_HIDDEN;
/* The same, as snapshot seq (>= 1) of the report signal: `%p` in the paths becomes PID.seq
 * (report.c F2), and the JSON says "snapshot": seq. */
void scvgc_report_snapshot(scvgc_report_t *r, unsigned seq) SCVGC_HIDDEN;
/* The same totals, suppressions applied, written nowhere (scvgc_leak_counts). */
void scvgc_report_count(scvgc_report_t *r) SCVGC_HIDDEN;
/* LeakSanitizer's suppression pattern match (report.c; exposed for tests). */
bool scvgc_supp_match(const char *pat, const char *name) SCVGC_HIDDEN;
/* The program's compiled-in suppressions (api.c): 0 __scvgc_default_suppressions, 1
 * __lsan_default_suppressions; NULL when it defines none. */
const char *scvgc_program_suppressions(int which) SCVGC_HIDDEN;
void scvgc_read_rss(int64_t *peak, int64_t *now) SCVGC_HIDDEN;
void scvgc_report_fork_child(void) SCVGC_HIDDEN;

#endif
