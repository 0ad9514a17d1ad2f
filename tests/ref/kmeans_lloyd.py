#!/usr/bin/env python3
"""Reference spherical / asymmetric Lloyd in numpy (float64), for test_kmeans.

usage: kmeans_lloyd.py X.npy [D.npy|-] INIT.npy NITER OUT_ASSIGN.npy OUT_CENTROIDS.npy

Rows are unit-normalized per part (X alone, or [X | D] with each half
normalized); centroids are normalized per part; a row goes to the centroid
with the highest score (sum of per-part cosines, lowest index on ties); the
update is the per-part normalized mean. NITER updates, then a final
assignment to the final centroids, as strata_kmeans_lloyd does.
"""
import sys

import numpy as np


def norm_parts(a, parts):
    out = []
    o = 0
    for d in parts:
        h = a[:, o:o + d]
        n = np.linalg.norm(h, axis=1, keepdims=True)
        n[n == 0] = 1
        out.append(h / n)
        o += d
    return np.concatenate(out, axis=1)


def main():
    xp, dp, ip, niter, oa, oc = sys.argv[1:7]
    x = np.load(xp).astype(np.float64)
    parts = [x.shape[1]]
    if dp != "-":
        d = np.load(dp).astype(np.float64)
        x = np.concatenate([x, d], axis=1)
        parts = [d.shape[1], d.shape[1]]
    # the library normalizes in float32 first; mimic that, then work in float64
    x32 = np.load(xp).astype(np.float32)
    xs = [x32]
    if dp != "-":
        xs.append(np.load(dp).astype(np.float32))
    xn = []
    for h in xs:
        inv = (1.0 / np.sqrt((h.astype(np.float64) ** 2).sum(axis=1))).astype(np.float32)
        xn.append((h * inv[:, None]).astype(np.float32))
    x = np.concatenate(xn, axis=1).astype(np.float64)
    c = norm_parts(np.load(ip).astype(np.float64), parts)
    for it in range(int(niter) + 1):
        s = x @ c.T
        a = np.argmax(s, axis=1)
        if it == int(niter):
            break
        for k in range(c.shape[0]):
            m = a == k
            if m.any():
                c[k] = norm_parts(x[m].sum(axis=0, keepdims=True), parts)[0]
    np.save(oa, a.astype(np.int32))
    np.save(oc, c.astype(np.float32))


if __name__ == "__main__":
    main()
