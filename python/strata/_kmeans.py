"""strata.Kmeans — libstrata's exact spherical / asymmetric k-means with the
interface of ``faiss.Kmeans``."""
import json
import os
import tempfile
import time

import numpy as np

from . import _core
from ._checks import array, seed_arg, source_ids, threads_arg


def _name_rows(e):
    """Re-raises a library error about a row with the argument named, as the
    CLI names the file ("x: row 5: NaN in column 3")."""
    msg = str(e)
    if not msg.startswith("row "):
        raise e
    err = _core.StrataError(("x2: " if "(input2)" in msg else "x: ") + msg)
    err.status = getattr(e, "status", None)
    raise err from None


class _Index:
    """The ``km.index`` of a trained :class:`Kmeans`: ``search(x, k)`` like a
    FAISS inner-product index over the centroids."""

    def __init__(self, km):
        self._km = km

    @property
    def ntotal(self):
        return self._km.centroids.shape[0]

    @property
    def d(self):
        return self._km.centroids.shape[1]

    def search(self, x, k, x2=None):
        """(scores float32 [n, k], ids int64 [n, k]), best first (ties: lower
        id). A score is the sum over parts of the cosine of the (normalized)
        row part and the centroid part, as in training; ids beyond the
        number of centroids are -1 with score -inf."""
        return self._km._search(x, x2, int(k), None)


