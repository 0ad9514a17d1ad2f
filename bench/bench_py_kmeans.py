#!/usr/bin/env python3
"""strata.Kmeans (the Python binding) vs faiss.Kmeans, side by side.

usage: .venv/bin/python bench/bench_py_kmeans.py [CASE] [--rounds R] [--niter N]
                                                 [--threads T] [--no-cli]
  CASE small  20,000 x 64, K = 50 (a smoke run)
       m      50,000 x 256, K = 200 (400 true clusters)
       b      200,000 x 768, K = 100 (bench_kmeans.sh case b; the default)
       c      hashed TF-IDF of the shared pairs' queries, 61,486 x 384, K = 1000
              (made once with build/strata embed, as bench_kmeans.sh does)

Both run in this one process on the same float32 array, same K, same
iterations, every point used (FAISS: max_points_per_centroid=10**9),
spherical, the same thread count, in alternating rounds (FAISS, Strata,
FAISS, Strata, ...): the ratio of each round is FAISS train time / Strata
train time. Strata's side is `strata.Kmeans(...).train(x)` as a user calls
it: argument checks, the C fit reading x in place, the result arrays
wrapped. Unless --no-cli, each round also times `strata cluster` on the
same .npy (a subprocess, reading the file included) to show what, if
anything, the binding loses against the CLI. One objective, the sum over
rows of the best cosine to a centroid (bench/kmeans_objective.py's), is
computed in double for both. Output: stdout and bench/out/py_kmeans_CASE.txt.

Besides wall time, each side's CPU time (user + system of every thread of
the process, or of the CLI child) is recorded: on a shared, oversubscribed
machine wall times swing with the load (OpenMP threads wait on each other
when one is descheduled), while CPU time measures the work done.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")  # as bench_kmeans.sh; before numpy loads BLAS

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = {"small": (20000, 64, 50, 50, 0.1, 3), "m": (50000, 256, 200, 400, 0.1, 4),
         "b": (200000, 768, 100, 300, 0.05, 2)}


def generate(n, d, centers, noise, seed):
    """bench/kmeans_gen.py's data: unit rows around random unit centers."""
    rng = np.random.default_rng(seed)
    cent = rng.standard_normal((centers, d)).astype(np.float32)
    cent /= np.linalg.norm(cent, axis=1, keepdims=True)
    x = np.empty((n, d), dtype=np.float32)
    for i in range(0, n, 100000):
        m = min(100000, n - i)
        v = cent[rng.integers(0, centers, m)] + noise * rng.standard_normal((m, d)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        x[i:i + m] = v
    return x


def objective(x, c):
    cn = c.astype(np.float64)
    cn /= np.maximum(np.linalg.norm(cn, axis=1, keepdims=True), 1e-300)
    total = 0.0
    for i in range(0, x.shape[0], 20000):
        total += float((x[i:i + 20000].astype(np.float64) @ cn.T).max(axis=1).sum())
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", nargs="?", default="b", choices=["small", "m", "b", "c"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--niter", type=int, default=25)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-cli", action="store_true")
    a = ap.parse_args()
    import faiss
    import strata
    cli = os.path.join(ROOT, "build", "strata")
    tmp = tempfile.mkdtemp(prefix="bench_py_kmeans_")
    if a.case == "c":
        pairs = os.path.join(ROOT, "..", "shared", "data", "pairs", "multisource_pairs.jsonl")
        xp = os.path.join(tmp, "c.npy")
        if not os.path.exists(pairs):
            print("case c: %s not present, skipped" % pairs)
            return
        subprocess.run([cli, "embed", "--model", "hash", "--dim", "384", "--field", "query",
                        "--input", pairs, "--out", xp, "--quiet"], check=True)
        x, K = np.load(xp), 1000
    else:
        n, d, K, centers, noise, seed = CASES[a.case]
        x = generate(n, d, centers, noise, seed)
        xp = os.path.join(tmp, "x.npy")
        np.save(xp, x)
    n, d = x.shape
    faiss.omp_set_num_threads(a.threads)
    lines = ["case %s: %d x %d, K = %d, %d iterations, %d threads, every point, "
             "OPENBLAS_CORETYPE=%s, strata %s, faiss %s"
             % (a.case, n, d, K, a.niter, a.threads, os.environ.get("OPENBLAS_CORETYPE"),
                strata.__version__, getattr(faiss, "__version__", "?"))]
    print(lines[0], flush=True)
    tf, ts, tc, ratios, cf, cs, cratios = [], [], [], [], [], [], []
    for r in range(a.rounds):
        fk = faiss.Kmeans(d, K, niter=a.niter, spherical=True, max_points_per_centroid=10 ** 9,
                          seed=1 + r, verbose=False)
        t0, c0 = time.perf_counter(), time.process_time()
        fk.train(x)
        tf.append(time.perf_counter() - t0)
        cf.append(time.process_time() - c0)
        sk = strata.Kmeans(d, K, niter=a.niter, seed=1 + r, threads=a.threads)
        t0, c0 = time.perf_counter(), time.process_time()
        sk.train(x)
        ts.append(time.perf_counter() - t0)
        cs.append(time.process_time() - c0)
        ratios.append(tf[-1] / ts[-1])
        cratios.append(cf[-1] / cs[-1])
        msg = ("round %d: wall faiss %.2fs strata.Kmeans %.2fs (ratio %.2f); cpu faiss %.2fs "
               "strata.Kmeans %.2fs (ratio %.2f)" % (r + 1, tf[-1], ts[-1], ratios[-1], cf[-1],
                                                     cs[-1], cratios[-1]))
        if not a.no_cli and os.access(cli, os.X_OK):
            t0 = time.perf_counter()
            u0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([cli, "cluster", "--input", xp, "--k", str(K), "--niter", str(a.niter),
                            "--seed", str(1 + r), "--threads", str(a.threads), "--quiet",
                            "--out", os.path.join(tmp, "cl")], check=True)
            tc.append(time.perf_counter() - t0)
            u1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            ccpu = u1.ru_utime + u1.ru_stime - u0.ru_utime - u0.ru_stime
            msg += "; strata cluster (CLI, whole process) wall %.2fs cpu %.2fs" % (tc[-1], ccpu)
        print(msg, flush=True)
        lines.append(msg)
        fo, so = objective(x, fk.centroids), objective(x, sk.centroids)
        lines.append("  objective: faiss %.3f  strata %.3f  (%+.3f %%)" % (fo, so, 100 * (so - fo) / fo))
        print(lines[-1], flush=True)
    summary = ("median: faiss %.2fs, strata.Kmeans %.2fs, wall ratio faiss/strata %.2f "
               "(rounds %s); cpu ratio %.2f (rounds %s)"
               % (statistics.median(tf), statistics.median(ts), statistics.median(ratios),
                  " ".join("%.2f" % v for v in ratios), statistics.median(cratios),
                  " ".join("%.2f" % v for v in cratios)))
    if tc:
        summary += "; binding / CLI time %.2f" % (statistics.median(ts) / statistics.median(tc))
    print(summary)
    lines.append(summary)
    os.makedirs(os.path.join(ROOT, "bench", "out"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "out", "py_kmeans_%s.txt" % a.case), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
