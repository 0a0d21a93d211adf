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
void scvgc_read_rss(int64_t *peak, int64_t *now) SCVGC_HIDDEN;
void scvgc_report_fork_child(void) SCVGC_HIDDEN;

#endif
