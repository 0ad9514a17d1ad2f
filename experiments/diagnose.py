#!/usr/bin/env python3
"""Why does (or doesn't) a batching strategy win? Diagnostics of a demo run on
the embedded corpus, whose pairs carry their ground truth (topic, subtopic,
entity) and whose BEIR queries carry theirs (metadata: topic, subtopic, and
how many words are synonyms).

For every plan (strategy, seed) of OUT/plans:
  purity      mean share of a batch's pairs in its largest true (topic,
              subtopic) group: what cluster batching is meant to raise
  maj.clus    mean share of a batch's pairs in its majority cluster, from the
              plan's own assignment (merged leftovers lower it)
  merged      share of batches the packer filled from several clusters
  masked      share of the off-diagonal entries the false-negative mask removes
  mask:same-sub / mask:same-ent   share of masked entries whose document is
              about the query's (topic, subtopic) / the query's entity
  same-ent masked   share of same-entity off-diagonal entries that are masked
For every strategy against the first one (random by default), per-query
NDCG@10 gains (seeds pooled: mean over seeds per query), split by
  - how many of the query's words are synonyms (0, 1, 2+),
  - whether the baseline ranks a same-subtopic non-relevant document first.

Usage: diagnose.py OUT [--baseline NAME]
"""
import json
import math
import os
import sys
from collections import Counter, defaultdict

import numpy as np


def load_pairs(path):
    return [json.loads(l) for l in open(path)]


def plan_stats(plan_dir, pairs, assign=None):
    b = np.load(os.path.join(plan_dir, "batches.npy"))
    meta = json.load(open(os.path.join(plan_dir, "plan.json")))
    mpath = os.path.join(plan_dir, "mask.npy")
    mask = np.load(mpath) if os.path.exists(mpath) else None
    purity, majc = [], []
    for row in b:
        idx = [i for i in row if i >= 0]
        groups = Counter((pairs[i]["topic"], pairs[i]["subtopic"]) for i in idx)
        purity.append(max(groups.values()) / len(idx))
        if assign is not None:
            majc.append(max(Counter(int(assign[i]) for i in idx).values()) / len(idx))
    out = {"purity": float(np.mean(purity)),
           "maj_cluster": float(np.mean(majc)) if majc else float("nan"),
           "merged": meta["counts"]["merged_batches"] / max(1, meta["n_batches"]),
           "masked": meta.get("masked_fraction", 0.0)}
    if mask is not None:
        B = b.shape[1]
        bits = np.unpackbits(mask, axis=2, bitorder="little")[:, :, :B].astype(bool)
        n_m = same_sub = same_ent = 0
        ent_tot = ent_masked = 0
        for k, row in enumerate(b):
            for i in range(B):
                if row[i] < 0:
                    continue
                pi = pairs[row[i]]
                for j in range(B):
                    if j == i or row[j] < 0:
                        continue
                    pj = pairs[row[j]]
                    se = pi["entity"] == pj["entity"]
                    ent_tot += se
                    if bits[k, i, j]:
                        n_m += 1
                        same_sub += (pi["topic"], pi["subtopic"]) == (pj["topic"], pj["subtopic"])
                        same_ent += se
                        ent_masked += se
        out["mask_same_sub"] = same_sub / max(1, n_m)
        out["mask_same_ent"] = same_ent / max(1, n_m)
        out["same_ent_masked"] = ent_masked / max(1, ent_tot)
    return out


def ndcg10(ranked, rel):
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(rel.values(), reverse=True)
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal[:10]))
    return dcg / idcg if idcg > 0 else 0.0


