/*
 * plan.c — bindings of the batch planner (plan.h): build from in-memory
 * arrays, load / save a plan directory, (re)compute the false-negative mask,
 * text hashes for the no-duplicate rule, and the pairs reader (data.h).
 */
#include "common.h"

#include <math.h>
#include <string.h>

#include "strata/data.h"
#include "strata/plan.h"

static void plan_destroy(void *ptr) {
    strata_plan *p = ptr;
    if (!p) return;
    strata_plan_free(p);
    strata_free(p);
}

/* A per-batch int32 array of the plan as a view, or None. */
static PyObject *batch_i32(PyObject *owner, int32_t *v, int64_t nb) {
    if (!v) return Py_NewRef(Py_None);
    return view_new(owner, v, "i", 1, &nb);
}

static PyObject *stages_list(const strata_plan *p) {
    if (!p->stages) return Py_NewRef(Py_None);
    PyObject *list = PyList_New(p->n_stages);
    if (!list) return NULL;
    for (int s = 0; s < p->n_stages; s++) {
        const strata_plan_stage_info *si = &p->stages[s];
        PyObject *d = Py_BuildValue(
            "{s:s,s:z,s:d,s:L,s:L,s:i,s:L,s:L,s:L,s:L,s:L,s:L}", "strategy",
            strata_plan_strategy_name(si->strategy), "name", si->name, "share", si->share,
            "first_batch", (long long)si->first_batch, "n_batches", (long long)si->n_batches,
            "passes", si->passes, "n_groups", (long long)si->n_groups, "merged_batches",
            (long long)si->merged_batches, "padded_batches", (long long)si->padded_batches,
            "dropped_leftover", (long long)si->dropped_leftover, "dropped_duplicate",
            (long long)si->dropped_duplicate, "deferred_duplicate",
            (long long)si->deferred_duplicate);
        if (!d) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, s, d);
    }
    return list;
}

/* (owner, n_pairs, batches, mask|None, batch_source, batch_cluster,
 *  batch_nclusters, batch_stage, batch_epoch, n_masked, n_offdiag, stages)
 * Takes ownership of p (freed on failure). */
static PyObject *plan_tuple(strata_plan *p) {
    PyObject *owner = owner_new(p, plan_destroy);
    if (!owner) return NULL;
    const int64_t nb = p->n_batches, B = p->batch_size;
    int64_t sb[2] = {nb, B}, sm[3] = {nb, B, strata_plan_mask_width(B)};
    PyObject *items[10] = {0};
    items[0] = view_new(owner, p->batches, "q", 2, sb);
    items[1] = p->mask ? view_new(owner, p->mask, "B", 3, sm) : Py_NewRef(Py_None);
    items[2] = batch_i32(owner, p->batch_source, nb);
    items[3] = batch_i32(owner, p->batch_cluster, nb);
    items[4] = batch_i32(owner, p->batch_nclusters, nb);
    items[5] = batch_i32(owner, p->batch_stage, nb);
    items[6] = batch_i32(owner, p->batch_epoch, nb);
    items[7] = stages_list(p);
    PyObject *ret = NULL;
    for (int i = 0; i < 8; i++)
        if (!items[i]) goto done;
    ret = Py_BuildValue("(OLNNNNNNNLLN)", owner, (long long)p->n_pairs, items[0], items[1],
                        items[2], items[3], items[4], items[5], items[6], (long long)p->n_masked,
                        (long long)p->n_offdiag, items[7]);
    Py_DECREF(owner);
    return ret;
done:
    for (int i = 0; i < 8; i++) Py_XDECREF(items[i]);
    Py_DECREF(owner);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Build                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct stage_in {
    arr assign, cent;
    PyObject *name; /* bytes or NULL */
} stage_in;

/* Parses one stage tuple (strategy, assign|None, k, centroids|None, share,
 * name|None) into sg, borrowing the arrays in si. */
static int stage_parse(PyObject *t, int s, int64_t n, strata_plan_stage *sg, stage_in *si) {
    const char *strategy;
    PyObject *oa, *oc, *oname;
    long long k;
    double share;
    if (!PyTuple_Check(t) || !PyArg_ParseTuple(t, "sOLOdO", &strategy, &oa, &k, &oc, &share, &oname)) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError,
                     "stage %d: expected (strategy, assign, k, centroids, share, name)", s + 1);
        return -1;
    }
    if (strata_plan_strategy_parse(strategy, &sg->strategy)) {
        PyErr_Format(PyExc_ValueError, "stage %d: unknown strategy '%s' (random, source, cluster)",
                     s + 1, strategy);
        return -1;
    }
    if (arr_get(oa, "assign", K_INT, 4, 1, 1, 0, &si->assign)) return -1;
    if (arr_get(oc, "centroids", K_FLOAT, 4, 2, 1, 0, &si->cent)) return -1;
    if (si->assign.data && si->assign.shape[0] != n) {
        PyErr_Format(PyExc_ValueError, "stage %d: assign has %lld entries but there are %lld pairs",
                     s + 1, (long long)si->assign.shape[0], (long long)n);
        return -1;
    }
    if (oname != Py_None && !(si->name = PyUnicode_AsUTF8String(oname))) return -1;
    sg->assign = si->assign.data;
    sg->k = k;
    sg->centroids = si->cent.data;
    sg->cdim = si->cent.data ? si->cent.shape[1] : 0;
    if (si->cent.data && k > si->cent.shape[0]) {
        PyErr_Format(PyExc_ValueError, "stage %d: k = %lld but the centroids have %lld rows", s + 1,
                     k, (long long)si->cent.shape[0]);
        return -1;
    }
    sg->share = share;
    sg->name = si->name ? PyBytes_AS_STRING(si->name) : NULL;
    return 0;
}

