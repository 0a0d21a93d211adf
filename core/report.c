/* report.c — the leak and RSS report, text and JSON (SPEC "Reports").
 *
 * Reads the leak table of the last cycle (gc.c) with the world running and no core lock
 * held, so it may allocate (symbolization through libdw does). Groups are sorted largest
 * first; each group's stack is symbolized (symbolize.c), matched against the suppressions,
 * and written to the text destination (SCVGC_REPORT) and the JSON file (SCVGC_JSON).
 * Every text line starts with "==PID== scvgc: ". Unknown values are null in the JSON,
 * never invented.
 * Callers: the exit check and scvgc_leak_check (program threads), one at a time (the
 * caller holds report_lock). It runs on a stack of its own that it maps for each report
 * (scvgc_report_write): the caller's may be small.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gc.h"
#include "lock.h"
#include "report.h"
#include "stack.h"
#include "sweep.h"
#include "symbolize.h"

/* ---- a buffered writer on a file descriptor ------------------------------------------------ */

typedef struct {
  int fd;
  size_t len;
  char buf[16384];
} out_t;

static void out_flush(out_t *o) {
  if (o->fd >= 0 && o->len) scvgc_write_all(o->fd, o->buf, o->len);
  o->len = 0;
}

static void out_str(out_t *o, const char *s, size_t n) {
  while (n) {
    size_t k = sizeof o->buf - o->len;
    if (k > n) k = n;
    memcpy(o->buf + o->len, s, k);
    o->len += k;
    s += k;
    n -= k;
    if (o->len == sizeof o->buf) out_flush(o);
  }
}

__attribute__((format(printf, 2, 3))) static void out_fmt(out_t *o, const char *fmt, ...) {
  char line[2048];
  __builtin_va_list ap;
  __builtin_va_start(ap, fmt);
  size_t n = scvgc_vsnprintf(line, sizeof line, fmt, ap);
  __builtin_va_end(ap);
  out_str(o, line, n < sizeof line ? n : sizeof line - 1);
}

/* A JSON string, or null. */
static void out_json_str(out_t *o, const char *s) {
  if (!s) {
    out_str(o, "null", 4);
    return;
  }
  out_str(o, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      out_str(o, e, 2);
    } else if (c < 0x20) {
      out_fmt(o, "\\u%04x", c);
    } else {
      out_str(o, (const char *)&c, 1);
    }
  }
  out_str(o, "\"", 1);
}

/* The report files this process created (F1 below): (device, inode) pairs. */
#define MAX_OWN_FILES 32
static struct { dev_t dev; ino_t ino; pid_t pid; } own_files[MAX_OWN_FILES];
static int nown_files;

/* Open a destination path ("%p" becomes the pid) to write a report.
 * F1 A report never follows a symbolic link at its last component (O_NOFOLLOW) and never
 *    truncates a file this process did not create in this run: the first write creates the
 *    file (O_EXCL, mode 0600: a report names the program's functions and files); a later
 *    write (scvgc_leak_check, a report signal) truncates it only when the path still names
 *    the very file this process created (same device and inode). A symlink planted at the
 *    path by another user, or a file of the user's, is left alone and the line says so.
 *    Checked by test/integration/secure.sh. */
static int open_path(const char *tmpl) {
  char path[4096];
  size_t k = 0;
  for (const char *t = tmpl; *t && k + 24 < sizeof path; t++) {
    if (t[0] == '%' && t[1] == 'p') {
      k += scvgc_snprintf(path + k, sizeof path - k, "%d", (int)getpid());
      t++;
    } else {
      path[k++] = *t;
    }
  }
  path[k] = 0;
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  struct stat st;
  if (fd >= 0) {
    if (fstat(fd, &st) == 0 && nown_files < MAX_OWN_FILES)
      own_files[nown_files++] = (typeof(own_files[0])){st.st_dev, st.st_ino, getpid()};
    return fd;
  }
  if (errno == EEXIST) {
    fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
      for (int i = 0; i < nown_files; i++)
        if (own_files[i].dev == st.st_dev && own_files[i].ino == st.st_ino &&
            own_files[i].pid == getpid() && ftruncate(fd, 0) == 0)
          return fd;
    if (fd >= 0) close(fd);
    scvgc_message("not writing the report to %s: the file exists and this process did not "
                  "create it (remove it first)", path);
    return -1;
  }
  scvgc_message("cannot write the report to %s%s", path,
                errno == ELOOP ? ": it is a symbolic link" : "");
  return -1;
}

