/*
 * contextual.c — the contextual model's parameter layout (one block: M1, its
 * head, M2, the prompt, the output head, v_null), creation from a config or
 * a pretrained BERT, and the self-describing folder (config.json +
 * model.safetensors + vocabulary) it is saved to and loaded from.
 *
 * The forward passes are in ctx_infer.c (inference) and
 * src/train/contextual.c (training).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "encoder/bert_internal.h"
#include "strata/contextual.h"
#include "strata/io.h"

/* ------------------------------------------------------------------------ */
/* Layout                                                                    */
/* ------------------------------------------------------------------------ */

enum {
    NB = STRATA_BERT_NUM_TENSORS,
    T_M1 = 0,            /* 0..20  first-stage BERT        */
    T_MLP = NB,          /* 21..24 first-stage head        */
    T_M2 = NB + 4,       /* 25..45 second-stage BERT       */
    T_PP = 2 * NB + 4,   /* 46..49 prompt projection       */
    T_OP = 2 * NB + 8,   /* 50..53 output projection       */
    T_NULL = 2 * NB + 12 /* 54     v_null                  */
};

static const char *const k_head_names[13] = {
    "first_stage_model.mlp.0.weight", "first_stage_model.mlp.0.bias",
    "first_stage_model.mlp.2.weight", "first_stage_model.mlp.2.bias",
    "second_stage_model.prompt_projection.0.weight",
    "second_stage_model.prompt_projection.0.bias",
    "second_stage_model.prompt_projection.2.weight",
    "second_stage_model.prompt_projection.2.bias",
    "second_stage_model.output_projection.0.weight",
    "second_stage_model.output_projection.0.bias",
    "second_stage_model.output_projection.2.weight",
    "second_stage_model.output_projection.2.bias",
    "second_stage_model.sequence_dropout_null_embedding"};

/* Index into k_head_names of head tensor i (i not a BERT tensor). */
static int head_index(int i) {
    if (i < T_M2) return i - T_MLP;
    return i - T_PP + 4;
}

static int is_bert(int i) { return (i >= T_M1 && i < T_MLP) || (i >= T_M2 && i < T_PP); }

/* Shape of tensor i for one layer (stacked BERT tensors) or whole; ndim. */
static int tensor_shape(const strata_ctx_config *cfg, int i, int64_t shape[2]) {
    int64_t C = cfg->bert.hidden_size, F = cfg->bert.intermediate_size;
    int64_t S = cfg->n_prompt;
    if (is_bert(i)) {
        int k = i < T_MLP ? i : i - T_M2;
        int64_t tab[NB][2] = {
            {cfg->bert.vocab_size, C}, {cfg->bert.max_position, C},
            {cfg->bert.type_vocab_size, C}, {C, 0}, {C, 0}, {C, C}, {C, 0}, {C, C},
            {C, 0}, {C, C}, {C, 0}, {C, C}, {C, 0}, {C, 0}, {C, 0}, {F, C}, {F, 0},
            {C, F}, {C, 0}, {C, 0}, {C, 0}};
        shape[0] = tab[k][0];
        shape[1] = tab[k][1];
        return tab[k][1] ? 2 : 1;
    }
    int h = head_index(i);
    shape[1] = 0;
    switch (h) {
    case 6: shape[0] = S * C; shape[1] = C; return 2;   /* prompt_projection.2 */
    case 7: shape[0] = S * C; return 1;
    case 0: case 2: case 4: case 8: case 10: shape[0] = C; shape[1] = C; return 2;
    default: shape[0] = C; return 1;
    }
}

size_t strata_ctx_param_sizes(const strata_ctx_config *cfg,
                              size_t sizes[STRATA_CTX_NUM_TENSORS]) {
    size_t bs[NB];
    strata_bert_param_sizes(&cfg->bert, bs);
    size_t total = 0;
    for (int i = 0; i < STRATA_CTX_NUM_TENSORS; i++) {
        size_t n;
        if (is_bert(i)) {
            n = bs[i < T_MLP ? i : i - T_M2];
        } else {
            int64_t sh[2];
            int nd = tensor_shape(cfg, i, sh);
            n = (size_t)sh[0] * (nd == 2 ? (size_t)sh[1] : 1);
        }
        if (sizes) sizes[i] = n;
        total += n;
    }
    return total;
}