PyDoc_STRVAR(plan_build_doc,
"plan_build(n, source, n_sources, qhash, phash, fq, fd, stages, batch_size,\n"
"           epochs=1, drop_last=False, order='random', filter=False, margin=0.0,\n"
"           threshold=None, seed=1, threads=0) -> plan tuple\n\n"
"strata_plan_build over borrowed arrays: source int32 [n] or None, qhash/phash\n"
"uint64 [n] or None, fq/fd float32 [n, D] or None, stages a list of\n"
"(strategy, assign int32 [n] | None, k, centroids float32 [K, D] | None, share, name).");

static PyObject *py_plan_build(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"n", "source", "n_sources", "qhash", "phash", "fq", "fd", "stages",
                             "batch_size", "epochs", "drop_last", "order", "filter", "margin",
                             "threshold", "seed", "threads", NULL};
    long long n, B;
    int n_sources, epochs = 1, drop_last = 0, filter = 0, threads = 0;
    PyObject *osrc, *oqh, *oph, *ofq, *ofd, *ostages, *othr = Py_None;
    const char *order = "random";
    double margin = 0;
    unsigned long long seed = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "LOiOOOOOL|ipspdOKi", kwlist, &n, &osrc, &n_sources,
                                     &oqh, &oph, &ofq, &ofd, &ostages, &B, &epochs, &drop_last,
                                     &order, &filter, &margin, &othr, &seed, &threads))
        return NULL;
    strata_plan_params p = strata_plan_default_params();
    if (strata_plan_order_parse(order, &p.order))
        return PyErr_Format(PyExc_ValueError, "unknown order '%s' (random, tsp)", order);
    if (!PyList_Check(ostages) || PyList_GET_SIZE(ostages) < 1 || PyList_GET_SIZE(ostages) > 1024)
        return PyErr_Format(PyExc_ValueError, "stages: a list of 1 to 1024 stages is needed");
    p.batch_size = B;
    p.epochs = epochs;
    p.drop_last = drop_last;
    p.filter = filter;
    p.margin = margin;
    if (opt_double(othr, &p.use_threshold, &p.threshold)) return NULL;
    p.seed = seed;
    const int ns = (int)PyList_GET_SIZE(ostages);
    arr src, qh, ph, fq, fd;
    memset(&src, 0, sizeof src); memset(&qh, 0, sizeof qh); memset(&ph, 0, sizeof ph);
    memset(&fq, 0, sizeof fq); memset(&fd, 0, sizeof fd);
    strata_plan_stage *stages = strata_calloc((size_t)ns, sizeof *stages);
    stage_in *sin = strata_calloc((size_t)ns, sizeof *sin);
    strata_plan *plan = strata_calloc(1, sizeof *plan);
    PyObject *ret = NULL;
    if (!stages || !sin || !plan) {
        PyErr_NoMemory();
        goto done;
    }
    if (n < 1) {
        PyErr_SetString(PyExc_ValueError, "no pairs to plan (n < 1)");
        goto done;
    }
    if (arr_get(osrc, "sources", K_INT, 4, 1, 1, 0, &src) ||
        arr_get(oqh, "qhash", K_UINT, 8, 1, 1, 0, &qh) ||
        arr_get(oph, "phash", K_UINT, 8, 1, 1, 0, &ph) ||
        arr_get(ofq, "filter_q", K_FLOAT, 4, 2, 1, 0, &fq) ||
        arr_get(ofd, "filter_d", K_FLOAT, 4, 2, 1, 0, &fd))
        goto done;
    if ((src.data && src.shape[0] != n) || (qh.data && qh.shape[0] != n) ||
        (ph.data && ph.shape[0] != n) || (fq.data && fq.shape[0] != n) ||
        (fd.data && fd.shape[0] != n)) {
        PyErr_Format(PyExc_ValueError, "every per-pair array needs %lld rows", n);
        goto done;
    }
    if (!qh.data != !ph.data || !fq.data != !fd.data || (fq.data && fq.shape[1] != fd.shape[1])) {
        PyErr_SetString(PyExc_ValueError,
                        "query and positive arrays go together (hashes; surrogate embeddings "
                        "of equal width)");
        goto done;
    }
    for (int s = 0; s < ns; s++)
        if (stage_parse(PyList_GET_ITEM(ostages, s), s, n, &stages[s], &sin[s])) goto done;
    strata_plan_data data;
    memset(&data, 0, sizeof data);
    data.n = n;
    data.source = src.data;
    data.n_sources = src.data ? n_sources : 1;
    data.qhash = qh.data;
    data.phash = ph.data;
    data.fq = fq.data;
    data.fd = fd.data;
    data.fdim = fq.data ? fq.shape[1] : 0;
    strata_error err;
    strata_error_clear(&err);
    strata_status st;
    BEGIN_LIBRARY_CALL(threads)
    st = strata_plan_build(plan, &data, stages, ns, &p, &err);
    END_LIBRARY_CALL
    if (st) {
        raise_strata(&err);
        goto done;
    }
    ret = plan_tuple(plan);
    plan = NULL;
