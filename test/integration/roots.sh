#!/bin/sh
# roots.sh — what keeps an object alive, where a unit test or a leak case cannot show it:
#   - the library's own heap objects (the symbolizer's libdw session and caches, referenced
#     only from the library's data) stay alive in collect mode while another thread collects
#     during a report (docs/design.md "Library-owned objects");
#   - a cycle sees every root or frees nothing (issue 19, test/progs/roots_complete.c): the maps
#     outgrow the collector's buffer under RLIMIT_AS; the program holds every descriptor;
#     guard pages the program protected inside its own live buffer; a 16 TiB reservation
#     with one page touched costs no pause time;
#   - OpenJDK 17 with its default tiered compilers runs in collect mode: its generated code
#     holds malloc'd inline-cache holders as unaligned immediates in rwx mappings, which are
#     read at every byte offset (it crashed at start-up before).
# The other root cases are leak cases (test/leaks/root_*.c, notroot_*.c) and test/unit/roots.c.
. "$ROOT/test/integration/common.inc"

broken=$(preload_broken)
[ -z "$broken" ] || { fail "roots" "the library cannot be preloaded: $broken"; exit 0; }

name="a report symbolizing on one thread while another calls scvgc_collect() in collect mode (libdw's state is the library's own)"
timeout -k 5 120 env LD_PRELOAD="$LIB" SCVGC_MODE=collect SCVGC_SAMPLE=0 SCVGC_REPORT="$T/report.txt" \
	"$BIN/owned_report" 3 >"$T/lo.out" 2>"$T/lo.err"
rc=$?
if [ "$rc" = 0 ] && grep -q '^ok ' "$T/lo.out" && grep -q 'lose_b' "$T/report.txt"; then
	pass "$name"
else
	fail "$name" "$(rc_text "$rc" 120)" "$(tail_of "$T/lo.err" 5)" "$(tail_of "$T/lo.out" 2)"
fi

# roots_complete CASE MODE LIMIT [grep pattern the trace (SCVGCTRACE=1) must hold]
roots_case() {
	_case=$1 _mode=$2 _limit=$3 _want=$4 _name=$5
	shift 5
	run_in "$_mode" "$_limit" "$T/rc.out" "$T/rc.err" env SCVGCTRACE=1 "$BIN/roots_complete" $_case
	if [ "$rc" = 0 ] && grep -q '^ok ' "$T/rc.out" && { [ -z "$_want" ] || grep -q "$_want" "$T/rc.err"; }; then
		pass "$_name ($(mode_label "$_mode"))"
	else
		fail "$_name ($(mode_label "$_mode"))" "$(rc_text "$rc" "$_limit")" "$(tail_of "$T/rc.out" 3)" \
			"$(tail_of "$T/rc.err" 5)"
	fi
}

for mode in default collect; do
	roots_case maps-as $mode 120 'no memory for the buffer of /proc/self/maps (no memory): this cycle frees nothing' \
		"a cycle whose /proc/self/maps outgrew the buffer while RLIMIT_AS leaves no room frees and reports nothing, and says why"
	roots_case emfile-hard $mode 120 'incomplete' \
		"a cycle while the program holds every descriptor up to the hard limit frees and reports nothing"
	roots_case emfile-soft $mode 120 '' \
		"a leak check while the program holds every descriptor its soft limit allows does not report a list held by a global"
	roots_case protected $mode 120 'protected pages of live objects skipped' \
		"cycles over live buffers with a PROT_NONE page inside (a 16 KiB object's first page too) neither crash nor free what their readable pages hold, and the program's SIGSEGV handler still works"
done
# Each cycle read the whole 16 TiB through mincore: 3 s (far more on a loaded machine) per
# cycle, so 30 cycles overran the bound; they take milliseconds now.
roots_case "reserve 30" collect 60 '' \
	"30 collections with a 16 TiB MAP_NORESERVE reservation (one page touched, holding the only pointer to an object) finish within 60 s and keep the object"

# A hot loop of virtual calls (inline caches), maps and strings, run by the source launcher
# (javac in the same JVM: more allocation, more compiled code). openjdk-17-jdk-headless.
name="OpenJDK 17 with its default tiered compilers runs a hot program in collect mode"
if ! command -v java >/dev/null 2>&1; then
	fail "$name" "java is not installed (make deps-test installs openjdk-17-jdk-headless)"
else
	cat >"$T/Hot.java" <<'JAVA'
import java.util.*;
public class Hot {
  interface Shape { double area(); }
  static final class Sq implements Shape { double s; Sq(double s) { this.s = s; } public double area() { return s * s; } }
  static final class Ci implements Shape { double r; Ci(double r) { this.r = r; } public double area() { return 3 * r * r; } }
  public static void main(String[] a) {
    long t = 0;
    List<String> keep = new ArrayList<>();
    for (int round = 0; round < 40; round++) {
      Shape[] xs = new Shape[100000];
      for (int i = 0; i < xs.length; i++) xs[i] = (i % 3 == 0) ? new Sq(i) : new Ci(i);
      for (Shape s : xs) t += (long) s.area() % 1000;
      Map<String, Integer> m = new HashMap<>();
      for (int i = 0; i < 20000; i++) m.merge("k" + (i % 977), 1, Integer::sum);
      keep.add(m.get("k5").toString());
      StringBuilder sb = new StringBuilder();
      for (int i = 0; i < 1000; i++) sb.append(i).append(',');
      t += sb.length();
    }
    System.out.println("ok " + t + " " + keep.size() + " " + keep.get(39));
  }
}
JAVA
	run_in plain 300 "$T/java.base" "$T/java.base.err" java -Xmx256m -XX:ErrorFile="$T/hs_err_%p.log" "$T/Hot.java"
	run_in collect 300 "$T/java.out" "$T/java.err" java -Xmx256m -XX:ErrorFile="$T/hs_err_%p.log" "$T/Hot.java"
	if [ "$rc" = 0 ] && grep -q '^ok ' "$T/java.out" && cmp -s "$T/java.out" "$T/java.base"; then
		pass "$name"
	else
		fail "$name" "$(rc_text "$rc" 300)" "$(tail_of "$T/java.out" 3)" "$(tail_of "$T/java.err" 5)"
	fi
fi
