/*
 * st_folder.c — the sentence-transformers side of a BERT model folder, so
 * that a folder round-trips between Strata and sentence-transformers with
 * the same settings:
 *
 *   sentence_bert_config.json         max_seq_length, do_lower_case
 *   config_sentence_transformers.json prompts, default_prompt_name,
 *                                     similarity_fn_name
 *   modules.json                      Transformer, Pooling [, Normalize]
 *   1_Pooling/config.json             CLS or mean (include_prompt true)
 *   2_Normalize/                      empty, when modules.json names it
 *   tokenizer.json, special_tokens_map.json, vocab.txt,
 *   tokenizer_config.json             kept byte for byte from the folder the
 *                                     model was loaded from; else generated
 *
 * Prompts follow sentence-transformers 3.4 (SentenceTransformer.encode):
 * the prompt string is prepended to the text ("query: " + text) before
 * tokenization, and with Pooling's default include_prompt = true its tokens
 * count in the mean pooling like any other.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/internal.h"
#include "encoder/st_folder.h"
#include "encoder/tokenizer_internal.h"
#include "strata/io.h"

/* The tokenizer files passed through on save. */
#define N_TOK_FILES 4
static const char *const k_tok_files[N_TOK_FILES] = {
    "tokenizer.json", "special_tokens_map.json", "vocab.txt", "tokenizer_config.json"};

/* Tokenizer files over this size are not kept (a tokenizer.json is ~1 MB). */
#define TOK_FILE_MAX ((size_t)64 << 20)

struct strata_bert_st {
    int n;                        /* prompts                                */
    char **name;                  /* [n] owned                              */
    char **text;                  /* [n] owned                              */
    char *default_name;           /* default_prompt_name, owned, or NULL    */
    char similarity[16];          /* similarity_fn_name, or "" (absent)      */
    char *tok[N_TOK_FILES];       /* bytes of k_tok_files[i], or NULL       */
    size_t tok_len[N_TOK_FILES];  /* their sizes                            */
};

void strata__st_free(strata_bert_st *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        strata_free(s->name[i]);
        strata_free(s->text[i]);
    }
    strata_free(s->name);
    strata_free(s->text);
    strata_free(s->default_name);
    for (int i = 0; i < N_TOK_FILES; i++) strata_free(s->tok[i]);
    strata_free(s);
}

/* ------------------------------------------------------------------------ */
/* Prompts                                                                   */
/* ------------------------------------------------------------------------ */

static int find_prompt(const strata_bert_st *s, const char *name) {
    if (!s || !name) return -1;
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->name[i], name) == 0) return i;
    return -1;
}

