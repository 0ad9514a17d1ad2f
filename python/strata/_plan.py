"""Batch plans from Python: built by libstrata's planner from numpy arrays,
or read from a directory written by ``strata plan``."""
import hashlib
import json
import os

import numpy as np

from . import _core
from ._checks import array, seed_arg, source_ids, threads_arg

_STRATEGIES = ("random", "source", "cluster")


def hash_texts(texts):
    """uint64 [n]: the 64-bit hash of each text's UTF-8 bytes that ``strata
    plan`` uses for its no-duplicate rule (two pairs with the same query or
    the same positive text never share a batch)."""
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts: expected a sequence of str, got a single %s" % type(texts).__name__)
    return np.asarray(_core.hash_texts(texts))


def load_pairs(path, query_field="query", positive_field="positive", source_field="source"):
    """Reads a pairs file as ``strata plan`` does (JSONL/TSV, .gz/.zst, or a
    BEIR folder). Returns (queries, positives, sources int32 [n],
    source_names), sources numbered in order of first appearance."""
    q, d, s, names = _core.pairs_load(os.fspath(path), query_field, positive_field, source_field)
    return q, d, np.asarray(s), names


def _int_ids(a, n, name):
    """An integer id array [n] as C-contiguous int32 (ids must be >= 0)."""
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "iu":
        raise TypeError("%s: expected an integer numpy array (e.g. Kmeans.assignments), got %s"
                        % (name, type(a).__name__ if not isinstance(a, np.ndarray) else a.dtype))
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1 or a.shape[0] != n:
        raise ValueError("%s: expected %d entries, got shape %s" % (name, n, a.shape))
    if n and (a.min() < 0 or a.max() >= 2 ** 31 - 1):
        raise ValueError("%s: ids must lie in [0, 2^31-1), found %d..%d"
                         % (name, a.min(), a.max()))
    return np.ascontiguousarray(a, dtype=np.int32)


