/* core/fmt.c: the allocation-free formatter that every message goes through. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

Test(fmt, formats_like_printf_for_the_conversions_it_supports) {
  char a[200], b[200];
  scvgc_snprintf(a, sizeof a, "%d|%u|%x|%s|%c|%%|%5d|%-5d|%05u|%zu|%lu|%lld|%-6s|%6s", -42, 42u, 255u,
                 "str", 'c', 7, 7, 7u, (size_t)123456789012ull, 99ul, -5ll, "ab", "cd");
  snprintf(b, sizeof b, "%d|%u|%x|%s|%c|%%|%5d|%-5d|%05u|%zu|%lu|%lld|%-6s|%6s", -42, 42u, 255u, "str",
           'c', 7, 7, 7u, (size_t)123456789012ull, 99ul, -5ll, "ab", "cd");
  cr_assert_str_eq(a, b);
  scvgc_snprintf(a, sizeof a, "%p", (void *)0x1234);
  cr_assert_str_eq(a, "0x1234");
}

Test(fmt, truncates_and_terminates_but_counts_everything) {
  char a[8];
  size_t n = scvgc_snprintf(a, sizeof a, "%s", "0123456789");
  cr_assert_eq(n, 10);
  cr_assert_str_eq(a, "0123456");
}

Test(fmt, messages_carry_the_pid_prefix_and_a_newline, .init = cr_redirect_stderr) {
  scvgc_message("hello %d", 5);
  char want[64];
  snprintf(want, sizeof want, "==%d== scvgc: hello 5\n", (int)getpid());
  cr_assert_stderr_eq_str(want);
}
