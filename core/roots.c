/* roots.c — what keeps an object alive (SPEC "roots"): finding and scanning the root set.
 *
 * Owns: the registry of the library's own mappings (metadata, never roots) and the parser
 * of /proc/self/maps.
 * The root classes and where each is found:
 *   1 registers        the stopped threads' saved registers, vector lanes too (stw.c)
 *   2 live stacks      the mapping that holds a stopped thread's sp, from sp - 128 (the red
 *                      zone) to the mapping's end; the part below is dead and skipped
 *   3 TLS              static TLS and the TCB live at the top of each thread's stack mapping
 *                      (glibc), or, for the main thread, in a private mapping of the loader;
 *                      dynamic TLS blocks are heap objects found through the DTV
 *   4 data and bss     every writable private mapping of a file (and its anonymous bss)
 *   5 other mappings   every other writable private mapping: interpreters' arenas, memory
 *                      the loader took before malloc existed
 *   6 the heap         objects found alive are scanned by mark.c
 * Never roots: the heap's arenas, the library's own mappings and data (registry below),
 * the dead part of stacks, free slots (mark.c), device mappings.
 * Pages never touched are skipped (mincore) so a huge reservation costs nothing.
 *
 * Invariant R1: every mapping the core makes for itself, except heap arenas, is in the
 *   registry while it exists (scvgc_sys_map_meta registers it).
 * Locks: own_lock for the registry (innermost lock of the core; the collector holds it for
 *   the whole cycle). Scanning runs with the world stopped and calls only system calls.
 * Callers: the collector (scan, with the world stopped); any thread that maps metadata.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gc.h"
#include "lock.h"
#include "mark.h"
#include "stw.h"

#define RED_ZONE 128
#define TCB_BYTES 2304 /* sizeof(struct pthread) in glibc 2.36: the marker threads' TCBs */
#define MAX_OWN 8192

typedef struct { uintptr_t start, end; } range_t;

static scvgc_lock_t own_lock = SCVGC_LOCK_INIT;
static range_t own[MAX_OWN]; /* sorted, disjoint, merged when adjacent */
static size_t nown;
static bool own_overflow;
static range_t self_data; /* the library's own writable segments (the .so case) */

void scvgc_own_lock(void) { scvgc_lock(&own_lock); }
void scvgc_own_unlock(void) { scvgc_unlock(&own_lock); }
void scvgc_own_reset_lock(void) { scvgc_lock_reset(&own_lock); }

void scvgc_own_mapping(uintptr_t start, size_t len) {
  uintptr_t end = start + len;
  bool lk = !scvgc_gc_worker; /* the collector holds own_lock for its markers and itself */
  if (lk) scvgc_lock(&own_lock);
  size_t i = 0;
  while (i < nown && own[i].end < start) i++;
  if (i < nown && own[i].start <= end) { /* touches own[i]: merge (and maybe own[i+1]) */
    if (start < own[i].start) own[i].start = start;
    if (end > own[i].end) own[i].end = end;
    if (i + 1 < nown && own[i + 1].start <= own[i].end) {
      own[i].end = own[i + 1].end > own[i].end ? own[i + 1].end : own[i].end;
      memmove(&own[i + 1], &own[i + 2], (nown - i - 2) * sizeof *own);
      nown--;
    }
  } else if (nown < MAX_OWN) {
    memmove(&own[i + 1], &own[i], (nown - i) * sizeof *own);
    own[i].start = start;
    own[i].end = end;
    nown++;
  } else {
    own_overflow = true; /* scanned as a root: conservative, never wrong */
  }
  if (lk) scvgc_unlock(&own_lock);
}

void scvgc_own_unmapping(uintptr_t start, size_t len) {
  uintptr_t end = start + len;
  bool lk = !scvgc_gc_worker;
  if (lk) scvgc_lock(&own_lock);
  for (size_t i = 0; i < nown; i++) {
    if (own[i].end <= start || own[i].start >= end) continue;
    if (own[i].start >= start && own[i].end <= end) { /* wholly inside: drop it */
      memmove(&own[i], &own[i + 1], (nown - i - 1) * sizeof *own);
      nown--;
      i--;
    } else if (own[i].start < start && own[i].end > end) { /* a hole in the middle */
      if (nown < MAX_OWN) {
        memmove(&own[i + 2], &own[i + 1], (nown - i - 1) * sizeof *own);
        own[i + 1].start = end;
        own[i + 1].end = own[i].end;
        nown++;
      }
      own[i].end = start;
      break;
    } else if (own[i].start < start) {
      own[i].end = start;
    } else {
      own[i].start = end;
    }
  }
  if (lk) scvgc_unlock(&own_lock);
}

