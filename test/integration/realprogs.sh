#!/bin/sh
# realprogs.sh — real programs print the same under LD_PRELOAD=$LIB as without it.
#
# Each case is a small sh script (written to $T/cases/NAME.sh) that drives one real program and
# prints something deterministic. It runs three times: without the preload (the baseline), then
# under the preload in SCVGC_MODE=off and in the default mode, both with SCVGC_REPORT=none; the
# whole case script runs under the preload, so every program it starts does too. A preloaded run
# passes when its stdout is byte-for-byte the baseline's and its exit status is the same (0).
# stderr is never compared: the allocator may write there.
# redis-server is not an output comparison: it runs under the preload on a free port of
# 127.0.0.1 and must serve redis-benchmark and a few checked commands, BGSAVE (a fork of a
# threaded process) included, and then exit 0 on SHUTDOWN NOSAVE.
. "$ROOT/test/integration/common.inc"

broken=$(preload_broken)
mkdir -p "$T/cases" "$T/data"

# ---------------------------------------------------------------------------------------------
# compare NAME LIMIT CASE — runs $T/cases/CASE.sh without the preload and in modes off,
# default (leak) and collect (with SCVGC_GOGC=10: many collections), and compares.
compare() {
	_name=$1 _limit=$2 _case=$T/cases/$3.sh
	_dir=$T/run-$3
	mkdir -p "$_dir"
	run_in plain "$_limit" "$_dir/plain.out" "$_dir/plain.err" sh "$_case"
	_base_rc=$rc
	for _mode in off default collect; do
		_label="$_name under the preload ($(mode_label "$_mode"))"
		if [ -n "$broken" ]; then
			fail "$_label" "the library cannot be preloaded: $broken"
			continue
		fi
		if [ "$_base_rc" != 0 ]; then
			fail "$_label" "the baseline without the preload failed ($(rc_text "$_base_rc" "$_limit")): the test or the machine is broken" \
				"$(tail_of "$_dir/plain.err" 4)"
			continue
		fi
		run_in "$_mode" "$_limit" "$_dir/$_mode.out" "$_dir/$_mode.err" sh "$_case"
		if [ "$rc" != "$_base_rc" ]; then
			fail "$_label" "$(rc_text "$rc" "$_limit") (without the preload: $(rc_text "$_base_rc" "$_limit"))" \
				"$(tail_of "$_dir/$_mode.err" 5)"
		elif ! cmp -s "$_dir/plain.out" "$_dir/$_mode.out"; then
			fail "$_label" "stdout differs from the run without the preload ($(wc -l <"$_dir/plain.out") lines vs $(wc -l <"$_dir/$_mode.out")):" \
				"$(diff "$_dir/plain.out" "$_dir/$_mode.out" | head -n 6 | cut -c1-200)" \
				"$(tail_of "$_dir/$_mode.err" 3)"
		else
			pass "$_label"
		fi
	done
}

# Everything the cases see: a fixed locale and time zone, and no user configuration.
cat >"$T/cases/env.inc" <<EOF
LC_ALL=C TZ=UTC PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1
export LC_ALL TZ PYTHONHASHSEED PYTHONDONTWRITEBYTECODE
DATA=$T/data
set -e
EOF

# ---------------------------------------------------------------------------------------------
# ls
cat >"$T/cases/ls.sh" <<EOF
. $T/cases/env.inc
ls -la /usr/lib
ls -laR /usr/include | head -n 20000
EOF
compare "ls -la /usr/lib" 60 ls

