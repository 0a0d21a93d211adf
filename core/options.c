/* options.c — the SCVGC_* environment variables: one table, read once at start-up.
 *
 * The table below is the single source of the names, defaults, parsers and help texts;
 * `scvgc --help` and docs/env.md are generated from it (scvgc_options_print).
 * A bad value prints one line naming the variable, the bad value and the value used
 * instead, and never stops the program.
 * Where a value comes from, lowest priority first (O1): the table's default; the program's
 * compiled-in __scvgc_default_options() (and LeakSanitizer's __lsan_default_options(), its
 * keys translated), applied by the constructor (api.c: dlsym may allocate, the first malloc
 * may not); SCVGC_OPTIONS (key=value pairs, `:` or `,` between them, a key being the
 * variable's name or its short name: mode, gogc, trace, ...); the variable itself.
 * In a secure-execution process (AT_SECURE: set-user-ID, set-group-ID, file capabilities)
 * every SCVGC_* variable, SCVGC_OPTIONS included, is ignored: the environment belongs to the
 * user who started the program, not to the one whose rights it runs with. The program's
 * compiled-in defaults still apply there: they are the program's own.
 * Called from scvgc_init (inside the first malloc): no allocation, no locks; the
 * compiled-in defaults from the constructor, before any cycle or library thread.
 */
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "internal.h"
#include "sweep.h"

scvgc_options_t scvgc_opt;
int scvgc_tracking;
int scvgc_lean; /* internal.h "lean layout": fixed here, before the first span */
int scvgc_options_lean_test = -1; /* tests: 1 allows the lean layout, 0 forbids it */

typedef enum { K_MODE, K_GOGC, K_INT, K_DURATION, K_BYTES, K_STRING, K_SIGNAL, K_ONOFF } kind_t;

typedef struct {
  const char *name;
  kind_t kind;
  const char *def; /* default, in the variable's own syntax */
  int min, max;    /* K_INT range */
  size_t off;      /* field of scvgc_options_t */
  const char *help;
} option_t;

