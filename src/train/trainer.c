/*
 * trainer.c — the training run behind `strata train`: pairs + plan in,
 * InfoNCE steps with AdamW, log.jsonl, optional NDCG@10 evaluation on a
 * BEIR set. Checkpoints (atomic, exact resume) are in checkpoint.c.
 */
#define _POSIX_C_SOURCE 200809L
#include "train/trainer_internal.h"
#include "strata/eval.h"
#include "strata/io.h"
#include "strata/plan.h"
#include "core/internal.h"
#include "encoder/st_folder.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

strata_train_params strata_train_default_params(void) {
    strata_train_params p;
    memset(&p, 0, sizeof p);
    p.tau = 0.02;
    p.pool = -1;
    p.max_len = 64;
    p.lr = 2e-5;
    p.warmup = -1;
    p.weight_decay = 0.01;
    p.clip = 1.0;
    p.beta1 = 0.9;
    p.beta2 = 0.999;
    p.eps = 1e-8;
    p.seed = 1;
    p.precision = STRATA_PRECISION_AUTO;
    p.seq_dropout = -1;
    return p;
}

/* ------------------------------------------------------------------------ */
/* The plan                                                                  */
/* ------------------------------------------------------------------------ */

/* Opens the plan in dir (read by strata_plan_load, the plan format's one
 * reader) for pairs of n_pairs rows whose fingerprint is pairs_fp (the plan
 * must have been made for them when it says so): every slot must index
 * these pairs, every batch hold one. */
static strata_status plan_open(plan_view *pv, const char *dir, int64_t n_pairs,
                               uint64_t pairs_fp, const char *pairs_path, strata_error *err) {
    memset(pv, 0, sizeof *pv);
    char *bp = strata_path_join(dir, "batches.npy");
    strata_status st = STRATA_OK;
    if (!bp) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    if ((st = strata_plan_check_pairs(dir, pairs_fp, pairs_path, err))) goto done;
    if ((st = strata_plan_load(&pv->plan, dir, err))) goto done;
    pv->nb = pv->plan.n_batches;
    pv->B = pv->plan.batch_size;
    pv->W = strata_plan_mask_width(pv->B);
    pv->has_mask = pv->plan.mask != NULL;
    const int64_t *b = pv->plan.batches;
    for (int64_t i = 0; i < pv->nb; i++) {
        int64_t valid = 0;
        for (int64_t j = 0; j < pv->B; j++) {
            int64_t v = b[i * pv->B + j];
            if (v < -1 || v >= n_pairs) {
                st = strata_error_set(err, STRATA_EFORMAT,
                                      "%s: batch %" PRId64 " slot %" PRId64
                                      ": pair index %" PRId64 " outside 0..%" PRId64,
                                      bp, i, j, v, n_pairs - 1);
                goto done;
            }
            valid += v >= 0;
        }
        if (valid == 0) {
            st = strata_error_set(err, STRATA_EFORMAT, "%s: batch %" PRId64 " is empty", bp, i);
            goto done;
        }
    }
    pv->fingerprint = strata_hash64(pv->plan.batches, (size_t)(pv->nb * pv->B) * sizeof(int64_t),
                                    (uint64_t)pv->B);
    if (pv->has_mask)
        pv->fingerprint = strata_hash64(pv->plan.mask, (size_t)(pv->nb * pv->B * pv->W),
                                        pv->fingerprint);
done:
    if (st) strata_plan_free(&pv->plan);
    strata_free(bp);
    return st;
}

static void plan_close(plan_view *pv) { strata_plan_free(&pv->plan); }

/* ------------------------------------------------------------------------ */
/* Run state                                                                 */
/* ------------------------------------------------------------------------ */

