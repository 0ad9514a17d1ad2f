/*
 * tokenizer_vocab.c — the WordPiece tokenizer's vocabulary: the token hash
 * tables, loading (vocab.txt + tokenizer_config.json, or tokenizer.json),
 * the accessors, and vocab.txt written back.
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
#define MAX_UNUSED_IDS 65536 /* ids of tokenizer.json without a token */

/* ------------------------------------------------------------------------ */
/* Vocabulary hash table                                                     */
/* ------------------------------------------------------------------------ */

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
int strata__tok_find(const strata_tokenizer *t, const vtable *vt, int cont,
                     const char *key, size_t len) {
    size_t mask = vt->cap - 1;
    size_t i = (size_t)strata_hash64(key, len, 0) & mask;
    int skip = cont ? 2 : 0;
    for (;;) {
        int32_t id = vt->slot[i];
        if (id < 0) return -1;
        if ((size_t)t->tok_len[id] == len + (size_t)skip &&
            memcmp(strata__tok_str(t, id) + skip, key, len) == 0)
            return id;
        i = (i + 1) & mask;
    }
}

/* Inserts id under its key; a later duplicate token wins (as in HF). */
static void vt_put(strata_tokenizer *t, vtable *vt, int cont, int id) {
    int skip = cont ? 2 : 0;
    const char *key = strata__tok_str(t, id) + skip;
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
            memcmp(strata__tok_str(t, cur) + skip, key, len) == 0) {
            vt->slot[i] = id;
            return;
        }
        i = (i + 1) & mask;
    }
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
        if (t->tok_len[id] >= 2 && memcmp(strata__tok_str(t, id), "##", 2) == 0)
            vt_put(t, &t->cont, 1, id);
    }
    const char *names[4] = {unk_name ? unk_name : "[UNK]", "[CLS]", "[SEP]", NULL};
    int ids[3], n_missing = 0;
    char missing[256] = "";
    for (int k = 0; k < 3; k++) {
        ids[k] = strata__tok_find(t, &t->full, 0, names[k], strlen(names[k]));
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
    t->pad = strata__tok_find(t, &t->full, 0, "[PAD]", 5);
    t->mask = strata__tok_find(t, &t->full, 0, "[MASK]", 6);
    const char *sp[5] = {"[PAD]", names[0], "[CLS]", "[SEP]", "[MASK]"};
    t->n_special = 0;
    for (int k = 0; k < 5; k++) {
        int id = strata__tok_find(t, &t->full, 0, sp[k], strlen(sp[k]));
        if (id >= 0 && t->tok_len[id] > 0) t->special[t->n_special++] = id;
    }
    t->max_word_chars = MAX_WORD_CHARS;
    return STRATA_OK;
}

/* Uncased when no token outside [brackets] has an ASCII capital letter. */
static int guess_uncased(const strata_tokenizer *t) {
    for (int id = 0; id < t->V; id++) {
        const char *s = strata__tok_str(t, id);
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
    return strata__tok_find(tok, &tok->full, 0, name, strlen(name));
}

const char *strata_tokenizer_token(const strata_tokenizer *tok, int id) {
    if (id < 0 || id >= tok->V) return NULL;
    return strata__tok_str(tok, id);
}

int strata_tokenizer_lowercase(const strata_tokenizer *tok) { return tok->lowercase; }

strata_status strata_tokenizer_save_vocab(const strata_tokenizer *tok,
                                          const char *path, strata_error *err) {
    strata_atomic a;
    strata_status st = strata_atomic_open(&a, path, err);
    if (st != STRATA_OK) return st;
    for (int id = 0; id < tok->V; id++) {
        fwrite(strata__tok_str(tok, id), 1, (size_t)tok->tok_len[id], a.fp);
        fputc('\n', a.fp);
    }
    return strata_atomic_commit(&a, err);
}