class Kmeans:
    """Spherical k-means (``spherical=True``, the default: rows and centroids
    unit-normalized, score = cosine) or CDE's asymmetric k-means
    (``mode="asymmetric"``: a pair (q, d) is scored against a centroid
    [c_q, c_d] as q.c_q + d.c_d), per source when ``train`` is given
    ``sources``. Exact (every assignment equals the double-precision
    argmax), deterministic under ``seed`` for any thread count.

    Parameters (FAISS names first; see include/strata/kmeans.h):
      d          dims of a row (asymmetric: of each part; centroids are 2d wide)
      k          clusters (per source with ``sources``); 0 with cluster_size
      niter      Lloyd iterations (default 25; stops early once nothing moves)
      nredo      runs with different seeds, the best kept (default 1)
      spherical  must be True: Strata's k-means is cosine k-means
      seed       random seed (default 1, as the CLI)
      verbose    print a one-line summary after training
      max_points_per_centroid  None (default): train on every row, unlike
                 FAISS's 256-per-centroid sample; M: a seeded sample of K*M rows
      min_points_per_centroid  accepted for FAISS compatibility, unused
      mode       "spherical" or "asymmetric"
      cluster_size  K = ceil(n / cluster_size) (per source) instead of k
      max_cluster_size  split larger clusters by recursive 2-means (0: off)
      init       "kmeans++" (default) or "random" (FAISS's start)
      init_sample  rows k-means++ draws from (0: min(n, 16K + 1024))
      bounds     exact bound-based pruning (default True; False: plain Lloyd)
      threads    OpenMP threads (None: strata.set_threads' default, 0: all cores)

    After ``train``: ``centroids`` float32 [K, D], ``obj`` (per-iteration
    training objective, FAISS's ``obj``), ``objective`` (final, all rows),
    ``assignments`` int32 [N] (the exact training assignment),
    ``cluster_sizes``, ``cluster_source``, ``split_from``, ``cos_centroid``,
    ``pairwise``, ``iteration_stats``, ``runs``, ``stats`` (the stats.json of
    ``strata cluster``), ``index`` (``search``) and ``assign``.
    """

    def __init__(self, d, k=0, niter=25, nredo=1, spherical=True, seed=1, verbose=False,
                 max_points_per_centroid=None, min_points_per_centroid=None, mode="spherical",
                 cluster_size=None, max_cluster_size=0, init="kmeans++", init_sample=0,
                 bounds=True, threads=None, update_index=True):
        if not spherical:
            raise ValueError("strata.Kmeans is spherical (cosine) k-means; spherical=False "
                             "(Euclidean) is not supported")
        if mode not in ("spherical", "asymmetric"):
            raise ValueError("mode must be 'spherical' or 'asymmetric', got %r" % (mode,))
        self.d = int(d)
        self.k = int(k)
        if self.d < 1:
            raise ValueError("d must be >= 1, got %d" % self.d)
        if (self.k > 0) == bool(cluster_size) or self.k < 0:
            raise ValueError("give exactly one of k >= 1 or cluster_size >= 1")
        if int(niter) < 1 or int(nredo) < 1:
            raise ValueError("niter and nredo must be >= 1")
        if init not in ("kmeans++", "random"):
            raise ValueError("init must be 'kmeans++' or 'random', got %r" % (init,))
        self.niter, self.nredo = int(niter), int(nredo)
        self.spherical = True
        self.mode = mode
        self.seed = seed_arg(seed)
        self.verbose = bool(verbose)
        mppc = 0 if max_points_per_centroid is None else int(max_points_per_centroid)
        if mppc < 0 or int(max_cluster_size) < 0 or int(init_sample) < 0:
            raise ValueError("max_points_per_centroid, max_cluster_size and init_sample must be >= 0")
        self.max_points_per_centroid = max_points_per_centroid
        self.min_points_per_centroid = min_points_per_centroid
        self.cluster_size = int(cluster_size or 0)
        self.max_cluster_size = int(max_cluster_size)
        self.init = init
        self.init_sample = int(init_sample)
        self.bounds = bool(bounds)
        self.threads = threads
        self.centroids = None
        self.obj = None
        self.objective = None
        self.index = None
        self._owner = None
        self._source_names = None
        self.source_names = None  # names given to train(sources=...), in id order

    # ------------------------------------------------------------------ train
    def train(self, x, x2=None, sources=None, init_centroids=None):
        """Clusters the rows of x (float32 [N, d], C order; read in place,
        never modified). Asymmetric mode: x holds the queries and x2 the
        documents [N, d]. sources: per-source fitting (an int id array or a
        sequence of names; K is then per source). init_centroids (float32
        [K, D], as FAISS's): start Lloyd from these centroids instead (one
        run over every row, no sources, no splitting). Returns the final
        objective (sum over rows of the score to the assigned centroid)."""
        asym = self.mode == "asymmetric"
        x = array(x, "x", np.float32, 2)
        if x.shape[1] != self.d:
            raise ValueError("x has %d columns but the Kmeans was made for d = %d"
                             % (x.shape[1], self.d))
        if asym:
            if x2 is None:
                raise ValueError("mode='asymmetric' needs x2 (the documents, [N, d])")
            x2 = array(x2, "x2", np.float32, 2)
            if x2.shape != x.shape:
                raise ValueError("x2 has shape %s but x has %s (one row of each per pair)"
                                 % (x2.shape, x.shape))
        elif x2 is not None:
            raise ValueError("x2 is only used with mode='asymmetric'")
        n = x.shape[0]
        if n < 1:
            raise ValueError("x has no rows")
        if init_centroids is not None:
            if sources is not None:
                raise ValueError("init_centroids starts one run over every row; it does not "
                                 "combine with sources")
            return self._train_from(x, x2, init_centroids)
        src, n_sources, names = source_ids(sources, n)
        if src is None and self.k > n:
            raise ValueError("K (%d) exceeds the number of rows (%d)" % (self.k, n))
        try:
            r = _core.kmeans_fit(
                x, x2, src, n_sources, k=self.k, cluster_size=self.cluster_size,
                niter=self.niter, nredo=self.nredo, init=self.init,
                init_sample=self.init_sample,
                max_points_per_centroid=int(self.max_points_per_centroid or 0),
                max_cluster_size=self.max_cluster_size, bounds=self.bounds, seed=self.seed,
                threads=threads_arg(self.threads))
        except _core.StrataError as e:
            _name_rows(e)
        (self._owner, c, a, cs, sf, sz, cc, pw, objective, n_used, n_split, seconds,
         runs) = r
        self.centroids = np.asarray(c)
        self.assignments = np.asarray(a)
        self.cluster_source = np.asarray(cs)
        self.split_from = np.asarray(sf)
        self.cluster_sizes = np.asarray(sz)
        self.cos_centroid = np.asarray(cc)
        self.pairwise = np.asarray(pw)
        self.objective = objective
        self.n_used = n_used
        self.n_split = n_split
        self.seconds = seconds
        self.runs = runs
        self._source_names = names
        self.source_names = names
        self._finish(n)
        return objective

    def _finish(self, n):
        runs = self.runs
        self.obj = self._iteration_objectives(runs)
        self.iteration_stats = [
            {"obj": float(o), "time": sum(u["iterations"][i]["seconds"] for u in runs
                                          if i < len(u["iterations"]))}
            for i, o in enumerate(self.obj)]
        self.index = _Index(self)
        self._stats = None
        if self.verbose:
            print("strata.Kmeans: K=%d (%d split), objective %.6f (mean cos %.4f), "
                  "%d points used, %.2fs"
                  % (self.centroids.shape[0], self.n_split, self.objective,
                     self.objective / n / (2 if self.mode == "asymmetric" else 1), self.n_used,
                     self.seconds))

    def _train_from(self, x, x2, init_centroids):
        """Lloyd from given centroids (strata_kmeans_lloyd)."""
        dt = self.d * (2 if self.mode == "asymmetric" else 1)
        c0 = array(init_centroids, "init_centroids", np.float32, 2, finite=True)
        if c0.shape[1] != dt:
            raise ValueError("init_centroids: expected %d columns, got shape %s" % (dt, c0.shape))
        if c0.shape[0] > x.shape[0]:
            raise ValueError("init_centroids: K (%d) exceeds the number of rows (%d)"
                             % (c0.shape[0], x.shape[0]))
        t0 = time.time()
        try:
            c, a, iters = _core.kmeans_lloyd(x, x2, c0, self.niter, bounds=self.bounds,
                                             threads=threads_arg(self.threads))
        except _core.StrataError as e:
            _name_rows(e)
        K = c0.shape[0]
        self._owner = None
        self.centroids = np.asarray(c)
        self.assignments = np.asarray(a)
        self.cluster_sizes = np.bincount(self.assignments, minlength=K).astype(np.int64)
        self.cluster_source = np.zeros(K, dtype=np.int32)
        self.split_from = np.full(K, -1, dtype=np.int32)
        self.cos_centroid = self.pairwise = None
        self.objective = self._score_sum(x, x2)
        self.n_used, self.n_split = x.shape[0], 0
        self.seconds = time.time() - t0
        self.runs = [{"source": 0, "n": x.shape[0], "n_used": x.shape[0], "k": K,
                      "first_cluster": 0, "best_redo": 0, "redo_objective": [self.objective],
                      "iterations": iters, "init_seconds": 0.0}]
        self._source_names = self.source_names = None
        self._finish(x.shape[0])
        return self.objective

    def _score_sum(self, x, x2):
        """Sum over rows of the score to the assigned centroid, in double."""
        total = 0.0
        parts = [(x, 0)] if x2 is None else [(x, 0), (x2, self.d)]
        for a, off in parts:
            c = self.centroids[:, off:off + a.shape[1]].astype(np.float64)
            for i in range(0, a.shape[0], 65536):
                r = a[i:i + 65536].astype(np.float64)
                r /= np.linalg.norm(r, axis=1, keepdims=True)
                total += float(np.einsum("ij,ij->", r, c[self.assignments[i:i + 65536]]))
        return total

    @staticmethod
    def _iteration_objectives(runs):
        """Per-iteration objective summed over sources (a source that stopped
        early contributes its last value)."""
        m = max((len(u["iterations"]) for u in runs), default=0)
        obj = np.zeros(m)
        for u in runs:
            it = [t["objective"] for t in u["iterations"]]
            if it:
                obj += np.array(it + [it[-1]] * (m - len(it)))
        return obj

    # ------------------------------------------------------------------ stats
    @property
    def stats(self):
        """The stats.json ``strata cluster`` writes (parameters, per source
        its runs and iterations, per cluster size / source / cosines,
        imbalance), as a dict."""
        self._require_trained()
        if self._stats is None:
            with tempfile.TemporaryDirectory() as tmp:
                p = os.path.join(tmp, "stats.json")
                self.write_stats(p)
                with open(p) as f:
                    self._stats = json.load(f)
        return self._stats

    def write_stats(self, path):
        """Writes stats.json (the CLI's format) atomically to path."""
        self._require_trained()
        if self._owner is None:
            raise RuntimeError("stats come from the full fit; this model was trained from "
                               "init_centroids")
        _core.kmeans_write_stats(self._owner, os.fspath(path), self._source_names)

    # ------------------------------------------------------------------ assign
    def assign(self, x, x2=None, sources=None):
        """(scores float32 [n], ids int64 [n]) of the nearest centroid, as
        ``faiss.Kmeans.assign`` (for an inner-product index, scores are
        similarities: higher is nearer). Scored in float by the blocked
        top-k kernel; ``assignments`` holds the exact training assignment
        (they can differ only on a float near-tie). sources restricts each
        row to the clusters of its source (per-source models)."""
        D, I = self._search(x, x2, 1, sources)
        return D.ravel(), I.ravel()

    def _require_trained(self):
        if self.centroids is None:
            raise RuntimeError("the Kmeans is not trained yet: call train(x) first")

    def _rows(self, x, x2):
        """Normalized float32 rows the centroids can score by one inner
        product (spherical: x itself and its inverse norms, no copy)."""
        x = array(x, "x", np.float32, 2, finite=True)
        if x.shape[1] != self.d:
            raise ValueError("x has %d columns, the centroids have %d per part"
                             % (x.shape[1], self.d))
        if self.mode == "spherical":
            if x2 is not None:
                raise ValueError("x2 is only used with mode='asymmetric'")
            return x, None
        if x2 is None:
            raise ValueError("mode='asymmetric' needs x2 (the documents)")
        x2 = array(x2, "x2", np.float32, 2, finite=True)
        if x2.shape != x.shape:
            raise ValueError("x2 has shape %s but x has %s" % (x2.shape, x.shape))
        z = np.empty((x.shape[0], 2 * self.d), dtype=np.float32)
        for part, a in enumerate((x, x2)):
            inv = np.asarray(_core.inv_norms(a, threads=threads_arg(self.threads)))
            np.multiply(a, inv[:, None], out=z[:, part * self.d:(part + 1) * self.d])
        return z, np.ones(x.shape[0], dtype=np.float32)

    def _search(self, x, x2, k, sources):
        self._require_trained()
        if k < 1:
            raise ValueError("k must be >= 1, got %d" % k)
        z, scale = self._rows(x, x2)
        th = threads_arg(self.threads)
        if scale is None:
            scale = np.asarray(_core.inv_norms(z, threads=th))
        if sources is None:
            idx, score = _core.topk_ip(z, self.centroids, k, q_scale=scale, threads=th)
            return np.asarray(score), np.asarray(idx)
        src, _, names = source_ids(sources, z.shape[0])
        if names is not None and self._source_names is not None:
            lookup = {s: i for i, s in enumerate(self._source_names)}
            src = np.array([lookup.get(s, -1) for s in sources], dtype=np.int32)
        D = np.full((z.shape[0], k), -np.inf, dtype=np.float32)
        I = np.full((z.shape[0], k), -1, dtype=np.int64)
        for s in np.unique(src):
            rows = np.flatnonzero(src == s)
            cl = np.flatnonzero(self.cluster_source == s)
            if cl.size == 0:
                raise ValueError("sources: source %r has no clusters in this model" % (s,))
            idx, score = _core.topk_ip(np.ascontiguousarray(z[rows]),
                                       np.ascontiguousarray(self.centroids[cl]), k,
                                       q_scale=np.ascontiguousarray(scale[rows]), threads=th)
            idx = np.asarray(idx)
            I[rows] = np.where(idx >= 0, cl[np.maximum(idx, 0)], -1)
            D[rows] = np.asarray(score)
        return D, I
