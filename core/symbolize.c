/* symbolize.c — code address -> function, file:line, module, for the leak report.
 *
 * Owns: one symbolization session (begin ... end): elfutils' Dwfl view of this process's
 * modules, a cache of the frames already answered, and the strings it made (demangled names).
 * Locks: session_lock, held from begin to end (one session at a time in the process: the
 * report writer, or a bad-free diagnostic that got it with try_begin); load_lock, under it
 * (SYM_SESSION, SYM_LOAD in internal.h's lock ranks: dlopen allocates, so every core lock
 * may be taken under both).
 * Callers: the report (world running, no core lock held). It allocates through the normal
 * malloc, opens the modules' files and their separate debug files: never call it from inside
 * malloc, with the world stopped, or in a fork child before exec.
 *
 * Why libdw (elfutils' dwfl API) rather than libbacktrace or running addr2line:
 *   - it is maintained with the toolchains: DWARF 5, split DWARF (.dwo/.dwp), compressed
 *     sections, and the debug files distributions ship in /usr/lib/debug, found by build-id
 *     or .gnu_debuglink (dwfl_standard_find_debuginfo, also debuginfod when configured: S4);
 *   - libbacktrace reads only the object itself (no /usr/lib/debug, no build-id lookup), so
 *     for packaged programs, whose debug info lives in -dbgsym packages, it finds no lines;
 *   - spawning addr2line per module forks from a possibly huge process, depends on binutils
 *     being installed, and is slow (a process and a re-read of DWARF per run).
 * dwfl_linux_proc_report builds the module list from /proc/PID/maps, so every mapped ELF is
 * seen, dlopen'd ones included, with its load bias.
 *
 * libdw is not a dependency of libscvgc.so: it (with libelf, libz, liblzma, libbz2, libzstd)
 * is loaded by the first session, with dlopen(RTLD_LOCAL) so that none of its symbols can
 * bind a program's references, and stays loaded. A process that never writes a report never
 * maps it. Where it cannot be loaded, every frame is symbolized with dladdr (function and
 * module, no file:line). The load lock (load_lock) serialises the first load only.
 *
 * Inlined functions (scvgc_symbolize_frames) come from the DWARF scopes at the pc
 * (dwarf_getscopes, dwarf_getscopes_die: DW_TAG_inlined_subroutine, with DW_AT_call_file/call_line for the
 * caller's location), as addr2line -i and gdb show them.
 *
 * Invariants: S1 a frame's strings point into the session's Dwfl data or into strings it
 * owns (freed at end); S2 every answer for a pc is the same within a session (cached);
 * S3 what a session allocates is library-owned (scvgc_in_lib from begin to end): alive in
 * every cycle, never reported; S4 (find_debuginfo below) no debuginfod client is loaded
 * unless DEBUGINFOD_URLS asks for one.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lock.h"
#include "own.h"
#include "symbolize.h"

/* libdw's entry points, resolved once by load_libdw (NULL members: not loaded). */
static struct {
  Dwfl *(*begin)(const Dwfl_Callbacks *);
  void (*report_begin)(Dwfl *);
  int (*linux_proc_report)(Dwfl *, pid_t);
  int (*report_end)(Dwfl *, int (*)(Dwfl_Module *, void *, const char *, Dwarf_Addr, void *),
                    void *);
  void (*end)(Dwfl *);
  Dwfl_Module *(*addrmodule)(Dwfl *, Dwarf_Addr);
  const char *(*module_info)(Dwfl_Module *, void ***, Dwarf_Addr *, Dwarf_Addr *, Dwarf_Addr *,
                             Dwarf_Addr *, const char **, const char **);
  const char *(*module_addrinfo)(Dwfl_Module *, GElf_Addr, GElf_Off *, GElf_Sym *, GElf_Word *,
                                 Elf **, Dwarf_Addr *);
  Dwfl_Line *(*module_getsrc)(Dwfl_Module *, Dwarf_Addr);
  const char *(*lineinfo)(Dwfl_Line *, Dwarf_Addr *, int *, int *, Dwarf_Word *, Dwarf_Word *);
  /* inlined frames (optional: without them every pc is one frame) */
  Dwarf_Die *(*module_addrdie)(Dwfl_Module *, Dwarf_Addr, Dwarf_Addr *);
  int (*getscopes)(Dwarf_Die *, Dwarf_Addr, Dwarf_Die **);
  int (*getscopes_die)(Dwarf_Die *, Dwarf_Die **);
  int (*tag)(Dwarf_Die *);
  Dwarf_Attribute *(*attr)(Dwarf_Die *, unsigned int, Dwarf_Attribute *);
  Dwarf_Attribute *(*attr_integrate)(Dwarf_Die *, unsigned int, Dwarf_Attribute *);
  const char *(*formstring)(Dwarf_Attribute *);
  int (*formudata)(Dwarf_Attribute *, Dwarf_Word *);
  int (*getsrcfiles)(Dwarf_Die *, Dwarf_Files **, size_t *);
  const char *(*filesrc)(Dwarf_Files *, size_t, Dwarf_Word *, Dwarf_Word *);
  bool inlines;
} dw;
static Dwfl_Callbacks callbacks;

