/*
 * bert.c — the BERT encoder: config, weights (load / random init / save in
 * the Hugging Face layout), the inference forward pass and text embedding
 * with length-sorted, dynamically padded batches.
 *
 * Layout follows llm.c: all parameters in one float block, typed pointers
 * into it (strata_bert_weights), per-layer tensors stacked over layers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/internal.h"
#include "encoder/kernels.h"
#include "encoder/lowp.h"
#include "strata/encoder.h"
#include "strata/io.h"

/* ------------------------------------------------------------------------ */
/* Parameter layout                                                          */
/* ------------------------------------------------------------------------ */

/* a * b * c, or SIZE_MAX when the product does not fit (or a factor is
 * negative). */
static size_t mul3(int64_t a, int64_t b, int64_t c) {
    size_t ab, abc;
    if (a < 0 || b < 0 || c < 0 || strata_size_mul((size_t)a, (size_t)b, &ab) ||
        strata_size_mul(ab, (size_t)c, &abc))
        return SIZE_MAX;
    return abc;
}

size_t strata_bert_param_sizes(const strata_bert_config *cfg,
                               size_t sizes[STRATA_BERT_NUM_TENSORS]) {
    int64_t V = cfg->vocab_size, C = cfg->hidden_size, L = cfg->num_layers;
    int64_t F = cfg->intermediate_size, P = cfg->max_position, TV = cfg->type_vocab_size;
    size_t s[STRATA_BERT_NUM_TENSORS] = {
        mul3(V, C, 1), mul3(P, C, 1), mul3(TV, C, 1), mul3(C, 1, 1), mul3(C, 1, 1), /* embeddings */
        mul3(L, C, C), mul3(L, C, 1), mul3(L, C, C), mul3(L, C, 1),  /* q, k                  */
        mul3(L, C, C), mul3(L, C, 1), mul3(L, C, C), mul3(L, C, 1),  /* v, attention output   */
        mul3(L, C, 1), mul3(L, C, 1),                                /* ln1                   */
        mul3(L, F, C), mul3(L, F, 1), mul3(L, C, F), mul3(L, C, 1),  /* ff1, ff2              */
        mul3(L, C, 1), mul3(L, C, 1)};                               /* ln2                   */
    size_t total = 0;
    int over = 0;
    for (int i = 0; i < STRATA_BERT_NUM_TENSORS; i++) {
        if (sizes) sizes[i] = s[i];
        over |= s[i] == SIZE_MAX || strata_size_add(total, s[i], &total);
    }
    /* the block is allocated in bytes: floats must fit too */
    if (over || total > SIZE_MAX / sizeof(float)) return 0;
    return total;
}

/* ------------------------------------------------------------------------ */
/* Limits                                                                    */
/* ------------------------------------------------------------------------ */

/* Largest value accepted for each size of a configuration: far above any
 * released BERT (vocabularies of 250K, hidden 4096, 48 layers, positions
 * 8192) and low enough that every count and offset fits in size_t and int
 * arithmetic (the largest model they allow still overflows no product). */
static const struct {
    const char *key;  /* config.json key */
    int max;
} k_limits[] = {
    {"vocab_size", 1 << 24},
    {"hidden_size", 1 << 16},
    {"num_hidden_layers", 1 << 10},
    {"num_attention_heads", 1 << 16},
    {"intermediate_size", 1 << 20},
    {"max_position_embeddings", 1 << 20},
    {"type_vocab_size", 1 << 16},
};

static int limit_of(const char *key) {
    for (size_t i = 0; i < sizeof k_limits / sizeof k_limits[0]; i++)
        if (strcmp(k_limits[i].key, key) == 0) return k_limits[i].max;
    return 1000000000;
}

/* Checks every size of cfg against k_limits and the parameter count
 * against size_t; errors name `where` (a config.json path, or
 * "configuration") and the key. */
static strata_status check_config(const strata_bert_config *cfg, const char *where,
                                  strata_status bad, strata_error *err) {
    const struct {
        const char *key;
        int v;
    } f[] = {{"vocab_size", cfg->vocab_size},
             {"hidden_size", cfg->hidden_size},
             {"num_hidden_layers", cfg->num_layers},
             {"num_attention_heads", cfg->num_heads},
             {"intermediate_size", cfg->intermediate_size},
             {"max_position_embeddings", cfg->max_position},
             {"type_vocab_size", cfg->type_vocab_size}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v < 1 || f[i].v > limit_of(f[i].key))
            return strata_error_set(err, bad, "%s: key \"%s\" is %d; it must be in 1..%d",
                                    where, f[i].key, f[i].v, limit_of(f[i].key));
    if (cfg->hidden_size % cfg->num_heads != 0)
        return strata_error_set(err, bad,
                                "%s: \"hidden_size\" %d is not a multiple of \"num_attention_heads\" %d",
                                where, cfg->hidden_size, cfg->num_heads);
    if (strata_bert_param_sizes(cfg, NULL) == 0)
        return strata_error_set(err, bad, "%s: the parameter count does not fit in memory "
                                "(vocab_size %d, hidden_size %d, num_hidden_layers %d, "
                                "intermediate_size %d)", where, cfg->vocab_size,
                                cfg->hidden_size, cfg->num_layers, cfg->intermediate_size);
    return STRATA_OK;
}

void strata_bert_bind(const strata_bert_config *cfg, float *block,
                      strata_bert_weights *w) {
    size_t sizes[STRATA_BERT_NUM_TENSORS];
    strata_bert_param_sizes(cfg, sizes);
    float **ptrs[STRATA_BERT_NUM_TENSORS] = {
        &w->word_emb, &w->pos_emb, &w->type_emb, &w->emb_ln_w, &w->emb_ln_b,
        &w->q_w, &w->q_b, &w->k_w, &w->k_b, &w->v_w, &w->v_b, &w->ao_w,
        &w->ao_b, &w->ln1_w, &w->ln1_b, &w->ff1_w, &w->ff1_b, &w->ff2_w,
        &w->ff2_b, &w->ln2_w, &w->ln2_b};
    float *p = block;
    for (int i = 0; i < STRATA_BERT_NUM_TENSORS; i++) {
        *ptrs[i] = p;
        p += sizes[i];
    }
}

