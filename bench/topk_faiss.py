#!/usr/bin/env python3
"""topk_faiss.py — the peer of bench_topk.sh: exact top-k with FAISS
IndexFlatIP (python3-faiss 1.7.3) on the same .npy files.

usage: topk_faiss.py DIR K THREADS REPS
prints "faiss_search_s <best of REPS>" and saves DIR/faiss_I.npy.
"""
import sys, time
import numpy as np
import faiss

d, k, threads, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
faiss.omp_set_num_threads(threads)
C = np.load(d + "/C.npy", mmap_mode="r")
Q = np.ascontiguousarray(np.load(d + "/Q.npy"))
index = faiss.IndexFlatIP(C.shape[1])
index.add(np.ascontiguousarray(C))
best = float("inf")
for r in range(reps):
    t0 = time.perf_counter()
    D, I = index.search(Q, k)
    best = min(best, time.perf_counter() - t0)
    print("faiss rep %d: %.3f s" % (r, time.perf_counter() - t0), flush=True)
np.save(d + "/faiss_I.npy", I.astype(np.int64))
np.save(d + "/faiss_D.npy", D)
print("faiss_search_s %.4f" % best)
