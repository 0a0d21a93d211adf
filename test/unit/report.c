/* core/report.c: the text and JSON reports written from the leak table. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gc.h"
#include "report.h"

static char dir[64], json[128], text[128];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/scvgc-report-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(json, sizeof json, "%s/r-%%p.json", dir);
  snprintf(text, sizeof text, "%s/r-%%p.txt", dir);
  setenv("SCVGC_MODE", "leak", 1);
  setenv("SCVGC_JSON", json, 1);
  setenv("SCVGC_REPORT", text, 1);
  scvgc_init();
}

static char *slurp(const char *tmpl) {
  char path[160];
  snprintf(path, sizeof path, "%s/r-%d.%s", dir, (int)getpid(), strstr(tmpl, "json") ? "json" : "txt");
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "%s exists (%%p became the pid)", path);
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

static void add(uint32_t stack, int kind, uint64_t objects, uint64_t bytes) {
  scvgc_leaks_t *t = &scvgc_leaks;
  if (!t->slots) {
    t->cap = 16;
    t->slots = calloc(t->cap, sizeof *t->slots);
  }
  scvgc_leak_t *e = &t->slots[t->ngroups++];
  *e = (scvgc_leak_t){.stack = stack, .kind = (uint8_t)kind, .objects = objects, .bytes = bytes};
}

Test(report, json_has_every_field_of_the_spec_and_groups_largest_first, .init = setup) {
  add(0, SCVGC_LEAK_INDIRECT, 4, 128);
  add(0, SCVGC_LEAK_DIRECT, 2, 64);
  add(0, SCVGC_LEAK_DIRECT, 1, 1000);
  scvgc_report_t r;
  scvgc_report_write(&r);
  cr_assert_eq(r.reported_objects, 7);
  cr_assert_eq(r.direct_bytes, 1064);
  const char *j = slurp(json);
  const char *keys[] = {"\"version\": 1", "\"pid\": ", "\"mode\": \"leak\"", "\"leaks\": [",
                        "\"direct_objects\": 3", "\"direct_bytes\": 1064", "\"indirect_objects\": 4",
                        "\"indirect_bytes\": 128", "\"suppressed_objects\": 0", "\"reclaimed_objects\": 0",
                        "\"reclaimed_bytes\": 0", "\"sys_bytes\": ", "\"inuse_bytes\": ", "\"idle_bytes\": ",
                        "\"released_bytes\": ", "\"gc_sys_bytes\": ", "\"live_objects\": ", "\"cycles\": ",
                        "\"pause_total_ns\": ", "\"pause_max_ns\": ", "\"peak_bytes\": ", "\"exit_bytes\": "};
  for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) cr_assert_not_null(strstr(j, keys[k]), "%s", keys[k]);
  const char *a = strstr(j, "\"bytes\": 1000"), *b = strstr(j, "\"bytes\": 128"), *c = strstr(j, "\"bytes\": 64");
  cr_assert(a && b && c && a < b && b < c, "largest total bytes first");
}

Test(report, every_text_line_carries_the_pid_prefix, .init = setup) {
  add(0, SCVGC_LEAK_DIRECT, 2, 64);
  scvgc_report_t r;
  scvgc_report_write(&r);
  char prefix[32];
  snprintf(prefix, sizeof prefix, "==%d== scvgc: ", (int)getpid());
  char *t = slurp(text);
  int lines = 0;
  for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n"), lines++)
    cr_assert_eq(strncmp(line, prefix, strlen(prefix)), 0, "%s", line);
  cr_assert_geq(lines, 5);
}

Test(report, no_leak_is_a_short_summary, .init = setup) {
  scvgc_report_t r;
  scvgc_report_write(&r);
  cr_assert_eq(r.reported_objects, 0);
  char *t = slurp(text);
  cr_assert_not_null(strstr(t, "no leaks found"));
  cr_assert_null(strstr(t, "LEAK SUMMARY"));
  cr_assert_not_null(strstr(t, "rss: peak"));
}

Test(report, a_suppressed_group_is_counted_and_not_listed, .init = setup) {
  /* without a stack nothing can match a pattern: the group stays; with a pattern that
   * matches the module of every frame it goes (see the corpus case for real stacks) */
  char supp[160];
  snprintf(supp, sizeof supp, "%s/supp", dir);
  FILE *f = fopen(supp, "w");
  fprintf(f, "# a comment\nleak:nothing_matches_this\nnot a suppression line\n");
  fclose(f);
  setenv("SCVGC_SUPPRESS", supp, 1);
  scvgc_options_init();
  add(0, SCVGC_LEAK_DIRECT, 1, 10);
  scvgc_report_t r;
  cr_redirect_stderr();
  scvgc_report_write(&r);
  cr_assert_eq(r.suppressed_objects, 0);
  cr_assert_eq(r.reported_objects, 1);
}