/* Hugging Face name (without "bert." prefix) and per-layer shape of tensor
 * index i (STRATA_BERT_NUM_TENSORS order) for layer l. alt: the old
 * gamma/beta LayerNorm name, or "" when none. Returns ndim. */
static int tensor_desc(const strata_bert_config *cfg, int i, int l,
                       char *name, size_t cap, char *alt, size_t acap,
                       int64_t shape[2]) {
    static const char *const fmt[STRATA_BERT_NUM_TENSORS] = {
        "embeddings.word_embeddings.weight",
        "embeddings.position_embeddings.weight",
        "embeddings.token_type_embeddings.weight",
        "embeddings.LayerNorm.weight",
        "embeddings.LayerNorm.bias",
        "encoder.layer.%d.attention.self.query.weight",
        "encoder.layer.%d.attention.self.query.bias",
        "encoder.layer.%d.attention.self.key.weight",
        "encoder.layer.%d.attention.self.key.bias",
        "encoder.layer.%d.attention.self.value.weight",
        "encoder.layer.%d.attention.self.value.bias",
        "encoder.layer.%d.attention.output.dense.weight",
        "encoder.layer.%d.attention.output.dense.bias",
        "encoder.layer.%d.attention.output.LayerNorm.weight",
        "encoder.layer.%d.attention.output.LayerNorm.bias",
        "encoder.layer.%d.intermediate.dense.weight",
        "encoder.layer.%d.intermediate.dense.bias",
        "encoder.layer.%d.output.dense.weight",
        "encoder.layer.%d.output.dense.bias",
        "encoder.layer.%d.output.LayerNorm.weight",
        "encoder.layer.%d.output.LayerNorm.bias"};
    int64_t V = cfg->vocab_size, C = cfg->hidden_size, F = cfg->intermediate_size;
    int64_t P = cfg->max_position, TV = cfg->type_vocab_size;
    snprintf(name, cap, fmt[i], l);
    alt[0] = 0;
    if (strstr(name, "LayerNorm.weight")) {
        snprintf(alt, acap, "%.*s.gamma", (int)(strlen(name) - 7), name);
    } else if (strstr(name, "LayerNorm.bias")) {
        snprintf(alt, acap, "%.*s.beta", (int)(strlen(name) - 5), name);
    }
    switch (i) {
    case 0: shape[0] = V; shape[1] = C; return 2;
    case 1: shape[0] = P; shape[1] = C; return 2;
    case 2: shape[0] = TV; shape[1] = C; return 2;
    case 5: case 7: case 9: case 11: shape[0] = C; shape[1] = C; return 2;
    case 15: shape[0] = F; shape[1] = C; return 2;
    case 16: shape[0] = F; return 1;
    case 17: shape[0] = C; shape[1] = F; return 2;
    default: shape[0] = C; return 1;
    }
}

static int per_layer(int i) { return i >= 5; }

/* ------------------------------------------------------------------------ */
/* Config                                                                    */
/* ------------------------------------------------------------------------ */

static strata_status get_int(const cJSON *j, const char *path, const char *key,
                             int required, int dflt, int *out,
                             strata_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) {
        if (required)
            return strata_error_set(err, STRATA_EFORMAT, "%s: key \"%s\" missing",
                                    path, key);
        *out = dflt;
        return STRATA_OK;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 1)
        return strata_error_set(err, STRATA_EFORMAT,
                                "%s: key \"%s\" must be a positive integer", path, key);
    if (v->valuedouble > limit_of(key))
        return strata_error_set(err, STRATA_EFORMAT, "%s: key \"%s\" is %.0f; at most %d is supported",
                                path, key, v->valuedouble, limit_of(key));
    *out = (int)v->valuedouble;
    return STRATA_OK;
}

strata_status strata_bert_config_load(strata_bert_config *cfg,
                                      const char *path, strata_error *err) {
    memset(cfg, 0, sizeof *cfg);
    cJSON *j;
    strata_status st = strata__json_read(path, &j, err);
    if (st != STRATA_OK) return st;
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return strata_error_set(err, STRATA_EFORMAT, "%s: not a JSON object", path);
    }
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(j, "model_type");
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(j, "hidden_act");
    const cJSON *pet = cJSON_GetObjectItemCaseSensitive(j, "position_embedding_type");
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(j, "layer_norm_eps");
    if ((st = get_int(j, path, "vocab_size", 1, 0, &cfg->vocab_size, err)) ||
        (st = get_int(j, path, "hidden_size", 1, 0, &cfg->hidden_size, err)) ||
        (st = get_int(j, path, "num_hidden_layers", 1, 0, &cfg->num_layers, err)) ||
        (st = get_int(j, path, "num_attention_heads", 1, 0, &cfg->num_heads, err)) ||
        (st = get_int(j, path, "intermediate_size", 1, 0, &cfg->intermediate_size, err)) ||
        (st = get_int(j, path, "max_position_embeddings", 1, 0, &cfg->max_position, err)) ||
        (st = get_int(j, path, "type_vocab_size", 0, 2, &cfg->type_vocab_size, err)))
        goto done;
    if (mt && (!cJSON_IsString(mt) || strcmp(mt->valuestring, "bert") != 0)) {
        st = strata_error_set(err, STRATA_EUNSUPPORTED,
                              "%s: key \"model_type\" is %s%s%s, only \"bert\" is supported",
                              path, cJSON_IsString(mt) ? "\"" : "",
                              cJSON_IsString(mt) ? mt->valuestring : "not a string",
                              cJSON_IsString(mt) ? "\"" : "");
        goto done;
    }
    if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "gelu") != 0)) {
        st = strata_error_set(err, STRATA_EUNSUPPORTED,
                              "%s: key \"hidden_act\" must be \"gelu\" (exact erf GELU)", path);
        goto done;
    }
    if (pet && (!cJSON_IsString(pet) || strcmp(pet->valuestring, "absolute") != 0)) {
        st = strata_error_set(err, STRATA_EUNSUPPORTED,
                              "%s: key \"position_embedding_type\" must be \"absolute\"", path);
        goto done;
    }
    cfg->layer_norm_eps = 1e-12f;
    if (eps) {
        if (!cJSON_IsNumber(eps) || !(eps->valuedouble > 0) || eps->valuedouble > 1) {
            st = strata_error_set(err, STRATA_EFORMAT,
                                  "%s: key \"layer_norm_eps\" must be a number in (0, 1]", path);
            goto done;
        }
        cfg->layer_norm_eps = (float)eps->valuedouble;
    }
    if ((st = check_config(cfg, path, STRATA_EFORMAT, err))) goto done;
    cfg->pool = STRATA_POOL_MEAN;
    cfg->normalize = 0;
