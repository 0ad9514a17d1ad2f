"""Bad input from Python: a clear exception, never a crash. The same calls go
straight to the C layer too (strata._core), whose own checks must hold
without the Python layer's."""
import numpy as np
import pytest

import strata
from strata import _core

X = np.random.default_rng(0).standard_normal((200, 8)).astype(np.float32)


def km():
    return strata.Kmeans(8, 4)


@pytest.mark.parametrize("x, exc, msg", [
    (X.astype(np.float64), TypeError, "expected dtype float32, got float64"),
    (X.astype(np.float16), TypeError, "expected dtype float32"),
    (X.astype(np.int32), TypeError, "expected dtype float32"),
    (np.asfortranarray(X), ValueError, "Fortran-ordered"),
    (np.ascontiguousarray(np.repeat(X, 2, axis=1))[:, ::2], ValueError, "non-contiguous"),
    (np.ascontiguousarray(X[:, :4]), ValueError, "4 columns but the Kmeans was made for d = 8"),
    (X[0], ValueError, "expected 2 dimension"),
    (X.tolist(), TypeError, "expected a numpy.ndarray"),
    (None, TypeError, "an array is required"),
    (X[:3], ValueError, r"K \(4\) exceeds the number of rows \(3\)"),
])
def test_kmeans_train_rejects(x, exc, msg):
    with pytest.raises(exc, match=msg):
        km().train(x)


@pytest.mark.parametrize("where, what, msg", [
    (5, np.nan, "x: row 5: NaN in column 3"),
    (7, np.inf, "x: row 7: Inf in column 3"),
])
def test_kmeans_nonfinite_rows_are_named(where, what, msg):
    x = X.copy()
    x[where, 3] = what
    with pytest.raises(strata.StrataError, match=msg) as e:
        km().train(x)
    assert e.value.status == "bad input"  # strata_status_str(STRATA_EFORMAT)


def test_kmeans_zero_row_and_mismatches():
    x = X.copy()
    x[9] = 0
    with pytest.raises(strata.StrataError, match="row 9: all-zero vector"):
        km().train(x)
    with pytest.raises(ValueError, match="x2 has shape"):
        strata.Kmeans(8, 4, mode="asymmetric").train(X, X[:100])
    with pytest.raises(ValueError, match="needs x2"):
        strata.Kmeans(8, 4, mode="asymmetric").train(X)
    x2 = X.copy()
    x2[11, 0] = np.nan
    with pytest.raises(strata.StrataError, match="x2: row 11"):
        strata.Kmeans(8, 4, mode="asymmetric").train(X, x2)
    with pytest.raises(ValueError, match="sources: expected 200"):
        km().train(X, sources=np.zeros(10, dtype=np.int32))
    with pytest.raises(ValueError, match="spherical=False"):
        strata.Kmeans(8, 4, spherical=False)
    with pytest.raises(ValueError, match="exactly one of k"):
        strata.Kmeans(8)
    with pytest.raises(RuntimeError, match="not trained"):
        km().assign(X)
    k = km()
    k.train(X)
    bad = X.copy()
    bad[2, 2] = np.nan
    with pytest.raises(ValueError, match="x: row 2 has a non-finite value"):
        k.assign(bad)
    with pytest.raises(ValueError, match="init_centroids: expected 8 columns"):
        km().train(X, init_centroids=np.zeros((4, 3), dtype=np.float32))


def test_plan_rejects():
    n = 100
    a = np.arange(n, dtype=np.int32) % 5
    with pytest.raises(ValueError, match="larger than the data"):
        strata.plan(200, n=n)
    with pytest.raises(ValueError, match="assign: expected 100 entries"):
        strata.plan(10, n=n, assign=a[:50])
    with pytest.raises(TypeError, match="integer numpy array"):
        strata.plan(10, n=n, assign=a.astype(np.float32))
    with pytest.raises(ValueError, match="filter_q and filter_d go together"):
        strata.plan(10, n=n, filter_q=X[:n])
    f = np.ascontiguousarray(X[:n])
    with pytest.raises(ValueError, match=r"filter_q / filter_d: expected two arrays of shape \(100, D\)"):
        strata.plan(10, n=n, filter_q=f, filter_d=f[:, :4].copy())
    g = f.copy()
    g[3, 1] = np.nan
    with pytest.raises(ValueError, match="filter_d: row 3 has a non-finite value"):
        strata.plan(10, n=n, filter_q=f, filter_d=g)
    with pytest.raises(ValueError, match="strategy must be one of"):
        strata.plan(10, n=n, strategy="clusters")
    with pytest.raises(ValueError, match="needs assign"):
        strata.plan(10, n=n, strategy="cluster")
    with pytest.raises(strata.StrataError, match="tsp"):
        strata.plan(10, n=n, order="tsp")
    with pytest.raises(ValueError, match="queries/positives: expected 100"):
        strata.plan(10, n=n, queries=["a"] * 99, positives=["b"] * 99)
    with pytest.raises(TypeError, match="texts\\[1\\]: expected str"):
        strata.plan(2, n=3, queries=["a", 1, "c"], positives=["a", "b", "c"])
    with pytest.raises(strata.StrataError, match="not a complete plan"):
        strata.load_plan("/nonexistent-dir")
    with pytest.raises(ValueError, match="mask: expected shape"):
        strata.Plan(np.zeros((2, 8), dtype=np.int64), mask=np.zeros((2, 8, 2), dtype=np.uint8))


