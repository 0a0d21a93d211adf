/* core/options.c: the parsers, the defaults, and the message for a bad value. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

Test(options, durations_take_ms_s_m_h_and_plain_seconds) {
  uint64_t ns;
  cr_assert(scvgc_parse_duration("250ms", &ns) && ns == 250000000ull);
  cr_assert(scvgc_parse_duration("10s", &ns) && ns == 10000000000ull);
  cr_assert(scvgc_parse_duration("5m", &ns) && ns == 300000000000ull);
  cr_assert(scvgc_parse_duration("1h", &ns) && ns == 3600000000000ull);
  cr_assert(scvgc_parse_duration("7", &ns) && ns == 7000000000ull);
  cr_assert(scvgc_parse_duration("1.5s", &ns) && ns == 1500000000ull);
  cr_assert(!scvgc_parse_duration("", &ns));
  cr_assert(!scvgc_parse_duration("ten", &ns));
  cr_assert(!scvgc_parse_duration("5 m", &ns));
  cr_assert(!scvgc_parse_duration("-1s", &ns));
  cr_assert(!scvgc_parse_duration("99999999999999999999h", &ns));
}

Test(options, sizes_take_k_m_g_t_suffixes) {
  uint64_t b;
  cr_assert(scvgc_parse_bytes("512M", &b) && b == 512ull << 20);
  cr_assert(scvgc_parse_bytes("2G", &b) && b == 2ull << 30);
  cr_assert(scvgc_parse_bytes("64KiB", &b) && b == 64ull << 10);
  cr_assert(scvgc_parse_bytes("1.5G", &b) && b == 3ull << 29);
  cr_assert(scvgc_parse_bytes("1000", &b) && b == 1000);
  cr_assert(!scvgc_parse_bytes("12X", &b));
  cr_assert(!scvgc_parse_bytes("G", &b));
}

Test(options, report_signal_takes_names_numbers_and_realtime_offsets) {
  int s = -1;
  cr_assert(scvgc_parse_signal("SIGUSR2", &s) && s == SIGUSR2);
  cr_assert(scvgc_parse_signal("usr1", &s) && s == SIGUSR1);
  cr_assert(scvgc_parse_signal("12", &s) && s == 12);
  cr_assert(scvgc_parse_signal("SIGRTMIN+2", &s) && s == SIGRTMIN + 2);
  cr_assert(scvgc_parse_signal("RTMAX-1", &s) && s == SIGRTMAX - 1);
  cr_assert(scvgc_parse_signal("SIGRTMIN", &s) && s == SIGRTMIN);
  cr_assert(scvgc_parse_signal("off", &s) && s == 0);
  /* faults, uncatchable, job control, glibc's own, out of range, junk: refused */
  const char *bad[] = {"SIGSEGV", "SIGKILL", "9", "SIGSTOP", "SIGCHLD", "SIGCONT", "SIGABRT",
                       "32", "33", "65", "SIGRTMAX+1", "SIGRTMIN-1", "SIGUSR3", "", "SIG", "12x"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    cr_assert(!scvgc_parse_signal(bad[i], &s), "%s must be refused", bad[i]);
}

Test(options, report_signal_is_off_by_default_and_read_from_the_environment) {
  scvgc_options_init();
  cr_assert_eq(scvgc_opt.report_signal, 0, "SPEC: SCVGC_REPORT_SIGNAL defaults to off");
  setenv("SCVGC_OPTIONS", "report_signal=SIGUSR1", 1);
  scvgc_options_init();
  cr_assert_eq(scvgc_opt.report_signal, SIGUSR1);
  setenv("SCVGC_REPORT_SIGNAL", "SIGUSR2", 1);
  scvgc_options_init();
  cr_assert_eq(scvgc_opt.report_signal, SIGUSR2, "the variable wins over SCVGC_OPTIONS");
  unsetenv("SCVGC_OPTIONS");
  unsetenv("SCVGC_REPORT_SIGNAL");
}

