"""strata.evaluate — the retrieval metrics of ``strata eval`` on numpy
embeddings."""
import os

import numpy as np

from . import _core
from ._checks import array, threads_arg

_COLUMNS = ("ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100")


def _read_qrels(path):
    """{query-id: {doc-id: score}} from a BEIR qrels TSV (header optional)
    or a TREC qrels file (qid iter docid rel)."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            parts = line.split()
            if not parts or (ln == 1 and parts[0] == "query-id"):
                continue
            if len(parts) == 3:
                q, d, s = parts
            elif len(parts) == 4:
                q, _, d, s = parts
            else:
                raise ValueError("%s:%d: expected 'query-id corpus-id score' (3 or 4 columns)"
                                 % (path, ln))
            try:
                s = int(s)
            except ValueError:
                raise ValueError("%s:%d: score %r is not an integer" % (path, ln, s)) from None
            if d in out.setdefault(q, {}):
                raise ValueError("%s:%d: duplicate judgment for query %r document %r"
                                 % (path, ln, q, d))
            out[q][d] = s
    return out


def evaluate(query_emb, doc_emb, qrels, k=100, query_ids=None, doc_ids=None, normalize=False,
             ignore_identical_ids=False, per_query=False, return_run=False, threads=None):
    """Exact top-k retrieval by inner product and the BEIR metrics, the
    numbers ``strata eval --doc-emb --query-emb`` reports (same code).

    query_emb  float32 [nq, D], doc_emb float32 [nc, D] (C order)
    qrels      {query-id: {doc-id: score}} (pytrec_eval's form) or the path
               of a qrels file (BEIR TSV or TREC); score >= 1 is relevant
    query_ids, doc_ids  the id of each row (default: "0", "1", ... by row)
    k          documents retrieved per query (default 100)
    normalize  cosine instead of raw inner product
    ignore_identical_ids  drop a retrieved document whose id equals the
               query id (BEIR's ArguAna, Quora)
    Returns {"ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100",
    "queries"} (means over judged queries); with per_query=True also
    "per_query": {query-id: {metric: value}} for judged queries; with
    return_run=True also "run": {query-id: [(doc-id, score), ...]} best first.
    """
    Q = array(query_emb, "query_emb", np.float32, 2, finite=True)
    C = array(doc_emb, "doc_emb", np.float32, 2, finite=True)
    if Q.shape[1] != C.shape[1]:
        raise ValueError("query_emb has %d columns but doc_emb has %d" % (Q.shape[1], C.shape[1]))
    k = int(k)
    if k < 1:
        raise ValueError("k must be >= 1, got %d" % k)
    qids = [str(i) for i in range(Q.shape[0])] if query_ids is None else list(query_ids)
    dids = [str(i) for i in range(C.shape[0])] if doc_ids is None else list(doc_ids)
    if len(qids) != Q.shape[0] or len(dids) != C.shape[0]:
        raise ValueError("%d query ids for %d query rows, %d doc ids for %d doc rows"
                         % (len(qids), Q.shape[0], len(dids), C.shape[0]))
    if isinstance(qrels, (str, os.PathLike)):
        qrels = _read_qrels(os.fspath(qrels))
    if not isinstance(qrels, dict):
        raise TypeError("qrels: expected {query-id: {doc-id: score}} or a qrels file path")
    qpos = {q: i for i, q in enumerate(qids)}
    dpos = {d: i for i, d in enumerate(dids)}
    if len(qpos) != len(qids) or len(dpos) != len(dids):
        raise ValueError("query_ids / doc_ids must be unique")
    rq, rd, rs = [], [], []
    for q, docs in qrels.items():
        if q not in qpos:
            raise ValueError("qrels: unknown query id %r" % (q,))
        for d, s in docs.items():
            if d not in dpos:
                raise ValueError("qrels: query %r: unknown document id %r" % (q, d))
            if int(s) != s or not -2 ** 31 <= int(s) < 2 ** 31:
                raise ValueError("qrels: query %r document %r: score %r is not an int32"
                                 % (q, d, s))
            rq.append(qpos[q])
            rd.append(dpos[d])
            rs.append(int(s))
    rq = np.array(rq, dtype=np.int64)
    rd = np.array(rd, dtype=np.int64)
    rs = np.array(rs, dtype=np.int32)
    order = np.lexsort((rd, rq))
    mean, pq, judged, off, doc, score = _core.evaluate(
        Q, C, qids, dids, rq[order], rd[order], rs[order], k=k, normalize=bool(normalize),
        ignore_identical_ids=bool(ignore_identical_ids), threads=threads_arg(threads))
    out = dict(mean)
    if per_query:
        pq, judged = np.asarray(pq), np.asarray(judged)
        out["per_query"] = {qids[i]: dict(zip(_COLUMNS, map(float, pq[i])))
                            for i in np.flatnonzero(judged)}
    if return_run:
        off, doc, score = np.asarray(off), np.asarray(doc), np.asarray(score)
        out["run"] = {qids[i]: [(dids[doc[j]], float(score[j])) for j in range(off[i], off[i + 1])]
                      for i in range(len(qids)) if off[i + 1] > off[i]}
    return out
