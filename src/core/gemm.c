/*
 * gemm.c — bf16 / int8 matrix products through oneDNN's matmul primitive
 * (see gemm.h for the contract and why results are thread-count free), the
 * fp32 -> bf16 conversion, and the precision names and run-time dispatch of
 * strata.h.
 */
#include "core/gemm.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#ifdef STRATA_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

/* ------------------------------------------------------------------------ */
/* CPU features                                                              */
/* ------------------------------------------------------------------------ */

enum { F_AVX512 = 1, F_BF16 = 2, F_VNNI = 4, F_AMX_BF16 = 8, F_AMX_INT8 = 16,
       F_AVX_VNNI = 32, F_AMX_OK = 64 };

static int cpu_bits(void) {
    static int bits = -1;
    if (bits >= 0) return bits;
    int v = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    unsigned a, b, c, d;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        v |= F_AVX512;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        if ((v & F_AVX512) && (c & (1u << 11))) v |= F_VNNI;
        if (d & (1u << 22)) v |= F_AMX_BF16;
        if (d & (1u << 25)) v |= F_AMX_INT8;
    }
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) {
        if ((v & F_AVX512) && (a & (1u << 5))) v |= F_BF16;
        if (a & (1u << 4)) v |= F_AVX_VNNI;
    }
    /* AMX needs Linux to grant the tile data state to this process
     * (ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18) */
    if ((v & (F_AMX_BF16 | F_AMX_INT8)) && syscall(SYS_arch_prctl, 0x1023, 18) == 0)
        v |= F_AMX_OK;
#endif
    bits = v;
    return v;
}

int strata_gemm_init(void) {
    cpu_bits();
#ifdef STRATA_HAVE_DNNL
    return 1;
#else
    return 0;
#endif
}

/* ------------------------------------------------------------------------ */
/* Precision names and dispatch (strata.h)                                   */
/* ------------------------------------------------------------------------ */

const char *strata_precision_name(strata_precision p) {
    switch (p) {
    case STRATA_PRECISION_AUTO: return "auto";
    case STRATA_PRECISION_FP32: return "fp32";
    case STRATA_PRECISION_BF16: return "bf16";
    case STRATA_PRECISION_INT8: return "int8";
    }
    return "?";
}

strata_status strata_precision_parse(const char *s, strata_precision *out,
                                     strata_error *err) {
    static const strata_precision all[4] = {STRATA_PRECISION_AUTO, STRATA_PRECISION_FP32,
                                            STRATA_PRECISION_BF16, STRATA_PRECISION_INT8};
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, strata_precision_name(all[i])) == 0) {
            *out = all[i];
            return STRATA_OK;
        }
    return strata_error_set(err, STRATA_EINVAL,
                            "precision \"%s\" unknown (auto, fp32, bf16 or int8)",
                            s ? s : "");
}

int strata_precision_available(strata_precision p) {
    int f = cpu_bits();
    switch (p) {
    case STRATA_PRECISION_AUTO:
    case STRATA_PRECISION_FP32: return 1;
#ifdef STRATA_HAVE_DNNL
    case STRATA_PRECISION_BF16: return (f & F_BF16) || ((f & F_AMX_BF16) && (f & F_AMX_OK));
    case STRATA_PRECISION_INT8: return (f & F_VNNI) || ((f & F_AMX_INT8) && (f & F_AMX_OK));
#else
    case STRATA_PRECISION_BF16:
    case STRATA_PRECISION_INT8: (void)f; return 0;
#endif
    }
    return 0;
}

