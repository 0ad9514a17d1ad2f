/*
 * strata.h — status codes, errors, allocation, progress, threads, RNG.
 *
 * Every Strata module builds on this header. Conventions that hold for the
 * whole library:
 *
 *   - Functions that can fail return a strata_status and take a final
 *     `strata_error *err` argument (may be NULL). On failure the message names
 *     the file, line and field where that makes sense:
 *         "pairs.jsonl:1842: field \"positive\" missing"
 *   - The library never prints and never exits. Progress is reported through
 *     a caller-supplied callback (strata_progress).
 *   - Create/free come in pairs; every *_free accepts NULL.
 *   - Outputs are written to a temporary file and renamed (see io.h), so a
 *     failure never leaves a half-written output.
 *   - Threading: functions parallelise internally with OpenMP; each thread
 *     owns a range of outputs, so results do not depend on the thread count.
 *     Read-only objects (a loaded model, a pairs set) may be shared between
 *     threads; anything with per-call scratch says so in its header.
 *
 * Dimension letters used across headers:
 *   N rows/pairs, D embedding dims, K clusters, B batch, T tokens,
 *   C hidden, H heads, V vocabulary, L layers.
 */
#ifndef STRATA_STRATA_H
#define STRATA_STRATA_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_VERSION_MAJOR 0
#define STRATA_VERSION_MINOR 1
#define STRATA_VERSION_PATCH 0
#define STRATA_VERSION_STRING "0.1.0"

/* Returns STRATA_VERSION_STRING of the library actually linked. */
const char *strata_version(void);

/* ------------------------------------------------------------------------ */
/* Status and errors                                                         */
/* ------------------------------------------------------------------------ */

typedef enum strata_status {
    STRATA_OK = 0,
    STRATA_EINVAL,       /* invalid argument or option value             */
    STRATA_EIO,          /* file could not be opened / read / written     */
    STRATA_EFORMAT,      /* malformed input: names file, line and field   */
    STRATA_ENOMEM,       /* allocation failed or size overflow            */
    STRATA_EUNSUPPORTED, /* valid input that this build cannot handle     */
    STRATA_ESTATE        /* operation not valid in the object's state     */
} strata_status;

#define STRATA_ERROR_MSG_MAX 1024

typedef struct strata_error {
    strata_status status;            /* last status set (STRATA_OK if none) */
    char msg[STRATA_ERROR_MSG_MAX];  /* NUL-terminated human message        */
    int64_t item;    /* the input item the error is about (text K of the
                        call's texts, counted from 0), or -1; set by
                        strata_error_item, reset by strata_error_set     */
    int detail;      /* with item >= 0: offset in msg of the message after
                        the item's "text K: " (see strata_error_detail)  */
} strata_error;

/* Short name of a status ("invalid argument", ...). Never NULL. */
const char *strata_status_str(strata_status st);

/* Sets err (if non-NULL) to st with a printf-style message; returns st so
 * callers can write `return strata_error_set(err, STRATA_EINVAL, "...")`. */
