#!/bin/bash
# compat-progs.sh — real programs under libscvgc, with figures: part of `make compat`.
#
#   scripts/compat-progs.sh [--quick] [--only NAME,...] [--out DIR]   (DIR: build/compat/progs)
#
# Each workload runs without the preload (the baseline) and under LD_PRELOAD=build/libscvgc.so
# in modes off, leak and collect (SCVGC_GOGC=10), SCVGC_REPORT=none. A run passes when its
# exit status is 0 and its checked output (a digest of what the programs print or write) is
# the baseline's. Wall time and peak RSS (GNU time) of each run go in DIR/figures.md.
#   git     git clone --no-local of this repository (the checkout the script runs from;
#           SCVGC_COMPAT_GIT_SRC names another), git gc --aggressive, repack -adf, fsck --full, log --stat,
#           blame, archive
#   gcc     gcc -O2 -c of a generated 30,000-line C file, md5 of the object
#   perl    a perl script: hashes of a million keys, regexes, sort, string building
#   sqlite3 an on-disk database: 300,000 rows, indexes, joins, window functions, VACUUM
#   redis   redis-server (collect mode only, and a glibc baseline for the RSS figure) on
#           127.0.0.1 driven by redis-benchmark over every command it has, 50,000 requests
#           each (--quick: 5,000); no error allowed; RSS after the run (VmRSS of the server),
#           and the server's own used_memory
# Exit status 1 when any run failed. --quick: smaller inputs (a smoke test, not figures).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIB=$ROOT/build/libscvgc.so
OUT=$ROOT/build/compat/progs
QUICK=0
ONLY=git,gcc,perl,sqlite3,redis
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--only) ONLY=$2; shift ;;
	--out) OUT=$(realpath -m "$2"); shift ;;
	*) echo "usage: $0 [--quick] [--only NAME,...] [--out DIR]" >&2; exit 2 ;;
	esac
	shift
done
[ -f "$LIB" ] || { echo "compat-progs: $LIB is missing (make)" >&2; exit 2; }
for p in git gcc perl sqlite3 redis-server redis-cli redis-benchmark /usr/bin/time python3; do
	command -v "$p" >/dev/null 2>&1 || { echo "compat-progs: $p is missing (make deps-test)" >&2; exit 2; }
done
want() { case ",$ONLY," in *",$1,"*) return 0 ;; esac; return 1; }
rm -rf "$OUT"
mkdir -p "$OUT/data"
D=$OUT/data
export LC_ALL=C TZ=UTC
FIG=$OUT/figures.md
failed=0
echo "| workload | mode | result | wall s | peak RSS MiB |" >"$FIG"
echo "|---|---|---|---|---|" >>"$FIG"

mode_env() {
	case $1 in
	plain) echo "" ;;
	off) echo "LD_PRELOAD=$LIB SCVGC_MODE=off SCVGC_REPORT=none" ;;
	leak) echo "LD_PRELOAD=$LIB SCVGC_MODE=leak SCVGC_REPORT=none" ;;
	collect) echo "LD_PRELOAD=$LIB SCVGC_MODE=collect SCVGC_GOGC=10 SCVGC_REPORT=none" ;;
	esac
}

# run_case NAME LIMIT SCRIPT: runs bash SCRIPT in the four modes; SCRIPT prints the digest
run_case() {
	local name=$1 limit=$2 script=$3 m base=""
	want "$name" || return 0
	for m in plain off leak collect; do
		local dir=$OUT/$name.$m
		mkdir -p "$dir"
		# shellcheck disable=SC2046 # the mode's assignments, one word each
		( cd "$dir" && timeout -k 5 "$limit" /usr/bin/time -f "%e %M" -o "$dir/time" \
			env -u LD_PRELOAD $(mode_env $m) bash "$script" >"$dir/out" 2>"$dir/err" )
		local rc=$?
		read -r secs kib <"$dir/time" 2>/dev/null || { secs=?; kib=0; }
		[ "$m" = plain ] && base=$dir/out
		local res=ok
		if [ $rc != 0 ]; then
			res="FAILED (exit $rc)"
		elif [ "$m" != plain ] && ! cmp -s "$base" "$dir/out"; then
			res="FAILED (output differs)"
		fi
		[ "$res" = ok ] || failed=1
		printf '%-8s %-8s %-24s %8s s %8s MiB\n' "$name" "$m" "$res" "$secs" "$((kib / 1024))"
		[ "$res" = ok ] || { tail -n 5 "$dir/err" | sed 's/^/    | /'; diff "$base" "$dir/out" | head -n 5 | sed 's/^/    | /'; }
		echo "| $name | $m | $res | $secs | $((kib / 1024)) |" >>"$FIG"
	done
}

