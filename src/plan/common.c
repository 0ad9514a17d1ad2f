/*
 * common.c — helpers shared by the files of src/plan/ (plan_internal.h):
 * row norms, the RNG stream ids of the planner, and the gathering of a
 * batch's rows for the mask and hardness kernels.
 */
#include <math.h>
#include <string.h>

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

int64_t plan__gather_batch(const int64_t *idx, int64_t B, const float *fq, const float *fd,
                           int64_t dim, const float *qn, const float *dn, float *scratch) {
    float *Qb = scratch;                          /* [B, dim] */
    float *Db = Qb + (size_t)B * (size_t)dim;     /* [B, dim] */
    float *S = Db + (size_t)B * (size_t)dim;      /* [B, B]   */
    float *iq = S + (size_t)B * (size_t)B;        /* [B] 1/||q_i|| (0: pad/zero) */
    float *id = iq + B;                           /* [B] 1/||d_j||            */
    int64_t n = 0;
    for (int64_t i = 0; i < B; i++) {
        float *qr = Qb + (size_t)i * (size_t)dim, *dr = Db + (size_t)i * (size_t)dim;
        if (idx[i] < 0) {
            memset(qr, 0, (size_t)dim * sizeof(float));
            memset(dr, 0, (size_t)dim * sizeof(float));
            iq[i] = id[i] = 0;
            continue;
        }
        n++;
        if (i + 4 < B && idx[i + 4] >= 0) { /* rows are scattered: fetch ahead */
            __builtin_prefetch(fq + (size_t)idx[i + 4] * (size_t)dim);
            __builtin_prefetch(fd + (size_t)idx[i + 4] * (size_t)dim);
        }
        memcpy(qr, fq + (size_t)idx[i] * (size_t)dim, (size_t)dim * sizeof(float));
        memcpy(dr, fd + (size_t)idx[i] * (size_t)dim, (size_t)dim * sizeof(float));
        float a = qn[idx[i]], b = dn[idx[i]];
        iq[i] = a > 0 ? 1.0f / a : 0.0f;
        id[i] = b > 0 ? 1.0f / b : 0.0f;
    }
    return n;
}