/* Adds or replaces prompt name (copies both strings). */
static strata_status put_prompt(strata_bert_st *s, const char *name, const char *text,
                                strata_error *err) {
    int i = find_prompt(s, name);
    char *t = strata_strdup(text);
    if (!t) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    if (i >= 0) {
        strata_free(s->text[i]);
        s->text[i] = t;
        return STRATA_OK;
    }
    char *nm = strata_strdup(name);
    char **nn = nm ? strata_realloc(s->name, (size_t)(s->n + 1) * sizeof *nn) : NULL;
    if (nn) s->name = nn;
    char **nt = nn ? strata_realloc(s->text, (size_t)(s->n + 1) * sizeof *nt) : NULL;
    if (nt) s->text = nt;
    if (!nt) {
        strata_free(nm);
        strata_free(t);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    s->name[s->n] = nm;
    s->text[s->n] = t;
    s->n++;
    return STRATA_OK;
}

const char *strata_bert_prompt(const strata_bert *m, const char *name) {
    int i = find_prompt(m->st, name);
    return i >= 0 ? m->st->text[i] : NULL;
}

const char *strata_bert_similarity(const strata_bert *m) {
    return m->st && m->st->similarity[0] ? m->st->similarity : "cosine";
}

const char *strata_bert_default_prompt(const strata_bert *m) {
    return m->st && m->st->default_name ? strata_bert_prompt(m, m->st->default_name) : NULL;
}

const char *strata_bert_query_prompt(const strata_bert *m) {
    const char *p = strata_bert_prompt(m, "query");
    return p ? p : strata_bert_default_prompt(m);
}

const char *strata_bert_doc_prompt(const strata_bert *m) {
    static const char *const names[3] = {"document", "passage", "corpus"};
    for (int i = 0; i < 3; i++) {
        const char *p = strata_bert_prompt(m, names[i]);
        if (p) return p;
    }
    return strata_bert_default_prompt(m);
}

static void ignore_word(void *ud, const char *w, size_t n) {
    (void)ud;
    (void)w;
    (void)n;
}

strata_status strata_bert_set_prompt(strata_bert *m, const char *name, const char *text,
                                     strata_error *err) {
    if (!name || !name[0]) return strata_error_set(err, STRATA_EINVAL, "a prompt needs a name");
    if (text) {
        strata_status st = strata_tokenizer_basic(NULL, text, strlen(text), ignore_word, NULL, err);
        if (st) return strata_error_prefix(err, "prompt \"%s\"", name);
    }
    if (!m->st && !(m->st = strata_calloc(1, sizeof *m->st)))
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_bert_st *s = m->st;
    if (text) return put_prompt(s, name, text, err);
    int i = find_prompt(s, name);
    if (i < 0) return STRATA_OK;
    strata_free(s->name[i]);
    strata_free(s->text[i]);
    memmove(s->name + i, s->name + i + 1, (size_t)(s->n - i - 1) * sizeof *s->name);
    memmove(s->text + i, s->text + i + 1, (size_t)(s->n - i - 1) * sizeof *s->text);
    s->n--;
    if (s->default_name && strcmp(s->default_name, name) == 0) {
        strata_free(s->default_name);
        s->default_name = NULL;
    }
    return STRATA_OK;
}

strata_status strata__encode_prompted(const strata_tokenizer *tok, const char *prompt,
                                      const char *text, size_t len, int max_len, int32_t *ids,
                                      int *n_ids, strata_error *err) {
    if (!prompt || !prompt[0])
        return strata_tokenizer_encode(tok, text, len, 1, max_len, ids, n_ids, err);
    size_t pl = strlen(prompt), all;
    char *buf = strata_size_add(pl, len, &all) ? NULL : strata_malloc(all + 1);
    if (!buf) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    memcpy(buf, prompt, pl);
    memcpy(buf + pl, text, len);
    buf[all] = 0;
    strata_status st = strata_tokenizer_encode(tok, buf, all, 1, max_len, ids, n_ids, err);
    strata_free(buf);
    if (st == STRATA_EFORMAT) { /* name the byte in the text, not in prompt + text */
        int32_t *tmp = NULL;
        int k;
        if (strata_tokenizer_encode_alloc(tok, text, len, 1, 0, &tmp, &k, err) != STRATA_OK)
            st = err ? err->status : st;
        strata_free(tmp);
    }
    return st;
}

/* ------------------------------------------------------------------------ */
/* Load                                                                      */
/* ------------------------------------------------------------------------ */

/* Reads dir/name as a JSON object into *j; *j NULL (OK) when absent. */
static strata_status read_json(const char *dir, const char *name, char **path, cJSON **j,
                               strata_error *err) {
    *j = NULL;
    *path = strata_path_join(dir, name);
    if (!*path) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    struct stat sb;
    if (stat(*path, &sb) != 0) return STRATA_OK;
    strata_status st = strata__json_read(*path, j, err);
    if (st) return st;
    if (!cJSON_IsObject(*j)) {
        cJSON_Delete(*j);
        *j = NULL;
        return strata_error_set(err, STRATA_EFORMAT, "%s: not a JSON object", *path);
    }
    return STRATA_OK;
}

static strata_status load_sbert_config(strata_bert_config *cfg, const char *dir,
                                       strata_error *err) {
    char *path;
    cJSON *j;
    strata_status st = read_json(dir, "sentence_bert_config.json", &path, &j, err);
    if (!st && j) {
        const cJSON *ml = cJSON_GetObjectItemCaseSensitive(j, "max_seq_length");
        const cJSON *lc = cJSON_GetObjectItemCaseSensitive(j, "do_lower_case");
        int64_t v = 0;
        if (ml && !cJSON_IsNull(ml) && !strata__json_int(ml, 2, 1 << 20, &v))
            st = strata_error_set(err, STRATA_EFORMAT, "%s: key \"max_seq_length\" must be an "
                                  "integer in 2..%d (or null)", path, 1 << 20);
        else if (lc && !cJSON_IsBool(lc))
            st = strata_error_set(err, STRATA_EFORMAT, "%s: key \"do_lower_case\" must be "
                                  "true or false", path);
        cfg->max_seq_length = (int)v;
        cfg->do_lower_case = cJSON_IsTrue(lc);
    }
    cJSON_Delete(j);
    strata_free(path);
    return st;
}

static strata_status load_prompts(strata_bert_st *s, const char *dir, strata_error *err) {
    char *path;
    cJSON *j;
    strata_status st = read_json(dir, "config_sentence_transformers.json", &path, &j, err);
    if (st || !j) goto done;
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(j, "prompts");
    const cJSON *dn = cJSON_GetObjectItemCaseSensitive(j, "default_prompt_name");
    const cJSON *sim = cJSON_GetObjectItemCaseSensitive(j, "similarity_fn_name");
    if (sim && !cJSON_IsNull(sim)) {
        static const char *const known[] = {"cosine", "dot", "euclidean", "manhattan"};
        int ok = 0;
        for (int i = 0; i < 4 && cJSON_IsString(sim); i++)
            ok |= strcmp(sim->valuestring, known[i]) == 0;
        if (!ok) {
            st = strata_error_set(err, STRATA_EFORMAT, "%s: key \"similarity_fn_name\" must be "
                                  "null, \"cosine\", \"dot\", \"euclidean\" or \"manhattan\"",
                                  path);
            goto done;
        }
        snprintf(s->similarity, sizeof s->similarity, "%s", sim->valuestring);
    }
    if (pr && !cJSON_IsNull(pr) && !cJSON_IsObject(pr)) {
        st = strata_error_set(err, STRATA_EFORMAT, "%s: key \"prompts\" must be an object of "
                              "name: text strings", path);
        goto done;
    }
    const cJSON *e, *obj = cJSON_IsObject(pr) ? pr : NULL;
    cJSON_ArrayForEach(e, obj) {
        if (!cJSON_IsString(e) || !e->string[0]) {
            st = strata_error_set(err, STRATA_EFORMAT, "%s: key \"prompts\".\"%s\" must be a "
                                  "string (and its name not empty)", path, e->string);
            goto done;
        }
        const char *t = e->valuestring;
        if ((st = strata_tokenizer_basic(NULL, t, strlen(t), ignore_word, NULL, err))) {
            strata_error_prefix(err, "%s: key \"prompts\".\"%s\"", path, e->string);
            goto done;
        }
        if ((st = put_prompt(s, e->string, t, err))) goto done;
    }
    if (dn && !cJSON_IsNull(dn)) {
        if (!cJSON_IsString(dn) || find_prompt(s, dn->valuestring) < 0) {
            st = strata_error_set(err, STRATA_EFORMAT, "%s: key \"default_prompt_name\" must "
                                  "be null or the name of one of \"prompts\"", path);
            goto done;
        }
        if (!(s->default_name = strata_strdup(dn->valuestring)))
            st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
done:
    cJSON_Delete(j);
    strata_free(path);
    return st;
}

static strata_status check_pooling(const char *dir, strata_error *err) {
    char *path;
    cJSON *j;
    strata_status st = read_json(dir, "1_Pooling/config.json", &path, &j, err);
    const cJSON *ip = j ? cJSON_GetObjectItemCaseSensitive(j, "include_prompt") : NULL;
    if (!st && ip && !cJSON_IsTrue(ip))
        st = strata_error_set(err, STRATA_EUNSUPPORTED, "%s: key \"include_prompt\" must be "
                              "true (leaving prompt tokens out of the pooling, as INSTRUCTOR "
                              "models do, is not supported)", path);
    cJSON_Delete(j);
    strata_free(path);
    return st;
}

static strata_status load_tok_files(strata_bert_st *s, const char *dir, strata_error *err) {
    for (int i = 0; i < N_TOK_FILES; i++) {
        char *p = strata_path_join(dir, k_tok_files[i]);
        if (!p) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
        struct stat sb;
        strata_status st = STRATA_OK;
        if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode))
            st = strata_read_file(p, &s->tok[i], &s->tok_len[i], TOK_FILE_MAX, err);
        strata_free(p);
        if (st) return st;
    }
    return STRATA_OK;
}