# ---- git -------------------------------------------------------------------------------------
SRC=${SCVGC_COMPAT_GIT_SRC:-$ROOT}
[ -d "$SRC/.git" ] || [ -f "$SRC/.git" ] || SRC=$ROOT
cat >"$D/git.sh" <<EOF
set -e
export HOME=\$PWD/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
mkdir -p "\$HOME"
rm -rf clone
git clone -q --no-local --no-hardlinks "$SRC" clone
cd clone
git gc -q --aggressive --prune=now
git repack -q -adf --window=50
git fsck --full --strict --no-progress >/dev/null 2>&1 && echo "fsck ok"
git count-objects -v | grep -E '^(count|in-pack|packs):'
git log --stat --format='%H %an %s' | md5sum
git rev-list --all --objects | sort | md5sum
f=\$(git ls-files '*.c' | head -n 3)
for x in \$f; do git blame -s \$x | md5sum; done
git archive --format=tar HEAD | md5sum
EOF
run_case git 600 "$D/git.sh"

# ---- gcc -O2 of a large generated file ----------------------------------------------------------
nfun=$([ $QUICK = 1 ] && echo 300 || echo 1000)
python3 - "$D/big.c" "$nfun" <<'EOF'
import sys
path, n = sys.argv[1], int(sys.argv[2])
out = ["#include <stdlib.h>", "#include <string.h>", "struct rec { int a; long b; double c; char s[24]; struct rec *next; };"]
for i in range(n):
    out.append(f"""
static int helper{i}(const struct rec *r, int k) {{
    int acc = {i};
    for (int j = 0; j < k; j++) {{
        switch ((j + r->a) % 7) {{
        case 0: acc += r->a * {i % 13 + 1}; break;
        case 1: acc ^= (int)(r->b >> (j % 17)); break;
        case 2: acc -= (int)(r->c * {i % 5 + 1}.5); break;
        case 3: acc += r->s[j % 24]; break;
        case 4: acc = acc * 31 + j; break;
        default: acc += r->next ? r->next->a : -1;
        }}
    }}
    return acc;
}}
int func{i}(struct rec *head, int n) {{
    int total = 0;
    struct rec *arr = malloc(sizeof *arr * (size_t)n);
    if (!arr) return -1;
    for (int j = 0; j < n; j++) {{
        arr[j].a = j * {i + 3};
        arr[j].b = (long)j << {i % 20};
        arr[j].c = j / {i % 9 + 1}.0;
        memset(arr[j].s, j, sizeof arr[j].s);
        arr[j].next = j ? &arr[j - 1] : head;
    }}
    for (int j = 0; j < n; j++) total += helper{i}(&arr[j], j % 11);
    free(arr);
    return total;
}}""")
out.append("int (*table[])(struct rec *, int) = {" + ", ".join(f"func{i}" for i in range(n)) + "};")
open(path, "w").write("\n".join(out) + "\n")
EOF
cat >"$D/gcc.sh" <<EOF
set -e
gcc -O2 -frandom-seed=scvgc -c "$D/big.c" -o big.o
wc -l <"$D/big.c"
md5sum <big.o
EOF
run_case gcc 900 "$D/gcc.sh"