done:
    cJSON_Delete(j);
    return st;
}

/* Reads 1_Pooling/config.json and modules.json of a sentence-transformers
 * folder (both optional). */
static strata_status load_st_config(strata_bert_config *cfg, const char *dir,
                                    strata_error *err) {
    char *pool = strata_path_join(dir, "1_Pooling/config.json");
    char *mods = strata_path_join(dir, "modules.json");
    strata_status st = STRATA_OK;
    struct stat sb;
    if (!pool || !mods) {
        st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    if (stat(pool, &sb) == 0) {
        cJSON *j;
        if ((st = strata__json_read(pool, &j, err)) != STRATA_OK) goto done;
        int cls = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "pooling_mode_cls_token"));
        int mean = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "pooling_mode_mean_tokens"));
        int other = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "pooling_mode_max_tokens")) ||
                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "pooling_mode_mean_sqrt_len_tokens")) ||
                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "pooling_mode_weightedmean_tokens")) ||
                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "pooling_mode_lasttoken"));
        cJSON_Delete(j);
        if (cls + mean != 1 || other) {
            st = strata_error_set(err, STRATA_EUNSUPPORTED,
                                  "%s: exactly one of pooling_mode_cls_token and "
                                  "pooling_mode_mean_tokens must be true", pool);
            goto done;
        }
        cfg->pool = cls ? STRATA_POOL_CLS : STRATA_POOL_MEAN;
    }
    if (stat(mods, &sb) == 0) {
        cJSON *j;
        if ((st = strata__json_read(mods, &j, err)) != STRATA_OK) goto done;
        const cJSON *m;
        cJSON_ArrayForEach(m, j) {
            const cJSON *type = cJSON_GetObjectItemCaseSensitive(m, "type");
            if (cJSON_IsString(type) && strstr(type->valuestring, "Normalize"))
                cfg->normalize = 1;
        }
        cJSON_Delete(j);
    }
done:
    strata_free(pool);
    strata_free(mods);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Create / load / free                                                      */
/* ------------------------------------------------------------------------ */

static strata_status alloc_model(strata_bert **out, const strata_bert_config *cfg,
                                 strata_error *err) {
    strata_status st = check_config(cfg, "BERT configuration", STRATA_EINVAL, err);
    if (st) return st;
    strata_bert *m = strata_calloc(1, sizeof *m);
    if (!m) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    m->cfg = *cfg;
    m->n_params = strata_bert_param_sizes(cfg, NULL);
    m->params = strata_malloc_array(m->n_params, sizeof(float));
    if (!m->params) {
        strata_error_set(err, STRATA_ENOMEM, "out of memory for %zu parameters", m->n_params);
        strata_free(m); /* after the message, which reads it */
        return STRATA_ENOMEM;
    }
    strata_bert_bind(cfg, m->params, &m->w);
    *out = m;
    return STRATA_OK;
}

void strata_bert_free(strata_bert *m) {
    if (!m) return;
    strata_tokenizer_free(m->tok);
    strata_free(m->params);
    strata_free(m);
}

strata_status strata_bert_create(strata_bert **out,
                                 const strata_bert_config *cfg,
                                 strata_tokenizer *tok, uint64_t seed,
                                 strata_error *err) {
    *out = NULL;
    strata_bert *m;
    strata_status st = alloc_model(&m, cfg, err);
    if (st != STRATA_OK) {
        strata_tokenizer_free(tok);
        return st;
    }
    m->tok = tok;
    size_t sizes[STRATA_BERT_NUM_TENSORS];
    strata_bert_param_sizes(cfg, sizes);
    float *p = m->params;
    for (int i = 0; i < STRATA_BERT_NUM_TENSORS; i++) {
        char name[128], alt[128];
        int64_t shape[2];
        int nd = tensor_desc(cfg, i, 0, name, sizeof name, alt, sizeof alt, shape);
        int is_ln_w = strstr(name, "LayerNorm.weight") != NULL;
        if (nd == 2) {
            strata_rng r;
            strata_rng_seed(&r, seed, (uint64_t)i);
            for (size_t k = 0; k < sizes[i]; k++)
                p[k] = (float)(0.02 * strata_rng_normal(&r));
        } else {
            for (size_t k = 0; k < sizes[i]; k++) p[k] = is_ln_w ? 1.0f : 0.0f;
        }
        p += sizes[i];
    }
    *out = m;
    return STRATA_OK;
}

