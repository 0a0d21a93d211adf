/* unwind.c — the stack walker behind the allocation-stack capture (stack.c).
 *
 * Owns: (1) the rule cache: for every code address met on a stack, in one word, how to step
 * from that frame to its caller, decoded once from the module's DWARF call-frame information
 * (.eh_frame via .eh_frame_hdr, found with _dl_find_object); (2) one walker per thread: a ring
 * of its recent walks (memos, see memo_t; which of them a walk checks: scvgc_unwind, and
 * walker_t.other_skip) and a small private rule cache. A new walk follows
 * a memo's frames where they still hold (one load per frame) and steps by rules only where
 * the stack changed; see docs/stacks.md for the design and the measurements. (3) For the
 * collector (gc.c E1), scvgc_unwind_regs: a slow, uncached walk that also recovers each outer
 * frame's callee-saved registers, to find where a thread entered the library.
 * This is libunwind's x86-64 fast trace (Gtrace.c) plus the memos, without what made
 * libunwind unfit to sit inside malloc: under the preload unw_backtrace cost 150-210 ns per
 * 16-frame capture (python 2.2x glibc), its first memory validation opens a pipe (the
 * program's next open() returns 5 instead of 3), its cache misses call sigprocmask, and its
 * per-thread cache calls pthread_setspecific, which callocs once a program has 32 keys.
 *
 * Locks: walker_lock, a leaf (the walker free list; taken when a thread makes its first
 * capture or exits, never with another lock held); the rule tables are lock-free (rslot_t),
 * growth and invalidation swap tables with a CAS and never unmap a table a reader may be in.
 * Callers: any thread, from inside malloc through scvgc_stack_capture (one walk per thread
 * at a time). Allocates nothing but its own mappings; _dl_find_object is lock-free and
 * async-signal-safe. Safe with the world stopped (it reads only the calling thread's stack
 * and the modules' CFI) and in a fork child once scvgc_unwind_fork_child reset walker_lock.
 * Static TLS: a pointer and a flag (glibc carves static TLS out of every thread's stack).
 *
 * Invariants:
 *   U1 A cached rule for address a was decoded from the CFI that covered a in the generation
 *      named by its key; scvgc_unwind_modules_changed (after dlclose) starts a new one, and
 *      memos of an older generation are not followed.
 *   U2 A walk reads memory only where the CFI of a frame it has proven live says a return
 *      address or a saved %rbp lies: steps by rules check that the CFA is above the frame;
 *      memo frames are followed one at a time, each only after the return address that leads
 *      to it was read and matched, so a stale memo costs a mismatch, never a wild read.
 *   U3 Frames it cannot step through (a CFA expression, no CFI: JIT code) end the walk: the
 *      stack is truncated, never guessed.
 *   U4 A step reads only inside the stack the walk is on, [sp, top) with top from
 *      stack_top: a corrupted saved %rbp, or a signal handler that edited its context
 *      before calling malloc, ends the walk instead of faulting. A signal frame's
 *      interrupted %rsp must lie on the thread's own stack, as far as it is known
 *      (stack_bounds). A walk that starts on a stack of the program's own (a coroutine's,
 *      an alternate signal stack) has no known top: there only U2's 4 GiB step bound
 *      holds, until a signal frame leads back to the thread's stack.
 *
 * Which frames are the library's. The leading frames of a walk — the walker, the capture,
 * malloc's own frames — are skipped; the first frame kept is the caller of the allocation
 * entry point (for C++, operator new). "The library's code" is decided per address, once,
 * when its rule is decoded (bit R_SELF):
 *   - when the core lives in a shared object (libscvgc.so), every address of that object;
 *   - when the core is linked into the program itself (the unit tests link
 *     build/libscvgc_core.a), the program's module cannot be skipped wholesale, so the
 *     functions that can lie between a caller and the walker are named in self_fns below;
 *     a new allocation entry point that captures stacks must be added there.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/ucontext.h>
#include <unistd.h>

#include "internal.h"
#include "alloc_fast.h"
#include "lock.h"
#include "stack.h"
#include "unwind.h"

/* ---- rules ---------------------------------------------------------------------------- */

/* A rule packs one step into a word:
 *   bits 0-1   kind: K_STEP (CFA and registers as below), K_END (the CFI marks the return
 *              address undefined: the outermost frame), K_SIGNAL (the rt_sigreturn
 *              trampoline: the interrupted registers are in the ucontext at the CFA), K_BAD
 *              (anything else: CFA expressions, a return address not at CFA-8, no CFI)
 *   bit 2      CFA = %rbp + cfa_off (else %rsp + cfa_off)
 *   bit 3      the caller's %rbp is saved at CFA + rbp_off (else %rbp is unchanged)
 *   bit 4      the address is in the library's own code (R_SELF)
 *   bit 5      not to be cached (R_NOCACHE)
 *   bit 7      always set: a rule is never 0, which the cache uses as "none"
 *   bits 8-31  rbp_off (signed); bits 32-63 cfa_off (signed)
 * The return address is at CFA - 8 for every K_STEP rule. */
enum { K_STEP = 0, K_END = 1, K_SIGNAL = 2, K_BAD = 3 };
#define R_KIND 3u
#define R_RBP_BASE 4u
#define R_RBP_SAVED 8u
#define R_SELF 16u
#define R_NOCACHE 32u /* the answer may change without a modules_changed (no module covers
                         the address): not cached */
#define R_VALID 128u
#define R_CFA_OFF(r) ((int64_t)(int32_t)(uint32_t)((r) >> 32))
#define R_RBP_OFF(r) ((int64_t)((int32_t)(uint32_t)(r) >> 8))

/* ---- the rule cache ------------------------------------------------------------------- */

/* One cached rule. key = generation << 48 | address; 0 is an empty slot, KEY_BUSY a slot
 * being written. A writer claims a slot by CAS of its key to KEY_BUSY, writes the rule, then
 * the key (release). A reader loads the key (acquire), the rule, and the key again after an
 * acquire fence: unchanged means the rule is the one written with that key (a seqlock read).
 * Slots go empty -> busy -> key, and a key is replaced only by a key of another generation,
 * so a probe may stop at the first empty slot. */
typedef struct {
  _Atomic uint64_t key;
  _Atomic uint64_t rule;
} rslot_t;

typedef struct {
  uint32_t bits;          /* 2^bits slots */
  _Atomic uint32_t used;  /* slots ever filled; the table grows at half */
  uint64_t base;          /* global generation number that key generation 1 stands for */
  size_t bytes;           /* size of this mapping */
  void *prev;             /* the table this one replaced (still mapped), or NULL */
  rslot_t slot[];
} rtab_t;

#define KEY_BUSY 1u
#define KEY_GEN_MAX 0xffffu     /* generations per table: 16 bits above the 48-bit address */
#define PROBES 8                /* a miss costs a decode; a longer probe costs every hit */
#define TAB_BITS_MIN 13         /* 8192 slots, 128 KiB: a few thousand return addresses */
#define TAB_BITS_MAX 21         /* 32 MiB; beyond it, misses are decoded every time */
#define MAX_STEPS 128           /* leading library frames plus kept frames, at most */

static _Atomic(rtab_t *) rtab;
static _Atomic uint64_t rgen = 1; /* global generation: + 1 per scvgc_unwind_modules_changed */
static _Atomic uint64_t n_misses, n_truncated, n_signal, n_other_skips;
static _Atomic size_t rule_bytes;

