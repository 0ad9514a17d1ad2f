/*
 * tokenizer.c — WordPiece tokenizer equal to Hugging Face's BertTokenizer
 * (the `tokenizers` library's BertNormalizer + BertPreTokenizer + WordPiece).
 * The vocabulary (its hash table, loading, saving) is in tokenizer_vocab.c.
 *
 * Pipeline for one text:
 *   1. validate UTF-8, split off added special tokens ("[CLS]", ...) that
 *      appear literally in the raw text (HF matches them before
 *      normalization);
 *   2. normalize (BertNormalizer): drop NUL, U+FFFD and "other" characters
 *      (categories Cc Cf Cn Co Cs, except \t \n \r); map White_Space to ' ';
 *      pad CJK ideographs with spaces; strip accents (NFD, drop Mn); lower
 *      case (full mapping: U+0130 becomes "i" + U+0307);
 *   3. pre-tokenize (BertPreTokenizer): split on White_Space (removed) and on
 *      punctuation (ASCII punctuation or Unicode P*; isolated);
 *   4. WordPiece: greedy longest-match-first with "##" continuation; words
 *      over 100 characters or with an unmatchable rest become [UNK].
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

#include "core/internal.h"
#include "strata/encoder.h"
#include "strata/io.h"
#include "encoder/tokenizer_internal.h"

#define MAX_WORD_CHARS 100

/* ------------------------------------------------------------------------ */
/* Character classes (as Hugging Face tokenizers' bert normalizer)           */
/* ------------------------------------------------------------------------ */

/* Rust char::is_whitespace (Unicode White_Space). */
static int is_ws(int32_t c) {
    if (c == ' ' || (c >= 0x09 && c <= 0x0D)) return 1;
    if (c < 0x85) return 0;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* "other" characters (Cc Cf Cn Co Cs) except \t \n \r. */
static int is_control(int32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CS:
        return 1;
    default:
        return 0;
    }
}

static int is_punct(int32_t c) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
        (c >= 123 && c <= 126))
        return 1;
    if (c < 128) return 0;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return 1;
    default:
        return 0;
    }
}

/* BERT's _is_chinese_char ranges. */
static int is_cjk(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* ------------------------------------------------------------------------ */
/* Normalization into a codepoint buffer                                     */
/* ------------------------------------------------------------------------ */

/* A growable int32 buffer: codepoints here, token ids below. */
typedef struct cpbuf {
    int32_t *v;
    size_t n, cap;
} cpbuf;

static int cp_push(cpbuf *b, int32_t c) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        int32_t *nv = strata_realloc(b->v, cap * sizeof(int32_t));
        if (!nv) return -1;
        b->v = nv;
        b->cap = cap;
    }
    b->v[b->n++] = c;
    return 0;
}

typedef struct norm_opts {
    int lowercase, strip_accents, cjk, clean_text;
} norm_opts;

/* Canonical ordering of combining marks in v[0..n) (stable insertion sort
 * by nonzero combining class, as NFD requires). */
static void canonical_order(int32_t *v, size_t n) {
    for (size_t i = 1; i < n; i++) {
        int cc = utf8proc_get_property(v[i])->combining_class;
        if (cc == 0) continue;
        size_t j = i;
        while (j > 0) {
            int pc = utf8proc_get_property(v[j - 1])->combining_class;
            if (pc <= cc) break;
            int32_t tmp = v[j];
            v[j] = v[j - 1];
            v[j - 1] = tmp;
            j--;
        }
    }
}

/* Appends normalized codepoints of the valid UTF-8 s[0..n) to out.
 * Returns 0, or -1 on out of memory. */
