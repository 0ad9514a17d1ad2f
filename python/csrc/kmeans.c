/*
 * kmeans.c — bindings of strata_kmeans_fit (kmeans.h) and of the exact top-k
 * kernel used for assignment and search (eval.h).
 *
 * The rows are read in place (numpy float32, C order): the library
 * normalizes on the fly and never writes its input, so no copy is made. The
 * result arrays are the library's own, exposed through one owner.
 */
#include "common.h"

#include <string.h>

#include "strata/eval.h"
#include "strata/kmeans.h"

typedef struct km_owner {
    strata_kmeans_result res;
    strata_kmeans_params p;
} km_owner;

static void km_destroy(void *ptr) {
    km_owner *o = ptr;
    if (!o) return;
    strata_kmeans_result_free(&o->res);
    strata_free(o);
}

/* runs[] of a result as a list of dicts. */
static PyObject *runs_list(const strata_kmeans_result *r) {
    PyObject *list = PyList_New(r->n_runs);
    if (!list) return NULL;
    for (int i = 0; i < r->n_runs; i++) {
        const strata_kmeans_run *u = &r->runs[i];
        PyObject *redo = PyList_New(u->nredo), *iters = PyList_New(u->n_iter);
        if (!redo || !iters) goto fail_inner;
        for (int j = 0; j < u->nredo; j++)
            PyList_SET_ITEM(redo, j, PyFloat_FromDouble(u->redo_objective[j]));
        for (int j = 0; j < u->n_iter; j++) {
            const strata_kmeans_iter *t = &u->iters[j];
            PyObject *d = Py_BuildValue("{s:d,s:d,s:L,s:L}", "objective", t->objective, "seconds",
                                        t->seconds, "changed", (long long)t->changed, "scored",
                                        (long long)t->scored);
            if (!d) goto fail_inner;
            PyList_SET_ITEM(iters, j, d);
        }
        PyObject *d = Py_BuildValue("{s:i,s:L,s:L,s:i,s:i,s:i,s:N,s:N,s:d}", "source", u->source,
                                    "n", (long long)u->n, "n_used", (long long)u->n_used, "k",
                                    u->k, "first_cluster", u->first_cluster, "best_redo",
                                    u->best_redo, "redo_objective", redo, "iterations", iters,
                                    "init_seconds", u->init_seconds);
        if (!d) goto fail;
        PyList_SET_ITEM(list, i, d);
        continue;
    fail_inner:
        Py_XDECREF(redo);
        Py_XDECREF(iters);
        goto fail;
    }
    return list;
fail:
    Py_DECREF(list);
    return NULL;
}

/* (owner, centroids, assign, cluster_source, split_from, size, cos_centroid,
 *  pairwise, objective, n_used, n_split, seconds, runs) */
static PyObject *result_tuple(PyObject *owner, const strata_kmeans_result *r, int64_t n) {
    int64_t K = r->k, sc[2] = {K, r->dim}, sp[2] = {K, r->nparts};
    PyObject *c = view_new(owner, r->centroids, "f", 2, sc);
    PyObject *a = view_new(owner, r->assign, "i", 1, &n);
    PyObject *cs = view_new(owner, r->cluster_source, "i", 1, &K);
    PyObject *sf = view_new(owner, r->split_from, "i", 1, &K);
    PyObject *sz = view_new(owner, r->size, "q", 1, &K);
    PyObject *cc = view_new(owner, r->cos_centroid, "d", 1, &K);
    PyObject *pw = view_new(owner, r->pairwise, "d", 2, sp);
    PyObject *runs = runs_list(r);
    if (!c || !a || !cs || !sf || !sz || !cc || !pw || !runs) {
        Py_XDECREF(c); Py_XDECREF(a); Py_XDECREF(cs); Py_XDECREF(sf);
        Py_XDECREF(sz); Py_XDECREF(cc); Py_XDECREF(pw); Py_XDECREF(runs);
        return NULL;
    }
    return Py_BuildValue("(ONNNNNNNdLidN)", owner, c, a, cs, sf, sz, cc, pw, r->objective,
                         (long long)r->n_used, r->n_split, r->seconds, runs);
}

/* The k-means input of rows x [N, D1] and, when given, x2 [N, D2] (the
 * asymmetric parts): every row local, no sources. */