static rtab_t *rtab_new(uint32_t bits, uint64_t base) {
  size_t bytes = sizeof(rtab_t) + (sizeof(rslot_t) << bits);
  bytes = (bytes + 4095) & ~(size_t)4095;
  rtab_t *t = scvgc_sys_map_meta(bytes); /* counted in gc_sys, registered as the library's */
  if (!t) return NULL;
  t->bits = bits;
  t->base = base;
  t->bytes = bytes;
  atomic_fetch_add_explicit(&rule_bytes, bytes, memory_order_relaxed);
  return t;
}

static void rtab_drop(rtab_t *t) {
  atomic_fetch_sub_explicit(&rule_bytes, t->bytes, memory_order_relaxed);
  scvgc_sys_unmap_meta(t, t->bytes);
}

/* Replace old (the current table) by a new one of 2^bits slots based at generation base.
 * Whoever loses the race drops its table; old stays mapped for readers still in it. */
static void rtab_replace(rtab_t *old, uint32_t bits, uint64_t base) {
  rtab_t *t = rtab_new(bits, base);
  if (!t) return;
  t->prev = old;
  if (!atomic_compare_exchange_strong_explicit(&rtab, &old, t, memory_order_acq_rel,
                                               memory_order_acquire))
    rtab_drop(t);
}

static inline size_t rslot_index(const rtab_t *t, uint64_t key) {
  return (size_t)((key * 0x9E3779B97F4A7C15ull) >> (64 - t->bits));
}

/* The cached rule for key, or 0. */
static inline uint64_t rule_get(const rtab_t *t, uint64_t key) {
  size_t mask = ((size_t)1 << t->bits) - 1, i = rslot_index(t, key);
  for (int p = 0; p < PROBES; p++, i = (i + 1) & mask) {
    rslot_t *s = (rslot_t *)&t->slot[i];
    uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
    if (k == key) {
      uint64_t r = atomic_load_explicit(&s->rule, memory_order_relaxed);
      atomic_thread_fence(memory_order_acquire);
      return atomic_load_explicit(&s->key, memory_order_relaxed) == k ? r : 0;
    }
    if (k == 0) return 0;
  }
  return 0;
}

static void rule_put(rtab_t *t, uint64_t key, uint64_t rule) {
  size_t mask = ((size_t)1 << t->bits) - 1, i = rslot_index(t, key);
  for (int p = 0; p < PROBES; p++, i = (i + 1) & mask) {
    rslot_t *s = &t->slot[i];
    uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
    if (k == key) return;
    bool stale = k != KEY_BUSY && (k >> 48) != (key >> 48);
    if ((k == 0 || stale) &&
        atomic_compare_exchange_strong_explicit(&s->key, &k, KEY_BUSY, memory_order_acquire,
                                                memory_order_relaxed)) {
      atomic_thread_fence(memory_order_release);
      atomic_store_explicit(&s->rule, rule, memory_order_relaxed);
      atomic_store_explicit(&s->key, key, memory_order_release);
      if (k == 0 && atomic_fetch_add_explicit(&t->used, 1, memory_order_relaxed) + 1 >
                        ((uint32_t)1 << t->bits) / 2 && t->bits < TAB_BITS_MAX)
        rtab_replace(t, t->bits + 2, t->base);
      return;
    }
  }
  /* A crowded window: the rule is not cached here (the per-thread cache still has it). */
}

void scvgc_unwind_modules_changed(void) {
  uint64_t g = atomic_fetch_add_explicit(&rgen, 1, memory_order_acq_rel) + 1;
  rtab_t *t = atomic_load_explicit(&rtab, memory_order_acquire);
  /* Generations repeat every 2^16 in a table's keys: start a fresh table before they do. */
  if (t && g - t->base + 1 > KEY_GEN_MAX) rtab_replace(t, t->bits, g);
}

/* ---- reading .eh_frame ----------------------------------------------------------------- */

static uint64_t rd_uleb(const uint8_t **pp) {
  const uint8_t *p = *pp;
  uint64_t v = 0;
  unsigned s = 0;
  uint8_t b;
  do {
    b = *p++;
    if (s < 64) v |= (uint64_t)(b & 0x7f) << s;
    s += 7;
  } while (b & 0x80);
  *pp = p;
  return v;
}

static int64_t rd_sleb(const uint8_t **pp) {
  const uint8_t *p = *pp;
  uint64_t v = 0;
  unsigned s = 0;
  uint8_t b;
  do {
    b = *p++;
    if (s < 64) v |= (uint64_t)(b & 0x7f) << s;
    s += 7;
  } while (b & 0x80);
  if (s < 64 && (b & 0x40)) v |= ~(uint64_t)0 << s;
  *pp = p;
  return (int64_t)v;
}

#define RD(T, p) ({ T v_; memcpy(&v_, (p), sizeof v_); v_; })

/* A DW_EH_PE-encoded value at *pp (the encodings x86-64 toolchains emit). datarel: the
 * base of DW_EH_PE_datarel (the start of .eh_frame_hdr). false: omitted or unsupported. */
static bool rd_enc(const uint8_t **pp, uint8_t enc, uintptr_t datarel, uintptr_t *out) {
  const uint8_t *p = *pp;
  uintptr_t v;
  if (enc == 0xff) return false; /* DW_EH_PE_omit */
  switch (enc & 0x0f) {
  case 0x00: v = RD(uint64_t, p); p += 8; break;            /* absptr */
  case 0x01: v = rd_uleb(&p); break;                         /* uleb128 */
  case 0x02: v = RD(uint16_t, p); p += 2; break;             /* udata2 */
  case 0x03: v = RD(uint32_t, p); p += 4; break;             /* udata4 */
  case 0x04: v = RD(uint64_t, p); p += 8; break;             /* udata8 */
  case 0x09: v = (uintptr_t)rd_sleb(&p); break;              /* sleb128 */
  case 0x0a: v = (uintptr_t)(int64_t)RD(int16_t, p); p += 2; break;
  case 0x0b: v = (uintptr_t)(int64_t)RD(int32_t, p); p += 4; break;
  case 0x0c: v = (uintptr_t)RD(int64_t, p); p += 8; break;
  default: return false;
  }
  switch (enc & 0x70) {
  case 0x00: break;
  case 0x10: v += (uintptr_t)*pp; break; /* pcrel: from the field itself */
  case 0x30: v += datarel; break;
  default: return false;                 /* textrel, funcrel, aligned: not on x86-64 */
  }
  if (enc & 0x80) v = RD(uintptr_t, (const void *)v); /* indirect */
  *pp = p;
  *out = v;
  return true;
}

/* What the CIE and FDE of an address say, ready to run. */
typedef struct {
  uintptr_t begin, end;         /* the function (FDE range) */
  const uint8_t *cie_ins, *cie_end, *fde_ins, *fde_end;
  uint64_t caf;                 /* code alignment factor */
  int64_t daf;                  /* data alignment factor */
  uint8_t fde_enc;
  bool signal;                  /* 'S': a signal trampoline */
} fde_t;

/* Find and parse the FDE covering pc. false: no CFI for pc, or CFI in a form this reader
 * does not take (each is checked; none is emitted by GCC, Clang, GNU ld, gold or lld). */
