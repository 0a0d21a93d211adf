/* stw.h — stopping the world (stw.c). Placeholder API until the ptrace implementation. */
#ifndef SCVGC_STW_H
#define SCVGC_STW_H

#include <sys/types.h>

#include "internal.h"

enum { SCVGC_THREAD_STOPPED = 1, SCVGC_THREAD_GONE = 2, SCVGC_THREAD_FAILED = 3 };

typedef struct {
  pid_t tid;
  int state;
  uintptr_t sp;
  uintptr_t regs[32];
  int nregs;
} scvgc_thread_t;

typedef struct scvgc_world scvgc_world_t;
struct scvgc_world {
  scvgc_thread_t *threads;
  int nthreads;
  int cap;
  int method;
  int nfailed;
};

int scvgc_stw_stop(scvgc_world_t *w) SCVGC_HIDDEN;
void scvgc_stw_start(scvgc_world_t *w) SCVGC_HIDDEN;
void scvgc_stw_exclude(pid_t tid) SCVGC_HIDDEN;

#endif