static void run_free(run *r) {
    if (r->have_pairs) strata_pairs_free(&r->pairs);
    if (r->have_plan) plan_close(&r->plan);
    strata_bert_free(r->m);
    strata__ctx_run_free(r);
    strata_free(r->grads);
    strata_free(r->adam_m);
    strata_free(r->adam_v);
    strata_train_ws_free(r->ws);
    strata_free(r->ids);
    strata_free(r->lens);
    strata_free(r->cmask);
    strata_free(r->pidx);
    strata_free(r->slot);
    if (r->have_beir) strata_beir_free(&r->beir);
    if (r->log) fclose(r->log);
}

/* ------------------------------------------------------------------------ */
/* The log                                                                   */
/* ------------------------------------------------------------------------ */

/* Opens RUN_DIR/log.jsonl; keeps only lines with step <= keep (resume: no
 * duplicate steps), or starts empty when keep < 0. */
static strata_status log_open(run *r, int64_t keep, strata_error *err) {
    char *path = strata_path_join(r->p->out_dir, "log.jsonl");
    if (!path) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_status st = STRATA_OK;
    strata__buf kept = {0};
    if (keep >= 0 && access(path, R_OK) == 0) {
        char *text;
        size_t len;
        if ((st = strata_read_file(path, &text, &len, 0, err))) goto done;
        char *line = text;
        while (line < text + len) {
            char *nl = memchr(line, '\n', (size_t)(text + len - line));
            size_t ll = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
            long long s = -1;
            const char *k = strstr(line, "\"step\":");
            if (k && k < line + ll) s = strtoll(k + 7, NULL, 10);
            if (nl && s >= 0 && s <= keep && /* drop a torn last line too */
                strata__buf_append(&kept, line, ll + 1)) {
                st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
                break;
            }
            line += ll + 1;
        }
        strata_free(text);
        if (st) goto done;
    }
    if ((st = strata_write_file(path, kept.data ? kept.data : "", kept.len, err))) goto done;
    r->log = fopen(path, "a");
    if (!r->log) st = strata_error_set(err, STRATA_EIO, "%s: %s", path, strerror(errno));
done:
    strata__buf_free(&kept);
    strata_free(path);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Evaluation                                                                */
/* ------------------------------------------------------------------------ */

static strata_status evaluate(run *r, double *ndcg, strata_error *err) {
    if (r->cm) return strata__ctx_run_eval(r, ndcg, err);
    const strata_texts *ct = &r->beir.corpus, *qt = &r->beir.queries;
    int C = r->m->cfg.hidden_size;
    int64_t nt = ct->n > qt->n ? ct->n : qt->n;
    const char **texts = strata_malloc_array((size_t)nt, sizeof *texts);
    size_t *lens = strata_malloc_array((size_t)nt, sizeof *lens);
    float *E = strata_malloc_array((size_t)ct->n * C, sizeof(float));
    float *Q = strata_malloc_array((size_t)qt->n * C, sizeof(float));
    strata_status st = STRATA_OK;
    if (!texts || !lens || !E || !Q) {
        st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    strata_embed_params ep = strata_embed_default_params();
    ep.max_len = r->p->max_len; /* the training length, for speed */
    ep.precision = r->prec;
    const strata_texts *sets[2] = {ct, qt};
    float *outs[2] = {E, Q};
    for (int s = 0; s < 2; s++) {
        ep.prompt = s ? r->qprompt : r->dprompt;
        for (int64_t i = 0; i < sets[s]->n; i++) {
            texts[i] = sets[s]->arena + sets[s]->off[i];
            lens[i] = (size_t)(sets[s]->off[i + 1] - sets[s]->off[i] - 1);
        }
        if ((st = strata_bert_embed_texts(r->m, texts, lens, sets[s]->n, &ep, outs[s], err)))
            goto done;
    }
    strata_eval_options eo = strata_eval_default_options();
    eo.normalize = 1;
    strata_metrics mean;
    if ((st = strata_eval_embeddings(&r->beir, E, Q, C, &eo, &mean, NULL, NULL, err))) goto done;
    *ndcg = mean.ndcg10;
done:
    strata_free(texts);
    strata_free(lens);
    strata_free(E);
    strata_free(Q);
    return st;
}

/* ------------------------------------------------------------------------ */
/* One step                                                                  */
/* ------------------------------------------------------------------------ */

static strata_status tokenize_text(run *r, int64_t pair, int which, int32_t *row,
                                   int *len, strata_error *err) {
    int64_t t = 2 * pair + which;
    const char *s = r->pairs.arena + r->pairs.off[t];
    int n = 0;
    strata_status st = strata__encode_prompted(r->tok, which ? r->dprompt : r->qprompt, s,
                                               strata_pairs_text_len(&r->pairs, t),
                                               r->p->max_len, row, &n, err);
    if (st)
        return strata_error_prefix(err, "%s: pair %" PRId64 " %s", r->p->pairs_path, pair,
                                   which ? "positive" : "query");
    if (n < 1) n = 1;
    *len = n;
    return STRATA_OK;
}

static strata_status train_step(run *r, cJSON *line, strata_error *err) {
    const strata_train_params *p = r->p;
    int64_t b = r->step % r->plan.nb;
    int64_t B = r->plan.B, W = r->plan.W;
    const int64_t *row = r->plan.plan.batches + b * B;
    int n = 0;
    for (int64_t j = 0; j < B; j++)
        if (row[j] >= 0) {
            r->pidx[n] = row[j];
            r->slot[n] = j;
            n++;
        }
    int nbytes = (n + 7) / 8;
    const uint8_t *mask = NULL;
    if (r->plan.has_mask) {
        const uint8_t *m = r->plan.plan.mask + (size_t)b * B * W;
        memset(r->cmask, 0, (size_t)n * nbytes);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                int64_t si = r->slot[i], sj = r->slot[j];
                if (strata_plan_mask_get(m + si * W, sj))
                    strata_plan_mask_set(r->cmask + (size_t)i * nbytes, j);
            }
        mask = r->cmask;
    }
    int T = p->max_len;
    int64_t tokens = 0;
    strata_status st;
    for (int i = 0; i < n; i++) {
        if ((st = tokenize_text(r, r->pidx[i], 0, r->ids + (size_t)i * T, &r->lens[i], err)))
            return st;
        if ((st = tokenize_text(r, r->pidx[i], 1, r->ids + (size_t)(n + i) * T, &r->lens[n + i],
                                err)))
            return st;
        tokens += r->lens[i] + r->lens[n + i];
    }
    double t0 = strata__now_s();
    memset(r->grads, 0, r->n_params * sizeof(float));
    strata_infonce_stats ls;
    if (r->cm) st = strata__ctx_run_batch(r, n, mask, &ls, err);
    else st = strata_train_batch(r->ws, &r->m->cfg, &r->m->w, r->ids, r->lens, n, T, mask,
                                 p->tau, p->symmetric, r->pool, p->chunk, &r->gw, &ls, err);
    if (st) return st;
    double lr = strata_train_lr(p->lr, r->warmup, r->total, r->step);
    double gn = r->cm ? strata_ctx_optimizer_step(&r->cm->cfg, r->params, r->grads, r->adam_m,
                                                  r->adam_v, lr, p->weight_decay, p->clip,
                                                  p->beta1, p->beta2, p->eps, r->step + 1)
                      : strata_train_optimizer_step(&r->m->cfg, r->params, r->grads, r->adam_m,
                                                    r->adam_v, lr, p->weight_decay, p->clip,
                                                    p->beta1, p->beta2, p->eps, r->step + 1);
    double dt = strata__now_s() - t0;
    r->step++;
    if (!isfinite(ls.loss) || !isfinite(gn))
        return strata_error_set(err, STRATA_ESTATE,
                                "step %" PRId64 ": loss or gradient is not finite (loss %g, "
                                "grad norm %g); lower --lr or raise --tau",
                                r->step, ls.loss, gn);
    cJSON_AddNumberToObject(line, "step", (double)r->step);
    cJSON_AddNumberToObject(line, "loss", ls.loss);
    cJSON_AddNumberToObject(line, "acc", ls.acc);
    cJSON_AddNumberToObject(line, "lr", lr);
    cJSON_AddNumberToObject(line, "grad_norm", gn);
    cJSON_AddNumberToObject(line, "tokens_per_s", dt > 0 ? (double)tokens / dt : 0.0);
    cJSON_AddNumberToObject(line, "masked_frac", ls.masked_frac);
    cJSON_AddNumberToObject(line, "batch", (double)b);
    cJSON_AddNumberToObject(line, "pairs", n);
    return STRATA_OK;
}

static void log_line(run *r, cJSON *line) {
    char *s = cJSON_PrintUnformatted(line);
    if (s) {
        fprintf(r->log, "%s\n", s);
        fflush(r->log);
        cJSON_free(s);
    }
}

/* ------------------------------------------------------------------------ */
/* The run                                                                   */
/* ------------------------------------------------------------------------ */

static strata_status check_params(const strata_train_params *p, strata_error *err) {
    if (!p->pairs_path || !p->plan_dir || !p->out_dir)
        return strata_error_set(err, STRATA_EINVAL, "--pairs, --plan and --out are required");
    if (!p->init_dir && !(p->config_path && p->vocab_path))
        return strata_error_set(err, STRATA_EINVAL, "give --init MODEL_DIR or --config and --vocab");
    if (p->init_dir && p->config_path)
        return strata_error_set(err, STRATA_EINVAL, "--init and --config exclude each other");
    if (!(p->tau > 0) || !isfinite(p->tau))
        return strata_error_set(err, STRATA_EINVAL, "--tau must be > 0 (got %g)", p->tau);
    if (p->max_len < 3 || p->max_len > 8192)
        return strata_error_set(err, STRATA_EINVAL, "--max-len must be in 3..8192 (got %d)",
                                p->max_len);
    if (!(p->lr >= 0) || !isfinite(p->lr))
        return strata_error_set(err, STRATA_EINVAL, "--lr must be >= 0 (got %g)", p->lr);
    if (p->warmup < -1 || p->steps < 0 || p->save_every < 0 || p->eval_every < 0 || p->chunk < 0 ||
        p->keep_checkpoints < 0)
        return strata_error_set(err, STRATA_EINVAL,
                                "--warmup, --steps, --save-every, --eval-every and --chunk must be >= 0");
    if (!(p->weight_decay >= 0) || !isfinite(p->weight_decay) || !isfinite(p->clip))
        return strata_error_set(err, STRATA_EINVAL,
                                "--weight-decay must be >= 0 and --clip finite (got %g, %g)",
                                p->weight_decay, p->clip);
    if (p->steps > 0 && p->warmup > 0 && p->warmup >= p->steps)
        return strata_error_set(err, STRATA_EINVAL,
                                "--warmup %" PRId64 " is not shorter than the run (%" PRId64
                                " steps): the learning rate would never reach its peak; leave "
                                "--warmup out (a tenth of the steps) or shorten it",
                                p->warmup, p->steps);
    if (p->pool > STRATA_POOL_MEAN)
        return strata_error_set(err, STRATA_EINVAL, "bad pooling %d", p->pool);
    if (p->context_size < 0 || !(p->seq_dropout <= 1) || (!p->contextual && (p->context_size ||
                                                                          p->seq_dropout >= 0)))
        return strata_error_set(err, STRATA_EINVAL, "--context-size >= 1 and --seq-dropout in "
                                "[0, 1] apply to --contextual");
    if (p->contextual && p->pool == STRATA_POOL_CLS)
        return strata_error_set(err, STRATA_EINVAL, "the contextual model pools the mean of "
                                "the text positions (--pool cls does not apply)");
    if (p->eval_every > 0 && !p->eval_beir)
        return strata_error_set(err, STRATA_EINVAL, "--eval-every needs --eval-beir");
    return STRATA_OK;
}

/* The precision the run trains in (int8 refused; the contextual model is
 * fp32 only). */
static strata_status resolve_precision(run *r, strata_error *err) {
    const strata_train_params *p = r->p;
    strata_status st = strata_precision_resolve(p->precision, &r->prec, err);
    if (st) return st;
    if (r->prec == STRATA_PRECISION_INT8)
        return strata_error_set(err, STRATA_EINVAL,
                                "precision int8 is for inference (embed, eval), not training");
    if (p->contextual && r->prec != STRATA_PRECISION_FP32) {
        /* the contextual model's kernels are fp32 only */
        if (p->precision != STRATA_PRECISION_AUTO)
            return strata_error_set(err, STRATA_EINVAL,
                                    "--contextual trains in fp32 only (this run asks %s)",
                                    strata_precision_name(r->prec));
        r->prec = STRATA_PRECISION_FP32;
    }
    return STRATA_OK;
}

/* The model the run starts from: checkpoint-<resume_at> (>= 0), the
 * contextual model, --init, or a fresh one from --config and --vocab. */
static strata_status open_model(run *r, int64_t resume_at, strata_error *err) {
    const strata_train_params *p = r->p;
    strata_status st;
    if (resume_at >= 0) return strata__train_load_checkpoint(r, resume_at, err);
    if (p->contextual) return strata__ctx_run_model(r, err);
    if (p->init_dir) return strata_bert_load(&r->m, p->init_dir, err);
    strata_bert_config cfg;
    strata_tokenizer *tok = NULL;
    if ((st = strata_bert_config_load(&cfg, p->config_path, err))) return st;
    if ((st = strata_tokenizer_load(&tok, p->vocab_path, NULL, err))) return st;
    if (strata_tokenizer_vocab_size(tok) > cfg.vocab_size) {
        st = strata_error_set(err, STRATA_EFORMAT,
                              "%s: vocabulary has %d tokens but %s says vocab_size %d",
                              p->vocab_path, strata_tokenizer_vocab_size(tok),
                              p->config_path, cfg.vocab_size);
        strata_tokenizer_free(tok);
        return st;
    }
    return strata_bert_create(&r->m, &cfg, tok, p->seed, err);
}

/* A resumed run (r->step > 0) trained with the checkpoint's prompts: a
 * --query-prompt or --doc-prompt saying otherwise is refused. */
static strata_status check_resumed_prompts(const run *r, strata_error *err) {
    if (r->step <= 0) return STRATA_OK;
    const char *now[2] = {r->p->query_prompt, r->p->doc_prompt};
    const char *was[2] = {strata_bert_query_prompt(r->m), strata_bert_doc_prompt(r->m)};
    const char *opt[2] = {"--query-prompt", "--doc-prompt"};
    for (int i = 0; i < 2; i++)
        if (now[i] && strcmp(now[i], was[i] ? was[i] : "") != 0)
            return strata_error_set(err, STRATA_EINVAL, "%s/checkpoint-%" PRId64 ": the run "
                                    "was trained with %s \"%s\"; --resume with \"%s\" would "
                                    "change it", r->p->out_dir, r->step, opt[i],
                                    was[i] ? was[i] : "", now[i]);
    return STRATA_OK;
}

/* Checks the model against the run's options; sets the pooling, the
 * number of steps and the warm-up. */
static strata_status settle_model(run *r, strata_error *err) {
    const strata_train_params *p = r->p;
    if (r->cm) {
        strata_status st = strata__ctx_run_check(r, err);
        if (st) return st;
    }
    const strata_bert_config *bc = r->cm ? &r->cm->cfg.bert : &r->m->cfg;
    r->tok = r->cm ? r->cm->tok : r->m->tok;
    r->params = r->cm ? r->cm->params : r->m->params;
    r->n_params = r->cm ? r->cm->n_params : r->m->n_params;
    if (!r->tok)
        return strata_error_set(err, STRATA_EFORMAT, "the model has no vocabulary (vocab.txt or tokenizer.json)");
    if (p->max_len > bc->max_position)
        return strata_error_set(err, STRATA_EINVAL, "--max-len %d exceeds the model's max_position %d",
                                p->max_len, bc->max_position);
    r->pool = p->pool >= 0 ? (strata_pool)p->pool : bc->pool;
    if (r->cm && (p->query_prompt || p->doc_prompt))
        return strata_error_set(err, STRATA_EINVAL, "prompts apply to a BERT model, not the "
                                "contextual model");
    if (r->m) {
        r->m->cfg.pool = r->pool;
        r->m->cfg.normalize = 1; /* trained for cosine similarity */
        if (r->m->cfg.max_seq_length == 0) r->m->cfg.max_seq_length = p->max_len;
        strata_status st = check_resumed_prompts(r, err);
        if (st) return st;
        if (p->query_prompt)
            st = strata_bert_set_prompt(r->m, "query", p->query_prompt[0] ? p->query_prompt
                                                                           : NULL, err);
        static const char *const docs[3] = {"document", "passage", "corpus"};
        for (int i = 0; i < 3 && !st && p->doc_prompt; i++) /* "": remove all three */
            st = strata_bert_set_prompt(r->m, docs[i], p->doc_prompt[0] && i == 0
                                                           ? p->doc_prompt : NULL, err);
        if (st) return st;
        r->qprompt = strata_bert_query_prompt(r->m);
        r->dprompt = strata_bert_doc_prompt(r->m);
    }
    r->total = p->steps > 0 ? p->steps : r->plan.nb;
    r->warmup = p->warmup >= 0 ? p->warmup : r->total / 10;
    if (r->warmup > 0 && r->warmup >= r->total)
        return strata_error_set(err, STRATA_EINVAL,
                                "--warmup %" PRId64 " is not shorter than the run (%" PRId64
                                " steps): the learning rate would never reach its peak; leave "
                                "--warmup out (a tenth of the steps) or shorten it",
                                r->warmup, r->total);
    return STRATA_OK;
}

/* Gradients, optimizer moments (unless a checkpoint brought them), the
 * per-batch buffers and the model's workspace. */
static strata_status alloc_buffers(run *r, strata_error *err) {
    const strata_train_params *p = r->p;
    size_t n = r->n_params;
    r->grads = strata_calloc(n, sizeof(float));
    if (!r->adam_m) r->adam_m = strata_calloc(n, sizeof(float));
    if (!r->adam_v) r->adam_v = strata_calloc(n, sizeof(float));
    int64_t B = r->plan.B;
    r->ids = strata_calloc((size_t)(2 * B * p->max_len), sizeof(int32_t));
    r->lens = strata_calloc((size_t)(2 * B), sizeof(int));
    r->cmask = strata_calloc((size_t)(B * r->plan.W), 1);
    r->pidx = strata_calloc((size_t)B, sizeof(int64_t));
    r->slot = strata_calloc((size_t)B, sizeof(int64_t));
    if (!r->grads || !r->adam_m || !r->adam_v || !r->ids || !r->lens || !r->cmask || !r->pidx ||
        !r->slot)
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    if (r->cm) return strata__ctx_run_alloc(r, err);
    strata_bert_bind(&r->m->cfg, r->grads, &r->gw);
    strata_status st = strata_train_ws_create(&r->ws, &r->m->cfg, err);
    if (!st) st = strata_train_ws_set_precision(r->ws, r->prec, err);
    return st;
}

/* The steps from r->step to r->total: log lines, evaluations, checkpoints,
 * then the final model. */
static strata_status train_loop(run *r, strata_error *err) {
    const strata_train_params *p = r->p;
    strata_status st;
    char name[64];
    while (r->step < r->total) {
        cJSON *line = cJSON_CreateObject();
        if (!line) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
        st = train_step(r, line, err);
        if (!st && r->have_beir && p->eval_every > 0 &&
            (r->step % p->eval_every == 0 || r->step == r->total)) {
            double nd;
            st = evaluate(r, &nd, err);
            if (!st) cJSON_AddNumberToObject(line, "ndcg@10", nd);
        }
        if (st) {
            cJSON_Delete(line);
            return st;
        }
        log_line(r, line);
        const cJSON *lv = cJSON_GetObjectItemCaseSensitive(line, "loss");
        if (cJSON_IsNumber(lv)) {
            char note[48];
            snprintf(note, sizeof note, "loss %.4f", lv->valuedouble);
            strata_progress_note(&p->progress, "train", note);
        }
        cJSON_Delete(line);
        strata_progress_report(&p->progress, "train", r->step, r->total, "steps");
        if ((p->save_every > 0 && r->step % p->save_every == 0) || r->step == r->total) {
            snprintf(name, sizeof name, "checkpoint-%" PRId64, r->step);
            if ((st = strata__train_save_checkpoint(r, name, 1, err))) return st;
            if (p->keep_checkpoints > 0)
                strata__train_prune_checkpoints(p->out_dir, p->keep_checkpoints);
        }
    }
    return strata__train_save_checkpoint(r, "final", 0, err);
}

strata_status strata_train_run(const strata_train_params *p, strata_error *err) {
    strata_status st = check_params(p, err);
    if (st) return st;
    run r;
    memset(&r, 0, sizeof r);
    r.p = p;
    strata_rng_seed(&r.rng, p->seed, 0x747261696eULL);
    if ((st = resolve_precision(&r, err))) return st;
    if ((st = strata_mkdirs(p->out_dir, err))) return st;

    /* where do we start? */
    int64_t resume_at;
    if ((st = strata__train_latest_checkpoint(p->out_dir, p->resume, &resume_at, err))) return st;
    if (!p->resume && resume_at >= 0)
        return strata_error_set(err, STRATA_EINVAL,
                                "%s already holds checkpoint-%" PRId64
                                "; pass --resume to continue it or choose a new --out",
                                p->out_dir, resume_at);

    strata_pairs_options po = strata_pairs_default_options();
    po.progress = p->progress;
    if (p->query_field) po.query_field = p->query_field;
    if (p->positive_field) po.positive_field = p->positive_field;
    if (p->source_field) po.source_field = p->source_field;
    if ((st = strata_pairs_load(&r.pairs, p->pairs_path, &po, err))) goto done;
    r.have_pairs = 1;
    r.pairs_fp = strata_pairs_fingerprint(&r.pairs);
    if ((st = plan_open(&r.plan, p->plan_dir, r.pairs.n, r.pairs_fp, p->pairs_path, err)))
        goto done;
    r.have_plan = 1;
    if ((st = open_model(&r, resume_at, err)) || (st = settle_model(&r, err)) ||
        (st = alloc_buffers(&r, err)))
        goto done;
    if (p->eval_beir) {
        if ((st = strata_beir_load(&r.beir, p->eval_beir, "test", p->progress, err))) goto done;
        r.have_beir = 1;
    }
    if ((st = log_open(&r, resume_at, err))) goto done;

    if (r.have_beir && resume_at < 0) { /* the starting point */
        double nd;
        if ((st = evaluate(&r, &nd, err))) goto done;
        cJSON *l = cJSON_CreateObject();
        cJSON_AddNumberToObject(l, "step", 0);
        cJSON_AddNumberToObject(l, "ndcg@10", nd);
        log_line(&r, l);
        cJSON_Delete(l);
    }
    st = train_loop(&r, err);
done:
    run_free(&r);
    return st;
}