strata_status strata__st_load(strata_bert_config *cfg, strata_bert_st **out, const char *dir,
                              strata_error *err) {
    *out = NULL;
    strata_bert_st *s = strata_calloc(1, sizeof *s);
    if (!s) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_status st = load_sbert_config(cfg, dir, err);
    if (!st) st = load_prompts(s, dir, err);
    if (!st) st = check_pooling(dir, err);
    if (!st) st = load_tok_files(s, dir, err);
    if (st) {
        strata__st_free(s);
        return st;
    }
    *out = s;
    return STRATA_OK;
}

void strata__st_apply_lower_case(const strata_bert_config *cfg, strata_tokenizer *tok) {
    if (cfg->do_lower_case && tok) tok->lowercase = 1;
}

int strata__st_embed_len(const strata_bert_config *cfg) {
    int n = cfg->max_seq_length > 0 ? cfg->max_seq_length : STRATA_EMBED_DEFAULT_MAX_LEN;
    return n < cfg->max_position ? n : cfg->max_position;
}

/* ------------------------------------------------------------------------ */
/* Save                                                                      */
/* ------------------------------------------------------------------------ */

/* Writes j (deleted here; NULL: out of memory) to dir/name, and lists it. */
static strata_status save_json(const char *dir, const char *name, cJSON *j, const char **files,
                               int *n, strata_error *err) {
    if (!j) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    char *p = strata_path_join(dir, name);
    strata_status st = p ? strata__json_write(p, j, err)
                         : strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_free(p);
    cJSON_Delete(j);
    if (!st) files[(*n)++] = name;
    return st;
}

