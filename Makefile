# libscvgc — see README.md. Targets: all (default), demo, test, bench, install, clean.
CC      ?= gcc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror
BASE    := -std=gnu11 -fPIC -fvisibility=hidden -ftls-model=initial-exec \
           -fno-plt -pthread $(WARN)
LDLIBS  := -lunwind -ldw -pthread
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
# the process, and ASan keeps frames on fake stacks of its own (scanned as roots).
SAN_BIN  := $(filter-out $(B)/test/unit-san-gc $(B)/test/unit-san-sweep,$(UNIT_SRC:test/unit/%.c=$(B)/test/unit-san-%))
PROG_SRC := $(wildcard test/progs/*.c)
PROG_BIN := $(PROG_SRC:test/progs/%.c=$(B)/test/progs/%)

# Debian packages the build and the tests need; installed by `make deps` when missing.
DEPS_BUILD := libunwind-dev libcriterion-dev libdw-dev pkg-config
DEPS_TEST  := python3 perl sqlite3 git redis-server redis-tools procps strace gdb valgrind

.PHONY: all demo test deps deps-test bench install uninstall clean
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

$(B)/scvgc-options: tools/scvgc-options.c $(B)/libscvgc_core.a
	$(CC) -O1 -std=gnu11 $(WARN) -Icore $< -o $@ $(B)/libscvgc_core.a $(LDLIBS)

docs/env.md: $(B)/scvgc-options docs/env.md.in
	{ cat docs/env.md.in; $(B)/scvgc-options --markdown; } > $@

$(B)/test/progs/%: test/progs/%.c $(wildcard test/progs/*.h)
	@mkdir -p $(@D)
	$(CC) -O1 -g -pthread $(WARN) $< -o $@

deps:
	@missing=""; for p in $(DEPS_BUILD); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

deps-test:
	@missing=""; for p in $(DEPS_TEST); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

test: deps-test all $(B)/libscvgc_core.a $(UNIT_BIN) $(SAN_BIN) $(PROG_BIN)
	@scripts/run-tests.sh

demo: deps-test all
	@scripts/demo.sh

-include bench/bench.mk

clean:
	rm -rf $(B)
