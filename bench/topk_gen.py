#!/usr/bin/env python3
"""topk_gen.py — random unit vectors for bench_topk.sh, written once as .npy.

usage: topk_gen.py OUT_DIR [N_CORPUS N_QUERIES DIM SEED]
writes OUT_DIR/C.npy [N_CORPUS, DIM] and OUT_DIR/Q.npy [N_QUERIES, DIM]
(float32, rows L2-normalized; standard normal before normalizing).
"""
import os, sys
import numpy as np

out = sys.argv[1]
nc = int(sys.argv[2]) if len(sys.argv) > 2 else 500000
nq = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
d = int(sys.argv[4]) if len(sys.argv) > 4 else 384
seed = int(sys.argv[5]) if len(sys.argv) > 5 else 1
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(seed)
for name, n in (("C", nc), ("Q", nq)):
    X = np.empty((n, d), dtype=np.float32)
    for i in range(0, n, 50000):
        b = rng.standard_normal((min(50000, n - i), d), dtype=np.float32)
        b /= np.linalg.norm(b, axis=1, keepdims=True)
        X[i:i + len(b)] = b
    np.save(os.path.join(out, name + ".npy"), X)
print("wrote %s: C [%d, %d], Q [%d, %d]" % (out, nc, d, nq, d))