#define F(f) offsetof(scvgc_options_t, f)
enum { K_INDEX_GOGC = 1, K_INDEX_FORCEGC = 4, K_INDEX_SAMPLE = 7, K_INDEX_CONCURRENT = 8 }; /* their rows below (checked at start-up) */
static const option_t options[] = {
    {"SCVGC_MODE", K_MODE, "leak", 0, 0, F(mode),
     "leak: free() honoured, unreachable objects reported at exit, never freed by the "
     "library; collect: also reclaimed; off: a plain fast allocator (no stacks, no GC, no "
     "report)"},
    {"SCVGC_GOGC", K_GOGC, "100", 0, 0, F(gogc),
     "next GC when the heap has grown by this percent over the live heap after the last "
     "GC; off disables periodic GC (the exit check still runs). In leak mode, periodic "
     "cycles run only when this is set explicitly: they reclaim nothing there"},
    {"SCVGCTRACE", K_INT, "0", 0, 2, F(trace),
     "1: one line per GC cycle and per scavenger pass on stderr; 2: per-phase detail too"},
    {"SCVGC_SCAVENGE_AFTER", K_DURATION, "5m", 0, 0, F(scavenge_after_ns),
     "a free span whose pages stayed unused this long is released to the OS (madvise), as are "
     "the free pages inside spans no thread owns; the scavenger looks every min(this, "
     "SCVGC_FORCEGC)/2 (0: at its next pass)"},
    {"SCVGC_FORCEGC", K_DURATION, "2m", 0, 0, F(forcegc_ns),
     "force a GC when none has run for this long (off disables); in leak mode only when "
     "set explicitly"},
    {"SCVGC_MEMLIMIT", K_BYTES, "off", 0, 0, F(memlimit),
     "soft limit on the heap's resident bytes, counted as sys less released (512M, 2G); at "
     "95% of it every free page is released at once and, in collect mode, a GC runs first"},
    {"SCVGC_STACK_DEPTH", K_INT, "16", 0, 64, F(stack_depth),
     "frames captured per allocation for the leak report; 0 captures none"},
    {"SCVGC_SAMPLE", K_BYTES, "512K", 0, 0, F(sample),
     "average bytes allocated between two captured stacks (a random geometric interval, as "
     "Go's MemProfileRate); 0 captures every allocation's stack. The default holds in collect "
     "mode; leak mode captures every stack unless this is set. Sampled tables are estimates "
     "and say so (docs/reports.md)"},
    {"SCVGC_CONCURRENT", K_ONOFF, "on", 0, 0, F(concurrent),
     "on: mark concurrently with the program (userfaultfd write-protect tracking of the heap, "
     "Linux 6.7+), stopping the world only to start and to finish a cycle; where the kernel "
     "refuses it, cycles stop the world (said once by SCVGCTRACE). off: stop-the-world "
     "marking. The default is on where the kernel allows it, in collect mode, for a "
     "program with more than one thread or a live heap over 64 MiB (a cycle of a program alone "
     "with its collector stops it: its thread waits for the whole cycle either way); leak mode marks with the world "
     "stopped unless this is set (its cycles are few)"},
    {"SCVGC_REPORT", K_STRING, "stderr", 0, 0, F(report),
     "where the text report goes: stderr, none, or a path (%p becomes the pid)"},
    {"SCVGC_JSON", K_STRING, NULL, 0, 0, F(json), "path of the JSON report (%p becomes the pid)"},
    {"SCVGC_REPORT_SIGNAL", K_SIGNAL, "off", 0, 0, F(report_signal),
     "a signal the program does not use (SIGUSR2) on which the library writes the text and JSON "
     "reports of the running program, %p becoming PID.N for the Nth (scvgc snapshot PID; "
     "docs/reports.md)"},
    {"SCVGC_EXITCODE", K_INT, "0", 0, 255, F(exitcode),
     "exit status when leaks are found; 0 keeps the program's own"},
    {"SCVGC_SUPPRESS", K_STRING, NULL, 0, 0, F(suppress),
     "suppressions file (LeakSanitizer's syntax, any size): lines leak:PATTERN matched against "
     "the function, file or module names of a leak's stack; * any run, ^ and $ anchor; # "
     "comments"},
    {"SCVGC_MARKERS", K_INT, "0", 0, 64, F(markers),
     "threads that mark in parallel during a collection, the collecting thread included; 0: "
     "one per core, at most 16. The helpers start at the first cycle with 16 MiB in use"},
};

/* The longest value of a string option (a path), and where the values live. */
#define SCVGC_STRING_MAX 4096
#define NOPTIONS (sizeof options / sizeof *options)
static char strings[NOPTIONS][SCVGC_STRING_MAX];

/* At most this much of a bad value is quoted in its message (the line is 1 KiB at most). */
#define BAD_SHOWN 200

/* ---- parsers --------------------------------------------------------------------------- */

static bool parse_uint(const char **s, uint64_t *v, uint64_t *frac_num, uint64_t *frac_den) {
  const char *p = *s;
  uint64_t x = 0;
  if (*p < '0' || *p > '9') return false;
  for (; *p >= '0' && *p <= '9'; p++) {
    if (x > (UINT64_MAX - 9) / 10) return false;
    x = x * 10 + (uint64_t)(*p - '0');
  }
  *frac_num = 0;
  *frac_den = 1;
  if (*p == '.') {
    p++;
    if (*p < '0' || *p > '9') return false;
    for (; *p >= '0' && *p <= '9'; p++)
      if (*frac_den < 1000000000) {
        *frac_num = *frac_num * 10 + (uint64_t)(*p - '0');
        *frac_den *= 10;
      }
  }
  *v = x;
  *s = p;
  return true;
}

static bool scaled(uint64_t v, uint64_t fn, uint64_t fd, uint64_t unit, uint64_t *out) {
  if (v && unit > UINT64_MAX / v) return false;
  *out = v * unit + fn * unit / fd;
  return true;
}

