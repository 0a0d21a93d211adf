/* symbolize.c — code address -> function, file:line, module, for the leak report.
 *
 * Owns: one symbolization session (begin ... end): elfutils' Dwfl view of this process's
 * modules, a cache of the frames already answered, and the strings it made (demangled names).
 * Locks: none; not thread-safe: the report writer alone calls it, one session at a time.
 * Callers: the report (world running, no core lock held). It allocates through the normal
 * malloc, opens the modules' files and their separate debug files: never call it from inside
 * malloc, with the world stopped, or in a fork child before exec.
 *
 * Why libdw (elfutils' dwfl API) rather than libbacktrace or running addr2line:
 *   - it is maintained with the toolchains: DWARF 5, split DWARF (.dwo/.dwp), compressed
 *     sections, and the debug files distributions ship in /usr/lib/debug, found by build-id
 *     or .gnu_debuglink (dwfl_standard_find_debuginfo, also debuginfod when configured);
 *   - libbacktrace reads only the object itself (no /usr/lib/debug, no build-id lookup), so
 *     for packaged programs, whose debug info lives in -dbgsym packages, it finds no lines;
 *   - spawning addr2line per module forks from a possibly huge process, depends on binutils
 *     being installed, and is slow (a process and a re-read of DWARF per run).
 * dwfl_linux_proc_report builds the module list from /proc/PID/maps, so every mapped ELF is
 * seen, dlopen'd ones included, with its load bias.
 *
 * Invariants: S1 a frame's strings point into the session's Dwfl data or into strings it
 * owns (freed at end); S2 every answer for a pc is the same within a session (cached).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbolize.h"

static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
};

/* The session. */
static Dwfl *dwfl;
static char **owned;          /* strings made by this session (demangled names) */
static size_t nowned, capowned;
static scvgc_frame_t *cache;  /* open addressing by pc; pc 0 marks an empty slot */
static size_t cachecap, cacheused;
static char *(*demangler)(const char *, char *, size_t *, int *);

void scvgc_symbolize_begin(void) {
  scvgc_symbolize_end();
  dwfl = dwfl_begin(&callbacks);
  if (!dwfl) return;
  dwfl_report_begin(dwfl);
  if (dwfl_linux_proc_report(dwfl, getpid()) != 0 || dwfl_report_end(dwfl, NULL, NULL) != 0) {
    dwfl_end(dwfl);
    dwfl = NULL;
    return;
  }
  /* The C++ runtime's demangler, when the program has one loaded (a C++ program does); a
   * C program has no mangled names to show. */
  demangler = (char *(*)(const char *, char *, size_t *, int *))dlsym(RTLD_DEFAULT,
                                                                       "__cxa_demangle");
}

void scvgc_symbolize_end(void) {
  for (size_t i = 0; i < nowned; i++) free(owned[i]);
  free(owned);
  owned = NULL;
  nowned = capowned = 0;
  free(cache);
  cache = NULL;
  cachecap = cacheused = 0;
  if (dwfl) dwfl_end(dwfl);
  dwfl = NULL;
}

static const char *own(char *s) {
  if (nowned == capowned) {
    size_t cap = capowned ? 2 * capowned : 64;
    char **o = realloc(owned, cap * sizeof *o);
    if (!o) return NULL;
    owned = o;
    capowned = cap;
  }
  return owned[nowned++] = s;
}

const char *scvgc_symbolize_demangle(const char *name) {
  if (!name || name[0] != '_' || name[1] != 'Z' || !demangler) return name;
  int status = -1;
  char *d = demangler(name, NULL, NULL, &status);
  if (status != 0 || !d) {
    free(d);
    return name;
  }
  const char *kept = own(d);
  if (!kept) free(d);
  return kept ? kept : name;
}

static size_t slot_of(uintptr_t pc, size_t cap) {
  return (size_t)((pc * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

/* The cache slot for pc: its answer, or the empty slot to fill (NULL: no memory). */
static scvgc_frame_t *cache_slot(uintptr_t pc) {
  if (cacheused * 2 >= cachecap) {
    size_t cap = cachecap ? 2 * cachecap : 1024;
    scvgc_frame_t *c = calloc(cap, sizeof *c);
    if (!c) return NULL;
    for (size_t i = 0; i < cachecap; i++) {
      if (!cache[i].pc) continue;
      size_t j = slot_of(cache[i].pc, cap);
      while (c[j].pc) j = (j + 1) & (cap - 1);
      c[j] = cache[i];
    }
    free(cache);
    cache = c;
    cachecap = cap;
  }
  size_t j = slot_of(pc, cachecap);
  while (cache[j].pc && cache[j].pc != pc) j = (j + 1) & (cachecap - 1);
  return &cache[j];
}

static bool lookup(uintptr_t pc, scvgc_frame_t *out) {
  memset(out, 0, sizeof *out);
  out->pc = pc;
  Dwarf_Addr a = pc - 1; /* inside the call instruction, not after it */
  Dwfl_Module *m = dwfl_addrmodule(dwfl, a);
  if (!m) return false;
  const char *mainfile = NULL;
  const char *name = dwfl_module_info(m, NULL, NULL, NULL, NULL, NULL, &mainfile, NULL);
  out->module = mainfile ? mainfile : name;
  GElf_Off off;
  GElf_Sym sym;
  const char *fn = dwfl_module_addrinfo(m, a, &off, &sym, NULL, NULL, NULL);
  if (fn && *fn) out->function = scvgc_symbolize_demangle(fn);
  Dwfl_Line *l = dwfl_module_getsrc(m, a);
  if (l) {
    int line = 0;
    const char *file = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);
    if (file && line > 0) {
      out->file = file;
      out->line = line;
    }
  }
  return true;
}

bool scvgc_symbolize(uintptr_t pc, scvgc_frame_t *out) {
  memset(out, 0, sizeof *out);
  out->pc = pc;
  if (!dwfl || pc == 0) return false;
  scvgc_frame_t *c = cache_slot(pc);
  if (c && c->pc == pc) {
    *out = *c;
    return out->module != NULL;
  }
  bool known = lookup(pc, out);
  if (c) {
    *c = *out;
    cacheused++;
  }
  return known;
}