void strata_ctx_bind(const strata_ctx_config *cfg, float *block,
                     strata_ctx_weights *w) {
    size_t s[STRATA_CTX_NUM_TENSORS], off[STRATA_CTX_NUM_TENSORS + 1];
    strata_ctx_param_sizes(cfg, s);
    off[0] = 0;
    for (int i = 0; i < STRATA_CTX_NUM_TENSORS; i++) off[i + 1] = off[i] + s[i];
    strata_bert_bind(&cfg->bert, block + off[T_M1], &w->m1);
    strata_bert_bind(&cfg->bert, block + off[T_M2], &w->m2);
    float **heads[13] = {&w->mlp0_w, &w->mlp0_b, &w->mlp2_w, &w->mlp2_b,
                         &w->pp0_w,  &w->pp0_b,  &w->pp2_w,  &w->pp2_b,
                         &w->op0_w,  &w->op0_b,  &w->op2_w,  &w->op2_b,
                         &w->null_emb};
    for (int h = 0; h < 13; h++) {
        int i = h < 4 ? T_MLP + h : T_PP + h - 4;
        *heads[h] = block + off[i];
    }
}

const char *strata_ctx_tensor_name(int i, char *buf, size_t cap) {
    if (i < 0 || i >= STRATA_CTX_NUM_TENSORS) return "?";
    if (is_bert(i))
        snprintf(buf, cap, "%s%s",
                 i < T_MLP ? "first_stage_model.embedder." : "second_stage_model.backbone.",
                 strata_train_tensor_name(i < T_MLP ? i : i - T_M2));
    else
        snprintf(buf, cap, "%s", k_head_names[head_index(i)]);
    return buf;
}

int strata_ctx_tensor_decays(int i) {
    if (i < 0 || i >= STRATA_CTX_NUM_TENSORS) return 0;
    if (is_bert(i)) return strata_train_tensor_decays(i < T_MLP ? i : i - T_M2);
    if (i == T_NULL) return 1;
    int64_t sh[2];
    strata_ctx_config c;
    memset(&c, 0, sizeof c);
    c.bert.hidden_size = c.n_prompt = 1;
    return tensor_shape(&c, i, sh) == 2; /* the head matrices */
}

/* ------------------------------------------------------------------------ */
/* Create                                                                    */
/* ------------------------------------------------------------------------ */

static strata_status check_config(const strata_ctx_config *cfg, strata_error *err) {
    const strata_bert_config *b = &cfg->bert;
    if (b->vocab_size < 1 || b->hidden_size < 1 || b->num_layers < 1 || b->num_heads < 1 ||
        b->intermediate_size < 1 || b->max_position < 1 || b->type_vocab_size < 1 ||
        b->hidden_size % b->num_heads != 0)
        return strata_error_set(err, STRATA_EINVAL, "invalid BERT configuration");
    if (cfg->context_size < 1 || cfg->context_size > (1 << 20))
        return strata_error_set(err, STRATA_EINVAL, "context size %d not in 1..%d",
                                cfg->context_size, 1 << 20);
    if (cfg->n_prompt < 1 || cfg->n_prompt > 1024)
        return strata_error_set(err, STRATA_EINVAL, "soft-prompt size %d not in 1..1024",
                                cfg->n_prompt);
    if (!(cfg->seq_dropout >= 0.0 && cfg->seq_dropout <= 1.0))
        return strata_error_set(err, STRATA_EINVAL, "sequence dropout %g not in [0, 1]",
                                cfg->seq_dropout);
    return STRATA_OK;
}

