/*
 * kernels.c — forward kernels of the BERT encoder (see kernels.h for the
 * contract: pure, OpenMP inside, thread-count-free partitions, a naive
 * reference beside each fast kernel).
 */
#include "encoder/kernels.h"
#include "core/internal.h"
#include "core/gemm.h"
#include "strata/io.h"

#include <cblas.h>
#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ------------------------------------------------------------------------ */
/* Embeddings                                                                */
/* ------------------------------------------------------------------------ */

void strata_k_embed_forward(float *out, const int32_t *ids, const float *wte,
                            const float *wpe, const float *wtt, int B, int T,
                            int C) {
    int64_t N = (int64_t)B * T;
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t n = 0; n < N; n++) {
        int t = (int)(n % T);
        const float *we = wte + (size_t)ids[n] * C;
        const float *pe = wpe + (size_t)t * C;
        float *o = out + (size_t)n * C;
        for (int c = 0; c < C; c++) o[c] = we[c] + pe[c] + wtt[c];
    }
}

/* ------------------------------------------------------------------------ */
/* LayerNorm                                                                 */
/* ------------------------------------------------------------------------ */

/* One row: statistics in double, two passes (mean, then centred variance). */
static inline void ln_row(float *o, float *mean, float *rstd, const float *x,
                          const float *w, const float *b, int C, float eps) {
    double s = 0.0;
    for (int c = 0; c < C; c++) s += x[c];
    double m = s / C;
    double v = 0.0;
    for (int c = 0; c < C; c++) {
        double d = x[c] - m;
        v += d * d;
    }
    v /= C;
    double r = 1.0 / sqrt(v + (double)eps);
    float mf = (float)m, rf = (float)r;
    for (int c = 0; c < C; c++) o[c] = (x[c] - mf) * rf * w[c] + b[c];
    if (mean) *mean = mf;
    if (rstd) *rstd = rf;
}

void strata_k_layernorm_forward(float *out, float *mean, float *rstd,
                                const float *inp, const float *w,
                                const float *b, int64_t N, int C, float eps) {
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t n = 0; n < N; n++)
        ln_row(out + (size_t)n * C, mean ? mean + n : NULL,
               rstd ? rstd + n : NULL, inp + (size_t)n * C, w, b, C, eps);
}

void strata_k_layernorm_forward_naive(float *out, float *mean, float *rstd,
                                      const float *inp, const float *w,
                                      const float *b, int64_t N, int C,
                                      float eps) {
    for (int64_t n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        double m = 0.0, v = 0.0;
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        v /= C;
        double r = 1.0 / sqrt(v + eps);
        for (int c = 0; c < C; c++)
            out[(size_t)n * C + c] = (float)((x[c] - m) * r * w[c] + b[c]);
        if (mean) mean[n] = (float)m;
        if (rstd) rstd[n] = (float)r;
    }
}

