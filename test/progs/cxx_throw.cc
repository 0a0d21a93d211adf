// cxx_throw — a C++ program (linked against libstdc++ directly) that throws N times.
//
//   cxx_throw [N]   (default 20000)
//
// Prints "unwinder: FILE" (the file of the _Unwind_RaiseException its throws bind to:
// libgcc_s) and "throws: N in S s"; exits 1 when a throw was not caught.
// Run by test/integration/exports.sh.
#include <dlfcn.h>
#include <stdexcept>
#include <cstdio>
#include <cstdlib>
#include <ctime>

static int depth(int k) {
  if (k == 0) throw std::runtime_error("thrown");
  return depth(k - 1) + 1;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 20000, caught = 0;
  timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < n; i++) {
    try {
      depth(3);
    } catch (const std::exception &) {
      caught++;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  Dl_info di;
  void *f = dlsym(RTLD_DEFAULT, "_Unwind_RaiseException");
  std::printf("unwinder: %s\n", f && dladdr(f, &di) && di.dli_fname ? di.dli_fname : "(none)");
  std::printf("throws: %d in %.3f s\n", n, (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
  if (caught != n) {
    std::fprintf(stderr, "cxx_throw: %d of %d throws caught\n", caught, n);
    return 1;
  }
  return 0;
}