static bool fde_find(uintptr_t pc, fde_t *f) {
  struct dl_find_object o;
  if (_dl_find_object((void *)pc, &o) != 0 || !o.dlfo_eh_frame) return false;
  const uint8_t *hdr = o.dlfo_eh_frame, *p = hdr + 4;
  uintptr_t hbase = (uintptr_t)hdr, ehf, count;
  if (hdr[0] != 1 || !rd_enc(&p, hdr[1], hbase, &ehf) || !rd_enc(&p, hdr[2], hbase, &count))
    return false;
  if (hdr[3] != 0x3b || count == 0) return false; /* table: datarel sdata4 pairs, sorted */
  size_t lo = 0, hi = count;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (hbase + (intptr_t)RD(int32_t, p + 8 * mid) <= pc) lo = mid;
    else hi = mid;
  }
  if (hbase + (intptr_t)RD(int32_t, p + 8 * lo) > pc) return false;
  const uint8_t *fde = (const uint8_t *)(hbase + (intptr_t)RD(int32_t, p + 8 * lo + 4));

  uint32_t len = RD(uint32_t, fde);
  if (len == 0 || len == 0xffffffffu) return false;
  const uint8_t *q = fde + 4, *fend = q + len;
  const uint8_t *cie = q - RD(uint32_t, q);
  q += 4;

  uint32_t clen = RD(uint32_t, cie);
  if (clen == 0 || clen == 0xffffffffu || RD(uint32_t, cie + 4) != 0) return false;
  const uint8_t *c = cie + 8, *cend = cie + 4 + clen;
  uint8_t version = *c++;
  if (version != 1 && version != 3) return false;
  const char *aug = (const char *)c;
  c += strlen(aug) + 1;
  if (aug[0] == 'e' && aug[1] == 'h') return false; /* pre-GCC 3 */
  f->caf = rd_uleb(&c);
  f->daf = rd_sleb(&c);
  uint64_t ra = version == 1 ? *c++ : rd_uleb(&c);
  if (ra != 16) return false;
  f->fde_enc = 0;
  f->signal = false;
  bool z = aug[0] == 'z';
  if (z) {
    uint64_t alen = rd_uleb(&c);
    const uint8_t *aend = c + alen;
    for (const char *a = aug + 1; *a; a++) {
      uintptr_t skip;
      switch (*a) {
      case 'R': f->fde_enc = *c++; break;
      case 'L': c++; break;
      case 'P': {
        uint8_t e = *c++;
        if (!rd_enc(&c, e & 0x7f, 0, &skip)) return false;
        break;
      }
      case 'S': f->signal = true; break;
      case 'B': break;
      default: return false;
      }
    }
    c = aend;
  } else if (aug[0]) {
    return false;
  }
  f->cie_ins = c;
  f->cie_end = cend;

  uintptr_t begin, range;
  if (!rd_enc(&q, f->fde_enc, hbase, &begin) || !rd_enc(&q, f->fde_enc & 0x0f, 0, &range))
    return false;
  if (z) {
    uint64_t alen = rd_uleb(&q);
    q += alen;
  }
  f->begin = begin;
  f->end = begin + range;
  f->fde_ins = q;
  f->fde_end = fend;
  return pc >= f->begin && pc < f->end;
}

/* ---- running the CFA program ----------------------------------------------------------- */

enum { H_SAME = 0, H_OFFSET, H_UNDEF, H_OTHER };
#define REG_CFA_EXPR 0xff
#define DW_RBP 6
#define DW_RSP 7
#define DW_RA 16

/* The rules this walker uses, for one row of the CFI table. Registers other than %rbp,
 * %rsp and the return address are not needed to find return addresses: their rules are
 * read and dropped (a CFA based on one of them makes the frame K_BAD). */
typedef struct {
  uint8_t cfa_reg, rbp_how, rsp_how, ra_how;
  int64_t cfa_off, rbp_off, ra_off;
  /* rbx and r12-r15: only scvgc_unwind_regs (below) reads these, off the capture path */
  uint8_t cs_how[5];
  int64_t cs_off[5];
} row_t;

/* Index in row_t.cs_* of DWARF register reg (rbx 3, r12-r15 12-15), or -1. */
static inline int cs_index(uint64_t reg) {
  return reg == 3 ? 0 : reg >= 12 && reg <= 15 ? (int)reg - 11 : -1;
}

#define STATE_DEPTH 8

static void set_reg(row_t *r, uint64_t reg, uint8_t how, int64_t off) {
  int k;
  if (reg == DW_RBP) { r->rbp_how = how; r->rbp_off = off; }
  else if (reg == DW_RSP) r->rsp_how = how;
  else if (reg == DW_RA) { r->ra_how = how; r->ra_off = off; }
  else if ((k = cs_index(reg)) >= 0) { r->cs_how[k] = how; r->cs_off[k] = off; }
}

static void restore_reg(row_t *r, const row_t *init, uint64_t reg) {
  int k;
  if (reg == DW_RBP) { r->rbp_how = init->rbp_how; r->rbp_off = init->rbp_off; }
  else if (reg == DW_RSP) r->rsp_how = init->rsp_how;
  else if (reg == DW_RA) { r->ra_how = init->ra_how; r->ra_off = init->ra_off; }
  else if ((k = cs_index(reg)) >= 0) {
    r->cs_how[k] = init->cs_how[k];
    r->cs_off[k] = init->cs_off[k];
  }
}

/* Run instructions [p, end) from location loc, stopping before the first row that starts
 * after target. init: the row after the CIE's instructions (DW_CFA_restore), or NULL
 * while running them. false: an instruction this walker cannot follow. */