/* S4 The separate debug file of a module whose own file holds no DWARF (a program built
 * without -g, most often): libdw's standard search (the build-id path, the .gnu_debuglink
 * names) falls back to debuginfod when it finds nothing, and that fallback dlopens
 * libdebuginfod, libcurl, GnuTLS, OpenSSL's libcrypto, Kerberos (elfutils 0.188), even where
 * no debuginfod server is configured, in which case libdebuginfod then answers nothing: ~9 MiB
 * of the 13-15 MiB a report of GCBench in collect mode added to the peak RSS, and the
 * time of loading them. So while DEBUGINFOD_URLS is unset or empty, a module is looked up by
 * its build id alone (the path Debian's -dbgsym packages use) and, when that finds nothing, by
 * the standard search only if the file names a debug link or a file of the names that search
 * makes up without one exists (named_debug_exists: NAME.debug beside the file, in .debug/
 * there, or under /usr/lib/debug, where NAME alone too). With DEBUGINFOD_URLS set, the
 * standard search as before; a set-user-ID program (secure_getenv) never gets debuginfod. */
typedef int (*find_debuginfo_fn)(Dwfl_Module *, void **, const char *, Dwarf_Addr, const char *,
                                 const char *, GElf_Word, char **);
static find_debuginfo_fn standard_find, build_id_find;
static bool debuginfod_wanted;

/* Does a debug file libdw's standard search would find for a file without a debug link exist
 * (elfutils' default path ":.debug:/usr/lib/debug", the name NAME.debug, and NAME alone under
 * /usr/lib/debug)? */
static bool named_debug_exists(const char *file) {
  const char *slash = file ? strrchr(file, '/') : NULL;
  if (!slash || !slash[1]) return false;
  int dlen = (int)(slash - file);
  const char *name = slash + 1;
  char path[4096];
  const char *const fmt[] = {"%.*s/%s.debug", "%.*s/.debug/%s.debug", "/usr/lib/debug%.*s/%s.debug",
                             "/usr/lib/debug%.*s/%s"};
  for (size_t i = 0; i < sizeof fmt / sizeof *fmt; i++) {
    int n = snprintf(path, sizeof path, fmt[i], dlen, file, name);
    if (n > 0 && (size_t)n < sizeof path && access(path, F_OK) == 0) return true;
  }
  return false;
}

static int find_debuginfo(Dwfl_Module *mod, void **ud, const char *modname, Dwarf_Addr base,
                          const char *file, const char *debuglink, GElf_Word crc, char **out) {
  if (debuginfod_wanted || !build_id_find)
    return standard_find(mod, ud, modname, base, file, debuglink, crc, out);
  int fd = build_id_find(mod, ud, modname, base, file, debuglink, crc, out);
  if (fd >= 0 || ((!debuglink || !*debuglink) && !named_debug_exists(file))) return fd;
  return standard_find(mod, ud, modname, base, file, debuglink, crc, out);
}
static _Atomic int dw_state; /* 0: not tried, 1: loaded, -1: cannot be loaded */
static scvgc_lock_t load_lock = SCVGC_LOCK_RANKED(SCVGC_RANK_SYM_LOAD);