static void input_of(strata_kmeans_input *in, const arr *x, const arr *x2) {
    memset(in, 0, sizeof *in);
    in->n_global = in->n_local = x->shape[0];
    in->nparts = x2->data ? 2 : 1;
    in->x[0] = x->data;
    in->dim[0] = x->shape[1];
    if (x2->data) {
        in->x[1] = x2->data;
        in->dim[1] = x2->shape[1];
    }
}

PyDoc_STRVAR(kmeans_fit_doc,
"kmeans_fit(x, x2=None, source=None, n_sources=0, k=0, cluster_size=0, niter=25,\n"
"           nredo=1, init='kmeans++', init_sample=0, max_points_per_centroid=0,\n"
"           max_cluster_size=0, bounds=True, seed=1, threads=0) -> tuple\n\n"
"strata_kmeans_fit on float32 rows x [N, D] (and x2 [N, D2]: asymmetric).\n"
"Returns (owner, centroids, assign, cluster_source, split_from, size,\n"
"cos_centroid, pairwise, objective, n_used, n_split, seconds, runs).");

static PyObject *py_kmeans_fit(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"x", "x2", "source", "n_sources", "k", "cluster_size", "niter",
                             "nredo", "init", "init_sample", "max_points_per_centroid",
                             "max_cluster_size", "bounds", "seed", "threads", NULL};
    PyObject *ox, *ox2 = Py_None, *osrc = Py_None;
    int n_sources = 0, k = 0, niter = 25, nredo = 1, bounds = 1, threads = 0;
    long long cluster_size = 0, init_sample = 0, mppc = 0, mcs = 0;
    unsigned long long seed = 1;
    const char *init = "kmeans++";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOiiLiisLLLpKi", kwlist, &ox, &ox2, &osrc,
                                     &n_sources, &k, &cluster_size, &niter, &nredo, &init,
                                     &init_sample, &mppc, &mcs, &bounds, &seed, &threads))
        return NULL;
    strata_kmeans_params p = strata_kmeans_default_params();
    if (strcmp(init, "kmeans++") == 0) p.init = STRATA_KMEANS_INIT_PP;
    else if (strcmp(init, "random") == 0) p.init = STRATA_KMEANS_INIT_RANDOM;
    else return PyErr_Format(PyExc_ValueError, "init must be 'kmeans++' or 'random', got '%s'", init);
    if ((k > 0) == (cluster_size > 0) || k < 0 || cluster_size < 0)
        return PyErr_Format(PyExc_ValueError, "give exactly one of k >= 1 or cluster_size >= 1");
    if (niter < 1 || nredo < 1)
        return PyErr_Format(PyExc_ValueError, "niter and nredo must be >= 1");
    if (init_sample < 0 || mppc < 0 || mcs < 0)
        return PyErr_Format(PyExc_ValueError, "limits must be >= 0");
    p.k = k;
    p.cluster_size = cluster_size;
    p.niter = niter;
    p.nredo = nredo;
    p.init_sample = init_sample;
    p.max_points_per_centroid = mppc;
    p.max_cluster_size = mcs;
    p.bounds = bounds;
    p.seed = seed;

    arr x, x2, src;
    if (arr_get(ox, "x", K_FLOAT, 4, 2, 0, 0, &x)) return NULL;
    if (arr_get(ox2, "x2", K_FLOAT, 4, 2, 1, 0, &x2)) { arr_release(&x); return NULL; }
    if (arr_get(osrc, "sources", K_INT, 4, 1, 1, 0, &src)) {
        arr_release(&x);
        arr_release(&x2);
        return NULL;
    }
    PyObject *ret = NULL;
    const int64_t N = x.shape[0];
    if (N < 1 || x.shape[1] < 1) {
        PyErr_Format(PyExc_ValueError, "x: needs at least one row and one column, got [%lld, %lld]",
                     (long long)N, (long long)x.shape[1]);
        goto done;
    }
    if (N > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "x: more than 2^31-1 rows");
        goto done;
    }
    if (x2.data && x2.shape[0] != N) {
        PyErr_Format(PyExc_ValueError, "x2 has %lld rows but x has %lld (one row of each per pair)",
                     (long long)x2.shape[0], (long long)N);
        goto done;
    }
    if (src.data && src.shape[0] != N) {
        PyErr_Format(PyExc_ValueError, "sources has %lld entries but x has %lld rows",
                     (long long)src.shape[0], (long long)N);
        goto done;
    }
    if (src.data && n_sources < 1) {
        PyErr_SetString(PyExc_ValueError, "n_sources must be >= 1 with sources");
        goto done;
    }
    if (!src.data && k > N) {
        PyErr_Format(PyExc_ValueError, "K (%d) exceeds the number of rows (%lld)", k, (long long)N);
        goto done;
    }
    strata_kmeans_input in;
    input_of(&in, &x, &x2);
    in.source = src.data;
    in.n_sources = src.data ? n_sources : 0;

    km_owner *o = strata_calloc(1, sizeof *o);
    if (!o) {
        PyErr_NoMemory();
        goto done;
    }
    o->p = p;
    strata_error err;
    strata_error_clear(&err);
    strata_status st;
    BEGIN_LIBRARY_CALL(threads)
    st = strata_kmeans_fit(&o->res, &in, &o->p, &err);
    END_LIBRARY_CALL
    if (st) {
        km_destroy(o);
        raise_strata(&err);
        goto done;
    }
    PyObject *owner = owner_new(o, km_destroy);
    if (!owner) goto done;
    ret = result_tuple(owner, &o->res, N);
    Py_DECREF(owner);