static bool cfa_run(const fde_t *f, const uint8_t *p, const uint8_t *end, uintptr_t loc,
                    uintptr_t target, row_t *row, const row_t *init) {
  row_t stack[STATE_DEPTH];
  int depth = 0;
  while (p < end) {
    uint8_t op = *p++;
    uint64_t reg, delta;
    int64_t off;
    uintptr_t addr;
    switch (op >> 6) {
    case 1: /* DW_CFA_advance_loc */
      loc += (uint64_t)(op & 0x3f) * f->caf;
      if (loc > target) return true;
      continue;
    case 2: /* DW_CFA_offset */
      off = (int64_t)rd_uleb(&p) * f->daf;
      set_reg(row, op & 0x3f, H_OFFSET, off);
      continue;
    case 3: /* DW_CFA_restore */
      if (init) restore_reg(row, init, op & 0x3f);
      continue;
    }
    switch (op) {
    case 0x00: break; /* nop */
    case 0x01:        /* set_loc */
      if (!rd_enc(&p, f->fde_enc, 0, &addr)) return false;
      loc = addr;
      if (loc > target) return true;
      break;
    case 0x02: case 0x03: case 0x04: /* advance_loc1, 2, 4 */
      delta = op == 0x02 ? *p : op == 0x03 ? RD(uint16_t, p) : RD(uint32_t, p);
      p += op == 0x02 ? 1 : op == 0x03 ? 2 : 4;
      loc += delta * f->caf;
      if (loc > target) return true;
      break;
    case 0x05: /* offset_extended */
      reg = rd_uleb(&p);
      off = (int64_t)rd_uleb(&p) * f->daf;
      set_reg(row, reg, H_OFFSET, off);
      break;
    case 0x06: /* restore_extended */
      reg = rd_uleb(&p);
      if (init) restore_reg(row, init, reg);
      break;
    case 0x07: set_reg(row, rd_uleb(&p), H_UNDEF, 0); break;
    case 0x08: set_reg(row, rd_uleb(&p), H_SAME, 0); break;
    case 0x09: /* register */
      reg = rd_uleb(&p);
      rd_uleb(&p);
      set_reg(row, reg, H_OTHER, 0);
      break;
    case 0x0a: /* remember_state */
      if (depth == STATE_DEPTH) return false;
      stack[depth++] = *row;
      break;
    case 0x0b: /* restore_state: the whole row, CFA rule included, as libgcc does and as
                  GCC's epilogues in mid-function rely on */
      if (depth == 0) return false;
      *row = stack[--depth];
      break;
    case 0x0c: /* def_cfa */
      row->cfa_reg = (uint8_t)rd_uleb(&p);
      row->cfa_off = (int64_t)rd_uleb(&p);
      break;
    case 0x0d: row->cfa_reg = (uint8_t)rd_uleb(&p); break; /* def_cfa_register */
    case 0x0e: row->cfa_off = (int64_t)rd_uleb(&p); break; /* def_cfa_offset */
    case 0x0f: /* def_cfa_expression */
      delta = rd_uleb(&p);
      p += delta;
      row->cfa_reg = REG_CFA_EXPR;
      break;
    case 0x10: case 0x16: /* expression, val_expression */
      reg = rd_uleb(&p);
      delta = rd_uleb(&p);
      p += delta;
      set_reg(row, reg, H_OTHER, 0);
      break;
    case 0x11: /* offset_extended_sf */
      reg = rd_uleb(&p);
      off = rd_sleb(&p) * f->daf;
      set_reg(row, reg, H_OFFSET, off);
      break;
    case 0x12: /* def_cfa_sf */
      row->cfa_reg = (uint8_t)rd_uleb(&p);
      row->cfa_off = rd_sleb(&p) * f->daf;
      break;
    case 0x13: row->cfa_off = rd_sleb(&p) * f->daf; break; /* def_cfa_offset_sf */
    case 0x14: case 0x15: /* val_offset, val_offset_sf */
      reg = rd_uleb(&p);
      if (op == 0x14) rd_uleb(&p);
      else rd_sleb(&p);
      set_reg(row, reg, H_OTHER, 0);
      break;
    case 0x2e: rd_uleb(&p); break; /* GNU_args_size */
    case 0x2f:                     /* GNU_negative_offset_extended */
      reg = rd_uleb(&p);
      off = -(int64_t)rd_uleb(&p) * f->daf;
      set_reg(row, reg, H_OFFSET, off);
      break;
    default: return false;
    }
  }
  return true;
}

/* The rt_sigreturn trampoline: mov $15, %rax; syscall — what libgcc and libunwind check. */
static bool is_sigreturn(uintptr_t pc) {
  static const uint8_t code[9] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};
  return memcmp((const void *)pc, code, sizeof code) == 0;
}

/* ---- the library's own code -------------------------------------------------------------- */

static void *const self_fns[] = {
    (void *)scvgc_unwind,      (void *)scvgc_stack_capture, (void *)scvgc_track,
    (void *)scvgc_malloc_slow, (void *)scvgc_malloc_large,  (void *)scvgc_malloc,
    (void *)scvgc_calloc,      (void *)scvgc_realloc,       (void *)scvgc_memalign,
};
#define NSELF (sizeof self_fns / sizeof self_fns[0])

typedef struct {
  bool module;              /* the core is a shared object: [lo, hi) is all of it */
  uintptr_t lo, hi;
  uintptr_t fn[NSELF][2];   /* otherwise: the functions' ranges */
} self_t;

static self_t self_data;
static _Atomic int self_state; /* 0 unknown, 1 being written, 2 self_data is valid */

static void self_compute(self_t *s) {
  struct dl_find_object o;
  memset(s, 0, sizeof *s);
  if (_dl_find_object((void *)scvgc_unwind, &o) == 0 && o.dlfo_link_map &&
      o.dlfo_link_map->l_name && o.dlfo_link_map->l_name[0]) {
    s->module = true;
    s->lo = (uintptr_t)o.dlfo_map_start;
    s->hi = (uintptr_t)o.dlfo_map_end;
    return;
  }
  for (size_t i = 0; i < NSELF; i++) {
    fde_t f;
    if (fde_find((uintptr_t)self_fns[i], &f)) {
      s->fn[i][0] = f.begin;
      s->fn[i][1] = f.end;
    }
  }
}

/* Computed once; a thread that finds another one writing it computes its own copy rather
 * than wait (no spinning inside malloc, and a fork child never waits on a lost thread). */
static bool is_self(uintptr_t pc) {
  self_t local;
  const self_t *s = &self_data;
  if (atomic_load_explicit(&self_state, memory_order_acquire) != 2) {
    int expect = 0;
    if (atomic_compare_exchange_strong(&self_state, &expect, 1)) {
      self_compute(&self_data);
      atomic_store_explicit(&self_state, 2, memory_order_release);
    } else {
      self_compute(&local);
      s = &local;
    }
  }
  if (s->module) return pc >= s->lo && pc < s->hi;
  for (size_t i = 0; i < NSELF; i++)
    if (pc >= s->fn[i][0] && pc < s->fn[i][1]) return true;
  return false;
}

bool scvgc_unwind_is_self(uintptr_t pc) { return is_self(pc); }

/* ---- decoding a rule ---------------------------------------------------------------------- */

/* The rule of the frame executing at key: key is the return address less one (so that a call
 * at the very end of a function is looked up in that function), or the exact pc for the
 * walker's own frame and for a frame a signal interrupted (is_ra false). *cacheable: false
 * when the answer may change without a modules_changed call (an address no module covers:
 * JIT code, or a module the loader has not registered yet). */
static uint64_t rule_decode(uintptr_t key, bool is_ra, bool *cacheable) {
  atomic_fetch_add_explicit(&n_misses, 1, memory_order_relaxed);
  uint64_t self = is_self(key) ? R_SELF : 0;
  fde_t f;
  *cacheable = true;
  if (!fde_find(key, &f)) {
    *cacheable = false;
    return R_VALID | self | K_BAD;
  }
  row_t init = {.cfa_reg = DW_RSP, .cfa_off = 8, .rbp_how = H_SAME, .rsp_how = H_SAME,
                .ra_how = H_UNDEF};
  if (!cfa_run(&f, f.cie_ins, f.cie_end, f.begin, UINTPTR_MAX, &init, NULL))
    return R_VALID | self | K_BAD;
  row_t row = init;
  if (!cfa_run(&f, f.fde_ins, f.fde_end, f.begin, key, &row, &init))
    return R_VALID | self | K_BAD;
  if (f.signal)
    return R_VALID | self | (is_ra && is_sigreturn(key + 1) ? K_SIGNAL : K_BAD);
  if (row.ra_how == H_UNDEF) return R_VALID | self | K_END;
  if ((row.cfa_reg != DW_RSP && row.cfa_reg != DW_RBP) || row.ra_how != H_OFFSET ||
      row.ra_off != -8 || row.rsp_how != H_SAME || row.rbp_how == H_OTHER ||
      row.cfa_off != (int32_t)row.cfa_off || row.rbp_off < -(1 << 23) ||
      row.rbp_off >= (1 << 23))
    return R_VALID | self | K_BAD;
  uint64_t r = R_VALID | self | K_STEP | ((uint64_t)(uint32_t)(int32_t)row.cfa_off << 32);
  if (row.cfa_reg == DW_RBP) r |= R_RBP_BASE;
  if (row.rbp_how == H_OFFSET) r |= R_RBP_SAVED | ((uint64_t)((uint32_t)row.rbp_off & 0xffffff) << 8);
  return r;
}