def read_run(path):
    r = defaultdict(list)
    for line in open(path):
        qid, _, did, _, score = line.split()[:5]
        r[qid].append((float(score), did))
    return {q: [d for _, d in sorted(v, key=lambda x: (-x[0], tuple(-ord(c) for c in x[1])))] for q, v in r.items()}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    base = sys.argv[sys.argv.index("--baseline") + 1] if "--baseline" in sys.argv else None
    settings = json.load(open(os.path.join(out, "demo.json")))
    pairs = load_pairs(os.path.join(out, "data", "pairs.jsonl"))
    strategies = settings["strategies"].split(",")
    seeds = settings["seeds"].split(",")
    base = base or ("random" if "random" in strategies else strategies[0])

    print("plans (mean over seeds)")
    print(f"{'strategy':24s} {'purity':>7s} {'maj.clus':>8s} {'merged':>7s} {'masked':>7s} "
          f"{'mask:same-sub':>13s} {'mask:same-ent':>13s} {'same-ent masked':>15s}")
    for s in strategies:
        rows = []
        for seed in seeds:
            pd = os.path.join(out, "plans", s, "seed" + seed)
            meta = json.load(open(os.path.join(pd, "plan.json")))
            af = meta["params"].get("assign")
            if af and not os.path.exists(af):  # relative to where the demo ran
                af = os.path.join(out, *af.split(os.sep)[-4:])
            assign = np.load(af) if af and os.path.exists(af) else None
            rows.append(plan_stats(pd, pairs, assign))
        m = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        f = lambda k: f"{m[k]:.3f}" if k in m and not math.isnan(m[k]) else "-"
        print(f"{s:24s} {f('purity'):>7s} {f('maj_cluster'):>8s} {f('merged'):>7s} {f('masked'):>7s} "
              f"{f('mask_same_sub'):>13s} {f('mask_same_ent'):>13s} {f('same_ent_masked'):>15s}")

    beir = os.path.join(out, "data", "beir")
    queries = {o["_id"]: o["metadata"] for o in map(json.loads, open(os.path.join(beir, "queries.jsonl")))}
    docs = {o["_id"]: o["metadata"] for o in map(json.loads, open(os.path.join(beir, "corpus.jsonl")))}
    qrels = defaultdict(dict)
    with open(os.path.join(beir, "qrels", "test.tsv")) as f:
        next(f)
        for line in f:
            a, b, sc = line.split("\t")
            qrels[a][b] = int(sc)
    per = {}
    runs0 = {}
    for s in strategies:
        vals = defaultdict(list)
        for seed in seeds:
            run = read_run(os.path.join(out, "runs", s, "seed" + seed, "run-beir.trec"))
            if s == base:
                runs0[seed] = run
            for q, rel in qrels.items():
                vals[q].append(ndcg10(run.get(q, []), rel))
        per[s] = {q: float(np.mean(v)) for q, v in vals.items()}

    def sub_first(q):  # the baseline (first seed) ranks a same-subtopic non-relevant doc first
        run = next(iter(runs0.values()))
        top = run.get(q, [None])[0]
        if top is None or qrels[q].get(top, 0) > 0:
            return False
        return (docs[top]["topic"], docs[top]["subtopic"]) == (queries[q]["topic"], queries[q]["subtopic"])

    groups = {"synonyms 0": lambda q: queries[q].get("synonyms", 0) == 0,
              "synonyms 1": lambda q: queries[q].get("synonyms", 0) == 1,
              "synonyms 2+": lambda q: queries[q].get("synonyms", 0) >= 2,
              f"{base} ranks a same-subtopic distractor first": sub_first,
              "the others": lambda q: not sub_first(q)}
    print(f"\nper-query NDCG@10 gain over {base} (seeds pooled), by query group")
    names = [s for s in strategies if s != base]
    print(f"{'group':50s} {'n':>4s} {base:>10s} " + " ".join(f"{n:>20s}" for n in names))
    for g, pred in groups.items():
        qs = [q for q in qrels if pred(q)]
        if not qs:
            continue
        b0 = np.mean([per[base][q] for q in qs])
        cells = [f"{np.mean([per[n][q] - per[base][q] for q in qs]):+20.4f}" for n in names]
        print(f"{g:50s} {len(qs):4d} {b0:10.4f} " + " ".join(cells))


if __name__ == "__main__":
    main()