strata_status strata_error_set(strata_error *err, strata_status st,
                               const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
strata_status strata_error_setv(strata_error *err, strata_status st,
                                const char *fmt, va_list ap);

/* Prepends "prefix: " to an existing message (used to add context such as a
 * file name when an inner routine failed). Returns err->status. */
strata_status strata_error_prefix(strata_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Marks the error as about item k of the call's input: prefixes "text K"
 * to the message (as strata_error_prefix) and records k in err->item, so
 * that a caller which knows what item k is (a document id, a pair and
 * field) can say so without parsing the message. Returns err->status. */
strata_status strata_error_item(strata_error *err, int64_t k);

/* The message after the item's "text K: " (err->msg when item < 0). */
const char *strata_error_detail(const strata_error *err);

/* Resets err to STRATA_OK with an empty message. */
void strata_error_clear(strata_error *err);

/* ------------------------------------------------------------------------ */
/* Allocation                                                                */
/* ------------------------------------------------------------------------ */

/* One allocator hook for the whole library. Tests use it to inject
 * out-of-memory. Passing NULL restores malloc/realloc/free. Not thread-safe:
 * set it before any other call. */
typedef struct strata_allocator {
    void *(*malloc_fn)(size_t size, void *ud);
    void *(*realloc_fn)(void *ptr, size_t size, void *ud);
    void (*free_fn)(void *ptr, void *ud);
    void *ud;
} strata_allocator;

void strata_set_allocator(const strata_allocator *a);

void *strata_malloc(size_t size);
void *strata_calloc(size_t n, size_t size);        /* overflow-checked */
void *strata_realloc(void *ptr, size_t size);
void *strata_malloc_array(size_t n, size_t size);  /* overflow-checked */
void strata_free(void *ptr);                        /* accepts NULL     */
char *strata_strdup(const char *s);
char *strata_strndup(const char *s, size_t n);

/* Overflow-checked size arithmetic: return 0 on success, -1 on overflow. */
int strata_size_mul(size_t a, size_t b, size_t *out);
int strata_size_add(size_t a, size_t b, size_t *out);

/* ------------------------------------------------------------------------ */
/* Progress                                                                  */
/* ------------------------------------------------------------------------ */

/* Called from the calling thread only (never inside a parallel region), at a
 * modest rate. `done` and `total` count items of `unit` ("pairs", "texts",
 * "iterations"); total < 0 means unknown. */
typedef void (*strata_progress_fn)(void *ud, const char *stage,
                                   int64_t done, int64_t total,
                                   const char *unit);

typedef struct strata_progress {
    strata_progress_fn fn;  /* NULL: no reporting */
    void *ud;
    /* Optional: a short status of the work ("loss 0.4123"), shown with the
     * next report of the stage; NULL: none. Same thread rule as fn. */
    void (*note)(void *ud, const char *stage, const char *text);
} strata_progress;

static inline void strata_progress_note(const strata_progress *p, const char *stage,
                                        const char *text) {
    if (p && p->note) p->note(p->ud, stage, text);
}

static inline void strata_progress_report(const strata_progress *p,
                                          const char *stage, int64_t done,
                                          int64_t total, const char *unit) {
    if (p && p->fn) p->fn(p->ud, stage, done, total, unit);
}

/* ------------------------------------------------------------------------ */
/* Threads                                                                   */
/* ------------------------------------------------------------------------ */

/* Sets the number of OpenMP threads used by Strata kernels (n <= 0: all
 * cores) and pins BLAS to one thread, because kernels call single-threaded
 * sgemm from inside their own OpenMP row blocks (measured 3-4x faster here
 * than one multi-threaded BLAS call per block). Returns the count in effect. */
int strata_set_threads(int n);

/* The OpenBLAS kernel family ("SkylakeX", "Haswell") this CPU supports when
 * the OpenBLAS in use fell back to generic kernels for it (a CPU model newer
 * than OpenBLAS's table: OpenBLAS 0.3.21 runs Sapphire Rapids with its SSE3
 * Prescott kernels, 2-4x slower) and OPENBLAS_CORETYPE is unset; NULL when
 * OpenBLAS chose an AVX2/AVX-512 family, was told which, or the CPU has
 * neither. OpenBLAS reads OPENBLAS_CORETYPE only when it loads: acting on
 * the hint means setting that variable and starting the program again, as
 * the `strata` CLI does. */
const char *strata_blas_coretype_hint(void);
int strata_get_threads(void);

/* Sets the BLAS thread count (n <= 0: 1). Use it around one large product
 * made outside any parallel region, then set it back to 1. */
void strata_blas_threads(int n);

/* ------------------------------------------------------------------------ */
/* Precision of the matrix products                                          */
/* ------------------------------------------------------------------------ */

/* What the encoder's and the trainer's matrix products compute in. FP32 is
 * the reference and always available. BF16 rounds both operands to bfloat16
 * (8-bit mantissa) and accumulates in fp32 (AVX512-BF16 or AMX through
 * oneDNN); INT8 (inference only) quantizes activations per row and weights
 * per output channel to int8 and accumulates in int32 (VNNI / AMX).
 * LayerNorm, softmax, GELU, pooling, the loss and the optimizer stay fp32
 * in every mode. AUTO resolves to the fastest mode whose accuracy the test
 * suite guarantees on this CPU and build: BF16 where available, else FP32
 * (strata_precision_resolve). Within one mode results do not depend on the
 * thread count. */
typedef enum strata_precision {
    STRATA_PRECISION_AUTO = -1,
    STRATA_PRECISION_FP32 = 0,
    STRATA_PRECISION_BF16 = 1,
    STRATA_PRECISION_INT8 = 2
} strata_precision;

/* "auto", "fp32", "bf16", "int8" (never NULL). */
const char *strata_precision_name(strata_precision p);
/* Parses one of the names above; EINVAL naming the value otherwise. */
strata_status strata_precision_parse(const char *s, strata_precision *out,
                                     strata_error *err);
/* 1 when this build (oneDNN) and this CPU can run p (FP32 and AUTO: always). */
int strata_precision_available(strata_precision p);
/* AUTO -> BF16 when available, else FP32; an explicit mode that is not
 * available is EUNSUPPORTED with a message naming what is missing. */
strata_status strata_precision_resolve(strata_precision p,
                                       strata_precision *out,
                                       strata_error *err);
/* One line naming the engine behind each mode on this machine, e.g.
 * "bf16: oneDNN 2.6.3 avx512_core_amx; int8: ...". Static storage. */
const char *strata_precision_describe(void);

/* ------------------------------------------------------------------------ */
/* Random numbers                                                            */
/* ------------------------------------------------------------------------ */

/* xoshiro256** seeded through splitmix64 from (seed, stream). Independent
 * streams let each thread / cluster / epoch draw without depending on the
 * thread count. The state is plain data: copy it to checkpoint it. */
typedef struct strata_rng {
    uint64_t s[4];
} strata_rng;

void strata_rng_seed(strata_rng *r, uint64_t seed, uint64_t stream);
uint64_t strata_rng_next(strata_rng *r);
/* Uniform in [0, n), unbiased (Lemire). n must be > 0. */
uint64_t strata_rng_below(strata_rng *r, uint64_t n);
/* Uniform double in [0, 1) with 53 random bits. */
double strata_rng_uniform(strata_rng *r);
/* Standard normal (Box-Muller, no cached state). */
double strata_rng_normal(strata_rng *r);
/* Fisher-Yates shuffle of idx[0..n). */
void strata_rng_shuffle_i64(strata_rng *r, int64_t *idx, int64_t n);

/* 64-bit hash of bytes (FNV-1a then a splitmix finalizer); stable across
 * platforms and releases, used for hashing words and deduplicating texts. */
uint64_t strata_hash64(const void *data, size_t len, uint64_t seed);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_STRATA_H */
