#!/usr/bin/env python3
"""plan_peer.py — the peer for bench_plan.sh: the same cluster planning
written the way CDE's Python code base does it (numpy + PyTorch): shuffle inside
each (source, cluster), split into batches of B, concatenate each source's
leftovers (cluster order, no nearest-centroid chain) into extra batches, a
greedy nearest-centroid walk over clusters (vectorised numpy per step), and
the false-negative mask (s_ij >= s_ii) by torch.bmm in chunks of 2048
batches (numpy's stacked matmul when torch is missing), packed with
np.packbits(bitorder='little'). It does LESS than strata (no duplicate
text rule, no centroid chain for leftovers, no per-batch metadata), so its
time is a lower bound for a numpy implementation.

  plan_peer.py N D B K S OUT_DIR      (threads: OPENBLAS_NUM_THREADS)
"""
import os
import sys
import time

import numpy as np


def main():
    N, D, B, K, S = (int(x) for x in sys.argv[1:6])
    out = sys.argv[6]
    os.makedirs(out, exist_ok=True)
    t0 = time.time()
    rng = np.random.default_rng(1)
    cent = rng.standard_normal((K, D), dtype=np.float32)
    u = rng.random(N)
    asg = np.minimum((K * u * u).astype(np.int32), K - 1)
    src = (asg % S).astype(np.int32)
    q = cent[asg] + np.float32(0.8) * rng.standard_normal((N, D), dtype=np.float32)
    d = cent[asg] + np.float32(0.8) * rng.standard_normal((N, D), dtype=np.float32)
    t1 = time.time()
    c1 = time.process_time()

    # group = (source, cluster), shuffled inside by random keys
    key = src.astype(np.int64) * K + asg
    order = np.lexsort((rng.random(N), key))
    skey = key[order]
    starts = np.flatnonzero(np.r_[True, skey[1:] != skey[:-1]])
    ends = np.r_[starts[1:], N]
    full, left_src, left = [], [], []
    for s0, e0 in zip(starts, ends):
        n = e0 - s0
        nf = n // B
        if nf:
            full.append(order[s0:s0 + nf * B].reshape(nf, B))
        if n - nf * B:
            left.append(order[s0 + nf * B:e0])
            left_src.append(src[order[s0]])
    batches = [np.concatenate(full)] if full else []
    batch_cluster = [np.repeat(asg[f[:, 0]], 1) for f in full]
    left_src = np.array(left_src)
    for s in np.unique(left_src):
        idx = np.concatenate([left[i] for i in np.flatnonzero(left_src == s)])
        nb = -(-len(idx) // B)
        pad = np.full(nb * B, -1, dtype=np.int64)
        pad[:len(idx)] = idx
        batches.append(pad.reshape(nb, B))
        batch_cluster.append(asg[pad.reshape(nb, B)[:, 0]])
    batches = np.concatenate(batches).astype(np.int64)
    bc = np.concatenate(batch_cluster)

    # greedy TSP over clusters (centroid cosine), batches of a cluster together
    c = cent / np.linalg.norm(cent, axis=1, keepdims=True)
    present = np.zeros(K, dtype=bool)
    present[bc] = True
    visited = ~present
    cur = int(rng.choice(np.flatnonzero(present)))
    walk = []
    while True:
        walk.append(cur)
        visited[cur] = True
        if visited.all():
            break
        sims = c @ c[cur]
        sims[visited] = -np.inf
        cur = int(np.argmax(sims))
    rank = np.empty(K, dtype=np.int64)
    rank[np.array(walk)] = np.arange(len(walk))
    batches = batches[np.argsort(rank[bc], kind="stable")]
    t2 = time.time()

    # masks: s(q_i, d_j) >= s(q_i, d_i), cosine, pads excluded
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    dn = d / np.linalg.norm(d, axis=1, keepdims=True)
    nb = batches.shape[0]
    W = (B + 7) // 8
    mask = np.empty((nb, B, W), dtype=np.uint8)
    masked = 0
    eye = np.eye(B, dtype=bool)
    try:
        import torch
        torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", "1")))

        def bmm(a, b):
            return torch.bmm(torch.from_numpy(a), torch.from_numpy(b).transpose(1, 2)).numpy()
    except Exception:
        def bmm(a, b):
            return np.matmul(a, b.transpose(0, 2, 1))
    for c0 in range(0, nb, 2048):
        ib = batches[c0:c0 + 2048]
        valid = ib >= 0
        ii = np.where(valid, ib, 0)
        s = bmm(qn[ii], dn[ii])
        diag = np.diagonal(s, axis1=1, axis2=2)[:, :, None]
        m = (s >= diag) & valid[:, :, None] & valid[:, None, :] & ~eye
        masked += int(m.sum())
        mask[c0:c0 + 2048] = np.packbits(m, axis=-1, bitorder="little")
    t3 = time.time()
    np.save(os.path.join(out, "batches.npy"), batches)
    np.save(os.path.join(out, "mask.npy"), mask)
    t4 = time.time()
    c4 = time.process_time()
    print(f"peer(numpy): N={N} D={D} B={B} K={K} S={S} "
          f"threads={os.environ.get('OPENBLAS_NUM_THREADS', '?')}")
    print(f"peer(numpy): generate {t1 - t0:.2f} s, plan {t2 - t1:.2f} s, mask {t3 - t2:.2f} s, "
          f"save {t4 - t3:.2f} s, plan+mask+save {t4 - t1:.2f} s")
    print(f"peer(numpy): plan+mask+save CPU time {c4 - c1:.2f} s (user+sys, all threads)")
    print(f"peer(numpy): {nb} batches, masked {masked / max(1, (batches >= 0).sum() * (B - 1)):.4f}")


if __name__ == "__main__":
    main()