/* ---- finding a rule ------------------------------------------------------------------------ */

/* A small per-thread cache (in the walker, below) in front of the shared table: the table is
 * large and sparse, and a walk's few new frames would otherwise each cost a cache miss there.
 * Direct-mapped, keyed like the table (generation and address); thread-private. */
#define L0_BITS 9 /* python: 256 entries hit 90.5% of lookups, 1024 hit 98.6% */
typedef struct {
  uint64_t key, rule;
} l0_t;

/* The rule for key (exact: key is the pc itself, else the return address less one). kg: the
 * walk's key generation in t (0: bypass the caches); l0: the thread's cache, or NULL. */
static uint64_t rule_find(rtab_t *t, uint64_t kg, uintptr_t key, bool exact, l0_t *l0) {
  uint64_t k = kg | key;
  l0_t *e = l0 ? &l0[(k * 0x9E3779B97F4A7C15ull) >> (64 - L0_BITS)] : NULL;
  if (likely(e && kg && e->key == k)) return e->rule;
  uint64_t r = kg ? rule_get(t, k) : 0;
  if (!r) {
    bool cacheable;
    r = rule_decode(key, !exact, &cacheable);
    if (!cacheable) return r | R_NOCACHE;
    if (kg) rule_put(t, k, r);
  }
  if (e && kg) {
    e->key = k;
    e->rule = r;
  }
  return r;
}

/* Recent walks of the calling thread (the memos). A step depends only on the frame's rule (its
 * pc) and on %rsp or %rbp, so when a walk reaches a frame with a remembered pc, the remembered
 * frames above it are its frames too — moved by the difference of the two stack positions —
 * for as long as each return address read at the moved position equals the remembered one:
 * one independent load per frame instead of a chain of dependent rule lookups. Consecutive
 * allocations share most of their stack, and a program's allocation stacks come back in
 * short cycles (an interpreter's loop, a parser's recursion: python's pass through about five
 * shapes), so a few recent walks recognise most captures whole — answered with their tag, the
 * depot id, without hashing — and most frames of the others. */
typedef struct {
  uintptr_t pc;   /* the frame's pc: a return address, or see MF_EXACT */
  uintptr_t sp;   /* %rsp in the frame (8-aligned) | MF_SLOW, MF_EXACT */
  uint64_t rule;  /* the step taken from this frame (0: none taken) */
} mframe_t;
#define MF_SLOW 1u  /* the step is not a plain %rsp-based K_STEP (or was not taken) */
#define MF_EXACT 2u /* pc is not a return address (the walker's own frame, or a frame a signal
                       interrupted): its rule is looked up at pc, not pc - 1 */
#define MF_FLAGS ((uintptr_t)7)
#define MEMO_CAP (SCVGC_STACK_MAX_DEPTH + 16)
#define NMEMO 8 /* whole captures in bench/workloads/pywork.py: 2 memos 8%, 4: 25%, 8: 40%,
                   16: 50% (and a memo costs 2 KiB of walker) */

/* Why a walk ended: CL_OPEN it stopped (max reached, MEMO_CAP); CL_RULE the last frame's rule
 * ends every chain (K_END, K_BAD: the same wherever the frame sits); CL_VALUE a check on
 * values failed (a CFA not above the frame, a null return address: may differ when moved). */
enum { CL_OPEN = 0, CL_RULE = 1, CL_VALUE = 2 };

typedef struct {
  uint64_t gen;   /* rgen when recorded: a memo of another generation is ignored (U1) */
  int n;          /* frames in f: f[i+1] is where f[i].rule leads */
  int nlead;      /* leading frames of the library: the walk returned f[nlead..n) */
  int max;        /* the max that walk was given */
  int closed;     /* CL_*: why the walk ended at f[n-1] */
  uint32_t tag;   /* scvgc_unwind_set_tag: names the pcs that walk returned (0: none) */
  uint8_t succ;   /* the memo the thread's next capture used, last time (NMEMO: none) */
  mframe_t f[MEMO_CAP];
} memo_t;

/* A thread's walker: its memos and its rule cache. Not in static TLS (glibc carves static TLS
 * out of every thread's stack, and a program that asks for 16 KiB stacks must keep getting
 * them): blocks come from mmap'd chunks, one per thread on its first capture, and go back to
 * a free list when the thread exits (a pthread key's destructor). A thread without one (its
 * exit destructors running, no key left) walks without memos. */
typedef struct walker {
  memo_t m[NMEMO];
  uint8_t lru[NMEMO]; /* indices into m, most recently used first */
  uint8_t last;       /* the memo of the thread's last capture (lru[0]) */
  /* The check of another memo (scvgc_unwind) pays where it finds walks whole: python finds
   * many that way. In a recursion it never does, and costs 12% of GCBench's walker
   * instructions: after OTHER_FAILS checks in a row that found none, the next OTHER_SKIP
   * captures do not check. */
  uint8_t other_fail, other_skip;
  l0_t l0[1u << L0_BITS];
  uintptr_t lo, hi;    /* U4: the thread's stack as far as it is known; hi 0: unknown */
  struct walker *next; /* on the free list */
} walker_t;

#define OTHER_FAILS 32
#define OTHER_SKIP 96
#define WALKER_CHUNK ((size_t)256 << 10)
static __thread walker_t *my_walker __attribute__((tls_model("initial-exec")));
static __thread int walker_gone __attribute__((tls_model("initial-exec"))); /* exited or none */
static scvgc_lock_t walker_lock = SCVGC_LOCK_RANKED(SCVGC_RANK_WALKER); /* free list, chunk cursor, key creation */
static walker_t *walker_free;
static char *walker_cur, *walker_end;
static pthread_key_t walker_key;
static _Atomic int walker_key_state; /* 0 none, 1 created, 2 could not be created */
static _Atomic size_t walker_bytes;
static void *walker_chunks; /* mapped chunks, linked through their first word */

static void walker_release(void *p) {
  walker_t *w = p;
  my_walker = NULL;
  walker_gone = 1;
  scvgc_lock(&walker_lock);
  w->next = walker_free;
  walker_free = w;
  scvgc_unlock(&walker_lock);
}

/* The calling thread's walker, made on its first capture; NULL: walk without one. Inside
 * malloc: pthread_key_create neither allocates nor locks; pthread_setspecific callocs when the
 * key's index is 32 or more, a nested malloc whose capture returns 0 at once. */
extern void *__libc_stack_end; /* glibc: the main thread's stack at _start */

/* U4: the calling thread's stack, [lo, hi), once per thread (system calls, no allocation).
 * hi: the main thread's argument vectors (argv, envp, auxv: more than 512 bytes) lie above
 * __libc_stack_end in its stack mapping; another thread's struct pthread (the thread
 * pointer) sits above its stack and static TLS. lo: hi less RLIMIT_STACK (glibc's default
 * thread stack size too), 1 GiB when unlimited. A deeper stack (a thread given a larger
 * one) is just not known below lo: walks that start there are bounded by U2 alone. */
static void stack_bounds(uintptr_t *lo, uintptr_t *hi) {
  struct rlimit rl;
  uintptr_t size = (uintptr_t)1 << 30;
  if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= (64u << 10) &&
      rl.rlim_cur < size)
    size = (uintptr_t)rl.rlim_cur;
  *hi = 0;
  if (syscall(SYS_gettid) == getpid()) {
    if (__libc_stack_end) *hi = (uintptr_t)__libc_stack_end + 512;
  } else {
    *hi = (uintptr_t)__builtin_thread_pointer();
  }
  *lo = *hi > size ? *hi - size : 0;
}

