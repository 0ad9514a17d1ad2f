/*
 * embedder.c — the embedder interface (embedder.h): one table of
 * operations per kind (hash, BERT, contextual) behind one handle.
 */
#include <string.h>

#include "core/internal.h"
#include "strata/embedder.h"

typedef struct embedder_ops {
    const char *name;
    strata_status (*fit)(strata_embedder *e, const char *const *texts, const size_t *lens,
                         int64_t n, const strata_progress *progress, strata_error *err);
    strata_status (*embed)(const strata_embedder *e, const char *const *texts,
                           const size_t *lens, int64_t n, const strata_progress *progress,
                           float *out, strata_error *err);
    void (*release)(strata_embedder *e);
} embedder_ops;

struct strata_embedder {
    const embedder_ops *ops;
    strata_embedder_kind kind;
    int dim;
    strata_embedder_params p;
    /* hash */
    strata_hash_idf idf;
    int fitted;
    /* BERT */
    strata_bert *bert;
    char *prompt;   /* owned: prepended to every text, or NULL */
    /* contextual */
    strata_ctx_model *ctx;
    const float *E; /* borrowed context [J, C], NULL: null context */
    int J;          /* 0: no context given yet */
};

strata_embedder_params strata_embedder_default_params(void) {
    strata_embedder_params p;
    memset(&p, 0, sizeof p);
    p.hash = strata_hash_default_params();
    p.idf = NULL;
    p.embed = strata_embed_default_params();
    p.prompt_name = NULL;
    p.pool = -1;
    p.normalize = -1;
    return p;
}

/* ------------------------------------------------------------------------ */
/* Hash                                                                      */
/* ------------------------------------------------------------------------ */

static strata_status hash_fit(strata_embedder *e, const char *const *texts, const size_t *lens,
                              int64_t n, const strata_progress *progress, strata_error *err) {
    strata_hash_idf_free(&e->idf);
    e->fitted = 0;
    strata_hash_params hp = e->p.hash;
    hp.progress = progress ? *progress : (strata_progress){0};
    strata_status st = strata_hash_idf_fit(&e->idf, texts, lens, n, &hp, err);
    if (!st) e->fitted = 1;
    return st;
}

static strata_status hash_embed(const strata_embedder *e, const char *const *texts,
                                const size_t *lens, int64_t n, const strata_progress *progress,
                                float *out, strata_error *err) {
    if (!e->fitted)
        return strata_error_set(err, STRATA_ESTATE, "the hash embedder has no IDF table: "
                                "fit it or give one");
    strata_hash_params hp = e->p.hash;
    hp.progress = progress ? *progress : (strata_progress){0};
    return strata_hash_embed(&e->idf, texts, lens, n, &hp, out, err);
}

static void hash_release(strata_embedder *e) { strata_hash_idf_free(&e->idf); }

static const embedder_ops hash_ops = {"hash", hash_fit, hash_embed, hash_release};

/* ------------------------------------------------------------------------ */
/* BERT                                                                      */
/* ------------------------------------------------------------------------ */

static strata_status bert_embed(const strata_embedder *e, const char *const *texts,
                                const size_t *lens, int64_t n, const strata_progress *progress,
                                float *out, strata_error *err) {
    strata_embed_params ep = e->p.embed;
    ep.progress = progress ? *progress : (strata_progress){0};
    ep.prompt = e->prompt;
    return strata_bert_embed_texts(e->bert, texts, lens, n, &ep, out, err);
}

static void bert_release(strata_embedder *e) {
    strata_bert_free(e->bert);
    strata_free(e->prompt);
}

/* The prompt of a BERT embedder: p's text, else the folder's prompt named
 * p->prompt_name, else the folder's default prompt. */
static strata_status bert_prompt(strata_embedder *e, const strata_embedder_params *p,
                                 const char *model, strata_error *err) {
    const char *text = p->embed.prompt;
    if (!text && p->prompt_name) {
        text = strata_bert_prompt(e->bert, p->prompt_name);
        if (!text)
            return strata_error_set(err, STRATA_EINVAL, "%s: no prompt named \"%s\" in "
                                    "config_sentence_transformers.json", model, p->prompt_name);
    } else if (!text) {
        text = strata_bert_default_prompt(e->bert);
    }
    return strata_embedder_set_prompt(e, text, err);
}