/* Is addr in a mapping of the library's own? *end: where that stretch ends. Also answers
 * for the library's own data and bss. Caller holds own_lock (or the world is stopped). */
bool scvgc_is_own(uintptr_t addr, uintptr_t *end) {
  if (addr >= self_data.start && addr < self_data.end) {
    *end = self_data.end;
    return true;
  }
  size_t lo = 0, hi = nown;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (own[mid].end <= addr) lo = mid + 1;
    else hi = mid;
  }
  if (lo < nown && own[lo].start <= addr) {
    *end = own[lo].end;
    return true;
  }
  return false;
}

/* The next own stretch at or after addr (start; UINTPTR_MAX if none). */
static uintptr_t next_own(uintptr_t addr) {
  uintptr_t best = UINTPTR_MAX;
  if (self_data.start >= addr && self_data.start < best) best = self_data.start;
  for (size_t i = 0; i < nown; i++)
    if (own[i].start >= addr) {
      if (own[i].start < best) best = own[i].start;
      break;
    }
  return best;
}

static int find_self(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  uintptr_t me = (uintptr_t)arg;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (me < lo || me >= hi) continue;
    if (!info->dlpi_name || !info->dlpi_name[0]) return 1; /* linked into the executable */
    for (int k = 0; k < info->dlpi_phnum; k++) { /* the writable segments of this object */
      const ElfW(Phdr) *w = &info->dlpi_phdr[k];
      if (w->p_type != PT_LOAD || !(w->p_flags & PF_W)) continue;
      uintptr_t a = (info->dlpi_addr + w->p_vaddr) & ~(uintptr_t)4095;
      uintptr_t b = (info->dlpi_addr + w->p_vaddr + w->p_memsz + 4095) & ~(uintptr_t)4095;
      if (!self_data.start || a < self_data.start) self_data.start = a;
      if (b > self_data.end) self_data.end = b;
    }
    return 1;
  }
  return 0;
}

/* Once, outside the stop-the-world path (dl_iterate_phdr takes the loader's lock): the
 * library's own data and bss, when it is a shared object. Linked into a program (the unit
 * tests), its globals share the program's segment and stay roots: they hold only pointers
 * to metadata and to free objects, which are never candidates. */
void scvgc_roots_init(void) { dl_iterate_phdr(find_self, (void *)(uintptr_t)scvgc_roots_init); }

/* ---- /proc/self/maps ------------------------------------------------------------------ */

static char *maps_buf;
static size_t maps_cap;

/* Read the whole file with system calls only, into a buffer of our own mapping. */
static size_t read_maps(void) {
  for (;;) {
    if (!maps_buf) {
      maps_cap = 1u << 20;
      maps_buf = scvgc_sys_map_meta(maps_cap);
      if (!maps_buf) return 0;
    }
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    size_t n = 0;
    ssize_t r;
    while (n < maps_cap && (r = read(fd, maps_buf + n, maps_cap - n)) > 0) n += (size_t)r;
    close(fd);
    if (n < maps_cap) return n;
    scvgc_sys_unmap_meta(maps_buf, maps_cap); /* too small: twice the size, again */
    maps_buf = scvgc_sys_map_meta(maps_cap * 2);
    if (!maps_buf) return 0;
    maps_cap *= 2;
  }
}