# ---------------------------------------------------------------------------------------------
# sort of a million lines: seq, shuf (with a fixed random source) and sort, threads and
# temporary files included
seq 1 4000000 >"$T/data/randsrc"
cat >"$T/cases/sort.sh" <<EOF
. $T/cases/env.inc
seq 1000000 | shuf --random-source=\$DATA/randsrc >"\$DATA/shuf.\$\$"
sort -n "\$DATA/shuf.\$\$" >"\$DATA/sorted.\$\$"
wc -l <"\$DATA/sorted.\$\$"; head -n 3 "\$DATA/sorted.\$\$"; tail -n 3 "\$DATA/sorted.\$\$"
md5sum <"\$DATA/sorted.\$\$"
sort --parallel=4 -S 4M -T "\$DATA" "\$DATA/shuf.\$\$" | md5sum
awk '{ print \$1 % 1000, \$1 }' "\$DATA/shuf.\$\$" | sort -k1,1n -k2,2nr -u | md5sum
sort -R --random-source=\$DATA/randsrc "\$DATA/sorted.\$\$" | head -n 3
rm -f "\$DATA/shuf.\$\$" "\$DATA/sorted.\$\$"
EOF
compare "seq | shuf | sort of a million lines" 120 sort

# ---------------------------------------------------------------------------------------------
# python3: dicts, json, re, threads; then the same with PYTHONMALLOC=malloc, so that every
# Python object comes from the preloaded malloc instead of pymalloc's arenas
cat >"$T/data/prog.py" <<'EOF'
import collections, gc, hashlib, json, re, threading, queue, random, sys

random.seed(12345)
d = {}
for i in range(200000):
    d["key%d" % i] = {"i": i, "sq": i * i, "s": str(i) * 3, "l": list(range(i % 10))}
s = json.dumps(d, sort_keys=True)
d2 = json.loads(s)
assert d == d2
print(len(s), hashlib.sha256(s.encode()).hexdigest())
del d2

text = " ".join("word%d-%d" % (i % 1000, i * 7 % 13) for i in range(300000))
pairs = re.findall(r"word(\d+)-(\d+)", text)
cnt = collections.Counter(w for w, _ in pairs)
print(len(pairs), cnt.most_common(3))
print(re.sub(r"(\d+)-(\d+)", lambda m: m.group(2) + ":" + m.group(1), text[:120]))
print(len(re.split(r"\s+", text)), bool(re.fullmatch(r"(word\d+-\d+ )+word\d+-\d+", text)))

# threads building their own structures and passing work through queues
results = [None] * 8
q = queue.Queue()
def work(k):
    loc = {}
    for j in range(40000):
        loc[(k, j)] = [j] * (j % 7) + [str(j)]
    for j in range(0, 40000, 3):
        del loc[(k, j)]
    q.put((k, sorted(loc)[:2]))
    results[k] = sum(len(v) for v in loc.values())
