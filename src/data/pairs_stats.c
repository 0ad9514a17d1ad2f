/*
 * pairs_stats.c — statistics of a pairs set (`strata inspect`): text lengths
 * in characters and words (a byte-class table, with a naive twin), their
 * percentiles, and the number of distinct queries, positives and pairs.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "data/data_internal.h"
#include "strata/data.h"
#include "strata/io.h"

/* ------------------------------------------------------------------------ */
/* Statistics                                                                */
/* ------------------------------------------------------------------------ */

/* Byte classes for count_text: bit 0 = starts a code point (not a UTF-8
 * continuation byte), bit 1 = ASCII whitespace. */
static unsigned char g_cls[256];
static void init_cls(void) {
    if (g_cls[0]) return;
    for (int c = 0; c < 256; c++) {
        int start = (c & 0xc0) != 0x80;
        int ws = c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
        g_cls[c] = (unsigned char)(start | ws << 1);
    }
}

/* Reference version of count_text, one branch per byte (kept for reading). */
static inline int is_ws(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
static void count_text_naive(const char *s, size_t n, int64_t *chars, int64_t *words) {
    int64_t c = 0, w = 0;
    int in = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char u = (unsigned char)s[i];
        if ((u & 0xc0) != 0x80) c++;
        if (is_ws(u)) in = 0;
        else if (!in) { in = 1; w++; }
    }
    *chars = c;
    *words = w;
}

/* Code points and words of s[0..n), branch-free over a class table. */
static void count_text(const char *s, size_t n, int32_t *chars, int32_t *words) {
    int64_t c = 0, w = 0;
    unsigned prev_ws = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned k = g_cls[(unsigned char)s[i]];
        unsigned ws = k >> 1;
        c += k & 1;
        w += prev_ws & (ws ^ 1);
        prev_ws = ws;
    }
    *chars = (int32_t)(c > INT32_MAX ? INT32_MAX : c);
    *words = (int32_t)(w > INT32_MAX ? INT32_MAX : w);
}

void strata__text_counts(const char *s, size_t n, int64_t *chars, int64_t *words, int naive) {
    if (naive) {
        count_text_naive(s, n, chars, words);
        return;
    }
    init_cls();
    int32_t c, w;
    count_text(s, n, &c, &w);
    *chars = c;
    *words = w;
}

/* The k-th smallest (0-based) of the values counted in hist. */
static int64_t kth(const int64_t *hist, int64_t nh, int64_t k) {
    int64_t cum = 0;
    for (int64_t v = 0; v < nh; v++) {
        cum += hist[v];
        if (cum > k) return v;
    }
    return nh - 1;
}

/* numpy.percentile(x, q) with the default linear method, from a histogram
 * of n values. */
static double percentile(const int64_t *hist, int64_t nh, int64_t n, double q) {
    if (n == 0) return 0;
    double pos = q / 100.0 * (double)(n - 1);
    int64_t lo = (int64_t)pos;
    int64_t a = kth(hist, nh, lo);
    if (lo >= n - 1) return (double)a;
    int64_t b = kth(hist, nh, lo + 1);
    double f = pos - (double)lo;
    return (double)a + f * (double)(b - a);
}

/* Summarizes n lengths (each < 2^31; counting sort over [0, max]). Returns
 * -1 on out of memory. */
