/*
 * tokenizer.c — WordPiece tokenizer equal to Hugging Face's BertTokenizer
 * (the `tokenizers` library's BertNormalizer + BertPreTokenizer + WordPiece).
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

#define MAX_WORD_CHARS 100
#define MAX_UNUSED_IDS 65536 /* ids of tokenizer.json without a token */

/* ------------------------------------------------------------------------ */
/* Vocabulary hash table                                                     */
/* ------------------------------------------------------------------------ */

/* Open addressing over token byte strings; slot value = id, -1 empty. */
typedef struct vtable {
    int32_t *slot;   /* [cap] */
    size_t cap;      /* power of two */
} vtable;

struct strata_tokenizer {
    int V;                 /* vocabulary size */
    char *arena;           /* tokens, NUL-terminated, id order */
    size_t *tok_off;       /* [V] offset of token id in arena */
    int *tok_len;          /* [V] byte length */
    vtable full;           /* token -> id */
    vtable cont;           /* "##"-stripped continuation token -> id */
    int lowercase, strip_accents, cjk, clean_text;
    int max_word_chars;
    int unk, cls, sep, pad, mask;
    int special[5];        /* ids matched literally in raw text, -1 none */
    int n_special;
};

static const char *tok_str(const strata_tokenizer *t, int id) {
    return t->arena + t->tok_off[id];
}

static int vt_init(vtable *vt, int V) {
    size_t cap = 16;
    while (cap < (size_t)V * 2) cap <<= 1;
    vt->slot = strata_malloc_array(cap, sizeof(int32_t));
    if (!vt->slot) return -1;
    for (size_t i = 0; i < cap; i++) vt->slot[i] = -1;
    vt->cap = cap;
    return 0;
}

/* Finds key (the whole token, or for `cont` the token minus its "##"). */
static int vt_find(const strata_tokenizer *t, const vtable *vt, int cont,
                   const char *key, size_t len) {
    size_t mask = vt->cap - 1;
    size_t i = (size_t)strata_hash64(key, len, 0) & mask;
    int skip = cont ? 2 : 0;
    for (;;) {
        int32_t id = vt->slot[i];
        if (id < 0) return -1;
        if ((size_t)t->tok_len[id] == len + (size_t)skip &&
            memcmp(tok_str(t, id) + skip, key, len) == 0)
            return id;
        i = (i + 1) & mask;
    }
}