static int normalize(const norm_opts *o, const char *s, size_t n, cpbuf *out) {
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    size_t i = 0;
    size_t mark_from = out->n; /* start of the current NFD reordering run */
    while (i < n) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &c);
        if (k <= 0) { k = 1; c = 0xFFFD; } /* not reached: input validated */
        i += (size_t)k;
        if (o->clean_text) {
            if (c == 0 || c == 0xFFFD || is_control(c)) continue;
            if (is_ws(c)) c = ' ';
        }
        if (o->cjk && is_cjk(c)) {
            if (cp_push(out, ' ') || cp_push(out, c) || cp_push(out, ' ')) return -1;
            mark_from = out->n;
            continue;
        }
        if (o->strip_accents) {
            utf8proc_int32_t d[32];
            int last = 0;
            utf8proc_ssize_t nd =
                utf8proc_decompose_char(c, d, 32, UTF8PROC_DECOMPOSE, &last);
            if (nd <= 0 || nd > 32) { d[0] = c; nd = 1; }
            for (utf8proc_ssize_t j = 0; j < nd; j++) {
                if (utf8proc_category(d[j]) == UTF8PROC_CATEGORY_MN) continue;
                int32_t e = d[j];
                if (o->lowercase) {
                    if (e == 0x130) { /* İ: full lower-case mapping */
                        if (cp_push(out, 'i') || cp_push(out, 0x307)) return -1;
                        continue;
                    }
                    e = utf8proc_tolower(e);
                }
                if (utf8proc_get_property(e)->combining_class == 0 && out->n > mark_from) {
                    canonical_order(out->v + mark_from, out->n - mark_from);
                    mark_from = out->n;
                }
                if (cp_push(out, e)) return -1;
            }
            continue;
        }
        if (o->lowercase) {
            if (c == 0x130) {
                if (cp_push(out, 'i') || cp_push(out, 0x307)) return -1;
                continue;
            }
            c = utf8proc_tolower(c);
        }
        if (cp_push(out, c)) return -1;
    }
    if (o->strip_accents && out->n > mark_from) /* (out->v may still be NULL) */
        canonical_order(out->v + mark_from, out->n - mark_from);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Pre-tokenization + WordPiece                                              */
/* ------------------------------------------------------------------------ */

/* Token ids share the codepoint buffer's type. */
typedef cpbuf idbuf;

/* Calls fn on each word (codepoint range) of the normalized buffer. */
typedef int (*word_cb)(void *ud, const int32_t *w, size_t n);

static int pretokenize(const int32_t *v, size_t n, word_cb fn, void *ud) {
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        int boundary = i == n || is_ws(v[i]) || is_punct(v[i]);
        if (!boundary) continue;
        if (i > start && fn(ud, v + start, i - start)) return -1;
        if (i < n && is_punct(v[i]) && fn(ud, v + i, 1)) return -1;
        start = i + 1;
    }
    return 0;
}

typedef struct wp_ctx {
    const strata_tokenizer *t;
    idbuf *ids;
} wp_ctx;