ts = [threading.Thread(target=work, args=(k,)) for k in range(8)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(results)
print(sorted(q.get() for _ in range(8)))

# growing buffers and strings
b = bytearray()
for i in range(200000):
    b += i.to_bytes(4, "little")
print(len(b), hashlib.md5(bytes(b)).hexdigest())
parts = []
for i in range(50000):
    parts.append("x" * (i % 100))
print(len("".join(parts)))

# reference cycles the cyclic GC must free
class Node:
    def __init__(self, v):
        self.v = v
        self.next = None
for _ in range(20):
    nodes = [Node(i) for i in range(5000)]
    for a, b2 in zip(nodes, nodes[1:] + nodes[:1]):
        a.next = b2
    del nodes
print(gc.collect() >= 0)

xs = [random.random() for _ in range(300000)]
xs.sort()
print(round(sum(xs), 6), xs[0] < xs[-1])
print(sorted({i * 7919 % 10007 for i in range(100000)})[:5])
EOF
cat >"$T/cases/python3.sh" <<EOF
. $T/cases/env.inc
/usr/bin/python3 -s "\$DATA/prog.py"
EOF
compare "python3 with dicts, json, re and threads" 180 python3
cat >"$T/cases/python3-malloc.sh" <<EOF
. $T/cases/env.inc
export PYTHONMALLOC=malloc
# pymalloc must really be off (it prints its size-class table when on); -I or -E would drop it
echo "pymalloc tables: \$(/usr/bin/python3 -s -c 'import sys; sys._debugmallocstats()' 2>&1 | grep -c 'Small block threshold')"
/usr/bin/python3 -s "\$DATA/prog.py"
EOF
compare "python3 with PYTHONMALLOC=malloc" 180 python3-malloc

# ---------------------------------------------------------------------------------------------
# perl: hashes, regexes, sort
cat >"$T/data/prog.pl" <<'EOF'
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);
my %h;
for my $i (1 .. 200000) { $h{"k$i"} = [$i, $i * $i, "v" x ($i % 20)]; }
my @keys = sort { $h{$a}[1] <=> $h{$b}[1] } grep { /7/ } keys %h;
print scalar(@keys), " $keys[0] $keys[-1]\n";
delete $h{"k$_"} for grep { $_ % 3 } 1 .. 200000;
print scalar(keys %h), "\n";
my $text = join " ", map { "w$_=" . ($_ * 31 % 97) } 1 .. 100000;
my %cnt;
$cnt{$2}++ while $text =~ /w(\d+)=(\d+)/g;
print join(",", map { "$_:$cnt{$_}" } (sort { $a <=> $b } keys %cnt)[0 .. 9]), "\n";
(my $t2 = $text) =~ s/w(\d+)=(\d+)/$2=$1/g;
print length($t2), " ", substr($t2, 0, 60), "\n";
my @sorted = sort { $a <=> $b } map { ($_ * 7919) % 1000003 } 1 .. 300000;
print "@sorted[0 .. 5] $sorted[-1]\n";
print md5_hex(join ",", @sorted), "\n";
my @words = sort map { scalar reverse "$_" } 1 .. 100000;
print md5_hex(join " ", @words), "\n";
my $s = "";
$s .= chr(65 + $_ % 26) for 1 .. 1000000;
print length($s), " ", md5_hex($s), "\n";
EOF
cat >"$T/cases/perl.sh" <<EOF
. $T/cases/env.inc
perl "\$DATA/prog.pl"
EOF
compare "perl with hashes, regexes and sort" 120 perl

# ---------------------------------------------------------------------------------------------
# sqlite3 in memory: recursive CTE inserts, an index, aggregates, a join
cat >"$T/data/prog.sql" <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000)
INSERT INTO t(grp, name, val) SELECT x % 97, 'name' || (x * 7 % 1000), (x * 13 % 1009) / 8.0 FROM c;
CREATE INDEX t_grp ON t(grp, name);
SELECT count(*), sum(val), min(name), max(name) FROM t;
SELECT grp, count(*), sum(val), min(name), max(name) FROM t GROUP BY grp ORDER BY grp LIMIT 10;
SELECT count(DISTINCT name) FROM t;
SELECT name, count(*) AS c FROM t WHERE grp BETWEEN 10 AND 20 GROUP BY name ORDER BY c DESC, name LIMIT 5;
SELECT group_concat(id, ',') FROM (SELECT id FROM t WHERE grp = 3 ORDER BY val DESC, id LIMIT 20);
SELECT count(*) FROM t a JOIN t b ON a.id = b.id + 1 WHERE a.grp = b.grp + 1;
UPDATE t SET name = upper(name) || printf('%08d', id) WHERE id % 5 = 0;
DELETE FROM t WHERE id % 7 = 0;
SELECT count(*), length(group_concat(name, '')) FROM t;
WITH RECURSIVE fib(n, a, b) AS (SELECT 1, 0, 1 UNION ALL SELECT n + 1, b, a + b FROM fib WHERE n < 80)
SELECT n, a FROM fib WHERE n % 20 = 0;
EOF
cat >"$T/cases/sqlite3.sh" <<EOF
. $T/cases/env.inc
sqlite3 -batch -init /dev/null :memory: <"\$DATA/prog.sql"
EOF
compare "sqlite3 :memory: with a recursive CTE, an index and aggregates" 120 sqlite3

