/*
 * fuzz_clusters.c — libFuzzer target for the cluster assignment reader
 * (strata_plan_clusters_load on a `strata cluster` folder): the input's
 * parts (FUZZ_SEP) are assign.npy and centroids.npy (absent when there is
 * one part).
 *
 * An accepted assignment must keep every id in [0, K), and its centroids,
 * when present, [K, cdim] finite values.
 */
#include <math.h>

#include "fuzz_common.h"
#include "strata/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const names[2] = {"assign.npy", "centroids.npy"};
    const char *dir = fuzz_subdir("clusters");
    fuzz_write_parts(dir, data, size, names, 2, 1);
    strata_plan_clusters c;
    strata_error err;
    strata_error_clear(&err);
    strata_status st = strata_plan_clusters_load(&c, dir, NULL, 0, &err);
    fuzz_check_error(st, &err);
    if (st == STRATA_OK) {
        if (c.n < 0 || c.k < 0 || (c.n > 0 && c.k < 1)) __builtin_trap();
        for (int64_t i = 0; i < c.n; i++)
            if (c.assign[i] < 0 || c.assign[i] >= c.k) __builtin_trap();
        if (c.centroids) {
            if (c.cdim < 1) __builtin_trap();
            for (int64_t t = 0; t < c.k * c.cdim; t++)
                if (!isfinite(c.centroids[t])) __builtin_trap();
        }
        strata_plan_clusters_free(&c);
    } else if (c.assign || c.centroids) {
        __builtin_trap();
    }
    return 0;
}