static walker_t *walker_new(void) {
  walker_t *w = NULL;
  scvgc_lock(&walker_lock);
  if (atomic_load_explicit(&walker_key_state, memory_order_relaxed) == 0)
    atomic_store_explicit(&walker_key_state,
                          pthread_key_create(&walker_key, walker_release) == 0 ? 1 : 2,
                          memory_order_relaxed);
  if (atomic_load_explicit(&walker_key_state, memory_order_relaxed) == 1) {
    if ((w = walker_free)) {
      walker_free = w->next;
    } else {
      size_t size = (sizeof(walker_t) + 63) & ~(size_t)63;
      if ((size_t)(walker_end - walker_cur) < size) {
        char *c = scvgc_sys_map(WALKER_CHUNK);
        if (c) {
          atomic_fetch_add_explicit(&scvgc_gc_sys, WALKER_CHUNK, memory_order_relaxed);
          atomic_fetch_add_explicit(&walker_bytes, WALKER_CHUNK, memory_order_relaxed);
          *(void **)c = walker_chunks;
          walker_chunks = c;
          walker_cur = c + 64;
          walker_end = c + WALKER_CHUNK;
        }
      }
      if ((size_t)(walker_end - walker_cur) >= size) {
        w = (walker_t *)walker_cur;
        walker_cur += size;
      }
    }
  }
  scvgc_unlock(&walker_lock);
  if (!w) {
    walker_gone = 1;
    return NULL;
  }
  for (int k = 0; k < NMEMO; k++) {
    w->m[k].n = 0;
    w->m[k].succ = NMEMO;
    w->lru[k] = (uint8_t)k;
  }
  w->last = 0;
  w->other_fail = w->other_skip = 0;
  stack_bounds(&w->lo, &w->hi);
  if (pthread_setspecific(walker_key, w) != 0) {
    walker_release(w);
    return NULL;
  }
  return my_walker = w;
}

void scvgc_unwind_start(void) {
  if (!my_walker && !walker_gone) walker_new();
}

void scvgc_unwind_set_tag(uint32_t tag) {
  if (my_walker) my_walker->m[my_walker->lru[0]].tag = tag;
}

/* Memo lru[k] was this capture's: it becomes the most recent, and the previous one's
 * successor. */
_Static_assert(NMEMO == 8, "memo_used moves the lru bytes as one word");
static inline void memo_used(walker_t *t, int k) {
  /* lru[0..k-1] move up one, lru[k] to the front: in one word, not a libc call */
  uint64_t v;
  memcpy(&v, t->lru, sizeof v);
  uint64_t x = (v >> (8 * k)) & 0xff;
  uint64_t below = ((uint64_t)1 << (8 * k)) - 1;               /* lru[0..k-1] */
  uint64_t above = k == 7 ? 0 : ~(((uint64_t)1 << (8 * k + 8)) - 1); /* lru[k+1..] */
  v = (v & above) | ((v & below) << 8) | x;
  memcpy(t->lru, &v, sizeof v);
  t->m[t->last].succ = x;
  t->last = x;
}

/* The live %rbp of m->f[to], knowing it is b at f[from] and that the frames from+1..to are
 * live at their remembered %rsp + d: the value the last step of them that reloads %rbp read. */
__attribute__((no_sanitize_address)) static inline uintptr_t
memo_bp(const memo_t *m, int from, uintptr_t b, int to, uintptr_t d) {
  for (int k = to - 1; k >= from; k--) {
    uint64_t r = m->f[k].rule;
    if (r & R_RBP_SAVED)
      return *(const uintptr_t *)((m->f[k + 1].sp & ~MF_FLAGS) + d + (uintptr_t)R_RBP_OFF(r));
  }
  return b;
}

/* Check the remembered steps from m->f[i], which is live at its remembered %rsp + *delta with
 * %rbp *bp, up to f[lim] at most, while each moved return address still holds. Returns the
 * last frame e reached; *delta and *bp become f[e]'s; *moved: some frame of f[i..e] is live
 * elsewhere than remembered; *diverged: the live return address that differed (0: none). */
__attribute__((no_sanitize_address)) static inline int
memo_check(const memo_t *m, int i, int lim, uintptr_t *delta, uintptr_t *bp, bool *moved,
           uintptr_t *diverged) {
  uintptr_t d = *delta, b = *bp, any = d;
  int bi = i; /* b is the live %rbp of f[bi] */
  *diverged = 0;
  if (lim > m->n - 1) lim = m->n - 1;
  for (; i < lim; i++) {
    const mframe_t *f = &m->f[i];
    uintptr_t nd = d, next = f[1].sp & ~MF_FLAGS;
    if (unlikely(f->sp & MF_SLOW)) { /* the CFA is %rbp-based: the step moves with %rbp */
      uint64_t r = f->rule;
      if ((r & (R_VALID | R_KIND)) != (R_VALID | K_STEP)) break;
      b = memo_bp(m, bi, b, i, d);
      bi = i;
      nd = b + (uintptr_t)R_CFA_OFF(r) - next;
      any |= nd;
    }
    uintptr_t ra = *(const uintptr_t *)(next + nd - 8);
    if (ra != f[1].pc) {
      *diverged = ra;
      break;
    }
    d = nd;
  }
  *delta = d;
  *bp = memo_bp(m, bi, b, i, d);
  *moved = any != 0;
  return i;
}

/* Does the check that reached f[e] of m recognise m's whole walk (for a walk given max)? */
static inline bool memo_whole(const memo_t *m, int e, int max) {
  return e == m->n - 1 && m->tag && m->max == max &&
         (m->closed == CL_RULE || (m->closed == CL_OPEN && m->n - m->nlead == max));
}

/* Copy the checked frames m->f[i..e] (as memo_check found them from delta d and %rbp b at
 * f[i]) to out, at their live positions. */
__attribute__((no_sanitize_address)) static inline void
memo_copy(const memo_t *m, int i, int e, uintptr_t d, uintptr_t b, bool moved, mframe_t *out) {
  memcpy(out, &m->f[i], (size_t)(e - i + 1) * sizeof *out);
  if (!moved) return;
  for (; i <= e; i++, out++) {
    const mframe_t *f = &m->f[i];
    uint64_t r = f->rule;
    out->sp = f->sp + d;
    if (i == e) break;
    uintptr_t nd = d, next = f[1].sp & ~MF_FLAGS;
    if ((f->sp & MF_SLOW) && (r & R_RBP_BASE)) nd = b + (uintptr_t)R_CFA_OFF(r) - next;
    if (r & R_RBP_SAVED) b = *(const uintptr_t *)(next + nd + (uintptr_t)R_RBP_OFF(r));
    d = nd;
  }
}

/* U4: the top of the calling thread's stack when sp is on it, else UINTPTR_MAX. */
static inline uintptr_t stack_top(const walker_t *T, uintptr_t sp) {
  return T && T->hi && sp >= T->lo && sp < T->hi ? T->hi : UINTPTR_MAX;
}

