# libscvgc — see README.md. Targets: all (default), demo, test, stress, bench, install, uninstall, clean.
CC      ?= gcc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror
BASE    := -std=gnu11 -fPIC -fvisibility=hidden -ftls-model=initial-exec \
           -fno-plt -pthread $(WARN)
# The tests link libunwind (the walker's reference) and libdw; libscvgc.so links neither: it
# walks stacks itself and dlopens libdw when it writes a report (core/symbolize.c).
LDLIBS  := -lunwind -ldw -pthread
SO_LDLIBS := -pthread
B       := build

CORE_SRC := $(wildcard core/*.c)
CORE_HDR := $(wildcard core/*.h)
CORE_OBJ := $(CORE_SRC:core/%.c=$(B)/core/%.o)
SHIM_OBJ := $(B)/preload/shim.o
# The debug core (assertions and checkers on) that the unit tests link.
DCORE_OBJ := $(CORE_SRC:core/%.c=$(B)/dcore/%.o)

UNIT_SRC := $(wildcard test/unit/*.c)
UNIT_BIN := $(UNIT_SRC:test/unit/%.c=$(B)/test/unit-%)
# The same suites against an ASan+UBSan build of the core.
SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
SCORE_OBJ := $(CORE_SRC:core/%.c=$(B)/score/%.o)
# Not test/unit/gc.c: its exact leak counts assume no stale copies of pointers survive in
# the process, and ASan keeps frames on fake stacks of its own (scanned as roots); nor
# test/unit/wp.c, whose objects must be unreachable but from where the test hides them.
SAN_BIN  := $(filter-out $(B)/test/unit-san-gc $(B)/test/unit-san-sweep $(B)/test/unit-san-wp,$(UNIT_SRC:test/unit/%.c=$(B)/test/unit-san-%))
# The multi-threaded tests of the core under ThreadSanitizer (test/tsan/*.c, plain C: criterion
# crashes under TSan), against a TSan build of the debug core. gcc rejects atomic_thread_fence
# under -fsanitize=thread unless told -Wno-tsan (TSan does not model standalone fences).
TSAN     := -fsanitize=thread -Wno-tsan
TCORE_OBJ := $(CORE_SRC:core/%.c=$(B)/tcore/%.o)
TSAN_BIN := $(patsubst test/tsan/%.c,$(B)/test/tsan-%,$(wildcard test/tsan/*.c))
# test/progs/lib*.c are libraries the programs dlopen or preload (build/test/progs/lib*.so).
PROG_SRC := $(filter-out test/progs/lib%.c,$(wildcard test/progs/*.c))
PROG_BIN := $(PROG_SRC:test/progs/%.c=$(B)/test/progs/%) \
            $(patsubst test/progs/%.c,$(B)/test/progs/%.so,$(wildcard test/progs/lib*.c))
# C++ ones (test/progs/*.cc, lib*.cc): the programs and libraries that throw.
PROG_BIN += $(patsubst test/progs/%.cc,$(B)/test/progs/%,$(filter-out test/progs/lib%.cc,$(wildcard test/progs/*.cc))) \
            $(patsubst test/progs/%.cc,$(B)/test/progs/%.so,$(wildcard test/progs/lib*.cc))
# The fuzz harness (test/fuzz/): the standalone driver links the debug core (gcc); the
# libFuzzer target links a core compiled by clang with coverage (-fsanitize=fuzzer-no-link),
# built only where clang-14 is installed.
FUZZ_CC  := $(shell command -v clang-14 2>/dev/null)
FCORE_OBJ := $(CORE_SRC:core/%.c=$(B)/fcore/%.o)
FUZZ_BIN := $(B)/test/fuzz-driver $(if $(FUZZ_CC),$(B)/test/fuzz-libfuzzer)

# Debian packages the build and the tests need; installed by `make deps` when missing.
DEPS_BUILD := libunwind-dev libcriterion-dev libdw-dev pkg-config
DEPS_TEST  := python3 perl sqlite3 git redis-server redis-tools procps strace gdb valgrind chromium \
              python3.11 libpython3.11-testsuite clang libclang-rt-14-dev time golang-go python3-jsonschema python3-yaml \
              openjdk-17-jdk-headless

.PHONY: all demo test deps deps-test bench install uninstall clean fuzz compat stress
all: $(B)/libscvgc.so scripts/scvgc $(B)/scvgc-options

$(B)/core/%.o: core/%.c $(CORE_HDR) | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(BASE) -c $< -o $@

$(B)/dcore/%.o: core/%.c $(CORE_HDR) | deps
	@mkdir -p $(@D)
	$(CC) -O1 -g $(BASE) -DSCVGC_DEBUG=1 -c $< -o $@

$(B)/score/%.o: core/%.c $(CORE_HDR) | deps
	@mkdir -p $(@D)
	$(CC) -O1 -g $(BASE) $(SAN) -DSCVGC_DEBUG=1 -c $< -o $@

$(B)/preload/%.o: preload/%.c $(CORE_HDR) | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(BASE) -c $< -o $@

$(B)/libscvgc.so: $(CORE_OBJ) $(SHIM_OBJ)
	$(CC) -shared -o $@ $^ $(SO_LDLIBS) -Wl,-z,now -Wl,--no-undefined

# The debug preload: the debug core (assertions and the *_check() checkers at operation
# boundaries) behind the shim, for the stress programs (test/integration/stress.sh, make stress).
$(B)/dpreload/%.o: preload/%.c $(CORE_HDR) | deps
	@mkdir -p $(@D)
	$(CC) -O1 -g $(BASE) -DSCVGC_DEBUG=1 -c $< -o $@

$(B)/libscvgc-debug.so: $(DCORE_OBJ) $(B)/dpreload/shim.o
	$(CC) -shared -o $@ $^ $(LDLIBS) -Wl,-z,now -Wl,--no-undefined

$(B)/libscvgc_core.a: $(DCORE_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/test/unit-%: test/unit/%.c $(B)/libscvgc_core.a $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) -O1 -g -std=gnu11 -pthread $(WARN) -DSCVGC_DEBUG=1 -Icore $< -o $@ \
	  $(B)/libscvgc_core.a -lcriterion $(LDLIBS)

$(B)/libscvgc_score.a: $(SCORE_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/test/unit-san-%: test/unit/%.c $(B)/libscvgc_score.a $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) -O1 -g -std=gnu11 -pthread $(WARN) $(SAN) -DSCVGC_DEBUG=1 -Icore $< -o $@ \
	  $(B)/libscvgc_score.a -lcriterion $(LDLIBS)

$(B)/tcore/%.o: core/%.c $(CORE_HDR) | deps
	@mkdir -p $(@D)
	$(CC) -O1 -g $(BASE) $(TSAN) -DSCVGC_DEBUG=1 -c $< -o $@

$(B)/libscvgc_tcore.a: $(TCORE_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/test/tsan-%: test/tsan/%.c $(B)/libscvgc_tcore.a $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) -O1 -g -std=gnu11 -pthread $(WARN) $(TSAN) -DSCVGC_DEBUG=1 -Icore $< -o $@ \
	  $(B)/libscvgc_tcore.a $(LDLIBS)

$(B)/fcore/%.o: core/%.c $(CORE_HDR) | deps
	@mkdir -p $(@D)
	$(FUZZ_CC) -O1 -g $(BASE) -fsanitize=fuzzer-no-link -DSCVGC_DEBUG=1 -c $< -o $@

$(B)/libscvgc_fcore.a: $(FCORE_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/test/fuzz-driver: test/fuzz/driver.c test/fuzz/engine.c test/fuzz/engine.h $(B)/libscvgc_core.a $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) -O1 -g -std=gnu11 -pthread $(WARN) -DSCVGC_DEBUG=1 -Icore test/fuzz/driver.c \
	  test/fuzz/engine.c -o $@ $(B)/libscvgc_core.a $(LDLIBS)

$(B)/test/fuzz-libfuzzer: test/fuzz/libfuzzer.c test/fuzz/engine.c test/fuzz/engine.h $(B)/libscvgc_fcore.a $(CORE_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) -O1 -g -std=gnu11 -pthread $(WARN) -fsanitize=fuzzer -DSCVGC_DEBUG=1 -Icore \
	  test/fuzz/libfuzzer.c test/fuzz/engine.c -o $@ $(B)/libscvgc_fcore.a $(LDLIBS)

fuzz: $(FUZZ_BIN)

$(B)/scvgc-options: tools/scvgc-options.c $(B)/libscvgc_core.a
	$(CC) -O1 -std=gnu11 $(WARN) -Icore $< -o $@ $(B)/libscvgc_core.a $(LDLIBS)

docs/env.md: $(B)/scvgc-options docs/env.md.in
	{ cat docs/env.md.in; $(B)/scvgc-options --markdown; } > $@

$(B)/test/progs/%: test/progs/%.c $(wildcard test/progs/*.h)
	@mkdir -p $(@D)
	$(CC) -O1 -g -pthread $(WARN) $< -o $@

$(B)/test/progs/lib%.so: test/progs/lib%.c
	@mkdir -p $(@D)
	$(CC) -O1 -g -shared -fPIC -pthread $(WARN) $< -o $@

$(B)/test/progs/%: test/progs/%.cc
	@mkdir -p $(@D)
	$(CXX) -O1 -g -pthread $(WARN) $< -o $@

$(B)/test/progs/lib%.so: test/progs/lib%.cc
	@mkdir -p $(@D)
	$(CXX) -O1 -g -shared -fPIC -pthread $(WARN) $< -o $@

deps:
	@missing=""; for p in $(DEPS_BUILD); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

deps-test:
	@missing=""; for p in $(DEPS_TEST); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

test: deps-test all $(B)/libscvgc-debug.so $(B)/libscvgc_core.a $(UNIT_BIN) $(SAN_BIN) $(TSAN_BIN) $(PROG_BIN) $(FUZZ_BIN)
	@scripts/run-tests.sh

# make stress [STRESS_MINUTES=5]: the thread-churn soak (scripts/stress-soak.sh) in every mode,
# release and debug builds, 2 to 128 threads. Not in make test, which runs a short churn.
stress: all $(B)/libscvgc-debug.so $(B)/test/progs/churn
	@STRESS_MINUTES=$(or $(STRESS_MINUTES),5) scripts/stress-soak.sh

demo: deps-test all
	@scripts/demo.sh

# make compat: CPython's regression suite module by module, and real programs (git, gcc, perl,
# sqlite3, redis) without the preload and in modes off/leak/collect; results and figures in
# build/compat/ (docs/compatibility.md has the last ones). Hours on two cores; not in make test.
compat: deps-test all
	@scripts/compat.sh

# make install [PREFIX=/usr/local] [DESTDIR=stage]: the library, the wrapper with its report
# module and options helper, the header, the man page, the docs and a pkg-config file.
# `make uninstall` with the same variables removes exactly these files (and the directories of
# our own, lib/scvgc and share/doc/scvgc, when they are left empty).
VERSION      ?= 0.1
PREFIX       ?= /usr/local
DESTDIR      ?=
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
DOCDIR       ?= $(PREFIX)/share/doc/scvgc
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
HELPERDIR    := $(LIBDIR)/scvgc
# README.md at the top of DOCDIR and the documents under DOCDIR/docs, so its links still work.
DOC_FILES    := $(wildcard docs/*.md docs/*.png)
D             = $(DESTDIR)

install: all
	install -d "$(D)$(BINDIR)" "$(D)$(LIBDIR)" "$(D)$(HELPERDIR)" "$(D)$(INCLUDEDIR)" \
	  "$(D)$(MANDIR)/man1" "$(D)$(DOCDIR)/docs" "$(D)$(PKGCONFIGDIR)"
	install -m 755 $(B)/libscvgc.so "$(D)$(LIBDIR)/libscvgc.so"
	sed -e 's|^libdir_installed=""$$|libdir_installed="$(LIBDIR)"|' \
	    -e 's|^helperdir_installed=""$$|helperdir_installed="$(HELPERDIR)"|' \
	    scripts/scvgc >"$(D)$(BINDIR)/scvgc.tmp"
	chmod 755 "$(D)$(BINDIR)/scvgc.tmp" && mv -f "$(D)$(BINDIR)/scvgc.tmp" "$(D)$(BINDIR)/scvgc"
	install -m 644 scripts/scvgc_report.py "$(D)$(HELPERDIR)/scvgc_report.py"
	install -m 755 $(B)/scvgc-options "$(D)$(HELPERDIR)/scvgc-options"
	install -m 644 include/scvgc.h "$(D)$(INCLUDEDIR)/scvgc.h"
	install -m 644 docs/scvgc.1 "$(D)$(MANDIR)/man1/scvgc.1"
	install -m 644 README.md "$(D)$(DOCDIR)/README.md"
	install -m 644 $(DOC_FILES) "$(D)$(DOCDIR)/docs/"
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    tools/scvgc.pc.in >"$(D)$(PKGCONFIGDIR)/scvgc.pc"

uninstall:
	rm -f "$(D)$(LIBDIR)/libscvgc.so" "$(D)$(BINDIR)/scvgc" \
	  "$(D)$(HELPERDIR)/scvgc_report.py" "$(D)$(HELPERDIR)/scvgc-options" \
	  "$(D)$(INCLUDEDIR)/scvgc.h" "$(D)$(MANDIR)/man1/scvgc.1" "$(D)$(DOCDIR)/README.md" \
	  $(foreach f,$(notdir $(DOC_FILES)),"$(D)$(DOCDIR)/docs/$(f)") "$(D)$(PKGCONFIGDIR)/scvgc.pc"
	rm -rf "$(D)$(HELPERDIR)/__pycache__"
	-rmdir "$(D)$(HELPERDIR)" "$(D)$(DOCDIR)/docs" "$(D)$(DOCDIR)" 2>/dev/null || true

-include bench/bench.mk

clean:
	rm -rf $(B)