void strata_k_add_layernorm_forward(float *out, float *sum, float *mean,
                                    float *rstd, const float *a,
                                    const float *r, const float *w,
                                    const float *b, int64_t N, int C,
                                    float eps) {
#pragma omp parallel
    {
        /* a row of s = a + r on the stack when the caller keeps no copy */
        float row[C > 0 ? C : 1];
#pragma omp for schedule(dynamic, 64)
        for (int64_t n = 0; n < N; n++) {
            float *s = sum ? sum + (size_t)n * C : row;
            const float *ar = a + (size_t)n * C, *rr = r + (size_t)n * C;
            for (int c = 0; c < C; c++) s[c] = ar[c] + rr[c];
            ln_row(out + (size_t)n * C, mean ? mean + n : NULL,
                   rstd ? rstd + n : NULL, s, w, b, C, eps);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Linear layers                                                             */
/* ------------------------------------------------------------------------ */

/* One block of rows [n0, n0 + m): out = bias broadcast, then out += x W^T. */
static inline void linear_block(float *out, const float *inp,
                                const float *weight, const float *bias,
                                int m, int IC, int OC) {
    if (bias) {
        for (int i = 0; i < m; i++)
            memcpy(out + (size_t)i * OC, bias, sizeof(float) * (size_t)OC);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, OC, IC, 1.0f, inp,
                IC, weight, IC, bias ? 1.0f : 0.0f, out, OC);
}

void strata_k_linear_forward(float *out, const float *inp,
                             const float *weight, const float *bias,
                             int64_t N, int IC, int OC) {
    int64_t nblk = (N + STRATA_K_ROW_BLOCK - 1) / STRATA_K_ROW_BLOCK;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t blk = 0; blk < nblk; blk++) {
        int64_t n0 = blk * STRATA_K_ROW_BLOCK;
        int m = (int)(N - n0 < STRATA_K_ROW_BLOCK ? N - n0 : STRATA_K_ROW_BLOCK);
        linear_block(out + (size_t)n0 * OC, inp + (size_t)n0 * IC, weight, bias,
                     m, IC, OC);
    }
}

void strata_k_linear_forward_naive(float *out, const float *inp,
                                   const float *weight, const float *bias,
                                   int64_t N, int IC, int OC) {
    for (int64_t n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0.0;
            for (int i = 0; i < IC; i++)
                s += (double)inp[(size_t)n * IC + i] * weight[(size_t)o * IC + i];
            out[(size_t)n * OC + o] = (float)s;
        }
}

/* ------------------------------------------------------------------------ */
/* Activations                                                               */
/* ------------------------------------------------------------------------ */

/* erf as a rational function of x on [-4, 4] (odd numerator of degree 13,
 * even denominator of degree 8; the coefficients of XLA/Eigen's float erf).
 * |error| < 5e-7 against double erf; outside [-4, 4] erf is +-1 in float. */
static inline float erf_rational(float x) {
    x = x < -4.0f ? -4.0f : (x > 4.0f ? 4.0f : x);
    float x2 = x * x;
    float p = -2.72614225801306e-10f;
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 + -2.10102402082508e-06f;
    p = p * x2 + -5.69250639462346e-05f;
    p = p * x2 + -7.34990630326855e-04f;
    p = p * x2 + -2.95459980854025e-03f;
    p = p * x2 + -1.60960333262415e-02f;
    p = p * x;
    float q = -1.45660718464996e-05f;
    q = q * x2 + -2.13374055278905e-04f;
    q = q * x2 + -1.68282697438203e-03f;
    q = q * x2 + -7.37332916720468e-03f;
    q = q * x2 + -1.42647390514189e-02f;
    return p / q;
}

float strata_k_erf(float x) { return erf_rational(x); }

#if defined(__SSE2__)
/* erf_rational on 4 lanes, the same operations in the same order (so the
 * vector and scalar paths agree bit for bit on non-NaN input). */
static inline __m128 erf4(__m128 x) {
    x = _mm_min_ps(_mm_max_ps(x, _mm_set1_ps(-4.0f)), _mm_set1_ps(4.0f));
    __m128 x2 = _mm_mul_ps(x, x);
    __m128 p = _mm_set1_ps(-2.72614225801306e-10f);
    p = _mm_add_ps(_mm_mul_ps(p, x2), _mm_set1_ps(2.77068142495902e-08f));
    p = _mm_add_ps(_mm_mul_ps(p, x2), _mm_set1_ps(-2.10102402082508e-06f));
    p = _mm_add_ps(_mm_mul_ps(p, x2), _mm_set1_ps(-5.69250639462346e-05f));
    p = _mm_add_ps(_mm_mul_ps(p, x2), _mm_set1_ps(-7.34990630326855e-04f));
    p = _mm_add_ps(_mm_mul_ps(p, x2), _mm_set1_ps(-2.95459980854025e-03f));
    p = _mm_add_ps(_mm_mul_ps(p, x2), _mm_set1_ps(-1.60960333262415e-02f));
    p = _mm_mul_ps(p, x);
    __m128 q = _mm_set1_ps(-1.45660718464996e-05f);
    q = _mm_add_ps(_mm_mul_ps(q, x2), _mm_set1_ps(-2.13374055278905e-04f));
    q = _mm_add_ps(_mm_mul_ps(q, x2), _mm_set1_ps(-1.68282697438203e-03f));
    q = _mm_add_ps(_mm_mul_ps(q, x2), _mm_set1_ps(-7.37332916720468e-03f));
    q = _mm_add_ps(_mm_mul_ps(q, x2), _mm_set1_ps(-1.42647390514189e-02f));
    return _mm_div_ps(p, q);
}
#endif

static inline void gelu_span(float *out, const float *inp, int64_t n) {
    int64_t i = 0;
#if defined(__SSE2__)
    const __m128 half = _mm_set1_ps(0.5f), one = _mm_set1_ps(1.0f);
    const __m128 rs2 = _mm_set1_ps(0.70710678118654752f);
    for (; i + 4 <= n; i += 4) {
        __m128 x = _mm_loadu_ps(inp + i);
        __m128 e = erf4(_mm_mul_ps(x, rs2));
        _mm_storeu_ps(out + i, _mm_mul_ps(_mm_mul_ps(half, x), _mm_add_ps(one, e)));
    }
#endif
    for (; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + erf_rational(x * 0.70710678118654752f));
    }
}

void strata_k_gelu_forward(float *out, const float *inp, int64_t n) {
    const int64_t span = 16384;
    int64_t nblk = (n + span - 1) / span;
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < nblk; blk++) {
        int64_t i0 = blk * span, m = n - i0 < span ? n - i0 : span;
        gelu_span(out + i0, inp + i0, m);
    }
}