# ---- perl ------------------------------------------------------------------------------------
nkeys=$([ $QUICK = 1 ] && echo 100000 || echo 1000000)
cat >"$D/prog.pl" <<EOF
use strict; use warnings; use Digest::MD5 qw(md5_hex);
my %h; my \$n = $nkeys;
for my \$i (1 .. \$n) { \$h{"key\$i"} = { i => \$i, sq => \$i * \$i, s => "v" x (\$i % 40), l => [1 .. (\$i % 8)] }; }
my @k = sort { \$h{\$a}{sq} <=> \$h{\$b}{sq} } grep { /9/ } keys %h;
print scalar(@k), " \$k[0] \$k[-1]\n";
delete \$h{"key\$_"} for grep { \$_ % 3 } 1 .. \$n;
print scalar(keys %h), "\n";
my \$text = join " ", map { "w\$_=" . (\$_ * 31 % 997) } 1 .. (\$n / 2);
my %cnt; \$cnt{\$2}++ while \$text =~ /w(\d+)=(\d+)/g;
print md5_hex(join ",", map { "\$_:\$cnt{\$_}" } sort { \$a <=> \$b } keys %cnt), "\n";
(my \$t2 = \$text) =~ s/w(\d+)=(\d+)/\$2=\$1/g;
print length(\$t2), " ", md5_hex(\$t2), "\n";
my @s = sort { \$a cmp \$b } map { scalar reverse "\$_" } 1 .. \$n;
print md5_hex(join " ", @s), "\n";
my \$str = ""; \$str .= chr(65 + \$_ % 26) x (\$_ % 5) for 1 .. \$n;
print length(\$str), " ", md5_hex(\$str), "\n";
EOF
cat >"$D/perl.sh" <<EOF
set -e
perl "$D/prog.pl"
EOF
run_case perl 600 "$D/perl.sh"

# ---- sqlite3 on disk -----------------------------------------------------------------------------
nrows=$([ $QUICK = 1 ] && echo 30000 || echo 300000)
cat >"$D/prog.sql" <<EOF
PRAGMA journal_mode=WAL;
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL, blob BLOB);
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $nrows)
INSERT INTO t(grp, name, val, blob) SELECT x % 101, 'name' || (x * 7 % 5003), (x * 13 % 1009) / 8.0, zeroblob(x % 300) FROM c;
COMMIT;
CREATE INDEX t_grp ON t(grp, name);
CREATE INDEX t_val ON t(val);
SELECT count(*), sum(val), min(name), max(name), sum(length(blob)) FROM t;
SELECT grp, count(*), sum(val) FROM t GROUP BY grp ORDER BY grp LIMIT 5;
SELECT name, count(*) AS c FROM t WHERE grp BETWEEN 10 AND 30 GROUP BY name ORDER BY c DESC, name LIMIT 5;
SELECT id, val, rank() OVER (PARTITION BY grp ORDER BY val DESC, id) AS r FROM t WHERE grp = 7 ORDER BY r, id LIMIT 5;
SELECT count(*) FROM t a JOIN t b ON a.id = b.id + 1 WHERE a.grp = b.grp + 1;
UPDATE t SET name = upper(name) || printf('%08d', id) WHERE id % 5 = 0;
DELETE FROM t WHERE id % 7 = 0;
VACUUM;
SELECT count(*), length(group_concat(name, '')), total(val) FROM t;
PRAGMA integrity_check;
EOF
cat >"$D/sqlite3.sh" <<EOF
set -e
rm -f db.sqlite db.sqlite-wal db.sqlite-shm
sqlite3 -batch -init /dev/null db.sqlite <"$D/prog.sql"
EOF
run_case sqlite3 600 "$D/sqlite3.sh"