Test(options, defaults_follow_the_spec) {
  scvgc_options_init();
  cr_assert_eq(scvgc_opt.mode, SCVGC_MODE_LEAK);
  cr_assert_eq(scvgc_opt.gogc, -1, "leak mode: no periodic cycle unless SCVGC_GOGC is set");
  cr_assert_eq(scvgc_opt.trace, 0);
  cr_assert_eq(scvgc_opt.scavenge_after_ns, 300000000000ull);
  cr_assert_eq(scvgc_opt.forcegc_ns, 0, "leak mode: no forced cycle unless SCVGC_FORCEGC is set");
  cr_assert_eq(scvgc_opt.memlimit, 0);
  cr_assert_eq(scvgc_opt.stack_depth, 16);
  cr_assert_str_eq(scvgc_opt.report, "stderr");
  cr_assert_null(scvgc_opt.json);
  cr_assert_eq(scvgc_opt.exitcode, 0);
  cr_assert(scvgc_tracking);
  cr_assert_eq(scvgc_opt.sample, 0, "leak mode keeps exact stacks unless SCVGC_SAMPLE is set");
}

Test(options, collect_mode_samples_one_stack_per_512k_unless_told_otherwise) {
  setenv("SCVGC_MODE", "collect", 1);
  scvgc_options_init();
  cr_assert_eq(scvgc_opt.sample, 512u << 10);
  setenv("SCVGC_SAMPLE", "0", 1);
  scvgc_options_init();
  cr_assert_eq(scvgc_opt.sample, 0, "SCVGC_SAMPLE=0: every allocation's stack");
  setenv("SCVGC_SAMPLE", "64K", 1);
  setenv("SCVGC_MODE", "leak", 1);
  scvgc_options_init();
  cr_assert_eq(scvgc_opt.sample, 64u << 10, "set explicitly, leak mode samples too");
  setenv("SCVGC_STACK_DEPTH", "0", 1);
  scvgc_options_init();
  cr_assert_eq(scvgc_opt.sample, 0, "no stacks: nothing sampled, every count exact");
}

Test(options, the_sampling_interval_is_exponential_with_the_rate_as_mean) {
  /* mean R, and P(X > R) = exp(-1) for an exponential variate (a fixed interval gives 0) */
  const uint64_t rate = 4096;
  const int n = 200000;
  double sum = 0;
  int above = 0;
  for (int i = 0; i < n; i++) {
    uint64_t x = scvgc_sample_draw(rate);
    cr_assert_geq(x, 1);
    sum += (double)x;
    above += x > rate;
  }
  double mean = sum / n, frac = (double)above / n;
  cr_assert(mean > rate * 0.98 && mean < rate * 1.02, "mean %.1f, not about %lu", mean, (unsigned long)rate);
  cr_assert(frac > 0.3579 && frac < 0.3779, "P(X > R) = %.4f, not about exp(-1)", frac);
}

Test(options, values_are_read_from_the_environment) {
  setenv("SCVGC_MODE", "collect", 1);
  setenv("SCVGC_GOGC", "off", 1);
  setenv("SCVGC_FORCEGC", "off", 1);
  setenv("SCVGC_MEMLIMIT", "1G", 1);
  setenv("SCVGC_JSON", "/tmp/r-%p.json", 1);
  scvgc_options_init();
  cr_assert_eq(scvgc_opt.mode, SCVGC_MODE_COLLECT);
  cr_assert_eq(scvgc_opt.gogc, -1);
  cr_assert_eq(scvgc_opt.forcegc_ns, 0);
  cr_assert_eq(scvgc_opt.memlimit, 1ull << 30);
  cr_assert_str_eq(scvgc_opt.json, "/tmp/r-%p.json");
}

Test(options, a_bad_value_says_so_once_and_the_default_is_used, .init = cr_redirect_stderr) {
  setenv("SCVGC_GOGC", "lots", 1);
  setenv("SCVGC_MODE", "fast", 1);
  setenv("SCVGC_STACK_DEPTH", "1000", 1);
  scvgc_options_init();
  cr_assert_eq(scvgc_opt.gogc, 100);
  cr_assert_eq(scvgc_opt.mode, SCVGC_MODE_LEAK);
  cr_assert_eq(scvgc_opt.stack_depth, 16);
  fflush(stderr);
  FILE *f = cr_get_redirected_stderr();
  char line[512];
  int n = 0, gogc = 0;
  while (fgets(line, sizeof line, f)) {
    n++;
    if (strstr(line, "SCVGC_GOGC=lots") && strstr(line, "using 100")) gogc = 1;
  }
  cr_assert_eq(n, 3);
  cr_assert(gogc);
}

