/* own.h — what the library owns in the process (own.c): its mappings, its threads, its own
 * allocations. The index of all of it is own.c's banner.
 */
#ifndef SCVGC_OWN_H
#define SCVGC_OWN_H

#include <sys/types.h>

#include "internal.h"

/* ---- the own-mapping registry (O1, O2): never roots ---------------------------------- */
/* The library's own data and bss (a shared object's writable segments). The constructor,
 * outside the stop-the-world path (dl_iterate_phdr takes the loader's lock). */
void scvgc_own_init(void) SCVGC_HIDDEN;
/* Register a mapping of the library's own (metadata, an excluded region), or drop it.
 * scvgc_sys_map_meta / scvgc_sys_unmap_meta (internal.h) do it for the core's mappings. */
void scvgc_own_mapping(uintptr_t start, size_t len) SCVGC_HIDDEN;
void scvgc_own_unmapping(uintptr_t start, size_t len) SCVGC_HIDDEN;
/* Is addr in a stretch of the library's own (its data and bss included)? *end: where that
 * stretch ends. Caller holds own_lock, or the world is stopped. */
bool scvgc_is_own(uintptr_t addr, uintptr_t *end) SCVGC_HIDDEN;
/* The start of the next own stretch at or after addr; UINTPTR_MAX if none. Same rule. */
uintptr_t scvgc_own_next(uintptr_t addr) SCVGC_HIDDEN;
/* own_lock (OWN in internal.h's lock ranks): the cycle holds it throughout; roots.c guards
 * its exited-threads list and the program's root regions with it too. */
void scvgc_own_lock(void) SCVGC_HIDDEN;
void scvgc_own_unlock(void) SCVGC_HIDDEN;
void scvgc_own_reset_lock(void) SCVGC_HIDDEN; /* fork child */

/* ---- the library's threads (L1-L3) ------------------------------------------------------ */
/* The library's own threads (own.c, L1): markers, the sweeper, the scavenger. Their
 * stacks are the library's own (never scanned: stale copies of what they worked on), but
 * the TCB at the top of each holds the DTV and the thread-specific data that glibc
 * allocated for the thread through malloc: scvgc_libthread_tcbs lists them for roots.c. */
bool scvgc_libthread_start(void *(*fn)(void *), void *arg) SCVGC_HIDDEN;
/* Learn glibc's thread-descriptor layout (scvgc_roots_learn_tcb) from a short-lived thread on
 * a stack of the library's, when no library thread has taught it yet: created, read and
 * joined before this returns. Outside malloc and every core lock but gc_lock. */
void scvgc_libthread_probe(void) SCVGC_HIDDEN;
/* L3 (own.c): the library's threads never keep a process alive. */
extern _Atomic int scvgc_libthreads_quit SCVGC_HIDDEN;
void scvgc_libthreads_thread_exit(void) SCVGC_HIDDEN; /* a program thread's exit hook */
int scvgc_libthread_tcbs(uintptr_t *out, int max) SCVGC_HIDDEN;
bool scvgc_is_libthread(pid_t tid) SCVGC_HIDDEN;

/* ---- the library's own allocations -------------------------------------------------------- */
/* Library-owned allocations. While a thread's scvgc_in_lib is nonzero, what it allocates is
 * the library's own (objmeta.stack = SCVGC_STACK_LIB): the symbolizer's libdw session and
 * caches, the report's buffers — memory that only the library's data (never a root) may
 * point to. Every cycle marks and scans these objects first (gc.c grey_lib), so they stay
 * alive by construction, whichever thread collects and whenever; the library frees them
 * itself. Set it around every library path that allocates through malloc for itself
 * (scvgc_lib_enter/leave nest); never around a call that hands memory to the program. */
extern __thread int scvgc_in_lib SCVGC_HIDDEN __attribute__((tls_model("initial-exec")));
static inline void scvgc_lib_enter(void) { scvgc_in_lib++; }
static inline void scvgc_lib_leave(void) { scvgc_in_lib--; }

#endif
