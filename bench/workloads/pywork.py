"""pywork: a real-program workload for the allocator benchmarks.

Run as  PYTHONMALLOC=malloc PYTHONHASHSEED=0 /usr/bin/python3 pywork.py [records]
so that every Python object is allocated with malloc (not pymalloc).
It builds records (dicts with strings, lists and nested dicts), serialises
them with json.dumps, parses them back, groups and sorts them and formats a
report.  Prints one line "checksum <hex>" (deterministic: fixed seed, fixed
hash seed, no addresses)."""
import json
import os
import random
import sys
import zlib

WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu "
         "nu xi omicron pi rho sigma tau upsilon phi chi psi omega").split()


def make_record(rng, i):
    return {
        "id": i,
        "name": "-".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4))),
        "score": rng.random() * 1000,
        "tags": [rng.choice(WORDS) for _ in range(rng.randint(0, 6))],
        "attrs": {rng.choice(WORDS): rng.randint(0, 10**6) for _ in range(rng.randint(1, 5))},
        "history": [[rng.randint(0, 99), str(rng.randint(0, 10**9))] for _ in range(rng.randint(0, 8))],
    }


def main():
    if sys.flags.ignore_environment or os.environ.get("PYTHONMALLOC") != "malloc":
        sys.exit("pywork.py: run with PYTHONMALLOC=malloc (and without -E/-I), "
                 "or the allocator under test is hardly used")
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 30000
    rng = random.Random(4)
    crc = 0
    chunk = 5000
    groups = {}
    for start in range(0, total, chunk):
        records = [make_record(rng, i) for i in range(start, min(total, start + chunk))]
        text = json.dumps(records, sort_keys=True)
        crc = zlib.crc32(text.encode(), crc)
        back = json.loads(text)
        for rec in back:
            key = rec["name"].split("-")[0]
            groups.setdefault(key, []).append((rec["score"], rec["id"], len(rec["tags"])))
        # drop most of the history: many objects die, some survive
        for key in groups:
            groups[key] = sorted(groups[key], reverse=True)[:200]
    lines = []
    for key in sorted(groups):
        best = groups[key]
        lines.append("%s %d %.3f %s" % (key, len(best), sum(s for s, _, _ in best),
                                        ",".join(str(i) for _, i, _ in best[:10])))
    report = "\n".join(lines)
    crc = zlib.crc32(report.encode(), crc)
    print("checksum %08x" % crc)


if __name__ == "__main__":
    main()