static bool load_libdw(void) {
  if (atomic_load(&dw_state)) return atomic_load(&dw_state) > 0;
  scvgc_lock(&load_lock);
  if (!atomic_load(&dw_state)) {
    void *h = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
    bool ok = h != NULL;
#define SYM(field, name) \
    if (ok && !(*(void **)&dw.field = dlsym(h, name))) ok = false;
    SYM(begin, "dwfl_begin")
    SYM(report_begin, "dwfl_report_begin")
    SYM(linux_proc_report, "dwfl_linux_proc_report")
    SYM(report_end, "dwfl_report_end")
    SYM(end, "dwfl_end")
    SYM(addrmodule, "dwfl_addrmodule")
    SYM(module_info, "dwfl_module_info")
    SYM(module_addrinfo, "dwfl_module_addrinfo")
    SYM(module_getsrc, "dwfl_module_getsrc")
    SYM(lineinfo, "dwfl_lineinfo")
#undef SYM
    if (ok) {
      bool in = true;
#define OPT(field, name) \
      if (in && !(*(void **)&dw.field = dlsym(h, name))) in = false;
      OPT(module_addrdie, "dwfl_module_addrdie")
      OPT(getscopes, "dwarf_getscopes")
      OPT(getscopes_die, "dwarf_getscopes_die")
      OPT(tag, "dwarf_tag")
      OPT(attr, "dwarf_attr")
      OPT(attr_integrate, "dwarf_attr_integrate")
      OPT(formstring, "dwarf_formstring")
      OPT(formudata, "dwarf_formudata")
      OPT(getsrcfiles, "dwarf_getsrcfiles")
      OPT(filesrc, "dwarf_filesrc")
#undef OPT
      dw.inlines = in;
      *(void **)&callbacks.find_elf = dlsym(h, "dwfl_linux_proc_find_elf");
      *(void **)&standard_find = dlsym(h, "dwfl_standard_find_debuginfo");
      *(void **)&build_id_find = dlsym(h, "dwfl_build_id_find_debuginfo");
      const char *urls = secure_getenv("DEBUGINFOD_URLS"); /* S4; never for set-user-ID */
      debuginfod_wanted = urls && *urls;
      callbacks.find_debuginfo = find_debuginfo;
      ok = callbacks.find_elf && standard_find;
    }
    /* h stays open: a second session must not pay the load again, and dlclose of a library
     * that registered atexit handlers (libdw's debuginfod client) is not safe */
    atomic_store(&dw_state, ok ? 1 : -1);
  }
  scvgc_unlock(&load_lock);
  return atomic_load(&dw_state) > 0;
}

bool scvgc_symbolize_libdw_loaded(void) { return atomic_load(&dw_state) > 0; }

/* The session. */
static Dwfl *dwfl;
static char **owned;          /* strings made by this session (demangled names) */
static size_t nowned, capowned;
static scvgc_frame_t *cache;  /* open addressing by pc; pc 0 marks an empty slot */
static size_t cachecap, cacheused;
static bool active;           /* between begin and end */
static char *(*demangler)(const char *, char *, size_t *, int *);

static scvgc_lock_t session_lock = SCVGC_LOCK_RANKED(SCVGC_RANK_SYM_SESSION);
static void release_session(void);

static void open_session(void) {
  release_session();
  active = true;
  /* the C++ runtime's demangler, when the program has one loaded (a C++ program does); a
   * C program has no mangled names to show */
  demangler = (char *(*)(const char *, char *, size_t *, int *))dlsym(RTLD_DEFAULT,
                                                                       "__cxa_demangle");
  if (!load_libdw()) return;
  dwfl = dw.begin(&callbacks);
  if (!dwfl) return;
  dw.report_begin(dwfl);
  if (dw.linux_proc_report(dwfl, getpid()) != 0 || dw.report_end(dwfl, NULL, NULL) != 0) {
    dw.end(dwfl);
    dwfl = NULL;
    return;
  }
}

/* S3: a session is library-owned from begin to end (scvgc_in_lib, own.h), whoever opened
 * it: libdw's state, the cache and the strings are malloc'd and referenced only from this
 * file's data and libdw's, which are no roots; a cycle that a session's own allocations
 * start (collect mode) must keep them. Held here, not by each caller (a bad-free
 * diagnostic symbolizes outside any report). */
void scvgc_symbolize_begin(void) {
  scvgc_lock(&session_lock);
  scvgc_lib_enter();
  open_session();
}

bool scvgc_symbolize_try_begin(void) {
  if (!scvgc_trylock(&session_lock)) return false;
  scvgc_lib_enter();
  open_session();
  return true;
}

void scvgc_symbolize_end(void) {
  if (!active) return;
  release_session();
  scvgc_lib_leave();
  scvgc_unlock(&session_lock);
}