/* cJSON's Add* calls return NULL when out of memory: one failure makes the
 * whole object NULL (deleted). */
static cJSON *checked(cJSON *j, int ok) {
    if (ok) return j;
    cJSON_Delete(j);
    return NULL;
}

/* The tokenizer files: passed through, else generated from m->tok. */
static strata_status save_tokenizer(const strata_bert *m, const char *dir, const char **files,
                                    int *n, strata_error *err) {
    const strata_bert_st *s = m->st;
    strata_status st = STRATA_OK;
    for (int i = 0; i < N_TOK_FILES && !st; i++) {
        const char *name = k_tok_files[i];
        if (s && s->tok[i]) {
            char *p = strata_path_join(dir, name);
            st = p ? strata_write_file(p, s->tok[i], s->tok_len[i], err)
                   : strata_error_set(err, STRATA_ENOMEM, "out of memory");
            strata_free(p);
            if (!st) files[(*n)++] = name;
            continue;
        }
        if (!m->tok || i == 0) continue; /* tokenizer.json is not generated */
        const strata_tokenizer *t = m->tok;
        if (i == 2) {
            char *p = strata_path_join(dir, name);
            st = p ? strata_tokenizer_save_vocab(t, p, err)
                   : strata_error_set(err, STRATA_ENOMEM, "out of memory");
            strata_free(p);
            if (!st) files[(*n)++] = name;
            continue;
        }
        cJSON *j = cJSON_CreateObject();
        int ok = j != NULL;
        if (i == 3) {
            ok = ok && cJSON_AddBoolToObject(j, "do_lower_case", strata_tokenizer_lowercase(t)) &&
                 cJSON_AddBoolToObject(j, "strip_accents", t->strip_accents) &&
                 cJSON_AddBoolToObject(j, "tokenize_chinese_chars", t->cjk) &&
                 cJSON_AddStringToObject(j, "tokenizer_class", "BertTokenizer") &&
                 cJSON_AddNumberToObject(j, "model_max_length", strata__st_embed_len(&m->cfg));
        }
        static const char *const keys[5] = {"unk_token", "sep_token", "pad_token", "cls_token",
                                            "mask_token"};
        static const char *const toks[5] = {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"};
        for (int k = 0; k < 5 && ok; k++)
            if (strata_tokenizer_special(t, toks[k]) >= 0)
                ok = cJSON_AddStringToObject(j, keys[k], toks[k]) != NULL;
        st = save_json(dir, name, checked(j, ok), files, n, err);
    }
    return st;
}

static cJSON *st_config_json(const strata_bert *m) {
    const strata_bert_st *s = m->st;
    cJSON *j = cJSON_CreateObject(), *pr = cJSON_CreateObject();
    int ok = j && pr;
    for (int i = 0; ok && s && i < s->n; i++)
        ok = cJSON_AddStringToObject(pr, s->name[i], s->text[i]) != NULL;
    if (ok && !cJSON_AddItemToObject(j, "prompts", pr)) ok = 0;
    else if (ok) pr = NULL; /* owned by j */
    cJSON_Delete(pr);
    if (ok && s && s->default_name)
        ok = cJSON_AddStringToObject(j, "default_prompt_name", s->default_name) != NULL;
    else if (ok)
        ok = cJSON_AddNullToObject(j, "default_prompt_name") != NULL;
    ok = ok && cJSON_AddStringToObject(j, "similarity_fn_name", strata_bert_similarity(m));
    return checked(j, ok);
}

static cJSON *modules_json(const strata_bert_config *cfg) {
    cJSON *mj = cJSON_CreateArray();
    const char *types[3] = {"sentence_transformers.models.Transformer",
                            "sentence_transformers.models.Pooling",
                            "sentence_transformers.models.Normalize"};
    const char *paths[3] = {"", "1_Pooling", "2_Normalize"};
    int ok = mj != NULL;
    for (int i = 0; ok && i < (cfg->normalize ? 3 : 2); i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(mj, o)) {
            cJSON_Delete(o);
            ok = 0;
            break;
        }
        char nm[16];
        snprintf(nm, sizeof nm, "%d", i);
        ok = cJSON_AddNumberToObject(o, "idx", i) && cJSON_AddStringToObject(o, "name", nm) &&
             cJSON_AddStringToObject(o, "path", paths[i]) &&
             cJSON_AddStringToObject(o, "type", types[i]);
    }
    return checked(mj, ok);
}

