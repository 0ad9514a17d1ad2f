"""strata.Kmeans against FAISS, the CLI and its own exactness claims."""
import json
import os
import threading
import time
import tracemalloc

import numpy as np
import pytest

import strata
from conftest import clustered


def best_cos_sum(x, c):
    """Sum over rows of the best cosine to a centroid, in double (the
    objective bench/kmeans_objective.py computes for both sides)."""
    cn = c.astype(np.float64)
    cn /= np.maximum(np.linalg.norm(cn, axis=1, keepdims=True), 1e-300)
    xn = x.astype(np.float64)
    xn /= np.linalg.norm(xn, axis=1, keepdims=True)
    return float((xn @ cn.T).max(axis=1).sum())


def test_objective_within_0_1_percent_of_faiss_from_the_same_start():
    faiss = pytest.importorskip("faiss")
    x, _ = clustered(20000, 64, 50, 0.3, 1)
    K, niter = 50, 20
    c0 = x[np.random.default_rng(5).choice(x.shape[0], K, replace=False)].copy()
    km = strata.Kmeans(64, K, niter=niter)
    km.train(x, init_centroids=c0)
    fk = faiss.Kmeans(64, K, niter=niter, spherical=True, max_points_per_centroid=10 ** 9)
    fk.train(x, init_centroids=c0.copy())
    ours, theirs = best_cos_sum(x, km.centroids), best_cos_sum(x, fk.centroids)
    # The bound. Same start, same Lloyd iterations on every point:
    # the two differ only by float rounding (measured: 1e-8 relative).
    assert abs(ours - theirs) / theirs < 1e-3, (ours, theirs)
    _, fi = fk.index.search(x, 1)
    assert (km.assignments == fi.ravel()).mean() > 0.999
    # FAISS's obj is its per-iteration objective: ours has the same meaning.
    assert len(km.obj) == niter and abs(km.obj[-1] - fk.obj[-1]) / fk.obj[-1] < 1e-3


def test_default_fit_every_point_near_faiss():
    """Default starts differ (k-means++ vs FAISS's random rows), so the
    local optima differ by luck; on well separated clusters both find them."""
    faiss = pytest.importorskip("faiss")
    x, _ = clustered(20000, 64, 40, 0.1, 2)
    km = strata.Kmeans(64, 40, niter=25, seed=1)
    km.train(x)
    fk = faiss.Kmeans(64, 40, niter=25, spherical=True, max_points_per_centroid=10 ** 9, seed=1)
    fk.train(x)
    ours, theirs = best_cos_sum(x, km.centroids), best_cos_sum(x, fk.centroids)
    assert ours >= theirs * (1 - 1e-3), (ours, theirs)
    assert km.n_used == x.shape[0]  # every point, unlike FAISS's default sample


def test_exact_assignment_and_objective(data_small):
    x = data_small
    km = strata.Kmeans(32, 24, niter=8, seed=3)
    obj = km.train(x)
    xn = x.astype(np.float64) / np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    s = xn @ km.centroids.astype(np.float64).T
    # exact: the assignment is the double-precision argmax (lowest id on ties)
    assert np.array_equal(km.assignments, s.argmax(axis=1))
    # objective: sum of the assigned scores in double; the library scales a
    # row by its float32 inverse norm (relative error < 1e-7 per score), so
    # 1e-6 (measured 1.3e-8)
    assert obj == pytest.approx(s.max(axis=1).sum(), rel=1e-6)
    assert km.objective == obj
    assert np.all(np.diff(km.obj) >= -1e-6 * abs(km.obj[-1]))  # never decreases
    assert np.array_equal(np.bincount(km.assignments, minlength=24), km.cluster_sizes)
    assert km.centroids.shape == (24, 32) and km.centroids.dtype == np.float32
    assert np.allclose(np.linalg.norm(km.centroids, axis=1), 1, atol=1e-5)


def test_same_bits_for_any_thread_count_and_seed(data_small):
    a = strata.Kmeans(32, 24, seed=9, threads=1)
    a.train(data_small)
    b = strata.Kmeans(32, 24, seed=9, threads=2)
    b.train(data_small)
    assert a.centroids.tobytes() == b.centroids.tobytes()
    assert np.array_equal(a.assignments, b.assignments)
    c = strata.Kmeans(32, 24, seed=10)
    c.train(data_small)
    assert a.centroids.tobytes() != c.centroids.tobytes()