done:
    arr_release(&x);
    arr_release(&x2);
    arr_release(&src);
    return ret;
}

PyDoc_STRVAR(kmeans_write_stats_doc,
"kmeans_write_stats(owner, path, source_names=None)\n\n"
"strata_kmeans_write_stats: the stats.json of `strata cluster`, written atomically.");

static PyObject *py_kmeans_write_stats(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *onames = Py_None;
    PyObject *opath;
    if (!PyArg_ParseTuple(args, "OO&|O", &cap, PyUnicode_FSConverter, &opath, &onames))
        return NULL;
    PyObject *ret = NULL;
    const char **names = NULL;
    km_owner *o = owner_ptr(cap);
    if (!o) goto done;
    if (onames != Py_None) {
        int ns = 0;
        for (int c = 0; c < o->res.k; c++)
            if (o->res.cluster_source[c] + 1 > ns) ns = o->res.cluster_source[c] + 1;
        if (!PyList_Check(onames) || PyList_GET_SIZE(onames) < ns) {
            PyErr_Format(PyExc_ValueError, "source_names: a list of at least %d names is needed", ns);
            goto done;
        }
        Py_ssize_t n = PyList_GET_SIZE(onames);
        names = strata_calloc((size_t)(n ? n : 1), sizeof *names);
        if (!names) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            names[i] = PyUnicode_AsUTF8(PyList_GET_ITEM(onames, i));
            if (!names[i]) goto done;
        }
    }
    strata_error err;
    strata_error_clear(&err);
    if (strata_kmeans_write_stats(PyBytes_AS_STRING(opath), &o->res, &o->p, names, &err)) {
        raise_strata(&err);
        goto done;
    }
    ret = Py_NewRef(Py_None);
done:
    strata_free(names);
    Py_DECREF(opath);
    return ret;
}

PyDoc_STRVAR(kmeans_lloyd_doc,
"kmeans_lloyd(x, x2, centroids, niter, bounds=True, threads=0)\n"
"    -> (centroids, assign, iterations)\n\n"
"strata_kmeans_lloyd from given centroids float32 [K, Dt] (copied; empty\n"
"clusters repaired): every row, one run, no sources.");