static strata_status mkdir_in(const char *dir, const char *name, strata_error *err) {
    char *p = strata_path_join(dir, name);
    if (!p) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_status st = strata_mkdirs(p, err);
    strata_free(p);
    return st;
}

strata_status strata__st_save(const strata_bert *m, const char *dir, const char **files, int *n,
                              strata_error *err) {
    const strata_bert_config *cfg = &m->cfg;
    strata_status st = mkdir_in(dir, "1_Pooling", err);
    if (!st && cfg->normalize) st = mkdir_in(dir, "2_Normalize", err);
    if (!st) st = save_tokenizer(m, dir, files, n, err);
    if (st) return st;

    cJSON *pj = cJSON_CreateObject();
    int ok = pj && cJSON_AddNumberToObject(pj, "word_embedding_dimension", cfg->hidden_size) &&
             cJSON_AddBoolToObject(pj, "pooling_mode_cls_token", cfg->pool == STRATA_POOL_CLS) &&
             cJSON_AddBoolToObject(pj, "pooling_mode_mean_tokens", cfg->pool == STRATA_POOL_MEAN) &&
             cJSON_AddBoolToObject(pj, "pooling_mode_max_tokens", 0) &&
             cJSON_AddBoolToObject(pj, "pooling_mode_mean_sqrt_len_tokens", 0) &&
             cJSON_AddBoolToObject(pj, "include_prompt", 1);
    if ((st = save_json(dir, "1_Pooling/config.json", checked(pj, ok), files, n, err))) return st;

    cJSON *sj = cJSON_CreateObject();
    ok = sj && cJSON_AddNumberToObject(sj, "max_seq_length", strata__st_embed_len(cfg)) &&
         cJSON_AddBoolToObject(sj, "do_lower_case", cfg->do_lower_case);
    if ((st = save_json(dir, "sentence_bert_config.json", checked(sj, ok), files, n, err)))
        return st;
    if ((st = save_json(dir, "config_sentence_transformers.json", st_config_json(m), files, n,
                        err)))
        return st;
    return save_json(dir, "modules.json", modules_json(cfg), files, n, err);
}
