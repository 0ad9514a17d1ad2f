#!/usr/bin/env python3
"""One objective for both sides of bench_kmeans.sh.

usage: kmeans_objective.py X.npy CENTROIDS.npy [X2.npy]

Rows are unit-normalized (per half with X2) and every row is scored against
every centroid exactly (numpy float32 matmul in blocks, max kept in float64):
objective = sum over rows of the best cosine (sum of the two cosines in
asymmetric mode). Prints objective and mean.
"""
import sys

import numpy as np

x = np.load(sys.argv[1], mmap_mode="r")
c = np.load(sys.argv[2]).astype(np.float32)
x2 = np.load(sys.argv[3], mmap_mode="r") if len(sys.argv) > 3 else None
d = x.shape[1]
def unit(a):
    a = np.asarray(a, dtype=np.float32)
    n = np.linalg.norm(a, axis=1, keepdims=True)
    n[n == 0] = 1  # an empty cluster's zero centroid scores 0
    return a / n
parts = [unit(c[:, :d])] if x2 is None else [unit(c[:, :d]), unit(c[:, d:])]
tot = 0.0
for i in range(0, x.shape[0], 65536):
    s = unit(x[i:i + 65536]) @ parts[0].T
    if x2 is not None:
        s += unit(x2[i:i + 65536]) @ parts[1].T
    tot += float(s.max(axis=1).astype(np.float64).sum())
print("objective %.6f" % tot)
print("mean %.6f" % (tot / x.shape[0]))