static strata_status alloc_model(strata_ctx_model **out, const strata_ctx_config *cfg,
                                 strata_error *err) {
    *out = NULL;
    strata_status st = check_config(cfg, err);
    if (st) return st;
    strata_ctx_model *m = strata_calloc(1, sizeof *m);
    if (!m) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    m->cfg = *cfg;
    m->cfg.bert.pool = STRATA_POOL_MEAN;
    m->cfg.bert.normalize = 1;
    m->n_params = strata_ctx_param_sizes(cfg, NULL);
    m->params = strata_calloc(m->n_params, sizeof(float));
    if (!m->params) {
        strata_free(m);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory for %zu parameters",
                                m->n_params);
    }
    strata_ctx_bind(&m->cfg, m->params, &m->w);
    *out = m;
    return STRATA_OK;
}

/* Heads: PyTorch's nn.Linear default, U(-1/sqrt(in), 1/sqrt(in)) for weight
 * and bias; v_null ~ N(0, 0.01^2). One RNG stream per tensor. */
static void init_heads(strata_ctx_model *m, uint64_t seed) {
    size_t s[STRATA_CTX_NUM_TENSORS];
    strata_ctx_param_sizes(&m->cfg, s);
    float *p = m->params;
    double bound = 1.0 / sqrt((double)m->cfg.bert.hidden_size);
    for (int i = 0; i < STRATA_CTX_NUM_TENSORS; p += s[i], i++) {
        if (is_bert(i)) continue;
        strata_rng r;
        strata_rng_seed(&r, seed, 0x63746868ULL + (uint64_t)i);
        for (size_t k = 0; k < s[i]; k++)
            p[k] = i == T_NULL ? (float)(0.01 * strata_rng_normal(&r))
                               : (float)(bound * (2.0 * strata_rng_uniform(&r) - 1.0));
    }
}

/* Copies one BERT block into both stages. */
static void set_stages(strata_ctx_model *m, const float *bert_params) {
    size_t n = strata_bert_param_sizes(&m->cfg.bert, NULL);
    memcpy(m->w.m1.word_emb, bert_params, n * sizeof(float));
    memcpy(m->w.m2.word_emb, bert_params, n * sizeof(float));
}

strata_status strata_ctx_create(strata_ctx_model **out, const strata_ctx_config *cfg,
                                strata_tokenizer *tok, uint64_t seed, strata_error *err) {
    *out = NULL;
    strata_ctx_model *m;
    strata_status st = alloc_model(&m, cfg, err);
    if (st) {
        strata_tokenizer_free(tok);
        return st;
    }
    m->tok = tok;
    strata_bert *b;
    if ((st = strata_bert_create(&b, &m->cfg.bert, NULL, seed, err))) {
        strata_ctx_free(m);
        return st;
    }
    set_stages(m, b->params);
    strata_bert_free(b);
    init_heads(m, seed);
    *out = m;
    return STRATA_OK;
}

strata_status strata_ctx_from_bert(strata_ctx_model **out, strata_bert *init,
                                   const strata_ctx_config *cfg, uint64_t seed,
                                   strata_error *err) {
    *out = NULL;
    strata_ctx_config c = *cfg;
    c.bert = init->cfg;
    strata_ctx_model *m;
    strata_status st = alloc_model(&m, &c, err);
    if (st) return st;
    set_stages(m, init->params);
    init_heads(m, seed);
    m->tok = init->tok;
    init->tok = NULL;
    *out = m;
    return STRATA_OK;
}

void strata_ctx_free(strata_ctx_model *m) {
    if (!m) return;
    strata_tokenizer_free(m->tok);
    strata_free(m->params);
    strata_free(m);
}

/* ------------------------------------------------------------------------ */
/* The saved tensors                                                         */
/* ------------------------------------------------------------------------ */

/* Every saved tensor (stacked BERT tensors split per layer) with its name,
 * shape and data pointer into block. *names is one allocation holding the
 * names. Returns the count, or -1 out of memory. */
