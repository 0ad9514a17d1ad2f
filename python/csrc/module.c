/*
 * module.c — the strata._core extension module: C bindings of libstrata for
 * the `strata` Python package (the modules in python/strata build the user-facing API
 * on top). The library is compiled into this module (see python/setup.py).
 */
#include "common.h"

#include <omp.h>

static PyObject *py_version(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
    return PyUnicode_FromString(strata_version());
}

static PyObject *py_num_procs(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
    return PyLong_FromLong(omp_get_num_procs());
}

static PyMethodDef base_methods[] = {
    {"version", py_version, METH_NOARGS, "version() -> the linked library's version string."},
    {"num_procs", py_num_procs, METH_NOARGS,
     "num_procs() -> cores OpenMP sees (what threads=0 uses)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "strata._core",
    "C bindings of libstrata (k-means, batch planner, evaluation, InfoNCE).", -1, base_methods,
    NULL, NULL, NULL, NULL};

static int add_methods(PyObject *m, PyMethodDef *defs) { return PyModule_AddFunctions(m, defs); }

PyMODINIT_FUNC PyInit__core(void) {
    PyObject *m = PyModule_Create(&moduledef);
    if (!m) return NULL;
    strata_py_error = PyErr_NewExceptionWithDoc(
        "strata.StrataError",
        "An error reported by libstrata; the message is the library's, `status` its kind.",
        PyExc_RuntimeError, NULL);
    if (!strata_py_error) goto fail;
    Py_INCREF(strata_py_error);
    if (PyModule_AddObject(m, "StrataError", strata_py_error) < 0) {
        Py_DECREF(strata_py_error);
        goto fail;
    }
    if (add_methods(m, strata_py_kmeans_methods) || add_methods(m, strata_py_plan_methods) ||
        add_methods(m, strata_py_eval_methods) || add_methods(m, strata_py_train_methods) ||
        strata_py_view_type_ready(m))
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
