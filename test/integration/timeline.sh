#!/bin/sh
# The HTML report's timeline shows a program's life (issue 16 point 9): the demo service's
# "day" (scripts/demo/service.c SECONDS) under forced cycles and a fast scavenger draws the heap
# rising and falling with GC and scavenger samples, scripts/report-screenshot.sh renders its
# leak-mode and collect-mode pages naming no directory of the checkout, and the README shows the
# committed pictures.
. "$ROOT/test/integration/common.inc"
. "$ROOT/test/integration/tool_common.inc"

cd "$ROOT" || exit 1
mkdir -p build/demo
if ! ${CC:-cc} -g -O0 scripts/demo/service.c -o build/demo/service 2>"$T/cc.err"; then
	fail "scripts/demo/service.c builds" "$(tail_of "$T/cc.err" 5)"
	exit 0
fi

png_ok() { # a PNG 1280 pixels wide
	[ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
		[ "$(dd if="$1" bs=1 skip=16 count=4 2>/dev/null | od -An -tu1 | tr -s ' ' | sed 's/^ //')" = "0 0 5 0" ]
}

# ---- the day, 8 s: the timeline's samples ------------------------------------------------------
SCVGC_REPORT=none SCVGC_SCAVENGE_AFTER=1s SCVGC_FORCEGC=1s SCVGC_GOGC=100 \
	timeout -k 5 120 "$SCVGC" --json "$T/day.json" -- build/demo/service 8 >"$T/day.out" 2>"$T/day.err"
rc=$?
cat >"$T/life.py" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
tl = [p for p in r.get("timeline") or [] if isinstance(p, dict)]
ev = {}
for p in tl:
    ev[p["event"]] = ev.get(p["event"], 0) + 1
inuse = [p["inuse_bytes"] for p in tl]
peak = max(inuse) if inuse else 0
at = inuse.index(peak) if inuse else 0
after = min(inuse[at:]) if inuse else 0
rel_peak = tl[at]["released_bytes"] if tl else 0
rel_after = max(p["released_bytes"] for p in tl[at:]) if tl else 0
rss = [p["rss_bytes"] for p in tl if isinstance(p.get("rss_bytes"), int)]
problems = []
if ev.get("gc", 0) < 3: problems.append("%d gc samples" % ev.get("gc", 0))
if ev.get("scvg", 0) < 4: problems.append("%d scvg samples" % ev.get("scvg", 0))
if peak < 24 << 20: problems.append("heap in use peaks at %d MiB" % (peak >> 20))
if after * 4 > peak: problems.append("the heap in use falls only to %d MiB from %d" % (after >> 20, peak >> 20))
if rel_after < rel_peak + (16 << 20): problems.append("released %d MiB at the peak, %d MiB after" % (rel_peak >> 20, rel_after >> 20))
if not rss or max(rss) < min(rss) + (16 << 20): problems.append("RSS flat")
print("; ".join(problems) if problems else "%d samples (%s), heap in use peak %d MiB, then %d MiB" % (
    len(tl), ", ".join("%d %s" % (n, e) for e, n in sorted(ev.items())), peak >> 20, after >> 20))
sys.exit(1 if problems else 0)
EOF
if [ "$rc" = 0 ] && "$PY" "$T/life.py" "$T/day.json" >"$T/life.out" 2>&1; then
	pass "the demo service's day draws a life on the timeline: $(cat "$T/life.out")"
else
	fail "the demo service's day draws a life on the timeline (GC and scavenger samples, the heap in use and RSS rising and falling, pages released)" \
		"$(rc_text "$rc" 120)" "$(tail_of "$T/life.out" 3)" "$(tail_of "$T/day.err" 3)"
fi

# ---- the pictures: report-screenshot.sh into a directory of the test's own -------------------
chrome=""
for c in chromium chromium-browser google-chrome; do
	command -v "$c" >/dev/null 2>&1 && { chrome=$c; break; }
done
if [ -z "$chrome" ]; then
	fail "report-screenshot.sh renders both pages" "no chromium (make test installs the Debian package)"
else
	timeout -k 5 300 sh scripts/report-screenshot.sh 3 "$T/shots" >"$T/shot.out" 2>&1
	rc=$?
	leaked=""
	for f in "$T"/shots/*.json "$T"/shots/*.html; do
		case "$f" in *.rel.json | *.html) grep -q "$ROOT" "$f" && leaked="$leaked $(basename "$f")" ;; esac
	done
	if [ "$rc" = 0 ] && png_ok "$T/shots/report.png" && png_ok "$T/shots/report-collect.png" && [ -z "$leaked" ] &&
		grep -q '"mode": "collect"' "$T/shots/service-collect.rel.json" &&
		"$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r.get("reclaimed") else 1)' "$T/shots/service-collect.rel.json" &&
		grep -q 'Reclaimed by the collector' "$T/shots/service-collect.html"; then
		pass "report-screenshot.sh renders the leak-mode and the collect-mode page (reclaimed by stack), naming no directory of the checkout"
	else
		fail "report-screenshot.sh renders the leak-mode and the collect-mode page (reclaimed by stack), naming no directory of the checkout" \
			"$(rc_text "$rc" 300)" "the checkout's path in:$leaked" "$(tail_of "$T/shot.out" 5)" "$(ls "$T/shots" 2>&1)"
	fi
fi

# ---- the committed pictures and the README -----------------------------------------------------
if png_ok docs/report.png 2>/dev/null && png_ok docs/report-collect.png 2>/dev/null &&
	grep -q '](docs/report.png)' README.md && grep -q '](docs/report-collect.png)' README.md &&
	! grep -q '/wo''rk/\|/ho''me/\|/ro''ot/' README.md docs/wrapper.md; then
	pass "docs/report.png and docs/report-collect.png are 1280-pixel pages the README shows"
else
	fail "docs/report.png and docs/report-collect.png are 1280-pixel pages the README shows" \
		"$(file docs/report.png docs/report-collect.png 2>&1)"
fi