static uintptr_t hex(const char **p) {
  uintptr_t v = 0;
  for (;; (*p)++) {
    char c = **p;
    if (c >= '0' && c <= '9') v = v * 16 + (uintptr_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + (uintptr_t)(c - 'a' + 10);
    else return v;
  }
}

/* ---- scanning ------------------------------------------------------------------------- */

static unsigned char mincore_vec[16384];

/* Scan [lo, hi), skipping pages that were never touched (anonymous memory only: for a
 * file mapping mincore speaks of the page cache, and such pages are read). */
static void scan_resident(scvgc_marker_t *m, uintptr_t lo, uintptr_t hi, bool anon) {
  if (!anon) {
    scvgc_mark_range(m, lo, hi);
    return;
  }
  const uintptr_t pg = 4096;
  uintptr_t base = lo & ~(pg - 1);
  while (base < hi) {
    size_t npg = (hi - base + pg - 1) / pg;
    if (npg > sizeof mincore_vec) npg = sizeof mincore_vec;
    if (mincore((void *)base, npg * pg, mincore_vec) != 0) {
      scvgc_mark_range(m, base < lo ? lo : base, hi < base + npg * pg ? hi : base + npg * pg);
    } else {
      for (size_t i = 0; i < npg; i++) {
        if (!(mincore_vec[i] & 1)) continue;
        uintptr_t a = base + i * pg, b = a + pg;
        scvgc_mark_range(m, a < lo ? lo : a, b > hi ? hi : b);
      }
    }
    base += npg * pg;
  }
}

/* Mappings of stw.c for the current cycle: the library's own, but not in the registry
 * (they are made by raw system calls, some by the tracer task). */
static uintptr_t stw_maps[8][2];
static int nstw_maps;

/* Scan [lo, hi) less the heap's arenas and the library's own stretches. */
static void scan_mapping(scvgc_marker_t *m, uintptr_t lo, uintptr_t hi, bool anon) {
  for (int k = 0; k < nstw_maps; k++) { /* few and whole mappings: cut them out first */
    uintptr_t a = stw_maps[k][0], b = stw_maps[k][1];
    if (b <= lo || a >= hi) continue;
    if (a > lo) scan_mapping(m, lo, a, anon);
    lo = b;
    if (lo >= hi) return;
  }
  while (lo < hi) {
    uintptr_t end;
    if (scvgc_spanof(lo) || scvgc_arena_l1[lo >> SCVGC_ARENA_SHIFT]) { /* an arena */
      lo = (lo | (SCVGC_ARENA_SIZE - 1)) + 1;
      continue;
    }
    if (scvgc_is_own(lo, &end)) {
      lo = end;
      continue;
    }
    uintptr_t stop = (lo | (SCVGC_ARENA_SIZE - 1)) + 1; /* the next possible arena */
    uintptr_t o = next_own(lo);
    if (o < stop) stop = o;
    if (stop > hi) stop = hi;
    scan_resident(m, lo, stop, anon);
    lo = stop;
  }
}

void scvgc_roots_scan(scvgc_marker_t *m, const scvgc_world_t *w) {
  /* 1: registers */
  for (int i = 0; i < w->nthreads; i++) {
    const scvgc_thread_t *t = &w->threads[i];
    if (t->state != SCVGC_STW_STOPPED && t->state != SCVGC_STW_SELF) continue;
    for (int r = 0; r < t->nregs; r++) scvgc_mark_word(m, t->regs[r]);
    for (uint32_t r = 0; r < t->nvec; r++) scvgc_mark_word(m, w->vec[t->vec_off + r]);
  }
  uintptr_t tcbs[64];
  int ntcb = scvgc_libthread_tcbs(tcbs, 64);
  for (int i = 0; i < ntcb; i++) scvgc_mark_range(m, tcbs[i], tcbs[i] + TCB_BYTES);
  scvgc_mark_flush(m);
  nstw_maps = scvgc_stw_mappings(w, stw_maps, 8);
  /* 2..5: the writable private mappings */
  size_t n = read_maps();
  const char *p = maps_buf, *end = maps_buf + n;
  while (p < end) {
    const char *line = p;
    while (p < end && *p != '\n') p++;
    const char *eol = p++;
    const char *q = line;
    uintptr_t lo = hex(&q);
    if (*q++ != '-') continue;
    uintptr_t hi = hex(&q);
    if (*q++ != ' ' || eol - q < 4) continue;
    if (q[0] != 'r' || q[1] != 'w' || q[3] != 'p') continue; /* writable private only */
    /* the path: after offset, dev and inode */
    const char *path = q + 4;
    for (int field = 0; field < 3 && path < eol; field++) {
      while (path < eol && *path == ' ') path++;
      while (path < eol && *path != ' ') path++;
    }
    while (path < eol && *path == ' ') path++;
    bool anon = path == eol || *path == '[';
    if (eol - path >= 5 && !memcmp(path, "/dev/", 5) && !(eol - path == 9 && !memcmp(path, "/dev/zero", 9)))
      continue; /* device memory: reading it may have effects */
    /* a live stack: from the lowest stopped sp in it (less the red zone) to the end */
    uintptr_t from = lo;
    bool stack = false;
    for (int i = 0; i < w->nthreads; i++) {
      const scvgc_thread_t *t = &w->threads[i];
      if ((t->state == SCVGC_STW_STOPPED || t->state == SCVGC_STW_SELF) && t->sp >= lo && t->sp < hi) {
        uintptr_t s = t->sp - RED_ZONE < lo ? lo : t->sp - RED_ZONE;
        if (!stack || s < from) from = s;
        stack = true;
      }
    }
    uint64_t before = m->objects;
    scan_mapping(m, from & ~(uintptr_t)7, hi, anon);
    scvgc_mark_flush(m);
    if (scvgc_opt.trace >= 2 && m->objects != before) /* which roots hold what */
      scvgc_message("gc roots: %lx-%lx%s %.*s: %lu objects", (unsigned long)from, (unsigned long)hi,
                    from != lo ? " (stack)" : "", (int)(eol - path), path,
                    (unsigned long)(m->objects - before));
  }
}