/* "250ms", "10s", "5m", "1h", "1.5s", or a plain number of seconds. */
bool scvgc_parse_duration(const char *s, uint64_t *ns) {
  uint64_t v, fn, fd, unit;
  if (!parse_uint(&s, &v, &fn, &fd)) return false;
  if (!*s || !strcmp(s, "s")) unit = 1000000000ull;
  else if (!strcmp(s, "ms")) unit = 1000000ull;
  else if (!strcmp(s, "us")) unit = 1000ull;
  else if (!strcmp(s, "m")) unit = 60000000000ull;
  else if (!strcmp(s, "h")) unit = 3600000000000ull;
  else return false;
  return scaled(v, fn, fd, unit, ns);
}

/* "512M", "2G", "64K", "1024", "1.5G"; K/M/G/T are powers of 1024, an optional "B" or
 * "iB" may follow. */
bool scvgc_parse_bytes(const char *s, uint64_t *bytes) {
  uint64_t v, fn, fd, unit = 1;
  if (!parse_uint(&s, &v, &fn, &fd)) return false;
  switch (*s) {
  case 'k': case 'K': unit = 1ull << 10; s++; break;
  case 'm': case 'M': unit = 1ull << 20; s++; break;
  case 'g': case 'G': unit = 1ull << 30; s++; break;
  case 't': case 'T': unit = 1ull << 40; s++; break;
  }
  if (unit > 1 && *s == 'i') s++;
  if (*s == 'B' || *s == 'b') s++;
  if (*s) return false;
  return scaled(v, fn, fd, unit, bytes);
}

static bool parse_int(const char *s, int min, int max, int *out) {
  uint64_t v, fn, fd;
  if (!parse_uint(&s, &v, &fn, &fd) || *s || fn || v > (uint64_t)max || (int64_t)v < min)
    return false;
  *out = (int)v;
  return true;
}

/* Parse value v of option o into the options; false when v is bad. */
static bool parse(const option_t *o, const char *v, scvgc_options_t *opt) {
  char *dst = (char *)opt + o->off;
  switch (o->kind) {
  case K_MODE:
    if (!strcmp(v, "leak")) *(int *)dst = SCVGC_MODE_LEAK;
    else if (!strcmp(v, "collect")) *(int *)dst = SCVGC_MODE_COLLECT;
    else if (!strcmp(v, "off")) *(int *)dst = SCVGC_MODE_OFF;
    else return false;
    return true;
  case K_GOGC:
    if (!strcmp(v, "off")) { *(int *)dst = -1; return true; }
    return parse_int(v, 0, 1000000, (int *)dst);
  case K_INT:
    return parse_int(v, o->min, o->max, (int *)dst);
  case K_DURATION:
    if (!strcmp(v, "off")) { *(uint64_t *)dst = 0; return true; }
    return scvgc_parse_duration(v, (uint64_t *)dst);
  case K_BYTES:
    if (!strcmp(v, "off")) { *(uint64_t *)dst = 0; return true; }
    return scvgc_parse_bytes(v, (uint64_t *)dst);
  case K_SIGNAL:
    return scvgc_parse_signal(v, (int *)dst);
  case K_ONOFF:
    if (!strcmp(v, "on") || !strcmp(v, "1")) *(int *)dst = 1;
    else if (!strcmp(v, "off") || !strcmp(v, "0")) *(int *)dst = 0;
    else return false;
    return true;
  case K_STRING: {
    /* A copy, never a pointer into the environment block: programs reuse that block for
     * their process title (setproctitle: redis, nginx, postgres), and the report paths are
     * read at exit. */
    size_t len = strlen(v);
    if (!len || len >= SCVGC_STRING_MAX) return false;
    char *copy = strings[o - options];
    memcpy(copy, v, len + 1);
    *(const char **)dst = copy;
    return true;
  }
  }
  return false;
}

/* ---- key=value lists: SCVGC_OPTIONS and the compiled-in defaults ------------------------ */