static const embedder_ops bert_ops = {"BERT", NULL, bert_embed, bert_release};

/* ------------------------------------------------------------------------ */
/* Contextual                                                                */
/* ------------------------------------------------------------------------ */

static strata_status ctx_embed(const strata_embedder *e, const char *const *texts,
                               const size_t *lens, int64_t n, const strata_progress *progress,
                               float *out, strata_error *err) {
    if (e->J < 1)
        return strata_error_set(err, STRATA_ESTATE, "the contextual model has no context: "
                                "give one (or a null context)");
    strata_embed_params ep = e->p.embed;
    ep.progress = progress ? *progress : (strata_progress){0};
    return strata_ctx_embed_texts(e->ctx, e->E, e->J, texts, lens, n, &ep, out, err);
}

static void ctx_release(strata_embedder *e) { strata_ctx_free(e->ctx); }

static const embedder_ops ctx_ops = {"contextual", NULL, ctx_embed, ctx_release};

/* ------------------------------------------------------------------------ */
/* The interface                                                             */
/* ------------------------------------------------------------------------ */

/* The parameters that apply to the kind chosen by model; EINVAL naming the
 * first that is out of range or does not apply. */
static strata_status check_params(strata_embedder_kind kind, const strata_embedder_params *p,
                                  strata_error *err) {
    if (kind == STRATA_EMBEDDER_HASH) {
        if (p->embed.prompt || p->prompt_name)
            return strata_error_set(err, STRATA_EINVAL, "prompts apply to a BERT model, not "
                                    "the hash embedder");
        if (p->pool != -1 || p->normalize != -1)
            return strata_error_set(err, STRATA_EINVAL, "pooling and normalization apply to "
                                    "a BERT model, not the hash embedder");
        if (p->hash.dim < 1 || p->hash.dim > (1 << 20))
            return strata_error_set(err, STRATA_EINVAL, "dim %d outside [1, 1048576]",
                                    p->hash.dim);
        if (p->hash.nnz < 1 || p->hash.nnz > 64)
            return strata_error_set(err, STRATA_EINVAL, "nnz %d outside [1, 64]", p->hash.nnz);
        return STRATA_OK;
    }
    if (p->idf)
        return strata_error_set(err, STRATA_EINVAL, "an IDF table applies to the hash "
                                "embedder, not a %s model",
                                kind == STRATA_EMBEDDER_BERT ? "BERT" : "contextual");
    if (p->embed.max_len != 0 && p->embed.max_len < 2)
        return strata_error_set(err, STRATA_EINVAL, "max_len %d < 2 (0: the model's)",
                                p->embed.max_len);
    if (p->embed.batch_size < 1)
        return strata_error_set(err, STRATA_EINVAL, "batch_size %d < 1", p->embed.batch_size);
    if (kind == STRATA_EMBEDDER_CONTEXTUAL) {
        if (p->embed.prompt || p->prompt_name)
            return strata_error_set(err, STRATA_EINVAL, "prompts apply to a BERT model, not "
                                    "the contextual model");
        if (p->pool != -1 || p->normalize != -1)
            return strata_error_set(err, STRATA_EINVAL, "contextual embeddings are the "
                                    "model's (mean of the text positions, head, "
                                    "L2-normalized): no pooling or normalization to choose");
        if (p->embed.precision != STRATA_PRECISION_AUTO &&
            p->embed.precision != STRATA_PRECISION_FP32)
            return strata_error_set(err, STRATA_EINVAL, "the contextual model runs in fp32, "
                                    "not %s", strata_precision_name(p->embed.precision));
        return STRATA_OK;
    }
    if (p->embed.prompt && p->prompt_name)
        return strata_error_set(err, STRATA_EINVAL, "give a prompt or a prompt name, not both");
    if (p->pool != -1 && p->pool != STRATA_POOL_CLS && p->pool != STRATA_POOL_MEAN)
        return strata_error_set(err, STRATA_EINVAL, "pool %d is neither cls nor mean", p->pool);
    if (p->normalize < -1 || p->normalize > 1)
        return strata_error_set(err, STRATA_EINVAL, "normalize %d is not -1, 0 or 1",
                                p->normalize);
    return STRATA_OK;
}

