/*
 * hash.c — hashed TF-IDF embedder with a sparse signed random projection
 * (definition in include/strata/embed.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strata/embed.h"
#include "core/internal.h"
#include "strata/encoder.h"
#include "strata/io.h"

#define MASK (STRATA_HASH_BUCKETS - 1u)
#define SEED_UNI 1
#define SEED_BI 2
#define CHUNK 4096 /* texts per parallel region (progress granularity) */

strata_hash_params strata_hash_default_params(void) {
    strata_hash_params p;
    memset(&p, 0, sizeof p);
    p.dim = 256;
    p.bigrams = 0;
    p.nnz = 4;
    p.seed = 1;
    return p;
}

/* ------------------------------------------------------------------------ */
/* Words -> buckets                                                          */
/* ------------------------------------------------------------------------ */

typedef struct bucket_ctx {
    int bigrams;
    uint32_t *b;       /* [n] bucket ids of the text */
    size_t n, cap;
    char *prev;        /* previous word (for bigrams) */
    size_t prev_len, prev_cap;
    char *pair;        /* "prev word" scratch */
    size_t pair_cap;
    int oom;
} bucket_ctx;

static int push_bucket(bucket_ctx *c, uint32_t b) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        uint32_t *nb = strata_realloc(c->b, cap * sizeof(uint32_t));
        if (!nb) return -1;
        c->b = nb;
        c->cap = cap;
    }
    c->b[c->n++] = b;
    return 0;
}

static int ensure(char **p, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    char *np = strata_realloc(*p, need);
    if (!np) return -1;
    *p = np;
    *cap = need;
    return 0;
}

