// libthrow.cc — a C++ library that throws, for test/progs/cxx_throw_dl.c and cxx_throw.cc
// (test/integration/exports.sh, issue 13 point 11).
//
// throw_n(n): throws and catches n exceptions through a few frames; returns how many were
// caught. unwinder_of(): the file of the _Unwind_RaiseException that a throw in this library
// binds to (libgcc_s; libunwind's under a preload that drags libunwind.so in).
#include <dlfcn.h>
#include <stdexcept>

static int depth(int k) {
  if (k == 0) throw std::runtime_error("thrown");
  return depth(k - 1) + 1;
}

extern "C" int throw_n(int n) {
  int caught = 0;
  for (int i = 0; i < n; i++) {
    try {
      depth(3);
    } catch (const std::exception &) {
      caught++;
    }
  }
  return caught;
}

extern "C" const char *unwinder_of(void) {
  Dl_info di;
  void *f = dlsym(RTLD_DEFAULT, "_Unwind_RaiseException");
  if (!f || !dladdr(f, &di) || !di.dli_fname) return "(none)";
  return di.dli_fname;
}