static int wordpiece(void *ud, const int32_t *w, size_t n) {
    wp_ctx *c = ud;
    const strata_tokenizer *t = c->t;
    if (n > (size_t)t->max_word_chars) return cp_push(c->ids, t->unk);
    char buf[4 * MAX_WORD_CHARS + 8];
    size_t off[MAX_WORD_CHARS + 1];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        off[i] = len;
        len += (size_t)utf8proc_encode_char(w[i], (utf8proc_uint8_t *)buf + len);
    }
    off[n] = len;
    size_t mark = c->ids->n;
    size_t s = 0;
    while (s < n) {
        int found = -1;
        size_t e = n;
        for (; e > s; e--) {
            found = strata__tok_find(t, s == 0 ? &t->full : &t->cont, s > 0, buf + off[s],
                            off[e] - off[s]);
            if (found >= 0) break;
        }
        if (found < 0) {
            c->ids->n = mark;
            return cp_push(c->ids, t->unk);
        }
        if (cp_push(c->ids, found)) return -1;
        s = e;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                  */
/* ------------------------------------------------------------------------ */

static norm_opts tok_norm(const strata_tokenizer *t) {
    norm_opts o = {t->lowercase, t->strip_accents, t->cjk, t->clean_text};
    return o;
}

/* Encodes a whole text (no specials, no truncation) into ids. */
static strata_status encode_all(const strata_tokenizer *t, const char *text,
                                size_t len, idbuf *ids, strata_error *err) {
    int64_t bad = strata_utf8_invalid_at(text, len);
    if (bad >= 0)
        return strata_error_set(err, STRATA_EFORMAT,
                                "invalid UTF-8 at byte %lld", (long long)bad);
    norm_opts o = tok_norm(t);
    cpbuf cp = {0};
    wp_ctx ctx = {t, ids};
    size_t seg = 0, i = 0;
    strata_status st = STRATA_OK;
    while (i <= len) {
        int sid = -1;
        size_t slen = 0;
        if (i < len && text[i] == '[') {
            for (int k = 0; k < t->n_special; k++) {
                int id = t->special[k];
                size_t l = (size_t)t->tok_len[id];
                if (l <= len - i && memcmp(text + i, strata__tok_str(t, id), l) == 0) {
                    sid = id;
                    slen = l;
                    break;
                }
            }
        }
        if (i == len || sid >= 0) {
            cp.n = 0;
            if (normalize(&o, text + seg, i - seg, &cp) ||
                pretokenize(cp.v, cp.n, wordpiece, &ctx) ||
                (sid >= 0 && cp_push(ids, sid))) {
                st = strata_error_set(err, STRATA_ENOMEM, "out of memory tokenizing");
                break;
            }
            if (i == len) break;
            i += slen;
            seg = i;
            continue;
        }
        i++;
    }
    strata_free(cp.v);
    return st;
}

strata_status strata_tokenizer_encode_alloc(const strata_tokenizer *tok,
                                            const char *text, size_t len,
                                            int add_special, int max_len,
                                            int32_t **ids_out, int *n_ids,
                                            strata_error *err) {
    *ids_out = NULL;
    *n_ids = 0;
    idbuf ids = {0};
    if (add_special && cp_push(&ids, tok->cls))
        return strata_error_set(err, STRATA_ENOMEM, "out of memory tokenizing");
    strata_status st = encode_all(tok, text, len, &ids, err);
    if (st != STRATA_OK) {
        strata_free(ids.v);
        return st;
    }
    if (max_len > 0) {
        size_t keep = (size_t)max_len - (add_special && max_len >= 1 ? 1 : 0);
        if (ids.n > keep) ids.n = keep;
    }
    if (add_special && cp_push(&ids, tok->sep)) {
        strata_free(ids.v);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory tokenizing");
    }
    if (ids.n > (size_t)INT32_MAX) {
        strata_free(ids.v);
        return strata_error_set(err, STRATA_EINVAL, "text has too many tokens");
    }
    *ids_out = ids.v;
    *n_ids = (int)ids.n;
    return STRATA_OK;
}

strata_status strata_tokenizer_encode(const strata_tokenizer *tok,
                                      const char *text, size_t len,
                                      int add_special, int max_len,
                                      int32_t *ids, int *n_ids,
                                      strata_error *err) {
    *n_ids = 0;
    if (max_len < (add_special ? 2 : 1))
        return strata_error_set(err, STRATA_EINVAL,
                                "max_len %d too small (need >= %d)", max_len,
                                add_special ? 2 : 1);
    int32_t *all;
    int n;
    strata_status st =
        strata_tokenizer_encode_alloc(tok, text, len, add_special, max_len, &all, &n, err);
    if (st != STRATA_OK) return st;
    memcpy(ids, all, sizeof(int32_t) * (size_t)n);
    *n_ids = n;
    strata_free(all);
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Basic tokenizer (no vocabulary), for the hash embedder                    */
/* ------------------------------------------------------------------------ */

typedef struct basic_ctx {
    strata_word_fn fn;
    void *ud;
    char *buf;
    size_t cap;
} basic_ctx;

static int basic_word(void *ud, const int32_t *w, size_t n) {
    basic_ctx *c = ud;
    if (n * 4 + 1 > c->cap) {
        size_t cap = n * 4 + 64;
        char *nb = strata_realloc(c->buf, cap);
        if (!nb) return -1;
        c->buf = nb;
        c->cap = cap;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)utf8proc_encode_char(w[i], (utf8proc_uint8_t *)c->buf + len);
    c->buf[len] = 0;
    c->fn(c->ud, c->buf, len);
    return 0;
}

strata_status strata_tokenizer_basic(const strata_tokenizer_options *opt,
                                     const char *text, size_t len,
                                     strata_word_fn fn, void *ud,
                                     strata_error *err) {
    int64_t bad = strata_utf8_invalid_at(text, len);
    if (bad >= 0)
        return strata_error_set(err, STRATA_EFORMAT,
                                "invalid UTF-8 at byte %lld", (long long)bad);
    strata_tokenizer_options d = strata_tokenizer_default_options();
    if (!opt) opt = &d;
    norm_opts o;
    o.lowercase = opt->lowercase != 0;
    o.strip_accents = opt->strip_accents < 0 ? o.lowercase : opt->strip_accents != 0;
    o.cjk = opt->tokenize_cjk != 0;
    o.clean_text = 1;
    cpbuf cp = {0};
    basic_ctx c = {fn, ud, NULL, 0};
    strata_status st = STRATA_OK;
    if (normalize(&o, text, len, &cp) || pretokenize(cp.v, cp.n, basic_word, &c))
        st = strata_error_set(err, STRATA_ENOMEM, "out of memory tokenizing");
    strata_free(cp.v);
    strata_free(c.buf);
    return st;
}
