/*
 * common.c — helpers shared by the files of src/plan/ (plan_internal.h):
 * row norms and the RNG stream ids of the planner.
 */
#include <math.h>

#include "plan/plan_internal.h"
#include "core/internal.h"

void plan__row_norms(const float *x, int64_t n, int64_t dim, float *out) {
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float *r = x + (size_t)i * (size_t)dim;
        double s = 0;
        for (int64_t k = 0; k < dim; k++) s += (double)r[k] * r[k];
        out[i] = (float)sqrt(s);
    }
}

uint64_t plan__stream(uint64_t tag, uint64_t a, uint64_t b, uint64_t c) {
    uint64_t v[4] = {tag, a, b, c};
    return strata_hash64(v, sizeof v, 0x9a7e5eedull);
}
