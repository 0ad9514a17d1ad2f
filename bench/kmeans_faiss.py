#!/usr/bin/env python3
"""FAISS side of bench_kmeans.sh: spherical k-means on every point.

usage: kmeans_faiss.py X.npy K NITER THREADS SEED OUT_CENTROIDS.npy

Prints train_s (time of Kmeans.train only). FAISS uses every point
(max_points_per_centroid=10**9) and its default random initialization.
"""
import sys
import time

import faiss
import numpy as np

xp, k, niter, threads, seed, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
faiss.omp_set_num_threads(threads)
x = np.load(xp, mmap_mode="r")
t0 = time.time()
x = np.ascontiguousarray(x, dtype=np.float32)
t_load = time.time() - t0
km = faiss.Kmeans(x.shape[1], k, niter=niter, spherical=True, max_points_per_centroid=10**9,
                  seed=seed, verbose=False)
t0 = time.time()
km.train(x)
t = time.time() - t0
np.save(out, km.centroids)
print("load_s %.3f" % t_load)
print("train_s %.3f" % t)
