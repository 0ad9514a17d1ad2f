/*
 * vocab_build.c — a WordPiece vocabulary for a fresh model, from the words
 * of a pair corpus (strata_vocab_build, encoder.h).
 *
 * The vocabulary is uncased: words are counted lower-cased, and no upper-case
 * letter enters the file, so the tokenizer that reads it lower-cases its
 * input (strata_tokenizer_load guesses "uncased" from a vocab.txt without
 * capitals, as Hugging Face's BertTokenizer is told by do_lower_case). A
 * Title-Case word then maps to the same id as its lower-case form instead of
 * splitting into single letters.
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "strata/data.h"
#include "strata/encoder.h"

typedef struct wc {
    char *w;       /* owned, lower-cased */
    int64_t n;     /* occurrences        */
} wc;

/* Open-addressing table of words (keys are hashes | 1, 0 is empty). */
typedef struct wtab {
    uint64_t *key;
    wc *e;
    size_t cap, n;
} wtab;

static void wtab_free(wtab *t) {
    if (t->key)
        for (size_t i = 0; i < t->cap; i++)
            if (t->key[i]) strata_free(t->e[i].w);
    strata_free(t->key);
    strata_free(t->e);
    memset(t, 0, sizeof *t);
}

static size_t wtab_slot(const wtab *t, uint64_t h, const char *w) {
    size_t j = h & (t->cap - 1);
    while (t->key[j] && !(t->key[j] == h && strcmp(t->e[j].w, w) == 0)) j = (j + 1) & (t->cap - 1);
    return j;
}

static int wtab_grow(wtab *t) {
    size_t cap = t->cap ? 2 * t->cap : (size_t)1 << 16;
    uint64_t *k = strata_calloc(cap, sizeof *k);
    wc *e = strata_calloc(cap, sizeof *e);
    if (!k || !e) {
        strata_free(k);
        strata_free(e);
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++)
        if (t->key[i]) {
            size_t j = t->key[i] & (cap - 1);
            while (k[j]) j = (j + 1) & (cap - 1);
            k[j] = t->key[i];
            e[j] = t->e[i];
        }
    strata_free(t->key);
    strata_free(t->e);
    t->key = k;
    t->e = e;
    t->cap = cap;
    return 0;
}

/* Counts one lower-cased word. 0 ok, -1 out of memory. */
static int wtab_add(wtab *t, const char *w, size_t len) {
    if (2 * (t->n + 1) > t->cap && wtab_grow(t)) return -1;
    uint64_t h = strata_hash64(w, len, 7) | 1;
    size_t j = wtab_slot(t, h, w);
    if (!t->key[j]) {
        if (!(t->e[j].w = strata_strndup(w, len))) return -1;
        t->key[j] = h;
        t->n++;
    }
    t->e[j].n++;
    return 0;
}

static int cmp_wc(const void *a, const void *b) {
    const wc *x = a, *y = b;
    if (x->n != y->n) return x->n > y->n ? -1 : 1;
    return strcmp(x->w, y->w);
}

static int is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

strata_status strata_vocab_build(const strata_pairs *pairs, int max_words, const char *path,
                                 strata_error *err) {
    if (max_words < 0)
        return strata_error_set(err, STRATA_EINVAL, "vocabulary: max_words must be >= 0 (got %d)",
                                max_words);
    wtab t = {0};
    if (wtab_grow(&t)) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    char word[128];
    for (int64_t x = 0; x < 2 * pairs->n; x++) {
        const char *s = pairs->arena + pairs->off[x];
        size_t len = strata_pairs_text_len(pairs, x);
        for (size_t i = 0; i < len;) {
            size_t wl = 0, w0 = i;
            for (; i < len && is_alnum(s[i]); i++)
                if (wl < sizeof word - 1) word[wl++] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
            if (i == w0) { /* not a word character */
                i++;
                continue;
            }
            if (wl < 2 || i - w0 >= sizeof word - 1) continue; /* single letters and giants */
            word[wl] = '\0';
            if (wtab_add(&t, word, wl)) {
                wtab_free(&t);
                return strata_error_set(err, STRATA_ENOMEM, "out of memory");
            }
        }
    }
    size_t m = 0;
    for (size_t i = 0; i < t.cap; i++)
        if (t.key[i]) {
            t.e[m] = t.e[i];
            t.key[m++] = 1;
        }
    for (size_t i = m; i < t.cap; i++) t.key[i] = 0;
    qsort(t.e, m, sizeof *t.e, cmp_wc);
    strata__buf b = {0};
    int bad = strata__buf_printf(&b, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n");
    /* every printable ASCII character but the capitals, alone and as a
     * continuation, so that every lower-cased ASCII word tokenizes */
    for (int c = 33; c < 127 && !bad; c++)
        if (!(c >= 'A' && c <= 'Z')) bad = strata__buf_printf(&b, "%c\n", c);
    for (int c = 33; c < 127 && !bad; c++)
        if (!(c >= 'A' && c <= 'Z')) bad = strata__buf_printf(&b, "##%c\n", c);
    for (size_t q = 0; q < m && q < (size_t)max_words && !bad; q++)
        bad = strata__buf_printf(&b, "%s\n", t.e[q].w);
    strata_status st = bad ? strata_error_set(err, STRATA_ENOMEM, "out of memory")
                           : strata_write_file(path, b.data, b.len, err);
    strata__buf_free(&b);
    wtab_free(&t);
    return st;
}