/* ---- RSS ------------------------------------------------------------------------------------ */

/* VmHWM and VmRSS of /proc/self/status, in bytes; -1 when unknown. */
void scvgc_read_rss(int64_t *peak, int64_t *now) {
  *peak = *now = -1;
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = 0;
  for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    int64_t *dst = !strncmp(line, "VmHWM:", 6) ? peak : !strncmp(line, "VmRSS:", 6) ? now : NULL;
    if (!dst) continue;
    char *p = line + 6;
    while (*p == ' ' || *p == '\t') p++;
    int64_t v = 0;
    while (*p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
    *dst = v * 1024;
  }
}

/* ---- suppressions ---------------------------------------------------------------------------- */

#define MAX_SUPP 256
static char *supp[MAX_SUPP];
static int nsupp;
static bool supp_loaded;

/* Glob match with * and ?, of the whole string. */
static bool glob(const char *p, const char *s) {
  if (!*p) return !*s;
  if (*p == '*') return glob(p + 1, s) || (*s && glob(p, s + 1));
  if (!*s) return false;
  return (*p == '?' || *p == *s) && glob(p + 1, s + 1);
}

/* A pattern matches a name it occurs in (as LeakSanitizer's): "*PATTERN*". */
static bool supp_match(const char *pat, const char *name) {
  if (!name) return false;
  char g[600];
  scvgc_snprintf(g, sizeof g, "*%s*", pat);
  return glob(g, name);
}

static void load_suppressions(void) {
  if (supp_loaded) return;
  supp_loaded = true;
  if (!scvgc_opt.suppress) return;
  int fd = open(scvgc_opt.suppress, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    scvgc_message("cannot read the suppressions file %s", scvgc_opt.suppress);
    return;
  }
  static char text[65536];
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n < 0) n = 0;
  text[n] = 0;
  /* A bad line is named by its number, never echoed: the file may not be the user's to read
   * (a set-user-ID program ignores SCVGC_*, but a report must not become a way to print
   * another file's lines). */
  int lineno = 0;
  for (char *line = text, *next; line && nsupp < MAX_SUPP; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    lineno++;
    while (*line == ' ' || *line == '\t') line++;
    char *end = line + strlen(line);
    while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) *--end = 0;
    if (!*line || *line == '#') continue;
    if (strncmp(line, "leak:", 5) || !line[5]) {
      scvgc_message("%s:%d: ignoring a line that is not leak:PATTERN", scvgc_opt.suppress, lineno);
      continue;
    }
    supp[nsupp++] = line + 5;
  }
}

/* ---- the report -------------------------------------------------------------------------------- */

static scvgc_leaks_t copied; /* totals and flags of the table the report is written from */

/* One leak (or reclaimed) group. Its frames are symbolized when printed, not stored: a program
 * whose allocation stacks differ by the path through a recursion (a binary tree built by two
 * recursive calls) has hundreds of thousands of groups, and 64 stored frames each would make
 * the report itself allocate hundreds of MB. The symbolizer caches by pc (S2). */
typedef struct {
  const scvgc_leak_t *leak;
  const uintptr_t *pcs; /* the depot's record (valid until exit) */
  int nframes;
  bool suppressed;
} group_t;

/* The frames at pc k of group g, symbolized: the functions inlined there, then the one
 * that holds the code (only the pc where the symbolizer knows nothing). Returns how many. */
#define MAX_INLINE 8
static int frames_of(const group_t *g, int k, scvgc_frame_t *out) {
  int n = scvgc_symbolize_frames(g->pcs[k], out, MAX_INLINE);
  if (n <= 0 || !out[n - 1].module) {
    out[0] = (scvgc_frame_t){.pc = g->pcs[k]};
    n = 1;
  }
  return n;
}

static int by_bytes(const void *a, const void *b) {
  const group_t *x = a, *y = b;
  if (x->leak->bytes != y->leak->bytes) return x->leak->bytes < y->leak->bytes ? 1 : -1;
  if (x->leak->objects != y->leak->objects) return x->leak->objects < y->leak->objects ? 1 : -1;
  return x->leak->stack < y->leak->stack ? -1 : x->leak->stack > y->leak->stack;
}