void strata_k_gelu_forward_naive(float *out, const float *inp, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double x = inp[i];
        out[i] = (float)(0.5 * x * (1.0 + erf(x / sqrt(2.0))));
    }
}

void strata_k_linear_gelu_forward(float *out, float *pre, const float *inp,
                                  const float *weight, const float *bias,
                                  int64_t N, int IC, int OC) {
    int64_t nblk = (N + STRATA_K_ROW_BLOCK - 1) / STRATA_K_ROW_BLOCK;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t blk = 0; blk < nblk; blk++) {
        int64_t n0 = blk * STRATA_K_ROW_BLOCK;
        int m = (int)(N - n0 < STRATA_K_ROW_BLOCK ? N - n0 : STRATA_K_ROW_BLOCK);
        float *o = out + (size_t)n0 * OC;
        float *y = pre ? pre + (size_t)n0 * OC : o;
        linear_block(y, inp + (size_t)n0 * IC, weight, bias, m, IC, OC);
        gelu_span(o, y, (int64_t)m * OC);
    }
}

/* ------------------------------------------------------------------------ */
/* Reduced-precision linear layers                                           */
/* ------------------------------------------------------------------------ */

size_t strata_k_linear_lowp_scratch(const struct strata_gemm_w *w) {
    return (strata_gemm_w_scratch(w, STRATA_K_ROW_BLOCK) + 63) & ~(size_t)63;
}

int strata_k_linear_lowp_forward(float *out, float *pre, const float *inp,
                                 const struct strata_gemm_w *w,
                                 const float *bias, int64_t N, int IC, int OC,
                                 int gelu, void *scratch) {
    int64_t nblk = (N + STRATA_K_ROW_BLOCK - 1) / STRATA_K_ROW_BLOCK;
    size_t per = strata_k_linear_lowp_scratch(w);
    int bad = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : bad)
    for (int64_t blk = 0; blk < nblk; blk++) {
        int64_t n0 = blk * STRATA_K_ROW_BLOCK;
        int m = (int)(N - n0 < STRATA_K_ROW_BLOCK ? N - n0 : STRATA_K_ROW_BLOCK);
        float *o = out + (size_t)n0 * OC;
        float *y = gelu && pre ? pre + (size_t)n0 * OC : o;
        bad |= strata_gemm_w_apply(w, y, inp + (size_t)n0 * IC, IC, m, bias, 0,
                                   (char *)scratch + (size_t)strata__thread_num() * per) != 0;
        if (gelu) gelu_span(o, y, (int64_t)m * OC);
    }
    return bad ? -1 : 0;
}

