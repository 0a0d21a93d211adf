/* snapshot.c — reports on demand from a running program (SCVGC_REPORT_SIGNAL, issue 16
 * point 8), as gperftools' HEAPPROFILESIGNAL: a signal makes the library run a leak check and
 * write its text and JSON reports while the program goes on.
 *
 * Owns: the report signal's number, its handler, the request count and the snapshot
 * sequence number.
 * P1 The handler is installed only when SCVGC_REPORT_SIGNAL names a signal (default off), in
 *    the constructor, and only over the default disposition: a signal the program inherited
 *    as ignored, or already handles, is left alone (one line says so). With the option off the
 *    library touches no disposition (guest rule; test/integration/snapshot.sh).
 * P2 The handler is async-signal-safe and does nothing else: it counts a request and wakes the
 *    scavenger thread (scvgc_scavenge_wake: an atomic add and a futex wake), keeping errno.
 *    It never allocates, locks, collects or writes.
 * P3 The work runs on the scavenger thread (scavenge.c), started by the constructor when the
 *    option is set: a library thread, excluded from stopping the world and with every signal
 *    blocked (own.c L1-L2), so the signal is never handled there and a cycle it runs cannot
 *    wait on itself. The scavenger rather than a reporter thread of its own: it already has the
 *    futex word, the fork restart and the quit rule (own.c L3), and forced cycles already run
 *    there; a program gets no extra thread for the option.
 * P4 One snapshot per wake, whatever the count of requests since the last (signals merge
 *    anyway): a cycle (leak mode reclaims nothing), then the report with the sequence number
 *    N = 1, 2, ... of this process: `%p` in SCVGC_REPORT / SCVGC_JSON becomes PID.N, and a path
 *    without `%p` gets .PID.N appended (report.c open_path), so no snapshot overwrites another
 *    or the exit report. The JSON carries "snapshot": N.
 * P5 The program wins: when it installs its own handler for the signal later, the library
 *    neither notices nor reinstalls its own (docs/reports.md "Reports on demand").
 * Fork: the child inherits the handler and its scavenger restarts at its first allocation slow
 *    path (scavenge.c); its sequence starts again at 1 (its pid differs).
 * Locks: none of its own; the report takes report.c's. Callers: the constructor
 *    (scvgc_snapshot_start), the handler (any program thread), the scavenger thread
 *    (scvgc_snapshot_run). Never with the world stopped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "gc.h"
#include "report.h"

static _Atomic uint32_t requests; /* P4: requests not yet served (a count, merged) */
static uint32_t seq;              /* P4: the last snapshot's number (scavenger thread only) */
static int installed;             /* the signal whose handler we installed, 0 none */

/* The signals a user may pick: those a program uses for its own ends or not at all. Not the
 * faults (SEGV, BUS, FPE, ILL, TRAP, ABRT, SYS), not the ones that cannot be caught (KILL, STOP),
 * not job control (CHLD, CONT, TSTP, TTIN, TTOU), not glibc's own (32, 33). */
static const struct { const char *name; int sig; } names[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"USR1", SIGUSR1},
    {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"URG", SIGURG},   {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM},
    {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},       {"POLL", SIGPOLL},
    {"PWR", SIGPWR},
};

static bool allowed(int s) {
  if (s >= SIGRTMIN && s <= SIGRTMAX) return true;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (names[i].sig == s) return true;
  return false;
}

static bool upper_eq(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char c = a[i] >= 'a' && a[i] <= 'z' ? (char)(a[i] - 'a' + 'A') : a[i];
    if (c != b[i]) return false;
  }
  return true;
}

static bool number(const char *s, int *v) {
  int x = 0;
  if (*s < '0' || *s > '9') return false;
  for (; *s >= '0' && *s <= '9'; s++)
    if ((x = x * 10 + (*s - '0')) > 1000) return false;
  if (*s) return false;
  *v = x;
  return true;
}

/* "SIGUSR2", "USR2", "usr2", "12", "SIGRTMIN+3", "RTMAX-1"; "off" is 0. */
bool scvgc_parse_signal(const char *v, int *sig) {
  if (!strcmp(v, "off") || !strcmp(v, "0")) {
    *sig = 0;
    return true;
  }
  int s = -1;
  if (!number(v, &s)) {
    if (strlen(v) > 3 && upper_eq(v, "SIG", 3)) v += 3;
    size_t n = strlen(v);
    for (size_t i = 0; i < sizeof names / sizeof *names && s < 0; i++)
      if (n == strlen(names[i].name) && upper_eq(v, names[i].name, n)) s = names[i].sig;
    if (s < 0 && n >= 5 && (upper_eq(v, "RTMIN", 5) || upper_eq(v, "RTMAX", 5))) {
      bool min = upper_eq(v, "RTMIN", 5);
      int k = 0;
      if (v[5] && (v[5] != (min ? '+' : '-') || !number(v + 6, &k))) return false;
      s = min ? SIGRTMIN + k : SIGRTMAX - k;
    }
  }
  if (s <= 0 || s > SIGRTMAX || !allowed(s)) return false;
  *sig = s;
  return true;
}

/* P2 */
static void on_signal(int sig) {
  (void)sig;
  int e = errno;
  atomic_fetch_add(&requests, 1);
  scvgc_scavenge_wake();
  errno = e;
}

bool scvgc_snapshot_start(void) {
  int s = scvgc_opt.report_signal;
  if (!s || !scvgc_tracking || installed) return false;
  struct sigaction cur, sa;
  if (sigaction(s, NULL, &cur) != 0) return false;
  if ((cur.sa_flags & SA_SIGINFO) || cur.sa_handler != SIG_DFL) { /* P1 */
    scvgc_message("SCVGC_REPORT_SIGNAL: signal %d is %s by the program; not taking it", s,
                  !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_IGN ? "ignored" : "handled");
    return false;
  }
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigfillset(&sa.sa_mask);
  /* the calls Linux restarts go on; nanosleep, poll and their kind return EINTR in the one
   * thread the kernel picked to run the handler, as for any signal a program handles */
  sa.sa_flags = SA_RESTART;
  if (sigaction(s, &sa, NULL) != 0) return false;
  installed = s;
  return true;
}

bool scvgc_snapshot_pending(void) { return atomic_load_explicit(&requests, memory_order_relaxed) != 0; }

/* On the scavenger thread (P3), with no lock held. */
void scvgc_snapshot_run(void) {
  if (!atomic_exchange(&requests, 0)) return;
  if (scvgc_api_turned_off() || !scvgc_gc_ready()) return;
  if (!scvgc_gc_cycle(SCVGC_GC_REQUEST) && !scvgc_gcstats.cycles) {
    scvgc_message("report signal: no cycle could run; no snapshot written");
    return;
  }
  scvgc_report_t r;
  scvgc_report_snapshot(&r, ++seq);
  if (scvgc_opt.trace)
    scvgc_message("snapshot %u: %lu objects leaked", seq, (unsigned long)r.reported_objects);
}

void scvgc_snapshot_fork_child(void) {
  atomic_store(&requests, 0);
  seq = 0;
}