Test(options, mode_off_turns_tracking_off) {
  setenv("SCVGC_MODE", "off", 1);
  scvgc_options_init();
  cr_assert_eq(scvgc_tracking, 0);
}

Test(options, a_long_bad_value_is_cut_and_the_line_still_says_the_value_used,
     .init = cr_redirect_stderr) {
  static char v[3001];
  memset(v, '7', 3000);
  setenv("SCVGC_GOGC", v, 1);
  scvgc_options_init();
  cr_assert_eq(scvgc_opt.gogc, 100);
  fflush(stderr);
  FILE *f = cr_get_redirected_stderr();
  static char line[4096];
  int n = 0, ok = 0;
  while (fgets(line, sizeof line, f)) {
    n++;
    if (strstr(line, "SCVGC_GOGC=777") && strstr(line, "...") && strstr(line, "using 100\n")) ok = 1;
  }
  cr_assert_eq(n, 1);
  cr_assert(ok, "the line ends with the value used: %s", line);
}

Test(options, a_secure_execution_process_ignores_every_scvgc_variable, .init = cr_redirect_stderr) {
  setenv("SCVGC_MODE", "collect", 1);
  setenv("SCVGC_REPORT", "/tmp/planted", 1);
  setenv("SCVGC_JSON", "/tmp/planted.json", 1);
  setenv("SCVGC_SUPPRESS", "/etc/shadow", 1);
  setenv("SCVGC_GOGC", "lots", 1);
  scvgc_options_secure_test = 1;
  scvgc_options_init();
  scvgc_options_secure_test = -1;
  cr_assert_eq(scvgc_opt.mode, SCVGC_MODE_LEAK);
  cr_assert_str_eq(scvgc_opt.report, "stderr");
  cr_assert_null(scvgc_opt.json);
  cr_assert_null(scvgc_opt.suppress);
  cr_assert_eq(scvgc_opt.gogc, -1, "leak mode's default: no periodic cycle");
  fflush(stderr);
  char line[512];
  cr_assert_null(fgets(line, sizeof line, cr_get_redirected_stderr()),
                 "not even a bad value is echoed: %s", line);
  scvgc_options_init(); /* the same environment, not secure: it is read */
  cr_assert_eq(scvgc_opt.mode, SCVGC_MODE_COLLECT);
}

Test(options, collect_mode_paces_and_forces_cycles_by_default) {
  setenv("SCVGC_MODE", "collect", 1);
  scvgc_options_init();
  cr_assert_eq(scvgc_opt.gogc, 100);
  cr_assert_eq(scvgc_opt.forcegc_ns, 120000000000ull);
}

Test(options, leak_mode_runs_periodic_and_forced_cycles_only_when_set_explicitly) {
  setenv("SCVGC_MODE", "leak", 1);
  setenv("SCVGC_GOGC", "100", 1);
  scvgc_options_init();
  cr_assert_eq(scvgc_opt.gogc, 100);
  cr_assert_eq(scvgc_opt.forcegc_ns, 0);
  unsetenv("SCVGC_GOGC");
  setenv("SCVGC_FORCEGC", "2m", 1);
  scvgc_options_init();
  cr_assert_eq(scvgc_opt.gogc, -1);
  cr_assert_eq(scvgc_opt.forcegc_ns, 120000000000ull);
}

Test(options, scvgc_options_takes_short_and_full_names_and_the_variable_wins) {
  setenv("SCVGC_OPTIONS", "mode=collect:gogc=50,stack_depth=3:SCVGC_EXITCODE=9:trace=1", 1);
  setenv("SCVGC_GOGC", "70", 1);
  scvgc_options_init();
  unsetenv("SCVGC_OPTIONS");
  unsetenv("SCVGC_GOGC");
  cr_assert_eq(scvgc_opt.mode, SCVGC_MODE_COLLECT);
  cr_assert_eq(scvgc_opt.gogc, 70, "SCVGC_GOGC wins over gogc= in SCVGC_OPTIONS");
  cr_assert_eq(scvgc_opt.stack_depth, 3);
  cr_assert_eq(scvgc_opt.exitcode, 9);
  cr_assert_eq(scvgc_opt.trace, 1, "SCVGCTRACE is trace");
}

