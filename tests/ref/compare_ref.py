#!/usr/bin/env python3
"""compare_ref.py — independent reference for `strata compare` (numpy, scipy,
statsmodels; no code shared with Strata).

usage:
  compare_ref.py stats COMPARE_JSON [--qrels QRELS] [--all-pairs]
                 [--eval NAME=METRICS_JSON ...] SPEC [SPEC ...]
      SPEC is NAME=PATH[,PATH...] as given to `strata compare`; a PATH whose
      first non-blank byte is '{' is a metrics JSON (its per_query is used),
      otherwise a TREC run scored here with pytrec_eval (needs --qrels).
      Recomputes everything in COMPARE_JSON and checks it (below); --eval
      also checks each named run's mean against a `strata eval --out` file.
  compare_ref.py tdist FILE
      FILE lines "t df p": p must equal scipy's 2 * t.sf(|t|, df).
  compare_ref.py adjust FILE
      FILE lines "method n p_1 .. p_n adj_1 .. adj_n": adj must equal
      statsmodels' multipletests(p, method)[1] (or, without statsmodels,
      the textbook Holm / Bonferroni formulas written out here).
Exit 0 when every check passes, 1 otherwise (each failure printed).

What "stats" checks, and the tolerance of each:
  - exact (1e-12 absolute; only summation order differs): each run's mean
    and per-seed means (seed pooling = per-query mean over seeds), the
    seeds' sd (ddof 1), each comparison's means, difference, relative
    difference, better/worse/tied counts (|d| <= 1e-12 counts as 0, as
    Strata documents), d_z, and t (scipy.stats.ttest_rel);
  - p_t against scipy.stats.ttest_rel: 1e-9 relative (Strata's incomplete
    beta function vs scipy's; measured below 1e-12 for df <= 20000);
  - corrected p and p_t: statsmodels multipletests applied to Strata's raw
    p-values, per family (a metric, or all metrics), 1e-12;
  - randomization p: scipy.stats.permutation_test (permutation_type
    'samples' = paired sign flips, two-sided, P_ref = 10000 resamples, its
    own seed) for the first metric, a plain numpy sign-flip Monte Carlo of
    the same size for the others (scipy's is slow); both are Monte Carlo
    estimates of the same p, so they must agree within 4 binomial standard
    errors of the two estimates combined, plus 1/P + 1/P_ref for the "+1"
    conventions. When both enumerate every sign vector (2^NQ <= P) they
    must agree to 1e-12;
  - bootstrap interval ends: a numpy percentile bootstrap of 50000
    replicates. Strata's end at level q (B replicates) must lie between
    the reference's quantiles at q -+ 4 s, s = sqrt(q (1-q) (1/B + 1/50000)):
    4 binomial standard errors in probability, which holds for lumpy
    (discrete) bootstrap distributions as well as smooth ones.
"""
import json
import math
import sys

import numpy as np

METRICS = ["ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100"]
P_REF = 10000
B_REF = 50000
failures = []


def check(ok, msg):
    if not ok:
        failures.append(msg)


def close(a, b, tol):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------

def is_json(path):
    with open(path, "rb") as f:
        for c in f.read(4096):
            if chr(c) not in " \t\r\n":
                return chr(c) == "{"
    return False


def read_qrels(path):
    qrels = {}
    with open(path) as f:
        for i, line in enumerate(f):
            p = line.split()
            if not p or (i == 0 and p[0] == "query-id"):
                continue
            if len(p) == 4:
                p = [p[0], p[2], p[3]]
            qrels.setdefault(p[0], {})[p[1]] = int(p[2])
    return qrels


