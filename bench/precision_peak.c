/*
 * precision_peak.c — the machine's arithmetic peaks per instruction set, and
 * oneDNN's matmul (fp32 / bf16 / int8) against OpenBLAS sgemm and a
 * hand-written AVX512-BF16 kernel on the encoder's shapes.
 *
 *   precision_peak peak THREADS        fp32 FMA, bf16 vdpbf16ps, int8
 *                                      vpdpbusd, AMX tdpbf16ps / tdpbusd
 *   precision_peak gemm M N K THREADS  one product C[M,N] = A[M,K] B[N,K]^T,
 *                                      every engine this build has
 *   precision_peak describe            the engine behind each precision
 *
 * Peaks: independent accumulators (no dependency chains), a loop long
 * enough that start-up is noise; one line "peak <isa> <threads> GFLOP/s".
 * The gemm mode runs each engine with the same fixed partition Strata uses
 * (OpenMP over blocks of 128 rows, one single-threaded call per block).
 * Build: bench/bench_precision.sh (needs gcc >= 11 for the AMX intrinsics).
 */

#include <cblas.h>
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/gemm.h"
#include "bench_clock.h"

/* ---- peaks -------------------------------------------------------------- */

#define REPS 20000000L

__attribute__((target("avx512f"))) static float peak_fp32(long reps) {
    __m512 a[12], x = _mm512_set1_ps(1.0000001f), y = _mm512_set1_ps(0.999999f);
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    for (long r = 0; r < reps; r++)
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], x, y);
    __m512 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, a[i]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512bf16"))) static float peak_bf16(long reps) {
    __m512 a[12];
    __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x3f80);
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    for (long r = 0; r < reps; r++)
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) a[i] = _mm512_dpbf16_ps(a[i], x, y);
    __m512 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, a[i]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512vnni"))) static int peak_int8(long reps) {
    __m512i a[12], x = _mm512_set1_epi8(1), y = _mm512_set1_epi8(1);
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_epi32(i);
    for (long r = 0; r < reps; r++)
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) a[i] = _mm512_dpbusd_epi32(a[i], x, y);
    __m512i s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_epi32(s, a[i]);
    return _mm512_reduce_add_epi32(s);
}

