/*
 * optim.c — learning-rate schedule, gradient-norm clipping and AdamW
 * (torch.optim.AdamW semantics).
 */
#include "strata/train.h"

#include <math.h>

double strata_train_lr(double lr, int64_t warmup, int64_t total, int64_t step) {
    if (warmup > 0 && step < warmup) return lr * (double)(step + 1) / (double)warmup;
    if (total <= warmup) return lr;
    double f = (double)(total - step) / (double)(total - warmup);
    return f > 0 ? lr * f : 0.0;
}

double strata_train_clip(float *g, size_t n, double max_norm) {
    /* fixed blocks summed in order: same bits for any thread count */
    enum { BLK = 4096 };
    size_t nb = (n + BLK - 1) / BLK;
    double *part = strata_malloc_array(nb ? nb : 1, sizeof(double));
    double ss = 0;
    if (part) {
#pragma omp parallel for schedule(static) if (n >= 65536)
        for (size_t b = 0; b < nb; b++) {
            size_t i1 = (b + 1) * BLK < n ? (b + 1) * BLK : n;
            double s = 0;
            for (size_t i = b * BLK; i < i1; i++) s += (double)g[i] * g[i];
            part[b] = s;
        }
        for (size_t b = 0; b < nb; b++) ss += part[b];
        strata_free(part);
    } else {
        for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
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
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        float pi = p[i] * decay;
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - step_size * (mi / (sqrtf(vi) / bc2_sqrt + e));
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
