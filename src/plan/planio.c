/*
 * planio.c — a plan on disk: batches.npy, mask.npy, plan.json, manifest.json.
 *
 * Completeness rule: the directory is one unit (io.h): its manifest says
 * incomplete before the first file is touched and lists the files after the
 * last. plan.json is also removed first and written last, each file is
 * written atomically, so a failure in between leaves no plan.json, no temp
 * files, and a manifest that says incomplete.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "plan/plan_internal.h"

/* ------------------------------------------------------------------------ */
/* Save                                                                      */
/* ------------------------------------------------------------------------ */

static cJSON *int_array(const int32_t *v, int64_t n) {
    cJSON *a = cJSON_CreateArray();
    if (!a) return NULL;
    for (int64_t i = 0; i < n; i++) {
        cJSON *x = cJSON_CreateNumber(v ? v[i] : -1);
        if (!x || !cJSON_AddItemToArray(a, x)) {
            cJSON_Delete(x);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static int remove_if_present(const char *path) {
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

strata_status strata_plan_save(const strata_plan *plan, const char *dir,
                               const char *params_json, strata_error *err) {
    if (!plan || !plan->batches || plan->n_batches < 1 || plan->batch_size < 1)
        return strata_error_set(err, STRATA_EINVAL, "plan save: empty plan");
    strata_status st = strata_dir_begin(dir, "plan", err);
    if (st) return st;
    char *pj = strata_path_join(dir, "plan.json");
    char *pb = strata_path_join(dir, "batches.npy");
    char *pm = strata_path_join(dir, "mask.npy");
    cJSON *root = NULL, *params = NULL;
    if (!pj || !pb || !pm) {
        st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    if (params_json) {
        params = cJSON_Parse(params_json);
        if (!params || !cJSON_IsObject(params)) {
            st = strata_error_set(err, STRATA_EINVAL, "plan save: params is not a JSON object");
            goto done;
        }
    }
    if (remove_if_present(pj)) {
        st = strata_error_set(err, STRATA_EIO, "%s: cannot remove the old plan: %s", pj,
                              strerror(errno));
        goto done;
    }
    const int64_t nb = plan->n_batches, B = plan->batch_size;
    int64_t shape[3] = {nb, B, strata_plan_mask_width(B)};
    st = strata_npy_save(pb, STRATA_DTYPE_I64, 2, shape, plan->batches, err);
    if (st) goto done;
    if (plan->mask) {
        st = strata_npy_save(pm, STRATA_DTYPE_U8, 3, shape, plan->mask, err);
        if (st) goto done;
    } else if (remove_if_present(pm)) {
        st = strata_error_set(err, STRATA_EIO, "%s: cannot remove a stale mask: %s", pm,
                              strerror(errno));
        goto done;
    }

    int64_t pads = 0, padded = 0;
    for (int64_t b = 0; b < nb; b++) {
        int64_t v = 0;
        for (int64_t i = 0; i < B; i++) v += plan->batches[b * B + i] < 0;
        pads += v;
        padded += v > 0;
    }
    root = cJSON_CreateObject();
    if (!root) goto oom;
    cJSON_AddStringToObject(root, "format", "strata-plan");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "complete_when", "plan.json exists (written last)");
    if (params) { cJSON_AddItemToObject(root, "params", params); params = NULL; }
    cJSON_AddNumberToObject(root, "n_pairs", (double)plan->n_pairs);
    if (plan->pairs_fingerprint) {
        char fp[32];
        snprintf(fp, sizeof fp, "%016" PRIx64, plan->pairs_fingerprint);
        cJSON_AddStringToObject(root, "pairs_fingerprint", fp);
    }
    cJSON_AddNumberToObject(root, "n_batches", (double)nb);
    cJSON_AddNumberToObject(root, "batch_size", (double)B);
    cJSON_AddStringToObject(root, "batches", "batches.npy");
    if (plan->mask) {
        cJSON_AddStringToObject(root, "mask", "mask.npy");
        cJSON_AddStringToObject(root, "mask_format",
                                "uint8 [n_batches, B, ceil(B/8)], bitorder little; bit j of row i "
                                "set: document j excluded from query i's partition");
    } else {
        cJSON_AddNullToObject(root, "mask");
    }
    cJSON_AddNumberToObject(root, "n_masked", (double)plan->n_masked);
    cJSON_AddNumberToObject(root, "n_offdiag", (double)plan->n_offdiag);
    cJSON_AddNumberToObject(root, "masked_fraction",
                            plan->mask && plan->n_offdiag > 0
                                ? (double)plan->n_masked / (double)plan->n_offdiag : 0.0);
    cJSON *counts = cJSON_AddObjectToObject(root, "counts");
    if (!counts) goto oom;
    int64_t merged = 0, dl = 0, dd = 0, dfr = 0;
    for (int s = 0; s < plan->n_stages && plan->stages; s++) {
        merged += plan->stages[s].merged_batches;
        dl += plan->stages[s].dropped_leftover;
        dd += plan->stages[s].dropped_duplicate;
        dfr += plan->stages[s].deferred_duplicate;
    }
    cJSON_AddNumberToObject(counts, "padded_batches", (double)padded);
    cJSON_AddNumberToObject(counts, "pad_slots", (double)pads);
    cJSON_AddNumberToObject(counts, "merged_batches", (double)merged);
    cJSON_AddNumberToObject(counts, "dropped_leftover", (double)dl);
    cJSON_AddNumberToObject(counts, "dropped_duplicate", (double)dd);
    cJSON_AddNumberToObject(counts, "deferred_duplicate", (double)dfr);
    cJSON *stages = cJSON_AddArrayToObject(root, "stages");
    if (!stages) goto oom;
    for (int s = 0; s < plan->n_stages && plan->stages; s++) {
        const strata_plan_stage_info *si = &plan->stages[s];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(stages, o)) { cJSON_Delete(o); goto oom; }
        cJSON_AddStringToObject(o, "strategy", strata_plan_strategy_name(si->strategy));
        if (si->name) cJSON_AddStringToObject(o, "name", si->name);
        cJSON_AddNumberToObject(o, "share", si->share);
        cJSON_AddNumberToObject(o, "first_batch", (double)si->first_batch);
        cJSON_AddNumberToObject(o, "n_batches", (double)si->n_batches);
        cJSON_AddNumberToObject(o, "passes", si->passes);
        cJSON_AddNumberToObject(o, "n_groups", (double)si->n_groups);
        cJSON_AddNumberToObject(o, "merged_batches", (double)si->merged_batches);
        cJSON_AddNumberToObject(o, "padded_batches", (double)si->padded_batches);
        cJSON_AddNumberToObject(o, "dropped_leftover", (double)si->dropped_leftover);
        cJSON_AddNumberToObject(o, "dropped_duplicate", (double)si->dropped_duplicate);
        cJSON_AddNumberToObject(o, "deferred_duplicate", (double)si->deferred_duplicate);
    }
    struct { const char *name; const int32_t *v; } arrs[] = {
        {"batch_source", plan->batch_source},   {"batch_cluster", plan->batch_cluster},
        {"batch_nclusters", plan->batch_nclusters}, {"batch_stage", plan->batch_stage},
        {"batch_epoch", plan->batch_epoch}};
    for (int a = 0; a < 5; a++) {
        if (!arrs[a].v) continue;
        cJSON *x = int_array(arrs[a].v, nb);
        if (!x) goto oom;
        cJSON_AddItemToObject(root, arrs[a].name, x);
    }
    st = strata__json_write(pj, root, err);
    if (!st) {
        const char *unit[3] = {"batches.npy", "plan.json", "mask.npy"};
        st = strata_dir_commit(dir, "plan", unit, plan->mask ? 3 : 2, err);
    }
    goto done;
oom:
    st = strata_error_set(err, STRATA_ENOMEM, "plan save: out of memory");
done:
    cJSON_Delete(root);
    cJSON_Delete(params);
    strata_free(pj);
    strata_free(pb);
    strata_free(pm);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Load                                                                      */
/* ------------------------------------------------------------------------ */

/* Reads "pairs_fingerprint" of plan.json (0 when absent). */
static strata_status read_fingerprint(const cJSON *root, const char *path, uint64_t *fp,
                                      strata_error *err) {
    *fp = 0;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "pairs_fingerprint");
    if (!f) return STRATA_OK; /* a plan from before fingerprints */
    char *end = NULL;
    if (cJSON_IsString(f) && strlen(f->valuestring) == 16)
        *fp = strtoull(f->valuestring, &end, 16);
    if (!end || *end || *fp == 0)
        return strata_error_set(err, STRATA_EFORMAT,
                                "%s: field \"pairs_fingerprint\" must be 16 hex digits", path);
    return STRATA_OK;
}

static strata_status read_int_array(const cJSON *root, const char *name, int64_t nb,
                                    int32_t **out, const char *path, strata_error *err) {
    *out = NULL;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!a) return STRATA_OK;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != nb)
        return strata_error_set(err, STRATA_EFORMAT,
                                "%s: field \"%s\" must be an array of %lld integers", path, name,
                                (long long)nb);
    int32_t *v = strata_malloc_array((size_t)(nb ? nb : 1), sizeof(int32_t));
    if (!v) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    int64_t i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, a) {
        int64_t xv;
        if (!strata__json_int(x, INT32_MIN, INT32_MAX, &xv)) {
            strata_free(v);
            return strata_error_set(err, STRATA_EFORMAT, "%s: field \"%s\"[%lld] is not an integer",
                                    path, name, (long long)i);
        }
        v[i++] = (int32_t)xv;
    }
    *out = v;
    return STRATA_OK;
}