static const char *mode_name(void) {
  return scvgc_opt.mode == SCVGC_MODE_COLLECT ? "collect" : scvgc_opt.mode == SCVGC_MODE_LEAK ? "leak" : "off";
}

static void text_stack(out_t *o, const char *pre, const group_t *g) {
  if (!g->nframes) out_fmt(o, "%s    (no stack captured: SCVGC_STACK_DEPTH=%d)\n", pre, scvgc_opt.stack_depth);
  int idx = 0;
  for (int k = 0; k < g->nframes; k++) {
    scvgc_frame_t fr[MAX_INLINE];
    int nf = frames_of(g, k, fr);
    for (int i = 0; i < nf; i++) {
      const scvgc_frame_t *f = &fr[i];
      out_fmt(o, "%s    #%d %p %s", pre, idx++, (void *)f->pc, f->function ? f->function : "??");
      if (f->file) out_fmt(o, " (%s:%d)", f->file, f->line);
      out_fmt(o, " %s\n", f->module ? f->module : "");
    }
  }
}

static const char *const tl_event[] = {"gc", "scvg", "exit"};

/* One line: samples, time covered, events by name, the peak of each series — the line
 * scripts/scvgc_report.py prints for a report's timeline, character for character. */
static void text_timeline(out_t *o, const char *pre, const scvgc_report_t *r) {
  if (r->ntimeline <= 0) return;
  const scvgc_tlsample_t *tl = r->timeline;
  uint64_t span = 0, ev[3] = {0, 0, 0}, inuse = 0, sys = 0, rel = 0;
  int64_t rss = -1;
  for (long i = 0; i < r->ntimeline; i++) {
    if (tl[i].t_ns > span) span = tl[i].t_ns;
    if (tl[i].event < 3) ev[tl[i].event]++;
    if (tl[i].inuse_bytes > inuse) inuse = tl[i].inuse_bytes;
    if (tl[i].sys_bytes > sys) sys = tl[i].sys_bytes;
    if (tl[i].released_bytes > rel) rel = tl[i].released_bytes;
    if (tl[i].rss_bytes > rss) rss = tl[i].rss_bytes;
  }
  uint64_t ms = (span + 500000) / 1000000; /* never a tie: timeline.c */
  char events[96];
  size_t k = 0;
  static const int by_name[] = {SCVGC_TL_EXIT, SCVGC_TL_GC, SCVGC_TL_SCVG}; /* sorted names */
  for (int i = 0; i < 3; i++)
    if (ev[by_name[i]])
      k += scvgc_snprintf(events + k, sizeof events - k, "%s%lu %s", k ? ", " : "",
                          (unsigned long)ev[by_name[i]], tl_event[by_name[i]]);
  events[k < sizeof events ? k : sizeof events - 1] = 0;
  out_fmt(o, "%stimeline: %ld samples over %lu.%03lu s (%s); heap in use peak %lu KiB, heap sys peak "
             "%lu KiB, released to the OS peak %lu KiB",
          pre, r->ntimeline, (unsigned long)(ms / 1000), (unsigned long)(ms % 1000), events,
          (unsigned long)(inuse >> 10), (unsigned long)(sys >> 10), (unsigned long)(rel >> 10));
  if (rss >= 0) out_fmt(o, ", RSS peak %lu KiB", (unsigned long)(rss >> 10));
  out_str(o, "\n", 1);
}

