#!/bin/sh
# Remakes docs/report.png and docs/report-collect.png: the HTML reports of two real runs of the
# demo service (scripts/demo/service.c, 16 s of traffic with a blob store that grows and
# shrinks) under the library, in headless Chromium.
#   scripts/report-screenshot.sh [SECONDS [OUTDIR]]     (default: 16 s, into docs/)
# OUTDIR (test/integration/timeline.sh) gets the pictures and the reports instead of docs/ and
# build/demo/.
# - docs/report.png: leak mode, with forced cycles (SCVGC_FORCEGC=1s, SCVGC_GOGC=100: leak mode
#   collects only when told) and the scavenger looking every 0.5 s (SCVGC_SCAVENGE_AFTER=1s),
#   so the timeline shows the heap in use and RSS rise and fall, and the pages released;
# - docs/report-collect.png: collect mode (GOGC 100, the same forced cycles and scavenger): the
#   leaks are reclaimed as the service runs; the page shows what was reclaimed, by stack. Every
#   stack is captured (SCVGC_SAMPLE=0): sampled at collect mode's 512 KiB, the few hundred KiB
#   this service leaks would leave the tables empty.
# Run from the checkout with relative paths, and the checkout's directory removed from the
# reports, so the pictures name no directory of the machine that made them. Needs chromium
# (apt-get install chromium).
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
secs=${1:-16}
out=${2:-docs}
work=${2:-build/demo}
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome) ||
  { echo "report-screenshot: no chromium (apt-get install chromium)" >&2; exit 1; }
mkdir -p build/demo
cc -g -O0 scripts/demo/service.c -o build/demo/service
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$out" "$work"
case "$out" in /*) ;; *) out="$root/$out" ;; esac

# shot MODE OUT.png HEIGHT: one run, its page, its picture
shot() {
  rm -f "$work/service-$1.json" # the library never overwrites a file it did not create
  SCVGC_REPORT=none SCVGC_SCAVENGE_AFTER=1s SCVGC_FORCEGC=1s SCVGC_GOGC=100 SCVGC_SAMPLE=0 \
    scripts/scvgc --mode "$1" --json "$work/service-$1.json" -- build/demo/service "$secs" >/dev/null
  # module paths are absolute in a report: shown relative to the checkout
  sed "s|$root/||g" "$work/service-$1.json" >"$work/service-$1.rel.json"
  scripts/scvgc report "$work/service-$1.rel.json" --html "$work/service-$1.html" \
    --title "build/demo/service $secs ($1 mode)" >/dev/null
  case "$work" in /*) page=$work/service-$1.html ;; *) page=$root/$work/service-$1.html ;; esac
  env -u LD_PRELOAD "$chrome" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
    --user-data-dir="$tmp/$1" --hide-scrollbars --window-size=1280,"$3" \
    --screenshot="$out/$2" "file://$page" 2>/dev/null
  echo "report-screenshot: wrote $out/$2 ($work/service-$1.html)"
}
shot leak report.png 1420
shot collect report-collect.png 1720