/* Not instrumented: it reads return-address and saved-register slots of other frames. */
__attribute__((noinline, no_sanitize_address)) int scvgc_unwind(uintptr_t *pcs, int max,
                                                                 uint32_t *tag, uint64_t *hash) {
  uintptr_t pc, sp, bp;
  __asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2"
                   : "=r"(pc), "=r"(sp), "=r"(bp));
  *tag = 0;
  if (max <= 0) return 0;
  if (max > SCVGC_STACK_MAX_DEPTH) max = SCVGC_STACK_MAX_DEPTH;
  walker_t *T = my_walker;
  if (unlikely(!T) && !walker_gone) T = walker_new();
  uintptr_t top = stack_top(T, sp); /* U4 */
  uint64_t g = atomic_load_explicit(&rgen, memory_order_acquire);

  /* Frame 0 (the walker's own) is in every memo, wherever the stack now is: follow a memo
   * from there, the predicted one, then the most recent, then the others that go on where
   * that one stopped holding. */
  int ri = 0; /* lru position of the reference memo */
  const memo_t *old = NULL;
  int on = 0, e0 = -1, sk = -1;
  uintptr_t d0 = 0, b0 = bp, d = 0, b = bp, npc = 0;
  bool moved = false;
  if (likely(T != NULL)) {
    /* Stacks come back in cycles: first the memo that came after the last one, last time. */
    int s = T->m[T->last].succ;
    if (s < NMEMO && s != T->lru[0]) {
      const memo_t *m = &T->m[s];
      if (m->gen == g && m->n && m->f[0].pc == pc) {
        uintptr_t dk = sp - (m->f[0].sp & ~MF_FLAGS), bk = bp, nk;
        bool mk;
        if (memo_whole(m, memo_check(m, 0, MEMO_CAP, &dk, &bk, &mk, &nk), max)) {
          *tag = m->tag;
          for (sk = 1; T->lru[sk] != s; sk++) {}
          memo_used(T, sk);
          return m->n - m->nlead;
        }
      }
    }
    old = &T->m[T->lru[0]];
    on = old->gen == g && old->n && old->f[0].pc == pc ? old->n : 0;
    sk = s;
  }
  if (on) {
    d0 = d = sp - (old->f[0].sp & ~MF_FLAGS);
    e0 = memo_check(old, 0, MEMO_CAP, &d, &b, &moved, &npc);
    if (memo_whole(old, e0, max)) {
      *tag = old->tag;
      memo_used(T, 0);
      return old->n - old->nlead;
    }
    bool other = T->other_skip == 0;
    if (!other) T->other_skip--;
    for (int k = 1; other && npc && k < NMEMO; k++) {
      const memo_t *m = &T->m[T->lru[k]];
      if (T->lru[k] == sk || m->gen != g || m->n <= e0 + 1 || m->f[e0 + 1].pc != npc ||
          m->f[0].pc != pc)
        continue;
      uintptr_t dk = sp - (m->f[0].sp & ~MF_FLAGS), bk = bp, nk;
      bool mk;
      int ek = memo_check(m, 0, MEMO_CAP, &dk, &bk, &mk, &nk);
      if (memo_whole(m, ek, max)) {
        T->other_fail = 0;
        *tag = m->tag;
        memo_used(T, k);
        return m->n - m->nlead;
      }
      if (++T->other_fail == OTHER_FAILS) { /* see walker_t.other_skip */
        T->other_fail = 0;
        T->other_skip = OTHER_SKIP;
        atomic_fetch_add_explicit(&n_other_skips, 1, memory_order_relaxed);
      }
      if (ek > e0) {
        ri = k;
        old = m;
        on = m->n;
        e0 = ek;
        d0 = sp - (m->f[0].sp & ~MF_FLAGS);
        d = dk;
        b = bk;
        moved = mk;
      }
      /* One other memo at most: in a recursion most memos share the first frames and each
       * check ran far before diverging (GCBench: a sixth of the walker's instructions). */
      break;
    }
  }

  rtab_t *t = atomic_load_explicit(&rtab, memory_order_acquire);
  if (unlikely(!t)) {
    rtab_replace(NULL, TAB_BITS_MIN, g);
    t = atomic_load_explicit(&rtab, memory_order_acquire);
  }
  /* Key generation of this walk in t; 0 (bypass the caches) when t is from another era. */
  uint64_t kg = t && g >= t->base && g - t->base + 1 <= KEY_GEN_MAX ? (g - t->base + 1) << 48 : 0;

  /* The new walk replaces the least recently used memo other than the reference (without a
   * walker: a memo on this stack, for this walk only). */
  int wi = 0;
  memo_t *nw;
  if (likely(T != NULL)) {
    wi = T->lru[NMEMO - 1] == T->lru[ri] ? NMEMO - 2 : NMEMO - 1;
    nw = &T->m[T->lru[wi]];
  } else {
    nw = __builtin_alloca(sizeof *nw);
  }
  mframe_t *f = nw->f;
  int j = 0, n = 0, nlead = -1, steps = 0, closed = CL_OPEN;
  bool exact = true;
  for (;;) {
    int e;
    if (e0 >= 0) { /* frame 0, checked above */
      e = e0;
      e0 = -1;
    } else {
      /* After frame 0 both walks go up the stack: j only moves forward, matches are in place. */
      while (j < on && (old->f[j].sp & ~MF_FLAGS) < sp) j++;
      e = -1;
      if (j < on && old->f[j].pc == pc && (old->f[j].sp & ~MF_FLAGS) == sp) {
        d0 = d = 0;
        b0 = b = bp;
        e = memo_check(old, j, MEMO_CAP, &d, &b, &moved, &npc);
      }
    }
    if (e >= 0) {
      /* Copy the frames that still hold, no more than max and the memo's room allow. */
      int cnt = e - j + 1, room = MEMO_CAP - n;
      if (nlead >= 0 && nlead + max - n < room) room = nlead + max - n;
      if (cnt > room) {
        cnt = room;
        e = j + cnt - 1;
        d = d0;
        b = b0;
        memo_check(old, j, e, &d, &b, &moved, &npc); /* the live %rbp of the new last frame */
      }
      memo_copy(old, j, e, d0, b0, moved, &f[n]);
      bp = b; /* the live %rbp of the frame the walk goes on from */
      if (nlead < 0) {
        if (j == 0 && e >= old->nlead && old->nlead < old->n) {
          nlead = n + old->nlead; /* the same leading frames */
        } else {
          for (int k = n; k < n + cnt; k++)
            if (f[k].rule && !(f[k].rule & R_SELF)) {
              nlead = k;
              break;
            }
        }
      }
      n += cnt;
      j = e + 1;
      if (nlead >= 0 && n - nlead >= max) {
        n = nlead + max;
        break;
      }
      if (j == on && old->closed == CL_RULE) {
        closed = CL_RULE;
        break;
      }
      if (n == MEMO_CAP) break;
      /* The memo ends or the stack changed above f[n-1]: take its step again. */
      exact = f[n - 1].sp & MF_EXACT;
      pc = f[n - 1].pc;
      sp = f[n - 1].sp & ~MF_FLAGS;
    } else {
      if (n == MEMO_CAP) break;
      f[n++] = (mframe_t){pc, sp | MF_SLOW | (exact ? MF_EXACT : 0), 0};
    }

    mframe_t *cur = &f[n - 1];
    uint64_t r = cur->rule;
    if (!r) cur->rule = r = rule_find(t, kg, exact ? pc : pc - 1, exact, T ? T->l0 : NULL);
    if (nlead < 0 && !(r & R_SELF)) nlead = n - 1;
    if (nlead >= 0 && n - nlead >= max) break;

    uint32_t kind = r & R_KIND;
    if (likely(kind == K_STEP)) {
      if (!(r & R_RBP_BASE)) cur->sp &= ~(uintptr_t)MF_SLOW;
      uintptr_t cfa = ((r & R_RBP_BASE) ? bp : sp) + (uintptr_t)R_CFA_OFF(r);
      uintptr_t rbp_at = cfa + (uintptr_t)R_RBP_OFF(r);
      if (unlikely(cfa - sp - 8 >= ((uintptr_t)1 << 32) || (cfa & 7) || cfa > top ||
                   ((r & R_RBP_SAVED) && (rbp_at < sp || rbp_at + 8 > top)))) {
        closed = CL_VALUE; /* not above the frame, or off its stack (U4) */
        break;
      }
      if (r & R_RBP_SAVED) bp = *(const uintptr_t *)rbp_at;
      pc = *(const uintptr_t *)(cfa - 8);
      sp = cfa;
      exact = false;
    } else if (kind == K_SIGNAL) {
      /* The handler returned into the trampoline with %rsp at the frame's ucontext. */
      const ucontext_t *uc = (const ucontext_t *)sp;
      if (unlikely(top != UINTPTR_MAX && sp + sizeof *uc > top)) {
        closed = CL_VALUE;
        break;
      }
      atomic_fetch_add_explicit(&n_signal, 1, memory_order_relaxed);
      pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
      sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
      bp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
      /* the interrupted %rsp (a handler may have edited it) must be on a known stack (U4) */
      top = stack_top(T, sp);
      if (unlikely(top == UINTPTR_MAX)) {
        closed = CL_VALUE;
        break;
      }
      exact = true; /* the interrupted instruction, not a return address */
    } else {
      if (kind == K_BAD) atomic_fetch_add_explicit(&n_truncated, 1, memory_order_relaxed);
      closed = CL_RULE;
      break;
    }
    if (unlikely(pc < 4096 || (sp & 7) || ++steps > MAX_STEPS)) { /* 0 ends some chains */
      closed = CL_VALUE;
      break;
    }
  }

  int kept = 0;
  uint64_t h = 0;
  if (nlead >= 0)
    for (int i = nlead; i < n; i++, kept++) h = scvgc_stack_hash_step(h, kept, pcs[kept] = f[i].pc);
  *hash = scvgc_stack_hash_final(h, kept);
  nw->gen = g;
  nw->n = n;
  nw->nlead = nlead >= 0 ? nlead : n;
  nw->max = max;
  nw->closed = closed;
  nw->tag = 0;
  nw->succ = NMEMO;
  if (T) memo_used(T, wi);
  return kept;
}