/* Inserts id under its key; a later duplicate token wins (as in HF). */
static void vt_put(strata_tokenizer *t, vtable *vt, int cont, int id) {
    int skip = cont ? 2 : 0;
    const char *key = tok_str(t, id) + skip;
    size_t len = (size_t)t->tok_len[id] - (size_t)skip;
    size_t mask = vt->cap - 1;
    size_t i = (size_t)strata_hash64(key, len, 0) & mask;
    for (;;) {
        int32_t cur = vt->slot[i];
        if (cur < 0) {
            vt->slot[i] = id;
            return;
        }
        if ((size_t)t->tok_len[cur] == len + (size_t)skip &&
            memcmp(tok_str(t, cur) + skip, key, len) == 0) {
            vt->slot[i] = id;
            return;
        }
        i = (i + 1) & mask;
    }
}

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
            found = vt_find(t, s == 0 ? &t->full : &t->cont, s > 0, buf + off[s],
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
                if (l <= len - i && memcmp(text + i, tok_str(t, id), l) == 0) {
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

/* ------------------------------------------------------------------------ */
/* Loading                                                                   */
/* ------------------------------------------------------------------------ */

strata_tokenizer_options strata_tokenizer_default_options(void) {
    strata_tokenizer_options o = {-1, -1, -1};
    return o;
}

void strata_tokenizer_free(strata_tokenizer *t) {
    if (!t) return;
    strata_free(t->arena);
    strata_free(t->tok_off);
    strata_free(t->tok_len);
    strata_free(t->full.slot);
    strata_free(t->cont.slot);
    strata_free(t);
}

/* Builds tables and special ids once tokens are in place. `path` names the
 * file in errors. */
static strata_status finish(strata_tokenizer *t, const char *path,
                            const char *unk_name, strata_error *err) {
    if (vt_init(&t->full, t->V) || vt_init(&t->cont, t->V))
        return strata_error_set(err, STRATA_ENOMEM, "%s: out of memory", path);
    for (int id = 0; id < t->V; id++) {
        vt_put(t, &t->full, 0, id);
        if (t->tok_len[id] >= 2 && memcmp(tok_str(t, id), "##", 2) == 0)
            vt_put(t, &t->cont, 1, id);
    }
    const char *names[4] = {unk_name ? unk_name : "[UNK]", "[CLS]", "[SEP]", NULL};
    int ids[3], n_missing = 0;
    char missing[256] = "";
    for (int k = 0; k < 3; k++) {
        ids[k] = vt_find(t, &t->full, 0, names[k], strlen(names[k]));
        if (ids[k] < 0) { /* counted: an empty unk_token name adds no text */
            size_t l = strlen(missing);
            snprintf(missing + l, sizeof missing - l, "%s%s", n_missing++ ? ", " : "",
                     names[k][0] ? names[k] : "\"\" (an empty unk_token)");
        }
    }
    if (n_missing)
        return strata_error_set(err, STRATA_EFORMAT,
                                "%s: vocabulary lacks the special token(s) %s",
                                path, missing);
    t->unk = ids[0];
    t->cls = ids[1];
    t->sep = ids[2];
    t->pad = vt_find(t, &t->full, 0, "[PAD]", 5);
    t->mask = vt_find(t, &t->full, 0, "[MASK]", 6);
    const char *sp[5] = {"[PAD]", names[0], "[CLS]", "[SEP]", "[MASK]"};
    t->n_special = 0;
    for (int k = 0; k < 5; k++) {
        int id = vt_find(t, &t->full, 0, sp[k], strlen(sp[k]));
        if (id >= 0 && t->tok_len[id] > 0) t->special[t->n_special++] = id;
    }
    t->max_word_chars = MAX_WORD_CHARS;
    return STRATA_OK;
}

/* Uncased when no token outside [brackets] has an ASCII capital letter. */
static int guess_uncased(const strata_tokenizer *t) {
    for (int id = 0; id < t->V; id++) {
        const char *s = tok_str(t, id);
        if (s[0] == '[' || s[0] == '<') continue;
        for (const char *p = s; *p; p++)
            if (*p >= 'A' && *p <= 'Z') return 0;
    }
    return 1;
}

static strata_status load_vocab_txt(strata_tokenizer *t, const char *path,
                                    strata_error *err) {
    char *data;
    size_t len;
    strata_status st = strata_read_file(path, &data, &len, 0, err);
    if (st != STRATA_OK) return st;
    int64_t bad = strata_utf8_invalid_at(data, len);
    if (bad >= 0) {
        int64_t line = 1;
        for (int64_t i = 0; i < bad; i++) line += data[i] == '\n';
        strata_free(data);
        return strata_error_set(err, STRATA_EFORMAT, "%s:%lld: invalid UTF-8",
                                path, (long long)line);
    }
    int V = 0;
    for (size_t i = 0; i < len; i++) V += data[i] == '\n';
    if (len > 0 && data[len - 1] != '\n') V++;
    if (V == 0) {
        strata_free(data);
        return strata_error_set(err, STRATA_EFORMAT, "%s: empty vocabulary", path);
    }
    t->V = V;
    t->arena = data; /* lines become NUL-terminated tokens in place */
    t->tok_off = strata_malloc_array((size_t)V, sizeof(size_t));
    t->tok_len = strata_malloc_array((size_t)V, sizeof(int));
    if (!t->tok_off || !t->tok_len)
        return strata_error_set(err, STRATA_ENOMEM, "%s: out of memory", path);
    size_t s = 0;
    for (int id = 0; id < V; id++) {
        size_t e = s;
        while (e < len && data[e] != '\n') e++;
        size_t te = e;
        /* HF strips trailing whitespace ("\r", spaces) of each line */
        while (te > s && (data[te - 1] == '\r' || data[te - 1] == ' ' ||
                          data[te - 1] == '\t'))
            te--;
        data[te] = 0;
        t->tok_off[id] = s;
        t->tok_len[id] = (int)(te - s);
        s = e + 1;
    }
    return STRATA_OK;
}

static strata_status load_tokenizer_json(strata_tokenizer *t, const char *path,
                                         char **unk_name, strata_error *err) {
    cJSON *j;
    strata_status st = strata__json_read(path, &j, err);
    if (st != STRATA_OK) return st;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (!cJSON_IsObject(vocab)) {
        cJSON_Delete(j);
        return strata_error_set(err, STRATA_EFORMAT,
                                "%s: field \"model.vocab\" missing or not an object", path);
    }
    if (cJSON_IsString(type) && strcmp(type->valuestring, "WordPiece") != 0) {
        strata_error_set(err, STRATA_EUNSUPPORTED, "%s: model type \"%s\" is not WordPiece",
                         path, type->valuestring);
        cJSON_Delete(j); /* after the message, which quotes the tree */
        return STRATA_EUNSUPPORTED;
    }
    int V = 0, n_tokens = 0;
    size_t bytes = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 1e8 ||
            it->valuedouble != (double)it->valueint) {
            /* the message quotes the token: set it before freeing the tree */
            strata_error_set(err, STRATA_EFORMAT,
                             "%s: field \"model.vocab\": bad id for token \"%s\"", path,
                             it->string);
            cJSON_Delete(j);
            return STRATA_EFORMAT;
        }
        if (it->valueint + 1 > V) V = it->valueint + 1;
        bytes += strlen(it->string) + 1;
        n_tokens++;
    }
    if (V == 0) {
        cJSON_Delete(j);
        return strata_error_set(err, STRATA_EFORMAT, "%s: empty vocabulary", path);
    }
    /* Unused ids are allowed (they decode to ""), but tables are sized by the
     * largest id, so a few bytes of JSON must not ask for gigabytes. */
    if (V - n_tokens > MAX_UNUSED_IDS) {
        cJSON_Delete(j);
        return strata_error_set(err, STRATA_EFORMAT,
                                "%s: field \"model.vocab\": largest id %d but only %d tokens "
                                "(at most %d ids may be unused)",
                                path, V - 1, n_tokens, MAX_UNUSED_IDS);
    }
    t->V = V;
    t->arena = strata_malloc(bytes + 1);
    t->tok_off = strata_calloc((size_t)V, sizeof(size_t));
    t->tok_len = strata_calloc((size_t)V, sizeof(int));
    if (!t->arena || !t->tok_off || !t->tok_len) {
        cJSON_Delete(j);
        return strata_error_set(err, STRATA_ENOMEM, "%s: out of memory", path);
    }
    /* ids without a token point at an empty string at offset 0 */
    t->arena[0] = 0;
    size_t off = 1;
    cJSON_ArrayForEach(it, vocab) {
        size_t l = strlen(it->string);
        memcpy(t->arena + off, it->string, l + 1);
        t->tok_off[it->valueint] = off;
        t->tok_len[it->valueint] = (int)l;
        off += l + 1;
    }
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    if (cJSON_IsString(unk) && !(*unk_name = strata_strdup(unk->valuestring))) {
        cJSON_Delete(j);
        return strata_error_set(err, STRATA_ENOMEM, "%s: out of memory", path);
    }
    const cJSON *mwj = cJSON_GetObjectItemCaseSensitive(model, "max_input_chars_per_word");
    int mw = cJSON_IsNumber(mwj) ? mwj->valueint : 0;
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(j, "normalizer");
    if (cJSON_IsObject(norm)) {
        const cJSON *lc = cJSON_GetObjectItemCaseSensitive(norm, "lowercase");
        const cJSON *sa = cJSON_GetObjectItemCaseSensitive(norm, "strip_accents");
        const cJSON *cc = cJSON_GetObjectItemCaseSensitive(norm, "handle_chinese_chars");
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(norm, "clean_text");
        if (cJSON_IsBool(lc)) t->lowercase = cJSON_IsTrue(lc);
        if (cJSON_IsBool(sa)) t->strip_accents = cJSON_IsTrue(sa);
        if (cJSON_IsBool(cc)) t->cjk = cJSON_IsTrue(cc);
        if (cJSON_IsBool(ct)) t->clean_text = cJSON_IsTrue(ct);
    }
    cJSON_Delete(j);
    st = finish(t, path, *unk_name, err);
    if (st == STRATA_OK && mw > 0 && mw <= MAX_WORD_CHARS) t->max_word_chars = mw;
    return st;
}

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}
static int is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}
static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

