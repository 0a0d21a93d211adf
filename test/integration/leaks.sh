#!/bin/sh
# The leak-case corpus (test/leaks/): every case's JSON report matches its ground truth.
# Then the checker's own self-test.
sh "$ROOT/test/leaks/run.sh"
sh "$ROOT/test/leaks/selftest/run.sh"