strata_status strata_embedder_open(strata_embedder **out, const char *model,
                                   const strata_embedder_params *p, strata_error *err) {
    if (!out || !model) return strata_error_set(err, STRATA_EINVAL, "no model given");
    *out = NULL;
    strata_embedder_params dp = strata_embedder_default_params();
    if (!p) p = &dp;
    strata_embedder_kind kind = STRATA_EMBEDDER_HASH;
    strata_status st = STRATA_OK;
    if (strcmp(model, "hash") != 0) {
        int is_ctx = 0;
        if ((st = strata_ctx_probe_dir(model, &is_ctx, err))) return st;
        kind = is_ctx ? STRATA_EMBEDDER_CONTEXTUAL : STRATA_EMBEDDER_BERT;
    }
    st = check_params(kind, p, err);
    if (st) return st;
    strata_embedder *e = strata_calloc(1, sizeof *e);
    if (!e) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    e->kind = kind;
    e->p = *p;
    e->p.idf = NULL; /* borrowed: not kept */
    e->p.embed.prompt = NULL;
    e->p.prompt_name = NULL;
    switch (kind) {
    case STRATA_EMBEDDER_HASH:
        e->ops = &hash_ops;
        e->dim = p->hash.dim;
        if (p->idf) {
            st = strata_hash_idf_load(&e->idf, p->idf, err);
            if (!st && e->idf.bigrams != p->hash.bigrams)
                st = strata_error_set(err, STRATA_EINVAL, "%s: the IDF table was fitted %s "
                                      "bigrams, the embedder is asked %s them", p->idf,
                                      e->idf.bigrams ? "with" : "without",
                                      p->hash.bigrams ? "with" : "without");
            e->fitted = !st;
        }
        break;
    case STRATA_EMBEDDER_BERT:
        e->ops = &bert_ops;
        st = strata_bert_load(&e->bert, model, err);
        if (!st) {
            if (p->pool != -1) e->bert->cfg.pool = (strata_pool)p->pool;
            if (p->normalize != -1) e->bert->cfg.normalize = p->normalize;
            e->dim = e->bert->cfg.hidden_size;
            st = bert_prompt(e, p, model, err);
        }
        break;
    case STRATA_EMBEDDER_CONTEXTUAL:
        e->ops = &ctx_ops;
        st = strata_ctx_load(&e->ctx, model, err);
        if (!st) e->dim = e->ctx->cfg.bert.hidden_size;
        break;
    }
    if (st) {
        strata_embedder_free(e);
        return st;
    }
    *out = e;
    return STRATA_OK;
}

void strata_embedder_free(strata_embedder *e) {
    if (!e) return;
    if (e->ops) e->ops->release(e);
    strata_free(e);
}

strata_embedder_kind strata_embedder_kind_of(const strata_embedder *e) { return e->kind; }

int strata_embedder_dim(const strata_embedder *e) { return e->dim; }

static void ignore_word(void *ud, const char *w, size_t n) {
    (void)ud;
    (void)w;
    (void)n;
}

const strata_bert *strata_embedder_bert(const strata_embedder *e) {
    return e->kind == STRATA_EMBEDDER_BERT ? e->bert : NULL;
}

strata_status strata_embedder_set_prompt(strata_embedder *e, const char *text,
                                         strata_error *err) {
    if (e->kind != STRATA_EMBEDDER_BERT)
        return strata_error_set(err, STRATA_ESTATE, "a %s model takes no prompt", e->ops->name);
    char *t = NULL;
    if (text && text[0] && strata_tokenizer_basic(NULL, text, strlen(text), ignore_word, NULL, err))
        return strata_error_prefix(err, "prompt");
    if (text && text[0] && !(t = strata_strdup(text)))
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_free(e->prompt);
    e->prompt = t;
    return STRATA_OK;
}

