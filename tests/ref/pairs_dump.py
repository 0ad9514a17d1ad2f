#!/usr/bin/env python3
"""Reference for tests/test_data.c: reads a pairs JSONL file with Python's
json module and writes (1) the text arena strata must build — every query and
positive, UTF-8, each followed by a NUL byte, in file order — and (2) the
statistics `strata inspect` reports, computed with numpy.percentile (linear
interpolation), len(str) for characters and runs of non-ASCII-whitespace for
words.

usage: pairs_dump.py PAIRS.jsonl ARENA_OUT STATS_OUT.json
"""
import json
import re
import sys

import numpy as np

path, arena_out, stats_out = sys.argv[1:4]
queries, positives, sources = [], [], {}
with open(path, encoding="utf-8") as f:
    for line in f:
        if not line.strip():
            continue
        o = json.loads(line)
        q = o["query"] if "query" in o else o["anchor"]
        queries.append(q)
        positives.append(o["positive"])
        s = o.get("source") or "default"
        sources[s] = sources.get(s, 0) + 1
with open(arena_out, "wb") as f:
    for q, p in zip(queries, positives):
        f.write(q.encode("utf-8") + b"\0" + p.encode("utf-8") + b"\0")
WS = re.compile(r"[^ \t\n\v\f\r]+")


def summ(xs):
    a = np.asarray(xs, dtype=np.float64)
    return {"mean": float(a.mean()), "median": float(np.percentile(a, 50)),
            "p95": float(np.percentile(a, 95)), "max": float(a.max())}


stats = {
    "n": len(queries),
    "sources": sources,
    "query_chars": summ([len(q) for q in queries]),
    "query_words": summ([len(WS.findall(q)) for q in queries]),
    "positive_chars": summ([len(p) for p in positives]),
    "positive_words": summ([len(WS.findall(p)) for p in positives]),
    "unique_queries": len(set(queries)),
    "unique_positives": len(set(positives)),
    "unique_pairs": len(set(zip(queries, positives))),
}
with open(stats_out, "w") as f:
    json.dump(stats, f)