done:
    if (plan) plan_destroy(plan);
    for (int s = 0; sin && s < ns; s++) {
        arr_release(&sin[s].assign);
        arr_release(&sin[s].cent);
        Py_XDECREF(sin[s].name);
    }
    strata_free(sin);
    strata_free(stages);
    arr_release(&src); arr_release(&qh); arr_release(&ph); arr_release(&fq); arr_release(&fd);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* Load, save, mask                                                          */
/* ------------------------------------------------------------------------ */

PyDoc_STRVAR(plan_load_doc, "plan_load(dir) -> plan tuple (strata_plan_load).");

static PyObject *py_plan_load(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *opath;
    if (!PyArg_ParseTuple(args, "O&", PyUnicode_FSConverter, &opath)) return NULL;
    strata_plan *plan = strata_calloc(1, sizeof *plan);
    if (!plan) {
        Py_DECREF(opath);
        return PyErr_NoMemory();
    }
    strata_error err;
    strata_error_clear(&err);
    strata_status st;
    const char *path = PyBytes_AS_STRING(opath);
    Py_BEGIN_ALLOW_THREADS
    st = strata_plan_load(plan, path, &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(opath);
    if (st) {
        plan_destroy(plan);
        return raise_strata(&err);
    }
    return plan_tuple(plan);
}

PyDoc_STRVAR(plan_save_doc,
"plan_save(dir, n_pairs, batches, mask, batch_source, batch_cluster, batch_nclusters,\n"
"          batch_stage, batch_epoch, n_masked, n_offdiag, owner=None, params_json=None)\n\n"
"strata_plan_save of a plan given as arrays (owner: the plan it came from, for\n"
"its per-stage counts).");

static PyObject *py_plan_save(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *opath, *ob, *om, *o5[5], *owner = Py_None, *opj = Py_None;
    long long n_pairs, n_masked, n_offdiag;
    if (!PyArg_ParseTuple(args, "O&LOOOOOOOLL|OO", PyUnicode_FSConverter, &opath, &n_pairs, &ob,
                          &om, &o5[0], &o5[1], &o5[2], &o5[3], &o5[4], &n_masked, &n_offdiag,
                          &owner, &opj))
        return NULL;
    static const char *names[5] = {"batch_source", "batch_cluster", "batch_nclusters",
                                   "batch_stage", "batch_epoch"};
    arr b, m, a5[5];
    memset(&m, 0, sizeof m);
    memset(a5, 0, sizeof a5);
    PyObject *ret = NULL;
    const char *pj = NULL;
    if (arr_get(ob, "batches", K_INT, 8, 2, 0, 0, &b)) {
        Py_DECREF(opath);
        return NULL;
    }
    const int64_t nb = b.shape[0], B = b.shape[1];
    if (arr_get(om, "mask", K_UINT, 1, 3, 1, 0, &m)) goto done;
    if (m.data && (m.shape[0] != nb || m.shape[1] != B || m.shape[2] != strata_plan_mask_width(B))) {
        PyErr_Format(PyExc_ValueError, "mask: expected shape [%lld, %lld, %lld]", (long long)nb,
                     (long long)B, (long long)strata_plan_mask_width(B));
        goto done;
    }
    for (int i = 0; i < 5; i++) {
        if (arr_get(o5[i], names[i], K_INT, 4, 1, 1, 0, &a5[i])) goto done;
        if (a5[i].data && a5[i].shape[0] != nb) {
            PyErr_Format(PyExc_ValueError, "%s: expected %lld entries", names[i], (long long)nb);
            goto done;
        }
    }
    if (opj != Py_None && !(pj = PyUnicode_AsUTF8(opj))) goto done;
    strata_plan plan;
    memset(&plan, 0, sizeof plan);
    plan.n_batches = nb;
    plan.batch_size = B;
    plan.n_pairs = n_pairs;
    plan.batches = b.data;
    plan.mask = m.data;
    plan.batch_source = a5[0].data;
    plan.batch_cluster = a5[1].data;
    plan.batch_nclusters = a5[2].data;
    plan.batch_stage = a5[3].data;
    plan.batch_epoch = a5[4].data;
    plan.n_masked = n_masked;
    plan.n_offdiag = n_offdiag;
    if (owner != Py_None) {
        const strata_plan *src = owner_ptr(owner);
        if (!src) goto done;
        plan.n_stages = src->n_stages;
        plan.stages = src->stages;
    }
    strata_error err;
    strata_error_clear(&err);
    strata_status st;
    const char *path = PyBytes_AS_STRING(opath);
    Py_BEGIN_ALLOW_THREADS
    st = strata_plan_save(&plan, path, pj, &err);
    Py_END_ALLOW_THREADS
    if (st) raise_strata(&err);
    else ret = Py_NewRef(Py_None);
done:
    Py_DECREF(opath);
    arr_release(&b);
    arr_release(&m);
    for (int i = 0; i < 5; i++) arr_release(&a5[i]);
    return ret;
}

PyDoc_STRVAR(plan_compute_mask_doc,
"plan_compute_mask(batches, fq, fd, margin=0.0, threshold=None, threads=0)\n"
"    -> (mask uint8 [nb, B, W], n_masked, n_offdiag)  (strata_plan_compute_mask)");

static void free_mask(void *p) { strata_free(p); }

static PyObject *py_plan_compute_mask(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"batches", "fq", "fd", "margin", "threshold", "threads", NULL};
    PyObject *ob, *ofq, *ofd, *othr = Py_None;
    double margin = 0, threshold = 0;
    int threads = 0, use_thr = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|dOi", kwlist, &ob, &ofq, &ofd, &margin, &othr,
                                     &threads))
        return NULL;
    if (opt_double(othr, &use_thr, &threshold)) return NULL;
    if (!isfinite(margin) || !isfinite(threshold))
        return PyErr_Format(PyExc_ValueError, "margin and threshold must be finite");
    arr b, fq, fd;
    memset(&fq, 0, sizeof fq);
    memset(&fd, 0, sizeof fd);
    PyObject *ret = NULL;
    if (arr_get(ob, "batches", K_INT, 8, 2, 0, 0, &b)) return NULL;
    if (arr_get(ofq, "filter_q", K_FLOAT, 4, 2, 0, 0, &fq) ||
        arr_get(ofd, "filter_d", K_FLOAT, 4, 2, 0, 0, &fd))
        goto done;
    if (fq.shape[0] != fd.shape[0] || fq.shape[1] != fd.shape[1]) {
        PyErr_SetString(PyExc_ValueError, "filter_q and filter_d must have the same shape");
        goto done;
    }
    strata_plan plan;
    memset(&plan, 0, sizeof plan);
    plan.n_batches = b.shape[0];
    plan.batch_size = b.shape[1];
    plan.batches = b.data;
    strata_error err;
    strata_error_clear(&err);
    strata_progress none = {0};
    strata_status st;
    BEGIN_LIBRARY_CALL(threads)
    st = strata_plan_compute_mask(&plan, fq.data, fd.data, fq.shape[0], fq.shape[1], margin,
                                  use_thr, threshold, none, &err);
    END_LIBRARY_CALL
    if (st) {
        strata_free(plan.mask);
        raise_strata(&err);
        goto done;
    }
    PyObject *owner = owner_new(plan.mask, free_mask);
    if (!owner) goto done;
    int64_t sm[3] = {plan.n_batches, plan.batch_size, strata_plan_mask_width(plan.batch_size)};
    PyObject *v = view_new(owner, plan.mask, "B", 3, sm);
    Py_DECREF(owner);
    if (v) ret = Py_BuildValue("(NLL)", v, (long long)plan.n_masked, (long long)plan.n_offdiag);