static void text_report(out_t *o, const group_t *g, size_t ng, const scvgc_report_t *r) {
  const char *pre = r->prefix;
  if (r->reported_objects == 0) {
    out_fmt(o, "%sno leaks found (%s mode%s)\n", pre, mode_name(),
            copied.incomplete ? "; the check was incomplete: a thread could not be stopped" : "");
  } else {
    out_fmt(o, "%sLEAK SUMMARY (%s mode): %lu bytes in %lu objects are leaked\n", pre, mode_name(),
            (unsigned long)(r->direct_bytes + r->indirect_bytes),
            (unsigned long)(r->direct_objects + r->indirect_objects));
    for (size_t i = 0; i < ng; i++) {
      if (g[i].suppressed || g[i].leak->kind == SCVGC_LEAK_RECLAIMED) continue;
      out_fmt(o, "%s\n%s%lu bytes in %lu object%s %s leaked, allocated at:\n", pre, pre,
              (unsigned long)g[i].leak->bytes, (unsigned long)g[i].leak->objects,
              g[i].leak->objects == 1 ? "" : "s",
              g[i].leak->kind == SCVGC_LEAK_DIRECT ? (g[i].leak->objects == 1 ? "is directly" : "are directly")
                                                  : (g[i].leak->objects == 1 ? "is indirectly" : "are indirectly"));
      text_stack(o, pre, &g[i]);
    }
    out_fmt(o, "%s\n", pre);
  }
  if (r->reclaimed_objects) { /* collect mode: what the sweeps gave back, largest first */
    out_fmt(o, "%sreclaimed by the collector: %lu bytes in %lu objects; the largest by allocation stack:\n",
            pre, (unsigned long)r->reclaimed_bytes, (unsigned long)r->reclaimed_objects);
    int shown = 0;
    for (size_t i = 0; i < ng && shown < 10; i++) {
      if (g[i].leak->kind != SCVGC_LEAK_RECLAIMED) continue;
      out_fmt(o, "%s  %lu bytes in %lu objects reclaimed, allocated at:\n", pre,
              (unsigned long)g[i].leak->bytes, (unsigned long)g[i].leak->objects);
      text_stack(o, pre, &g[i]);
      shown++;
    }
    out_fmt(o, "%s\n", pre);
  }
  out_fmt(o, "%stotals: direct %lu objects (%lu bytes), indirect %lu objects (%lu bytes), "
             "suppressed %lu objects (%lu bytes)\n", pre,
          (unsigned long)r->direct_objects, (unsigned long)r->direct_bytes,
          (unsigned long)r->indirect_objects, (unsigned long)r->indirect_bytes,
          (unsigned long)r->suppressed_objects, (unsigned long)r->suppressed_bytes);
  const scvgc_stats_t *h = &r->heap;
  out_fmt(o, "%sheap: sys %lu KiB, in use %lu KiB, idle %lu KiB, released %lu KiB, GC metadata %lu KiB, %lu objects\n",
          pre, (unsigned long)(h->sys_bytes >> 10), (unsigned long)(h->inuse_bytes >> 10),
          (unsigned long)(h->idle_bytes >> 10), (unsigned long)(h->released_bytes >> 10),
          (unsigned long)(h->gc_sys_bytes >> 10), (unsigned long)h->live_objects);
  out_fmt(o, "%sgc: %lu cycles, pause total %lu us, longest %lu us\n", pre,
          (unsigned long)scvgc_gcstats.cycles, (unsigned long)(scvgc_gcstats.pause_total_ns / 1000),
          (unsigned long)(scvgc_gcstats.pause_max_ns / 1000));
  if (r->rss_peak >= 0)
    out_fmt(o, "%srss: peak %lu KiB, at exit %lu KiB\n", pre, (unsigned long)(r->rss_peak >> 10),
            (unsigned long)(r->rss_now >> 10));
  else
    out_fmt(o, "%srss: unknown\n", pre);
  text_timeline(o, pre, r);
}