int strata_embedder_needs_fit(const strata_embedder *e) {
    return e->kind == STRATA_EMBEDDER_HASH && !e->fitted;
}

strata_status strata_embedder_fit(strata_embedder *e, const char *const *texts,
                                  const size_t *lens, int64_t n,
                                  const strata_progress *progress, strata_error *err) {
    if (!e->ops->fit)
        return strata_error_set(err, STRATA_ESTATE, "a %s model has nothing to fit",
                                e->ops->name);
    return e->ops->fit(e, texts, lens, n, progress, err);
}

strata_status strata_embedder_fit_shared(strata_embedder *e, const char *const *texts,
                                         const size_t *lens, int64_t n,
                                         const strata_progress *progress,
                                         strata_allreduce_i64_fn allreduce, void *ud,
                                         strata_error *err) {
    if (!allreduce) return strata_error_set(err, STRATA_EINVAL, "fit_shared: no allreduce");
    if (e->kind != STRATA_EMBEDDER_HASH)
        return strata_error_set(err, STRATA_ESTATE, "a %s model has nothing to fit",
                                e->ops->name);
    /* one reduction of the failures (each process reaches it, also one that
     * failed), then one of [texts, df of bucket b...] when none failed */
    size_t nb = 1 + (size_t)STRATA_HASH_BUCKETS;
    int64_t *buf = strata_malloc_array(nb, sizeof *buf);
    strata_status st = buf ? hash_fit(e, texts, lens, n, progress, err)
                           : strata_error_set(err, STRATA_ENOMEM, "out of memory");
    int64_t failed = st != STRATA_OK;
    if (allreduce(ud, &failed, 1) != 0) {
        if (!st) st = strata_error_set(err, STRATA_EIO, "IDF fit: the allreduce failed");
    } else if (!st && failed > 0) {
        st = strata_error_set(err, STRATA_ESTATE, "another process failed fitting the IDF table");
    }
    if (!st) {
        buf[0] = e->idf.n_docs;
        memcpy(buf + 1, e->idf.df, sizeof(int64_t) * STRATA_HASH_BUCKETS);
        if (allreduce(ud, buf, nb) != 0) {
            st = strata_error_set(err, STRATA_EIO, "IDF fit: the allreduce failed");
        } else {
            e->idf.n_docs = buf[0];
            memcpy(e->idf.df, buf + 1, sizeof(int64_t) * STRATA_HASH_BUCKETS);
            strata_hash_idf_update(&e->idf);
        }
    }
    if (st && e->fitted) {
        strata_hash_idf_free(&e->idf);
        e->fitted = 0;
    }
    strata_free(buf);
    return st;
}

strata_status strata_embedder_save_idf(const strata_embedder *e, const char *path,
                                       strata_error *err) {
    if (e->kind != STRATA_EMBEDDER_HASH || !e->fitted)
        return strata_error_set(err, STRATA_ESTATE, "no IDF table to save (%s)",
                                e->kind == STRATA_EMBEDDER_HASH ? "not fitted"
                                                                : "not the hash embedder");
    return strata_hash_idf_save(&e->idf, path, err);
}

const strata_ctx_model *strata_embedder_contextual(const strata_embedder *e) {
    return e->kind == STRATA_EMBEDDER_CONTEXTUAL ? e->ctx : NULL;
}

strata_status strata_embedder_set_context(strata_embedder *e, const float *E, int J,
                                          strata_error *err) {
    if (e->kind != STRATA_EMBEDDER_CONTEXTUAL)
        return strata_error_set(err, STRATA_ESTATE, "a %s model takes no context",
                                e->ops->name);
    if (J < 1) return strata_error_set(err, STRATA_EINVAL, "context size %d < 1", J);
    e->E = E;
    e->J = J;
    return STRATA_OK;
}

strata_status strata_embedder_embed(const strata_embedder *e, const char *const *texts,
                                    const size_t *lens, int64_t n,
                                    const strata_progress *progress, float *out,
                                    strata_error *err) {
    if (n < 0) return strata_error_set(err, STRATA_EINVAL, "text count %lld < 0", (long long)n);
    return e->ops->embed(e, texts, lens, n, progress, out, err);
}