enum { FROM_DEFAULT = 0, FROM_PROGRAM = 1, FROM_OPTIONS = 2, FROM_VARIABLE = 3 };
static uint8_t origin[NOPTIONS]; /* O1: where each value came from */
int scvgc_turned_off;

/* Does key (klen bytes) name option o: its variable's name, or the short name (the name less
 * "SCVGC_" or "SCVGC", lower case: SCVGC_STACK_DEPTH is stack_depth, SCVGCTRACE trace)? */
static bool names(const option_t *o, const char *key, size_t klen) {
  const char *n = o->name;
  if (strlen(n) == klen && !strncmp(n, key, klen)) return true;
  n += 5; /* "SCVGC" */
  if (*n == '_') n++;
  if (strlen(n) != klen) return false;
  for (size_t i = 0; i < klen; i++) {
    char c = n[i] >= 'A' && n[i] <= 'Z' ? (char)(n[i] - 'A' + 'a') : n[i];
    if (c != key[i]) return false;
  }
  return true;
}

/* LeakSanitizer's keys that mean something here (__lsan_default_options); others are left
 * to LSan: a program built for it may set many. */
static const char *lsan_key(const char *key, size_t klen, char *val, size_t cap) {
#define IS(k) (klen == sizeof k - 1 && !strncmp(key, k, klen))
  if (IS("detect_leaks")) {
    if (!strcmp(val, "0") || !strcmp(val, "false")) scvgc_turned_off = 1;
    return NULL;
  }
  if (IS("exitcode")) return "SCVGC_EXITCODE";
  if (IS("suppressions")) return "SCVGC_SUPPRESS";
  if (IS("malloc_context_size")) {
    uint64_t v, fn, fd;
    const char *q = val;
    if (parse_uint(&q, &v, &fn, &fd) && !*q && v > 64) scvgc_snprintf(val, cap, "64");
    return "SCVGC_STACK_DEPTH";
  }
  if (IS("log_path")) { /* LSan writes log_path.PID */
    size_t n = strlen(val);
    if (n + 3 < cap) memcpy(val + n, ".%p", 4);
    return "SCVGC_REPORT";
  }
  return NULL;
#undef IS
}

/* Apply the pairs of text (from `what`) to options whose value came from below `level`. */
static void apply_list(const char *text, const char *what, int level, bool lsan, scvgc_options_t *o) {
  static char val[SCVGC_STRING_MAX]; /* one caller at a time: start-up */
  const char *p = text;
  while (*p) {
    while (*p == ':' || *p == ',' || *p == ' ' || *p == '\t' || *p == '\n') p++;
    if (!*p) break;
    const char *key = p;
    while (*p && *p != '=' && *p != ':' && *p != ',' && *p != ' ' && *p != '\n') p++;
    size_t klen = (size_t)(p - key);
    if (*p != '=') {
      if (!lsan)
        scvgc_message("%s: %.*s%s is not key=value; ignored", what, klen > BAD_SHOWN ? BAD_SHOWN : (int)klen,
                      key, klen > BAD_SHOWN ? "..." : "");
      continue;
    }
    p++;
    size_t n = 0;
    bool too_long = false;
    char quote = *p == '"' || *p == '\'' ? *p++ : 0; /* a quoted value may hold : and , */
    for (; *p && (quote ? *p != quote : *p != ':' && *p != ',' && *p != ' ' && *p != '\n'); p++)
      if (n + 1 < sizeof val) val[n++] = *p;
      else too_long = true;
    if (quote && *p) p++;
    val[n] = 0;
    const char *name = NULL;
    if (lsan && !(name = lsan_key(key, klen, val, sizeof val))) continue;
    const option_t *op = NULL;
    for (size_t i = 0; i < NOPTIONS && !op; i++)
      if (name ? !strcmp(options[i].name, name) : names(&options[i], key, klen)) op = &options[i];
    if (!op) {
      scvgc_message("%s: unknown option %.*s; ignored", what, klen > BAD_SHOWN ? BAD_SHOWN : (int)klen, key);
      continue;
    }
    size_t i = (size_t)(op - options);
    if (origin[i] >= level) continue; /* a later source already set it */
    if (too_long || !parse(op, val, o)) {
      scvgc_message("%s: %.*s=%.*s%s is not a valid value; using %s", what, (int)klen, key, BAD_SHOWN, val,
                    n > BAD_SHOWN ? "..." : "", op->def ? op->def : "unset");
      if (op->def) parse(op, op->def, o);
    }
    origin[i] = (uint8_t)level; /* a bad value too: its line says which value is used */
  }
}