# ---------------------------------------------------------------------------------------------
# git: init, add, commit, log, gc, fsck in a fresh directory with fixed identities and dates
cat >"$T/cases/git.sh" <<EOF
. $T/cases/env.inc
d=\$(mktemp -d "\$DATA/git.XXXXXX")
trap 'rm -rf "\$d"' EXIT
HOME=\$d/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
GIT_AUTHOR_NAME="A U Thor" GIT_AUTHOR_EMAIL=author@example.com GIT_AUTHOR_DATE="2024-01-02T03:04:05+0000"
GIT_COMMITTER_NAME="C O Mitter" GIT_COMMITTER_EMAIL=committer@example.com GIT_COMMITTER_DATE="2024-01-02T03:04:05+0000"
export HOME GIT_CONFIG_NOSYSTEM GIT_CONFIG_GLOBAL GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_AUTHOR_DATE
export GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL GIT_COMMITTER_DATE
mkdir -p "\$HOME" "\$d/repo"
cd "\$d/repo"
git init -q -b main .
i=1
while [ \$i -le 300 ]; do seq \$i > "s\$i.txt"; echo "file \$i" > "f\$i.txt"; i=\$((i + 1)); done
mkdir sub; seq 100000 > sub/big.txt
git add .
git commit -q -m "first commit"
i=1
while [ \$i -le 300 ]; do echo "more \$i" >> "s\$i.txt"; i=\$((i + 7)); done
sed -i 's/^5/five/' sub/big.txt
git rm -q f2.txt f3.txt
git commit -q -a -m "second commit"
git checkout -q -b side HEAD~1
echo side > side.txt; git add side.txt; git commit -q -m "side commit"
git checkout -q main
git merge -q --no-edit side
git log --stat --format='%H %an <%ae> %ad %cn %s' --date=iso-strict
git log --graph --oneline --all
git diff --stat HEAD~2 HEAD
git diff HEAD~2 HEAD -- s8.txt sub/big.txt | head -n 40
git show HEAD~1:s1.txt
git ls-tree -r HEAD | md5sum
git grep -c five -- sub
git gc -q
git fsck --strict --no-progress >/dev/null 2>&1 && echo "fsck: ok"
git rev-parse HEAD HEAD~1 HEAD~2
git cat-file -p HEAD
EOF
compare "git init, add, commit, merge, log and gc" 120 git

# ---------------------------------------------------------------------------------------------
# gcc: compile a C program (driver, cc1, as, collect2 and ld all run under the preload); the
# assembly is compared through its md5, and the program it builds runs and prints the same
cat >"$T/data/prog.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry { char *key; unsigned long count; struct entry *next; };
#define NB 4099
static struct entry *table[NB];

static unsigned long hash(const char *s)
{
	unsigned long h = 5381;
	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

static void add(const char *k)
{
	unsigned long h = hash(k) % NB;
	for (struct entry *e = table[h]; e; e = e->next)
		if (!strcmp(e->key, k)) {
			e->count++;
			return;
		}
	struct entry *e = malloc(sizeof *e);
	e->key = strdup(k);
	e->count = 1;
	e->next = table[h];
	table[h] = e;
}

static int cmp(const void *a, const void *b)
{
	const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->key, y->key);
}

int main(void)
{
	char buf[64];
	size_t n = 0;
	for (unsigned long i = 0; i < 500000; i++) {
		snprintf(buf, sizeof buf, "w%lu", (i * 2654435761u) % 20011 % (1 + i % 977));
		add(buf);
	}
	struct entry **all = NULL;
	for (int b = 0; b < NB; b++)
		for (struct entry *e = table[b]; e; e = e->next) {
			all = realloc(all, (n + 1) * sizeof *all);
			all[n++] = e;
		}
	qsort(all, n, sizeof *all, cmp);
	printf("%zu distinct\n", n);
	for (size_t i = 0; i < 10 && i < n; i++)
		printf("%s %lu\n", all[i]->key, all[i]->count);
	for (size_t i = 0; i < n; i++) {
		free(all[i]->key);
		free(all[i]);
	}
	free(all);
	return 0;
}
EOF
cat >"$T/cases/gcc.sh" <<EOF
. $T/cases/env.inc
d=\$(mktemp -d "\$DATA/gcc.XXXXXX")
trap 'rm -rf "\$d"' EXIT
cp "\$DATA/prog.c" "\$d/prog.c"
cd "\$d"
gcc -O2 -Wall -Werror -S -o - prog.c | md5sum
gcc -O2 -Wall -Werror -o prog prog.c
./prog
EOF
compare "gcc compiling a C program, and that program" 180 gcc