@pytest.mark.parametrize("variant", ["spherical", "per_source", "asymmetric", "split"])
def test_same_result_as_the_cli(cli, tmp_path, variant):
    x, _ = clustered(3000, 16, 12, 0.3, 4)
    x2, _ = clustered(3000, 16, 12, 0.3, 5)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "x2.npy", x2)
    names = ["alpha", "beta", "gamma"]
    src = [names[i % 3] if i % 7 else "beta" for i in range(3000)]
    with open(tmp_path / "pairs.jsonl", "w") as f:
        for i, s in enumerate(src):
            f.write(json.dumps({"query": "q%d" % i, "positive": "p%d" % i, "source": s}) + "\n")
    args = ["cluster", "--input", tmp_path / "x.npy", "--niter", 12, "--seed", 5,
            "--out", tmp_path / "out"]
    km = strata.Kmeans(16, 10, niter=12, seed=5)
    train = {}
    if variant == "per_source":
        args += ["--pairs", tmp_path / "pairs.jsonl", "--per-source", "--k", 4]
        km = strata.Kmeans(16, 4, niter=12, seed=5)
        train["sources"] = src
    elif variant == "asymmetric":
        args += ["--input2", tmp_path / "x2.npy", "--k", 10]
        km = strata.Kmeans(16, 10, niter=12, seed=5, mode="asymmetric")
        train["x2"] = x2
    elif variant == "split":
        args += ["--k", 5, "--max-cluster-size", 400, "--nredo", 2]
        km = strata.Kmeans(16, 5, niter=12, seed=5, max_cluster_size=400, nredo=2)
    else:
        args += ["--k", 10]
    cli(*args)
    km.train(x, **train)
    assert np.array_equal(km.assignments, np.load(tmp_path / "out" / "assign.npy"))
    assert km.centroids.tobytes() == np.load(tmp_path / "out" / "centroids.npy").tobytes()
    with open(tmp_path / "out" / "stats.json") as f:
        theirs = json.load(f)
    ours = km.stats

    def strip(o):  # wall times differ between runs
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items() if "seconds" not in k}
        if isinstance(o, list):
            return [strip(v) for v in o]
        return o
    assert strip(ours) == strip(theirs)
    if variant == "split":
        assert km.cluster_sizes.max() <= 400 and km.n_split > 0
    if variant == "per_source":
        for c in range(km.centroids.shape[0]):  # every cluster inside one source
            members = [src[i] for i in np.flatnonzero(km.assignments == c)]
            assert len(set(members)) <= 1
            assert not members or members[0] == km.source_names[km.cluster_source[c]]


def test_asymmetric_centroids_are_the_members_means():
    q, _ = clustered(2000, 8, 6, 0.2, 11)
    d, _ = clustered(2000, 8, 6, 0.2, 12)
    km = strata.Kmeans(8, 6, niter=200, mode="asymmetric", seed=2)
    km.train(q, d)
    assert km.runs[0]["iterations"][-1]["changed"] == 0  # converged
    assert km.centroids.shape == (6, 16)
    for c in range(6):
        m = km.assignments == c
        for part, a in enumerate((q, d)):
            mean = a[m].astype(np.float64).sum(axis=0)
            mean /= np.linalg.norm(mean)
            # float32 centroids of exact fixed-point sums: 1e-6
            assert np.allclose(km.centroids[c, part * 8:(part + 1) * 8], mean, atol=1e-6)
    scores, ids = km.assign(q, d)
    assert (ids == km.assignments).mean() > 0.999
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    dn = d / np.linalg.norm(d, axis=1, keepdims=True)
    want = (qn * km.centroids[ids, :8]).sum(1) + (dn * km.centroids[ids, 8:]).sum(1)
    assert np.allclose(scores, want, atol=1e-5)


def test_assign_and_index_search(data_small):
    km = strata.Kmeans(32, 24, seed=1)
    km.train(data_small)
    D, I = km.assign(data_small)
    assert D.dtype == np.float32 and I.dtype == np.int64 and D.shape == (data_small.shape[0],)
    # float scores: a different pick is only allowed on a float near-tie
    xn = data_small.astype(np.float64)
    xn /= np.linalg.norm(xn, axis=1, keepdims=True)
    s = xn @ km.centroids.astype(np.float64).T
    diff = np.flatnonzero(I != km.assignments)
    assert np.all(s[diff, km.assignments[diff]] - s[diff, I[diff]] < 1e-5)
    Dk, Ik = km.index.search(data_small[:50], 5)
    assert Dk.shape == (50, 5) and np.all(np.diff(Dk, axis=1) <= 0)
    assert np.array_equal(Ik[:, 0], I[:50])
    assert np.allclose(Dk, np.take_along_axis(s[:50], Ik, axis=1), atol=1e-5)
    assert km.index.ntotal == 24 and km.index.d == 32


def test_cluster_size_and_per_source_k():
    x, _ = clustered(1000, 8, 5, 0.3, 3)
    km = strata.Kmeans(8, cluster_size=100)
    km.train(x, sources=np.repeat(np.arange(2, dtype=np.int32), 500))
    assert km.centroids.shape[0] == 10  # ceil(500 / 100) per source
    assert set(km.cluster_source.tolist()) == {0, 1}


def test_gil_is_released_during_training():
    x, _ = clustered(60000, 64, 100, 0.3, 6)
    km = strata.Kmeans(64, 200, niter=10, threads=1)
    t = threading.Thread(target=km.train, args=(x,))
    ticks = 0
    t0 = time.time()
    t.start()
    while t.is_alive():
        ticks += 1
        time.sleep(0.001)
    elapsed = time.time() - t0
    assert km.centroids is not None
    # with the GIL held for the whole fit this loop could not run meanwhile
    assert elapsed > 0.2 and ticks > 0.2 * elapsed / 0.001 * 0.25, (ticks, elapsed)


def test_inputs_are_read_in_place():
    x, _ = clustered(200000, 32, 50, 0.3, 8)  # 25.6 MB
    before = x.copy()
    km = strata.Kmeans(32, 50, niter=3)
    tracemalloc.start()
    km.train(x)
    km.assign(x)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # numpy allocations are traced: no copy of x was made on the Python side
    # (assign allocates its [N] outputs, 12 bytes a row, and checks x for
    # NaN in 1 MB slices)
    assert peak < 0.25 * x.nbytes, peak
    assert np.array_equal(x, before)  # never modified
    assert not km.centroids.flags.owndata  # library memory, not a copy
