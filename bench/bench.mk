# bench/bench.mk -- allocator benchmarks (docs/performance.md, "Allocator
# benchmarks (issue 2)").  Included by the main Makefile; it defines the
# `bench` target and BENCH_* variables only, and leaves the default goal as
# it was.
#
#   make bench                                   all workloads and allocators
#   make bench BENCH_ARGS='-w churn,larson --runs 3'
#   make bench BENCH_ARGS='--callgrind'          instruction counts instead
BENCH_PYTHON ?= python3
BENCH_ARGS ?=
BENCH_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

.PHONY: bench
bench: build/libscvgc.so
	$(BENCH_PYTHON) bench/run.py --markdown $(BENCH_ARGS)

.DEFAULT_GOAL := $(BENCH_SAVED_DEFAULT_GOAL)
