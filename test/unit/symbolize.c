/* Invariants of core/symbolize.c: what a pc turns into, and what is left unknown.
 * This program is built with -O1 -g, so its own functions have names and lines. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "stack.h"
#include "symbolize.h"

static volatile int sink;

static void begin(void) { scvgc_symbolize_begin(); }
static void end(void) { scvgc_symbolize_end(); }

__attribute__((noinline)) static uintptr_t return_address(void) {
  uintptr_t pc = (uintptr_t)__builtin_return_address(0);
  sink++;
  return pc;
}

/* A return address into this function, at the line *line. */
__attribute__((noinline)) static uintptr_t known_site(int *line) {
  *line = __LINE__ + 1;
  uintptr_t pc = return_address();
  sink++;
  return pc;
}

static const char *self_path(void) {
  static char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  cr_assert_gt(n, 0);
  path[n] = 0;
  return path;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

Test(symbolize, a_pc_of_a_function_with_debug_info_gives_its_file_and_line, .init = begin,
     .fini = end) {
  int line;
  uintptr_t pc = known_site(&line);
  scvgc_frame_t f;
  cr_assert(scvgc_symbolize(pc, &f));
  cr_assert_eq(f.pc, pc, "the pc itself is reported, not pc - 1");
  cr_assert_str_eq(f.function, "known_site");
  cr_assert_not_null(f.file);
  cr_assert(ends_with(f.file, "test/unit/symbolize.c"), "file %s", f.file);
  cr_assert_eq(f.line, line);
  cr_assert_str_eq(f.module, self_path());
}

Test(symbolize, an_unknown_pc_gives_nulls, .init = begin, .fini = end) {
  /* an anonymous mapping holds no module */
  void *anon = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(anon, MAP_FAILED);
  uintptr_t pcs[] = {(uintptr_t)anon + 100, 0x10, 0};
  for (size_t i = 0; i < sizeof pcs / sizeof pcs[0]; i++) {
    scvgc_frame_t f;
    cr_assert_not(scvgc_symbolize(pcs[i], &f));
    cr_assert_eq(f.pc, pcs[i]);
    cr_assert_null(f.function);
    cr_assert_null(f.file);
    cr_assert_eq(f.line, 0);
    cr_assert_null(f.module);
  }
  munmap(anon, 4096);
}

Test(symbolize, outside_a_session_every_pc_is_unknown) {
  int line;
  uintptr_t pc = known_site(&line);
  scvgc_frame_t f;
  cr_assert_not(scvgc_symbolize(pc, &f));
  cr_assert_null(f.function);
  cr_assert_null(f.module);
  scvgc_symbolize_begin();
  scvgc_symbolize_end();
  cr_assert_not(scvgc_symbolize(pc, &f));
}

static uintptr_t in_libc;
static int note_caller(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)info;
  (void)size;
  (void)arg;
  in_libc = (uintptr_t)__builtin_return_address(0);
  return 1;
}

Test(symbolize, a_pc_in_a_library_names_its_function_and_module, .init = begin, .fini = end) {
  dl_iterate_phdr(note_caller, NULL); /* exported by libc, calls us back directly */
  scvgc_frame_t f;
  cr_assert(scvgc_symbolize(in_libc, &f));
  cr_assert_str_eq(f.function, "dl_iterate_phdr");
  cr_assert_not_null(f.module);
  cr_assert(strstr(f.module, "libc.so"), "module %s", f.module);
  /* a line only where the library's debug info is installed */
  cr_assert((f.file == NULL) == (f.line == 0));
}

Test(symbolize, strings_stay_valid_until_the_session_ends, .init = begin, .fini = end) {
  int line;
  scvgc_frame_t first, f;
  cr_assert(scvgc_symbolize(known_site(&line), &first));
  char fn[256], file[4096];
  strcpy(fn, first.function);
  strcpy(file, first.file);
  for (uintptr_t p = (uintptr_t)known_site; p < (uintptr_t)known_site + 64; p++)
    scvgc_symbolize(p, &f);
  dl_iterate_phdr(note_caller, NULL);
  scvgc_symbolize(in_libc, &f);
  cr_assert_str_eq(first.function, fn);
  cr_assert_str_eq(first.file, file);
  /* and the same pc gives the same answer */
  scvgc_frame_t again;
  scvgc_symbolize(first.pc, &again);
  cr_assert_eq(again.function, first.function);
  cr_assert_eq(again.file, first.file);
  cr_assert_eq(again.line, first.line);
}