strata_status strata_precision_resolve(strata_precision p, strata_precision *out,
                                       strata_error *err) {
    if (p == STRATA_PRECISION_AUTO) {
        *out = strata_precision_available(STRATA_PRECISION_BF16) ? STRATA_PRECISION_BF16
                                                                 : STRATA_PRECISION_FP32;
        return STRATA_OK;
    }
    if (p != STRATA_PRECISION_FP32 && p != STRATA_PRECISION_BF16 && p != STRATA_PRECISION_INT8)
        return strata_error_set(err, STRATA_EINVAL, "precision %d unknown", (int)p);
    if (!strata_precision_available(p)) {
#ifdef STRATA_HAVE_DNNL
        return strata_error_set(err, STRATA_EUNSUPPORTED,
                                "precision %s needs a CPU with %s; this one has neither",
                                strata_precision_name(p),
                                p == STRATA_PRECISION_BF16 ? "AVX512-BF16 or AMX-BF16"
                                                           : "AVX512-VNNI or AMX-INT8");
#else
        return strata_error_set(err, STRATA_EUNSUPPORTED,
                                "precision %s needs oneDNN, and this build has none "
                                "(install libdnnl-dev and rebuild)", strata_precision_name(p));
#endif
    }
    *out = p;
    return STRATA_OK;
}

const char *strata_precision_describe(void) {
    static char buf[256];
#ifdef STRATA_HAVE_DNNL
    const dnnl_version_t *v = dnnl_version();
    int f = cpu_bits();
    snprintf(buf, sizeof buf,
             "fp32: OpenBLAS sgemm; bf16: %s; int8: %s (oneDNN %d.%d.%d)",
             !strata_precision_available(STRATA_PRECISION_BF16) ? "unavailable (CPU)"
             : (f & F_AMX_OK) && (f & F_AMX_BF16) ? "AMX tiles" : "AVX512-BF16",
             !strata_precision_available(STRATA_PRECISION_INT8) ? "unavailable (CPU)"
             : (f & F_AMX_OK) && (f & F_AMX_INT8) ? "AMX tiles" : "AVX512-VNNI",
             v->major, v->minor, v->patch);
#else
    snprintf(buf, sizeof buf, "fp32: OpenBLAS sgemm; bf16, int8: unavailable (built without oneDNN)");
#endif
    return buf;
}

/* ------------------------------------------------------------------------ */
/* fp32 -> bf16                                                              */
/* ------------------------------------------------------------------------ */

static inline uint16_t bf16_rne(float f) {
    union { float f; uint32_t u; } v = {f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40); /* quiet NaN */
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The same rounding in 16 lanes with integer ops (vcvtneps2bf16 would flush
 * denormals, which the scalar path does not). */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static void to_bf16_avx512(
    uint16_t *dst, const float *src, int64_t n) {
    const __m512i r = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1);
    const __m512i abs = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
    int64_t i = 0;
    for (; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512i u = _mm512_castps_si512(_mm512_maskz_loadu_ps(k, src + i));
        __m512i rnd = _mm512_add_epi32(_mm512_add_epi32(u, r),
                                       _mm512_and_si512(_mm512_srli_epi32(u, 16), one));
        __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs), inf);
        rnd = _mm512_mask_or_epi32(rnd, nan, u, _mm512_set1_epi32(0x400000));
        _mm256_mask_storeu_epi16(dst + i, k, _mm512_cvtepi32_epi16(_mm512_srli_epi32(rnd, 16)));
    }
}
#endif

void strata_bf16_pack(uint16_t *dst, const float *src, int64_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (cpu_bits() & F_AVX512) {
        to_bf16_avx512(dst, src, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) dst[i] = bf16_rne(src[i]);
}

void strata_bf16_pack_rows(uint16_t *dst, const float *src, int64_t rows, int cols,
                             int64_t ld) {
    for (int64_t i = 0; i < rows; i++)
        strata_bf16_pack(dst + (size_t)i * cols, src + (size_t)i * ld, cols);
}

/* ------------------------------------------------------------------------ */
/* oneDNN                                                                    */
/* ------------------------------------------------------------------------ */

#ifdef STRATA_HAVE_DNNL

static dnnl_engine_t g_engine;

static int engine(void) {
    if (g_engine) return 0;
    int bad = 0;
#pragma omp critical(strata_gemm_engine)
    if (!g_engine) {
        cpu_bits();
        bad = dnnl_engine_create(&g_engine, dnnl_cpu, 0) != dnnl_success;
    }
    return bad ? -1 : 0;
}

/* Runs with OpenMP's thread budget at 1 so oneDNN sizes the primitive for
 * one thread (see gemm.h). */
static dnnl_status_t make_prim(dnnl_primitive_t *prim, dnnl_primitive_desc_t *pd_out,
                               const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *wei,
                               const dnnl_memory_desc_t *bias, const dnnl_memory_desc_t *dst,
                               int accumulate) {
    int save = 1;
#ifdef _OPENMP
    save = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    dnnl_matmul_desc_t md;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = dnnl_matmul_desc_init(&md, src, wei, bias, dst);
    if (s == dnnl_success) s = dnnl_primitive_attr_create(&attr);
    /* our own per-thread scratchpad (exec): oneDNN's default one is shared
     * between primitives and not safe for one primitive run from threads
     * other than the one that created it */
    if (s == dnnl_success) s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success && accumulate) {
        s = dnnl_post_ops_create(&po);
        if (s == dnnl_success) s = dnnl_post_ops_append_sum(po, 1.0f);
        if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, po);
    }
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&pd, &md, attr, g_engine, NULL);
    if (s == dnnl_success && prim) s = dnnl_primitive_create(prim, pd);
    if (pd_out && s == dnnl_success) *pd_out = pd;
    else if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
