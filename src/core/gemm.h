/*
 * gemm.h — reduced-precision matrix products (internal): bf16 and int8
 * through oneDNN's matmul primitive, with fp32 accumulation (bf16) or int32
 * accumulation (int8). The fp32 path stays OpenBLAS sgemm (the callers'
 * own code); this module is only reached for BF16 / INT8.
 *
 * Dimension letters: M rows of the product (one row block), N output
 * columns, K the reduction.
 *
 * Why the results do not depend on the thread count: every primitive is
 * created with OpenMP's thread budget set to 1 (oneDNN sizes its blocking,
 * including any split of K, from that budget at creation time) and executed
 * from inside the callers' own OpenMP loops over fixed row blocks, where
 * oneDNN runs single-threaded. A given (M, N, K, layout) therefore always
 * runs the same kernel with the same summation order.
 *
 * Engine: oneDNN picks its best kernel for the CPU at run time (AMX
 * tiles where the CPU has them and Linux grants the tile state, AVX512-BF16
 * / VNNI otherwise). Without oneDNN in the build (STRATA_HAVE_DNNL unset)
 * every create function returns EUNSUPPORTED and only FP32 is available.
 *
 * Thread-safety: a created strata_gemm_w / strata_gemm_plan is read-only
 * after creation except for its lazily created per-M primitives (made
 * under a lock) and may be applied from many threads at once, each with its
 * own scratch.
 */
#ifndef STRATA_CORE_GEMM_H
#define STRATA_CORE_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "strata/strata.h"

/* Largest row block a strata_gemm_w accepts (rows per call). */
#define STRATA_GEMM_MAX_M 256

/* Requests the AMX tile state from Linux (once) and reports whether the
 * build has oneDNN. Cheap after the first call. */
int strata_gemm_init(void);

/* ---- bf16 conversion -------------------------------------------------- */

/* dst[i] = bf16(src[i]) with round-to-nearest-even (NaN stays NaN); the
 * AVX512-BF16 and the scalar path give the same bits. One thread. */
void strata_bf16_pack(uint16_t *dst, const float *src, int64_t n);
/* Rows of a strided matrix: dst [rows, cols] dense <- src with row stride ld. */
void strata_bf16_pack_rows(uint16_t *dst, const float *src, int64_t rows,
                             int cols, int64_t ld);
/* (bf16 -> fp32 of one value: strata_bf16_to_f32 in strata/io.h) */

/* ---- a weight matrix prepared once, applied to row blocks ------------- */

typedef struct strata_gemm_w strata_gemm_w;

/* Prepares W for C = A W^T (trans = 0, W [N, K] as a PyTorch linear weight)
 * or C = A W (trans = 1, W [K, N]) in precision p (BF16: W rounded to bf16
 * in oneDNN's packed layout; INT8: W quantized per output column n with
 * scale max|W[n, :]| / 127). *out owned by the caller (strata_gemm_w_free).
 * Errors: EUNSUPPORTED (no oneDNN, or p not BF16/INT8 or INT8 with trans),
 * ENOMEM. */
strata_status strata_gemm_w_create(strata_gemm_w **out, const float *W,
                                   int N, int K, int trans,
                                   strata_precision p, strata_error *err);
/* Re-reads the values of W (same shape and layout) into the prepared copy
 * (training: once per optimizer step). One call uses OpenMP inside; call it
 * outside parallel regions. */
void strata_gemm_w_update(strata_gemm_w *w, const float *W);
void strata_gemm_w_free(strata_gemm_w *w);

/* Bytes of scratch one strata_gemm_w_apply with m rows needs. */
size_t strata_gemm_w_scratch(const strata_gemm_w *w, int m);

/* C[m, N] = A[m, K] W^T (+ bias[N]) (+ C when accumulate), A fp32 row-major
 * with row stride lda, C dense row-major [m, N]. BF16 rounds A to
 * bf16; INT8 quantizes each row of A with scale max|A[i, :]| / 127 and
 * rescales the int32 sums. 1 <= m <= STRATA_GEMM_MAX_M. Single-threaded;
 * call it from inside an OpenMP loop over fixed row blocks. scratch holds
 * strata_gemm_w_scratch(w, m) bytes, 64-byte aligned. Returns 0, or -1 when
 * oneDNN failed (out of memory inside it), leaving C undefined. */
int strata_gemm_w_apply(const strata_gemm_w *w, float *C, const float *A, int64_t lda, int m,
                        const float *bias, int accumulate, void *scratch);

/* ---- a general bf16 product over strided operands --------------------- */

typedef struct strata_gemm_plan strata_gemm_plan;

/* C[M, N] (+)= A B with A [M, K] and B [K, N] bf16 given by element
 * strides (A[i, k] = A[i * sam + k * sak], B[k, n] = B[k * sbk + n * sbn]),
 * C fp32 row-major with row stride ldc; accumulate adds to C. For
 * transposed views (A^T of a row-major matrix: sam = 1, sak = its row
 * stride). Errors: EUNSUPPORTED (no oneDNN), ENOMEM. */
strata_status strata_gemm_plan_bf16(strata_gemm_plan **out, int M, int N,
                                    int K, int64_t sam, int64_t sak,
                                    int64_t sbk, int64_t sbn, int64_t ldc,
                                    int accumulate, strata_error *err);
/* Runs the plan, single-threaded (from inside an OpenMP loop, or from one
 * thread). Returns 0 or -1 (oneDNN failed). */
int strata_gemm_plan_run(const strata_gemm_plan *p, float *C,
                         const uint16_t *A, const uint16_t *B);
void strata_gemm_plan_free(strata_gemm_plan *p);

#endif /* STRATA_CORE_GEMM_H */