Test(options, scvgc_options_gogc_counts_as_explicit_in_leak_mode) {
  setenv("SCVGC_OPTIONS", "gogc=50", 1);
  scvgc_options_init();
  unsetenv("SCVGC_OPTIONS");
  cr_assert_eq(scvgc_opt.gogc, 50);
  cr_assert_eq(scvgc_opt.forcegc_ns, 0);
}

Test(options, a_secure_execution_process_ignores_scvgc_options_but_not_the_programs_defaults,
     .init = cr_redirect_stderr) {
  setenv("SCVGC_OPTIONS", "mode=collect:report=/tmp/planted:bad=1", 1);
  scvgc_options_secure_test = 1;
  scvgc_options_init();
  scvgc_options_secure_test = -1;
  unsetenv("SCVGC_OPTIONS");
  cr_assert_eq(scvgc_opt.mode, SCVGC_MODE_LEAK);
  cr_assert_str_eq(scvgc_opt.report, "stderr");
  scvgc_options_program_defaults("exitcode=4", "__scvgc_default_options", false);
  cr_assert_eq(scvgc_opt.exitcode, 4, "the program's own defaults still apply");
  fflush(stderr);
  char line[512];
  cr_assert_null(fgets(line, sizeof line, cr_get_redirected_stderr()), "nothing said: %s", line);
}

Test(options, program_defaults_yield_to_the_environment_and_may_switch_leak_to_collect) {
  setenv("SCVGC_OPTIONS", "exitcode=2", 1);
  scvgc_options_init();
  unsetenv("SCVGC_OPTIONS");
  cr_assert_eq(scvgc_opt.gogc, -1);
  scvgc_options_program_defaults("mode=collect:exitcode=5:stack_depth=4", "__scvgc_default_options", false);
  cr_assert_eq(scvgc_opt.mode, SCVGC_MODE_COLLECT);
  cr_assert_eq(scvgc_opt.gogc, 100, "collect mode's pacing once leak mode's rule no longer holds");
  cr_assert_eq(scvgc_opt.exitcode, 2, "SCVGC_OPTIONS wins over the program's default");
  cr_assert_eq(scvgc_opt.stack_depth, 4);
  cr_assert_eq(scvgc_turned_off, 0);
}

Test(options, lsan_default_options_translate_the_keys_that_mean_something_here) {
  scvgc_options_init();
  scvgc_options_program_defaults("exitcode=23:malloc_context_size=200:report_objects=1:log_path=/tmp/x",
                                 "__lsan_default_options", true);
  cr_assert_eq(scvgc_opt.exitcode, 23);
  cr_assert_eq(scvgc_opt.stack_depth, 64);
  cr_assert_str_eq(scvgc_opt.report, "/tmp/x.%p");
  cr_assert_eq(scvgc_turned_off, 0);
  scvgc_options_program_defaults("detect_leaks=0", "__lsan_default_options", true);
  cr_assert_eq(scvgc_turned_off, 1);
  scvgc_options_init();
  cr_assert_eq(scvgc_turned_off, 0);
}

/* gc.c C6: concurrent marking alone (one program thread) only when SCVGC_CONCURRENT was set */
Test(options, concurrent_alone_only_when_concurrent_is_set) {
  setenv("SCVGC_MODE", "collect", 1);
  unsetenv("SCVGC_CONCURRENT");
  unsetenv("SCVGC_OPTIONS");
  scvgc_options_init();
  cr_assert_eq(scvgc_opt.concurrent, 1, "collect mode: concurrent by default");
  cr_assert_eq(scvgc_opt.concurrent_alone, 0, "but not for a program alone with its collector");
  setenv("SCVGC_CONCURRENT", "on", 1);
  scvgc_options_init();
  cr_assert_eq(scvgc_opt.concurrent_alone, 1, "set explicitly");
  unsetenv("SCVGC_CONCURRENT");
  setenv("SCVGC_OPTIONS", "concurrent=on", 1);
  scvgc_options_init();
  cr_assert_eq(scvgc_opt.concurrent_alone, 1, "set through SCVGC_OPTIONS");
  unsetenv("SCVGC_OPTIONS");
  unsetenv("SCVGC_MODE");
}