#ifdef _OPENMP
    omp_set_num_threads(save);
#endif
    return s;
}

/* The calling thread's scratchpad and stream for oneDNN, made on first use
 * and kept for the thread's life (CPU streams are cheap but not free). A
 * thread that ends (an OpenMP pool that shrinks) frees them through the
 * key's destructor. The scratchpad comes from the C library, not
 * strata_malloc: it outlives every call, so it must not be charged to (or
 * later freed through) whichever allocator a caller had installed when it
 * first grew. */
typedef struct thread_res {
    void *pad;
    size_t pad_cap;
    dnnl_stream_t stream;
} thread_res;

static pthread_key_t g_res_key;
static pthread_once_t g_res_once = PTHREAD_ONCE_INIT;
static int g_res_key_ok;

static void thread_res_free(void *p) {
    thread_res *r = p;
    if (r->stream) dnnl_stream_destroy(r->stream);
    free(r->pad);
    free(r);
}

static void res_key_make(void) { g_res_key_ok = pthread_key_create(&g_res_key, thread_res_free) == 0; }

static thread_res *thread_resources(void) {
    pthread_once(&g_res_once, res_key_make);
    if (!g_res_key_ok) return NULL;
    thread_res *r = pthread_getspecific(g_res_key);
    if (r) return r;
    if (!(r = calloc(1, sizeof *r))) return NULL;
    if (pthread_setspecific(g_res_key, r) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

static void *thread_pad(size_t need) {
    thread_res *r = thread_resources();
    if (!r) return NULL;
    if (need <= r->pad_cap) return r->pad;
    void *p = malloc(need);
    if (!p) return NULL;
    free(r->pad);
    r->pad = p;
    r->pad_cap = need;
    return p;
}

static dnnl_stream_t thread_stream(void) {
    thread_res *r = thread_resources();
    if (!r) return NULL;
    if (!r->stream &&
        dnnl_stream_create(&r->stream, g_engine, dnnl_stream_default_flags) != dnnl_success)
        r->stream = NULL;
    return r->stream;
}

/* Executes prim on the given (md, handle) pairs with the thread's
 * scratchpad and stream. */
static int exec(dnnl_primitive_t prim, int n, const int *args,
                const dnnl_memory_desc_t *const *mds, void *const *ptrs) {
    dnnl_memory_t mem[5] = {0};
    dnnl_exec_arg_t ea[5];
    dnnl_stream_t stream = NULL;
    const_dnnl_primitive_desc_t pd = NULL;
    int bad = dnnl_primitive_get_primitive_desc(prim, &pd) != dnnl_success;
    const dnnl_memory_desc_t *pad_md = bad ? NULL
                                           : dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t pad = pad_md ? dnnl_memory_desc_get_size(pad_md) : 0;
    if (!bad) bad = !(stream = thread_stream());
    for (int i = 0; i < n && !bad; i++) {
        bad = dnnl_memory_create(&mem[i], mds[i], g_engine, ptrs[i]) != dnnl_success;
        ea[i].arg = args[i];
        ea[i].memory = mem[i];
    }
    int na = n;
    if (!bad && pad > 0) {
        void *buf = thread_pad(pad);
        bad = !buf || dnnl_memory_create(&mem[n], pad_md, g_engine, buf) != dnnl_success;
        ea[n].arg = DNNL_ARG_SCRATCHPAD;
        ea[n].memory = mem[n];
        na = n + 1;
    }
    if (!bad) bad = dnnl_primitive_execute(prim, stream, na, ea) != dnnl_success;
    if (!bad) bad = dnnl_stream_wait(stream) != dnnl_success;
    for (int i = 0; i < 5; i++)
        if (mem[i]) dnnl_memory_destroy(mem[i]);
    return bad ? -1 : 0;
}

/* ---- prepared weights -------------------------------------------------- */

struct strata_gemm_w {
    strata_precision prec;
    int N, K, trans;
    dnnl_memory_desc_t wmd;   /* packed layout (from the M = MAX_M primitive) */
    void *packed;             /* wmd bytes */
    float *wscale;            /* INT8: [N] per-column scales */
    int8_t *wq;               /* INT8: [K, N] plain quantized copy (scratch for update) */
    /* primitives by rows m and flags (bit 0 bias, bit 1 accumulate; INT8
     * uses flag 0 only) */
    dnnl_primitive_t prim[STRATA_GEMM_MAX_M + 1][4];
};

static void md_plain(dnnl_memory_desc_t *md, int64_t r, int64_t c, int64_t sr, int64_t sc,
                     dnnl_data_type_t t) {
    dnnl_dims_t dims = {r, c}, strides = {sr, sc};
    dnnl_memory_desc_init_by_strides(md, 2, dims, t, strides);
}

/* Source / destination descriptors of an m-row product. */
static void io_mds(const strata_gemm_w *w, int m, dnnl_memory_desc_t *src,
                   dnnl_memory_desc_t *dst, dnnl_memory_desc_t *bias) {
    int q = w->prec == STRATA_PRECISION_INT8;
    md_plain(src, m, w->K, w->K, 1, q ? dnnl_s8 : dnnl_bf16);
    md_plain(dst, m, w->N, w->N, 1, q ? dnnl_s32 : dnnl_f32);
    md_plain(bias, 1, w->N, w->N, 1, dnnl_f32);
}

static float quantize_row(int8_t *q, const float *x, int K);

/* Converts W (fp32, the caller's layout) into the packed buffer. */
static int pack(strata_gemm_w *w, const float *W) {
    dnnl_memory_desc_t umd;
    const void *user = W;
    if (w->prec == STRATA_PRECISION_INT8) {
        /* per output column n: scale = max |W[n, :]| / 127, W [N, K] */
        for (int n = 0; n < w->N; n++)
            w->wscale[n] = quantize_row(w->wq + (size_t)n * w->K, W + (size_t)n * w->K, w->K);
        md_plain(&umd, w->K, w->N, 1, w->K, dnnl_s8);
        user = w->wq;
    } else if (w->trans) {
        md_plain(&umd, w->K, w->N, w->N, 1, dnnl_f32);
    } else {
        md_plain(&umd, w->K, w->N, 1, w->K, dnnl_f32);
    }
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t r = NULL;
    int bad = dnnl_reorder_primitive_desc_create(&rpd, &umd, g_engine, &w->wmd, g_engine,
                                                 NULL) != dnnl_success;
    if (!bad) bad = dnnl_primitive_create(&r, rpd) != dnnl_success;
    if (!bad) {
        const dnnl_memory_desc_t *mds[2] = {&umd, &w->wmd};
        void *ptrs[2] = {(void *)user, w->packed};
        int args[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
        bad = exec(r, 2, args, mds, ptrs);
    }
    if (r) dnnl_primitive_destroy(r);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    return bad ? -1 : 0;
}

strata_status strata_gemm_w_create(strata_gemm_w **out, const float *W, int N, int K,
                                   int trans, strata_precision p, strata_error *err) {
    *out = NULL;
    if ((p != STRATA_PRECISION_BF16 && p != STRATA_PRECISION_INT8) ||
        (p == STRATA_PRECISION_INT8 && trans) || !strata_precision_available(p))
        return strata_error_set(err, STRATA_EUNSUPPORTED, "matrix product in %s: unavailable",
                                strata_precision_name(p));
    if (N < 1 || K < 1) return strata_error_set(err, STRATA_EINVAL, "gemm: bad shape");
    if (engine()) return strata_error_set(err, STRATA_EUNSUPPORTED, "oneDNN: no CPU engine");
    strata_gemm_w *w = strata_calloc(1, sizeof *w);
    if (!w) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    w->prec = p;
    w->N = N;
    w->K = K;
    w->trans = trans;
    /* the packed layout oneDNN chooses for the largest row block */
    dnnl_memory_desc_t src, dst, bias, any;
    io_mds(w, STRATA_GEMM_MAX_M, &src, &dst, &bias);
    dnnl_dims_t wd = {K, N};
    dnnl_memory_desc_init_by_tag(&any, 2, wd, p == STRATA_PRECISION_INT8 ? dnnl_s8 : dnnl_bf16,
                                 dnnl_format_tag_any);
    dnnl_primitive_desc_t pd = NULL;
    strata_status st = STRATA_OK;
    if (make_prim(NULL, &pd, &src, &any, p == STRATA_PRECISION_INT8 ? NULL : &bias, &dst, 0) !=
        dnnl_success) {
        st = strata_error_set(err, STRATA_EUNSUPPORTED, "oneDNN: no %s matmul for [%d, %d]",
                              strata_precision_name(p), N, K);
        goto fail;
    }
    w->wmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_primitive_desc_destroy(pd);
    w->packed = strata_malloc(dnnl_memory_desc_get_size(&w->wmd));
    if (p == STRATA_PRECISION_INT8) {
        w->wscale = strata_malloc_array((size_t)N, sizeof(float));
        w->wq = strata_malloc_array((size_t)N * K, 1);
    }
    if (!w->packed || (p == STRATA_PRECISION_INT8 && (!w->wscale || !w->wq))) {
        st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
        goto fail;
    }
    if (pack(w, W)) {
        st = strata_error_set(err, STRATA_ENOMEM, "oneDNN: weight reorder failed");
        goto fail;
    }
    *out = w;
    return STRATA_OK;
fail:
    strata_gemm_w_free(w);
    return st;
}

void strata_gemm_w_update(strata_gemm_w *w, const float *W) { (void)pack(w, W); }

void strata_gemm_w_free(strata_gemm_w *w) {
    if (!w) return;
    for (int m = 0; m <= STRATA_GEMM_MAX_M; m++)
        for (int f = 0; f < 4; f++)
            if (w->prim[m][f]) dnnl_primitive_destroy(w->prim[m][f]);
    strata_free(w->packed);
    strata_free(w->wscale);
    strata_free(w->wq);
    strata_free(w);
}

/* INT8 runs at least this many rows (zero rows pad a smaller block): on
 * AMX, oneDNN's kernel for fewer rows wants another weight layout and falls
 * back to its slow reference code. */
#define INT8_MIN_M 16

size_t strata_gemm_w_scratch(const strata_gemm_w *w, int m) {
    if (w->prec == STRATA_PRECISION_INT8 && m < INT8_MIN_M) m = INT8_MIN_M;
    size_t a = ((size_t)m * w->K * 2 + 63) & ~(size_t)63; /* bf16 or s8 rows */
    if (w->prec == STRATA_PRECISION_INT8)
        a += (size_t)m * w->N * sizeof(int32_t) + (size_t)m * sizeof(float);
    return a;
}

static dnnl_primitive_t get_prim(const strata_gemm_w *cw, int m, int flags) {
    strata_gemm_w *w = (strata_gemm_w *)cw; /* lazily filled cache */
    dnnl_primitive_t p;
#pragma omp atomic read
    p = w->prim[m][flags];
    if (p) return p;
#pragma omp critical(strata_gemm_prim)
    {
        if (!w->prim[m][flags]) {
            dnnl_memory_desc_t src, dst, bias;
            io_mds(w, m, &src, &dst, &bias);
            dnnl_primitive_t np = NULL;
            if (make_prim(&np, NULL, &src, &w->wmd, (flags & 1) ? &bias : NULL, &dst,
                          flags >> 1) == dnnl_success) {
#pragma omp atomic write
                w->prim[m][flags] = np;
            }
        }
        p = w->prim[m][flags];
    }
    return p;
}

/* q[k] = round_even(x[k] / s) with s = max|x| / 127 (1 for a zero row); returns
 * s. The AVX-512 path computes the same values (IEEE division, the default
 * round-to-nearest-even conversion). */
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx512bw,avx512vl"))) static float quantize_row_avx512(
    int8_t *q, const float *x, int K) {
    __m512 mx = _mm512_setzero_ps();
    for (int k = 0; k < K; k += 16) {
        __mmask16 msk = K - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - k)) - 1);
        mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_maskz_loadu_ps(msk, x + k)));
    }
    float m = _mm512_reduce_max_ps(mx);
    float sc = m > 0.0f ? m / 127.0f : 1.0f;
    __m512 vs = _mm512_set1_ps(sc);
    for (int k = 0; k < K; k += 16) {
        __mmask16 msk = K - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - k)) - 1);
        __m512i v = _mm512_cvtps_epi32(_mm512_div_ps(_mm512_maskz_loadu_ps(msk, x + k), vs));
        _mm_mask_storeu_epi8(q + k, msk, _mm512_cvtsepi32_epi8(v));
    }
    return sc;
}
#endif