# ---------------------------------------------------------------------------------------------
# redis-server under the preload, driven by redis-benchmark and redis-cli (not preloaded)
free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

redis_case() {
	_mode=$1
	_label="redis-server serves redis-benchmark, BGSAVE and checked commands under the preload ($(mode_label "$_mode"))"
	if [ -n "$broken" ]; then
		fail "$_label" "the library cannot be preloaded: $broken"
		return
	fi
	for _p in redis-server redis-cli redis-benchmark; do
		if ! command -v "$_p" >/dev/null 2>&1; then
			fail "$_label" "$_p is not installed (the CI script installs redis-server and redis-tools)"
			return
		fi
	done
	_rd=$T/redis-$_mode
	mkdir -p "$_rd"
	_tries=0
	while :; do
		_tries=$((_tries + 1))
		port=$(free_port)
		if [ "$_mode" = off ]; then
			timeout -k 5 300 env LD_PRELOAD="$LIB" SCVGC_MODE=off SCVGC_REPORT=none redis-server \
				--port "$port" --bind 127.0.0.1 --protected-mode no --save '' --appendonly no \
				--daemonize no --dir "$_rd" --logfile "$_rd/redis.log" >"$_rd/out" 2>"$_rd/err" &
		else
			timeout -k 5 300 env -u SCVGC_MODE LD_PRELOAD="$LIB" SCVGC_REPORT=none redis-server \
				--port "$port" --bind 127.0.0.1 --protected-mode no --save '' --appendonly no \
				--daemonize no --dir "$_rd" --logfile "$_rd/redis.log" >"$_rd/out" 2>"$_rd/err" &
		fi
		spid=$!
		_up=0
		_i=0
		while [ $_i -lt 100 ]; do
			if [ "$(redis-cli -p "$port" PING 2>/dev/null)" = PONG ]; then
				_up=1
				break
			fi
			kill -0 "$spid" 2>/dev/null || break
			sleep 0.1
			_i=$((_i + 1))
		done
		[ $_up = 1 ] && break
		kill "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
		if [ $_tries -ge 3 ]; then
			fail "$_label" "redis-server did not answer PING on port $port within 10 s (3 tries)" \
				"$(tail_of "$_rd/redis.log" 3)" "$(tail_of "$_rd/err" 3)"
			return
		fi
	done

	problems=""
	# is the server really running under the preload?
	rpid=$(redis-cli -p "$port" INFO server | tr -d '\r' | sed -n 's/^process_id://p')
	if [ -z "$rpid" ] || ! grep -qF "$(readlink -f "$LIB")" "/proc/$rpid/maps" 2>/dev/null; then
		problems="redis-server (pid ${rpid:-?}) does not map $LIB"
	fi

	cli() { redis-cli -p "$port" "$@" 2>&1; }
	# bench WANT ARGS...: redis-benchmark ARGS must print at least WANT result lines, no error
	bench() {
		_want=$1
		shift
		redis-benchmark -h 127.0.0.1 -p "$port" -q "$@" >"$_rd/bench.out" 2>&1
		_brc=$?
		tr '\r' '\n' <"$_rd/bench.out" | grep -v '^ *$' | grep -v ': rps=' >"$_rd/bench.lines"
		if [ $_brc != 0 ] || grep -qiE 'error|ERR |refused|reset|timeout' "$_rd/bench.lines" ||
			[ "$(grep -c 'requests per second' "$_rd/bench.lines")" -lt "$_want" ]; then
			problems="${problems:+$problems; }redis-benchmark $* (exit $_brc): $(grep -v 'requests per second' "$_rd/bench.lines" | head -n 2 | tr '\n' ' ')"
		fi
	}
	[ -n "$problems" ] || bench 8 -n 20000 -t set,get,incr,lpush,rpush,lpop,sadd,hset -c 20
	[ -n "$problems" ] || bench 4 -n 20000 -t set,get,lpush,lrange_100 -P 16 -c 10
	[ -n "$problems" ] || bench 2 -n 20000 -t set,get -d 4096 -r 5000 -c 10
	[ -n "$problems" ] || bench 2 -n 20000 -t mset,zadd -P 8 -r 100000

	if [ -z "$problems" ]; then
		seq 1 1000 >"$_rd/list.expect"
		cli DEL checklist >/dev/null
		# shellcheck disable=SC2046 # one argument per number on purpose
		[ "$(cli RPUSH checklist $(seq 1 1000))" = 1000 ] || problems="RPUSH of 1000 numbers did not answer 1000"
		cli LRANGE checklist 0 -1 >"$_rd/list.got"
		cmp -s "$_rd/list.expect" "$_rd/list.got" || problems="${problems:+$problems; }LRANGE checklist 0 -1 differs from 1..1000"
		head -c 1048576 /dev/zero | tr '\0' 'q' >"$_rd/big.val"
		cli -x SET checkbig <"$_rd/big.val" >/dev/null
		[ "$(cli STRLEN checkbig)" = 1048576 ] || problems="${problems:+$problems; }STRLEN of a 1 MiB value is $(cli STRLEN checkbig)"
		[ "$(cli GETRANGE checkbig 524288 524295)" = qqqqqqqq ] || problems="${problems:+$problems; }GETRANGE of the 1 MiB value is wrong"
		[ "$(cli SET checkkey hello)" = OK ] && [ "$(cli APPEND checkkey ', world')" = 12 ] &&
			[ "$(cli GET checkkey)" = "hello, world" ] || problems="${problems:+$problems; }SET/APPEND/GET of checkkey went wrong"
		# BGSAVE forks the threaded server; the child writes the RDB file and exits
		cli BGSAVE >/dev/null
		_i=0
		while [ $_i -lt 300 ]; do
			cli INFO persistence | tr -d '\r' | grep -q '^rdb_bgsave_in_progress:0' && break
			sleep 0.1
			_i=$((_i + 1))
		done
		_st=$(cli INFO persistence | tr -d '\r' | sed -n 's/^rdb_last_bgsave_status://p')
		[ "$_st" = ok ] || problems="${problems:+$problems; }BGSAVE ended with status '${_st:-none}'"
		[ -s "$_rd/dump.rdb" ] || problems="${problems:+$problems; }BGSAVE wrote no dump.rdb"
		# FLUSHALL ASYNC frees everything from a background thread
		cli FLUSHALL ASYNC >/dev/null
		_i=0
		while [ $_i -lt 100 ] && [ "$(cli DBSIZE)" != 0 ]; do sleep 0.1; _i=$((_i + 1)); done
		[ "$(cli DBSIZE)" = 0 ] || problems="${problems:+$problems; }DBSIZE after FLUSHALL ASYNC is $(cli DBSIZE)"
		[ "$(cli SET after flush)" = OK ] && [ "$(cli GET after)" = flush ] || problems="${problems:+$problems; }SET/GET after FLUSHALL failed"
	fi

	cli SHUTDOWN NOSAVE >/dev/null
	_i=0
	while [ $_i -lt 200 ] && kill -0 "$spid" 2>/dev/null; do sleep 0.1; _i=$((_i + 1)); done
	if kill -0 "$spid" 2>/dev/null; then
		problems="${problems:+$problems; }redis-server still runs 20 s after SHUTDOWN NOSAVE"
		kill "$spid" 2>/dev/null
	fi
	wait "$spid"
	src=$?
	[ "$src" = 0 ] || problems="${problems:+$problems; }redis-server $(rc_text "$src" 300) after SHUTDOWN NOSAVE"
	if [ -z "$problems" ]; then
		pass "$_label"
	else
		fail "$_label" "$problems" "$(tail_of "$_rd/redis.log" 3)" "$(tail_of "$_rd/err" 3)"
	fi
}
redis_case off
redis_case default

exit 0
