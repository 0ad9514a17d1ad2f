/*
 * common.c — array views, zero-copy outputs, errors and thread scopes of the
 * strata._core extension (see common.h).
 */
#include "common.h"

#include <omp.h>
#include <string.h>

/* OpenBLAS thread control (libopenblas). */
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);

PyObject *strata_py_error = NULL;

PyObject *raise_strata(const strata_error *err) {
    const char *msg = err && err->msg[0] ? err->msg : "strata: unknown error";
    if (err && err->status == STRATA_ENOMEM) {
        PyErr_Format(PyExc_MemoryError, "%s", msg);
        return NULL;
    }
    PyObject *args = Py_BuildValue("(s)", msg);
    if (!args) return NULL;
    PyObject *exc = PyObject_CallObject(strata_py_error, args);
    Py_DECREF(args);
    if (!exc) return NULL;
    PyObject *st = PyUnicode_FromString(strata_status_str(err ? err->status : STRATA_EINVAL));
    if (st) {
        PyObject_SetAttrString(exc, "status", st);
        Py_DECREF(st);
    }
    PyErr_SetObject(strata_py_error, exc);
    Py_DECREF(exc);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Input arrays                                                              */
/* ------------------------------------------------------------------------ */

/* Element kind and size of a PEP 3118 format of one native scalar; 0 if it
 * is anything else (structures, big-endian, pointers). */
static int parse_format(const char *f, char *kind, int *size) {
    if (!f) f = "B";
    if (*f == '@' || *f == '=' || *f == '<') f++;
    if (!f[0] || f[1]) return 0;
    switch (f[0]) {
    case 'e': *kind = 'f'; *size = 2; return 1;
    case 'f': *kind = 'f'; *size = 4; return 1;
    case 'd': *kind = 'f'; *size = 8; return 1;
    case 'b': *kind = 'i'; *size = 1; return 1;
    case 'h': *kind = 'i'; *size = 2; return 1;
    case 'i': *kind = 'i'; *size = 4; return 1;
    case 'l': *kind = 'i'; *size = (int)sizeof(long); return 1;
    case 'q': *kind = 'i'; *size = 8; return 1;
    case 'B': *kind = 'u'; *size = 1; return 1;
    case 'H': *kind = 'u'; *size = 2; return 1;
    case 'I': *kind = 'u'; *size = 4; return 1;
    case 'L': *kind = 'u'; *size = (int)sizeof(long); return 1;
    case 'Q': *kind = 'u'; *size = 8; return 1;
    case '?': *kind = 'b'; *size = 1; return 1;
    default: return 0;
    }
}

static const char *kind_name(char kind, int size) {
    switch (kind) {
    case 'f': return size == 4 ? "float32" : size == 8 ? "float64" : "float16";
    case 'i': return size == 4 ? "int32" : size == 8 ? "int64" : size == 2 ? "int16" : "int8";
    case 'u': return size == 1 ? "uint8" : size == 8 ? "uint64" : size == 4 ? "uint32" : "uint16";
    case 'b': return "bool";
    default: return "?";
    }
}

int arr_get(PyObject *obj, const char *name, elem_kind kind, int itemsize, int ndim,
            int optional, int writable, arr *out) {
    memset(out, 0, sizeof *out);
    if (obj == NULL || obj == Py_None) {
        if (optional) return 0;
        PyErr_Format(PyExc_TypeError, "%s: an array is required, got None", name);
        return -1;
    }
    if (!PyObject_CheckBuffer(obj)) {
        PyErr_Format(PyExc_TypeError, "%s: expected a numpy array, got %s", name,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    int flags = PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &out->view, flags) != 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s: cannot read the array%s", name,
                     writable ? " (it must be writable)" : "");
        return -1;
    }
    out->held = 1;
    char k = 0;
    int sz = 0;
    if (!parse_format(out->view.format, &k, &sz) || k != (char)kind || sz != itemsize) {
        PyErr_Format(PyExc_TypeError, "%s: expected dtype %s, got format '%s'", name,
                     kind_name((char)kind, itemsize), out->view.format ? out->view.format : "B");
        goto fail;
    }
    if ((ndim > 0 && out->view.ndim != ndim) || out->view.ndim < 1 || out->view.ndim > 3) {
        PyErr_Format(PyExc_ValueError, "%s: expected %d dimension(s), got %d", name,
                     ndim > 0 ? ndim : 1, out->view.ndim);
        goto fail;
    }
    if (!PyBuffer_IsContiguous(&out->view, 'C')) {
        PyErr_Format(PyExc_ValueError,
                     "%s: the array must be C-contiguous (use numpy.ascontiguousarray)", name);
        goto fail;
    }
    out->ndim = out->view.ndim;
    for (int d = 0; d < out->ndim; d++) out->shape[d] = (int64_t)out->view.shape[d];
    out->data = out->view.buf;
    return 0;
fail:
    arr_release(out);
    return -1;
}