Test(symbolize, a_mangled_name_is_demangled_when_a_cxx_runtime_is_loaded, .init = begin,
     .fini = end) {
  const char *m = "_ZN5scvgc4testEv";
  const char *d = scvgc_symbolize_demangle(m);
  if (dlsym(RTLD_DEFAULT, "__cxa_demangle")) cr_assert_str_eq(d, "scvgc::test()");
  else cr_assert_eq(d, m, "no C++ runtime: the name as it is");
  cr_assert_str_eq(scvgc_symbolize_demangle("main"), "main");
  cr_assert_null(scvgc_symbolize_demangle(NULL));
}

__attribute__((noinline)) static uint32_t captured_here(int *line) {
  *line = __LINE__ + 1;
  uint32_t id = scvgc_stack_capture();
  sink++;
  return id;
}

Test(symbolize, a_captured_stack_names_the_function_that_captured_it, .init = begin,
     .fini = end) {
  scvgc_opt.stack_depth = 16;
  int line;
  const uintptr_t *pcs;
  int n = scvgc_stack_get(captured_here(&line), &pcs);
  cr_assert_gt(n, 1);
  scvgc_frame_t f;
  cr_assert(scvgc_symbolize(pcs[0], &f));
  cr_assert_str_eq(f.function, "captured_here");
  cr_assert_eq(f.line, line);
  cr_assert(scvgc_symbolize(pcs[1], &f));
  cr_assert(strstr(f.function, "a_captured_stack_names_the_function_that_captured_it"),
            "caller %s", f.function);
}

/* The unit tests link libdw (-ldw), so "mapped" says nothing here: what matters is that the
 * core loads it itself, at the first session, and not before (exports.sh checks the library
 * process has no libdw before a report). */
Test(symbolize, libdw_is_loaded_by_the_first_session_not_before) {
  cr_assert(!scvgc_symbolize_libdw_loaded());
  scvgc_symbolize_begin();
  cr_assert(scvgc_symbolize_libdw_loaded());
  scvgc_symbolize_end();
}

Test(symbolize, a_second_session_is_refused_while_one_is_open_and_granted_after) {
  scvgc_symbolize_begin();
  cr_assert(!scvgc_symbolize_try_begin());
  scvgc_symbolize_end();
  cr_assert(scvgc_symbolize_try_begin());
  scvgc_symbolize_end();
}

/* Inlined frames: a capture inside two always-inlined functions. */
static int inl_line_leaf, inl_line_mid, inl_line_outer;
static inline __attribute__((always_inline)) uint32_t inl_leaf(void) {
  inl_line_leaf = __LINE__ + 1;
  uint32_t id = scvgc_stack_capture();
  sink++;
  return id;
}
static inline __attribute__((always_inline)) uint32_t inl_mid(void) {
  inl_line_mid = __LINE__ + 1;
  uint32_t id = inl_leaf();
  sink++;
  return id;
}
__attribute__((noinline)) static uint32_t inl_outer(void) {
  inl_line_outer = __LINE__ + 1;
  uint32_t id = inl_mid();
  sink++;
  return id;
}

Test(symbolize, inlined_functions_are_frames_of_their_own, .init = begin, .fini = end) {
  scvgc_opt.stack_depth = 16;
  const uintptr_t *pcs;
  cr_assert_gt(scvgc_stack_get(inl_outer(), &pcs), 1);
  scvgc_frame_t f[8];
  int n = scvgc_symbolize_frames(pcs[0], f, 8);
  cr_assert_eq(n, 3, "inl_leaf, inl_mid, inl_outer: %d frames", n);
  cr_assert_str_eq(f[0].function, "inl_leaf");
  cr_assert_eq(f[0].line, inl_line_leaf);
  cr_assert(f[0].inlined);
  cr_assert_str_eq(f[1].function, "inl_mid");
  cr_assert_eq(f[1].line, inl_line_mid);
  cr_assert(f[1].inlined);
  cr_assert_str_eq(f[2].function, "inl_outer");
  cr_assert_eq(f[2].line, inl_line_outer);
  cr_assert(!f[2].inlined);
  cr_assert_eq(scvgc_symbolize_frames(pcs[0], f, 1), 1, "max bounds the frames");
}
