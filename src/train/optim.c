/*
 * optim.c — learning-rate schedule, gradient-norm clipping and AdamW
 * (torch.optim.AdamW semantics).
 */
#include "strata/train.h"

#include <math.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

double strata_train_lr(double lr, int64_t warmup, int64_t total, int64_t step) {
    if (warmup > 0 && step < warmup) return lr * (double)(step + 1) / (double)warmup;
    if (total <= warmup) return lr;
    double f = (double)(total - step) / (double)(total - warmup);
    return f > 0 ? lr * f : 0.0;
}

double strata_train_clip(float *g, size_t n, double max_norm) {
    /* fixed blocks summed in order: same bits for any thread count. The sums
     * of up to GRP blocks at a time live on the stack: nothing to allocate,
     * so nothing can fail (a fallback would have given other bits). */
    enum { BLK = 4096, GRP = 256 };
    size_t nb = (n + BLK - 1) / BLK;
    double ss = 0;
    for (size_t b0 = 0; b0 < nb; b0 += GRP) {
        size_t b1 = b0 + GRP < nb ? b0 + GRP : nb;
        double part[GRP];
#pragma omp parallel for schedule(static) if (n >= 65536)
        for (size_t b = b0; b < b1; b++) {
            size_t i1 = (b + 1) * BLK < n ? (b + 1) * BLK : n;
            double s = 0;
            for (size_t i = b * BLK; i < i1; i++) s += (double)g[i] * g[i];
            part[b - b0] = s;
        }
        for (size_t b = b0; b < b1; b++) ss += part[b - b0];
    }
    double norm = sqrt(ss);
    if (max_norm > 0 && norm > max_norm) {
        float coef = (float)(max_norm / (norm + 1e-6));
#pragma omp parallel for schedule(static) if (n >= 65536)
        for (size_t i = 0; i < n; i++) g[i] *= coef;
    }
    return norm;
}

void strata_adamw_update(float *p, const float *g, float *m, float *v,
                         size_t n, double lr, double beta1, double beta2,
                         double eps, double wd, int64_t t) {
    double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
    float step_size = (float)(lr / bc1);
    float bc2_sqrt = (float)sqrt(bc2);
    float decay = (float)(1.0 - lr * wd);
    float b1 = (float)beta1, b2 = (float)beta2, e = (float)eps;
    /* blocks of 4096 (a multiple of 4): SSE lanes do the scalar operations
     * in the same order (IEEE sqrt and division), so every element gets the
     * same bits whichever path or thread handles it */
    enum { BLK = 4096 };
    size_t nb = (n + BLK - 1) / BLK;
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t b = 0; b < nb; b++) {
        size_t i = b * BLK, i1 = i + BLK < n ? i + BLK : n;
#if defined(__SSE2__)
        const __m128 vdecay = _mm_set1_ps(decay), vb1 = _mm_set1_ps(b1), vb2 = _mm_set1_ps(b2);
        const __m128 v1b1 = _mm_set1_ps(1.0f - b1), v1b2 = _mm_set1_ps(1.0f - b2);
        const __m128 vstep = _mm_set1_ps(step_size), vbc2 = _mm_set1_ps(bc2_sqrt), ve = _mm_set1_ps(e);
        for (; i + 4 <= i1; i += 4) {
            __m128 gi = _mm_loadu_ps(g + i);
            __m128 pi = _mm_mul_ps(_mm_loadu_ps(p + i), vdecay);
            __m128 mi = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(m + i)), _mm_mul_ps(v1b1, gi));
            __m128 vi = _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(v + i)), _mm_mul_ps(_mm_mul_ps(v1b2, gi), gi));
            _mm_storeu_ps(m + i, mi);
            _mm_storeu_ps(v + i, vi);
            __m128 den = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vi), vbc2), ve);
            _mm_storeu_ps(p + i, _mm_sub_ps(pi, _mm_mul_ps(vstep, _mm_div_ps(mi, den))));
        }
#endif
        for (; i < i1; i++) {
            float gi = g[i];
            float pi = p[i] * decay;
            float mi = b1 * m[i] + (1.0f - b1) * gi;
            float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
            m[i] = mi;
            v[i] = vi;
            p[i] = pi - step_size * (mi / (sqrtf(vi) / bc2_sqrt + e));
        }
    }
}

double strata_train_optimizer_step(const strata_bert_config *cfg,
                                   float *params, float *grads, float *m,
                                   float *v, double lr, double wd,
                                   double clip, double beta1, double beta2,
                                   double eps, int64_t t) {
    size_t s[STRATA_BERT_NUM_TENSORS];
    size_t n = strata_bert_param_sizes(cfg, s);
    double norm = strata_train_clip(grads, n, clip);
    size_t off = 0;
    for (int i = 0; i < STRATA_BERT_NUM_TENSORS; i++) {
        strata_adamw_update(params + off, grads + off, m + off, v + off, s[i], lr,
                            beta1, beta2, eps, strata_train_tensor_decays(i) ? wd : 0.0, t);
        off += s[i];
    }
    return norm;
}