static float bf16_round(float x) {
    return strata_bf16_to_f32(strata_f32_to_bf16(x));
}

void strata_k_linear_lowp_forward_naive(float *out, const float *inp,
                                        const float *weight, const float *bias,
                                        int64_t N, int IC, int OC, int prec) {
    if (prec != 2) {
        for (int64_t n = 0; n < N; n++)
            for (int o = 0; o < OC; o++) {
                double s = 0.0;
                for (int i = 0; i < IC; i++)
                    s += (double)bf16_round(inp[(size_t)n * IC + i]) *
                         bf16_round(weight[(size_t)o * IC + i]);
                out[(size_t)n * OC + o] = (float)s + (bias ? bias[o] : 0.0f);
            }
        return;
    }
    for (int64_t n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * IC;
        float mx = 0.0f;
        for (int i = 0; i < IC; i++) mx = fmaxf(mx, fabsf(x[i]));
        float sx = mx > 0.0f ? mx / 127.0f : 1.0f;
        for (int o = 0; o < OC; o++) {
            const float *w = weight + (size_t)o * IC;
            float mw = 0.0f;
            for (int i = 0; i < IC; i++) mw = fmaxf(mw, fabsf(w[i]));
            float sw = mw > 0.0f ? mw / 127.0f : 1.0f;
            int64_t s = 0;
            for (int i = 0; i < IC; i++)
                s += (int64_t)lrintf(x[i] / sx) * (int64_t)lrintf(w[i] / sw);
            out[(size_t)n * OC + o] = (float)((double)s * sx * sw) + (bias ? bias[o] : 0.0f);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Self-attention                                                            */
/* ------------------------------------------------------------------------ */

size_t strata_k_attention_scratch(int T) { return (size_t)T * (size_t)T; }

/* exp(x) for the softmax (x <= 0 after the max is subtracted), written so
 * the compiler vectorizes it: Cody-Waite range reduction and Cephes' expf
 * polynomial (relative error < 2e-7 on [-87, 0], tested against exp()). */
static inline float exp_simd(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    /* round to nearest with the 1.5 * 2^23 trick (vectorizes without SSE4.1) */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { uint32_t u; float f; } sc;
    sc.u = (uint32_t)((int32_t)n + 127) << 23;
    return p * sc.f;
}

float strata_k_exp(float x) { return exp_simd(x); }

#if defined(__SSE2__)
/* exp_simd on 4 lanes, same operations in the same order. */
static inline __m128 exp4(__m128 x) {
    x = _mm_min_ps(_mm_max_ps(x, _mm_set1_ps(-87.0f)), _mm_set1_ps(88.0f));
    const __m128 magic = _mm_set1_ps(12582912.0f);
    __m128 n = _mm_sub_ps(_mm_add_ps(_mm_mul_ps(x, _mm_set1_ps(1.44269504088896341f)), magic),
                          magic);
    __m128 r = _mm_add_ps(_mm_sub_ps(x, _mm_mul_ps(n, _mm_set1_ps(0.693359375f))),
                          _mm_mul_ps(n, _mm_set1_ps(2.12194440e-4f)));
    __m128 p = _mm_set1_ps(1.9875691500e-4f);
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.3981999507e-3f));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(8.3334519073e-3f));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(4.1665795894e-2f));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.6666665459e-1f));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(5.0000001201e-1f));
    p = _mm_add_ps(_mm_add_ps(_mm_mul_ps(_mm_mul_ps(p, r), r), r), _mm_set1_ps(1.0f));
    __m128i e = _mm_slli_epi32(_mm_add_epi32(_mm_cvttps_epi32(n), _mm_set1_epi32(127)), 23);
    return _mm_mul_ps(p, _mm_castsi128_ps(e));
}
#endif

/* GELU backward: cdf from the forward's erf, pdf from the softmax's exp
 * (relative error < 2e-7), 4 lanes at a time; the scalar tail does the same
 * operations in the same order. */