static PyObject *py_kmeans_lloyd(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"x", "x2", "centroids", "niter", "bounds", "threads", NULL};
    PyObject *ox, *ox2, *oc;
    int niter, bounds = 1, threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOi|pi", kwlist, &ox, &ox2, &oc, &niter, &bounds,
                                     &threads))
        return NULL;
    if (niter < 0 || niter > 1000000) return PyErr_Format(PyExc_ValueError, "niter must be >= 0");
    arr x, x2, c;
    memset(&x2, 0, sizeof x2);
    memset(&c, 0, sizeof c);
    PyObject *ret = NULL, *oown = NULL, *aown = NULL;
    strata_kmeans_iter *iters = NULL;
    if (arr_get(ox, "x", K_FLOAT, 4, 2, 0, 0, &x)) return NULL;
    if (arr_get(ox2, "x2", K_FLOAT, 4, 2, 1, 0, &x2) ||
        arr_get(oc, "init_centroids", K_FLOAT, 4, 2, 0, 0, &c))
        goto done;
    const int64_t N = x.shape[0], K = c.shape[0];
    const int64_t Dt = x.shape[1] + (x2.data ? x2.shape[1] : 0);
    if (c.shape[1] != Dt || (x2.data && x2.shape[0] != N) || N < 1 || N > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "init_centroids: expected [K, %lld] for x of shape "
                     "[%lld, %lld]", (long long)Dt, (long long)N, (long long)x.shape[1]);
        goto done;
    }
    if (K < 1 || K > N) {
        PyErr_Format(PyExc_ValueError, "init_centroids: K = %lld must lie in [1, %lld rows]",
                     (long long)K, (long long)N);
        goto done;
    }
    void *cp, *ap;
    if (!(oown = owned_block((size_t)K * (size_t)Dt * sizeof(float), &cp)) ||
        !(aown = owned_block((size_t)N * sizeof(int32_t), &ap)))
        goto done;
    iters = strata_calloc((size_t)niter + 1, sizeof *iters);
    if (!iters) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(cp, c.data, (size_t)K * (size_t)Dt * sizeof(float));
    strata_kmeans_input in;
    input_of(&in, &x, &x2);
    strata_error err;
    strata_error_clear(&err);
    strata_status st;
    int n_iter = 0;
    BEGIN_LIBRARY_CALL(threads)
    st = strata_kmeans_lloyd(cp, ap, &in, (int)K, niter, bounds, 1, iters, &n_iter, &err);
    END_LIBRARY_CALL
    if (st) {
        raise_strata(&err);
        goto done;
    }
    PyObject *list = PyList_New(n_iter);
    if (!list) goto done;
    for (int j = 0; j < n_iter; j++) {
        PyObject *d = Py_BuildValue("{s:d,s:d,s:L,s:L}", "objective", iters[j].objective,
                                    "seconds", iters[j].seconds, "changed",
                                    (long long)iters[j].changed, "scored",
                                    (long long)iters[j].scored);
        if (!d) {
            Py_DECREF(list);
            goto done;
        }
        PyList_SET_ITEM(list, j, d);
    }
    int64_t sc[2] = {K, Dt};
    PyObject *vc = view_new(oown, cp, "f", 2, sc), *va = view_new(aown, ap, "i", 1, &N);
    if (vc && va) ret = Py_BuildValue("(NNN)", vc, va, list);
    else {
        Py_XDECREF(vc);
        Py_XDECREF(va);
        Py_DECREF(list);
    }
done:
    strata_free(iters);
    Py_XDECREF(oown);
    Py_XDECREF(aown);
    arr_release(&x);
    arr_release(&x2);
    arr_release(&c);
    return ret;
}

PyDoc_STRVAR(topk_ip_doc,
"topk_ip(Q, C, k, q_scale=None, c_scale=None, threads=0) -> (idx, score)\n\n"
"strata_topk_ip: for each row of Q [nq, D] the k rows of C [nc, D] with the\n"
"highest (Q.C) * c_scale * q_scale, best first (ties: lower index).\n"
"idx int64 [nq, k] (-1 beyond nc), score float32 [nq, k].");

