/*
 * bert_weights.c — a BERT model's weights: random initialization, loading
 * from a Hugging Face / sentence-transformers folder (safetensors), and
 * saving the whole folder (weights, config, tokenizer, pooling files).
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
#include "encoder/bert_internal.h"
#include "encoder/lowp.h"
#include "encoder/st_folder.h"
#include "strata/encoder.h"
#include "strata/io.h"

/* ------------------------------------------------------------------------ */
/* Create / load / free                                                      */
/* ------------------------------------------------------------------------ */

static strata_status alloc_model(strata_bert **out, const strata_bert_config *cfg,
                                 strata_error *err) {
    strata_status st = strata__bert_check_config(cfg, "BERT configuration", STRATA_EINVAL, err);
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
    strata__st_free(m->st);
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
        int nd = strata__bert_tensor_desc(cfg, i, 0, name, sizeof name, alt, sizeof alt, shape);
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
        int nl = strata__bert_per_layer(i) ? cfg->num_layers : 1;
        size_t per = sizes[i] / (size_t)nl;
        for (int l = 0; l < nl; l++) {
            char name[128], alt[128];
            int64_t shape[2];
            int nd = strata__bert_tensor_desc(cfg, i, l, name, sizeof name, alt, sizeof alt, shape);
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
            st = strata__tensor_to_f32(p, t, per, path, err);
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

strata_status strata__tensor_to_f32(float *dst, const strata_tensor *t, size_t n,
                                    const char *path, strata_error *err) {
    if (t->dtype != STRATA_DTYPE_F32 && t->dtype != STRATA_DTYPE_F16 &&
        t->dtype != STRATA_DTYPE_BF16)
        return strata_error_set(err, STRATA_EUNSUPPORTED,
                                "%s: tensor \"%s\" has dtype %s (F32, F16 or BF16 expected)",
                                path, t->name, strata_dtype_name(t->dtype));
    return strata_convert_to_f32(dst, t->data, t->dtype, n, err);
}

strata_status strata__model_dir_open(const char *dir, char **cfg_path, char **w_path,
                                     strata_error *err) {
    *cfg_path = *w_path = NULL;
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return strata_error_set(err, STRATA_EIO, "%s: not a model folder", dir);
    char *cp = strata_path_join(dir, "config.json");
    char *wp = strata_path_join(dir, "model.safetensors");
    strata_status st = cp && wp ? STRATA_OK
                                : strata_error_set(err, STRATA_ENOMEM, "out of memory");
    /* a model or checkpoint Strata wrote must be complete; a folder without
     * manifest (Hugging Face) is read as it is */
    if (st == STRATA_OK) st = strata_dir_check(dir, NULL, NULL, err);
    if (st != STRATA_OK) {
        strata_free(cp);
        strata_free(wp);
        return st;
    }
    *cfg_path = cp;
    *w_path = wp;
    return STRATA_OK;
}

strata_status strata__model_load_tokenizer(strata_tokenizer **tok, const char *dir,
                                           int vocab_size, strata_error *err) {
    strata_status st = strata_tokenizer_load(tok, dir, NULL, err);
    if (st == STRATA_OK && strata_tokenizer_vocab_size(*tok) > vocab_size)
        st = strata_error_set(err, STRATA_EFORMAT,
                              "%s: the vocabulary has %d tokens but \"vocab_size\" is %d",
                              dir, strata_tokenizer_vocab_size(*tok), vocab_size);
    return st;
}

strata_status strata_bert_load(strata_bert **out, const char *dir,
                               strata_error *err) {
    *out = NULL;
    char *cfg_path, *w_path;
    strata_status st = strata__model_dir_open(dir, &cfg_path, &w_path, err);
    if (st != STRATA_OK) return st;
    strata_bert *m = NULL;
    strata_bert_config cfg;
    strata_bert_st *stf = NULL;
    struct stat sb;
    if ((st = strata_bert_config_load(&cfg, cfg_path, err)) != STRATA_OK) goto done;
    if ((st = strata__bert_load_st_config(&cfg, dir, err)) != STRATA_OK) goto done;
    if ((st = strata__st_load(&cfg, &stf, dir, err)) != STRATA_OK) goto done;
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
    m->st = stf;
    stf = NULL;
    if ((st = load_weights(m, w_path, err)) != STRATA_OK) goto done;
    if ((st = strata__model_load_tokenizer(&m->tok, dir, cfg.vocab_size, err)) != STRATA_OK)
        goto done;
    strata__st_apply_lower_case(&cfg, m->tok);
done:
    strata__st_free(stf);
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

strata_status strata__model_save_tokenizer(const strata_tokenizer *tok, int max_position,
                                           const char *dir, strata_error *err) {
    char *vp = strata_path_join(dir, "vocab.txt");
    strata_status st = vp ? strata_tokenizer_save_vocab(tok, vp, err)
                          : strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_free(vp);
    if (st != STRATA_OK) return st;
    cJSON *tc = cJSON_CreateObject();
    if (tc) {
        cJSON_AddBoolToObject(tc, "do_lower_case", strata_tokenizer_lowercase(tok));
        cJSON_AddStringToObject(tc, "tokenizer_class", "BertTokenizer");
        cJSON_AddNumberToObject(tc, "model_max_length", max_position);
    }
    return strata__json_write_in(dir, "tokenizer_config.json", tc, err);
}

static strata_status save_files(const strata_bert *m, const char *dir, strata_error *err);

strata_status strata_bert_save(const strata_bert *m, const char *dir,
                               strata_error *err) {
    /* one unit: incomplete until the manifest lists every file */
    strata_status st = strata_dir_begin(dir, "model", err);
    if (st == STRATA_OK) st = save_files(m, dir, err);
    const char *unit[2 + STRATA__ST_MAX_FILES] = {"model.safetensors", "config.json"};
    int n = 2;
    if (st == STRATA_OK) st = strata__st_save(m, dir, unit, &n, err);
    if (st == STRATA_OK) st = strata_dir_commit(dir, "model", unit, n, err);
    return st;
}

static strata_status save_files(const strata_bert *m, const char *dir, strata_error *err) {
    const strata_bert_config *cfg = &m->cfg;
    strata_status st = STRATA_OK;

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
        int nl = strata__bert_per_layer(i) ? cfg->num_layers : 1;
        size_t per = sizes[i] / (size_t)nl;
        for (int l = 0; l < nl; l++, k++) {
            char alt[128];
            strata_tensor *t = &ts[k];
            t->name = names + (size_t)k * 128;
            t->ndim = strata__bert_tensor_desc(cfg, i, l, t->name, 128, alt, sizeof alt, t->shape);
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
    return st;
}