/* The leak groups (not suppressed), or the reclaimed ones, as JSON array elements. */
static void json_groups(out_t *o, const group_t *g, size_t ng, bool reclaimed) {
  bool first = true;
  for (size_t i = 0; i < ng; i++) {
    if (g[i].suppressed || (g[i].leak->kind == SCVGC_LEAK_RECLAIMED) != reclaimed) continue;
    if (reclaimed)
      out_fmt(o, "%s\n  {\"objects\": %lu, \"bytes\": %lu, \"stack\": [", first ? "" : ",",
              (unsigned long)g[i].leak->objects, (unsigned long)g[i].leak->bytes);
    else
      out_fmt(o, "%s\n  {\"kind\": \"%s\", \"objects\": %lu, \"bytes\": %lu, \"stack\": [", first ? "" : ",",
              g[i].leak->kind == SCVGC_LEAK_DIRECT ? "direct" : "indirect",
              (unsigned long)g[i].leak->objects, (unsigned long)g[i].leak->bytes);
    first = false;
    bool firstf = true;
    for (int k = 0; k < g[i].nframes; k++) {
      scvgc_frame_t fr[MAX_INLINE];
      int nf = frames_of(&g[i], k, fr);
      for (int j = 0; j < nf; j++) {
        const scvgc_frame_t *f = &fr[j];
        out_fmt(o, "%s\n    {\"pc\": \"0x%lx\", \"function\": ", firstf ? "" : ",", (unsigned long)f->pc);
        firstf = false;
        out_json_str(o, f->function);
        out_str(o, ", \"file\": ", 10);
        out_json_str(o, f->file);
        if (f->file && f->line > 0) out_fmt(o, ", \"line\": %d, \"module\": ", f->line);
        else out_str(o, ", \"line\": null, \"module\": ", 26);
        out_json_str(o, f->module);
        if (f->inlined) out_str(o, ", \"inlined\": true", 17);
        out_str(o, "}", 1);
      }
    }
    out_str(o, "]}", 2);
  }
}

static void json_report(out_t *o, const group_t *g, size_t ng, const scvgc_report_t *r) {
  out_fmt(o, "{\"version\": 1, \"pid\": %d, \"mode\": \"%s\", \"complete\": %s,\n \"leaks\": [",
          (int)getpid(), mode_name(), copied.incomplete ? "false" : "true");
  json_groups(o, g, ng, false);
  out_fmt(o, "],\n \"reclaimed\": [");
  json_groups(o, g, ng, true);
  const scvgc_stats_t *h = &r->heap;
  out_fmt(o, "],\n \"totals\": {\"direct_objects\": %lu, \"direct_bytes\": %lu, \"indirect_objects\": %lu, "
             "\"indirect_bytes\": %lu, \"suppressed_objects\": %lu, \"suppressed_bytes\": %lu, "
             "\"reclaimed_objects\": %lu, \"reclaimed_bytes\": %lu},\n",
          (unsigned long)r->direct_objects, (unsigned long)r->direct_bytes,
          (unsigned long)r->indirect_objects, (unsigned long)r->indirect_bytes,
          (unsigned long)r->suppressed_objects, (unsigned long)r->suppressed_bytes,
          (unsigned long)r->reclaimed_objects, (unsigned long)r->reclaimed_bytes);
  out_fmt(o, " \"heap\": {\"sys_bytes\": %lu, \"inuse_bytes\": %lu, \"idle_bytes\": %lu, \"released_bytes\": %lu, "
             "\"consumed_bytes\": %lu, \"gc_sys_bytes\": %lu, \"live_objects\": %lu},\n",
          (unsigned long)h->sys_bytes, (unsigned long)h->inuse_bytes, (unsigned long)h->idle_bytes,
          (unsigned long)h->released_bytes, (unsigned long)h->consumed_bytes,
          (unsigned long)h->gc_sys_bytes, (unsigned long)h->live_objects);
  out_fmt(o, " \"gc\": {\"cycles\": %lu, \"pause_total_ns\": %lu, \"pause_max_ns\": %lu},\n",
          (unsigned long)scvgc_gcstats.cycles, (unsigned long)scvgc_gcstats.pause_total_ns,
          (unsigned long)scvgc_gcstats.pause_max_ns);
  if (r->rss_peak >= 0)
    out_fmt(o, " \"rss\": {\"peak_bytes\": %ld, \"exit_bytes\": %ld},\n", (long)r->rss_peak, (long)r->rss_now);
  else
    out_str(o, " \"rss\": {\"peak_bytes\": null, \"exit_bytes\": null},\n", 51);
  /* the samples (timeline.c), in time order; null when they could not be copied */
  if (r->ntimeline < 0) {
    out_str(o, " \"timeline\": null}\n", 19);
    return;
  }
  out_str(o, " \"timeline\": [", 14);
  for (long i = 0; i < r->ntimeline; i++) {
    const scvgc_tlsample_t *e = &r->timeline[i];
    out_fmt(o, "%s\n  {\"t_ns\": %lu, \"event\": \"%s\", \"inuse_bytes\": %lu, \"sys_bytes\": %lu, "
               "\"released_bytes\": %lu, \"rss_bytes\": ",
            i ? "," : "", (unsigned long)e->t_ns, e->event < 3 ? tl_event[e->event] : "?",
            (unsigned long)e->inuse_bytes, (unsigned long)e->sys_bytes, (unsigned long)e->released_bytes);
    if (e->rss_bytes >= 0) out_fmt(o, "%ld}", (long)e->rss_bytes);
    else out_str(o, "null}", 5);
  }
  out_str(o, "]}\n", 3);
}