static PyObject *py_topk_ip(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"Q", "C", "k", "q_scale", "c_scale", "threads", NULL};
    PyObject *oq, *oc, *oqs = Py_None, *ocs = Py_None;
    int k, threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOi|OOi", kwlist, &oq, &oc, &k, &oqs, &ocs,
                                     &threads))
        return NULL;
    arr q, c, qs, cs;
    memset(&c, 0, sizeof c);
    memset(&qs, 0, sizeof qs);
    memset(&cs, 0, sizeof cs);
    PyObject *ret = NULL, *oi = NULL, *os = NULL;
    if (arr_get(oq, "x", K_FLOAT, 4, 2, 0, 0, &q)) return NULL;
    if (arr_get(oc, "centroids", K_FLOAT, 4, 2, 0, 0, &c) ||
        arr_get(oqs, "q_scale", K_FLOAT, 4, 1, 1, 0, &qs) ||
        arr_get(ocs, "c_scale", K_FLOAT, 4, 1, 1, 0, &cs))
        goto done;
    const int64_t nq = q.shape[0], nc = c.shape[0], D = q.shape[1];
    if (c.shape[1] != D || D < 1 || D > (1 << 24)) {
        PyErr_Format(PyExc_ValueError, "x has %lld columns but the centroids have %lld",
                     (long long)D, (long long)c.shape[1]);
        goto done;
    }
    if (k < 1) {
        PyErr_Format(PyExc_ValueError, "k must be >= 1, got %d", k);
        goto done;
    }
    if ((qs.data && qs.shape[0] != nq) || (cs.data && cs.shape[0] != nc)) {
        PyErr_SetString(PyExc_ValueError, "scale vectors must have one entry per row");
        goto done;
    }
    size_t cnt;
    if (strata_size_mul((size_t)nq, (size_t)k, &cnt) || cnt > ((size_t)1 << 60) / 8) {
        PyErr_NoMemory();
        goto done;
    }
    void *pi, *ps;
    if (!(oi = owned_block(cnt * sizeof(int64_t), &pi)) || !(os = owned_block(cnt * sizeof(float), &ps)))
        goto done;
    strata_error err;
    strata_error_clear(&err);
    strata_progress none = {0};
    strata_status st;
    BEGIN_LIBRARY_CALL(threads)
    st = strata_topk_ip(q.data, nq, c.data, nc, (int)D, qs.data, cs.data, k, pi, ps, none, &err);
    END_LIBRARY_CALL
    if (st) {
        raise_strata(&err);
        goto done;
    }
    int64_t shape[2] = {nq, k};
    PyObject *vi = view_new(oi, pi, "q", 2, shape), *vs = view_new(os, ps, "f", 2, shape);
    if (vi && vs) ret = Py_BuildValue("(NN)", vi, vs);
    else {
        Py_XDECREF(vi);
        Py_XDECREF(vs);
    }
done:
    Py_XDECREF(oi);
    Py_XDECREF(os);
    arr_release(&q);
    arr_release(&c);
    arr_release(&qs);
    arr_release(&cs);
    return ret;
}

PyDoc_STRVAR(inv_norms_doc,
"inv_norms(x, threads=0) -> float32 [n]: strata_inv_norms (0 for a zero row).");

static PyObject *py_inv_norms(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"x", "threads", NULL};
    PyObject *ox;
    int threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|i", kwlist, &ox, &threads)) return NULL;
    arr x;
    if (arr_get(ox, "x", K_FLOAT, 4, 2, 0, 0, &x)) return NULL;
    PyObject *ret = NULL;
    void *out;
    const int64_t n = x.shape[0];
    if (x.shape[1] > (1 << 24)) {
        PyErr_SetString(PyExc_ValueError, "x: too many columns");
        arr_release(&x);
        return NULL;
    }
    PyObject *owner = owned_block((size_t)n * sizeof(float), &out);
    if (owner) {
        BEGIN_LIBRARY_CALL(threads)
        strata_inv_norms(x.data, n, (int)x.shape[1], out);
        END_LIBRARY_CALL
        ret = view_new(owner, out, "f", 1, &n);
        Py_DECREF(owner);
    }
    arr_release(&x);
    return ret;
}

PyMethodDef strata_py_kmeans_methods[] = {
    {"kmeans_fit", (PyCFunction)(void (*)(void))py_kmeans_fit, METH_VARARGS | METH_KEYWORDS,
     kmeans_fit_doc},
    {"kmeans_lloyd", (PyCFunction)(void (*)(void))py_kmeans_lloyd, METH_VARARGS | METH_KEYWORDS,
     kmeans_lloyd_doc},
    {"kmeans_write_stats", py_kmeans_write_stats, METH_VARARGS, kmeans_write_stats_doc},
    {"topk_ip", (PyCFunction)(void (*)(void))py_topk_ip, METH_VARARGS | METH_KEYWORDS, topk_ip_doc},
    {"inv_norms", (PyCFunction)(void (*)(void))py_inv_norms, METH_VARARGS | METH_KEYWORDS,
     inv_norms_doc},
    {NULL, NULL, 0, NULL}};
