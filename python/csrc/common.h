/*
 * common.h — shared pieces of the strata._core extension: typed views of
 * numpy (buffer protocol) arrays, zero-copy output arrays, errors, threads.
 *
 * Conventions of every binding function:
 *   - Inputs arrive through the buffer protocol and are checked here (dtype,
 *     ndim, C order, shape); the Python layer checks first with friendlier
 *     messages, so these checks are the floor that keeps a direct call from
 *     crashing.
 *   - Outputs are library-owned memory exposed without a copy: an owner
 *     capsule frees the library object when the last array using it dies.
 *   - Every long call drops the GIL and runs under the caller's thread count
 *     (threads <= 0: all cores, as `strata --threads`), then restores the
 *     process's OpenMP and OpenBLAS thread settings, so torch and numpy in
 *     the same process keep theirs.
 */
#ifndef STRATA_PY_COMMON_H
#define STRATA_PY_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

#include "strata/strata.h"

#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *Py_NewRef(PyObject *o) {
    Py_INCREF(o);
    return o;
}
#endif

/* The exception type strata.StrataError (set up by the module). */
extern PyObject *strata_py_error;

/* Raises StrataError (MemoryError for STRATA_ENOMEM) with the library's
 * message; returns NULL. */
PyObject *raise_strata(const strata_error *err);

/* ------------------------------------------------------------------------ */
/* Input arrays                                                              */
/* ------------------------------------------------------------------------ */

typedef enum { K_FLOAT = 'f', K_INT = 'i', K_UINT = 'u' } elem_kind;

typedef struct arr {
    Py_buffer view;
    int held;            /* view must be released                           */
    void *data;          /* NULL for None (when allowed)                    */
    int ndim;
    int64_t shape[3];
} arr;

/* Views obj as a C-contiguous array of `kind`/`itemsize` with `ndim` dims
 * (ndim 0: any of 1..3). `optional`: None gives an empty view. writable asks
 * for a writable buffer. On failure sets a TypeError/ValueError naming
 * `name` and returns -1. */
int arr_get(PyObject *obj, const char *name, elem_kind kind, int itemsize, int ndim,
            int optional, int writable, arr *out);
void arr_release(arr *a);

/* An optional float argument: None leaves *use and *value as they are;
 * else *use = 1 and *value = float(obj). Returns -1 (exception set) when obj
 * is not a number. */
int opt_double(PyObject *obj, int *use, double *value);

/* ------------------------------------------------------------------------ */
/* Output arrays                                                             */
/* ------------------------------------------------------------------------ */

/* A capsule owning `ptr`, freed by `destroy(ptr)` when the last reference
 * goes. Returns NULL (exception set) on failure, after destroying ptr. */
PyObject *owner_new(void *ptr, void (*destroy)(void *));

/* An object exporting data [shape] (C order) through the buffer protocol,
 * keeping `owner` alive; numpy wraps it without a copy (np.asarray).
 * format: "f" float32, "d" float64, "i" int32, "q" int64, "B" uint8,
 * "Q" uint64. data may be NULL only when the size is 0. */
PyObject *view_new(PyObject *owner, void *data, const char *format, int ndim,
                   const int64_t *shape);

/* The pointer an owner holds (NULL and an exception if cap is not one). */
void *owner_ptr(PyObject *cap);

/* Allocates n_bytes with strata_malloc inside a fresh owner and returns the
 * owner; *data receives the pointer. */
PyObject *owned_block(size_t n_bytes, void **data);

/* ------------------------------------------------------------------------ */
/* Threads                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct thread_scope {
    int omp;   /* OpenMP threads before the call */
    int blas;  /* OpenBLAS threads before the call */
} thread_scope;

/* Sets Strata's threads for one call (strata_set_threads) after saving the
 * process settings; thread_leave restores them. Call both with the GIL. */
void thread_enter(thread_scope *t, int threads);
void thread_leave(const thread_scope *t);

/* Brackets a library call made without the GIL under `threads` threads:
 *     BEGIN_LIBRARY_CALL(threads)
 *     st = strata_...(...);   (no Python objects touched in between)
 *     END_LIBRARY_CALL
 * thread_enter, Py_BEGIN_ALLOW_THREADS, then Py_END_ALLOW_THREADS,
 * thread_leave, in that order (a block, as Python's own pair). */
#define BEGIN_LIBRARY_CALL(threads)                                            \
    {                                                                          \
        thread_scope lib_call_ts_;                                             \
        thread_enter(&lib_call_ts_, (threads));                                \
        Py_BEGIN_ALLOW_THREADS
#define END_LIBRARY_CALL                                                       \
        Py_END_ALLOW_THREADS                                                   \
        thread_leave(&lib_call_ts_);                                           \
    }

/* Module pieces (each registers its functions). */
extern PyMethodDef strata_py_kmeans_methods[];
extern PyMethodDef strata_py_plan_methods[];
extern PyMethodDef strata_py_eval_methods[];
extern PyMethodDef strata_py_train_methods[];
int strata_py_view_type_ready(PyObject *module);

#endif