static void release_session(void) {
  for (size_t i = 0; i < nowned; i++) free(owned[i]);
  free(owned);
  owned = NULL;
  nowned = capowned = 0;
  free(cache);
  cache = NULL;
  cachecap = cacheused = 0;
  if (dwfl) dw.end(dwfl);
  dwfl = NULL;
  active = false;
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
  if (!dwfl) { /* no libdw: the dynamic symbol table (dladdr), no file:line */
    Dl_info di;
    if (!dladdr((void *)a, &di) || !di.dli_fname) return false;
    out->module = di.dli_fname;
    if (di.dli_sname) out->function = scvgc_symbolize_demangle(di.dli_sname);
    return true;
  }
  Dwfl_Module *m = dw.addrmodule(dwfl, a);
  if (!m) return false;
  const char *mainfile = NULL;
  const char *name = dw.module_info(m, NULL, NULL, NULL, NULL, NULL, &mainfile, NULL);
  out->module = mainfile ? mainfile : name;
  GElf_Off off;
  GElf_Sym sym;
  const char *fn = dw.module_addrinfo(m, a, &off, &sym, NULL, NULL, NULL);
  if (fn && *fn) out->function = scvgc_symbolize_demangle(fn);
  Dwfl_Line *l = dw.module_getsrc(m, a);
  if (l) {
    int line = 0;
    const char *file = dw.lineinfo(l, NULL, &line, NULL, NULL, NULL);
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
  if (!active || pc == 0) return false;
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

/* The name of an inlined subroutine: DW_AT_name of its abstract origin. */
static const char *inline_name(Dwarf_Die *die) {
  Dwarf_Attribute at;
  Dwarf_Attribute *a = dw.attr_integrate(die, DW_AT_name, &at);
  return a ? dw.formstring(a) : NULL;
}

int scvgc_symbolize_frames(uintptr_t pc, scvgc_frame_t *out, int max) {
  if (max <= 0) return 0;
  bool known = scvgc_symbolize(pc, &out[0]);
  if (!known || !dwfl || !dw.inlines || max < 2) return 1;
  Dwarf_Addr a = pc - 1, bias = 0;
  Dwfl_Module *m = dw.addrmodule(dwfl, a);
  Dwarf_Die *cu = m ? dw.module_addrdie(m, a, &bias) : NULL;
  Dwarf_Die *scopes = NULL, innermost;
  int ns = cu ? dw.getscopes(cu, a - bias, &scopes) : 0;
  if (ns <= 0) {
    free(scopes);
    return 1;
  }
  /* dwarf_getscopes follows an inlined function to its abstract definition; the callers are
   * the DIEs that enclose the innermost scope (dwarf_getscopes_die), as eu-addr2line -i does */
  innermost = scopes[0];
  free(scopes);
  scopes = NULL;
  ns = dw.getscopes_die(&innermost, &scopes);
  if (ns <= 0) {
    free(scopes);
    return 1;
  }
  Dwarf_Files *files = NULL;
  size_t nfiles = 0;
  if (dw.getsrcfiles(cu, &files, &nfiles) != 0) files = NULL;
  /* out[0] has the symbol (the function the code was inlined into) and the line table's
   * location (inside the innermost inlined body): each inlined scope, innermost first, is a
   * frame at the location below it, and moves the location to its call site. */
  scvgc_frame_t outer = out[0];
  const char *file = outer.file;
  int line = outer.line, n = 0;
  for (int i = 0; i < ns && n < max - 1; i++) {
    if (dw.tag(&scopes[i]) != DW_TAG_inlined_subroutine) continue;
    scvgc_frame_t f = outer;
    f.function = inline_name(&scopes[i]);
    f.file = file;
    f.line = file ? line : 0;
    f.inlined = true;
    out[n++] = f;
    Dwarf_Attribute at;
    Dwarf_Word v;
    file = NULL;
    line = 0;
    if (files && dw.formudata(dw.attr(&scopes[i], DW_AT_call_file, &at), &v) == 0 && v < nfiles)
      file = dw.filesrc(files, v, NULL, NULL);
    if (dw.formudata(dw.attr(&scopes[i], DW_AT_call_line, &at), &v) == 0) line = (int)v;
    if (line <= 0) file = NULL;
  }
  free(scopes);
  outer.file = file;
  outer.line = file ? line : 0;
  out[n++] = outer;
  return n;
}