typedef struct tilecfg {
    uint8_t palette, start;
    uint8_t pad[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg;

static int amx_permit(void) {
    /* ARCH_REQ_XCOMP_PERM (0x1023) for XFEATURE_XTILEDATA (18) */
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
}

__attribute__((target("amx-tile,amx-bf16,amx-int8"))) static void peak_amx(long reps, int int8) {
    static _Alignas(64) uint8_t buf[1024 * 8];
    tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int i = 0; i < 8; i++) {
        cfg.colsb[i] = 64;
        cfg.rows[i] = 16;
    }
    _tile_loadconfig(&cfg);
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
    _tile_loadd(4, buf, 64); _tile_loadd(5, buf + 1024, 64);
    _tile_loadd(6, buf + 2048, 64); _tile_loadd(7, buf + 3072, 64);
    if (int8) {
        for (long r = 0; r < reps; r++) {
            _tile_dpbusd(0, 4, 6); _tile_dpbusd(1, 4, 7);
            _tile_dpbusd(2, 5, 6); _tile_dpbusd(3, 5, 7);
        }
    } else {
        for (long r = 0; r < reps; r++) {
            _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(2, 5, 6); _tile_dpbf16ps(3, 5, 7);
        }
    }
    _tile_stored(0, buf, 64);
    _tile_release();
}

static void run_peaks(int threads) {
    omp_set_num_threads(threads);
    const char *names[5] = {"fp32-fma", "bf16-avx512", "int8-vnni", "bf16-amx", "int8-amx"};
    /* flops per inner iteration: 12 instructions x lanes x 2 */
    double per[5] = {12 * 16 * 2, 12 * 32 * 2, 12 * 64 * 2, 4 * 16 * 16 * 32 * 2.0,
                     4 * 16 * 16 * 64 * 2.0};
    long reps[5] = {REPS / 4, REPS / 4, REPS / 4, REPS / 40, REPS / 40};
    int have_amx = __builtin_cpu_supports("avx512f") && amx_permit();
    for (int k = 0; k < 5; k++) {
        if (k == 1 && !__builtin_cpu_supports("avx512bf16")) continue;
        if (k == 2 && !__builtin_cpu_supports("avx512vnni")) continue;
        if (k >= 3 && !have_amx) {
            printf("peak %-12s %d threads: no AMX (CPU or kernel)\n", names[k], threads);
            continue;
        }
        double best = 0;
        for (int rep = 0; rep < 3; rep++) {
            volatile float sink = 0;
            double t0 = bench_wall();
#pragma omp parallel
            {
                if (k >= 3) amx_permit();
                float v = k == 0 ? peak_fp32(reps[k]) : k == 1 ? peak_bf16(reps[k])
                        : k == 2 ? (float)peak_int8(reps[k]) : (peak_amx(reps[k], k == 4), 0.f);
#pragma omp atomic
                sink += v;
            }
            double dt = bench_wall() - t0;
            double g = per[k] * reps[k] * threads / dt / 1e9;
            if (g > best) best = g;
        }
        printf("peak %-12s %d threads %8.1f GFLOP/s\n", names[k], threads, best);
    }
}

/* ---- a hand-written AVX512-BF16 product (for the comparison) ----------- */

/* C[m, n] = sum_k A[m, k] B[n, k] for one 128-row block: B packed in pairs
 * of k (vdpbf16ps layout) as Bp[N/16][K/2][16][2]; 4 rows x 32 columns per
 * register tile. K even, N a multiple of 32. */
__attribute__((target("avx512f,avx512bf16"))) static void hand_block(
    float *C, const uint16_t *A, const uint16_t *Bp, int m, int N, int K) {
    int K2 = K / 2;
    for (int j = 0; j < N; j += 32) {
        const uint16_t *b0 = Bp + (size_t)(j / 16) * K2 * 32, *b1 = b0 + (size_t)K2 * 32;
        int i = 0;
        for (; i + 4 <= m; i += 4) {
            __m512 c[8];
            for (int r = 0; r < 8; r++) c[r] = _mm512_setzero_ps();
            const uint32_t *a0 = (const uint32_t *)(A + (size_t)i * K);
            for (int k = 0; k < K2; k++) {
                __m512bh v0 = (__m512bh)_mm512_loadu_si512(b0 + (size_t)k * 32);
                __m512bh v1 = (__m512bh)_mm512_loadu_si512(b1 + (size_t)k * 32);
                for (int r = 0; r < 4; r++) {
                    __m512bh a = (__m512bh)_mm512_set1_epi32((int)a0[(size_t)r * K2 + k]);
                    c[2 * r] = _mm512_dpbf16_ps(c[2 * r], a, v0);
                    c[2 * r + 1] = _mm512_dpbf16_ps(c[2 * r + 1], a, v1);
                }
            }
            for (int r = 0; r < 4; r++) {
                _mm512_storeu_ps(C + (size_t)(i + r) * N + j, c[2 * r]);
                _mm512_storeu_ps(C + (size_t)(i + r) * N + j + 16, c[2 * r + 1]);
            }
        }
        for (; i < m; i++)
            for (int jj = j; jj < j + 32; jj++) C[(size_t)i * N + jj] = 0; /* unused here */
    }
}

static uint16_t f2bf(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

static void run_gemm(int M, int N, int K, int threads) {
    omp_set_num_threads(threads);
    float *A = malloc(sizeof(float) * (size_t)M * K), *B = malloc(sizeof(float) * (size_t)N * K);
    float *C = malloc(sizeof(float) * (size_t)M * N);
    uint16_t *Ab = malloc(2 * (size_t)M * K), *Bb = malloc(2 * (size_t)N * K);
    uint16_t *Bp = malloc(2 * (size_t)N * K);
    srand(1);
    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)rand() / RAND_MAX - 0.5f;
    for (size_t i = 0; i < (size_t)N * K; i++) B[i] = (float)rand() / RAND_MAX - 0.5f;
    for (size_t i = 0; i < (size_t)M * K; i++) Ab[i] = f2bf(A[i]);
    for (size_t i = 0; i < (size_t)N * K; i++) Bb[i] = f2bf(B[i]);
    for (int j = 0; j < N; j++)
        for (int k = 0; k < K; k++)
            Bp[(size_t)(j / 16) * K * 16 + (size_t)(k / 2) * 32 + (j % 16) * 2 + (k % 2)] =
                Bb[(size_t)j * K + k];
    double flops = 2.0 * M * N * K;
    int nblk = (M + 127) / 128;
    const char *eng[] = {"sgemm-openblas", "unused", "bf16-onednn", "int8-onednn", "bf16-hand"};
    char *scr = aligned_alloc(64, (size_t)threads * (8 << 20));
    for (int e = 0; e < 5; e++) {
        if (e == 1) continue;
        strata_gemm_w *w = NULL;
        strata_precision pr = e == 2 ? STRATA_PRECISION_BF16 : STRATA_PRECISION_INT8;
        if (e >= 2 && e <= 3) {
            if (strata_gemm_w_create(&w, B, N, K, 0, pr, NULL) != STRATA_OK) {
                printf("gemm %-15s M=%d N=%d K=%d: not available\n", eng[e], M, N, K);
                continue;
            }
        }
        if (e == 4 && !__builtin_cpu_supports("avx512bf16")) continue;
        double best = 1e30;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = bench_wall();
#pragma omp parallel for schedule(dynamic, 1)
            for (int b = 0; b < nblk; b++) {
                int m = M - b * 128 < 128 ? M - b * 128 : 128;
                if (e == 0)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, N, K, 1.0f,
                                A + (size_t)b * 128 * K, K, B, K, 0.0f, C + (size_t)b * 128 * N, N);
                else if (e == 4)
                    hand_block(C + (size_t)b * 128 * N, Ab + (size_t)b * 128 * K, Bp, m, N, K);
                else
                    strata_gemm_w_apply(w, C + (size_t)b * 128 * N, A + (size_t)b * 128 * K, K, m,
                                        NULL, 0, scr + (size_t)omp_get_thread_num() * (8 << 20));
            }
            double dt = bench_wall() - t0;
            if (dt < best) best = dt;
        }
        printf("gemm %-15s M=%d N=%d K=%d %d threads %8.1f GFLOP/s\n", eng[e], M, N, K, threads,
               flops / best / 1e9);
        strata_gemm_w_free(w);
    }
    free(A); free(B); free(C); free(Ab); free(Bb); free(Bp); free(scr);
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "describe") == 0) {
        strata_gemm_init();
        printf("%s\n", strata_precision_describe());
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "peak") == 0) {
        run_peaks(atoi(argv[2]));
        return 0;
    }
    if (argc >= 6 && strcmp(argv[1], "gemm") == 0) {
        strata_gemm_init();
        run_gemm(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
        return 0;
    }
    fprintf(stderr, "usage: precision_peak peak THREADS | gemm M N K THREADS\n");
    return 2;
}
