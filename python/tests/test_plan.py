"""Plans from Python against `strata plan`, and the planner's rules."""
import json

import numpy as np
import pytest

import strata
from conftest import clustered


def write_pairs(path, n, seed):
    """A pairs file with 3 sources, some repeated texts (the no-duplicate
    rule has work to do) and non-ASCII text (hashes are over UTF-8)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        q = "question %d é" % (i if rng.random() > 0.1 else rng.integers(0, 20))
        p = "passage %d ü" % (i if rng.random() > 0.1 else rng.integers(0, 20))
        rows.append({"query": q, "positive": p, "source": ["web", "qa", "code"][i % 3 if i % 5 else 0]})
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return rows


@pytest.fixture
def inputs(tmp_path):
    n = 600
    write_pairs(tmp_path / "pairs.jsonl", n, 1)
    fq, _ = clustered(n, 16, 8, 0.4, 2)
    # documents: the query plus noise, so a positive is not always the
    # query's best in-batch match (the mask has something to do)
    noise = np.random.default_rng(3).standard_normal(fq.shape).astype(np.float32)
    fd = np.ascontiguousarray(fq + 0.35 * noise, dtype=np.float32)
    np.save(tmp_path / "fq.npy", fq)
    np.save(tmp_path / "fd.npy", fd)
    km = strata.Kmeans(16, 8, seed=4)
    km.train(fq)
    np.save(tmp_path / "assign.npy", km.assignments)
    np.save(tmp_path / "centroids.npy", km.centroids)
    return tmp_path, fq, fd, km


@pytest.mark.parametrize("variant", ["cluster", "random_tsp_free", "source_tsp", "curriculum",
                                     "threshold"])
def test_same_plan_as_the_cli(cli, inputs, variant):
    d, fq, fd, km = inputs
    q, p, src, names = strata.load_pairs(d / "pairs.jsonl")
    assert names == ["web", "qa", "code"] and src.dtype == np.int32
    common = ["plan", "--pairs", d / "pairs.jsonl", "--batch-size", 16, "--seed", 7,
              "--filter-q", d / "fq.npy", "--filter-d", d / "fd.npy", "--epochs", 2]
    kw = dict(sources=src, queries=q, positives=p, filter_q=fq, filter_d=fd, seed=7, epochs=2)
    if variant == "cluster":
        args = ["--strategy", "cluster", "--assign", d, "--margin", 0.05]
        kw.update(assign=km.assignments, centroids=km.centroids, margin=0.05)
    elif variant == "random_tsp_free":
        args = ["--strategy", "random", "--drop-last"]
        kw.update(strategy="random", drop_last=True)
    elif variant == "source_tsp":
        args = ["--strategy", "source", "--order", "tsp"]
        kw.update(strategy="source", order="tsp")
    elif variant == "curriculum":
        args = ["--stages", "random:0.3,cluster=%s:0.7" % d]
        kw.update(stages=[{"strategy": "random", "share": 0.3, "name": "random:0.3"},
                          {"strategy": "cluster", "assign": km.assignments,
                           "centroids": km.centroids, "share": 0.7}])
    else:
        args = ["--strategy", "source", "--threshold", 0.5]
        kw.update(strategy="source", threshold=0.5)
    cli(*(common + args + ["--out", d / "plan"]))
    ours = strata.plan(16, **kw)
    theirs = strata.load_plan(d / "plan")
    assert np.array_equal(ours.batches, theirs.batches)
    assert theirs.mask is not None and np.array_equal(ours.mask, theirs.mask)
    for name in ("batch_source", "batch_cluster", "batch_nclusters", "batch_stage", "batch_epoch"):
        assert np.array_equal(getattr(ours, name), getattr(theirs, name)), name
    assert (ours.n_masked, ours.n_offdiag) == (theirs.n_masked, theirs.n_offdiag)
    assert theirs.params["seed"] == 7 and len(theirs.stages) == len(ours.stages)


def test_plan_rules(inputs):
    d, fq, fd, km = inputs
    q, p, src, _ = strata.load_pairs(d / "pairs.jsonl")
    pl = strata.plan(16, sources=src, assign=km.assignments, centroids=km.centroids,
                     queries=q, positives=p, filter_q=fq, filter_d=fd, margin=0.02, epochs=2)
    st = pl.stages[0]
    placed = (pl.batches >= 0).sum()
    assert placed == 2 * len(q) - 2 * st["dropped_duplicate"] or placed == 2 * len(q) - st["dropped_duplicate"]
    for b in range(pl.n_batches):
        ids = pl.batch(b)
        assert len({q[i] for i in ids}) == len(ids) and len({p[i] for i in ids}) == len(ids)
        assert len(set(src[ids].tolist())) == 1  # one source per batch
        if pl.batch_nclusters[b] == 1:
            assert len(set(km.assignments[ids].tolist())) == 1
    # every pair at most once per pass
    for e in range(2):
        ids = pl.batches[pl.batch_epoch == e]
        ids = ids[ids >= 0]
        assert len(ids) == len(set(ids.tolist()))


def test_mask_is_cde_eq4(inputs):
    """Bit (i, j): s(q_i, d_j) >= s(q_i, d_i) - margin, cosine, never i == j;
    checked against numpy in double (the library scores in float, so a pair
    within 1e-5 of the boundary may go either way)."""
    _, fq, fd, km = inputs
    margin = 0.05
    pl = strata.plan(16, assign=km.assignments, filter_q=fq, filter_d=fd, margin=margin)
    qn = fq / np.linalg.norm(fq.astype(np.float64), axis=1, keepdims=True)
    dn = fd / np.linalg.norm(fd.astype(np.float64), axis=1, keepdims=True)
    total = 0
    for b in range(pl.n_batches):
        ids = pl.batch(b)
        s = qn[ids] @ dn[ids].T
        want = s >= np.diag(s)[:, None] - margin
        np.fill_diagonal(want, False)
        got = pl.dense_mask(b)
        near = np.abs(s - (np.diag(s)[:, None] - margin)) < 1e-5
        assert np.all((got == want) | near)
        total += got.sum()
    assert total == pl.n_masked > 0


def test_save_load_and_recompute_mask(tmp_path, inputs):
    _, fq, fd, km = inputs
    pl = strata.plan(32, assign=km.assignments, centroids=km.centroids, seed=3)
    assert pl.mask is None and pl.dense_mask(0).sum() == 0
    pm = pl.compute_mask(fq, fd, margin=0.1)
    pl2 = strata.plan(32, assign=km.assignments, centroids=km.centroids, seed=3,
                      filter_q=fq, filter_d=fd, margin=0.1)
    assert np.array_equal(pm.mask, pl2.mask) and pm.n_masked == pl2.n_masked
    pm.save(tmp_path / "p")
    back = strata.load_plan(tmp_path / "p")
    assert np.array_equal(back.batches, pm.batches) and np.array_equal(back.mask, pm.mask)
    assert back.fingerprint() == pm.fingerprint() != pl.fingerprint()
    assert back.n_masked == pm.n_masked and back.stages == pm.stages
    # a plan from arrays (a user's own batches) saves and reads back too
    own = strata.Plan(np.ascontiguousarray(pl.batches[:3]), n_pairs=pl.n_pairs)
    own.save(tmp_path / "own")
    assert np.array_equal(strata.load_plan(tmp_path / "own").batches, own.batches)


def test_hash_texts_matches_the_planner_rule():
    h = strata.hash_texts(["a", "é", "a"])
    assert h.dtype == np.uint64 and h[0] == h[2] != h[1]
    # two pairs with the same query never share a batch
    n = 64
    q = ["same" if i < 2 else "q%d" % i for i in range(n)]
    p = ["p%d" % i for i in range(n)]
    for seed in range(5):
        pl = strata.plan(n // 2, queries=q, positives=p, seed=seed)
        for b in range(pl.n_batches):
            ids = set(pl.batch(b).tolist())
            assert not {0, 1} <= ids