static float quantize_row(int8_t *q, const float *x, int K) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (cpu_bits() & F_AVX512) return quantize_row_avx512(q, x, K);
#endif
    float mx = 0.0f;
    for (int k = 0; k < K; k++) mx = fmaxf(mx, fabsf(x[k]));
    float sc = mx > 0.0f ? mx / 127.0f : 1.0f;
    for (int k = 0; k < K; k++) q[k] = (int8_t)lrintf(x[k] / sc);
    return sc;
}

int strata_gemm_w_apply(const strata_gemm_w *w, float *C, const float *A, int64_t lda, int m,
                        const float *bias, int accumulate, void *scratch) {
    if (m < 1 || m > STRATA_GEMM_MAX_M) return -1;
    dnnl_memory_desc_t src, dst, bmd;
    io_mds(w, m, &src, &dst, &bmd);
    int K = w->K, N = w->N;
    if (w->prec == STRATA_PRECISION_BF16) {
        int flags = (bias ? 1 : 0) | (accumulate ? 2 : 0);
        dnnl_primitive_t p = get_prim(w, m, flags);
        if (!p) return -1;
        uint16_t *a = scratch;
        strata_bf16_pack_rows(a, A, m, K, lda);
        const dnnl_memory_desc_t *mds[4] = {&src, &w->wmd, &dst, &bmd};
        void *ptrs[4] = {a, w->packed, C, (void *)bias};
        int args[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_BIAS};
        return exec(p, bias ? 4 : 3, args, mds, ptrs);
    }
    /* INT8: symmetric per-row quantization of A, int32 sums, rescale */
    int me = m < INT8_MIN_M ? INT8_MIN_M : m;
    dnnl_primitive_t p = get_prim(w, me, 0);
    if (!p) return -1;
    io_mds(w, me, &src, &dst, &bmd);
    int8_t *a = scratch;
    int32_t *acc = (int32_t *)((char *)scratch + (((size_t)me * K * 2 + 63) & ~(size_t)63));
    float *rs = (float *)(acc + (size_t)me * N);
    for (int i = 0; i < m; i++) rs[i] = quantize_row(a + (size_t)i * K, A + (size_t)i * lda, K);
    memset(a + (size_t)m * K, 0, (size_t)(me - m) * K);
    const dnnl_memory_desc_t *mds[3] = {&src, &w->wmd, &dst};
    void *ptrs[3] = {a, w->packed, acc};
    int args[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
    if (exec(p, 3, args, mds, ptrs)) return -1;
    for (int i = 0; i < m; i++) {
        float *c = C + (size_t)i * N;
        const int32_t *s = acc + (size_t)i * N;
        for (int n = 0; n < N; n++) {
            float v = (float)s[n] * (rs[i] * w->wscale[n]) + (bias ? bias[n] : 0.0f);
            c[n] = accumulate ? c[n] + v : v;
        }
    }
    return 0;
}

/* ---- general bf16 plans ------------------------------------------------ */

struct strata_gemm_plan {
    dnnl_memory_desc_t a, b, c;
    dnnl_primitive_t prim;
};

strata_status strata_gemm_plan_bf16(strata_gemm_plan **out, int M, int N, int K,
                                    int64_t sam, int64_t sak, int64_t sbk, int64_t sbn,
                                    int64_t ldc, int accumulate, strata_error *err) {
    *out = NULL;
    if (!strata_precision_available(STRATA_PRECISION_BF16) || engine())
        return strata_error_set(err, STRATA_EUNSUPPORTED, "bf16 matrix product unavailable");
    strata_gemm_plan *p = strata_calloc(1, sizeof *p);
    if (!p) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    md_plain(&p->a, M, K, sam, sak, dnnl_bf16);
    md_plain(&p->b, K, N, sbk, sbn, dnnl_bf16);
    md_plain(&p->c, M, N, ldc, 1, dnnl_f32);
    if (make_prim(&p->prim, NULL, &p->a, &p->b, NULL, &p->c, accumulate) != dnnl_success) {
        strata_free(p);
        return strata_error_set(err, STRATA_EUNSUPPORTED,
                                "oneDNN: no bf16 matmul for [%d, %d, %d]", M, N, K);
    }
    *out = p;
    return STRATA_OK;
}

int strata_gemm_plan_run(const strata_gemm_plan *p, float *C, const uint16_t *A,
                         const uint16_t *B) {
    const dnnl_memory_desc_t *mds[3] = {&p->a, &p->b, &p->c};
    void *ptrs[3] = {(void *)A, (void *)B, C};
    int args[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
    return exec(p->prim, 3, args, mds, ptrs);
}

void strata_gemm_plan_free(strata_gemm_plan *p) {
    if (!p) return;
    if (p->prim) dnnl_primitive_destroy(p->prim);
    strata_free(p);
}

#else /* no oneDNN: fp32 only */

struct strata_gemm_w { int unused; };
struct strata_gemm_plan { int unused; };

strata_status strata_gemm_w_create(strata_gemm_w **out, const float *W, int N, int K,
                                   int trans, strata_precision p, strata_error *err) {
    (void)W; (void)N; (void)K; (void)trans;
    *out = NULL;
    return strata_error_set(err, STRATA_EUNSUPPORTED,
                            "matrix product in %s: built without oneDNN",
                            strata_precision_name(p));
}
void strata_gemm_w_update(strata_gemm_w *w, const float *W) { (void)w; (void)W; }
void strata_gemm_w_free(strata_gemm_w *w) { (void)w; }
size_t strata_gemm_w_scratch(const strata_gemm_w *w, int m) { (void)w; (void)m; return 0; }
int strata_gemm_w_apply(const strata_gemm_w *w, float *C, const float *A, int64_t lda, int m,
                        const float *bias, int accumulate, void *scratch) {
    (void)w; (void)C; (void)A; (void)lda; (void)m; (void)bias; (void)accumulate; (void)scratch;
    return -1;
}
strata_status strata_gemm_plan_bf16(strata_gemm_plan **out, int M, int N, int K,
                                    int64_t sam, int64_t sak, int64_t sbk, int64_t sbn,
                                    int64_t ldc, int accumulate, strata_error *err) {
    (void)M; (void)N; (void)K; (void)sam; (void)sak; (void)sbk; (void)sbn; (void)ldc;
    (void)accumulate;
    *out = NULL;
    return strata_error_set(err, STRATA_EUNSUPPORTED, "bf16: built without oneDNN");
}
int strata_gemm_plan_run(const strata_gemm_plan *p, float *C, const uint16_t *A,
                         const uint16_t *B) {
    (void)p; (void)C; (void)A; (void)B;
    return -1;
}
void strata_gemm_plan_free(strata_gemm_plan *p) { (void)p; }

#endif