void scvgc_unwind_foreach_mapping(void (*fn)(void *base, size_t len, void *arg), void *arg) {
  for (rtab_t *t = atomic_load_explicit(&rtab, memory_order_acquire); t; t = t->prev)
    fn(t, t->bytes, arg);
  scvgc_lock(&walker_lock);
  for (void *c = walker_chunks; c; c = *(void **)c) fn(c, WALKER_CHUNK, arg);
  scvgc_unlock(&walker_lock);
}

void scvgc_unwind_fork_prepare(void) { scvgc_lock(&walker_lock); }
void scvgc_unwind_fork_parent(void) { scvgc_unlock(&walker_lock); }
/* The other threads' walkers are not given back: they are gone with their threads. */
void scvgc_unwind_fork_child(void) { scvgc_lock_reset(&walker_lock); }

void scvgc_unwind_stats(scvgc_unwind_stats_t *st) {
  st->rule_misses = atomic_load_explicit(&n_misses, memory_order_relaxed);
  st->truncated = atomic_load_explicit(&n_truncated, memory_order_relaxed);
  st->signal_frames = atomic_load_explicit(&n_signal, memory_order_relaxed);
  st->other_skips = atomic_load_explicit(&n_other_skips, memory_order_relaxed);
  st->rule_bytes = atomic_load_explicit(&rule_bytes, memory_order_relaxed) +
                  atomic_load_explicit(&walker_bytes, memory_order_relaxed);
}

/* ---- the registers of outer frames (the collector's entry point, gc.c) ------------------- *
 * A slow, uncached walk that also recovers the callee-saved registers (rbx, rbp, r12-r15) of
 * each frame from the CFI: what libgcc's _Unwind_* and libunwind's unw_step do, for the few
 * walks a cycle makes (one per API call, exit check or allocation-started cycle). Reads only
 * the slots the CFI of a frame names, each above that frame's sp (U2); a frame it cannot step
 * through (no CFI, a signal frame, a rule other than "saved at CFA+n") ends it with false. */
__attribute__((noinline, no_sanitize_address)) bool
scvgc_unwind_regs(scvgc_uwregs_t *r, int (*decide)(uintptr_t pc, uintptr_t fn, void *arg),
                  void *arg) {
  uintptr_t cs[5];
  __asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2\n\t"
                   "mov %%rbx, 0(%3)\n\tmov %%r12, 8(%3)\n\tmov %%r13, 16(%3)\n\t"
                   "mov %%r14, 24(%3)\n\tmov %%r15, 32(%3)"
                   : "=&r"(r->pc), "=&r"(r->sp), "=&r"(r->rbp)
                   : "r"(cs)
                   : "memory");
  r->rbx = cs[0];
  r->r12 = cs[1];
  r->r13 = cs[2];
  r->r14 = cs[3];
  r->r15 = cs[4];
  for (int depth = 0; depth < 64; depth++) {
    uintptr_t key = depth ? r->pc - 1 : r->pc; /* a return address, but for this frame */
    fde_t f;
    if (!fde_find(key, &f) || f.signal) return false;
    row_t init = {.cfa_reg = DW_RSP, .cfa_off = 8, .rbp_how = H_SAME, .rsp_how = H_SAME,
                  .ra_how = H_UNDEF};
    if (!cfa_run(&f, f.cie_ins, f.cie_end, f.begin, UINTPTR_MAX, &init, NULL)) return false;
    row_t row = init;
    if (!cfa_run(&f, f.fde_ins, f.fde_end, f.begin, key, &row, &init)) return false;
    int d = depth ? decide(r->pc, f.begin, arg) : SCVGC_UW_CONTINUE; /* not this function */
    if (d == SCVGC_UW_HERE) return true;
    if ((row.cfa_reg != DW_RSP && row.cfa_reg != DW_RBP) || row.ra_how != H_OFFSET ||
        row.ra_off != -8 || row.rsp_how != H_SAME || row.rbp_how == H_OTHER)
      return false;
    uintptr_t cfa = (row.cfa_reg == DW_RSP ? r->sp : r->rbp) + (uintptr_t)row.cfa_off;
    if (cfa <= r->sp || cfa - r->sp > ((uintptr_t)1 << 26)) return false; /* U2 */
    uintptr_t *regs[6] = {&r->rbx, &r->r12, &r->r13, &r->r14, &r->r15, &r->rbp};
    for (int k = 0; k < 6; k++) {
      uint8_t how = k < 5 ? row.cs_how[k] : row.rbp_how;
      int64_t off = k < 5 ? row.cs_off[k] : row.rbp_off;
      if (how == H_OTHER) return false;
      if (how != H_OFFSET) continue;
      if (off >= 0 || (uintptr_t)-off > cfa - r->sp) return false; /* inside the frame */
      *regs[k] = *(const uintptr_t *)(cfa + (uintptr_t)off);
    }
    r->pc = *(const uintptr_t *)(cfa - 8);
    r->sp = cfa;
    if (d == SCVGC_UW_OUT) return true;
  }
  return false;
}