static scvgc_lock_t report_lock = SCVGC_LOCK_INIT;

/* Write the report of the last cycle; fills *r with its totals. */
static void report_write(scvgc_report_t *r) {
  scvgc_lock(&report_lock);
  memset(r, 0, sizeof *r);
  scvgc_snprintf(r->prefix, sizeof r->prefix, "==%d== scvgc: ", (int)getpid());
  load_suppressions();
  scvgc_leak_t *leaks = NULL;
  long nl = scvgc_gc_copy_leaks(&leaks, &copied);
  scvgc_reclaim_t *rec = NULL;
  long nr = nl >= 0 && scvgc_collecting ? scvgc_sweep_copy_reclaimed(&rec) : 0;
  if (nr > 0) { /* the reclaimed groups ride along as leaks of their own kind */
    scvgc_leak_t *all = realloc(leaks, (size_t)(nl + nr) * sizeof *all);
    if (all) {
      for (long i = 0; i < nr; i++)
        all[nl + i] = (scvgc_leak_t){.stack = rec[i].stack, .kind = SCVGC_LEAK_RECLAIMED,
                                     .objects = rec[i].objects, .bytes = rec[i].bytes};
      leaks = all;
      nl += nr;
    }
  }
  free(rec);
  group_t *g = nl > 0 ? calloc((size_t)nl, sizeof *g) : NULL;
  if (nl < 0 || (nl > 0 && !g)) {
    scvgc_message("out of memory writing the leak report");
    free(leaks);
    scvgc_unlock(&report_lock);
    return;
  }
  size_t ng = 0;
  /* The program's figures, before the symbolizer (libdw, its DWARF and line tables: MBs of
   * heap and RSS) is loaded: the report must not measure itself. */
  scvgc_stats_read(&r->heap);
  scvgc_read_rss(&r->rss_peak, &r->rss_now);
  r->ntimeline = scvgc_timeline_copy(&r->timeline);
  atomic_fetch_add(&scvgc_gc_paused, 1); /* libdw allocates a lot: no periodic cycle for it
                                            (speed only: what it allocates is the library's) */
  scvgc_symbolize_begin();
  for (long i = 0; i < nl; i++) {
    const scvgc_leak_t *l = &leaks[i];
    group_t *e = &g[ng++];
    e->leak = l;
    const uintptr_t *pcs = NULL;
    int n = l->stack ? scvgc_stack_get(l->stack, &pcs) : 0;
    e->pcs = pcs;
    e->nframes = n > 64 ? 64 : n;
    for (int k = 0; k < e->nframes && nsupp && l->kind != SCVGC_LEAK_RECLAIMED && !e->suppressed; k++) {
      scvgc_frame_t fr[MAX_INLINE];
      int nf = frames_of(e, k, fr);
      for (int j = 0; j < nf; j++)
        for (int s = 0; s < nsupp && !e->suppressed; s++)
          e->suppressed = supp_match(supp[s], fr[j].function) || supp_match(supp[s], fr[j].file) ||
                          supp_match(supp[s], fr[j].module);
    }
    if (l->kind == SCVGC_LEAK_RECLAIMED) {
      e->suppressed = false; /* suppressions are for leaks */
      r->reclaimed_objects += l->objects;
      r->reclaimed_bytes += l->bytes;
    } else if (e->suppressed) {
      r->suppressed_objects += l->objects;
      r->suppressed_bytes += l->bytes;
    } else if (l->kind == SCVGC_LEAK_DIRECT) {
      r->direct_objects += l->objects;
      r->direct_bytes += l->bytes;
    } else {
      r->indirect_objects += l->objects;
      r->indirect_bytes += l->bytes;
    }
  }
  r->reported_objects = r->direct_objects + r->indirect_objects;
  if (ng) qsort(g, ng, sizeof *g, by_bytes);

  static out_t o; /* 16 KiB: not on the stack of a program thread that may have little */
  const char *dst = scvgc_opt.report;
  if (strcmp(dst, "none")) {
    bool err = !strcmp(dst, "stderr");
    o.fd = err ? scvgc_err_open() : open_path(dst);
    o.len = 0;
    if (o.fd >= 0) {
      text_report(&o, g, ng, r);
      out_flush(&o);
      if (err) scvgc_err_close(o.fd);
      else close(o.fd);
    }
  }
  if (scvgc_opt.json) {
    o.fd = open_path(scvgc_opt.json);
    o.len = 0;
    if (o.fd >= 0) {
      json_report(&o, g, ng, r);
      out_flush(&o);
      close(o.fd);
    }
  }
  scvgc_symbolize_end();
  atomic_fetch_sub(&scvgc_gc_paused, 1);
  free(g);
  free(leaks);
  free(r->timeline);
  r->timeline = NULL;
  scvgc_unlock(&report_lock);
}