static const strata_tensor *find_tensor(const strata_safetensors *sf,
                                        const char *name, const char *alt) {
    char buf[160];
    const strata_tensor *t = strata_safetensors_find(sf, name);
    if (t) return t;
    snprintf(buf, sizeof buf, "bert.%s", name);
    if ((t = strata_safetensors_find(sf, buf))) return t;
    if (alt[0]) {
        if ((t = strata_safetensors_find(sf, alt))) return t;
        snprintf(buf, sizeof buf, "bert.%s", alt);
        if ((t = strata_safetensors_find(sf, buf))) return t;
    }
    return NULL;
}

/* Copies every tensor (converted to float32) into m->params; errors list
 * all missing names and name the first wrong shape or dtype. */
static strata_status load_weights(strata_bert *m, const char *path,
                                  strata_error *err) {
    strata_safetensors sf;
    strata_status st = strata_safetensors_load(&sf, path, err);
    if (st != STRATA_OK) return st;
    const strata_bert_config *cfg = &m->cfg;
    size_t sizes[STRATA_BERT_NUM_TENSORS];
    strata_bert_param_sizes(cfg, sizes);
    strata__buf missing = {0};
    int n_missing = 0;
    float *p = m->params;
    for (int i = 0; i < STRATA_BERT_NUM_TENSORS && st == STRATA_OK; i++) {
        int nl = per_layer(i) ? cfg->num_layers : 1;
        size_t per = sizes[i] / (size_t)nl;
        for (int l = 0; l < nl; l++) {
            char name[128], alt[128];
            int64_t shape[2];
            int nd = tensor_desc(cfg, i, l, name, sizeof name, alt, sizeof alt, shape);
            const strata_tensor *t = find_tensor(&sf, name, alt);
            if (!t) {
                if (n_missing < 12)
                    strata__buf_printf(&missing, "%s%s", n_missing ? ", " : "", name);
                n_missing++;
                p += per;
                continue;
            }
            int ok = t->ndim == nd && t->shape[0] == shape[0] &&
                     (nd == 1 || t->shape[1] == shape[1]);
            if (!ok) {
                char got[128] = "";
                size_t gl = 0;
                for (int d = 0; d < t->ndim && gl < sizeof got - 24; d++)
                    gl += (size_t)snprintf(got + gl, sizeof got - gl, "%s%lld",
                                           d ? ", " : "", (long long)t->shape[d]);
                char want[64];
                if (nd == 2)
                    snprintf(want, sizeof want, "%lld, %lld", (long long)shape[0],
                             (long long)shape[1]);
                else
                    snprintf(want, sizeof want, "%lld", (long long)shape[0]);
                st = strata_error_set(err, STRATA_EFORMAT,
                                      "%s: tensor \"%s\" has shape [%s], expected [%s]",
                                      path, t->name, got, want);
                break;
            }
            if (t->dtype != STRATA_DTYPE_F32 && t->dtype != STRATA_DTYPE_F16 &&
                t->dtype != STRATA_DTYPE_BF16) {
                st = strata_error_set(err, STRATA_EUNSUPPORTED,
                                      "%s: tensor \"%s\" has dtype %s (F32, F16 or BF16 expected)",
                                      path, t->name, strata_dtype_name(t->dtype));
                break;
            }
            st = strata_convert_to_f32(p, t->data, t->dtype, per, err);
            if (st != STRATA_OK) break;
            /* a NaN or Inf weight makes every embedding NaN: refuse it here,
             * naming the tensor */
            for (size_t k = 0; k < per; k++)
                if (!isfinite(p[k])) {
                    st = strata_error_set(err, STRATA_EFORMAT,
                                          "%s: tensor \"%s\" holds %s at index %zu (a "
                                          "non-finite weight makes every embedding NaN)",
                                          path, t->name, isnan(p[k]) ? "NaN" : "Inf", k);
                    break;
                }
            if (st != STRATA_OK) break;
            p += per;
        }
    }
    if (st == STRATA_OK && n_missing) {
        st = strata_error_set(err, STRATA_EFORMAT,
                              "%s: %d missing tensor(s): %s%s", path, n_missing,
                              missing.data ? missing.data : "",
                              n_missing > 12 ? ", ..." : "");
    }
    strata__buf_free(&missing);
    strata_safetensors_free(&sf);
    return st;
}

