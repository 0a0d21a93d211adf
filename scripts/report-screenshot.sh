#!/bin/sh
# Remakes docs/report.png: the HTML report of a real run of the demo service
# (scripts/demo/service.c) under the library, in headless Chromium at 1280x1600.
#   scripts/report-screenshot.sh [OUT.png]
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/docs/report.png}
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome) ||
  { echo "report-screenshot: no chromium (apt-get install chromium)" >&2; exit 1; }
mkdir -p "$root/build/demo"
cc -g -O0 "$root/scripts/demo/service.c" -o "$root/build/demo/service"
# Module paths are absolute in a report: shown relative to the checkout in the picture, so it
# names no directory of the machine that made it.
rm -f "$root/build/demo/service.json"
(cd "$root" && SCVGC_REPORT=none scripts/scvgc --json build/demo/service.json -- build/demo/service >/dev/null)
sed "s|$root/||g" "$root/build/demo/service.json" >"$root/build/demo/service.rel.json"
(cd "$root" && scripts/scvgc report build/demo/service.rel.json --html build/demo/service.html >/dev/null)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
env -u LD_PRELOAD "$chrome" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
  --user-data-dir="$tmp" --hide-scrollbars --window-size=1280,1600 \
  --screenshot="$out" "file://$root/build/demo/service.html" 2>/dev/null
echo "report-screenshot: wrote $out"