/* Leak mode stops the world only when asked (issue 13 point 13): a cycle there reclaims
 * nothing, and every stop makes the calls Linux never restarts (epoll_wait, sigtimedwait,
 * semtimedop, inotify reads, ...) fail with EINTR. So periodic (GOGC) and forced
 * (FORCEGC) cycles run in leak mode only when their variable was set explicitly; the
 * exit check and the API run whatever the setting (docs/limitations.md, "EINTR"). */
static void leak_mode_pacing(scvgc_options_t *o) {
  if (o->mode == SCVGC_MODE_LEAK) {
    if (origin[K_INDEX_GOGC] == FROM_DEFAULT) o->gogc = -1;
    if (origin[K_INDEX_FORCEGC] == FROM_DEFAULT) o->forcegc_ns = 0;
    /* and keeps exact stacks: a leak checker's report names every leaking stack (SPEC) */
    if (origin[K_INDEX_SAMPLE] == FROM_DEFAULT) o->sample = 0;
    /* and marks with the world stopped unless asked: a leak checker's cycles are few */
    if (origin[K_INDEX_CONCURRENT] == FROM_DEFAULT) o->concurrent = 0;
  }
  if (!o->stack_depth) o->sample = 0; /* no stacks: nothing to sample, every count exact */
  /* gc.c C6: by default a program alone with its collector marks with the world stopped */
  o->concurrent_alone = origin[K_INDEX_CONCURRENT] != FROM_DEFAULT;
}

void scvgc_options_program_defaults(const char *text, const char *what, bool lsan) {
  if (!text) return;
  scvgc_options_t o = scvgc_opt;
  int mode = o.mode;
  /* the values leak mode's pacing rule replaced, back to the table's defaults first */
  for (size_t i = 0; i < NOPTIONS; i++)
    if (origin[i] == FROM_DEFAULT && options[i].def) parse(&options[i], options[i].def, &o);
  apply_list(text, what, FROM_PROGRAM, lsan, &o);
  /* The mode was fixed at the first malloc (mode off keeps no object metadata): a program
   * default may move leak to collect or back before any cycle, and mode=off turns the
   * collector and the report off (the heap keeps its metadata). */
  if (mode == SCVGC_MODE_OFF) o.mode = SCVGC_MODE_OFF;
  if (o.mode == SCVGC_MODE_OFF && mode != SCVGC_MODE_OFF) {
    scvgc_turned_off = 1;
    o.mode = mode;
  }
  leak_mode_pacing(&o);
  if (scvgc_turned_off) {
    o.gogc = -1;
    o.forcegc_ns = 0;
  }
  scvgc_opt = o;
  scvgc_collecting = o.mode == SCVGC_MODE_COLLECT;
}

/* Test hook (unit tests): pretend AT_SECURE is set (1), clear (0), or ask the kernel (-1). */
int scvgc_options_secure_test = -1;

bool scvgc_options_secure(void) {
  if (scvgc_options_secure_test >= 0) return scvgc_options_secure_test;
  return getauxval(AT_SECURE) != 0; /* reads the saved auxv: no allocation, no lock */
}