static int tensor_list(const strata_ctx_config *cfg, float *block, strata_tensor **out,
                       char **names) {
    int L = cfg->bert.num_layers;
    int n = 2 * (5 + (NB - 5) * L) + 13;
    strata_tensor *t = strata_calloc((size_t)n, sizeof *t);
    char *nm = strata_calloc((size_t)n, 192);
    if (!t || !nm) {
        strata_free(t);
        strata_free(nm);
        return -1;
    }
    size_t s[STRATA_CTX_NUM_TENSORS];
    strata_ctx_param_sizes(cfg, s);
    float *p = block;
    int k = 0;
    for (int i = 0; i < STRATA_CTX_NUM_TENSORS; i++) {
        int bi = is_bert(i) ? (i < T_MLP ? i : i - T_M2) : -1;
        int reps = bi >= 5 ? L : 1;
        size_t per = s[i] / (size_t)reps;
        char full[160];
        strata_ctx_tensor_name(i, full, sizeof full);
        const char *star = strchr(full, '*');
        for (int l = 0; l < reps; l++, k++) {
            char *name = nm + (size_t)k * 192;
            if (star)
                snprintf(name, 192, "%.*s%d%s", (int)(star - full), full, l, star + 1);
            else
                snprintf(name, 192, "%s", full);
            t[k].name = name;
            t[k].dtype = STRATA_DTYPE_F32;
            t[k].ndim = tensor_shape(cfg, i, t[k].shape);
            t[k].count = (int64_t)per;
            t[k].data = p;
            t[k].nbytes = per * sizeof(float);
            p += per;
        }
    }
    *out = t;
    *names = nm;
    return n;
}

/* ------------------------------------------------------------------------ */
/* Save                                                                      */
/* ------------------------------------------------------------------------ */

strata_status strata_ctx_save_block(const char *path, const strata_ctx_config *cfg,
                                    const float *block, strata_error *err) {
    strata_tensor *t;
    char *names;
    int n = tensor_list(cfg, (float *)block, &t, &names);
    if (n < 0) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_status st = strata_safetensors_save(path, n, t, "{\"format\":\"pt\"}", err);
    strata_free(t);
    strata_free(names);
    return st;
}

static cJSON *config_json(const strata_ctx_model *m) {
    const strata_ctx_config *c = &m->cfg;
    const strata_bert_config *b = &c->bert;
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON *arch = cJSON_AddArrayToObject(j, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("StrataContextualDocumentEmbedding"));
    cJSON_AddStringToObject(j, "architecture", "transductive");
    cJSON_AddStringToObject(j, "strata_model", "contextual");
    /* the shape of each stage: Hugging Face BERT keys (no model_type, so a
     * loader that expects a plain BertModel fails instead of guessing) */
    strata__bert_config_json_shape(j, b);
    cJSON_AddNumberToObject(j, "layer_norm_eps", b->layer_norm_eps);
    cJSON_AddStringToObject(j, "hidden_act", "gelu");
    cJSON_AddStringToObject(j, "position_embedding_type", "absolute");
    cJSON_AddNumberToObject(j, "pad_token_id",
                            m->tok && strata_tokenizer_special(m->tok, "[PAD]") >= 0
                                ? strata_tokenizer_special(m->tok, "[PAD]") : 0);
    /* the contextual keys (the reference code's names where it has them) */
    cJSON_AddNumberToObject(j, "transductive_corpus_size", c->context_size);
    cJSON_AddNumberToObject(j, "transductive_tokens_per_document", 1);
    cJSON_AddNumberToObject(j, "transductive_sequence_dropout_prob", c->seq_dropout);
    cJSON_AddNumberToObject(j, "n_soft_prompt", c->n_prompt);
    cJSON_AddBoolToObject(j, "context_positions", c->context_positions);
    cJSON_AddBoolToObject(j, "output_residual", c->output_residual);
    cJSON_AddBoolToObject(j, "pool_ignore_contextual_tokens", 1);
    cJSON_AddStringToObject(j, "first_stage_pooling", "mean");
    cJSON_AddStringToObject(j, "first_stage_head", "linear-gelu-linear");
    cJSON_AddStringToObject(j, "biencoder_pooling_strategy", "mean");
    cJSON_AddStringToObject(j, "output_head", "linear-relu-linear");
    cJSON_AddBoolToObject(j, "normalize", 1);
    cJSON_AddStringToObject(j, "torch_dtype", "float32");
    return j;
}

