"""strata.evaluate against `strata eval` and pytrec_eval."""
import json

import numpy as np
import pytest

import strata


@pytest.fixture
def beir(tmp_path):
    """A BEIR folder with graded judgments, unjudged queries, a query id
    equal to a document id, and tied scores (duplicate document vectors)."""
    rng = np.random.default_rng(0)
    nq, nc, D = 40, 300, 24
    qids = ["q%d" % i for i in range(nq - 1)] + ["d7"]
    dids = ["d%d" % i for i in range(nc)]
    Q = rng.standard_normal((nq, D)).astype(np.float32)
    C = rng.standard_normal((nc, D)).astype(np.float32)
    C[10] = C[11]  # a tie
    qrels = {}
    for i, q in enumerate(qids):
        if i % 9 == 8:
            continue  # unjudged
        docs = rng.choice(nc, size=rng.integers(1, 6), replace=False)
        qrels[q] = {dids[j]: int(rng.integers(0, 3)) for j in docs}
        qrels[q][dids[int(np.argmax(C @ Q[i]))]] = 2  # something to find
    (tmp_path / "qrels").mkdir()
    with open(tmp_path / "corpus.jsonl", "w") as f:
        for d in dids:
            f.write(json.dumps({"_id": d, "title": "", "text": "text of " + d}) + "\n")
    with open(tmp_path / "queries.jsonl", "w") as f:
        for q in qids:
            f.write(json.dumps({"_id": q, "text": "query " + q}) + "\n")
    with open(tmp_path / "qrels" / "test.tsv", "w") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for q, docs in qrels.items():
            for d, s in docs.items():
                f.write("%s\t%s\t%d\n" % (q, d, s))
    np.save(tmp_path / "Q.npy", Q)
    np.save(tmp_path / "C.npy", C)
    return tmp_path, Q, C, qids, dids, qrels


@pytest.mark.parametrize("opts", [{}, {"normalize": True}, {"ignore_identical_ids": True, "k": 10}])
def test_equals_strata_eval(cli, beir, opts):
    d, Q, C, qids, dids, qrels = beir
    args = ["eval", "--beir", d, "--corpus-emb", d / "C.npy", "--query-emb", d / "Q.npy",
            "--out", d / "m.json"]
    if opts.get("normalize"):
        args.append("--normalize")
    if opts.get("ignore_identical_ids"):
        args.append("--ignore-identical-ids")
    if "k" in opts:
        args += ["--k", opts["k"]]
    cli(*args)
    with open(d / "m.json") as f:
        theirs = json.load(f)
    ours = strata.evaluate(Q, C, qrels, query_ids=qids, doc_ids=dids, per_query=True, **opts)
    # the same library calls on the same floats give the same doubles; the
    # CLI's JSON goes through cJSON, which prints 15 significant digits when
    # they read back within an epsilon: 1e-14 relative
    for m, v in theirs["mean"].items():
        assert ours[m] == pytest.approx(v, rel=1e-14, abs=1e-15), m
    assert ours["queries"] == len(qrels)
    assert set(ours["per_query"]) == set(theirs["per_query"])
    for q, ms in theirs["per_query"].items():
        for m, v in ms.items():
            assert ours["per_query"][q][m] == pytest.approx(v, rel=1e-14, abs=1e-15), (q, m)
    # a qrels file gives the same
    again = strata.evaluate(Q, C, d / "qrels" / "test.tsv", query_ids=qids, doc_ids=dids, **opts)
    assert all(again[m] == ours[m] for m in theirs["mean"])


def test_equals_pytrec_eval(beir):
    pytrec_eval = pytest.importorskip("pytrec_eval")
    _, Q, C, qids, dids, qrels = beir
    out = strata.evaluate(Q, C, qrels, query_ids=qids, doc_ids=dids, per_query=True,
                          return_run=True)
    run = {q: {d: s for d, s in docs} for q, docs in out["run"].items()}
    ev = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.10", "recall.100",
                                                "map_cut.100"})
    ref = ev.evaluate(run)
    for q, r in ref.items():
        mine = out["per_query"][q]
        # trec_eval computes in double from the same run: 1e-12
        assert mine["ndcg@10"] == pytest.approx(r["ndcg_cut_10"], abs=1e-12)
        assert mine["recall@10"] == pytest.approx(r["recall_10"], abs=1e-12)
        assert mine["recall@100"] == pytest.approx(r["recall_100"], abs=1e-12)
        assert mine["map@100"] == pytest.approx(r["map_cut_100"], abs=1e-12)
    for q, docs in out["run"].items():
        assert len(docs) == 100 and all(docs[i][1] >= docs[i + 1][1] for i in range(99))


def test_default_ids_are_row_numbers():
    rng = np.random.default_rng(1)
    C = rng.standard_normal((50, 8)).astype(np.float32)
    Q = C[:5] + 0.01 * rng.standard_normal((5, 8)).astype(np.float32)
    out = strata.evaluate(Q, C, {str(i): {str(i): 1} for i in range(5)}, k=10)
    assert out["queries"] == 5 and out["ndcg@10"] > 0.5
