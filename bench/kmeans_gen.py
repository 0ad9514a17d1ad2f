#!/usr/bin/env python3
"""Synthetic clustered unit vectors for bench_kmeans.sh.

usage: kmeans_gen.py OUT.npy N D TRUE_CLUSTERS NOISE SEED

Row = random unit center (one of TRUE_CLUSTERS) + NOISE * gaussian per dim,
then unit-normalized; float32, written in chunks through a memory map.
"""
import sys

import numpy as np

out, n, d, c, noise, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
rng = np.random.default_rng(seed)
cent = rng.standard_normal((c, d)).astype(np.float32)
cent /= np.linalg.norm(cent, axis=1, keepdims=True)
x = np.lib.format.open_memmap(out + ".part", mode="w+", dtype=np.float32, shape=(n, d))
step = 100000
for i in range(0, n, step):
    m = min(step, n - i)
    lab = rng.integers(0, c, m)
    v = cent[lab] + noise * rng.standard_normal((m, d)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    x[i:i + m] = v
x.flush()
del x
import os
os.replace(out + ".part", out)