static int summarize(const int32_t *x, int64_t n, strata_len_stats *s) {
    memset(s, 0, sizeof *s);
    if (n == 0) return 0;
    double sum = 0;
    int32_t mx = 0;
    for (int64_t i = 0; i < n; i++) {
        sum += x[i];
        if (x[i] > mx) mx = x[i];
    }
    int64_t *hist = strata_calloc((size_t)mx + 1, sizeof *hist);
    if (!hist) return -1;
    for (int64_t i = 0; i < n; i++) hist[x[i]]++;
    s->mean = sum / (double)n;
    s->median = percentile(hist, (int64_t)mx + 1, n, 50);
    s->p95 = percentile(hist, (int64_t)mx + 1, n, 95);
    s->max = mx;
    strata_free(hist);
    return 0;
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

/* canon[i] = index of the first text equal to text `first + 2i` (stride 2:
 * queries or positives). Returns the number of distinct texts, -1 on OOM. */
static int64_t dedup_texts(const strata_pairs *p, int which, int64_t *canon) {
    size_t cap = pow2_at_least((size_t)p->n * 2);
    int64_t *tab = strata_malloc_array(cap, sizeof *tab);
    uint64_t *th = strata_malloc_array(cap, sizeof *th);
    if (!tab || !th) {
        strata_free(tab);
        strata_free(th);
        return -1;
    }
    for (size_t i = 0; i < cap; i++) tab[i] = -1;
    int64_t uniq = 0;
    for (int64_t i = 0; i < p->n; i++) {
        int64_t t = 2 * i + which;
        const char *s = p->arena + p->off[t];
        size_t len = strata_pairs_text_len(p, t);
        uint64_t h = strata_hash64(s, len, 0);
        size_t k = (size_t)h & (cap - 1);
        for (;;) {
            if (tab[k] < 0) {
                tab[k] = i;
                th[k] = h;
                canon[i] = i;
                uniq++;
                break;
            }
            if (th[k] == h) {
                int64_t u = 2 * tab[k] + which;
                if (strata_pairs_text_len(p, u) == len &&
                    memcmp(p->arena + p->off[u], s, len) == 0) {
                    canon[i] = tab[k];
                    break;
                }
            }
            k = (k + 1) & (cap - 1);
        }
    }
    strata_free(tab);
    strata_free(th);
    return uniq;
}

/* Distinct (qc[i], pc[i]) combinations; -1 on OOM. */
static int64_t dedup_pairs(int64_t n, const int64_t *qc, const int64_t *pc) {
    size_t cap = pow2_at_least((size_t)n * 2);
    int64_t *tab = strata_malloc_array(cap, sizeof *tab);
    if (!tab) return -1;
    for (size_t i = 0; i < cap; i++) tab[i] = -1;
    int64_t uniq = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t key[2] = {qc[i], pc[i]};
        size_t k = (size_t)strata_hash64(key, sizeof key, 1) & (cap - 1);
        for (;;) {
            if (tab[k] < 0) {
                tab[k] = i;
                uniq++;
                break;
            }
            if (qc[tab[k]] == qc[i] && pc[tab[k]] == pc[i]) break;
            k = (k + 1) & (cap - 1);
        }
    }
    strata_free(tab);
    return uniq;
}

strata_status strata_pairs_stats_compute(strata_pairs_stats *out, const strata_pairs *p,
                                         strata_error *err) {
    memset(out, 0, sizeof *out);
    int64_t n = p->n;
    out->n = n;
    out->n_sources = p->n_sources;
    out->source_count = strata_calloc(p->n_sources > 0 ? (size_t)p->n_sources : 1,
                                      sizeof *out->source_count);
    int32_t *len4 = strata_malloc_array((size_t)(n > 0 ? n : 1) * 4, sizeof *len4);
    int64_t *qc = strata_malloc_array((size_t)(n > 0 ? n : 1), sizeof *qc);
    int64_t *pc = strata_malloc_array((size_t)(n > 0 ? n : 1), sizeof *pc);
    strata_status st = STRATA_OK;
    if (!out->source_count || !len4 || !qc || !pc) {
        st = strata_error_set(err, STRATA_ENOMEM, "inspect: out of memory");
        goto done;
    }
    init_cls();
    for (int64_t i = 0; i < n; i++) {
        if (p->source[i] >= 0 && p->source[i] < p->n_sources) out->source_count[p->source[i]]++;
        count_text(strata_pairs_query(p, i), strata_pairs_text_len(p, 2 * i), &len4[i],
                   &len4[n + i]);
        count_text(strata_pairs_positive(p, i), strata_pairs_text_len(p, 2 * i + 1),
                   &len4[2 * n + i], &len4[3 * n + i]);
    }
    if (summarize(len4, n, &out->query_chars) || summarize(len4 + n, n, &out->query_words) ||
        summarize(len4 + 2 * n, n, &out->positive_chars) ||
        summarize(len4 + 3 * n, n, &out->positive_words)) {
        st = strata_error_set(err, STRATA_ENOMEM, "inspect: out of memory");
        goto done;
    }
    int64_t uq = n ? dedup_texts(p, 0, qc) : 0;
    int64_t up = n ? dedup_texts(p, 1, pc) : 0;
    int64_t upair = n ? dedup_pairs(n, qc, pc) : 0;
    if (uq < 0 || up < 0 || upair < 0) {
        st = strata_error_set(err, STRATA_ENOMEM, "inspect: out of memory");
        goto done;
    }
    out->unique_queries = uq;
    out->unique_positives = up;
    out->dup_queries = n - uq;
    out->dup_positives = n - up;
    out->dup_pairs = n - upair;
done:
    strata_free(len4);
    strata_free(qc);
    strata_free(pc);
    if (st) strata_pairs_stats_free(out);
    return st;
}

void strata_pairs_stats_free(strata_pairs_stats *s) {
    if (!s) return;
    strata_free(s->source_count);
    s->source_count = NULL;
}