void scvgc_options_init(void) {
  bool secure = scvgc_options_secure();
  scvgc_options_t o;
  memset(&o, 0, sizeof o);
  memset(origin, 0, sizeof origin);
  scvgc_turned_off = 0;
  SCVGC_CHECK(!strcmp(options[K_INDEX_GOGC].name, "SCVGC_GOGC") &&
              !strcmp(options[K_INDEX_FORCEGC].name, "SCVGC_FORCEGC") &&
              !strcmp(options[K_INDEX_SAMPLE].name, "SCVGC_SAMPLE") &&
              !strcmp(options[K_INDEX_CONCURRENT].name, "SCVGC_CONCURRENT"));
  for (size_t i = 0; i < NOPTIONS; i++)
    if (options[i].def) SCVGC_CHECK(parse(&options[i], options[i].def, &o));
  const char *all = secure ? NULL : scvgc_getenv("SCVGC_OPTIONS");
  if (all) apply_list(all, "SCVGC_OPTIONS", FROM_OPTIONS, false, &o);
  for (size_t i = 0; i < NOPTIONS; i++) {
    const option_t *op = &options[i];
    const char *v = secure ? NULL : scvgc_getenv(op->name);
    if (!v) continue;
    origin[i] = FROM_VARIABLE; /* a bad value too: its line says the default is used */
    if (!parse(op, v, &o)) {
      /* a value of any length: cut it, so that the line still ends with the value used */
      scvgc_message("%s=%.*s%s is not a valid value; using %s", op->name, BAD_SHOWN, v,
                    strlen(v) > BAD_SHOWN ? "..." : "", op->def ? op->def : "unset");
      if (op->def) parse(op, op->def, &o);
      else memset((char *)&o + op->off, 0, sizeof(const char *)); /* K_STRING: unset */
    }
  }
  leak_mode_pacing(&o);
  scvgc_opt = o;
  scvgc_tracking = o.mode != SCVGC_MODE_OFF;
  scvgc_collecting = o.mode == SCVGC_MODE_COLLECT;
  /* Collect mode with sampled stacks may keep no per-object word (internal.h, the lean
   * layout): on unless the build turns it off (SCVGC_LEAN_DEFAULT=0) or a test asks.
   * The layout stays whatever the program's compiled-in defaults say later (both layouts work
   * in every mode: a lean heap in leak mode keeps its stacks in special.c). */
  int allow = scvgc_options_lean_test >= 0 ? scvgc_options_lean_test : SCVGC_LEAN_DEFAULT;
  scvgc_lean = allow && o.mode == SCVGC_MODE_COLLECT && o.sample != 0;
}

/* The table for humans: "markdown" for docs/env.md, anything else for --help. */
void scvgc_options_print(int fd, int markdown) {
  char line[1024];
  size_t n;
  if (markdown) {
    n = scvgc_snprintf(line, sizeof line, "| variable | default | meaning |\n|---|---|---|\n");
    scvgc_write_all(fd, line, n);
  }
  for (size_t i = 0; i < sizeof options / sizeof *options; i++) {
    const option_t *o = &options[i];
    n = scvgc_snprintf(line, sizeof line, markdown ? "| `%s` | %s%s%s | %s |\n" : "  %-22s %s%s%s\n      %s\n",
                       o->name, o->def && markdown ? "`" : "", o->def ? o->def : "unset",
                       o->def && markdown ? "`" : "", o->help);
    scvgc_write_all(fd, line, n < sizeof line ? n : sizeof line - 1);
  }
  if (!markdown) { /* docs/env.md.in says the same at length */
    static const char more[] =
        "  SCVGC_OPTIONS          unset\n"
        "      any of the above as key=value pairs separated by : or , with the variable's name\n"
        "      or its short name (mode=collect:gogc=50:report=r.%p); a variable of its own wins\n"
        "  the program may compile defaults in: __scvgc_default_options(),\n"
        "      __scvgc_default_suppressions(), and LeakSanitizer's __lsan_default_options(),\n"
        "      __lsan_default_suppressions(), __lsan_is_turned_off() (exported: -rdynamic)\n";
    scvgc_write_all(fd, more, sizeof more - 1);
  }
}
