/* stw.c — stopping the world. PLACEHOLDER until the ptrace-based implementation lands:
 * it only handles a process whose one thread is the caller; any other thread is reported
 * as failed, so a cycle that meets one frees nothing (SPEC). Uses no allocation. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stw.h"

static scvgc_thread_t one[64]; /* the placeholder keeps the list here */
static pid_t excluded[64];
static int nexcluded;

__attribute__((noinline)) int scvgc_stw_stop(scvgc_world_t *w) {
  __builtin_unwind_init(); /* spill callee-saved registers into this frame */
  pid_t me = (pid_t)syscall(SYS_gettid);
  w->threads = one;
  w->nthreads = 0;
  w->nfailed = 0;
  w->method = 0;
  int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  char buf[4096];
  long n;
  while (fd >= 0 && (n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n;) {
      struct dirent64 *d = (struct dirent64 *)(buf + off);
      off += d->d_reclen;
      if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
      pid_t tid = 0;
      for (const char *c = d->d_name; *c; c++) tid = tid * 10 + (*c - '0');
      bool skip = false;
      for (int k = 0; k < nexcluded; k++) skip |= excluded[k] == tid;
      if (skip) continue;
      if (w->nthreads >= 64) continue;
      scvgc_thread_t *t = &one[w->nthreads++];
      t->tid = tid;
      t->nregs = 0;
      if (tid == me) {
        t->state = SCVGC_THREAD_STOPPED;
        t->sp = (uintptr_t)__builtin_frame_address(0) - 256;
      } else {
        t->state = SCVGC_THREAD_FAILED;
        w->nfailed++;
      }
    }
  }
  if (fd >= 0) close(fd);
  return w->nfailed ? -1 : 0;
}

void scvgc_stw_start(scvgc_world_t *w) { (void)w; }
void scvgc_stw_exclude(pid_t tid) {
  if (nexcluded < 64) excluded[nexcluded++] = tid;
}
