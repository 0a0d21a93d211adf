/* report.c — the leak and RSS report, text and JSON (SPEC "Reports").
 *
 * Reads the leak table of the last cycle (gc.c) with the world running and no core lock
 * held, so it may allocate (symbolization through libdw does). Groups are sorted largest
 * first; each group's stack is symbolized (symbolize.c, each pc once per report: frames_of),
 * matched against the suppressions, and written to the text destination (SCVGC_REPORT) and
 * the JSON file (SCVGC_JSON). The JSON has every group; the text, past TEXT_GROUPS_MAX of
 * them, merges those that share their first frames and prints the largest (text_groups).
 * Every text line starts with "==PID== scvgc: ". Unknown values are null in the JSON,
 * never invented. With sampled stacks (SCVGC_SAMPLE, alloc.c "sampling") the groups are
 * scaled to estimates and marked so; the totals stay exact (docs/reports.md).
 * Suppressions: parsed and matched here (LeakSanitizer's syntax, below), counted per
 * pattern in each report ("suppressions used", text and JSON).
 * Callers: the exit check, scvgc_leak_check and scvgc_leak_counts (program threads), and a
 * snapshot (the scavenger thread, snapshot.c), one at a time (report_lock).
 * The report runs on a stack of its own that it maps for each report (on_own_stack): the
 * caller's may be small.
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
 *    Checked by test/integration/secure.sh.
 * F2 A snapshot (the report signal, snapshot.c P4) has its sequence number N: `%p` becomes
 *    PID.N, and a path without `%p` gets .PID.N appended, so it never names the exit report's
 *    file nor another snapshot's. */
static int open_path(const char *tmpl, unsigned seq) {
  char path[4096];
  size_t k = 0;
  bool pid = false;
  for (const char *t = tmpl; *t && k + 24 < sizeof path; t++) {
    if (t[0] == '%' && t[1] == 'p') {
      k += scvgc_snprintf(path + k, sizeof path - k, seq ? "%d.%u" : "%d", (int)getpid(), seq);
      pid = true;
      t++;
    } else {
      path[k++] = *t;
    }
  }
  if (seq && !pid && k + 24 < sizeof path) /* F2 */
    k += scvgc_snprintf(path + k, sizeof path - k, ".%d.%u", (int)getpid(), seq);
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
  static const char *const keys[] = {"VmHWM", "VmRSS"};
  int64_t v[2];
  scvgc_proc_status(keys, v, 2);
  *peak = v[0] < 0 ? -1 : v[0] * 1024;
  *now = v[1] < 0 ? -1 : v[1] * 1024;
}

/* ---- suppressions ---------------------------------------------------------------------------- */

/* LeakSanitizer's syntax (issue 16 point 2): a line `leak:PATTERN`; `#` starts a comment line;
 * blanks around a line are dropped. PATTERN matches a name it occurs in, `*` matches any run
 * of characters, a leading `^` anchors it at the name's start and a trailing `$` at its end
 * (LSan's TemplateMatch). A group is suppressed when some frame of its allocation stack (an
 * inlined function is a frame of its own) has a function, source file or module name that a
 * pattern matches; the first pattern that matches the innermost such frame gets the group's
 * objects and bytes ("suppressions used").
 * Sources, in this order: the SCVGC_SUPPRESS file (any size), then the program's compiled-in
 * __scvgc_default_suppressions() and __lsan_default_suppressions() (api.c finds them).
 * S1 A bad line is named by its source and number, never echoed: the file may not be the
 *    user's to read, and a report must not become a way to print another file's lines. */
typedef struct {
  const char *pat;  /* after "leak:" */
  const char *src;  /* the file, or the compiled-in function's name */
  int line;
  uint64_t groups, objects, bytes; /* what it suppressed in this report */
} supp_t;

static supp_t *supp;
static int nsupp, capsupp;
static bool supp_loaded;

