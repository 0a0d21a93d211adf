/* timeline.c — the heap over time: a sample at each GC cycle, scavenger pass and at exit
 * (t since start, heap in use, sys, released, RSS), for the JSON report's `timeline`.
 *
 * Owns: a fixed array of CAP samples in a metadata mapping (never the heap: no malloc, no
 * recursion), mapped at the first sample. When it is full, every other sample is dropped
 * and from then on only every 2nd (then 4th, ...) event is kept: the whole run stays
 * covered, at a coarser grain, in bounded memory (T1: samples are in time order, the first
 * one is kept, and `stride` events pass between two kept ones at most).
 * Lock: tl_lock (TIMELINE in internal.h's lock ranks), taken after the stats' registry and
 *   heap locks are released; only OWN (the first sample maps the array) under it.
 * Callers: the collector at the end of a cycle (gc_lock held, no other core lock), the
 * scavenger after each pass, the exit path, the report (copy). Not with the world stopped.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "lock.h"

#define CAP 2048

static scvgc_lock_t tl_lock = SCVGC_LOCK_RANKED(SCVGC_RANK_TIMELINE);
static scvgc_tlsample_t *samples; /* CAP entries, mapped at the first sample */
static size_t n;                  /* samples kept */
static uint64_t stride = 1;       /* keep one event in stride */
static uint64_t events;           /* events since the last kept sample */
static _Atomic uint64_t start_ns;

void scvgc_timeline_start(void) {
  uint64_t z = 0;
  atomic_compare_exchange_strong(&start_ns, &z, scvgc_nanotime());
}

/* The second field of /proc/self/statm: resident pages. Raw system calls: no stdio, and
 * no file descriptor kept (a program that closes every descriptor must not see ours). */
int64_t scvgc_rss_now(void) {
  long fd = scvgc_open_proc_self("statm");
  if (fd < 0) return -1;
  char buf[128];
  long k = syscall(SYS_read, fd, buf, sizeof buf - 1);
  syscall(SYS_close, fd);
  if (k <= 0) return -1;
  buf[k] = 0;
  const char *p = buf;
  while (*p && *p != ' ') p++;
  if (*p++ != ' ' || *p < '0' || *p > '9') return -1;
  int64_t pages = 0;
  while (*p >= '0' && *p <= '9') pages = pages * 10 + (*p++ - '0');
  return pages * (int64_t)sysconf(_SC_PAGESIZE);
}

void scvgc_timeline_sample(int event) {
  scvgc_stats_t st;
  scvgc_stats_read(&st);
  scvgc_tlsample_t e;
  uint64_t now = scvgc_nanotime(), t0 = atomic_load(&start_ns);
  e.t_ns = t0 && now > t0 ? now - t0 : 0;
  /* never a half millisecond exactly: the report's "%.3f s" then rounds the same way in C
   * and in Python (scripts/scvgc_report.py), with no tie to break */
  if (e.t_ns % 1000000 == 500000) e.t_ns++;
  e.event = (uint32_t)event;
  e.inuse_bytes = st.inuse_bytes;
  e.sys_bytes = st.sys_bytes;
  e.released_bytes = st.released_bytes;
  e.rss_bytes = scvgc_rss_now();
  scvgc_lock(&tl_lock);
  if (!samples) samples = scvgc_sys_map_meta(CAP * sizeof *samples);
  /* the exit sample is always kept: it closes the run */
  if (samples && (++events >= stride || event == SCVGC_TL_EXIT)) {
    if (n == CAP) { /* T1: keep the even ones (the first among them), then half as often */
      for (size_t i = 0; i < CAP / 2; i++) samples[i] = samples[2 * i];
      n = CAP / 2;
      stride *= 2;
    }
    samples[n++] = e;
    events = 0;
  }
  scvgc_unlock(&tl_lock);
}

long scvgc_timeline_copy(scvgc_tlsample_t **out) {
  *out = NULL;
  for (;;) {
    scvgc_lock(&tl_lock);
    size_t want = n;
    scvgc_unlock(&tl_lock);
    scvgc_tlsample_t *buf = want ? malloc(want * sizeof *buf) : NULL; /* outside the lock */
    if (want && !buf) return -1;
    scvgc_lock(&tl_lock);
    if (n == want) {
      if (want) memcpy(buf, samples, want * sizeof *buf);
      scvgc_unlock(&tl_lock);
      *out = buf;
      return (long)want;
    }
    scvgc_unlock(&tl_lock);
    free(buf);
  }
}

void scvgc_timeline_fork_child(void) { scvgc_lock_reset(&tl_lock); }