void strata_k_gelu_grad(float *dinp, const float *inp, const float *dout, int64_t n) {
    const float inv_sqrt_2pi = 0.3989422804014327f;
    int64_t i = 0;
#if defined(__SSE2__)
    const __m128 rs2 = _mm_set1_ps(0.70710678118654752f), half = _mm_set1_ps(0.5f);
    const __m128 one = _mm_set1_ps(1.0f), mhalf = _mm_set1_ps(-0.5f), isp = _mm_set1_ps(inv_sqrt_2pi);
    for (; i + 4 <= n; i += 4) {
        __m128 x = _mm_loadu_ps(inp + i);
        __m128 cdf = _mm_mul_ps(half, _mm_add_ps(one, erf4(_mm_mul_ps(x, rs2))));
        __m128 pdf = _mm_mul_ps(isp, exp4(_mm_mul_ps(_mm_mul_ps(mhalf, x), x)));
        __m128 d = _mm_mul_ps(_mm_loadu_ps(dout + i), _mm_add_ps(cdf, _mm_mul_ps(x, pdf)));
        _mm_storeu_ps(dinp + i, d);
    }
#endif
    for (; i < n; i++) {
        float x = inp[i];
        float cdf = 0.5f * (1.0f + erf_rational(x * 0.70710678118654752f));
        float pdf = inv_sqrt_2pi * exp_simd(-0.5f * x * x);
        dinp[i] = dout[i] * (cdf + x * pdf);
    }
}

/* Fused masked softmax over the first len entries of each of `rows` rows of
 * S (row stride T), scaled by `scale`; entries [len, T) set to 0. The sum
 * runs in 4 lanes then the tail (a fixed order: thread-count free). */
