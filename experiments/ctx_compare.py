#!/usr/bin/env python3
"""Tables for experiments/contextual.sh: NDCG@10 per seed, mean and spread,
and paired bootstrap intervals over queries.

Until `strata compare` lands, the statistics are computed here with numpy:
for two systems A and B scored on the same queries, the per-query NDCG@10 of
each is averaged over seeds (the seed noise is then part of each query's
score), the difference d_q = A_q - B_q is resampled over queries with
replacement BOOT times, and the report gives mean(d), the 2.5/97.5
percentiles of the resampled means (95% interval) and a two-sided p-value
(twice the smaller tail of the resampled means around 0, floored at 1/BOOT).

usage: ctx_compare.py OUT --seeds 1,2,3 [--boot 10000]
"""
import argparse
import json
import os

import numpy as np

SETS = ["scifact", "nq_qed"]
SYSTEMS = [("bi-indomain", "biencoder"), ("ctx-indomain", "contextual, in-domain context"),
           ("ctx-random", "contextual, random training documents"),
           ("ctx-null", "contextual, null context")]
PAIRS = [("ctx-indomain", "bi-indomain"), ("ctx-indomain", "ctx-random"),
         ("ctx-indomain", "ctx-null"), ("ctx-null", "bi-indomain")]


def load(out, system, seed, s):
    kind, ctx = system.split("-")
    path = os.path.join(out, "eval", "%s-%s-s%s-%s.json" % (kind, ctx, seed, s))
    if not os.path.exists(path):
        return None
    j = json.load(open(path))
    return j["mean"]["ndcg@10"], {q: v["ndcg@10"] for q, v in j["per_query"].items()}


def bootstrap(d, boot, rng):
    idx = rng.integers(0, len(d), size=(boot, len(d)))
    means = d[idx].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    p = 2 * min((means <= 0).mean(), (means >= 0).mean())
    return d.mean(), lo, hi, max(p, 1.0 / boot)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--boot", type=int, default=10000)
    a = ap.parse_args()
    seeds = a.seeds.split(",")
    rng = np.random.default_rng(0)
    print("## NDCG@10 per seed (test splits)\n")
    print("| system | set | " + " | ".join("seed %s" % s for s in seeds) + " | mean ± sd |")
    print("| --- | --- |" + " --- |" * len(seeds) + " --- |")
    perq = {}
    for sysname, label in SYSTEMS:
        for s in SETS:
            vals, qs = [], []
            for seed in seeds:
                r = load(a.out, sysname, seed, s)
                if r is None:
                    continue
                vals.append(r[0])
                qs.append(r[1])
            if not vals:
                continue
            if len(qs) == len(seeds):
                keys = sorted(qs[0])
                perq[(sysname, s)] = (keys, np.array([[q[k] for k in keys] for q in qs]).mean(0))
            print("| %s | %s | %s | %.4f ± %.4f |" % (
                label, s, " | ".join("%.4f" % v for v in vals), np.mean(vals),
                np.std(vals, ddof=1) if len(vals) > 1 else 0.0))
    print("\n## Paired bootstrap over queries (seed-averaged per-query NDCG@10, %d resamples)\n"
          % a.boot)
    print("| A − B | set | queries | mean difference | 95% interval | p (two-sided) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for A, B in PAIRS:
        for s in SETS:
            if (A, s) not in perq or (B, s) not in perq:
                continue
            ka, va = perq[(A, s)]
            kb, vb = perq[(B, s)]
            assert ka == kb, "different query sets"
            m, lo, hi, p = bootstrap(va - vb, a.boot, rng)
            print("| %s − %s | %s | %d | %+.4f | [%+.4f, %+.4f] | %.4f |"
                  % (A, B, s, len(ka), m, lo, hi, p))


if __name__ == "__main__":
    main()
