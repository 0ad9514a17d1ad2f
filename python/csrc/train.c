/*
 * train.c — binding of strata_infonce (train.h): the C InfoNCE with the
 * false-negative mask, the reference the PyTorch losses are tested against.
 */
#include "common.h"

#include <math.h>
#include <string.h>

#include "strata/train.h"

PyDoc_STRVAR(infonce_doc,
"infonce(q, d, mask=None, tau=0.02, symmetric=False, threads=0)\n"
"    -> (loss, acc, masked_frac, dq, dd)\n\n"
"strata_infonce on q, d float32 [N, C] (unit rows; not normalized here), mask\n"
"uint8 [N, ceil(N/8)] bit-packed little-endian or None. dq, dd float32 [N, C]\n"
"are d(loss)/d(q, d).");

static PyObject *py_infonce(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"q", "d", "mask", "tau", "symmetric", "threads", NULL};
    PyObject *oq, *od, *om = Py_None;
    double tau = 0.02;
    int symmetric = 0, threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|Odpi", kwlist, &oq, &od, &om, &tau, &symmetric,
                                     &threads))
        return NULL;
    if (!(tau > 0) || !isfinite(tau)) return PyErr_Format(PyExc_ValueError, "tau must be > 0");
    arr q, d, m;
    memset(&d, 0, sizeof d);
    memset(&m, 0, sizeof m);
    PyObject *ret = NULL, *oqg = NULL, *odg = NULL;
    if (arr_get(oq, "q", K_FLOAT, 4, 2, 0, 0, &q)) return NULL;
    if (arr_get(od, "d", K_FLOAT, 4, 2, 0, 0, &d) || arr_get(om, "mask", K_UINT, 1, 2, 1, 0, &m))
        goto done;
    const int64_t N = q.shape[0], C = q.shape[1];
    if (d.shape[0] != N || d.shape[1] != C || N < 1 || N > 65536 || C < 1 || C > (1 << 24)) {
        PyErr_Format(PyExc_ValueError, "q and d must both be [N, C] with 1 <= N <= 65536, got "
                     "[%lld, %lld] and [%lld, %lld]", (long long)N, (long long)C,
                     (long long)d.shape[0], (long long)d.shape[1]);
        goto done;
    }
    if (m.data && (m.shape[0] != N || m.shape[1] != (N + 7) / 8)) {
        PyErr_Format(PyExc_ValueError, "mask: expected uint8 [%lld, %lld]", (long long)N,
                     (long long)((N + 7) / 8));
        goto done;
    }
    void *gq, *gd;
    if (!(oqg = owned_block((size_t)N * (size_t)C * sizeof(float), &gq)) ||
        !(odg = owned_block((size_t)N * (size_t)C * sizeof(float), &gd)))
        goto done;
    strata_infonce_stats st;
    strata_error err;
    strata_error_clear(&err);
    strata_status status;
    BEGIN_LIBRARY_CALL(threads)
    status = strata_infonce(q.data, d.data, (int)N, (int)C, m.data, tau, symmetric, gq, gd, &st,
                            &err);
    END_LIBRARY_CALL
    if (status) {
        raise_strata(&err);
        goto done;
    }
    int64_t shape[2] = {N, C};
    PyObject *vq = view_new(oqg, gq, "f", 2, shape), *vd = view_new(odg, gd, "f", 2, shape);
    if (vq && vd) ret = Py_BuildValue("(dddNN)", st.loss, st.acc, st.masked_frac, vq, vd);
    else {
        Py_XDECREF(vq);
        Py_XDECREF(vd);
    }
done:
    Py_XDECREF(oqg);
    Py_XDECREF(odg);
    arr_release(&q);
    arr_release(&d);
    arr_release(&m);
    return ret;
}

PyMethodDef strata_py_train_methods[] = {
    {"infonce", (PyCFunction)(void (*)(void))py_infonce, METH_VARARGS | METH_KEYWORDS, infonce_doc},
    {NULL, NULL, 0, NULL}};