/* Does `*`-glob g (no anchors) match all of s? Iterative, with one backtrack point: linear
 * enough for any pattern, never a recursion as deep as the name is long. */
static bool glob_all(const char *g, size_t gn, const char *s) {
  size_t gi = 0, si = 0, star = (size_t)-1, mark = 0, sn = strlen(s);
  while (si < sn) {
    if (gi < gn && g[gi] == '*') {
      star = gi++;
      mark = si;
    } else if (gi < gn && g[gi] == s[si]) {
      gi++;
      si++;
    } else if (star != (size_t)-1) {
      gi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (gi < gn && g[gi] == '*') gi++;
  return gi == gn;
}

/* LeakSanitizer's pattern match: `^` and `$` anchor, `*` is a wildcard, else a substring. */
bool scvgc_supp_match(const char *pat, const char *name) {
  if (!name || !*name) return false;
  size_t n = strlen(pat);
  bool start = n && pat[0] == '^';
  if (start) pat++, n--;
  bool end = n && pat[n - 1] == '$';
  if (end) n--;
  char g[1024];
  if (n + 2 >= sizeof g) return false;
  size_t k = 0;
  if (!start) g[k++] = '*';
  memcpy(g + k, pat, n);
  k += n;
  if (!end) g[k++] = '*';
  return glob_all(g, k, name);
}

static void add_suppressions(char *text, const char *src) {
  int lineno = 0;
  for (char *line = text, *next; line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    lineno++;
    while (*line == ' ' || *line == '\t') line++;
    char *end = line + strlen(line);
    while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) *--end = 0;
    if (!*line || *line == '#') continue;
    if (strncmp(line, "leak:", 5) || !line[5] || !strcmp(line + 5, "^") || !strcmp(line + 5, "$") ||
        !strcmp(line + 5, "^$")) {
      scvgc_message("%s:%d: ignoring a line that is not leak:PATTERN", src, lineno); /* S1 */
      continue;
    }
    if (nsupp == capsupp) {
      int cap = capsupp ? 2 * capsupp : 64;
      supp_t *a = realloc(supp, (size_t)cap * sizeof *a);
      if (!a) {
        scvgc_message("%s:%d: out of memory reading the suppressions", src, lineno);
        return;
      }
      supp = a;
      capsupp = cap;
    }
    supp[nsupp++] = (supp_t){.pat = line + 5, .src = src, .line = lineno};
  }
}

/* The whole file, however long (malloc'd, kept: its lines are the patterns). */
static char *read_file(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return NULL;
  size_t cap = 65536, n = 0;
  char *text = malloc(cap);
  for (;;) {
    if (!text) break;
    if (n + 1 == cap) {
      char *t = cap < ((size_t)1 << 30) ? realloc(text, cap * 2) : NULL;
      if (!t) {
        free(text);
        text = NULL;
        break;
      }
      text = t;
      cap *= 2;
    }
    ssize_t r = read(fd, text + n, cap - 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  if (text) text[n] = 0;
  return text;
}

static void load_suppressions(void) {
  if (supp_loaded) return;
  supp_loaded = true;
  if (scvgc_opt.suppress) {
    char *text = read_file(scvgc_opt.suppress);
    if (text) add_suppressions(text, scvgc_opt.suppress);
    else scvgc_message("cannot read the suppressions file %s", scvgc_opt.suppress);
  }
  static const char *const names[2] = {"__scvgc_default_suppressions", "__lsan_default_suppressions"};
  for (int i = 0; i < 2; i++) {
    const char *t = scvgc_program_suppressions(i);
    char *copy = t ? strdup(t) : NULL;
    if (copy) add_suppressions(copy, names[i]);
  }
}

/* ---- the report -------------------------------------------------------------------------------- */

static scvgc_leaks_t copied; /* totals and flags of the table the report is written from */

/* One leak (or reclaimed) group. Its frames are symbolized when printed, not stored: a program
 * whose allocation stacks differ by the path through a recursion (a binary tree built by two
 * recursive calls) has hundreds of thousands of groups, and 64 stored frames each would make
 * the report itself allocate hundreds of MB. The symbolizer caches by pc (S2). */
typedef struct {
  const scvgc_leak_t *leak; /* scaled to estimates where stacks are sampled */
  const uintptr_t *pcs; /* the depot's record (valid until exit) */
  int nframes;
  bool suppressed;
  bool unsampled; /* the stack-0 group of a sampled report: counted in the totals only */
} group_t;

/* The report's sampling rate (SCVGC_SAMPLE): 0 when every allocation's stack was captured. */
static uint64_t sample_rate(void) { return scvgc_opt.mode == SCVGC_MODE_OFF ? 0 : scvgc_opt.sample; }

/* exp(-x) for x >= 0, to about 1e-12 (no libm in the library): x = k ln2 + r. */
static double exp_neg(double x) {
  if (x > 700) return 0;
  int k = (int)(x / 0.6931471805599453);
  double r = x - k * 0.6931471805599453, term = 1, sum = 1;
  for (int i = 1; i < 20; i++) sum += (term *= -r / i);
  while (k-- > 0) sum *= 0.5;
  return sum;
}

/* Scale one group's sampled objects and bytes to estimates (Go's scaleHeapSample): an
 * object of size s was sampled with probability 1 - exp(-s/R), so it stands for
 * 1 / (1 - exp(-s/R)) objects; the group's mean size stands for its objects' sizes. */
static void scale_sampled(scvgc_leak_t *l, uint64_t rate) {
  if (!l->objects || !l->bytes) return;
  double avg = (double)l->bytes / (double)l->objects;
  double w = 1 / (1 - exp_neg(avg / (double)rate));
  l->objects = (uint64_t)((double)l->objects * w + 0.5);
  l->bytes = (uint64_t)((double)l->bytes * w + 0.5);
}

/* The symbolized frames of each pc met in this report (inlined ones included), so that a pc
 * shared by many groups (a recursion's return addresses: 131072 groups of 12 frames share 10
 * pcs) asks libdw once: dwarf_getscopes per frame made the JSON of such a program take a
 * minute. Open addressing by pc; the frames' strings are the symbolizer session's (S1), so
 * the cache lives from the report's scvgc_symbolize_begin to its end. */
#define MAX_INLINE 8
typedef struct {
  uintptr_t pc; /* 0: empty */
  uint32_t first, n; /* fcache[first .. first + n) */
} fslot_t;
static fslot_t *fslots;
static size_t fslots_cap, fslots_used;
static scvgc_frame_t *fcache;
static size_t fcache_len, fcache_cap;

static void fcache_free(void) {
  free(fslots);
  free(fcache);
  fslots = NULL;
  fcache = NULL;
  fslots_cap = fslots_used = fcache_len = fcache_cap = 0;
}

static inline size_t fslot_of(uintptr_t pc, size_t cap) {
  return (size_t)((pc * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

/* The cache's slot for pc (its entry, or the empty slot to fill); NULL: no memory. */
static fslot_t *fcache_slot(uintptr_t pc) {
  if (fslots_used * 2 >= fslots_cap) {
    size_t cap = fslots_cap ? 2 * fslots_cap : 4096;
    fslot_t *t = calloc(cap, sizeof *t);
    if (!t) return NULL;
    for (size_t i = 0; i < fslots_cap; i++) {
      if (!fslots[i].pc) continue;
      size_t j = fslot_of(fslots[i].pc, cap);
      while (t[j].pc) j = (j + 1) & (cap - 1);
      t[j] = fslots[i];
    }
    free(fslots);
    fslots = t;
    fslots_cap = cap;
  }
  size_t j = fslot_of(pc, fslots_cap);
  while (fslots[j].pc && fslots[j].pc != pc) j = (j + 1) & (fslots_cap - 1);
  return &fslots[j];
}

/* The frames at pc k of group g, symbolized: the functions inlined there, then the one
 * that holds the code (only the pc where the symbolizer knows nothing). Returns how many. */
static int frames_of(const group_t *g, int k, scvgc_frame_t *out) {
  uintptr_t pc = g->pcs[k];
  fslot_t *c = pc ? fcache_slot(pc) : NULL;
  if (c && c->pc == pc) {
    memcpy(out, &fcache[c->first], c->n * sizeof *out);
    return (int)c->n;
  }
  int n = scvgc_symbolize_frames(pc, out, MAX_INLINE);
  if (n <= 0 || !out[n - 1].module) {
    out[0] = (scvgc_frame_t){.pc = pc};
    n = 1;
  }
  if (c && fcache_len + (size_t)n > fcache_cap) {
    size_t cap = fcache_cap ? 2 * fcache_cap : 4096;
    scvgc_frame_t *f = realloc(fcache, cap * sizeof *f);
    if (f) {
      fcache = f;
      fcache_cap = cap;
    }
  }
  if (c && fcache_len + (size_t)n <= fcache_cap) {
    memcpy(&fcache[fcache_len], out, (size_t)n * sizeof *out);
    *c = (fslot_t){.pc = pc, .first = (uint32_t)fcache_len, .n = (uint32_t)n};
    fcache_len += (size_t)n;
    fslots_used++;
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

/* LeakSanitizer's "Suppressions used" block, and the patterns that hid nothing. */
static void text_suppressions(out_t *o, const char *pre) {
  if (!nsupp) return;
  int used = 0;
  for (int i = 0; i < nsupp; i++) used += supp[i].groups != 0;
  if (used) {
    out_fmt(o, "%ssuppressions used:\n%s     objects        bytes  pattern\n", pre, pre);
    for (int i = 0; i < nsupp; i++)
      if (supp[i].groups)
        out_fmt(o, "%s%12lu %12lu  leak:%s (%s:%d)\n", pre, (unsigned long)supp[i].objects,
                (unsigned long)supp[i].bytes, supp[i].pat, supp[i].src, supp[i].line);
  }
  if (used < nsupp) {
    out_fmt(o, "%ssuppressions unused:\n", pre);
    for (int i = 0; i < nsupp; i++)
      if (!supp[i].groups) out_fmt(o, "%s  leak:%s (%s:%d)\n", pre, supp[i].pat, supp[i].src, supp[i].line);
  }
  out_fmt(o, "%s\n", pre);
}

/* The text report's groups. Up to TEXT_GROUPS_MAX leak groups: each one as it is (SPEC: one
 * block per allocation stack). More: merged where they share their kind and their first
 * TEXT_TOP_FRAMES frames, at most TEXT_GROUPS_MAX of those printed, the rest summed in one
 * line; the JSON report keeps every group. A program that leaks from a recursion has a group
 * per path through it (GCBench: ~1 M; test/progs/leak_tree: 131072), and printed whole the
 * text ran to hundreds of MB. */
#define TEXT_TOP_FRAMES 8
#define TEXT_GROUPS_MAX 1000
typedef struct {
  const group_t *rep; /* the largest member: its whole stack is printed */
  uint64_t objects, bytes;
  uint64_t stacks; /* groups merged into this one */
} tgroup_t;

static uint64_t top_key(const group_t *e) {
  int n = e->nframes < TEXT_TOP_FRAMES ? e->nframes : TEXT_TOP_FRAMES;
  uint64_t h = (uint64_t)e->leak->kind * 0x9E3779B97F4A7C15ull + (uint64_t)n;
  for (int k = 0; k < n; k++) h = (h ^ e->pcs[k]) * 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 31);
}

static bool same_top(const group_t *a, const group_t *b) {
  int na = a->nframes < TEXT_TOP_FRAMES ? a->nframes : TEXT_TOP_FRAMES;
  int nb = b->nframes < TEXT_TOP_FRAMES ? b->nframes : TEXT_TOP_FRAMES;
  if (na != nb || a->leak->kind != b->leak->kind) return false;
  for (int k = 0; k < na; k++)
    if (a->pcs[k] != b->pcs[k]) return false;
  return true;
}

static int tgroup_by_bytes(const void *a, const void *b) {
  const tgroup_t *x = a, *y = b;
  if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
  if (x->objects != y->objects) return x->objects < y->objects ? 1 : -1;
  return x->rep < y->rep ? -1 : x->rep > y->rep; /* g is sorted: the JSON's order */
}

/* The text groups of g (sorted largest first), largest first; NULL when out of memory (the
 * report then prints the groups unmerged, still at most TEXT_GROUPS_MAX: *nt is their count). */
static tgroup_t *text_groups(const group_t *g, size_t ng, size_t *nt) {
  size_t n = 0, cap = 64;
  for (size_t i = 0; i < ng; i++)
    if (!g[i].suppressed && !g[i].unsampled && g[i].leak->kind != SCVGC_LEAK_RECLAIMED) n++;
  while (cap < 2 * n) cap *= 2;
  tgroup_t *t = malloc((n ? n : 1) * sizeof *t);
  uint32_t *slot = calloc(cap, sizeof *slot); /* index + 1 into t, by top_key */
  if (!t || !slot) {
    free(t);
    free(slot);
    *nt = n;
    return NULL;
  }
  size_t m = 0;
  bool merge = n > TEXT_GROUPS_MAX;
  for (size_t i = 0; i < ng; i++) {
    const group_t *e = &g[i];
    if (e->suppressed || e->unsampled || e->leak->kind == SCVGC_LEAK_RECLAIMED) continue;
    if (!merge) {
      t[m++] = (tgroup_t){.rep = e, .objects = e->leak->objects, .bytes = e->leak->bytes, .stacks = 1};
      continue;
    }
    size_t j = (size_t)top_key(e) & (cap - 1);
    while (slot[j] && !same_top(t[slot[j] - 1].rep, e)) j = (j + 1) & (cap - 1);
    if (!slot[j]) {
      t[m] = (tgroup_t){.rep = e};
      slot[j] = (uint32_t)++m;
    }
    tgroup_t *x = &t[slot[j] - 1];
    x->objects += e->leak->objects;
    x->bytes += e->leak->bytes;
    x->stacks++;
  }
  free(slot);
  qsort(t, m, sizeof *t, tgroup_by_bytes);
  *nt = m;
  return t;
}

static void text_report(out_t *o, const group_t *g, size_t ng, const scvgc_report_t *r, unsigned seq) {
  const char *pre = r->prefix;
  if (seq) out_fmt(o, "%ssnapshot %u of the running program (SCVGC_REPORT_SIGNAL)\n", pre, seq);
  uint64_t rate = sample_rate();
  const char *est = rate ? " (estimated)" : "";
  if (r->reported_objects == 0) {
    out_fmt(o, "%sno leaks found (%s mode%s)\n", pre, mode_name(),
            copied.incomplete ? "; the check was incomplete: a thread could not be stopped" : "");
  } else {
    out_fmt(o, "%sLEAK SUMMARY (%s mode): %lu bytes in %lu objects are leaked\n", pre, mode_name(),
            (unsigned long)(r->direct_bytes + r->indirect_bytes),
            (unsigned long)(r->direct_objects + r->indirect_objects));
    if (rate)
      out_fmt(o, "%sstacks sampled, one per %lu bytes allocated on average (SCVGC_SAMPLE): the "
                 "groups are estimates, the summary and totals exact\n", pre, (unsigned long)rate);
    size_t nt = 0;
    tgroup_t *t = text_groups(g, ng, &nt);
    size_t shown = nt < TEXT_GROUPS_MAX ? nt : TEXT_GROUPS_MAX;
    for (size_t i = 0, k = 0; i < shown; i++, k++) {
      if (!t) /* out of memory: the first leak groups as they are */
        while (g[k].suppressed || g[k].unsampled || g[k].leak->kind == SCVGC_LEAK_RECLAIMED) k++;
      const group_t *e = t ? t[i].rep : &g[k];
      uint64_t objects = t ? t[i].objects : e->leak->objects, bytes = t ? t[i].bytes : e->leak->bytes;
      out_fmt(o, "%s\n%s%lu bytes in %lu object%s %s leaked%s, allocated at:\n", pre, pre,
              (unsigned long)bytes, (unsigned long)objects, objects == 1 ? "" : "s",
              e->leak->kind == SCVGC_LEAK_DIRECT ? (objects == 1 ? "is directly" : "are directly")
                                                 : (objects == 1 ? "is indirectly" : "are indirectly"),
              est);
      text_stack(o, pre, e);
      if (t && t[i].stacks > 1)
        out_fmt(o, "%s    (the stack of the largest of %lu groups with these first %d frames; "
                   "%s)\n", pre, (unsigned long)t[i].stacks, TEXT_TOP_FRAMES,
                scvgc_opt.json ? "the JSON report has each" : "SCVGC_JSON would list each");
    }
    if (t && nt > shown) {
      uint64_t rest = 0, restg = 0;
      for (size_t i = shown; i < nt; i++) {
        rest += t[i].bytes;
        restg += t[i].stacks;
      }
      out_fmt(o, "%s\n%s... and %lu more groups (%lu bytes) in the JSON report%s\n", pre, pre,
              (unsigned long)restg, (unsigned long)rest,
              scvgc_opt.json ? "" : " (SCVGC_JSON=FILE writes it)");
    }
    free(t);
    out_fmt(o, "%s\n", pre);
  }
  if (r->reclaimed_objects) { /* collect mode: what the sweeps gave back, largest first */
    out_fmt(o, "%sreclaimed by the collector: %lu bytes in %lu objects; the largest by allocation stack:\n",
            pre, (unsigned long)r->reclaimed_bytes, (unsigned long)r->reclaimed_objects);
    int shown = 0;
    for (size_t i = 0; i < ng && shown < 10; i++) {
      if (g[i].leak->kind != SCVGC_LEAK_RECLAIMED || g[i].unsampled) continue;
      out_fmt(o, "%s  %lu bytes in %lu objects reclaimed%s, allocated at:\n", pre,
              (unsigned long)g[i].leak->bytes, (unsigned long)g[i].leak->objects, est);
      text_stack(o, pre, &g[i]);
      shown++;
    }
    out_fmt(o, "%s\n", pre);
  }
  text_suppressions(o, pre);
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
  const char *est = sample_rate() ? ", \"estimated\": true" : "";
  for (size_t i = 0; i < ng; i++) {
    if (g[i].suppressed || g[i].unsampled || (g[i].leak->kind == SCVGC_LEAK_RECLAIMED) != reclaimed)
      continue;
    if (reclaimed)
      out_fmt(o, "%s\n  {\"objects\": %lu, \"bytes\": %lu%s, \"stack\": [", first ? "" : ",",
              (unsigned long)g[i].leak->objects, (unsigned long)g[i].leak->bytes, est);
    else
      out_fmt(o, "%s\n  {\"kind\": \"%s\", \"objects\": %lu, \"bytes\": %lu%s, \"stack\": [", first ? "" : ",",
              g[i].leak->kind == SCVGC_LEAK_DIRECT ? "direct" : "indirect",
              (unsigned long)g[i].leak->objects, (unsigned long)g[i].leak->bytes, est);
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

static void json_report(out_t *o, const group_t *g, size_t ng, const scvgc_report_t *r, unsigned seq) {
  out_fmt(o, "{\"version\": 1, \"pid\": %d, \"mode\": \"%s\", \"complete\": %s,\n",
          (int)getpid(), mode_name(), copied.incomplete ? "false" : "true");
  if (seq) out_fmt(o, " \"snapshot\": %u,\n", seq); /* F2: the report signal's N */
  if (sample_rate()) out_fmt(o, " \"sample_bytes\": %lu,\n", (unsigned long)sample_rate());
  out_str(o, " \"leaks\": [", 11);
  json_groups(o, g, ng, false);
  out_fmt(o, "],\n \"reclaimed\": [");
  json_groups(o, g, ng, true);
  out_fmt(o, "],\n \"suppressions\": [");
  for (int i = 0; i < nsupp; i++) {
    out_fmt(o, "%s\n  {\"pattern\": ", i ? "," : "");
    out_json_str(o, supp[i].pat);
    out_str(o, ", \"source\": ", 12);
    out_json_str(o, supp[i].src);
    out_fmt(o, ", \"line\": %d, \"groups\": %lu, \"objects\": %lu, \"bytes\": %lu}", supp[i].line,
            (unsigned long)supp[i].groups, (unsigned long)supp[i].objects, (unsigned long)supp[i].bytes);
  }
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
  out_fmt(o, " \"gc\": {\"cycles\": %lu, \"pause_total_ns\": %lu, \"pause_max_ns\": %lu, "
          "\"pause_p50_ns\": %lu, \"pause_p99_ns\": %lu, \"pages_rescanned\": %lu},\n",
          (unsigned long)scvgc_gcstats.cycles, (unsigned long)scvgc_gcstats.pause_total_ns,
          (unsigned long)scvgc_gcstats.pause_max_ns, (unsigned long)scvgc_gc_pause_quantile(0.5),
          (unsigned long)scvgc_gc_pause_quantile(0.99), (unsigned long)scvgc_gcstats.pages_rescanned);
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

static scvgc_lock_t report_lock = SCVGC_LOCK_RANKED(SCVGC_RANK_REPORT);

/* Write the report of the last cycle (or only count it: scvgc_leak_counts); fills *r with its
 * totals. */
static void report_write(scvgc_report_t *r, bool write, unsigned seq) {
  scvgc_lock(&report_lock);
  memset(r, 0, sizeof *r);
  scvgc_snprintf(r->prefix, sizeof r->prefix, "==%d== scvgc: ", (int)getpid());
  load_suppressions();
  for (int i = 0; i < nsupp; i++) supp[i].groups = supp[i].objects = supp[i].bytes = 0;
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
  /* Sampled: the totals are the exact counts of every group (the stack-0 one holds the
   * unsampled objects), less the estimate of what suppressions hid; the groups estimates. */
  uint64_t rate = sample_rate(), supp_kind[2][2] = {{0, 0}, {0, 0}}; /* [indirect?][bytes?] */
  for (long i = 0; i < nl; i++) {
    scvgc_leak_t *l = &leaks[i];
    group_t *e = &g[ng++];
    e->leak = l;
    uint64_t raw_objects = l->objects, raw_bytes = l->bytes;
    if (rate && !l->stack) e->unsampled = true;
    else if (rate) scale_sampled(l, rate);
    const uintptr_t *pcs = NULL;
    int n = l->stack ? scvgc_stack_get(l->stack, &pcs) : 0;
    e->pcs = pcs;
    e->nframes = n > 64 ? 64 : n;
    int by = -1; /* the suppression that hides it: the first to match its innermost frame */
    for (int k = 0; k < e->nframes && nsupp && l->kind != SCVGC_LEAK_RECLAIMED && by < 0; k++) {
      scvgc_frame_t fr[MAX_INLINE];
      int nf = frames_of(e, k, fr);
      for (int j = 0; j < nf && by < 0; j++) /* each inlined function is a frame of its own */
        for (int s = 0; s < nsupp && by < 0; s++)
          if (scvgc_supp_match(supp[s].pat, fr[j].function) || scvgc_supp_match(supp[s].pat, fr[j].file) ||
              scvgc_supp_match(supp[s].pat, fr[j].module))
            by = s;
    }
    e->suppressed = by >= 0;
    if (l->kind == SCVGC_LEAK_RECLAIMED) {
      e->suppressed = false; /* suppressions are for leaks */
      r->reclaimed_objects += raw_objects;
      r->reclaimed_bytes += raw_bytes;
      continue;
    }
    if (l->kind == SCVGC_LEAK_DIRECT) {
      r->direct_objects += raw_objects;
      r->direct_bytes += raw_bytes;
    } else {
      r->indirect_objects += raw_objects;
      r->indirect_bytes += raw_bytes;
    }
    if (e->suppressed) {
      supp[by].groups++;
      supp[by].objects += l->objects;
      supp[by].bytes += l->bytes;
      r->suppressed_objects += l->objects;
      r->suppressed_bytes += l->bytes;
      supp_kind[l->kind != SCVGC_LEAK_DIRECT][0] += l->objects;
      supp_kind[l->kind != SCVGC_LEAK_DIRECT][1] += l->bytes;
    }
  }
#define LESS(a, b) ((a) -= (b) < (a) ? (b) : (a))
  LESS(r->direct_objects, supp_kind[0][0]);
  LESS(r->direct_bytes, supp_kind[0][1]);
  LESS(r->indirect_objects, supp_kind[1][0]);
  LESS(r->indirect_bytes, supp_kind[1][1]);
#undef LESS
  r->reported_objects = r->direct_objects + r->indirect_objects;
  if (ng) qsort(g, ng, sizeof *g, by_bytes);

  static out_t o; /* 16 KiB: not on the stack of a program thread that may have little */
  const char *dst = scvgc_opt.report;
  if (write && strcmp(dst, "none")) {
    bool err = !strcmp(dst, "stderr");
    o.fd = err ? scvgc_err_open() : open_path(dst, seq);
    o.len = 0;
    if (o.fd >= 0) {
      text_report(&o, g, ng, r, seq);
      out_flush(&o);
      if (err) scvgc_err_close(o.fd);
      else close(o.fd);
    }
  }
  if (write && scvgc_opt.json) {
    o.fd = open_path(scvgc_opt.json, seq);
    o.len = 0;
    if (o.fd >= 0) {
      json_report(&o, g, ng, r, seq);
      out_flush(&o);
      close(o.fd);
    }
  }
  fcache_free();
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

static void report_job_write(void *r) { report_write(r, true, 0); }
static void report_job_count(void *r) { report_write(r, false, 0); }
static unsigned snapshot_seq; /* the argument of the job below (one report at a time: the
                                 scavenger thread is its only writer) */
static void report_job_snapshot(void *r) { report_write(r, true, snapshot_seq); }

/* Everything the report allocates is library-owned (gc.h scvgc_in_lib): the suppressions
 * kept in our data, libdw's session, the copies. A cycle another thread runs meanwhile, or
 * one the allocations start, keeps them alive. */
void scvgc_report_write(scvgc_report_t *r) {
  scvgc_lib_enter();
  on_own_stack(report_job_write, r);
  scvgc_lib_leave();
}

/* A snapshot (the report signal, snapshot.c): the report, its files named with seq (F2). */
void scvgc_report_snapshot(scvgc_report_t *r, unsigned seq) {
  scvgc_lib_enter();
  snapshot_seq = seq;
  on_own_stack(report_job_snapshot, r);
  scvgc_lib_leave();
}

void scvgc_report_count(scvgc_report_t *r) {
  scvgc_lib_enter();
  on_own_stack(report_job_count, r);
  scvgc_lib_leave();
}

void scvgc_report_fork_child(void) { scvgc_lock_reset(&report_lock); }
