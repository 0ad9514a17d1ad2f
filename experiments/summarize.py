#!/usr/bin/env python3
"""Markdown tables from `strata demo` results.json files (one per setting).

usage: experiments/summarize.py OUT/SETTING [OUT/SETTING ...]

Prints, per setting: NDCG@10 (mean and sd over seeds) and Recall@100 per
evaluation set, the difference to random batching, final training loss and
in-batch accuracy, batch hardness under the surrogate embedder, the per-seed
scores, the training loss and accuracy curves in five windows, the baselines, the cluster statistics and the wall time per kind of
stage. Reads only what the demo wrote; computes nothing but means.
"""
import json
import os
import sys


def f4(x):
    return "" if x is None else "%.4f" % x


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def summarize(path):
    res = json.load(open(os.path.join(path, "results.json")))
    demo = json.load(open(os.path.join(path, "demo.json")))
    strat = res["strategies"]
    first = next(iter(strat.values()))
    sets = [k for k, v in first.items() if isinstance(v, dict) and "ndcg@10" in v]
    print("## %s\n" % os.path.basename(os.path.normpath(path)))
    print("settings: " + ", ".join("%s=%s" % (k, v) for k, v in demo.items()) + "\n")
    rnd = strat.get("random", {}).get("ndcg@10")
    head = ["strategy"]
    for s in sets:
        head += ["%s NDCG@10 (sd)" % s, "%s R@100" % s]
    head += ["mean NDCG@10", "vs random", "final loss", "final acc", "hardness loss", "masked"]
    rows = []
    for name, o in strat.items():
        r = [name]
        for s in sets:
            b = o[s]
            r += ["%.4f (%.4f)" % (b["ndcg@10"], b.get("ndcg@10_sd", 0)), f4(b["recall@100"])]
        nd = o["ndcg@10"]
        r += [f4(nd), "%+.4f" % (nd - rnd) if rnd is not None else "", f4(o["final_loss"]),
              f4(o["final_acc"]), f4(o["hardness"]["mean_loss"]), "%.3f" % o.get("masked_fraction", 0)]
        rows.append(r)
    print(table(head, rows) + "\n")
    # per seed
    head = ["strategy", "seed"] + ["%s NDCG@10" % s for s in sets] + ["final loss", "final acc"]
    rows = []
    for name, o in strat.items():
        for sd in o["seeds"]:
            rows.append([name, sd["seed"]] + [f4(sd[s]["ndcg@10"]) for s in sets] +
                        [f4(sd["final_loss"]), f4(sd["final_acc"])])
    print(table(head, rows) + "\n")
    # the training curves in five windows (mean over the window and seeds)
    curves = []
    for name, o in strat.items():
        logs = []
        for sd in o["seeds"]:
            f = os.path.join(path, "runs", name, "seed%d" % sd["seed"], "log.jsonl")
            if os.path.exists(f):
                logs.append([json.loads(line) for line in open(f)])
        if not logs:
            continue
        n = min(len(lg) for lg in logs)
        w = max(1, n // 5)
        cells = []
        for k in range(5):
            seg = [x for lg in logs for x in lg[k * w:(k + 1) * w]]
            if seg:
                cells.append("%.3f / %.3f" % (sum(x["loss"] for x in seg) / len(seg),
                                              sum(x["acc"] for x in seg) / len(seg)))
        curves.append([name] + cells)
    if curves:
        n = min(len(c) for c in curves) - 1
        print(table(["strategy"] + ["loss / acc, fifth %d" % (k + 1) for k in range(n)],
                    [c[:n + 1] for c in curves]) + "\n")
    print("baselines: " + ", ".join("%s %.4f" % (k, v) for k, v in res.get("baselines", {}).items()) + "\n")
    cl = res.get("clusterings", {})
    if cl:
        rows = [[n, c["on"], "%.0f" % c["k"], "%.3f" % c["imbalance"], "%.3f" % c["mean_cos_centroid"],
                 "%.3f" % c["pairwise_cos_min"], "%.3f" % c["pairwise_cos_median"], "%.3f" % c["pairwise_cos_max"]]
                for n, c in cl.items()]
        print(table(["clustering", "on", "K", "imbalance", "mean cos to centroid",
                     "pairwise cos min", "median", "max"], rows) + "\n")
    ks = res.get("stage_seconds", {})
    if ks:
        rows = [[k, "%.0f" % v["stages"], "%.0f" % v["seconds"], "%.1f" % (v["seconds"] / max(v["stages"], 1))]
                for k, v in ks.items()]
        print(table(["stage", "runs", "seconds", "per run"], rows) + "\n")
    print("demo wall time of the last (resumed) run: %.0f s\n" % res.get("seconds", 0))


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    for p in sys.argv[1:]:
        summarize(p)


if __name__ == "__main__":
    main()
