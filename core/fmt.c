/* fmt.c — a small printf for the core: no allocation, no locks, no stdio.
 *
 * Supports %s %c %d %i %u %x %p %% with the l, ll, z length modifiers, a width, '-' and
 * '0' flags. Everything the library writes (diagnostics, trace lines, reports) goes
 * through here, so it is usable from any thread, with the world stopped, in a fork child.
 */
#include <stdarg.h>
#include <string.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

typedef struct { char *buf; size_t n, len; } out_t;

static void put(out_t *o, char c) {
  if (o->len + 1 < o->n) o->buf[o->len] = c;
  o->len++;
}

static void put_num(out_t *o, unsigned long long v, unsigned base, int neg, int width, int zero,
                    int left) {
  char tmp[24];
  int k = 0;
  do {
    tmp[k++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v);
  int len = k + neg;
  if (!left && !zero)
    for (; width > len; width--) put(o, ' ');
  if (neg) put(o, '-');
  if (!left && zero)
    for (; width > len; width--) put(o, '0');
  while (k) put(o, tmp[--k]);
  for (; left && width > len; width--) put(o, ' ');
}

size_t scvgc_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap) {
  out_t o = {buf, n, 0};
  for (const char *f = fmt; *f; f++) {
    if (*f != '%') { put(&o, *f); continue; }
    f++;
    int left = 0, zero = 0, width = 0, lng = 0;
    for (;; f++) {
      if (*f == '-') left = 1;
      else if (*f == '0') zero = 1;
      else break;
    }
    while (*f >= '0' && *f <= '9') width = width * 10 + (*f++ - '0');
    int prec = -1;
    if (*f == '.') {
      f++;
      if (*f == '*') {
        prec = va_arg(ap, int);
        f++;
      } else {
        for (prec = 0; *f >= '0' && *f <= '9'; f++) prec = prec * 10 + (*f - '0');
      }
    }
    while (*f == 'l' || *f == 'z') { lng++; f++; }
    switch (*f) {
    case 'd': case 'i': {
      long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
      put_num(&o, v < 0 ? -(unsigned long long)v : (unsigned long long)v, 10, v < 0, width, zero, left);
      break;
    }
    case 'u': case 'x': {
      unsigned long long v = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
      put_num(&o, v, *f == 'x' ? 16 : 10, 0, width, zero, left);
      break;
    }
    case 'p':
      put(&o, '0'); put(&o, 'x');
      put_num(&o, (uintptr_t)va_arg(ap, void *), 16, 0, 0, 0, 0);
      break;
    case 's': {
      const char *s = va_arg(ap, const char *);
      if (!s) s = "(null)";
      size_t len = prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s);
      if (!left) for (; width > (int)len; width--) put(&o, ' ');
      for (size_t i = 0; i < len; i++) put(&o, s[i]);
      if (left) for (; width > (int)len; width--) put(&o, ' ');
      break;
    }
    case 'c': put(&o, (char)va_arg(ap, int)); break;
    case '%': put(&o, '%'); break;
    case 0: f--; break;
    default: put(&o, '%'); put(&o, *f);
    }
  }
  if (n) buf[o.len < n ? o.len : n - 1] = 0;
  return o.len;
}

size_t scvgc_snprintf(char *buf, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t r = scvgc_vsnprintf(buf, n, fmt, ap);
  va_end(ap);
  return r;
}

void scvgc_write_all(int fd, const char *s, size_t n) {
  while (n) {
    ssize_t w = write(fd, s, n);
    if (w <= 0) return; /* EINTR included: a diagnostic is not worth a retry loop's risk */
    s += w;
    n -= (size_t)w;
  }
}

/* stderr as the library writes to it. No file descriptor of the library's own: a duplicate
 * kept open would be seen by the program (a test that lists its open descriptors, a daemon
 * that closes them all and opens others in their place, one of which our writes would then
 * clobber). Instead:
 *   E1 fd 2 is used while it is still the file it was at start-up (the same device and inode,
 *      by fstat at each write: a system call, no allocation);
 *   E2 otherwise — the program closed fd 2 (GNU ls and cat do at exit, before our report), or
 *      put something else there (a daemon that closed stdio, whose data file or client socket
 *      became fd 2) — the file fd 2 named at start-up is opened again by its path, for
 *      appending, if it had one (a terminal, a file) and the path still names that file; the
 *      descriptor is closed after the write. A pipe or a socket cannot be opened again: the
 *      output is lost (docs/limitations.md);
 *   E3 never into a file the program put on fd 2: with fd 2 closed at start-up, nothing is
 *      written to stderr at all.
 * scvgc_keep_stderr records the identity and the path (fstat, readlink: no allocation) in the
 * constructor, or at the first message if one comes before it; scvgc_err_open and
 * scvgc_err_close bracket each write. */
static char err_path[256];
static _Atomic int err_kept; /* 0: not recorded yet; 1: fd 2 was open (err_dev, err_ino);
                                2: fd 2 was closed */
static dev_t err_dev;
static ino_t err_ino;

void scvgc_keep_stderr(void) {
  struct stat st;
  if (fstat(2, &st) == 0) {
    err_dev = st.st_dev;
    err_ino = st.st_ino;
    ssize_t n = readlink("/proc/self/fd/2", err_path, sizeof err_path - 1);
    err_path[n > 0 && err_path[0] == '/' && (size_t)n < sizeof err_path - 1 ? n : 0] = 0;
    atomic_store(&err_kept, 1);
  } else {
    err_path[0] = 0;
    atomic_store(&err_kept, 2);
  }
}

static bool is_startup_stderr(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && st.st_dev == err_dev && st.st_ino == err_ino;
}

int scvgc_err_open(void) {
  if (!atomic_load(&err_kept)) scvgc_keep_stderr(); /* a message before the constructor */
  if (atomic_load(&err_kept) != 1) return -1; /* E3 */
  if (is_startup_stderr(2)) return 2;         /* E1 */
  if (!err_path[0]) return -1;
  int fd = open(err_path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd >= 0 && !is_startup_stderr(fd)) { /* the path names another file now */
    close(fd);
    return -1;
  }
  return fd;
}

void scvgc_err_close(int fd) {
  if (fd > 2) close(fd);
}

void scvgc_message(const char *fmt, ...) {
  char line[1024];
  size_t k = scvgc_snprintf(line, sizeof line, "==%d== scvgc: ", (int)getpid());
  va_list ap;
  va_start(ap, fmt);
  size_t m = scvgc_vsnprintf(line + k, sizeof line - k - 1, fmt, ap);
  va_end(ap);
  k += m < sizeof line - k - 1 ? m : sizeof line - k - 2;
  line[k++] = '\n';
  int fd = scvgc_err_open();
  if (fd >= 0) scvgc_write_all(fd, line, k);
  scvgc_err_close(fd);
}

void scvgc_assert_fail(const char *expr, const char *file, int line) {
  scvgc_message("internal error: %s (%s:%d)", expr, file, line);
  __builtin_trap();
}