strata_status strata_ctx_save(const strata_ctx_model *m, const char *dir, strata_error *err) {
    strata_status st = strata_mkdirs(dir, err);
    if (st) return st;
    char *wp = strata_path_join(dir, "model.safetensors");
    st = wp ? strata_ctx_save_block(wp, &m->cfg, m->params, err)
            : strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_free(wp);
    if (st) return st;
    if ((st = strata__json_write_in(dir, "config.json", config_json(m), err))) return st;
    if (!m->tok) return STRATA_OK;
    return strata__model_save_tokenizer(m->tok, m->cfg.bert.max_position, dir, err);
}

/* ------------------------------------------------------------------------ */
/* Load                                                                      */
/* ------------------------------------------------------------------------ */

strata_status strata_ctx_probe_dir(const char *dir, int *is_ctx, strata_error *err) {
    *is_ctx = 0;
    char *p = strata_path_join(dir, "config.json");
    if (!p) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    cJSON *j = NULL;
    strata_error e2;
    strata_error_clear(&e2);
    strata_status st = strata__json_read(p, &j, &e2);
    strata_free(p);
    if (st == STRATA_ENOMEM) return strata_error_set(err, st, "%s", e2.msg);
    if (!st) *is_ctx = cJSON_GetObjectItemCaseSensitive(j, "transductive_corpus_size") != NULL;
    cJSON_Delete(j);
    return STRATA_OK; /* unreadable or not JSON: not contextual (a loader says why) */
}

int strata_ctx_is_model_dir(const char *dir) {
    int yes = 0;
    return strata_ctx_probe_dir(dir, &yes, NULL) == STRATA_OK && yes;
}

/* A boolean key (default dflt when absent). */
static strata_status get_bool(const cJSON *j, const char *path, const char *key, int dflt,
                              int *out, strata_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) {
        *out = dflt;
        return STRATA_OK;
    }
    if (!cJSON_IsBool(v))
        return strata_error_set(err, STRATA_EFORMAT, "%s: key \"%s\" must be true or false",
                                path, key);
    *out = cJSON_IsTrue(v);
    return STRATA_OK;
}

static strata_status get_count(const cJSON *j, const char *path, const char *key, int dflt,
                               int lo, int hi, int *out, strata_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v && dflt >= 0) {
        *out = dflt;
        return STRATA_OK;
    }
    if (!v) return strata_error_set(err, STRATA_EFORMAT, "%s: key \"%s\" missing", path, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < lo || v->valuedouble > hi)
        return strata_error_set(err, STRATA_EFORMAT,
                                "%s: key \"%s\" must be an integer in %d..%d", path, key, lo, hi);
    *out = (int)v->valuedouble;
    return STRATA_OK;
}

