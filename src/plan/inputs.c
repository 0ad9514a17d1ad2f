/*
 * inputs.c — loading the planner's inputs from files: cluster assignments
 * (+ centroids), surrogate embeddings, text hashes.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "strata/io.h"
#include "plan/plan_internal.h"

/* ------------------------------------------------------------------------ */
/* Cluster assignments                                                       */
/* ------------------------------------------------------------------------ */

void strata_plan_clusters_free(strata_plan_clusters *c) {
    if (!c) return;
    strata_free(c->assign);
    strata_free(c->centroids);
    strata_free(c->assign_path);
    strata_free(c->centroids_path);
    memset(c, 0, sizeof *c);
}

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

strata_status strata_plan_clusters_load(strata_plan_clusters *out, const char *path,
                                        const char *centroids_path, int64_t n_expected,
                                        strata_error *err) {
    memset(out, 0, sizeof *out);
    strata_status st = STRATA_OK;
    strata_npy a = {0};
    strata_mat cm = {0};
    /* the folder of the assignment: a `strata cluster` output (one unit,
     * checked whole) or wherever the user keeps assign.npy */
    int whole_dir = is_dir(path);
    char *dir = strata_strdup(path);
    if (dir && !whole_dir) {
        char *slash = strrchr(dir, '/');
        if (slash == dir) slash[1] = '\0';
        else if (slash) *slash = '\0';
        else strcpy(dir, ".");
    }
    if (!dir) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    st = strata_dir_check(dir, whole_dir ? "cluster" : NULL, NULL, err);
    if (st) {
        strata_free(dir);
        return st;
    }
    out->assign_path = whole_dir ? strata_path_join(path, "assign.npy") : strata_strdup(path);
    if (!centroids_path) { /* centroids.npy next to assign.npy, when there */
        char *c = strata_path_join(dir, "centroids.npy");
        if (!c) {
            strata_free(dir);
            st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
            goto done;
        }
        if (exists(c)) out->centroids_path = c;
        else strata_free(c);
    }
    strata_free(dir);
    if (centroids_path) out->centroids_path = strata_strdup(centroids_path);
    if (!out->assign_path || (centroids_path && !out->centroids_path)) {
        st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    const char *ap = out->assign_path;
    st = strata_npy_load(&a, ap, err);
    if (st) goto done;
    if (!(a.ndim == 1 || (a.ndim == 2 && a.shape[1] == 1)) ||
        (a.dtype != STRATA_DTYPE_I32 && a.dtype != STRATA_DTYPE_I64)) {
        st = strata_error_set(err, STRATA_EFORMAT,
                              "%s: expected an int32 (or int64) vector [N], got %s with %d dims",
                              ap, strata_dtype_name(a.dtype), a.ndim);
        goto done;
    }
    const int64_t n = a.shape[0];
    if (n_expected > 0 && n != n_expected) {
        st = strata_error_set(err, STRATA_EFORMAT,
                              "%s: %lld entries but the pairs have %lld (the assignment must "
                              "come from the same pairs file)", ap, (long long)n,
                              (long long)n_expected);
        goto done;
    }
    out->n = n;
    out->assign = strata_malloc_array((size_t)(n ? n : 1), sizeof(int32_t));
    if (!out->assign) { st = strata_error_set(err, STRATA_ENOMEM, "out of memory"); goto done; }
    int64_t mx = -1;
    for (int64_t i = 0; i < n; i++) {
        int64_t v = a.dtype == STRATA_DTYPE_I32 ? ((const int32_t *)a.data)[i]
                                                : ((const int64_t *)a.data)[i];
        if (v < 0 || v > INT32_MAX) {
            st = strata_error_set(err, STRATA_EFORMAT, "%s: entry %lld: cluster id %lld is negative "
                                  "or too large", ap, (long long)i, (long long)v);
            goto done;
        }
        out->assign[i] = (int32_t)v;
        if (v > mx) mx = v;
    }
    out->k = mx + 1;
    if (out->centroids_path) {
        st = strata_mat_load(&cm, out->centroids_path, err);
        if (st) goto done;
        if (cm.npy.ndim != 2 && !cm.owned) {
            st = strata_error_set(err, STRATA_EFORMAT, "%s: expected a 2-D array [K, D]",
                                  out->centroids_path);
            goto done;
        }
        if (cm.rows < out->k) {
            st = strata_error_set(err, STRATA_EFORMAT,
                                  "%s: %lld centroids but %s uses cluster id %lld",
                                  out->centroids_path, (long long)cm.rows, ap, (long long)mx);
            goto done;
        }
        for (int64_t t = 0; t < cm.rows * cm.cols; t++)
            if (!isfinite(cm.data[t])) {
                st = strata_error_set(err, STRATA_EFORMAT, "%s: row %lld column %lld is not finite",
                                      out->centroids_path, (long long)(t / cm.cols),
                                      (long long)(t % cm.cols));
                goto done;
            }
        out->k = cm.rows;
        out->cdim = cm.cols;
        out->centroids = strata_malloc_array((size_t)cm.rows * (size_t)cm.cols, sizeof(float));
        if (!out->centroids) { st = strata_error_set(err, STRATA_ENOMEM, "out of memory"); goto done; }
        memcpy(out->centroids, cm.data, (size_t)cm.rows * (size_t)cm.cols * sizeof(float));
    }
done:
    strata_npy_free(&a);
    strata_mat_free(&cm);
    if (st) strata_plan_clusters_free(out);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Surrogate embeddings                                                      */
/* ------------------------------------------------------------------------ */

void strata_plan_embeddings_free(strata_plan_embeddings *e) {
    if (!e) return;
    for (int i = 0; i < 2; i++) {
        strata_mat *m = e->internal[i];
        if (m) {
            strata_mat_free(m);
            strata_free(m);
        }
    }
    memset(e, 0, sizeof *e);
}

static strata_status check_finite(const strata_mat *m, const char *path, strata_error *err) {
    const int64_t total = m->rows * m->cols;
    int64_t bad = -1;
    #pragma omp parallel for schedule(static) reduction(max : bad)
    for (int64_t t = 0; t < total; t++)
        if (!isfinite(m->data[t]) && t > bad) bad = t;
    if (bad >= 0)
        return strata_error_set(err, STRATA_EFORMAT, "%s: row %lld column %lld is not finite",
                                path, (long long)(bad / m->cols), (long long)(bad % m->cols));
    return STRATA_OK;
}

strata_status strata_plan_embeddings_load(strata_plan_embeddings *out, const char *qpath,
                                          const char *dpath, int64_t n_expected,
                                          strata_error *err) {
    memset(out, 0, sizeof *out);
    const char *paths[2] = {qpath, dpath};
    strata_status st = STRATA_OK;
    for (int i = 0; i < 2 && !st; i++) {
        strata_mat *m = strata_calloc(1, sizeof *m);
        if (!m) { st = strata_error_set(err, STRATA_ENOMEM, "out of memory"); break; }
        out->internal[i] = m;
        st = strata_mat_load(m, paths[i], err);
        if (st) break;
        if (m->npy.ndim != 2 && !m->owned) {
            st = strata_error_set(err, STRATA_EFORMAT, "%s: expected a 2-D array [N, D]", paths[i]);
            break;
        }
        if (n_expected > 0 && m->rows != n_expected) {
            st = strata_error_set(err, STRATA_EFORMAT,
                                  "%s: %lld rows but the pairs have %lld", paths[i],
                                  (long long)m->rows, (long long)n_expected);
            break;
        }
        st = check_finite(m, paths[i], err);
    }
    if (!st) {
        strata_mat *q = out->internal[0], *d = out->internal[1];
        if (q->rows != d->rows || q->cols != d->cols)
            st = strata_error_set(err, STRATA_EFORMAT, "%s [%lld, %lld] and %s [%lld, %lld] differ "
                                  "in shape", qpath, (long long)q->rows, (long long)q->cols, dpath,
                                  (long long)d->rows, (long long)d->cols);
        out->n = q->rows;
        out->dim = q->cols;
        out->q = q->data;
        out->d = d->data;
    }
    if (st) strata_plan_embeddings_free(out);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Text hashes                                                               */
/* ------------------------------------------------------------------------ */

void strata_plan_hash_texts(const char *arena, const int64_t *off, int64_t n, uint64_t *qh,
                            uint64_t *ph) {
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        qh[i] = strata_hash64(arena + off[2 * i], (size_t)(off[2 * i + 1] - off[2 * i] - 1), 0);
        ph[i] = strata_hash64(arena + off[2 * i + 1], (size_t)(off[2 * i + 2] - off[2 * i + 1] - 1), 0);
    }
}
