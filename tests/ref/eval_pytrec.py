#!/usr/bin/env python3
"""eval_pytrec.py — scores a TREC run with pytrec_eval (PyPI
pytrec-eval-terrier, the trec_eval BEIR reports through) and compares with
Strata's metrics JSON, per query and on average.

usage: eval_pytrec.py RUN QRELS METRICS_JSON [TOL]
Exit 0 when every per-query value and every mean agree within TOL (default
1e-6), 1 otherwise; prints the largest difference.

MRR@10 (BEIR's mrr@10) is pytrec_eval's recip_rank on the run cut to each
query's top 10 in trec_eval's own order (score descending, then docid
descending), which is how trec_eval ranks a run before any measure.
Means are over every query of the qrels; a query the run lacks counts 0.
"""
import json, sys
import pytrec_eval

def main():
    run_path, qrels_path, mpath = sys.argv[1:4]
    tol = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-6
    qrels = {}
    with open(qrels_path) as f:
        for i, line in enumerate(f):
            p = line.split()
            if not p or (i == 0 and p[0] == "query-id"):
                continue
            if len(p) == 4:
                p = [p[0], p[2], p[3]]
            qrels.setdefault(p[0], {})[p[1]] = int(p[2])
    run = {}
    with open(run_path) as f:
        for line in f:
            p = line.split()
            if p:
                run.setdefault(p[0], {})[p[2]] = float(p[4])
    ev = pytrec_eval.RelevanceEvaluator(
        qrels, {"ndcg_cut.10", "recall.10", "recall.100", "map_cut.100"})
    res = ev.evaluate(run)
    top10 = {}
    for q, docs in run.items():
        order = sorted(docs.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        top10[q] = dict(order[:10])
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    names = {"ndcg@10": ("ndcg_cut_10", res), "recall@10": ("recall_10", res),
             "recall@100": ("recall_100", res), "map@100": ("map_cut_100", res),
             "mrr@10": ("recip_rank", rr)}
    ours = json.load(open(mpath))
    worst = 0.0
    bad = []
    for m, (key, table) in names.items():
        total = 0.0
        for q in qrels:
            ref = table[q][key] if q in table else 0.0
            total += ref
            got = ours["per_query"].get(q, {}).get(m)
            if got is None:
                bad.append("query %s: %s missing" % (q, m))
                continue
            d = abs(got - ref)
            worst = max(worst, d)
            if d > tol:
                bad.append("query %s: %s strata %.9f pytrec_eval %.9f" % (q, m, got, ref))
        ref_mean = total / len(qrels)
        d = abs(ours["mean"][m] - ref_mean)
        worst = max(worst, d)
        if d > tol:
            bad.append("mean %s: strata %.9f pytrec_eval %.9f" % (m, ours["mean"][m], ref_mean))
        print("%-10s strata %.6f pytrec_eval %.6f" % (m, ours["mean"][m], ref_mean))
    extra = set(ours["per_query"]) - set(qrels)
    if extra:
        bad.append("strata reports %d queries without judgments" % len(extra))
    print("queries %d  max abs diff %.3g" % (len(qrels), worst))
    for b in bad[:20]:
        print("MISMATCH", b)
    sys.exit(1 if bad else 0)

main()