done:
    arr_release(&b);
    arr_release(&fq);
    arr_release(&fd);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* Texts                                                                     */
/* ------------------------------------------------------------------------ */

PyDoc_STRVAR(hash_texts_doc,
"hash_texts(texts) -> uint64 [n]: strata_hash64 of each text's UTF-8 bytes\n"
"(seed 0), the hashes `strata plan` uses for its no-duplicate rule.");

static PyObject *py_hash_texts(PyObject *self, PyObject *arg) {
    (void)self;
    PyObject *seq = PySequence_Fast(arg, "texts: expected a sequence of str");
    if (!seq) return NULL;
    const int64_t n = PySequence_Fast_GET_SIZE(seq);
    void *out;
    PyObject *owner = owned_block((size_t)n * sizeof(uint64_t), &out), *ret = NULL;
    if (!owner) goto done;
    uint64_t *h = out;
    for (int64_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        const char *s;
        Py_ssize_t len;
        if (PyUnicode_Check(t)) {
            if (!(s = PyUnicode_AsUTF8AndSize(t, &len))) goto done;
        } else if (PyBytes_Check(t)) {
            s = PyBytes_AS_STRING(t);
            len = PyBytes_GET_SIZE(t);
        } else {
            PyErr_Format(PyExc_TypeError, "texts[%lld]: expected str, got %s", (long long)i,
                         Py_TYPE(t)->tp_name);
            goto done;
        }
        h[i] = strata_hash64(s, (size_t)len, 0);
    }
    ret = view_new(owner, out, "Q", 1, &n);
done:
    Py_XDECREF(owner);
    Py_DECREF(seq);
    return ret;
}