def score_run(path, qrels):
    """Per-query metrics of a TREC run by pytrec_eval; judged queries the run
    lacks score 0 (trec_eval -c)."""
    import pytrec_eval
    run = {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if p:
                run.setdefault(p[0], {})[p[2]] = float(p[4])
    run = {q: d for q, d in run.items() if q in qrels}
    res = pytrec_eval.RelevanceEvaluator(
        qrels, {"ndcg_cut.10", "recall.10", "recall.100", "map_cut.100"}).evaluate(run)
    top10 = {q: dict(sorted(d.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)[:10])
             for q, d in run.items()}
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    out = {}
    for q in qrels:
        r = res.get(q, {})
        out[q] = {"ndcg@10": r.get("ndcg_cut_10", 0.0), "recall@10": r.get("recall_10", 0.0),
                  "recall@100": r.get("recall_100", 0.0), "map@100": r.get("map_cut_100", 0.0),
                  "mrr@10": rr.get(q, {}).get("recip_rank", 0.0)}
    return out


def load(spec, qrels):
    name, paths = spec.split("=", 1)
    seeds = []
    for p in paths.split(","):
        if is_json(p):
            seeds.append(json.load(open(p))["per_query"])
        else:
            seeds.append(score_run(p, qrels))
    return name, seeds


# --------------------------------------------------------------------------
# Reference statistics
# --------------------------------------------------------------------------

def perm_p(d, seed, use_scipy):
    """Two-sided paired sign-flip p: scipy.stats.permutation_test (exact
    when 2^NQ <= P_REF, as Strata), or a plain numpy Monte Carlo of the same
    test (much faster; used for all but the first metric)."""
    if use_scipy or 2 ** len(d) <= P_REF:
        from scipy import stats
        zeros = np.zeros_like(d)
        res = stats.permutation_test(
            (d, zeros), lambda x, y, axis: np.mean(x - y, axis=axis), vectorized=True,
            permutation_type="samples", n_resamples=P_REF, alternative="two-sided",
            random_state=np.random.default_rng(seed), batch=2000)
        return float(res.pvalue), 2 ** len(d) <= P_REF
    rng = np.random.default_rng(seed)
    obs = abs(d.sum())
    hits = 0
    for start in range(0, P_REF, 5000):
        signs = rng.choice(np.array([-1.0, 1.0]), size=(min(5000, P_REF - start), len(d)))
        hits += int((np.abs(signs @ d) >= obs - 1e-9 * np.abs(d).sum()).sum())
    return (hits + 1) / (P_REF + 1), False


def boot_dist(cols, seed):
    """B_REF bootstrap means of every column of cols [NQ, C] (same draws)."""
    rng = np.random.default_rng(seed)
    nq = cols.shape[0]
    out = []
    for start in range(0, B_REF, 2000):
        n = min(2000, B_REF - start)
        idx = rng.integers(0, nq, size=(n, nq)) + (np.arange(n) * nq)[:, None]
        counts = np.bincount(idx.ravel(), minlength=n * nq).reshape(n, nq)
        out.append(counts @ cols / nq)  # each row: the mean of a resample
    return np.concatenate(out)  # [B_REF, C]


def check_interval(what, lo, hi, ref, conf, B):
    for q, got in (((1 - conf) / 2, lo), ((1 + conf) / 2, hi)):
        s = math.sqrt(q * (1 - q) * (1.0 / B + 1.0 / B_REF))
        a = np.quantile(ref, max(0.0, q - 4 * s))
        b = np.quantile(ref, min(1.0, q + 4 * s))
        check(a - 1e-12 <= got <= b + 1e-12,
              "%s: interval end %.6f at level %.4f outside the reference band [%.6f, %.6f]"
              % (what, got, q, a, b))


def adjust(p, method):
    p = np.asarray(p, dtype=float)
    try:
        from statsmodels.stats.multitest import multipletests
        return multipletests(p, method=method)[1]
    except ImportError:
        n = len(p)
        if method == "bonferroni":
            return np.minimum(1.0, n * p)
        order = np.argsort(p, kind="stable")
        adj = np.empty(n)
        run = 0.0
        for j, i in enumerate(order):
            run = max(run, min(1.0, (n - j) * p[i]))
            adj[i] = run
        return adj


def stats_mode(argv):
    from scipy import stats
    out = json.load(open(argv[0]))
    qrels, specs, evals, all_pairs = None, [], {}, False
    i = 1
    while i < len(argv):
        if argv[i] == "--qrels":
            qrels = read_qrels(argv[i + 1])
            i += 2
        elif argv[i] == "--eval":
            n, p = argv[i + 1].split("=", 1)
            evals[n] = json.load(open(p))["mean"]
            i += 2
        elif argv[i] == "--all-pairs":
            all_pairs = True
            i += 1
        else:
            specs.append(argv[i])
            i += 1
    groups = [load(s, qrels) for s in specs]
    names = [g[0] for g in groups]
    queries = sorted(groups[0][1][0].keys())
    nq = len(queries)
    prm = out["params"]
    B, P, conf = prm["bootstrap"], prm["permutations"], prm["confidence"]
    check(out["n_queries"] == nq, "n_queries %s, reference %d" % (out["n_queries"], nq))
    check([r["name"] for r in out["runs"]] == names, "run names differ")
    pairs = ([(a, b) for a in range(len(names)) for b in range(a + 1, len(names))] if all_pairs
             else [(names.index(prm["baseline"]), b) for b in range(len(names))
                   if names[b] != prm["baseline"]])
    fam_all = prm["family"] == "all metrics"
    raw_p, raw_pt, got_adj, got_tadj = [], [], [], []
    worst_p, n_cmp = 0.0, 0
    for mi, m in enumerate(prm["metrics"]):
        mo = out["metrics"][m]
        X = []
        for name, seeds in groups:
            S = np.array([[s[q][m] for q in queries] for s in seeds])  # [seeds, NQ]
            x = S.mean(axis=0)
            X.append(x)
            r = mo["runs"][name]
            check(close(r["mean"], float(x.mean()), 1e-12), "%s %s mean" % (m, name))
            check(all(close(a, b, 1e-12) for a, b in zip(r["seed_means"], S.mean(axis=1))),
                  "%s %s seed means" % (m, name))
            sd = float(S.mean(axis=1).std(ddof=1)) if len(seeds) > 1 else 0.0
            check(close(r["seed_sd"], sd, 1e-12), "%s %s seed sd" % (m, name))
            if name in evals:
                check(close(r["mean"], evals[name][m], 1e-12),
                      "%s %s mean %.15f, strata eval %.15f" % (m, name, r["mean"], evals[name][m]))
        X = np.array(X)  # [G, NQ]
        D = []
        for k, (a, b) in enumerate(pairs):
            d = X[b] - X[a]
            d[np.abs(d) <= 1e-12] = 0.0
            D.append(d)
        cols = np.concatenate([X.T, np.array(D).T], axis=1)
        dist = boot_dist(cols, 1000 + mi)
        for g, name in enumerate(names):
            r = mo["runs"][name]
            check_interval("%s %s" % (m, name), r["ci"][0], r["ci"][1], dist[:, g], conf, B)
        check(len(mo["comparisons"]) == len(pairs), "%s: %d comparisons, expected %d"
              % (m, len(mo["comparisons"]), len(pairs)))
        for k, ((a, b), c) in enumerate(zip(pairs, mo["comparisons"])):
            what = "%s %s - %s" % (m, names[b], names[a])
            check(c["a"] == names[a] and c["b"] == names[b], what + ": wrong pair order")
            d = D[k]
            check(close(c["mean_a"], X[a].mean(), 1e-12), what + " mean_a")
            check(close(c["mean_b"], X[b].mean(), 1e-12), what + " mean_b")
            check(close(c["diff"], d.mean(), 1e-12), what + " diff %.15g vs %.15g" % (c["diff"], d.mean()))
            rel = d.mean() / X[a].mean() if X[a].mean() != 0 else None
            check(close(c["rel_diff"], rel, 1e-12), what + " rel_diff")
            check((c["better"], c["worse"], c["tied"]) ==
                  (int((d > 0).sum()), int((d < 0).sum()), int((d == 0).sum())), what + " counts")
            if (d == 0).all():
                t, pt, dz = 0.0, 1.0, 0.0
            else:
                res = stats.ttest_rel(X[b], X[a])
                t, pt = float(res.statistic), float(res.pvalue)
                sd = d.std(ddof=1)
                dz = d.mean() / sd if sd > 0 else None
            check(close(c["t"], t, 1e-12 * max(1.0, abs(t))) if c["t"] is not None else dz is None,
                  what + " t %s vs scipy %s" % (c["t"], t))
            check(close(c["p_t"], pt, 1e-9 * max(pt, 1e-300)) or close(c["p_t"], pt, 1e-15),
                  what + " p_t %.17g vs scipy %.17g" % (c["p_t"], pt))
            check(close(c["effect_size_dz"], dz, 1e-12) if dz is not None
                  else c["effect_size_dz"] is None, what + " d_z")
            check_interval(what, c["ci"][0], c["ci"][1], dist[:, len(names) + k], conf, B)
            if (d == 0).all():
                pr, exact = 1.0, True
            else:
                pr, exact = perm_p(d, 2000 + 10 * mi + k, mi == 0)
            if exact and c["p_exact"]:
                check(close(c["p"], pr, 1e-12), what + " exact p %.15g vs scipy %.15g" % (c["p"], pr))
            else:
                pb = min(0.5, max(c["p"], pr))
                tol = 4 * math.sqrt(pb * (1 - pb) * (1.0 / P + 1.0 / P_REF)) + 1.0 / P + 1.0 / P_REF
                check(abs(c["p"] - pr) <= tol,
                      what + " p %.5f vs scipy %.5f (tolerance %.5f)" % (c["p"], pr, tol))
            worst_p = max(worst_p, abs(c["p"] - pr))
            n_cmp += 1
            raw_p.append(c["p"])
            raw_pt.append(c["p_t"])
            got_adj.append(c["p_corrected"])
            got_tadj.append(c["p_t_corrected"])
    print("stats: %d runs, %d queries, %d comparisons checked; largest |p - reference p| %.4f"
          % (len(names), nq, n_cmp, worst_p))
    K = len(pairs)
    fam = len(raw_p) if fam_all else K
    for f0 in range(0, len(raw_p), fam):
        for raw, got, what in ((raw_p, got_adj, "p"), (raw_pt, got_tadj, "p_t")):
            if prm["correction"] == "none":
                ref = raw[f0:f0 + fam]
            else:
                ref = adjust(raw[f0:f0 + fam], prm["correction"])
            for j in range(fam):
                check(close(got[f0 + j], float(ref[j]), 1e-12),
                      "%s corrected (%s) %.17g vs reference %.17g"
                      % (what, prm["correction"], got[f0 + j], ref[j]))


def tdist_mode(argv):
    from scipy import stats
    worst = 0.0
    n = 0
    for line in open(argv[0]):
        t, df, p = map(float, line.split())
        ref = float(2 * stats.t.sf(abs(t), df))
        rel = abs(p - ref) / ref if ref > 0 else abs(p - ref)
        worst = max(worst, rel)
        n += 1
        check(rel <= 1e-10 or abs(p - ref) <= 1e-300,
              "t %g df %g: p %.17g, scipy %.17g (rel %.3g)" % (t, df, p, ref, rel))
    print("t distribution: %d points, worst relative difference %.3g" % (n, worst))


def adjust_mode(argv):
    n_lines = 0
    for line in open(argv[0]):
        f = line.split()
        method, n = f[0], int(f[1])
        p = [float(x) for x in f[2:2 + n]]
        got = [float(x) for x in f[2 + n:2 + 2 * n]]
        ref = adjust(p, method)
        for j in range(n):
            check(close(got[j], float(ref[j]), 1e-15),
                  "%s p %s: adjusted[%d] %.17g, reference %.17g" % (method, p, j, got[j], ref[j]))
        n_lines += 1
    try:
        import statsmodels  # noqa: F401
        src = "statsmodels multipletests"
    except ImportError:
        src = "textbook formulas (statsmodels not installed)"
    print("adjust: %d families checked against %s" % (n_lines, src))


def main():
    mode, argv = sys.argv[1], sys.argv[2:]
    {"stats": stats_mode, "tdist": tdist_mode, "adjust": adjust_mode}[mode](argv)
    for f in failures[:30]:
        print("MISMATCH", f)
    if failures:
        print("%d mismatches" % len(failures))
    sys.exit(1 if failures else 0)


main()
