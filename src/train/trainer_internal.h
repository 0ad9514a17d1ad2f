/*
 * trainer_internal.h — the state of one `strata train` run, shared by the
 * run itself (trainer.c), its checkpoints (checkpoint.c) and the contextual
 * model's part of it (ctx_run.c).
 */
#ifndef STRATA_TRAINER_INTERNAL_H
#define STRATA_TRAINER_INTERNAL_H

#include <stdio.h>

#include "strata/contextual.h"
#include "strata/data.h"
#include "strata/io.h"
#include "strata/plan.h"
#include "strata/train.h"

/* The plan of a run, read by strata_plan_load and checked against the
 * run's pairs. */
typedef struct plan_view {
    strata_plan plan;       /* batches [nb, B], mask [nb, B, W] or NULL */
    int has_mask;
    int64_t nb, B, W;
    uint64_t fingerprint;   /* of the batches and the mask (resume check) */
} plan_view;

typedef struct run {
    const strata_train_params *p;
    strata_pairs pairs;
    int have_pairs;
    uint64_t pairs_fp;               /* strata_pairs_fingerprint(&pairs)    */
    plan_view plan;
    int have_plan;
    strata_bert *m;                  /* the biencoder, or NULL              */
    strata_ctx_model *cm;            /* the contextual model, or NULL       */
    float *params;                   /* the model's parameter block         */
    size_t n_params;
    strata_tokenizer *tok;           /* the model's                         */
    const char *qprompt, *dprompt;   /* prepended to queries / positives
                                        (the model's, borrowed), or NULL    */
    float *grads, *adam_m, *adam_v;  /* [n_params] each */
    strata_bert_weights gw;
    strata_ctx_weights cgw;          /* contextual: grads as typed tensors  */
    strata_train_ws *ws;
    strata_ctx_ws *cws;
    strata_precision prec;           /* resolved precision of the run (FP32
                                        / BF16; the contextual model: FP32) */
    int32_t *cids;                   /* contextual: [J, max_len] context ids */
    int *clens;                      /* [J]                                 */
    int64_t *cidx;                   /* [J] context rows in the batch       */
    strata_rng rng;                  /* unused by training (no dropout); kept
                                        in the checkpoint for extensions */
    int64_t step;                    /* completed steps */
    int64_t total;
    int64_t warmup;                  /* resolved: p->warmup, or total / 10 */
    strata_pool pool;
    /* per-batch buffers */
    int32_t *ids;                    /* [2B, max_len] */
    int *lens;                       /* [2B] */
    uint8_t *cmask;                  /* [B, W] compacted mask */
    int64_t *pidx;                   /* [B] valid pair indices */
    int64_t *slot;                   /* [B] their slots in the plan batch */
    strata_beir beir;
    int have_beir;
    FILE *log;
} run;

/* Checkpoints (checkpoint.c). */

/* The step of the latest complete checkpoint-N in dir into *best_out (-1:
 * none); with clean, removes the leftovers of a killed run. Fails only when
 * out of memory. */
strata_status strata__train_latest_checkpoint(const char *dir, int clean, int64_t *best_out,
                                              strata_error *err);
/* Removes every checkpoint-STEP/ of dir but the newest keep. */
void strata__train_prune_checkpoints(const char *dir, int keep);
/* Writes the model, optimizer state and (with_state) trainer state into
 * RUN_DIR/.NAME.tmp, then renames it to RUN_DIR/NAME. */
strata_status strata__train_save_checkpoint(run *r, const char *name, int with_state,
                                            strata_error *err);
/* Reads checkpoint-<step> of the run's folder back into r after checking
 * the run's options against its trainer_state.json. */
strata_status strata__train_load_checkpoint(run *r, int64_t step, strata_error *err);

/* The contextual model's part of the run (ctx_run.c). */

/* Creates r->cm for a run that does not resume: from p->init_dir (a
 * contextual folder, or a BERT folder copied into both stages) or from
 * p->config_path + p->vocab_path; J from p->context_size (0: the plan's
 * batch size), p from p->seq_dropout (< 0: 0.005, the paper's). */
strata_status strata__ctx_run_model(run *r, strata_error *err);
/* Checks a loaded model against the run's options (resume, init). */
strata_status strata__ctx_run_check(run *r, strata_error *err);
/* Allocates the contextual buffers once r->cm exists. */
strata_status strata__ctx_run_alloc(run *r, strata_error *err);
/* Loss and gradients (into r->grads) of the n pairs tokenized in r->ids /
 * r->lens, with J of the batch's own documents as the context. */
strata_status strata__ctx_run_batch(run *r, int n, const uint8_t *mask,
                                    strata_infonce_stats *ls, strata_error *err);
/* NDCG@10 on r->beir with J documents of its corpus as the context. */
strata_status strata__ctx_run_eval(run *r, double *ndcg, strata_error *err);
void strata__ctx_run_free(run *r);

#endif
