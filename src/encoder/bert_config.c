/*
 * bert_config.c — the BERT configuration: the parameter layout (sizes of
 * the tensors in the one parameter block, binding, Hugging Face tensor
 * names), the limits every size is checked against, config.json and the
 * sentence-transformers pooling files read, and config.json written.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/internal.h"
#include "encoder/kernels.h"
#include "encoder/bert_internal.h"
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
strata_status strata__bert_check_config(const strata_bert_config *cfg, const char *where,
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
int strata__bert_tensor_desc(const strata_bert_config *cfg, int i, int l, char *name,
                             size_t cap, char *alt, size_t acap, int64_t shape[2]) {
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
    /* the architecture first: a DistilBERT or RoBERTa folder is named as such,
     * not reported by the first BERT key it lacks */
    if (mt && (!cJSON_IsString(mt) || strcmp(mt->valuestring, "bert") != 0)) {
        st = strata_error_set(err, STRATA_EUNSUPPORTED,
                              "%s: key \"model_type\" is %s%s%s, only \"bert\" is supported",
                              path, cJSON_IsString(mt) ? "\"" : "",
                              cJSON_IsString(mt) ? mt->valuestring : "not a string",
                              cJSON_IsString(mt) ? "\"" : "");
        goto done;
    }
    if ((st = get_int(j, path, "vocab_size", 1, 0, &cfg->vocab_size, err)) ||
        (st = get_int(j, path, "hidden_size", 1, 0, &cfg->hidden_size, err)) ||
        (st = get_int(j, path, "num_hidden_layers", 1, 0, &cfg->num_layers, err)) ||
        (st = get_int(j, path, "num_attention_heads", 1, 0, &cfg->num_heads, err)) ||
        (st = get_int(j, path, "intermediate_size", 1, 0, &cfg->intermediate_size, err)) ||
        (st = get_int(j, path, "max_position_embeddings", 1, 0, &cfg->max_position, err)) ||
        (st = get_int(j, path, "type_vocab_size", 0, 2, &cfg->type_vocab_size, err)))
        goto done;
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
        /* at least the smallest normal float: eps is stored as a float, and
         * 1e-82 would become 0 (a division by zero for a constant row) */
        if (!cJSON_IsNumber(eps) || !(eps->valuedouble >= FLT_MIN) || eps->valuedouble > 1) {
            st = strata_error_set(err, STRATA_EFORMAT,
                                  "%s: key \"layer_norm_eps\" must be a number in [%g, 1]",
                                  path, (double)FLT_MIN);
            goto done;
        }
        cfg->layer_norm_eps = (float)eps->valuedouble;
    }
    if ((st = strata__bert_check_config(cfg, path, STRATA_EFORMAT, err))) goto done;
    cfg->pool = STRATA_POOL_MEAN;
    cfg->normalize = 0;
done:
    cJSON_Delete(j);
    return st;
}

/* Reads 1_Pooling/config.json and modules.json of a sentence-transformers
 * folder (both optional). */
strata_status strata__bert_load_st_config(strata_bert_config *cfg, const char *dir,
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

void strata__bert_config_json_shape(cJSON *j, const strata_bert_config *c) {
    cJSON_AddNumberToObject(j, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(j, "hidden_size", c->hidden_size);
    cJSON_AddNumberToObject(j, "num_hidden_layers", c->num_layers);
    cJSON_AddNumberToObject(j, "num_attention_heads", c->num_heads);
    cJSON_AddNumberToObject(j, "intermediate_size", c->intermediate_size);
    cJSON_AddNumberToObject(j, "max_position_embeddings", c->max_position);
    cJSON_AddNumberToObject(j, "type_vocab_size", c->type_vocab_size);
}

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
    strata__bert_config_json_shape(j, c);
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
