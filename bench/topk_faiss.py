#!/usr/bin/env python3
"""topk_faiss.py — the peer of bench_topk.sh: exact top-k with FAISS
IndexFlatIP (python3-faiss 1.7.3) on the same .npy files.

usage: topk_faiss.py DIR K THREADS REPS
prints "faiss_search_s <best of REPS>" (wall) and
"faiss_search_cpu_s" (CPU seconds of all threads) and saves DIR/faiss_I.npy.
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
best = best_cpu = float("inf")
for r in range(reps):
    c0 = time.process_time()  # CPU seconds of all threads of the process
    t0 = time.perf_counter()
    D, I = index.search(Q, k)
    t1, c1 = time.perf_counter() - t0, time.process_time() - c0
    best, best_cpu = min(best, t1), min(best_cpu, c1)
    print("faiss rep %d: %.3f s (cpu %.3f s)" % (r, t1, c1), flush=True)
np.save(d + "/faiss_I.npy", I.astype(np.int64))
np.save(d + "/faiss_D.npy", D)
print("faiss_search_s %.4f" % best)
print("faiss_search_cpu_s %.4f" % best_cpu)
