/*
 * eval.c — binding of retrieval evaluation (eval.h) on in-memory embeddings
 * and judgments: the same strata_eval_retrieve + strata_eval_metrics calls
 * `strata eval --doc-emb --query-emb` makes, on a strata_beir built from
 * the given ids (texts empty) and qrels.
 */
#include "common.h"

#include <string.h>

#include "strata/data.h"
#include "strata/eval.h"

typedef struct eval_owner {
    strata_run run;
    double *per_query; /* [nq, 5] */
    int64_t *judged;   /* [nq]    */
} eval_owner;

static void eval_destroy(void *ptr) {
    eval_owner *o = ptr;
    if (!o) return;
    strata_run_free(&o->run);
    strata_free(o->per_query);
    strata_free(o->judged);
    strata_free(o);
}

/* Adds the ids of a Python sequence of str to t. */
static int add_ids(strata_texts *t, PyObject *ids, const char *what, strata_error *err) {
    PyObject *seq = PySequence_Fast(ids, "ids: expected a sequence of str");
    if (!seq) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PySequence_Fast_GET_ITEM(seq, i);
        const char *s = PyUnicode_Check(o) ? PyUnicode_AsUTF8(o) : NULL;
        if (!s) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_TypeError, "%s ids[%zd]: expected str", what, i);
            Py_DECREF(seq);
            return -1;
        }
        if (strata_texts_add(t, s, "", NULL, err)) {
            strata_error_prefix(err, "%s ids[%zd]", what, i);
            Py_DECREF(seq);
            raise_strata(err);
            return -1;
        }
    }
    Py_DECREF(seq);
    return 0;
}

/* Fills b's qrels from sorted (query, doc, score) triples; -1 with an
 * exception for unsorted, duplicate or out-of-range entries. */
static int set_qrels(strata_beir *b, const int64_t *q, const int64_t *d, const int32_t *s,
                     int64_t m) {
    b->qrels = strata_malloc_array((size_t)(m ? m : 1), sizeof *b->qrels);
    b->qrels_off = strata_calloc((size_t)b->queries.n + 1, sizeof *b->qrels_off);
    if (!b->qrels || !b->qrels_off) {
        PyErr_NoMemory();
        return -1;
    }
    for (int64_t i = 0; i < m; i++) {
        if (q[i] < 0 || q[i] >= b->queries.n || d[i] < 0 || d[i] >= b->corpus.n) {
            PyErr_Format(PyExc_ValueError, "qrels[%lld]: query %lld / document %lld out of range",
                         (long long)i, (long long)q[i], (long long)d[i]);
            return -1;
        }
        if (i > 0 && (q[i] < q[i - 1] || (q[i] == q[i - 1] && d[i] <= d[i - 1]))) {
            PyErr_Format(PyExc_ValueError,
                         "qrels[%lld]: judgments must be sorted by (query, document) without "
                         "duplicates", (long long)i);
            return -1;
        }
        b->qrels[i].query = q[i];
        b->qrels[i].doc = d[i];
        b->qrels[i].score = s[i];
        b->qrels_off[q[i] + 1]++;
    }
    for (int64_t i = 0; i < b->queries.n; i++) b->qrels_off[i + 1] += b->qrels_off[i];
    b->n_qrels = m;
    return 0;
}

static PyObject *eval_result(eval_owner *o, const strata_metrics *mean, int64_t nq) {
    PyObject *owner = owner_new(o, eval_destroy);
    if (!owner) return NULL;
    int64_t s5[2] = {nq, 5}, n1 = nq + 1, nr = o->run.off[nq];
    PyObject *pq = view_new(owner, o->per_query, "d", 2, s5);
    PyObject *jd = view_new(owner, o->judged, "q", 1, &nq);
    PyObject *off = view_new(owner, o->run.off, "q", 1, &n1);
    PyObject *doc = view_new(owner, o->run.doc, "q", 1, &nr);
    PyObject *sc = view_new(owner, o->run.score, "d", 1, &nr);
    Py_DECREF(owner);
    if (!pq || !jd || !off || !doc || !sc) {
        Py_XDECREF(pq); Py_XDECREF(jd); Py_XDECREF(off); Py_XDECREF(doc); Py_XDECREF(sc);
        return NULL;
    }
    return Py_BuildValue("({s:d,s:d,s:d,s:d,s:d,s:L}NNNNN)", "ndcg@10", mean->ndcg10, "recall@10",
                         mean->recall10, "recall@100", mean->recall100, "mrr@10", mean->mrr10,
                         "map@100", mean->map100, "queries", (long long)mean->n, pq, jd, off, doc,
                         sc);
}

PyDoc_STRVAR(evaluate_doc,
"evaluate(Q, C, query_ids, doc_ids, qrel_query, qrel_doc, qrel_score, k=100,\n"
"         normalize=False, ignore_identical_ids=False, threads=0)\n"
"    -> (mean, per_query [nq, 5], judged [nq], run_off, run_doc, run_score)\n\n"
"Q float32 [nq, D], C float32 [nc, D]; qrels as index triples sorted by\n"
"(query, document); per_query columns ndcg@10, recall@10, recall@100,\n"
"mrr@10, map@100.");