strata_status strata_plan_load(strata_plan *out, const char *dir, strata_error *err) {
    memset(out, 0, sizeof *out);
    char *pj = strata_path_join(dir, "plan.json");
    char *pb = strata_path_join(dir, "batches.npy");
    char *pm = strata_path_join(dir, "mask.npy");
    cJSON *root = NULL;
    strata_npy nb_npy = {0}, m_npy = {0};
    strata_status st = STRATA_OK;
    if (!pj || !pb || !pm) { st = strata_error_set(err, STRATA_ENOMEM, "out of memory"); goto done; }
    if ((st = strata_dir_check(dir, "plan", NULL, err))) goto done;
    if (access(pj, F_OK) != 0) {
        st = strata_error_set(err, STRATA_EIO,
                              "%s: missing — %s is not a complete plan (plan.json is written last)",
                              pj, dir);
        goto done;
    }
    st = strata__json_read(pj, &root, err);
    if (st) goto done;
    st = strata_npy_load(&nb_npy, pb, err);
    if (st) goto done;
    if (nb_npy.dtype != STRATA_DTYPE_I64 || nb_npy.ndim != 2 || nb_npy.shape[0] < 1 ||
        nb_npy.shape[1] < 1) {
        st = strata_error_set(err, STRATA_EFORMAT,
                              "%s: expected int64 [n_batches, B], got %s with %d dims", pb,
                              strata_dtype_name(nb_npy.dtype), nb_npy.ndim);
        goto done;
    }
    const int64_t nb = nb_npy.shape[0], B = nb_npy.shape[1], W = strata_plan_mask_width(B);
    const cJSON *jb = cJSON_GetObjectItemCaseSensitive(root, "batch_size");
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(root, "n_batches");
    int64_t jv;
    if ((jb && (!strata__json_int(jb, 1, INT64_MAX, &jv) || jv != B)) ||
        (jn && (!strata__json_int(jn, 1, INT64_MAX, &jv) || jv != nb))) {
        st = strata_error_set(err, STRATA_EFORMAT,
                              "%s: \"batch_size\"/\"n_batches\" disagree with %s [%lld, %lld]", pj,
                              pb, (long long)nb, (long long)B);
        goto done;
    }
    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(root, "n_pairs");
    if (jp && !strata__json_int(jp, 0, INT64_MAX, &out->n_pairs)) {
        st = strata_error_set(err, STRATA_EFORMAT,
                              "%s: field \"n_pairs\" must be a non-negative integer", pj);
        goto done;
    }
    if ((st = read_fingerprint(root, pj, &out->pairs_fingerprint, err))) goto done;
    for (int64_t t = 0; t < nb * B; t++) {
        int64_t v = ((const int64_t *)nb_npy.data)[t];
        if (v < -1 || (out->n_pairs > 0 && v >= out->n_pairs)) {
            st = strata_error_set(err, STRATA_EFORMAT,
                                  "%s: batch %lld slot %lld: pair index %lld outside [-1, %lld)",
                                  pb, (long long)(t / B), (long long)(t % B), (long long)v,
                                  (long long)out->n_pairs);
            goto done;
        }
    }
    out->n_batches = nb;
    out->batch_size = B;
    out->batches = strata_malloc_array((size_t)nb * (size_t)B, sizeof(int64_t));
    if (!out->batches) { st = strata_error_set(err, STRATA_ENOMEM, "out of memory"); goto done; }
    memcpy(out->batches, nb_npy.data, (size_t)nb * (size_t)B * sizeof(int64_t));
    if (access(pm, F_OK) == 0) {
        st = strata_npy_load(&m_npy, pm, err);
        if (st) goto done;
        if (m_npy.dtype != STRATA_DTYPE_U8 || m_npy.ndim != 3 || m_npy.shape[0] != nb ||
            m_npy.shape[1] != B || m_npy.shape[2] != W) {
            st = strata_error_set(err, STRATA_EFORMAT,
                                  "%s: expected uint8 [%lld, %lld, %lld] to match %s", pm,
                                  (long long)nb, (long long)B, (long long)W, pb);
            goto done;
        }
        out->mask = strata_malloc((size_t)nb * (size_t)B * (size_t)W);
        if (!out->mask) { st = strata_error_set(err, STRATA_ENOMEM, "out of memory"); goto done; }
        memcpy(out->mask, m_npy.data, (size_t)nb * (size_t)B * (size_t)W);
        const cJSON *jm = cJSON_GetObjectItemCaseSensitive(root, "n_masked");
        const cJSON *jo = cJSON_GetObjectItemCaseSensitive(root, "n_offdiag");
        if ((jm && !strata__json_int(jm, 0, INT64_MAX, &out->n_masked)) ||
            (jo && !strata__json_int(jo, 0, INT64_MAX, &out->n_offdiag))) {
            st = strata_error_set(err, STRATA_EFORMAT,
                                  "%s: fields \"n_masked\" and \"n_offdiag\" must be "
                                  "non-negative integers", pj);
            goto done;
        }
    }
    st = read_int_array(root, "batch_source", nb, &out->batch_source, pj, err);
    if (!st) st = read_int_array(root, "batch_cluster", nb, &out->batch_cluster, pj, err);
    if (!st) st = read_int_array(root, "batch_nclusters", nb, &out->batch_nclusters, pj, err);
    if (!st) st = read_int_array(root, "batch_stage", nb, &out->batch_stage, pj, err);
    if (!st) st = read_int_array(root, "batch_epoch", nb, &out->batch_epoch, pj, err);
done:
    strata_npy_free(&nb_npy);
    strata_npy_free(&m_npy);
    cJSON_Delete(root);
    strata_free(pj);
    strata_free(pb);
    strata_free(pm);
    if (st) strata_plan_free(out);
    return st;
}

strata_status strata_plan_check_pairs(const char *dir, uint64_t pairs_fingerprint,
                                      const char *pairs_name, strata_error *err) {
    strata_status st = strata_dir_check(dir, "plan", NULL, err);
    if (st) return st;
    char *pj = strata_path_join(dir, "plan.json");
    if (!pj) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    cJSON *root = NULL;
    uint64_t fp = 0;
    if (access(pj, F_OK) != 0)
        st = strata_error_set(err, STRATA_EFORMAT,
                              "%s: missing (the plan is incomplete; run `strata plan` again)", pj);
    if (!st) st = strata__json_read(pj, &root, err);
    if (!st) st = read_fingerprint(root, pj, &fp, err);
    if (!st && fp && pairs_fingerprint && fp != pairs_fingerprint)
        st = strata_error_set(err, STRATA_EFORMAT,
                              "%s: the plan was made for other pairs (fingerprint %016" PRIx64
                              ") than %s (%016" PRIx64 "); plan these pairs with `strata plan`",
                              pj, fp, pairs_name ? pairs_name : "these", pairs_fingerprint);
    cJSON_Delete(root);
    strata_free(pj);
    return st;
}
