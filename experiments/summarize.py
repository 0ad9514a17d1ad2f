#!/usr/bin/env python3
"""Markdown tables from `strata demo` output folders (one per setting).

usage: experiments/summarize.py OUT/SETTING [OUT/SETTING ...]

Per setting and evaluation set: NDCG@10 and Recall@100 per strategy with the
95% bootstrap interval (seeds pooled per query), the seed spread, the paired
difference to random and to the untrained references with interval and
Holm-corrected randomization p-value (all from the demo's compare-SET.json);
the experiment's power: the smallest NDCG@10 difference to random it could
detect (two-sided alpha 0.05, power 0.8, normal approximation on the paired
per-query differences of the seed-pooled runs, sd taken from the observed
differences; with the Holm correction the first comparison is tested at
alpha/K, shown too); the training loss and in-batch accuracy in five windows
(mean over seeds); batch hardness; and the wall time per kind of stage.
Reads only what the demo wrote, plus the per-query metrics files for the
power figures.
"""
import json
import math
import os
import sys
from statistics import NormalDist


def f4(x):
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else "%.4f" % x


def pv(p):
    return "" if p is None else ("%.1e" % p if p < 0.001 else "%.3f" % p)


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def find(cmp, a, b, metric):
    for p in cmp["pairs"]:
        if p["a"] == a and p["b"] == b and p["metric"] == metric:
            return p
    return None


def per_query(path, metric):
    pq = json.load(open(path))["per_query"]
    return {q: v[metric] for q, v in pq.items()}


def mde(out, settings, strategies, seeds, set_name, base, name, k):
    """Smallest detectable mean difference of `name` - `base` on NDCG@10."""
    def pooled(s):
        runs = [per_query(os.path.join(out, "runs", s, "seed" + seed, "metrics-%s.json" % set_name), "ndcg@10")
                for seed in seeds]
        return {q: sum(r[q] for r in runs) / len(runs) for q in runs[0]}
    a, b = pooled(base), pooled(name)
    d = [b[q] - a[q] for q in a]
    n = len(d)
    m = sum(d) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in d) / (n - 1))
    z = NormalDist().inv_cdf
    return (z(0.975) + z(0.8)) * sd / math.sqrt(n), (z(1 - 0.025 / k) + z(0.8)) * sd / math.sqrt(n), sd, n


def summarize(out):
    res = json.load(open(os.path.join(out, "results.json")))
    st = res["settings"]
    strategies = st["strategies"].split(",")
    seeds = st["seeds"].split(",")
    print("## %s\n" % os.path.basename(os.path.normpath(out)))
    print("settings: " + ", ".join("%s=%s" % (k, v) for k, v in st.items()) + "\n")
    refs = ["hash embedder"] + (["initial model"] if st.get("init", "(fresh)") != "(fresh)" else [])
    for set_name in res["sets"]:
        cmp = res["comparisons"][set_name]
        base = cmp["baseline"]
        print("### %s (%d queries, seeds %s pooled per query)\n" % (set_name, cmp["queries"], st["seeds"]))
        head = ["strategy", "NDCG@10 [95% CI]", "seed sd", "vs %s [95%% CI]" % base, "p (Holm)"]
        head += ["vs %s [95%% CI] (p Holm)" % r for r in refs]
        head += ["R@100 [95% CI]", "R@100 vs %s" % base, "p (Holm)"]
        rows = []
        for name in strategies + refs:
            run = cmp["runs"][name]
            nd, rc = run["ndcg@10"], run["recall@100"]
            r = [name, "%s [%s, %s]" % (f4(nd["mean"]), f4(nd["ci_lo"]), f4(nd["ci_hi"])),
                 f4(nd.get("seed_sd")) if name in strategies else ""]
            p = find(cmp, base, name, "ndcg@10") if name in strategies else None
            r += ["%+.4f [%+.4f, %+.4f]" % (p["diff"], p["ci_lo"], p["ci_hi"]) if p else "", pv(p["p_adj"]) if p else ""]
            for ref in refs:
                q = find(cmp, ref, name, "ndcg@10") if name in strategies else None
                r += ["%+.4f [%+.4f, %+.4f] (p %s)" % (q["diff"], q["ci_lo"], q["ci_hi"], pv(q["p_adj"])) if q else ""]
            p = find(cmp, base, name, "recall@100") if name in strategies else None
            r += ["%s [%s, %s]" % (f4(rc["mean"]), f4(rc["ci_lo"]), f4(rc["ci_hi"])),
                  "%+.4f [%+.4f, %+.4f]" % (p["diff"], p["ci_lo"], p["ci_hi"]) if p else "", pv(p["p_adj"]) if p else ""]
            rows.append(r)
        print(table(head, rows) + "\n")
        k = len([p for p in cmp["pairs"] if p["metric"] == "ndcg@10"])
        prow = []
        for name in strategies:
            if name == base:
                continue
            m, mk, sd, n = mde(out, st, strategies, seeds, set_name, base, name, k)
            prow.append([name, n, "%.4f" % sd, "%.4f" % m, "%.4f" % mk])
        print("Power: smallest NDCG@10 difference to %s detectable with power 0.8 (two-sided 0.05; "
              "and at 0.05/%d, Holm's first step):\n" % (base, k))
        print(table(["strategy", "queries", "sd of per-query differences", "MDE", "MDE at 0.05/%d" % k], prow) + "\n")
    # curves in five windows
    head = ["strategy"]
    rows = []
    for name in strategies:
        seeds_j = res["strategies"][name]["seeds"]
        n = min(len(s["curve"]["loss"]) for s in seeds_j)
        if n == 0:
            continue
        w = max(1, n // 5)
        cells = []
        for i in range(0, n, w):
            l = [sum(s["curve"]["loss"][i:i + w]) / len(s["curve"]["loss"][i:i + w]) for s in seeds_j]
            a = [sum(s["curve"]["acc"][i:i + w]) / len(s["curve"]["acc"][i:i + w]) for s in seeds_j]
            cells.append("%.3f / %.3f" % (sum(l) / len(l), sum(a) / len(a)))
        if len(head) == 1:
            head += ["steps %d-%d" % (i + 1, min(n, i + w)) for i in range(0, n, w)]
        rows.append([name] + cells)
    print("Training loss / in-batch accuracy (mean over seeds):\n")
    print(table(head, rows) + "\n")
    rows = []
    for name in strategies:
        o = res["strategies"][name]
        h = o["hardness"]
        rows.append([name, f4(h["mean_loss"]), f4(h["mean_top1"]), f4(h["mean_offdiag_sim"]),
                     f4(o.get("masked_fraction")), f4(o["final_loss"]), f4(o["final_acc"])])
    print("Batch hardness under the surrogate (tau 0.02) and the end of training:\n")
    print(table(["plan", "surrogate loss", "top-1", "mean off-diag sim", "masked", "final loss", "final acc"], rows) + "\n")
    rows = [[k, int(v["stages"]), "%.0f" % v["seconds"], "%.1f" % (v["seconds"] / max(1, v["stages"]))]
            for k, v in res["stage_seconds"].items()]
    print("Wall time per kind of stage:\n")
    print(table(["stage", "runs", "seconds", "per run"], rows) + "\n")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for p in sys.argv[1:]:
        summarize(p)


if __name__ == "__main__":
    main()