PyDoc_STRVAR(pairs_load_doc,
"pairs_load(path, query_field='query', positive_field='positive', source_field='source')\n"
"    -> (queries, positives, source int32 [n], source_names)  (strata_pairs_load)");

static PyObject *py_pairs_load(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"path", "query_field", "positive_field", "source_field", NULL};
    PyObject *opath;
    strata_pairs_options o = strata_pairs_default_options();
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|sss", kwlist, PyUnicode_FSConverter, &opath,
                                     &o.query_field, &o.positive_field, &o.source_field))
        return NULL;
    strata_pairs *pairs = strata_calloc(1, sizeof *pairs);
    if (!pairs) {
        Py_DECREF(opath);
        return PyErr_NoMemory();
    }
    strata_error err;
    strata_error_clear(&err);
    strata_status st;
    const char *path = PyBytes_AS_STRING(opath);
    Py_BEGIN_ALLOW_THREADS
    st = strata_pairs_load(pairs, path, &o, &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(opath);
    if (st) {
        strata_free(pairs);
        return raise_strata(&err);
    }
    PyObject *q = PyList_New(pairs->n), *d = PyList_New(pairs->n), *names = PyList_New(pairs->n_sources);
    PyObject *ret = NULL, *src = NULL;
    void *sp;
    PyObject *owner = owned_block((size_t)pairs->n * sizeof(int32_t), &sp);
    if (!q || !d || !names || !owner) goto done;
    for (int64_t i = 0; i < pairs->n; i++) {
        PyObject *a = PyUnicode_DecodeUTF8(strata_pairs_query(pairs, i),
                                           (Py_ssize_t)strata_pairs_text_len(pairs, 2 * i), "strict");
        if (!a) goto done;
        PyList_SET_ITEM(q, i, a);
        PyObject *b = PyUnicode_DecodeUTF8(strata_pairs_positive(pairs, i),
                                           (Py_ssize_t)strata_pairs_text_len(pairs, 2 * i + 1), "strict");
        if (!b) goto done;
        PyList_SET_ITEM(d, i, b);
    }
    for (int s = 0; s < pairs->n_sources; s++) {
        PyObject *a = PyUnicode_FromString(pairs->source_names[s]);
        if (!a) goto done;
        PyList_SET_ITEM(names, s, a);
    }
    memcpy(sp, pairs->source, (size_t)pairs->n * sizeof(int32_t));
    int64_t n = pairs->n;
    if (!(src = view_new(owner, sp, "i", 1, &n))) goto done;
    ret = Py_BuildValue("(OOOO)", q, d, src, names);
done:
    Py_XDECREF(q);
    Py_XDECREF(d);
    Py_XDECREF(names);
    Py_XDECREF(src);
    Py_XDECREF(owner);
    strata_pairs_free(pairs);
    strata_free(pairs);
    return ret;
}

PyMethodDef strata_py_plan_methods[] = {
    {"plan_build", (PyCFunction)(void (*)(void))py_plan_build, METH_VARARGS | METH_KEYWORDS,
     plan_build_doc},
    {"plan_load", py_plan_load, METH_VARARGS, plan_load_doc},
    {"plan_save", py_plan_save, METH_VARARGS, plan_save_doc},
    {"plan_compute_mask", (PyCFunction)(void (*)(void))py_plan_compute_mask,
     METH_VARARGS | METH_KEYWORDS, plan_compute_mask_doc},
    {"hash_texts", py_hash_texts, METH_O, hash_texts_doc},
    {"pairs_load", (PyCFunction)(void (*)(void))py_pairs_load, METH_VARARGS | METH_KEYWORDS,
     pairs_load_doc},
    {NULL, NULL, 0, NULL}};
