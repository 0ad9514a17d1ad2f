#!/usr/bin/env python3
"""How much work could ANY exact pruning skip? A numpy simulation of Lloyd's
spherical k-means with Elkan's bounds, one upper bound per (row, centroid):
the tightest bookkeeping the triangle inequality allows (N x K doubles, so
only for small files). Lloyd's own result is computed alongside with full
products, so the simulation is exact by construction.

usage: kmeans_bound_sim.py X.npy K [NITER=25] [SEED=1]

Per iteration it prints the share of (row, centroid) pairs whose bound does
not exclude them, i.e. the scores even perfect per-centroid bounds must
compute, next to how many rows changed cluster and the centroids' drift.
The sum over iterations 2..NITER is in units of full passes (N x K pairs).
Random initialization from SEED (numpy), as FAISS starts.
"""
import sys

import numpy as np

xp, K = sys.argv[1], int(sys.argv[2])
niter = int(sys.argv[3]) if len(sys.argv) > 3 else 25
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
X = np.load(xp).astype(np.float32)
X /= np.linalg.norm(X, axis=1, keepdims=True)
N = X.shape[0]
rows = np.arange(N)
C = X[np.random.default_rng(seed).choice(N, K, replace=False)].copy()
S = X @ C.T
a = S.argmax(1)
ub = S.astype(np.float64)          # [N, K] bound on every other centroid's score
ub[rows, a] = -np.inf
lb = S[rows, a].astype(np.float64)  # [N] bound on the own score
total = 0.0
print("iter  pairs_to_score  rows_changed  drift_max  drift_median")
for it in range(2, niter + 1):
    Cn = np.zeros_like(C)
    np.add.at(Cn, a, X)
    nrm = np.linalg.norm(Cn, axis=1)
    ok = nrm > 0
    Cn[ok] /= nrm[ok, None]
    Cn[~ok] = C[~ok]
    drift = np.linalg.norm(Cn - C, axis=1).astype(np.float64)
    C = Cn
    ub += drift[None, :]
    lb -= drift[a]
    Sn = (X @ C.T).astype(np.float64)  # Lloyd's scores, for the truth
    fail = lb <= ub.max(1)             # the bounds do not settle the row
    lb = np.where(fail, Sn[rows, a], lb)  # the own score, exact
    reach = (ub > lb[:, None]) & fail[:, None]
    share = reach.sum() / (N * K)
    total += share
    ub = np.where(reach, Sn, ub)       # scored pairs become exact
    na = Sn.argmax(1)
    ch = np.nonzero(na != a)[0]
    ub[ch, a[ch]] = Sn[ch, a[ch]]      # the old own centroid is now another
    a = na
    lb[ch] = Sn[ch, a[ch]]
    ub[rows, a] = -np.inf
    print("%4d  %14.4f  %12d  %9.3f  %12.3f" % (it, share, len(ch), drift.max(), np.median(drift)))
print("pairs to score over iterations 2..%d: %.2f full passes (plain Lloyd: %d)" % (niter, total, niter - 1))