# ---- redis-server, collect mode -------------------------------------------------------------------
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
nreq=$([ $QUICK = 1 ] && echo 5000 || echo 50000)
redis_run() { # MODE
	local m=$1 dir=$OUT/redis.$m
	mkdir -p "$dir"
	local port
	port=$(free_port)
	# shellcheck disable=SC2046
	env -u LD_PRELOAD $(mode_env $m) SCVGC_REPORT="$dir/scvgc-report.txt" redis-server --port "$port" \
		--bind 127.0.0.1 --protected-mode no --save '' --appendonly no --daemonize no \
		--dir "$dir" --logfile "$dir/redis.log" >"$dir/out" 2>"$dir/err" &
	local spid=$! i=0
	while [ $i -lt 100 ] && [ "$(redis-cli -p "$port" PING 2>/dev/null)" != PONG ]; do sleep 0.1; i=$((i + 1)); done
	local problems=""
	[ $i -lt 100 ] || problems="no PONG within 10 s"
	local rss0 rss1 t0 t1 used
	rss0=$(awk '/^VmRSS/ {print $2}' /proc/$spid/status)
	t0=$(date +%s.%N)
	if [ -z "$problems" ]; then
		# every test redis-benchmark has (no -t): PING, SET, GET, INCR, LPUSH, RPUSH, LPOP, RPOP,
		# SADD, HSET, SPOP, ZADD, ZPOPMIN, LRANGE_100/300/500/600, MSET
		redis-benchmark -h 127.0.0.1 -p "$port" -q -n "$nreq" -c 20 -r 100000 -d 256 >"$dir/bench.out" 2>&1 ||
			problems="redis-benchmark exited $?"
		redis-benchmark -h 127.0.0.1 -p "$port" -q -n "$nreq" -c 10 -P 16 -r 100000 >"$dir/bench2.out" 2>&1 ||
			problems="${problems:+$problems; }redis-benchmark -P 16 exited $?"
		tr '\r' '\n' <"$dir/bench.out" | grep -v ': rps=' | grep -v '^ *$' >"$dir/bench.lines"
		tr '\r' '\n' <"$dir/bench2.out" | grep -v ': rps=' | grep -v '^ *$' >>"$dir/bench.lines"
		grep -qiE 'error|ERR |refused|reset|timeout' "$dir/bench.lines" &&
			problems="${problems:+$problems; }errors: $(grep -iE 'error|ERR |refused|reset|timeout' "$dir/bench.lines" | head -n 2 | tr '\n' ' ')"
		local ntests
		ntests=$(grep -c 'requests per second' "$dir/bench.lines")
		[ "$ntests" -ge 30 ] || problems="${problems:+$problems; }only $ntests benchmark results"
		[ "$(redis-cli -p "$port" SET k v)" = OK ] && [ "$(redis-cli -p "$port" GET k)" = v ] ||
			problems="${problems:+$problems; }SET/GET after the benchmark failed"
	fi
	t1=$(date +%s.%N)
	rss1=$(awk '/^VmRSS/ {print $2}' /proc/$spid/status)
	used=$(redis-cli -p "$port" INFO memory | tr -d '\r' | sed -n 's/^used_memory_human://p')
	redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1
	wait $spid
	local src=$?
	[ $src = 0 ] || problems="${problems:+$problems; }redis-server exited $src"
	local res=ok
	[ -z "$problems" ] || { res="FAILED ($problems)"; failed=1; }
	local secs
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	printf '%-8s %-8s %-24s %8s s %8s MiB RSS after the run (%s MiB at start), used_memory %s\n' redis "$m" "$res" \
		"${secs%.*}" "$((${rss1:-0} / 1024))" "$((${rss0:-0} / 1024))" "$used"
	echo "| redis ($((nreq / 1000))k requests × $(grep -c 'requests per second' "$dir/bench.lines" 2>/dev/null) tests) | $m | $res | ${secs%.*} | $((${rss1:-0} / 1024)) after the run (used_memory $used) |" >>"$FIG"
	grep 'requests per second' "$dir/bench.lines" | sed 's/^/    /' >"$dir/bench.summary"
}
if want redis; then for m in plain collect; do redis_run $m; done; fi
[ -s "$OUT/redis.collect/scvgc-report.txt" ] && grep -E 'gc:|rss:|heap:' "$OUT/redis.collect/scvgc-report.txt" | sed 's/^/    collect-mode report: /'

echo
echo "figures: $FIG"
exit $failed