static strata_status load_config(strata_ctx_config *cfg, const char *path, strata_error *err) {
    memset(cfg, 0, sizeof *cfg);
    strata_status st = strata_bert_config_load(&cfg->bert, path, err);
    if (st) return st;
    cJSON *j;
    if ((st = strata__json_read(path, &j, err))) return st;
    int tpd = 1;
    if ((st = get_count(j, path, "transductive_corpus_size", -1, 1, 1 << 20,
                        &cfg->context_size, err)) ||
        (st = get_count(j, path, "transductive_tokens_per_document", 1, 1, 1, &tpd, err)) ||
        (st = get_count(j, path, "n_soft_prompt", STRATA_CTX_PROMPT, 1, 1024, &cfg->n_prompt,
                        err)) ||
        (st = get_bool(j, path, "context_positions", 0, &cfg->context_positions, err)) ||
        (st = get_bool(j, path, "output_residual", 0, &cfg->output_residual, err)))
        goto done;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "transductive_sequence_dropout_prob");
    if (p && (!cJSON_IsNumber(p) || !(p->valuedouble >= 0 && p->valuedouble <= 1))) {
        st = strata_error_set(err, STRATA_EFORMAT,
                              "%s: key \"transductive_sequence_dropout_prob\" must be a number "
                              "in [0, 1]", path);
        goto done;
    }
    cfg->seq_dropout = p ? p->valuedouble : 0.0;
    const char *fixed[][2] = {{"first_stage_pooling", "mean"},
                              {"biencoder_pooling_strategy", "mean"}};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, fixed[i][0]);
        if (v && (!cJSON_IsString(v) || strcmp(v->valuestring, fixed[i][1]) != 0)) {
            st = strata_error_set(err, STRATA_EUNSUPPORTED, "%s: key \"%s\" must be \"%s\"",
                                  path, fixed[i][0], fixed[i][1]);
            goto done;
        }
    }
done:
    cJSON_Delete(j);
    return st;
}

/* Fills every tensor of m from the file; errors name the first missing
 * tensor (and the count), a wrong shape or a dtype. */
static strata_status load_weights(strata_ctx_model *m, const char *path, strata_error *err) {
    strata_safetensors sf;
    strata_status st = strata_safetensors_load(&sf, path, err);
    if (st) return st;
    strata_tensor *t;
    char *names;
    int n = tensor_list(&m->cfg, m->params, &t, &names);
    if (n < 0) {
        strata_safetensors_free(&sf);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    int missing = 0, first = -1;
    for (int k = 0; k < n && !st; k++) {
        const strata_tensor *f = strata_safetensors_find(&sf, t[k].name);
        if (!f) {
            if (first < 0) first = k;
            missing++;
            continue;
        }
        if (f->ndim != t[k].ndim || f->shape[0] != t[k].shape[0] ||
            (t[k].ndim == 2 && f->shape[1] != t[k].shape[1])) {
            st = strata_error_set(err, STRATA_EFORMAT,
                                  "%s: tensor \"%s\" has %d dims [%lld, ...], expected [%lld%s%lld]",
                                  path, f->name, f->ndim, (long long)f->shape[0],
                                  (long long)t[k].shape[0], t[k].ndim == 2 ? ", " : "",
                                  t[k].ndim == 2 ? (long long)t[k].shape[1] : 0LL);
            break;
        }
        st = strata__tensor_to_f32((float *)t[k].data, f, (size_t)t[k].count, path, err);
    }
    if (!st && missing)
        st = strata_error_set(err, STRATA_EFORMAT, "%s: %d missing tensor(s), first \"%s\"",
                              path, missing, t[first].name);
    strata_free(t);
    strata_free(names);
    strata_safetensors_free(&sf);
    return st;
}

strata_status strata_ctx_load(strata_ctx_model **out, const char *dir, strata_error *err) {
    *out = NULL;
    /* a folder Strata wrote must be complete (as for strata_bert_load); one
     * without manifest is read as it is */
    char *cp, *wp;
    strata_status st = strata__model_dir_open(dir, &cp, &wp, err);
    if (st) return st;
    strata_ctx_model *m = NULL;
    strata_ctx_config cfg;
    if ((st = load_config(&cfg, cp, err))) goto done;
    if ((st = alloc_model(&m, &cfg, err))) goto done;
    if ((st = load_weights(m, wp, err))) goto done;
    st = strata__model_load_tokenizer(&m->tok, dir, cfg.bert.vocab_size, err);
done:
    strata_free(cp);
    strata_free(wp);
    if (st) {
        strata_ctx_free(m);
        return st;
    }
    *out = m;
    return STRATA_OK;
}