static inline void softmax_rows(float *S, int rows, int len, int T,
                                float scale) {
    for (int i = 0; i < rows; i++) {
        float *s = S + (size_t)i * T;
        float mx = -INFINITY;
        for (int j = 0; j < len; j++) mx = s[j] > mx ? s[j] : mx;
        float sum = 0.0f;
        int j = 0;
#if defined(__SSE2__)
        __m128 vs = _mm_setzero_ps();
        const __m128 vmx = _mm_set1_ps(mx), vsc = _mm_set1_ps(scale);
        for (; j + 4 <= len; j += 4) {
            __m128 e = exp4(_mm_mul_ps(_mm_sub_ps(_mm_loadu_ps(s + j), vmx), vsc));
            _mm_storeu_ps(s + j, e);
            vs = _mm_add_ps(vs, e);
        }
        float lanes[4];
        _mm_storeu_ps(lanes, vs);
        sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#endif
        for (; j < len; j++) {
            float e = exp_simd((s[j] - mx) * scale);
            s[j] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
        for (j = 0; j < len; j++) s[j] *= inv;
        for (j = len; j < T; j++) s[j] = 0.0f;
    }
}

void strata_k_attention_forward(float *out, float *att, float *scratch,
                                const float *q, const float *k,
                                const float *v, int ld, const int *lengths,
                                int B, int T, int C, int H) {
    int hs = C / H;
    float scale = 1.0f / sqrtf((float)hs);
    int64_t BH = (int64_t)B * H;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < BH; bh++) {
        int b = (int)(bh / H), h = (int)(bh % H);
        int len = lengths[b];
        float *S = att ? att + (size_t)bh * T * T
                       : scratch + (size_t)strata__thread_num() * strata_k_attention_scratch(T);
        size_t base = (size_t)b * T * ld + (size_t)h * hs;
        const float *Q = q + base, *K = k + base, *V = v + base;
        float *O = out + (size_t)b * T * C + (size_t)h * hs;
        /* S[T, len] = Q K^T (unscaled; the scale is folded into the softmax) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, len, hs, 1.0f,
                    Q, ld, K, ld, 0.0f, S, T);
        softmax_rows(S, T, len, T, scale);
        /* O[T, hs] = P[T, len] V[len, hs] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, len, 1.0f,
                    S, T, V, ld, 0.0f, O, C);
    }
}

void strata_k_attention_forward_naive(float *out, float *att, const float *q,
                                      const float *k, const float *v, int ld,
                                      const int *lengths, int B, int T, int C,
                                      int H) {
    int hs = C / H;
    double scale = 1.0 / sqrt((double)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++) {
                int len = lengths[b];
                const float *qi = q + ((size_t)b * T + i) * ld + (size_t)h * hs;
                double mx = -INFINITY, sum = 0.0;
                double p[T > 0 ? T : 1];
                for (int j = 0; j < len; j++) {
                    const float *kj = k + ((size_t)b * T + j) * ld + (size_t)h * hs;
                    double d = 0.0;
                    for (int c = 0; c < hs; c++) d += (double)qi[c] * kj[c];
                    p[j] = d * scale;
                    if (p[j] > mx) mx = p[j];
                }
                for (int j = 0; j < len; j++) {
                    p[j] = exp(p[j] - mx);
                    sum += p[j];
                }
                for (int j = 0; j < T; j++) {
                    p[j] = j < len ? p[j] / sum : 0.0;
                    if (att) att[(((size_t)b * H + h) * T + i) * T + j] = (float)p[j];
                }
                float *o = out + ((size_t)b * T + i) * C + (size_t)h * hs;
                for (int c = 0; c < hs; c++) {
                    double s = 0.0;
                    for (int j = 0; j < len; j++)
                        s += p[j] * v[((size_t)b * T + j) * ld + (size_t)h * hs + c];
                    o[c] = (float)s;
                }
            }
}

/* ------------------------------------------------------------------------ */
/* Pooling and normalization                                                 */
/* ------------------------------------------------------------------------ */

void strata_k_pool_forward(float *out, const float *inp, const int *lengths,
                           int B, int T, int C, int pool) {
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        const float *x = inp + (size_t)b * T * C;
        float *o = out + (size_t)b * C;
        if (pool == 0) {
            memcpy(o, x, sizeof(float) * (size_t)C);
            continue;
        }
        int len = lengths[b] > 0 ? lengths[b] : 1;
        for (int c = 0; c < C; c++) {
            double s = 0.0;
            for (int t = 0; t < len; t++) s += x[(size_t)t * C + c];
            o[c] = (float)(s / len);
        }
    }
}

void strata_k_l2norm_forward(float *out, float *norm, const float *inp,
                             int64_t N, int C) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        double s = 0.0;
        for (int c = 0; c < C; c++) s += (double)x[c] * x[c];
        double nr = sqrt(s);
        if (nr < 1e-12) nr = 1e-12;
        float inv = (float)(1.0 / nr);
        for (int c = 0; c < C; c++) o[c] = x[c] * inv;
        if (norm) norm[n] = (float)nr;
    }
}

/* ------------------------------------------------------------------------ */
/* Input vectors before the text                                             */
/* ------------------------------------------------------------------------ */

void strata_k_embed_prefix_forward(float *out, const float *prefix,
                                   const int32_t *ids, const float *wte,
                                   const float *wpe, const float *wtt, int B,
                                   int P, int T, int C, int prefix_pos) {
    int64_t S = (int64_t)P + T, N = (int64_t)B * S;
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t n = 0; n < N; n++) {
        int b = (int)(n / S), r = (int)(n % S);
        float *o = out + (size_t)n * C;
        if (r < P) {
            const float *x = prefix + ((size_t)b * P + r) * C;
            if (prefix_pos) {
                const float *pe = wpe + (size_t)r * C;
                for (int c = 0; c < C; c++) o[c] = x[c] + pe[c] + wtt[c];
            } else {
                memcpy(o, x, sizeof(float) * (size_t)C);
            }
            continue;
        }
        int t = r - P;
        const float *we = wte + (size_t)ids[(size_t)b * T + t] * C;
        const float *pe = wpe + (size_t)(prefix_pos ? r : t) * C;
        for (int c = 0; c < C; c++) o[c] = we[c] + pe[c] + wtt[c];
    }
}