Test(report, rss_is_read_from_proc) {
  int64_t peak, now;
  scvgc_read_rss(&peak, &now);
  cr_assert_gt(peak, 0);
  cr_assert_gt(now, 0);
  cr_assert_geq(peak, now);
}

static char *read_stderr(void) {
  fflush(stderr);
  static char buf[8192];
  size_t n = fread(buf, 1, sizeof buf - 1, cr_get_redirected_stderr());
  buf[n] = 0;
  return buf;
}

Test(report, a_bad_suppression_line_is_named_by_its_number_never_echoed, .init = setup) {
  char supp[160];
  snprintf(supp, sizeof supp, "%s/supp", dir);
  FILE *f = fopen(supp, "w");
  fprintf(f, "# a comment\n\nleak:fine\nroot:secret-hash:19000\n");
  fclose(f);
  setenv("SCVGC_SUPPRESS", supp, 1);
  scvgc_options_init();
  cr_redirect_stderr();
  scvgc_report_t r;
  scvgc_report_write(&r);
  char *err = read_stderr();
  cr_assert_null(strstr(err, "secret"), "the line is not echoed: %s", err);
  cr_assert_not_null(strstr(err, "supp:4: ignoring a line"), "named by its number: %s", err);
}

/* The path the text report of this process goes to. */
static const char *text_path(void) {
  static char path[160];
  snprintf(path, sizeof path, "%s/r-%d.txt", dir, (int)getpid());
  return path;
}