strata_status strata_bert_load(strata_bert **out, const char *dir,
                               strata_error *err) {
    *out = NULL;
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return strata_error_set(err, STRATA_EIO, "%s: not a model folder", dir);
    char *cfg_path = strata_path_join(dir, "config.json");
    char *w_path = strata_path_join(dir, "model.safetensors");
    strata_bert *m = NULL;
    strata_bert_config cfg;
    strata_status st;
    if (!cfg_path || !w_path) {
        st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    /* a model or checkpoint Strata wrote must be complete; a folder without
     * manifest (Hugging Face) is read as it is */
    if ((st = strata_dir_check(dir, NULL, NULL, err)) != STRATA_OK) goto done;
    if ((st = strata_bert_config_load(&cfg, cfg_path, err)) != STRATA_OK) goto done;
    if ((st = load_st_config(&cfg, dir, err)) != STRATA_OK) goto done;
    if (stat(w_path, &sb) != 0) {
        char *bin = strata_path_join(dir, "pytorch_model.bin");
        int has_bin = bin && stat(bin, &sb) == 0;
        strata_free(bin);
        st = strata_error_set(err, STRATA_EIO, "%s: no such file%s", w_path,
                              has_bin ? " (only pytorch_model.bin is present: convert it "
                                        "with tests/ref/encoder_convert.py)" : "");
        goto done;
    }
    if ((st = alloc_model(&m, &cfg, err)) != STRATA_OK) goto done;
    if ((st = load_weights(m, w_path, err)) != STRATA_OK) goto done;
    if ((st = strata_tokenizer_load(&m->tok, dir, NULL, err)) != STRATA_OK) goto done;
    if (strata_tokenizer_vocab_size(m->tok) > cfg.vocab_size) {
        st = strata_error_set(err, STRATA_EFORMAT,
                              "%s: the vocabulary has %d tokens but \"vocab_size\" is %d",
                              dir, strata_tokenizer_vocab_size(m->tok), cfg.vocab_size);
        goto done;
    }
done:
    strata_free(cfg_path);
    strata_free(w_path);
    if (st != STRATA_OK) {
        strata_bert_free(m);
        return st;
    }
    *out = m;
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Save                                                                      */
/* ------------------------------------------------------------------------ */

strata_status strata_bert_config_save(const strata_bert_config *c, int pad_id,
                                      const char *path, strata_error *err) {
    cJSON *j = cJSON_CreateObject();
    cJSON *arch = cJSON_CreateArray();
    if (!j || !arch) {
        cJSON_Delete(j);
        cJSON_Delete(arch);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    cJSON_AddItemToArray(arch, cJSON_CreateString("BertModel"));
    cJSON_AddItemToObject(j, "architectures", arch);
    cJSON_AddStringToObject(j, "model_type", "bert");
    cJSON_AddNumberToObject(j, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(j, "hidden_size", c->hidden_size);
    cJSON_AddNumberToObject(j, "num_hidden_layers", c->num_layers);
    cJSON_AddNumberToObject(j, "num_attention_heads", c->num_heads);
    cJSON_AddNumberToObject(j, "intermediate_size", c->intermediate_size);
    cJSON_AddNumberToObject(j, "max_position_embeddings", c->max_position);
    cJSON_AddNumberToObject(j, "type_vocab_size", c->type_vocab_size);
    char eps[32]; /* the float's shortest decimal form (1e-12, not 9.99999996e-13) */
    snprintf(eps, sizeof eps, "%.7g", (double)c->layer_norm_eps);
    cJSON_AddNumberToObject(j, "layer_norm_eps", strtod(eps, NULL));
    cJSON_AddStringToObject(j, "hidden_act", "gelu");
    cJSON_AddNumberToObject(j, "hidden_dropout_prob", 0.1);
    cJSON_AddNumberToObject(j, "attention_probs_dropout_prob", 0.1);
    cJSON_AddNumberToObject(j, "initializer_range", 0.02);
    cJSON_AddNumberToObject(j, "pad_token_id", pad_id);
    cJSON_AddStringToObject(j, "position_embedding_type", "absolute");
    cJSON_AddStringToObject(j, "torch_dtype", "float32");
    strata_status st = strata__json_write(path, j, err);
    cJSON_Delete(j);
    return st;
}

static strata_status save_small_json(const char *dir, const char *name,
                                     cJSON *j, strata_error *err) {
    if (!j) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    char *p = strata_path_join(dir, name);
    strata_status st = p ? strata__json_write(p, j, err)
                         : strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_free(p);
    cJSON_Delete(j);
    return st;
}

static strata_status save_files(const strata_bert *m, const char *dir, strata_error *err);

strata_status strata_bert_save(const strata_bert *m, const char *dir,
                               strata_error *err) {
    /* one unit: incomplete until the manifest lists every file */
    strata_status st = strata_dir_begin(dir, "model", err);
    if (st == STRATA_OK) st = save_files(m, dir, err);
    if (st == STRATA_OK) {
        const char *unit[7] = {"model.safetensors", "config.json", "1_Pooling/config.json",
                               "modules.json", "vocab.txt", "tokenizer_config.json"};
        st = strata_dir_commit(dir, "model", unit, m->tok ? 6 : 4, err);
    }
    return st;
}

static strata_status save_files(const strata_bert *m, const char *dir, strata_error *err) {
    const strata_bert_config *cfg = &m->cfg;
    strata_status st = STRATA_OK;
    char *pool_dir = strata_path_join(dir, "1_Pooling");
    if (!pool_dir) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    st = strata_mkdirs(pool_dir, err);
    strata_free(pool_dir);
    if (st != STRATA_OK) return st;

    /* model.safetensors: per-layer slices point into the parameter block */
    int n = 5 + (STRATA_BERT_NUM_TENSORS - 5) * cfg->num_layers;
    strata_tensor *ts = strata_calloc((size_t)n, sizeof *ts);
    char *names = strata_malloc_array((size_t)n, 128);
    if (!ts || !names) {
        strata_free(ts);
        strata_free(names);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    size_t sizes[STRATA_BERT_NUM_TENSORS];
    strata_bert_param_sizes(cfg, sizes);
    const float *p = m->params;
    int k = 0;
    for (int i = 0; i < STRATA_BERT_NUM_TENSORS; i++) {
        int nl = per_layer(i) ? cfg->num_layers : 1;
        size_t per = sizes[i] / (size_t)nl;
        for (int l = 0; l < nl; l++, k++) {
            char alt[128];
            strata_tensor *t = &ts[k];
            t->name = names + (size_t)k * 128;
            t->ndim = tensor_desc(cfg, i, l, t->name, 128, alt, sizeof alt, t->shape);
            t->dtype = STRATA_DTYPE_F32;
            t->count = (int64_t)per;
            t->data = p;
            t->nbytes = per * sizeof(float);
            p += per;
        }
    }
    char *w_path = strata_path_join(dir, "model.safetensors");
    st = w_path ? strata_safetensors_save(w_path, n, ts, "{\"format\":\"pt\"}", err)
                : strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_free(w_path);
    strata_free(ts);
    strata_free(names);
    if (st != STRATA_OK) return st;

    char *cfg_path = strata_path_join(dir, "config.json");
    int pad = m->tok ? strata_tokenizer_special(m->tok, "[PAD]") : 0;
    st = cfg_path ? strata_bert_config_save(cfg, pad >= 0 ? pad : 0, cfg_path, err)
                  : strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_free(cfg_path);
    if (st != STRATA_OK) return st;

    if (m->tok) {
        char *vp = strata_path_join(dir, "vocab.txt");
        st = vp ? strata_tokenizer_save_vocab(m->tok, vp, err)
                : strata_error_set(err, STRATA_ENOMEM, "out of memory");
        strata_free(vp);
        if (st != STRATA_OK) return st;
        cJSON *tc = cJSON_CreateObject();
        if (tc) {
            cJSON_AddBoolToObject(tc, "do_lower_case", strata_tokenizer_lowercase(m->tok));
            cJSON_AddStringToObject(tc, "tokenizer_class", "BertTokenizer");
            cJSON_AddNumberToObject(tc, "model_max_length", cfg->max_position);
        }
        if ((st = save_small_json(dir, "tokenizer_config.json", tc, err))) return st;
    }

    cJSON *pj = cJSON_CreateObject();
    if (pj) {
        cJSON_AddNumberToObject(pj, "word_embedding_dimension", cfg->hidden_size);
        cJSON_AddBoolToObject(pj, "pooling_mode_cls_token", cfg->pool == STRATA_POOL_CLS);
        cJSON_AddBoolToObject(pj, "pooling_mode_mean_tokens", cfg->pool == STRATA_POOL_MEAN);
        cJSON_AddBoolToObject(pj, "pooling_mode_max_tokens", 0);
        cJSON_AddBoolToObject(pj, "pooling_mode_mean_sqrt_len_tokens", 0);
    }
    if ((st = save_small_json(dir, "1_Pooling/config.json", pj, err))) return st;

    cJSON *mj = cJSON_CreateArray();
    if (mj) {
        const char *types[3] = {"sentence_transformers.models.Transformer",
                                "sentence_transformers.models.Pooling",
                                "sentence_transformers.models.Normalize"};
        const char *paths[3] = {"", "1_Pooling", "2_Normalize"};
        for (int i = 0; i < (cfg->normalize ? 3 : 2); i++) {
            cJSON *o = cJSON_CreateObject();
            char nm[16];
            snprintf(nm, sizeof nm, "%d", i);
            cJSON_AddNumberToObject(o, "idx", i);
            cJSON_AddStringToObject(o, "name", nm);
            cJSON_AddStringToObject(o, "path", paths[i]);
            cJSON_AddStringToObject(o, "type", types[i]);
            cJSON_AddItemToArray(mj, o);
        }
    }
    return save_small_json(dir, "modules.json", mj, err);
}

/* ------------------------------------------------------------------------ */
/* Forward pass                                                              */
/* ------------------------------------------------------------------------ */

struct strata_bert_state {
    size_t cap_nc;      /* capacity of the [N, C] buffers, in floats */
    size_t cap_nf;      /* capacity of ff, in floats */
    size_t cap_scr;     /* capacity of the attention scratch */
    float *x;           /* [N, C] residual stream */
    float *q, *k, *v;   /* [N, C] each */
    float *ctx;         /* [N, C] attention output (heads concatenated) */
    float *proj;        /* [N, C] dense outputs */
    float *ff;          /* [N, F] GELU(intermediate) */
    float *scr;         /* attention score scratch, one T*T per thread */
    strata__bert_lowp *lp;      /* BF16/INT8 weights, or NULL (fp32) */
    const strata_bert *lp_model; /* the model lp was made from */
    void *gscr;         /* reduced-precision scratch, lp->scratch per thread */
    size_t cap_gscr;    /* its size in bytes */
};

strata_status strata_bert_state_create(strata_bert_state **out,
                                       strata_error *err) {
    *out = strata_calloc(1, sizeof **out);
    if (!*out) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    return STRATA_OK;
}

void strata_bert_state_free(strata_bert_state *s) {
    if (!s) return;
    float **bufs[7] = {&s->x, &s->q, &s->k, &s->v, &s->ctx, &s->proj, &s->ff};
    for (int i = 0; i < 7; i++) strata_free(*bufs[i]);
    strata_free(s->scr);
    strata__bert_lowp_free(s->lp);
    strata_free(s->gscr);
    strata_free(s);
}

strata_status strata_bert_state_set_precision(strata_bert_state *s, const strata_bert *m,
                                              strata_precision p, strata_error *err) {
    strata_status st = strata_precision_resolve(p, &p, err);
    if (st != STRATA_OK) return st;
    strata__bert_lowp_free(s->lp);
    s->lp = NULL;
    s->lp_model = NULL;
    if (p == STRATA_PRECISION_FP32) return STRATA_OK;
    if ((st = strata__bert_lowp_create(&s->lp, &m->cfg, &m->w, p, 0, err)) != STRATA_OK) return st;
    s->lp_model = m;
    return STRATA_OK;
}

strata_precision strata_bert_state_precision(const strata_bert_state *s) {
    return s->lp ? s->lp->prec : STRATA_PRECISION_FP32;
}

static int grow(float **p, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    float *np = strata_malloc_array(need, sizeof(float));
    if (!np) return -1;
    strata_free(*p);
    *p = np;
    *cap = need;
    return 0;
}

static strata_status state_reserve(strata_bert_state *s, const strata_bert_config *c,
                                   int B, int T, strata_error *err) {
    size_t N = (size_t)B * (size_t)T;
    size_t nc = N * (size_t)c->hidden_size, nf = N * (size_t)c->intermediate_size;
    int nt = strata__max_threads();
    size_t scr = strata_k_attention_scratch(T) * (size_t)nt;
    if (nc > s->cap_nc) {
        float **bufs[6] = {&s->x, &s->q, &s->k, &s->v, &s->ctx, &s->proj};
        for (int i = 0; i < 6; i++) {
            strata_free(*bufs[i]);
            *bufs[i] = NULL;
        }
        s->cap_nc = 0;
        for (int i = 0; i < 6; i++) {
            *bufs[i] = strata_malloc_array(nc, sizeof(float));
            if (!*bufs[i]) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
        }
        s->cap_nc = nc;
    }
    if (grow(&s->ff, &s->cap_nf, nf) || grow(&s->scr, &s->cap_scr, scr))
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    if (s->lp && s->lp->scratch * (size_t)nt > s->cap_gscr) {
        size_t need = s->lp->scratch * (size_t)nt;
        strata_free(s->gscr);
        s->cap_gscr = 0;
        if (!(s->gscr = strata_malloc(need)))
            return strata_error_set(err, STRATA_ENOMEM, "out of memory");
        s->cap_gscr = need;
    }
    return STRATA_OK;
}

/* strata_bert_forward (ids: token ids, out: pooled) and
 * strata_bert_forward_embeds (x: the embedding sum, hidden: last states; m
 * NULL: the state must be fp32, having no prepared weights of a model). */
static strata_status forward_impl(const strata_bert *m, const strata_bert_config *c,
                                  const strata_bert_weights *w,
                                  strata_bert_state *s, const int32_t *ids,
                                  const float *x0, const int *lengths, int B,
                                  int T, float *out, float *hidden,
                                  strata_error *err) {
    int C = c->hidden_size, F = c->intermediate_size, H = c->num_heads;
    if (B < 1 || T < 1 || (ids && T > c->max_position))
        return strata_error_set(err, STRATA_EINVAL,
                                "batch shape [%d, %d] invalid (max positions %d)",
                                B, T, c->max_position);
    for (int b = 0; b < B; b++)
        if (lengths[b] < 1 || lengths[b] > T)
            return strata_error_set(err, STRATA_EINVAL,
                                    "sequence %d has length %d, not in [1, %d]", b,
                                    lengths[b], T);
    for (size_t i = 0; ids && i < (size_t)B * (size_t)T; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return strata_error_set(err, STRATA_EINVAL,
                                    "token id %d at position %zu outside the vocabulary",
                                    ids[i], i);
    if (s->lp && s->lp_model != m)
        return strata_error_set(err, STRATA_EINVAL,
                                "forward: the state's %s weights belong to another model",
                                strata_precision_name(s->lp->prec));
    strata_status st = state_reserve(s, c, B, T, err);
    if (st != STRATA_OK) return st;
    int64_t N = (int64_t)B * T;
    size_t CC = (size_t)C * C, CF = (size_t)C * F;

    if (ids)
        strata_k_embed_forward(s->x, ids, w->word_emb, w->pos_emb, w->type_emb, B, T, C);
    else
        memcpy(s->x, x0, sizeof(float) * (size_t)N * C);
    strata_k_layernorm_forward(s->x, NULL, NULL, s->x, w->emb_ln_w, w->emb_ln_b, N,
                               C, c->layer_norm_eps);
    if (s->lp && strata__bert_lowp_layers(s->lp, c, w, s->x, s->q, s->k, s->v, s->ctx, s->proj,
                                           s->ff, s->scr, s->gscr, lengths, B, T))
        return strata_error_set(err, STRATA_ENOMEM, "oneDNN: %s matrix product failed",
                                strata_precision_name(s->lp->prec));
    for (int l = 0; !s->lp && l < c->num_layers; l++) {
        strata_k_linear_forward(s->q, s->x, w->q_w + l * CC, w->q_b + (size_t)l * C, N, C, C);
        strata_k_linear_forward(s->k, s->x, w->k_w + l * CC, w->k_b + (size_t)l * C, N, C, C);
        strata_k_linear_forward(s->v, s->x, w->v_w + l * CC, w->v_b + (size_t)l * C, N, C, C);
        strata_k_attention_forward(s->ctx, NULL, s->scr, s->q, s->k, s->v, C, lengths,
                                   B, T, C, H);
        strata_k_linear_forward(s->proj, s->ctx, w->ao_w + l * CC, w->ao_b + (size_t)l * C,
                                N, C, C);
        strata_k_add_layernorm_forward(s->x, NULL, NULL, NULL, s->x, s->proj,
                                       w->ln1_w + (size_t)l * C, w->ln1_b + (size_t)l * C,
                                       N, C, c->layer_norm_eps);
        strata_k_linear_gelu_forward(s->ff, NULL, s->x, w->ff1_w + l * CF,
                                     w->ff1_b + (size_t)l * F, N, C, F);
        strata_k_linear_forward(s->proj, s->ff, w->ff2_w + l * CF, w->ff2_b + (size_t)l * C,
                                N, F, C);
        strata_k_add_layernorm_forward(s->x, NULL, NULL, NULL, s->x, s->proj,
                                       w->ln2_w + (size_t)l * C, w->ln2_b + (size_t)l * C,
                                       N, C, c->layer_norm_eps);
    }
    if (hidden) {
        memcpy(hidden, s->x, sizeof(float) * (size_t)N * C);
        return STRATA_OK;
    }
    strata_k_pool_forward(out, s->x, lengths, B, T, C, c->pool == STRATA_POOL_MEAN);
    if (c->normalize) strata_k_l2norm_forward(out, NULL, out, B, C);
    return STRATA_OK;
}

strata_status strata_bert_forward(const strata_bert *m, strata_bert_state *s,
                                  const int32_t *ids, const int *lengths,
                                  int B, int T, float *out,
                                  strata_error *err) {
    return forward_impl(m, &m->cfg, &m->w, s, ids, NULL, lengths, B, T, out, NULL, err);
}

strata_status strata_bert_forward_embeds(const strata_bert_config *cfg,
                                         const strata_bert_weights *w,
                                         strata_bert_state *s, const float *x,
                                         const int *lengths, int B, int T,
                                         float *hidden, strata_error *err) {
    return forward_impl(NULL, cfg, w, s, NULL, x, lengths, B, T, NULL, hidden, err);
}

/* ------------------------------------------------------------------------ */
/* Embedding texts                                                           */
/* ------------------------------------------------------------------------ */

strata_embed_params strata_embed_default_params(void) {
    strata_embed_params p;
    memset(&p, 0, sizeof p);
    p.max_len = 128;
    p.batch_size = 64;
    p.precision = STRATA_PRECISION_AUTO;
    return p;
}

/* Texts per tokenization chunk: bounds the id buffer to CHUNK * max_len. */
#define CHUNK 8192

typedef struct len_idx {
    int len;
    int64_t idx;
} len_idx;

/* Longest first; ties by input index, so the order is deterministic. */
static int cmp_len_desc(const void *a, const void *b) {
    const len_idx *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

strata_status strata_bert_embed_texts(const strata_bert *m,
                                      const char *const *texts,
                                      const size_t *lens, int64_t n,
                                      const strata_embed_params *p,
                                      float *out, strata_error *err) {
    strata_embed_params d = strata_embed_default_params();
    if (!p) p = &d;
    if (!m->tok)
        return strata_error_set(err, STRATA_ESTATE, "the model has no vocabulary");
    int max_len = p->max_len > 0 ? p->max_len : 128;
    if (max_len > m->cfg.max_position) max_len = m->cfg.max_position;
    if (max_len < 2)
        return strata_error_set(err, STRATA_EINVAL, "max_len %d too small", max_len);
    int bs = p->batch_size > 0 ? p->batch_size : 64;
    int C = m->cfg.hidden_size;
    int64_t chunk = n < CHUNK ? n : CHUNK;
    int32_t *ids = strata_malloc_array((size_t)(chunk > 0 ? chunk : 1) * (size_t)max_len,
                                       sizeof(int32_t));
    int *tl = strata_malloc_array((size_t)(chunk > 0 ? chunk : 1), sizeof(int));
    len_idx *order = strata_malloc_array((size_t)(chunk > 0 ? chunk : 1), sizeof(len_idx));
    int32_t *bids = strata_malloc_array((size_t)bs * (size_t)max_len, sizeof(int32_t));
    int *blen = strata_malloc_array((size_t)bs, sizeof(int));
    float *bout = strata_malloc_array((size_t)bs * (size_t)C, sizeof(float));
    strata_bert_state *s = NULL;
    strata_status st = STRATA_OK;
    if (!ids || !tl || !order || !bids || !blen || !bout) {
        st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    if ((st = strata_bert_state_create(&s, err)) != STRATA_OK) goto done;
    if ((st = strata_bert_state_set_precision(s, m, p->precision, err)) != STRATA_OK) goto done;
    int pad = strata_tokenizer_special(m->tok, "[PAD]");
    if (pad < 0) pad = 0;
    int64_t done_n = 0;
    strata_progress_report(&p->progress, "embed", 0, n, "texts");
    for (int64_t c0 = 0; c0 < n; c0 += chunk) {
        int64_t cn = n - c0 < chunk ? n - c0 : chunk;
        /* tokenize the chunk in parallel; failures are recorded, not raised */
        int64_t first_bad = -1;
#pragma omp parallel for schedule(dynamic, 64)
        for (int64_t i = 0; i < cn; i++) {
            int k = 0;
            if (strata_tokenizer_encode(m->tok, texts[c0 + i], lens[c0 + i], 1, max_len,
                                        ids + (size_t)i * max_len, &k, NULL) != STRATA_OK) {
#pragma omp critical(strata_embed_bad)
                if (first_bad < 0 || i < first_bad) first_bad = i;
                k = 0;
            }
            tl[i] = k;
        }
        if (first_bad >= 0) { /* again, for the message */
            int k;
            if (strata_tokenizer_encode(m->tok, texts[c0 + first_bad], lens[c0 + first_bad], 1,
                                        max_len, ids, &k, err) == STRATA_OK)
                strata_error_set(err, STRATA_ENOMEM, "out of memory tokenizing"); /* transient */
            st = strata_error_prefix(err, "text %lld", (long long)(c0 + first_bad));
            goto done;
        }
        for (int64_t i = 0; i < cn; i++) {
            order[i].len = tl[i];
            order[i].idx = i;
        }
        qsort(order, (size_t)cn, sizeof *order, cmp_len_desc);
        for (int64_t b0 = 0; b0 < cn; b0 += bs) {
            int B = (int)(cn - b0 < bs ? cn - b0 : bs);
            int T = order[b0].len; /* longest first */
            for (int b = 0; b < B; b++) {
                int64_t i = order[b0 + b].idx;
                blen[b] = tl[i];
                memcpy(bids + (size_t)b * T, ids + (size_t)i * max_len,
                       sizeof(int32_t) * (size_t)tl[i]);
                for (int t = tl[i]; t < T; t++) bids[(size_t)b * T + t] = pad;
            }
            if ((st = strata_bert_forward(m, s, bids, blen, B, T, bout, err)) != STRATA_OK)
                goto done;
            for (int b = 0; b < B; b++)
                memcpy(out + (size_t)(c0 + order[b0 + b].idx) * C, bout + (size_t)b * C,
                       sizeof(float) * (size_t)C);
            done_n += B;
            strata_progress_report(&p->progress, "embed", done_n, n, "texts");
        }
    }
done:
    strata_bert_state_free(s);
    strata_free(ids);
    strata_free(tl);
    strata_free(order);
    strata_free(bids);
    strata_free(blen);
    strata_free(bout);
    return st;
}