static PyObject *py_evaluate(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"Q", "C", "query_ids", "doc_ids", "qrel_query", "qrel_doc",
                             "qrel_score", "k", "normalize", "ignore_identical_ids", "threads",
                             NULL};
    PyObject *oq, *oc, *oqid, *odid, *orq, *ord, *ors;
    int k = 100, normalize = 0, ignore = 0, threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOOOO|ippi", kwlist, &oq, &oc, &oqid, &odid,
                                     &orq, &ord, &ors, &k, &normalize, &ignore, &threads))
        return NULL;
    arr q, c, rq, rd, rs;
    memset(&c, 0, sizeof c); memset(&rq, 0, sizeof rq); memset(&rd, 0, sizeof rd);
    memset(&rs, 0, sizeof rs);
    strata_beir b;
    memset(&b, 0, sizeof b);
    eval_owner *o = NULL;
    PyObject *ret = NULL;
    strata_error err;
    strata_error_clear(&err);
    if (arr_get(oq, "query_emb", K_FLOAT, 4, 2, 0, 0, &q)) return NULL;
    if (arr_get(oc, "doc_emb", K_FLOAT, 4, 2, 0, 0, &c) ||
        arr_get(orq, "qrel_query", K_INT, 8, 1, 0, 0, &rq) ||
        arr_get(ord, "qrel_doc", K_INT, 8, 1, 0, 0, &rd) ||
        arr_get(ors, "qrel_score", K_INT, 4, 1, 0, 0, &rs))
        goto done;
    const int64_t D = q.shape[1], m = rq.shape[0];
    if (c.shape[1] != D || D < 1 || D > (1 << 24)) {
        PyErr_Format(PyExc_ValueError, "query_emb has %lld columns but doc_emb has %lld",
                     (long long)D, (long long)c.shape[1]);
        goto done;
    }
    if (rd.shape[0] != m || rs.shape[0] != m) {
        PyErr_SetString(PyExc_ValueError, "qrel arrays differ in length");
        goto done;
    }
    if (k < 1) {
        PyErr_Format(PyExc_ValueError, "k must be >= 1, got %d", k);
        goto done;
    }
    if (add_ids(&b.queries, oqid, "query", &err) || add_ids(&b.corpus, odid, "document", &err))
        goto done;
    if (b.queries.n != q.shape[0] || b.corpus.n != c.shape[0]) {
        PyErr_Format(PyExc_ValueError,
                     "%lld query ids for %lld query rows, %lld document ids for %lld document rows",
                     (long long)b.queries.n, (long long)q.shape[0], (long long)b.corpus.n,
                     (long long)c.shape[0]);
        goto done;
    }
    if (set_qrels(&b, rq.data, rd.data, rs.data, m)) goto done;
    const int64_t nq = b.queries.n;
    o = strata_calloc(1, sizeof *o);
    if (o) {
        o->per_query = strata_calloc((size_t)(nq ? nq : 1) * 5, sizeof(double));
        o->judged = strata_calloc((size_t)(nq ? nq : 1), sizeof(int64_t));
    }
    strata_metrics *pq = strata_calloc((size_t)nq + 1, sizeof *pq);
    if (!o || !o->per_query || !o->judged || !pq) {
        strata_free(pq);
        PyErr_NoMemory();
        goto done;
    }
    strata_eval_options eo = strata_eval_default_options();
    eo.k = k;
    eo.normalize = normalize;
    eo.ignore_identical_ids = ignore;
    strata_metrics mean;
    memset(&mean, 0, sizeof mean);
    strata_status st;
    BEGIN_LIBRARY_CALL(threads)
    st = strata_eval_retrieve(&b, c.data, q.data, (int)D, &eo, &o->run, &err);
    if (!st) st = strata_eval_metrics(&b, &o->run, 0, &mean, pq, &err);
    END_LIBRARY_CALL
    if (st) {
        strata_free(pq);
        raise_strata(&err);
        goto done;
    }
    for (int64_t i = 0; i < nq; i++) {
        double *r = o->per_query + i * 5;
        r[0] = pq[i].ndcg10;
        r[1] = pq[i].recall10;
        r[2] = pq[i].recall100;
        r[3] = pq[i].mrr10;
        r[4] = pq[i].map100;
        o->judged[i] = pq[i].n;
    }
    strata_free(pq);
    ret = eval_result(o, &mean, nq);
    o = NULL;
done:
    eval_destroy(o);
    strata_beir_free(&b);
    arr_release(&q); arr_release(&c); arr_release(&rq); arr_release(&rd); arr_release(&rs);
    return ret;
}

PyMethodDef strata_py_eval_methods[] = {
    {"evaluate", (PyCFunction)(void (*)(void))py_evaluate, METH_VARARGS | METH_KEYWORDS,
     evaluate_doc},
    {NULL, NULL, 0, NULL}};