Test(report, a_report_file_is_created_0600_and_rewritten_by_the_same_process, .init = setup) {
  scvgc_report_t r;
  scvgc_report_write(&r);
  struct stat st;
  cr_assert_eq(stat(text_path(), &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
  add(0, SCVGC_LEAK_DIRECT, 2, 64);
  scvgc_report_write(&r); /* scvgc_leak_check twice: the second report replaces the first */
  char *t = slurp(text);
  cr_assert_not_null(strstr(t, "LEAK SUMMARY"));
  cr_assert_null(strstr(t, "no leaks found"), "truncated before the second report");
}

Test(report, an_existing_file_is_not_truncated, .init = setup) {
  FILE *f = fopen(text_path(), "w");
  fputs("the user's own data\n", f);
  fclose(f);
  cr_redirect_stderr();
  scvgc_report_t r;
  scvgc_report_write(&r);
  char *t = slurp(text);
  cr_assert_str_eq(t, "the user's own data\n");
  cr_assert_not_null(strstr(read_stderr(), "did not create it"));
}

Test(report, a_symbolic_link_at_the_path_is_not_followed, .init = setup) {
  char target[160];
  snprintf(target, sizeof target, "%s/target", dir);
  FILE *f = fopen(target, "w");
  fputs("precious\n", f);
  fclose(f);
  cr_assert_eq(symlink(target, text_path()), 0);
  cr_redirect_stderr();
  scvgc_report_t r;
  scvgc_report_write(&r);
  f = fopen(target, "r");
  char buf[64] = "";
  cr_assert_not_null(fgets(buf, sizeof buf, f));
  fclose(f);
  cr_assert_str_eq(buf, "precious\n");
  char *dangling = read_stderr();
  cr_assert_not_null(strstr(dangling, "not writing the report"), "%s", dangling);
}

Test(report, a_dangling_symbolic_link_creates_nothing, .init = setup) {
  char target[160];
  snprintf(target, sizeof target, "%s/nowhere", dir);
  cr_assert_eq(symlink(target, text_path()), 0);
  cr_redirect_stderr();
  scvgc_report_t r;
  scvgc_report_write(&r);
  cr_assert_neq(access(target, F_OK), 0, "O_CREAT|O_EXCL does not create through a link");
}

Test(report, suppression_patterns_match_as_leaksanitizer_reads_them) {
  cr_assert(scvgc_supp_match("make_node", "make_node"));
  cr_assert(scvgc_supp_match("make", "remake_node"), "a substring");
  cr_assert(scvgc_supp_match("^make_node$", "make_node"));
  cr_assert(!scvgc_supp_match("^make_node$", "make_node2"));
  cr_assert(!scvgc_supp_match("^make_node$", "remake_node"));
  cr_assert(scvgc_supp_match("^make", "make_node"));
  cr_assert(!scvgc_supp_match("^ake", "make_node"));
  cr_assert(scvgc_supp_match("node$", "make_node"));
  cr_assert(!scvgc_supp_match("nod$", "make_node"));
  cr_assert(scvgc_supp_match("^m*e$", "make_node"));
  cr_assert(scvgc_supp_match("std::*::push_back", "std::vector<int, std::allocator<int> >::push_back(int&&)"));
  cr_assert(scvgc_supp_match("*", "x"));
  cr_assert(!scvgc_supp_match("x", ""), "an empty name matches nothing");
  cr_assert(!scvgc_supp_match("x", NULL));
  cr_assert(scvgc_supp_match("libfoo.so", "/usr/lib/libfoo.so.1"));
  cr_assert(!scvgc_supp_match("a?c", "abc"), "? is a character, as in LeakSanitizer");
  char name[5000];
  memset(name, 'a', sizeof name - 2);
  name[sizeof name - 2] = 'b';
  name[sizeof name - 1] = 0;
  cr_assert(!scvgc_supp_match("*a*a*a*a*a*a*a*a*c", name), "no exponential backtracking");
}

static char *slurp_path(const char *path) {
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "%s exists", path);
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

Test(report, a_snapshot_names_its_files_pid_dot_n_and_says_so, .init = setup) {
  add(0, SCVGC_LEAK_DIRECT, 2, 64);
  scvgc_report_t r;
  scvgc_report_snapshot(&r, 1);
  scvgc_report_snapshot(&r, 2);
  scvgc_report_write(&r); /* the exit report keeps its own name */
  char p[200];
  for (int n = 1; n <= 2; n++) {
    snprintf(p, sizeof p, "%s/r-%d.%d.json", dir, (int)getpid(), n);
    char want[64];
    snprintf(want, sizeof want, "\"snapshot\": %d,", n);
    cr_assert_not_null(strstr(slurp_path(p), want), "%s says %s", p, want);
    snprintf(p, sizeof p, "%s/r-%d.%d.txt", dir, (int)getpid(), n);
    snprintf(want, sizeof want, "snapshot %d of the running", n);
    cr_assert_not_null(strstr(slurp_path(p), want), "%s says %s", p, want);
  }
  cr_assert_null(strstr(slurp(json), "\"snapshot\""), "the exit report is no snapshot");
  /* a path without %p: .PID.N appended */
  char plain[160];
  snprintf(plain, sizeof plain, "%s/plain.json", dir);
  setenv("SCVGC_JSON", plain, 1);
  scvgc_options_init();
  scvgc_report_snapshot(&r, 3);
  snprintf(p, sizeof p, "%s.%d.3", plain, (int)getpid());
  cr_assert_not_null(strstr(slurp_path(p), "\"snapshot\": 3,"));
}