static void on_word(void *ud, const char *w, size_t len) {
    bucket_ctx *c = ud;
    if (c->oom) return;
    if (push_bucket(c, (uint32_t)(strata_hash64(w, len, SEED_UNI) & MASK))) {
        c->oom = 1;
        return;
    }
    if (!c->bigrams) return;
    if (c->prev_len > 0) {
        size_t pl = c->prev_len + 1 + len;
        if (ensure(&c->pair, &c->pair_cap, pl)) {
            c->oom = 1;
            return;
        }
        memcpy(c->pair, c->prev, c->prev_len);
        c->pair[c->prev_len] = ' ';
        memcpy(c->pair + c->prev_len + 1, w, len);
        if (push_bucket(c, (uint32_t)(strata_hash64(c->pair, pl, SEED_BI) & MASK))) {
            c->oom = 1;
            return;
        }
    }
    if (ensure(&c->prev, &c->prev_cap, len + 1)) {
        c->oom = 1;
        return;
    }
    memcpy(c->prev, w, len);
    c->prev_len = len;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Sorted bucket ids of one text into c->b[0..c->n). Returns STRATA_OK,
 * STRATA_EFORMAT (invalid UTF-8; err filled when non-NULL) or ENOMEM. */
static strata_status text_buckets(bucket_ctx *c, const char *text, size_t len,
                                  strata_error *err) {
    c->n = 0;
    c->prev_len = 0;
    c->oom = 0;
    strata_status st = strata_tokenizer_basic(NULL, text, len, on_word, c, err);
    if (st != STRATA_OK) return st;
    if (c->oom) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    qsort(c->b, c->n, sizeof(uint32_t), cmp_u32);
    return STRATA_OK;
}

static void ctx_free(bucket_ctx *c) {
    strata_free(c->b);
    strata_free(c->prev);
    strata_free(c->pair);
}

/* Reports the first failing text (index i) with its message. */
static strata_status text_error(const char *text, size_t len, int64_t i,
                                strata_error *err) {
    bucket_ctx c = {0};
    strata_status st = text_buckets(&c, text, len, err);
    ctx_free(&c);
    if (st == STRATA_OK) st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
    return strata_error_item(err, i);
}

/* ------------------------------------------------------------------------ */
/* IDF                                                                       */
/* ------------------------------------------------------------------------ */

void strata_hash_idf_free(strata_hash_idf *idf) {
    if (!idf) return;
    strata_free(idf->df);
    strata_free(idf->idf);
    memset(idf, 0, sizeof *idf);
}

static void compute_idf(strata_hash_idf *h) {
    double n1 = 1.0 + (double)h->n_docs;
    for (uint32_t b = 0; b < STRATA_HASH_BUCKETS; b++)
        h->idf[b] = (float)(log(n1 / (1.0 + (double)h->df[b])) + 1.0);
}

void strata_hash_idf_update(strata_hash_idf *idf) {
    if (idf && idf->df && idf->idf) compute_idf(idf);
}

static strata_status idf_alloc(strata_hash_idf *h, strata_error *err) {
    h->df = strata_calloc(STRATA_HASH_BUCKETS, sizeof(int64_t));
    h->idf = strata_malloc_array(STRATA_HASH_BUCKETS, sizeof(float));
    if (!h->df || !h->idf) {
        strata_hash_idf_free(h);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    return STRATA_OK;
}

strata_status strata_hash_idf_fit(strata_hash_idf *out,
                                  const char *const *texts,
                                  const size_t *lens, int64_t n,
                                  const strata_hash_params *p,
                                  strata_error *err) {
    strata_hash_params d = strata_hash_default_params();
    if (!p) p = &d;
    memset(out, 0, sizeof *out);
    strata_status st = idf_alloc(out, err);
    if (st != STRATA_OK) return st;
    out->bigrams = p->bigrams != 0;
    out->n_docs = n;
    int nt = strata__max_threads();
    /* one df array per thread, summed in thread order (integer: exact) */
    int32_t *local = strata_calloc((size_t)nt * STRATA_HASH_BUCKETS, sizeof(int32_t));
    if (!local) {
        strata_hash_idf_free(out);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    int64_t first_bad = -1;
    for (int64_t c0 = 0; c0 < n && first_bad < 0; c0 += CHUNK) {
        int64_t c1 = n - c0 < CHUNK ? n : c0 + CHUNK;
#pragma omp parallel
        {
            bucket_ctx c = {0};
            c.bigrams = out->bigrams;
            int32_t *df = local + (size_t)strata__thread_num() * STRATA_HASH_BUCKETS;
#pragma omp for schedule(dynamic, 16)
            for (int64_t i = c0; i < c1; i++) {
                if (text_buckets(&c, texts[i], lens[i], NULL) != STRATA_OK) {
#pragma omp critical(strata_hash_bad)
                    if (first_bad < 0 || i < first_bad) first_bad = i;
                    continue;
                }
                for (size_t k = 0; k < c.n; k++)
                    if (k == 0 || c.b[k] != c.b[k - 1]) df[c.b[k]]++;
            }
            ctx_free(&c);
        }
        strata_progress_report(&p->progress, "idf", c1, n, "texts");
    }
    if (first_bad >= 0) {
        strata_free(local);
        strata_hash_idf_free(out);
        return text_error(texts[first_bad], lens[first_bad], first_bad, err);
    }
    for (int t = 0; t < nt; t++)
        for (uint32_t b = 0; b < STRATA_HASH_BUCKETS; b++)
            out->df[b] += local[(size_t)t * STRATA_HASH_BUCKETS + b];
    strata_free(local);
    compute_idf(out);
    return STRATA_OK;
}

strata_status strata_hash_idf_save(const strata_hash_idf *idf,
                                   const char *path, strata_error *err) {
    int64_t *v = strata_malloc_array(2 + (size_t)STRATA_HASH_BUCKETS, sizeof(int64_t));
    if (!v) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    v[0] = idf->n_docs;
    v[1] = idf->bigrams;
    memcpy(v + 2, idf->df, sizeof(int64_t) * STRATA_HASH_BUCKETS);
    int64_t shape[1] = {2 + (int64_t)STRATA_HASH_BUCKETS};
    strata_status st = strata_npy_save(path, STRATA_DTYPE_I64, 1, shape, v, err);
    strata_free(v);
    return st;
}

strata_status strata_hash_idf_load(strata_hash_idf *out, const char *path,
                                   strata_error *err) {
    memset(out, 0, sizeof *out);
    strata_npy a;
    strata_status st = strata_npy_load(&a, path, err);
    if (st != STRATA_OK) return st;
    if (a.dtype != STRATA_DTYPE_I64 || a.ndim != 1 ||
        a.shape[0] != 2 + (int64_t)STRATA_HASH_BUCKETS) {
        strata_npy_free(&a);
        return strata_error_set(err, STRATA_EFORMAT,
                                "%s: not a hash IDF table (expected int64 [%u], written by "
                                "strata embed --idf-out)",
                                path, 2 + STRATA_HASH_BUCKETS);
    }
    const int64_t *v = a.data;
    if (v[0] < 0 || (v[1] != 0 && v[1] != 1)) {
        strata_npy_free(&a);
        return strata_error_set(err, STRATA_EFORMAT, "%s: bad header values", path);
    }
    if ((st = idf_alloc(out, err)) != STRATA_OK) {
        strata_npy_free(&a);
        return st;
    }
    out->n_docs = v[0];
    out->bigrams = (int)v[1];
    for (uint32_t b = 0; b < STRATA_HASH_BUCKETS; b++) {
        int64_t df = v[2 + b];
        if (df < 0 || df > out->n_docs) {
            /* the message reads the map: set it before unmapping */
            strata_error_set(err, STRATA_EFORMAT, "%s: bucket %u has df %lld outside [0, %lld]",
                             path, b, (long long)df, (long long)v[0]);
            strata_npy_free(&a);
            strata_hash_idf_free(out);
            return STRATA_EFORMAT;
        }
        out->df[b] = df;
    }
    strata_npy_free(&a);
    compute_idf(out);
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Embedding                                                                 */
/* ------------------------------------------------------------------------ */

/* One text: sorted buckets -> projected, normalized row out[D]. */
static void embed_one(const bucket_ctx *c, const strata_hash_idf *h,
                      const strata_hash_params *p, const uint64_t *jseed,
                      double *acc, float *out) {
    int D = p->dim, S = p->nnz;
    for (int k = 0; k < D; k++) acc[k] = 0.0;
    double inv_s = 1.0 / sqrt((double)S);
    size_t k = 0;
    while (k < c->n) {
        uint32_t b = c->b[k];
        size_t e = k;
        while (e < c->n && c->b[e] == b) e++;
        double x = (1.0 + log((double)(e - k))) * h->idf[b] * inv_s;
        unsigned char le[8];
        uint64_t bb = b;
        for (int q = 0; q < 8; q++) le[q] = (unsigned char)(bb >> (8 * q));
        for (int j = 0; j < S; j++) {
            uint64_t r = strata_hash64(le, 8, jseed[j]);
            int dim = (int)((r >> 1) % (uint64_t)D);
            acc[dim] += (r & 1) ? x : -x;
        }
        k = e;
    }
    double ss = 0.0;
    for (int q = 0; q < D; q++) ss += acc[q] * acc[q];
    double inv = ss > 0 ? 1.0 / sqrt(ss) : 0.0;
    for (int q = 0; q < D; q++) out[q] = (float)(acc[q] * inv);
}

strata_status strata_hash_embed(const strata_hash_idf *idf,
                                const char *const *texts, const size_t *lens,
                                int64_t n, const strata_hash_params *p,
                                float *out, strata_error *err) {
    strata_hash_params d = strata_hash_default_params();
    if (!p) p = &d;
    if (p->dim < 1 || p->dim > (1 << 20))
        return strata_error_set(err, STRATA_EINVAL, "dim %d outside [1, 1048576]", p->dim);
    if (p->nnz < 1 || p->nnz > 64)
        return strata_error_set(err, STRATA_EINVAL, "nnz %d outside [1, 64]", p->nnz);
    if ((p->bigrams != 0) != (idf->bigrams != 0))
        return strata_error_set(err, STRATA_EINVAL,
                                "the IDF table was fitted %s bigrams but embedding %s them",
                                idf->bigrams ? "with" : "without",
                                p->bigrams ? "uses" : "does not use");
    uint64_t jseed[64];
    for (int j = 0; j < p->nnz; j++)
        jseed[j] = p->seed ^ ((uint64_t)(j + 1) * 0x9E3779B97F4A7C15ull);
    int64_t first_bad = -1;
    strata_progress_report(&p->progress, "embed", 0, n, "texts");
    for (int64_t c0 = 0; c0 < n && first_bad < 0; c0 += CHUNK) {
        int64_t c1 = n - c0 < CHUNK ? n : c0 + CHUNK;
        int oom = 0;
#pragma omp parallel
        {
            bucket_ctx c = {0};
            c.bigrams = p->bigrams != 0;
            double *acc = strata_malloc_array((size_t)p->dim, sizeof(double));
            if (!acc) {
#pragma omp atomic write
                oom = 1;
            }
#pragma omp for schedule(dynamic, 16)
            for (int64_t i = c0; i < c1; i++) {
                if (!acc) continue;
                if (text_buckets(&c, texts[i], lens[i], NULL) != STRATA_OK) {
#pragma omp critical(strata_hash_bad)
                    if (first_bad < 0 || i < first_bad) first_bad = i;
                    continue;
                }
                embed_one(&c, idf, p, jseed, acc, out + (size_t)i * (size_t)p->dim);
            }
            strata_free(acc);
            ctx_free(&c);
        }
        if (oom) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
        strata_progress_report(&p->progress, "embed", c1, n, "texts");
    }
    if (first_bad >= 0) return text_error(texts[first_bad], lens[first_bad], first_bad, err);
    return STRATA_OK;
}