void arr_release(arr *a) {
    if (a->held) PyBuffer_Release(&a->view);
    memset(a, 0, sizeof *a);
}

int opt_double(PyObject *obj, int *use, double *value) {
    if (obj == Py_None) return 0;
    *use = 1;
    *value = PyFloat_AsDouble(obj);
    return PyErr_Occurred() ? -1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Owners                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct owned {
    void *ptr;
    void (*destroy)(void *);
} owned;

static void owner_destroy(PyObject *cap) {
    owned *o = PyCapsule_GetPointer(cap, "strata.owner");
    if (!o) return;
    if (o->destroy) o->destroy(o->ptr);
    strata_free(o);
}

PyObject *owner_new(void *ptr, void (*destroy)(void *)) {
    owned *o = strata_malloc(sizeof *o);
    if (!o) {
        if (destroy) destroy(ptr);
        return PyErr_NoMemory();
    }
    o->ptr = ptr;
    o->destroy = destroy;
    PyObject *cap = PyCapsule_New(o, "strata.owner", owner_destroy);
    if (!cap) {
        if (destroy) destroy(ptr);
        strata_free(o);
    }
    return cap;
}

void *owner_ptr(PyObject *cap) {
    owned *o = PyCapsule_GetPointer(cap, "strata.owner");
    return o ? o->ptr : NULL;
}

PyObject *owned_block(size_t n_bytes, void **data) {
    *data = strata_malloc(n_bytes ? n_bytes : 1);
    if (!*data) return PyErr_NoMemory();
    return owner_new(*data, strata_free);
}

/* ------------------------------------------------------------------------ */
/* Views: zero-copy output arrays                                            */
/* ------------------------------------------------------------------------ */

typedef struct view_object {
    PyObject_HEAD
    PyObject *owner;
    void *data;
    const char *format;
    Py_ssize_t itemsize;
    int ndim;
    Py_ssize_t shape[3];
    Py_ssize_t strides[3];
} view_object;

static char view_dummy[8];

static int view_getbuffer(PyObject *self, Py_buffer *b, int flags) {
    view_object *v = (view_object *)self;
    Py_ssize_t len = v->itemsize;
    for (int d = 0; d < v->ndim; d++) len *= v->shape[d];
    b->buf = v->data ? v->data : view_dummy;
    Py_INCREF(self);
    b->obj = self;
    b->len = len;
    b->readonly = 0;
    b->itemsize = v->itemsize;
    b->format = (flags & PyBUF_FORMAT) ? (char *)v->format : NULL;
    b->ndim = v->ndim;
    b->shape = (flags & PyBUF_ND) ? v->shape : NULL;
    b->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? v->strides : NULL;
    b->suboffsets = NULL;
    b->internal = NULL;
    return 0;
}

static void view_dealloc(PyObject *self) {
    view_object *v = (view_object *)self;
    Py_XDECREF(v->owner);
    Py_TYPE(self)->tp_free(self);
}

static PyBufferProcs view_as_buffer = {view_getbuffer, NULL};

static PyTypeObject view_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._core.View",
    .tp_basicsize = sizeof(view_object),
    .tp_dealloc = view_dealloc,
    .tp_as_buffer = &view_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Library-owned memory exported through the buffer protocol (wrap with numpy).",
};

int strata_py_view_type_ready(PyObject *module) {
    if (PyType_Ready(&view_type) < 0) return -1;
    Py_INCREF(&view_type);
    if (PyModule_AddObject(module, "View", (PyObject *)&view_type) < 0) {
        Py_DECREF(&view_type);
        return -1;
    }
    return 0;
}

PyObject *view_new(PyObject *owner, void *data, const char *format, int ndim,
                   const int64_t *shape) {
    char kind;
    int size;
    if (!parse_format(format, &kind, &size) || ndim < 1 || ndim > 3) {
        PyErr_SetString(PyExc_SystemError, "strata: bad view");
        return NULL;
    }
    view_object *v = PyObject_New(view_object, &view_type);
    if (!v) return NULL;
    Py_INCREF(owner);
    v->owner = owner;
    v->data = data;
    v->format = format;
    v->itemsize = size;
    v->ndim = ndim;
    Py_ssize_t stride = size;
    for (int d = ndim - 1; d >= 0; d--) {
        v->shape[d] = (Py_ssize_t)shape[d];
        v->strides[d] = stride;
        stride *= v->shape[d];
    }
    return (PyObject *)v;
}

/* ------------------------------------------------------------------------ */
/* Threads                                                                   */
/* ------------------------------------------------------------------------ */

void thread_enter(thread_scope *t, int threads) {
    t->omp = omp_get_max_threads();
    t->blas = openblas_get_num_threads();
    strata_set_threads(threads);
}

void thread_leave(const thread_scope *t) {
    omp_set_num_threads(t->omp);
    openblas_set_num_threads(t->blas);
}
