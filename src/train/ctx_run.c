/*
 * ctx_run.c — the contextual model's part of `strata train --contextual`:
 * making the model, each step's context (J of the batch's own documents),
 * the batch, and evaluation with a context drawn from the BEIR corpus. The
 * run itself (plan, log, AdamW) is trainer.c's, checkpoints and exact resume
 * checkpoint.c's.
 *
 * Every random choice is a function of (seed, step): the context sample is
 * strata_ctx_sample(n, J, seed, step) and the dropout mask a hash of (seed,
 * step, sequence, slot), so a resumed run needs no extra state to replay
 * them.
 */
#include "train/trainer_internal.h"
#include "strata/eval.h"

#include <string.h>

#define PAPER_SEQ_DROPOUT 0.005 /* the paper's p (section 5, Training) */

strata_status strata__ctx_run_model(run *r, strata_error *err) {
    const strata_train_params *p = r->p;
    strata_ctx_config c;
    memset(&c, 0, sizeof c);
    c.context_size = p->context_size > 0 ? p->context_size : (int)r->plan.B;
    c.n_prompt = STRATA_CTX_PROMPT;
    c.seq_dropout = p->seq_dropout >= 0 ? p->seq_dropout : PAPER_SEQ_DROPOUT;
    if (p->init_dir && strata_ctx_is_model_dir(p->init_dir))
        return strata_ctx_load(&r->cm, p->init_dir, err);
    strata_status st;
    if (p->init_dir) { /* both stages from one BERT */
        strata_bert *b;
        if ((st = strata_bert_load(&b, p->init_dir, err))) return st;
        st = strata_ctx_from_bert(&r->cm, b, &c, p->seed, err);
        if (!st && !r->cm->tok)
            st = strata_error_set(err, STRATA_EFORMAT, "%s: no vocabulary", p->init_dir);
        strata_bert_free(b);
        return st;
    }
    strata_tokenizer *tok = NULL;
    if ((st = strata_bert_config_load(&c.bert, p->config_path, err))) return st;
    if ((st = strata_tokenizer_load(&tok, p->vocab_path, NULL, err))) return st;
    if (strata_tokenizer_vocab_size(tok) > c.bert.vocab_size) {
        st = strata_error_set(err, STRATA_EFORMAT,
                              "%s: vocabulary has %d tokens but %s says vocab_size %d",
                              p->vocab_path, strata_tokenizer_vocab_size(tok), p->config_path,
                              c.bert.vocab_size);
        strata_tokenizer_free(tok);
        return st;
    }
    return strata_ctx_create(&r->cm, &c, tok, p->seed, err);
}

strata_status strata__ctx_run_check(run *r, strata_error *err) {
    const strata_train_params *p = r->p;
    strata_ctx_config *c = &r->cm->cfg;
    if (p->context_size > 0 && p->context_size != c->context_size)
        return strata_error_set(err, STRATA_EINVAL,
                                "--context-size %d, but the model was made with J = %d",
                                p->context_size, c->context_size);
    if (p->seq_dropout >= 0) c->seq_dropout = p->seq_dropout;
    return STRATA_OK;
}

strata_status strata__ctx_run_alloc(run *r, strata_error *err) {
    int J = r->cm->cfg.context_size;
    strata_ctx_bind(&r->cm->cfg, r->grads, &r->cgw);
    r->cids = strata_calloc((size_t)J * (size_t)r->p->max_len, sizeof(int32_t));
    r->clens = strata_calloc((size_t)J, sizeof(int));
    r->cidx = strata_calloc((size_t)J, sizeof(int64_t));
    if (!r->cids || !r->clens || !r->cidx)
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    return strata_ctx_ws_create(&r->cws, &r->cm->cfg, err);
}

void strata__ctx_run_free(run *r) {
    strata_ctx_free(r->cm);
    strata_ctx_ws_free(r->cws);
    strata_free(r->cids);
    strata_free(r->clens);
    strata_free(r->cidx);
}

strata_status strata__ctx_run_batch(run *r, int n, const uint8_t *mask,
                                    strata_infonce_stats *ls, strata_error *err) {
    const strata_train_params *p = r->p;
    int J = r->cm->cfg.context_size, T = p->max_len;
    /* the context: J of the batch's n documents (rows n..2n-1 of r->ids),
     * oversampled in a permutation's order when n < J */
    strata_status st = strata_ctx_sample(n, J, p->seed, (uint64_t)r->step, r->cidx, err);
    if (st) return st;
    for (int k = 0; k < J; k++) {
        int64_t row = n + r->cidx[k];
        memcpy(r->cids + (size_t)k * T, r->ids + (size_t)row * T, sizeof(int32_t) * (size_t)T);
        r->clens[k] = r->lens[row];
    }
    strata_ctx_batch b = {.ids = r->ids, .lengths = r->lens, .N = n, .T = T,
                          .ctx_ids = r->cids, .ctx_lengths = r->clens, .Tc = T, .mask = mask,
                          .seed = p->seed, .step = r->step};
    return strata_ctx_train_batch(r->cws, &r->cm->cfg, &r->cm->w, &b, p->tau, p->symmetric,
                                  p->chunk, &r->cgw, ls, err);
}

/* Pointers and lengths of the n texts of t (caller frees both). */
static int text_ptrs(const strata_texts *t, const char ***p, size_t **len) {
    size_t n = (size_t)(t->n > 0 ? t->n : 1);
    *p = strata_malloc_array(n, sizeof **p);
    *len = strata_malloc_array(n, sizeof **len);
    if (!*p || !*len) return -1;
    for (int64_t i = 0; i < t->n; i++) {
        (*p)[i] = strata_texts_get(t, i);
        (*len)[i] = (size_t)(t->off[i + 1] - t->off[i] - 1);
    }
    return 0;
}

strata_status strata__ctx_run_eval(run *r, double *ndcg, strata_error *err) {
    const strata_beir *b = &r->beir;
    const strata_ctx_model *m = r->cm;
    int C = m->cfg.bert.hidden_size, J = m->cfg.context_size;
    const char **ct = NULL, **qt = NULL;
    size_t *cl = NULL, *ql = NULL;
    float *E = strata_malloc_array((size_t)J * C, sizeof(float));
    float *D = strata_malloc_array((size_t)(b->corpus.n ? b->corpus.n : 1) * C, sizeof(float));
    float *Q = strata_malloc_array((size_t)(b->queries.n ? b->queries.n : 1) * C, sizeof(float));
    strata_status st = STRATA_OK;
    if (!E || !D || !Q || text_ptrs(&b->corpus, &ct, &cl) || text_ptrs(&b->queries, &qt, &ql)) {
        st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    strata_embed_params ep = strata_embed_default_params();
    ep.max_len = r->p->max_len; /* the training length, for speed */
    if ((st = strata_ctx_context_from_texts(m, ct, cl, b->corpus.n, J, r->p->seed, &ep, E, NULL,
                                            err)) ||
        (st = strata_ctx_embed_texts(m, E, J, ct, cl, b->corpus.n, &ep, D, err)) ||
        (st = strata_ctx_embed_texts(m, E, J, qt, ql, b->queries.n, &ep, Q, err)))
        goto done;
    strata_eval_options eo = strata_eval_default_options();
    eo.normalize = 1;
    strata_metrics mean;
    if ((st = strata_eval_embeddings(b, D, Q, C, &eo, &mean, NULL, NULL, err))) goto done;
    *ndcg = mean.ndcg10;
done:
    strata_free(ct);
    strata_free(cl);
    strata_free(qt);
    strata_free(ql);
    strata_free(E);
    strata_free(D);
    strata_free(Q);
    return st;
}