/* ---- the report's own stack ------------------------------------------------------------- *
 * The report is written on a stack the library maps for it (REPORT_STACK, a guard page
 * below): its buffers and the symbolizer's frames (libdw) need tens of KiB, and it runs on the
 * thread that called exit() or scvgc_leak_check(), which may be a thread-pool worker or a
 * coroutine with 64 KiB or less (the process died of SIGSEGV in the symbolizer, and the report
 * was lost). The same thread, so its TLS (scvgc_in_lib) holds; the mapping is the library's
 * own (roots.c R1): never scanned. A cycle another thread runs meanwhile finds this thread's sp
 * outside its stack and cuts nothing of that stack (roots.c): conservative. Without the mapping
 * (out of memory) the report runs where it is. */
#define REPORT_STACK ((size_t)1 << 20)
#define REPORT_GUARD ((size_t)4096)

/* fn(arg) with the stack pointer at top (16-aligned); returns on the caller's stack. rbp
 * keeps the caller's sp, and the CFI says so: unwinders step back through it. */
void scvgc_report_on_stack(void (*fn)(void *), void *arg, void *top) SCVGC_HIDDEN;
__asm__(".text\n"
        ".globl scvgc_report_on_stack\n"
        ".hidden scvgc_report_on_stack\n"
        ".type scvgc_report_on_stack, @function\n"
        ".p2align 4\n"
        "scvgc_report_on_stack:\n"
        ".cfi_startproc\n"
        "  endbr64\n"
        "  push %rbp\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset %rbp, -16\n"
        "  mov %rsp, %rbp\n"
        ".cfi_def_cfa_register %rbp\n"
        "  mov %rdx, %rsp\n"
        "  mov %rdi, %rax\n"
        "  mov %rsi, %rdi\n"
        "  call *%rax\n"
        "  mov %rbp, %rsp\n"
        "  pop %rbp\n"
        ".cfi_def_cfa %rsp, 8\n"
        "  ret\n"
        ".cfi_endproc\n"
        ".size scvgc_report_on_stack, .-scvgc_report_on_stack\n");

/* fn(arg) on a fresh stack of the library's own, or here without one. */
static void on_own_stack(void (*fn)(void *), void *arg) {
  char *stk = scvgc_sys_map_meta(REPORT_STACK + REPORT_GUARD);
  if (stk && mprotect(stk, REPORT_GUARD, PROT_NONE) == 0)
    scvgc_report_on_stack(fn, arg, stk + REPORT_GUARD + REPORT_STACK);
  else
    fn(arg);
  if (stk) scvgc_sys_unmap_meta(stk, REPORT_STACK + REPORT_GUARD);
}

static void report_job(void *r) { report_write(r); }

/* Everything the report allocates is library-owned (gc.h scvgc_in_lib): the suppressions
 * kept in our data, libdw's session, the copies. A cycle another thread runs meanwhile, or
 * one the allocations start, keeps them alive. */
void scvgc_report_write(scvgc_report_t *r) {
  scvgc_lib_enter();
  on_own_stack(report_job, r);
  scvgc_lib_leave();
}

void scvgc_report_fork_child(void) { scvgc_lock_reset(&report_lock); }