def test_eval_and_infonce_reject():
    C = np.ascontiguousarray(X[:50])
    Q = np.ascontiguousarray(X[50:60])
    with pytest.raises(ValueError, match="unknown query id"):
        strata.evaluate(Q, C, {"nope": {"1": 1}})
    with pytest.raises(ValueError, match="unknown document id"):
        strata.evaluate(Q, C, {"1": {"nope": 1}})
    with pytest.raises(ValueError, match="8 columns but doc_emb has 4"):
        strata.evaluate(Q, np.ascontiguousarray(C[:, :4]), {"1": {"1": 1}})
    bad = Q.copy()
    bad[4, 0] = np.inf
    with pytest.raises(ValueError, match="query_emb: row 4"):
        strata.evaluate(bad, C, {"1": {"1": 1}})
    with pytest.raises(ValueError, match="must be unique"):
        strata.evaluate(Q, C, {"a": {"1": 1}}, query_ids=["a"] * 10)
    with pytest.raises(ValueError, match="q has shape"):
        strata.infonce(Q, C)
    with pytest.raises(ValueError, match="mask: expected shape"):
        strata.infonce(Q, Q, np.zeros((3, 3), dtype=bool))


# The C layer alone: wrong types, shapes and values give exceptions.
@pytest.mark.parametrize("call, exc", [
    (lambda: _core.kmeans_fit(np.zeros(5, dtype=np.float32), k=1), ValueError),
    (lambda: _core.kmeans_fit(X.astype(np.float64), k=1), TypeError),
    (lambda: _core.kmeans_fit(np.asfortranarray(X), k=1), ValueError),
    (lambda: _core.kmeans_fit(X, k=1000), ValueError),
    (lambda: _core.kmeans_fit(X, X[:5], k=2), ValueError),
    (lambda: _core.kmeans_fit(X, None, np.full(200, 7, dtype=np.int32), 2, k=2), strata.StrataError),
    (lambda: _core.kmeans_fit(X, k=0, cluster_size=0), ValueError),
    (lambda: _core.kmeans_fit("not an array", k=2), TypeError),
    (lambda: _core.kmeans_fit(np.zeros((0, 8), dtype=np.float32), k=1), ValueError),
    (lambda: _core.kmeans_lloyd(X, None, np.zeros((4, 3), dtype=np.float32), 5), ValueError),
    (lambda: _core.kmeans_lloyd(X, None, np.zeros((400, 8), dtype=np.float32), 5), ValueError),
    (lambda: _core.topk_ip(X, X[:, :4].copy(), 3), ValueError),
    (lambda: _core.topk_ip(X, X, 0), ValueError),
    (lambda: _core.topk_ip(X, X, 3, q_scale=np.ones(3, dtype=np.float32)), ValueError),
    (lambda: _core.plan_build(10, None, 1, None, None, None, None, [("random", None, 0, None, 1.0, None)], 20), strata.StrataError),
    (lambda: _core.plan_build(10, None, 1, None, None, None, None, [("bogus", None, 0, None, 1.0, None)], 2), ValueError),
    (lambda: _core.plan_build(10, None, 1, None, None, None, None, [("cluster", np.zeros(3, dtype=np.int32), 0, None, 1.0, None)], 2), ValueError),
    (lambda: _core.plan_build(10, None, 1, None, None, None, None, [("cluster", np.full(10, -3, dtype=np.int32), 0, None, 1.0, None)], 2), strata.StrataError),
    (lambda: _core.plan_build(10, None, 1, None, None, None, None, [], 2), ValueError),
    (lambda: _core.plan_build(10, None, 1, None, None, None, None, ["x"], 2), TypeError),
    (lambda: _core.plan_build(10, np.full(10, 5, dtype=np.int32), 2, None, None, None, None, [("source", None, 0, None, 1.0, None)], 2), strata.StrataError),
    (lambda: _core.plan_save("/tmp/x", 0, np.zeros((2, 8), dtype=np.int64), np.zeros((2, 8, 2), dtype=np.uint8), None, None, None, None, None, 0, 0), ValueError),
    (lambda: _core.plan_compute_mask(np.full((2, 4), 999, dtype=np.int64), X, X), strata.StrataError),
    (lambda: _core.evaluate(X, X, ["a"] * 200, ["b%d" % i for i in range(200)], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)), strata.StrataError),
    (lambda: _core.evaluate(X[:2], X, ["a", "b"], [str(i) for i in range(200)], np.array([1, 0]), np.array([0, 0]), np.array([1, 1], dtype=np.int32)), ValueError),
    (lambda: _core.evaluate(X[:2], X, ["a", "b"], [str(i) for i in range(200)], np.array([0, 5]), np.array([0, 500]), np.array([1, 1], dtype=np.int32)), ValueError),
    (lambda: _core.infonce(X, X, np.zeros((200, 3), dtype=np.uint8)), ValueError),
    (lambda: _core.infonce(X, X, tau=0.0), ValueError),
    (lambda: _core.hash_texts(["a", None]), TypeError),
    (lambda: _core.hash_texts(5), TypeError),
    (lambda: _core.kmeans_write_stats(object(), "/tmp/x"), Exception),
])
def test_core_rejects(call, exc):
    with pytest.raises(exc):
        call()


def test_read_only_and_odd_buffers():
    ro = X.copy()
    ro.flags.writeable = False
    k = km()
    k.train(ro)  # read-only input is fine: it is never written
    with pytest.raises(TypeError, match="dtype"):
        _core.kmeans_fit(memoryview(b"abcdefgh").cast("B", (2, 4)), k=1)
    be = X.astype(">f4")
    with pytest.raises(TypeError, match="float32"):
        k.train(be)
    with pytest.raises(TypeError):
        _core.kmeans_fit(be, k=2)