class Plan:
    """A batch plan: ``batches`` int64 [n_batches, B] of pair indices (-1
    pads, only in a short final batch that was kept), ``mask`` uint8
    [n_batches, B, ceil(B/8)] bit-packed little-endian (bit j of row i set:
    document j is excluded from query i's softmax partition) or None, the
    per-batch ``batch_source``, ``batch_cluster``, ``batch_nclusters``,
    ``batch_stage``, ``batch_epoch`` (int32, or None), ``n_pairs``,
    ``n_masked``/``n_offdiag``, per-stage counts ``stages`` and ``params``.
    """

    def __init__(self, batches, mask=None, n_pairs=0, batch_source=None, batch_cluster=None,
                 batch_nclusters=None, batch_stage=None, batch_epoch=None, n_masked=None,
                 n_offdiag=None, stages=None, params=None, _owner=None):
        self.batches = array(batches, "batches", np.int64, 2)
        nb, B = self.batches.shape
        if nb < 1 or B < 1:
            raise ValueError("batches: an empty plan (shape %s)" % (self.batches.shape,))
        if mask is not None:
            mask = array(mask, "mask", np.uint8, 3)
            if mask.shape != (nb, B, (B + 7) // 8):
                raise ValueError("mask: expected shape %s, got %s" % ((nb, B, (B + 7) // 8), mask.shape))
        self.mask = mask
        self.n_pairs = int(n_pairs)
        for name, v in (("batch_source", batch_source), ("batch_cluster", batch_cluster),
                        ("batch_nclusters", batch_nclusters), ("batch_stage", batch_stage),
                        ("batch_epoch", batch_epoch)):
            if v is not None:
                v = array(v, name, np.int32, 1)
                if v.shape[0] != nb:
                    raise ValueError("%s: expected %d entries, got %d" % (name, nb, v.shape[0]))
            setattr(self, name, v)
        if mask is not None and (n_masked is None or n_offdiag is None):
            n_masked, n_offdiag = self._count_mask()
        self.n_masked = int(n_masked or 0)
        self.n_offdiag = int(n_offdiag or 0)
        self.stages = stages
        self.params = params
        self._owner = _owner
        self._fingerprint = None

    @classmethod
    def _from_core(cls, t, params=None, stages=None):
        (owner, n_pairs, b, m, bs, bc, bn, bst, be, n_masked, n_offdiag, st) = t
        arr = lambda v: None if v is None else np.asarray(v)  # noqa: E731
        return cls(np.asarray(b), arr(m), n_pairs, arr(bs), arr(bc), arr(bn), arr(bst), arr(be),
                   n_masked, n_offdiag, st if st is not None else stages, params, _owner=owner)

    # ------------------------------------------------------------------ views
    @property
    def n_batches(self):
        return self.batches.shape[0]

    @property
    def batch_size(self):
        return self.batches.shape[1]

    def __len__(self):
        return self.n_batches

    def __repr__(self):
        return ("Plan(n_batches=%d, batch_size=%d, n_pairs=%d, mask=%s)"
                % (self.n_batches, self.batch_size, self.n_pairs,
                   "none" if self.mask is None else "%.4f%% masked" % (100 * self.masked_fraction)))

    @property
    def masked_fraction(self):
        return self.n_masked / self.n_offdiag if self.mask is not None and self.n_offdiag else 0.0

    def batch(self, b):
        """Pair indices of batch b without pads (int64)."""
        row = self.batches[b]
        return row[row >= 0]

    def dense_mask(self, b):
        """bool [n, n] over the batch's n valid slots (pads removed): entry
        (i, j) True when document j is excluded from query i's partition.
        All False when the plan has no mask."""
        row = self.batches[b]
        keep = np.flatnonzero(row >= 0)
        if self.mask is None:
            return np.zeros((keep.size, keep.size), dtype=bool)
        full = np.unpackbits(self.mask[b], axis=-1, count=self.batch_size, bitorder="little")
        return full[np.ix_(keep, keep)].astype(bool)

    def _count_mask(self):
        B = self.batch_size
        bits = np.unpackbits(self.mask, axis=-1, count=B, bitorder="little")
        valid = self.batches >= 0
        nv = valid.sum(axis=1)
        return int(bits.sum()), int((nv * (nv - 1)).sum())

    def fingerprint(self):
        """SHA-256 of the batches and mask: identifies a plan in a sampler's
        state_dict, so a resumed run cannot silently continue another plan."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            h.update(np.ascontiguousarray(self.batches).tobytes())
            if self.mask is not None:
                h.update(np.ascontiguousarray(self.mask).tobytes())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    # ------------------------------------------------------------------ mask
    def compute_mask(self, filter_q, filter_d, margin=0.0, threshold=None, threads=None):
        """A copy of this plan with the false-negative mask (CDE Eq. 4) from
        surrogate embeddings filter_q / filter_d float32 [N, D]: document j is
        masked for query i when s(q_i, d_j) >= s(q_i, d_i) - margin (or >=
        threshold when given), cosine similarities."""
        fq = array(filter_q, "filter_q", np.float32, 2, finite=True)
        fd = array(filter_d, "filter_d", np.float32, 2, finite=True)
        if fq.shape != fd.shape:
            raise ValueError("filter_q has shape %s but filter_d has %s" % (fq.shape, fd.shape))
        m, n_masked, n_offdiag = _core.plan_compute_mask(
            self.batches, fq, fd, margin=float(margin),
            threshold=None if threshold is None else float(threshold),
            threads=threads_arg(threads))
        return Plan(self.batches, np.asarray(m), self.n_pairs, self.batch_source,
                    self.batch_cluster, self.batch_nclusters, self.batch_stage, self.batch_epoch,
                    n_masked, n_offdiag, self.stages, self.params, _owner=self._owner)

    # ------------------------------------------------------------------ files
    def save(self, path, params=None):
        """Writes the plan directory `strata train` and `load_plan` read:
        batches.npy, mask.npy (when there is a mask), plan.json last."""
        p = self.params if params is None else params
        _core.plan_save(os.fspath(path), self.n_pairs, self.batches, self.mask,
                        self.batch_source, self.batch_cluster, self.batch_nclusters,
                        self.batch_stage, self.batch_epoch, self.n_masked, self.n_offdiag,
                        self._owner, None if p is None else json.dumps(p))


def load_plan(path):
    """Reads a plan directory written by ``strata plan`` (or Plan.save):
    batches.npy, mask.npy if present, plan.json (required: a plan is
    complete iff plan.json exists)."""
    path = os.fspath(path)
    t = _core.plan_load(path)
    params = stages = None
    try:
        with open(os.path.join(path, "plan.json")) as f:
            meta = json.load(f)
        params, stages = meta.get("params"), meta.get("stages")
    except (OSError, ValueError):
        pass
    return Plan._from_core(t, params, stages)


def _stage_tuple(s, n, i):
    """A stage given as a strategy name or a dict {strategy, assign,
    centroids, share, name} -> the tuple _core.plan_build takes."""
    if isinstance(s, str):
        s = {"strategy": s}
    if not isinstance(s, dict):
        raise TypeError("stages[%d]: expected a strategy name or a dict, got %s"
                        % (i, type(s).__name__))
    unknown = set(s) - {"strategy", "assign", "centroids", "share", "name"}
    if unknown:
        raise TypeError("stages[%d]: unknown keys %s" % (i, sorted(unknown)))
    strategy = s.get("strategy")
    if strategy not in _STRATEGIES:
        raise ValueError("stages[%d]: strategy must be one of %s, got %r"
                         % (i, ", ".join(_STRATEGIES), strategy))
    assign, cent = s.get("assign"), s.get("centroids")
    if strategy == "cluster":
        if assign is None:
            raise ValueError("stages[%d]: the cluster strategy needs assign (a cluster id per "
                             "pair, e.g. Kmeans.assignments)" % i)
        assign = _int_ids(assign, n, "stages[%d].assign" % i)
        if cent is not None:
            cent = array(cent, "stages[%d].centroids" % i, np.float32, 2, finite=True)
    elif assign is not None or cent is not None:
        raise ValueError("stages[%d]: assign/centroids only apply to the cluster strategy" % i)
    k = cent.shape[0] if cent is not None else 0
    share = float(s.get("share", 1.0))
    if not share > 0:
        raise ValueError("stages[%d]: share must be > 0" % i)
    return (strategy, assign, k, cent, share, s.get("name") or strategy)


def plan(batch_size, n=None, *, strategy=None, sources=None, assign=None, centroids=None,
         stages=None, order="random", epochs=1, drop_last=False, queries=None, positives=None,
         query_hashes=None, positive_hashes=None, filter_q=None, filter_d=None, margin=0.0,
         threshold=None, seed=1, threads=None):
    """Plans the minibatches of contrastive training, as ``strata plan``.

    batch_size   B, pairs per batch
    n            number of pairs (inferred from any per-pair array)
    strategy     "random" | "source" (every batch from one source) | "cluster"
                 (every batch from one (source, cluster)); default "cluster"
                 when assign is given, else "random"
    sources      source per pair: int ids or names (order of first appearance)
    assign       cluster id per pair (e.g. Kmeans.assignments); centroids
                 float32 [K, D] (used to merge leftovers and for TSP order)
    stages       a curriculum instead of strategy/assign: a list of strategy
                 names or dicts {strategy, assign, centroids, share, name}
    order        "random" | "tsp" (greedy walk over the centroids)
    epochs       passes over the data; drop_last drops leftovers
    queries, positives  texts (or query_hashes/positive_hashes, uint64 from
                 hash_texts) for the no-duplicate rule; without them the rule
                 is off (the CLI's --allow-duplicates)
    filter_q, filter_d  surrogate embeddings float32 [n, D]: compute the
                 false-negative mask (margin, or an absolute threshold)
    seed, threads  as on the command line
    Returns a :class:`Plan`.
    """
    B = int(batch_size)
    if B < 1:
        raise ValueError("batch_size must be >= 1, got %d" % B)
    if int(epochs) < 1:
        raise ValueError("epochs must be >= 1, got %d" % int(epochs))
    if order not in ("random", "tsp"):
        raise ValueError("order must be 'random' or 'tsp', got %r" % (order,))
    if stages is not None and (strategy is not None or assign is not None or centroids is not None):
        raise ValueError("stages replaces strategy/assign/centroids (give each stage its own)")
    if (filter_q is None) != (filter_d is None):
        raise ValueError("filter_q and filter_d go together")
    if threshold is not None and filter_q is None:
        raise ValueError("threshold needs filter_q/filter_d")
    if (queries is None) != (positives is None):
        raise ValueError("queries and positives go together")
    if (query_hashes is None) != (positive_hashes is None):
        raise ValueError("query_hashes and positive_hashes go together")
    # n from the first per-pair input
    for v in (sources, assign, filter_q, queries, query_hashes):
        if n is None and v is not None:
            n = len(v)
    if n is None:
        raise ValueError("give n (the number of pairs) or a per-pair array")
    n = int(n)
    if n < 1:
        raise ValueError("no pairs to plan (n = %d)" % n)
    if B > n:
        raise ValueError("batch_size %d is larger than the data (%d pairs)" % (B, n))
    src, n_sources, names = source_ids(sources, n)
    qh = ph = None
    if queries is not None:
        if len(queries) != n or len(positives) != n:
            raise ValueError("queries/positives: expected %d texts each, got %d and %d"
                             % (n, len(queries), len(positives)))
        qh, ph = hash_texts(queries), hash_texts(positives)
    elif query_hashes is not None:
        qh = array(query_hashes, "query_hashes", np.uint64, 1)
        ph = array(positive_hashes, "positive_hashes", np.uint64, 1)
        if qh.shape[0] != n or ph.shape[0] != n:
            raise ValueError("query_hashes/positive_hashes: expected %d entries each" % n)
    fq = fd = None
    if filter_q is not None:
        fq = array(filter_q, "filter_q", np.float32, 2, finite=True)
        fd = array(filter_d, "filter_d", np.float32, 2, finite=True)
        if fq.shape[0] != n or fd.shape != fq.shape:
            raise ValueError("filter_q / filter_d: expected two arrays of shape (%d, D), got %s "
                             "and %s" % (n, fq.shape, fd.shape))
    if stages is None:
        strategy = strategy or ("cluster" if assign is not None else "random")
        stages = [{"strategy": strategy, "assign": assign, "centroids": centroids}]
    elif not isinstance(stages, (list, tuple)) or not stages:
        raise ValueError("stages: a non-empty list is needed")
    st = [_stage_tuple(s, n, i) for i, s in enumerate(stages)]
    seed = seed_arg(seed)
    t = _core.plan_build(n, src, n_sources, qh, ph, fq, fd, st, B, epochs=int(epochs),
                         drop_last=bool(drop_last), order=order, filter=fq is not None,
                         margin=float(margin),
                         threshold=None if threshold is None else float(threshold), seed=seed,
                         threads=threads_arg(threads))
    params = {"batch_size": B, "strategy": st[0][0] if len(st) == 1 else None,
              "stages": [s[5] for s in st] if len(st) > 1 else None, "order": order,
              "epochs": int(epochs), "drop_last": bool(drop_last),
              "distinct_texts": qh is not None, "seed": seed, "source": "python"}
    if fq is not None:
        if threshold is None:
            params.update(filter_rule="s(q_i,d_j) >= s(q_i,d_i) - margin", margin=float(margin))
        else:
            params.update(filter_rule="s(q_i,d_j) >= threshold", threshold=float(threshold))
    if names is not None:
        params["source_names"] = names
    return Plan._from_core(t, {k: v for k, v in params.items() if v is not None})
