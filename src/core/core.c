/*
 * core.c — version, status strings, errors, allocator hook, threads, RNG,
 * hashing, CPU features.
 */
#define _POSIX_C_SOURCE 200809L
#include "strata/strata.h"
#include "core/internal.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <cpuid.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* OpenBLAS thread control (provided by libopenblas). */
void openblas_set_num_threads(int num_threads);

const char *strata_version(void) { return STRATA_VERSION_STRING; }

/* ------------------------------------------------------------------------ */
/* Status and errors                                                         */
/* ------------------------------------------------------------------------ */

const char *strata_status_str(strata_status st) {
    switch (st) {
    case STRATA_OK: return "ok";
    case STRATA_EINVAL: return "invalid argument";
    case STRATA_EIO: return "i/o error";
    case STRATA_EFORMAT: return "bad input";
    case STRATA_ENOMEM: return "out of memory";
    case STRATA_EUNSUPPORTED: return "unsupported";
    case STRATA_ESTATE: return "invalid state";
    }
    return "unknown status";
}

strata_status strata_error_setv(strata_error *err, strata_status st,
                                const char *fmt, va_list ap) {
    if (err) {
        err->status = st;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        err->item = -1;
        err->detail = 0;
    }
    return st;
}

strata_status strata_error_set(strata_error *err, strata_status st,
                               const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    strata_error_setv(err, st, fmt, ap);
    va_end(ap);
    return st;
}

strata_status strata_error_prefix(strata_error *err, const char *fmt, ...) {
    if (!err) return STRATA_EINVAL;
    char prefix[STRATA_ERROR_MSG_MAX];
    char old[STRATA_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t pl = strlen(prefix);
    if (pl > sizeof err->msg - 3) pl = sizeof err->msg - 3;
    memcpy(err->msg, prefix, pl);
    memcpy(err->msg + pl, ": ", 2);
    size_t room = sizeof err->msg - pl - 3;
    size_t ol = strnlen(old, room);
    memcpy(err->msg + pl + 2, old, ol);
    err->msg[pl + 2 + ol] = '\0';
    if (err->item >= 0) {
        size_t d = (size_t)err->detail + pl + 2;
        err->detail = (int)(d < pl + 2 + ol ? d : pl + 2 + ol);
    }
    return err->status;
}

strata_status strata_error_item(strata_error *err, int64_t k) {
    if (!err) return STRATA_EINVAL;
    strata_error_prefix(err, "text %lld", (long long)k);
    err->item = k;
    size_t d = (size_t)snprintf(NULL, 0, "text %lld: ", (long long)k);
    size_t ml = strlen(err->msg);
    err->detail = (int)(d < ml ? d : ml);
    return err->status;
}

const char *strata_error_detail(const strata_error *err) {
    if (!err) return "";
    return err->item >= 0 ? err->msg + err->detail : err->msg;
}

void strata_error_clear(strata_error *err) {
    if (err) {
        err->status = STRATA_OK;
        err->msg[0] = '\0';
        err->item = -1;
        err->detail = 0;
    }
}

/* ------------------------------------------------------------------------ */
/* Allocation                                                                */
/* ------------------------------------------------------------------------ */

static strata_allocator g_alloc;  /* zero: libc */

void strata_set_allocator(const strata_allocator *a) {
    if (a) g_alloc = *a;
    else memset(&g_alloc, 0, sizeof g_alloc);
}

void *strata_malloc(size_t size) {
    if (size == 0) size = 1;
    return g_alloc.malloc_fn ? g_alloc.malloc_fn(size, g_alloc.ud) : malloc(size);
}

void *strata_realloc(void *ptr, size_t size) {
    if (size == 0) size = 1;
    return g_alloc.realloc_fn ? g_alloc.realloc_fn(ptr, size, g_alloc.ud)
                              : realloc(ptr, size);
}

void strata_free(void *ptr) {
    if (!ptr) return;
    if (g_alloc.free_fn) g_alloc.free_fn(ptr, g_alloc.ud);
    else free(ptr);
}

int strata_size_mul(size_t a, size_t b, size_t *out) {
    if (b != 0 && a > SIZE_MAX / b) return -1;
    *out = a * b;
    return 0;
}

int strata_size_add(size_t a, size_t b, size_t *out) {
    if (a > SIZE_MAX - b) return -1;
    *out = a + b;
    return 0;
}

void *strata_malloc_array(size_t n, size_t size) {
    size_t total;
    if (strata_size_mul(n, size, &total)) return NULL;
    return strata_malloc(total);
}

void *strata_calloc(size_t n, size_t size) {
    size_t total;
    if (strata_size_mul(n, size, &total)) return NULL;
    void *p = strata_malloc(total);
    if (p) memset(p, 0, total);
    return p;
}

char *strata_strndup(const char *s, size_t n) {
    char *p = strata_malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *strata_strdup(const char *s) { return strata_strndup(s, strlen(s)); }

/* ------------------------------------------------------------------------ */
/* Threads                                                                   */
/* ------------------------------------------------------------------------ */

static int g_threads = 0;

int strata_set_threads(int n) {
#ifdef _OPENMP
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
#else
    n = 1;
#endif
    g_threads = n;
    openblas_set_num_threads(1);
    return n;
}

int strata_get_threads(void) {
#ifdef _OPENMP
    return g_threads > 0 ? g_threads : omp_get_max_threads();
#else
    return 1;
#endif
}

void strata_blas_threads(int n) { openblas_set_num_threads(n > 0 ? n : 1); }

/* ------------------------------------------------------------------------ */
/* Small helpers (core/internal.h)                                           */
/* ------------------------------------------------------------------------ */

double strata__now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *strata__base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ------------------------------------------------------------------------ */
/* RNG: xoshiro256** seeded by splitmix64                                    */
/* ------------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void strata_rng_seed(strata_rng *r, uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
    (void)splitmix64(&x);
    x ^= stream;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
}

static inline uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

uint64_t strata_rng_next(strata_rng *r) {
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t strata_rng_below(strata_rng *r, uint64_t n) {
    /* Lemire's nearly divisionless method with rejection. */
    uint64_t x = strata_rng_next(r);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t l = (uint64_t)m;
    if (l < n) {
        uint64_t t = (0 - n) % n;
        while (l < t) {
            x = strata_rng_next(r);
            m = (__uint128_t)x * n;
            l = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double strata_rng_uniform(strata_rng *r) {
    return (double)(strata_rng_next(r) >> 11) * 0x1.0p-53;
}

double strata_rng_normal(strata_rng *r) {
    double u1 = strata_rng_uniform(r);
    double u2 = strata_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

void strata_rng_shuffle_i64(strata_rng *r, int64_t *idx, int64_t n) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)strata_rng_below(r, (uint64_t)i + 1);
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

uint64_t strata_hash64(const void *data, size_t len, uint64_t seed) {
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return splitmix64(&h);
}

int strata__cpu_features(void) {
    static int f = -1;
    if (f < 0) {
        int v = 0;
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2")) v |= STRATA_CPU_AVX2;
        if (__builtin_cpu_supports("fma")) v |= STRATA_CPU_FMA;
        /* F16C by CPUID leaf 1 (not every compiler's builtin knows it); it
         * uses the YMM state the AVX2 check above has found enabled */
        unsigned a, b, c, d;
        if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C)) v |= STRATA_CPU_F16C;
#endif
        f = v;
    }
    return f;
}