strata_status strata_tokenizer_load(strata_tokenizer **out, const char *path,
                                    const strata_tokenizer_options *opt,
                                    strata_error *err) {
    *out = NULL;
    strata_tokenizer_options d = strata_tokenizer_default_options();
    if (!opt) opt = &d;
    char *file = NULL, *cfg = NULL;
    if (is_dir(path)) {
        char *tj = strata_path_join(path, "tokenizer.json");
        char *vt = strata_path_join(path, "vocab.txt");
        cfg = strata_path_join(path, "tokenizer_config.json");
        if (!tj || !vt || !cfg) {
            strata_free(tj);
            strata_free(vt);
            strata_free(cfg);
            return strata_error_set(err, STRATA_ENOMEM, "out of memory");
        }
        if (is_file(tj)) { file = tj; tj = NULL; }
        else if (is_file(vt)) { file = vt; vt = NULL; }
        strata_free(tj);
        strata_free(vt);
        if (!file) {
            strata_free(cfg);
            return strata_error_set(err, STRATA_EIO,
                                    "%s: no tokenizer.json or vocab.txt in this folder", path);
        }
    } else {
        file = strata_strdup(path);
    }
    if (!file) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_tokenizer *t = strata_calloc(1, sizeof *t);
    if (!t) {
        strata_free(file);
        strata_free(cfg);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    t->lowercase = t->strip_accents = t->cjk = t->clean_text = -1;
    char *unk_name = NULL;
    strata_status st;
    if (ends_with(file, ".json")) {
        st = load_tokenizer_json(t, file, &unk_name, err);
    } else {
        st = load_vocab_txt(t, file, err);
        if (st == STRATA_OK) st = finish(t, file, NULL, err);
        if (st == STRATA_OK && cfg && is_file(cfg)) {
            cJSON *j; /* present but unreadable is an error, as in Hugging Face */
            if ((st = strata__json_read(cfg, &j, err)) == STRATA_OK) {
                const cJSON *lc = cJSON_GetObjectItemCaseSensitive(j, "do_lower_case");
                const cJSON *sa = cJSON_GetObjectItemCaseSensitive(j, "strip_accents");
                const cJSON *cc = cJSON_GetObjectItemCaseSensitive(j, "tokenize_chinese_chars");
                if (cJSON_IsBool(lc)) t->lowercase = cJSON_IsTrue(lc);
                if (cJSON_IsBool(sa)) t->strip_accents = cJSON_IsTrue(sa);
                if (cJSON_IsBool(cc)) t->cjk = cJSON_IsTrue(cc);
                cJSON_Delete(j);
            }
        }
        if (st == STRATA_OK && t->lowercase < 0) t->lowercase = guess_uncased(t);
    }
    strata_free(unk_name);
    strata_free(file);
    strata_free(cfg);
    if (st != STRATA_OK) {
        strata_tokenizer_free(t);
        return st;
    }
    if (opt->lowercase >= 0) t->lowercase = opt->lowercase != 0;
    if (t->lowercase < 0) t->lowercase = 1;
    if (opt->strip_accents >= 0) t->strip_accents = opt->strip_accents != 0;
    else if (opt->lowercase >= 0 || t->strip_accents < 0) t->strip_accents = t->lowercase;
    if (opt->tokenize_cjk >= 0) t->cjk = opt->tokenize_cjk != 0;
    if (t->cjk < 0) t->cjk = 1;
    if (t->clean_text < 0) t->clean_text = 1;
    *out = t;
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Accessors and saving                                                      */
/* ------------------------------------------------------------------------ */

int strata_tokenizer_vocab_size(const strata_tokenizer *tok) { return tok->V; }

int strata_tokenizer_special(const strata_tokenizer *tok, const char *name) {
    return vt_find(tok, &tok->full, 0, name, strlen(name));
}

const char *strata_tokenizer_token(const strata_tokenizer *tok, int id) {
    if (id < 0 || id >= tok->V) return NULL;
    return tok_str(tok, id);
}

int strata_tokenizer_lowercase(const strata_tokenizer *tok) { return tok->lowercase; }

strata_status strata_tokenizer_save_vocab(const strata_tokenizer *tok,
                                          const char *path, strata_error *err) {
    strata_atomic a;
    strata_status st = strata_atomic_open(&a, path, err);
    if (st != STRATA_OK) return st;
    for (int id = 0; id < tok->V; id++) {
        fwrite(tok_str(tok, id), 1, (size_t)tok->tok_len[id], a.fp);
        fputc('\n', a.fp);
    }
    return strata_atomic_commit(&a, err);
}
