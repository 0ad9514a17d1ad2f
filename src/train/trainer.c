/*
 * trainer.c — the training run behind `strata train`: pairs + plan in,
 * InfoNCE steps with AdamW, log.jsonl, atomic checkpoints, exact resume,
 * optional NDCG@10 evaluation on a BEIR set.
 */
#define _POSIX_C_SOURCE 200809L
#include "train/trainer_internal.h"
#include "strata/eval.h"
#include "strata/io.h"
#include "strata/plan.h"
#include "core/internal.h"

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
/* Small file-system helpers                                                 */
/* ------------------------------------------------------------------------ */

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

/* rm -rf path (no error if absent). */
static void rm_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) == 0) nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void fsync_dir(const char *dir) {
    FILE *f = fopen(dir, "r");
    if (f) {
        fsync(fileno(f));
        fclose(f);
    }
}

/* Latest complete checkpoint step in dir to *best (-1 if none): its
 * manifest says complete (or, for a checkpoint from before manifests,
 * trainer_state.json, written last, exists). Removes the .checkpoint-* and
 * .final.* folders a killed run left (being written, or set aside) when
 * clean is set. Fails only when out of memory: a checkpoint that could not
 * be checked is not taken for an incomplete one. */
static strata_status latest_checkpoint(const char *dir, int clean, int64_t *best_out,
                                       strata_error *err) {
    *best_out = -1;
    DIR *d = opendir(dir);
    if (!d) return STRATA_OK;
    int64_t best = -1;
    strata_status st = STRATA_OK;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        long long s;
        char tail;
        if (clean && (strncmp(e->d_name, ".checkpoint-", 12) == 0 ||
                      strncmp(e->d_name, ".final.", 7) == 0)) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            rm_tree(path);
            continue;
        }
        if (sscanf(e->d_name, "checkpoint-%lld%c", &s, &tail) != 1) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        strata_error ce;
        strata_error_clear(&ce);
        if (strata_dir_check(path, "checkpoint", NULL, &ce) != STRATA_OK) {
            if (ce.status != STRATA_ENOMEM) continue;
            st = strata_error_set(err, STRATA_ENOMEM, "%s", ce.msg);
            break;
        }
        snprintf(path, sizeof path, "%s/%s/trainer_state.json", dir, e->d_name);
        if (access(path, R_OK) == 0 && s > best) best = s;
    }
    closedir(d);
    if (!st) *best_out = best;
    return st;
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
/* Checkpoints                                                               */
/* ------------------------------------------------------------------------ */

static cJSON *args_json(const strata_train_params *p) {
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "pairs", p->pairs_path ? p->pairs_path : "");
    cJSON_AddStringToObject(a, "plan", p->plan_dir ? p->plan_dir : "");
    if (p->init_dir) cJSON_AddStringToObject(a, "init", p->init_dir);
    if (p->config_path) cJSON_AddStringToObject(a, "config", p->config_path);
    cJSON_AddNumberToObject(a, "tau", p->tau);
    cJSON_AddBoolToObject(a, "symmetric", p->symmetric);
    cJSON_AddNumberToObject(a, "max_len", p->max_len);
    cJSON_AddNumberToObject(a, "lr", p->lr);
    cJSON_AddNumberToObject(a, "warmup", (double)p->warmup);
    cJSON_AddNumberToObject(a, "weight_decay", p->weight_decay);
    cJSON_AddNumberToObject(a, "clip", p->clip);
    cJSON_AddNumberToObject(a, "chunk", p->chunk);
    cJSON_AddNumberToObject(a, "steps", (double)p->steps);
    cJSON_AddNumberToObject(a, "save_every", (double)p->save_every);
    cJSON_AddNumberToObject(a, "seed", (double)p->seed);
    cJSON_AddStringToObject(a, "precision", strata_precision_name(p->precision));
    if (p->contextual) {
        cJSON_AddBoolToObject(a, "contextual", 1);
        cJSON_AddNumberToObject(a, "context_size", p->context_size);
        cJSON_AddNumberToObject(a, "seq_dropout", p->seq_dropout);
    }
    return a;
}

/* Writes the model, optimizer state and trainer state into
 * RUN_DIR/.NAME.tmp, then renames it to RUN_DIR/NAME. */
static strata_status save_checkpoint(run *r, const char *name, int with_state,
                                     strata_error *err) {
    const strata_train_params *p = r->p;
    char tmp[4096], fin[4096], path[4200];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", p->out_dir, name);
    snprintf(fin, sizeof fin, "%s/%s", p->out_dir, name);
    rm_tree(tmp);
    strata_status st = r->cm ? strata_ctx_save(r->cm, tmp, err) : strata_bert_save(r->m, tmp, err);
    if (st) goto fail;
    if (with_state) {
        int64_t n = (int64_t)r->n_params, step = r->step;
        strata_tensor t[3];
        memset(t, 0, sizeof t);
        t[0] = (strata_tensor){.name = "exp_avg", .dtype = STRATA_DTYPE_F32, .ndim = 1,
                               .shape = {n}, .count = n, .data = r->adam_m,
                               .nbytes = (size_t)n * sizeof(float)};
        t[1] = (strata_tensor){.name = "exp_avg_sq", .dtype = STRATA_DTYPE_F32, .ndim = 1,
                               .shape = {n}, .count = n, .data = r->adam_v,
                               .nbytes = (size_t)n * sizeof(float)};
        t[2] = (strata_tensor){.name = "step", .dtype = STRATA_DTYPE_I64, .ndim = 1,
                               .shape = {1}, .count = 1, .data = &step,
                               .nbytes = sizeof step};
        snprintf(path, sizeof path, "%s/optimizer.safetensors", tmp);
        if ((st = strata_safetensors_save(path, 3, t, NULL, err))) goto fail;
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "step", (double)r->step);
        cJSON_AddNumberToObject(j, "plan_position", (double)(r->step % r->plan.nb));
        cJSON_AddNumberToObject(j, "n_batches", (double)r->plan.nb);
        cJSON_AddNumberToObject(j, "total_steps", (double)r->total);
        cJSON *rng = cJSON_AddArrayToObject(j, "rng_state");
        for (int i = 0; i < 4; i++) {
            char b[32];
            snprintf(b, sizeof b, "%" PRIu64, r->rng.s[i]);
            cJSON_AddItemToArray(rng, cJSON_CreateString(b));
        }
        cJSON_AddStringToObject(j, "pool", r->pool == STRATA_POOL_CLS ? "cls" : "mean");
        cJSON_AddStringToObject(j, "precision", strata_precision_name(r->prec));
        char fp[32];
        snprintf(fp, sizeof fp, "%016" PRIx64, r->pairs_fp);
        cJSON_AddStringToObject(j, "pairs_fingerprint", fp);
        snprintf(fp, sizeof fp, "%016" PRIx64, r->plan.fingerprint);
        cJSON_AddStringToObject(j, "plan_fingerprint", fp);
        cJSON_AddItemToObject(j, "args", args_json(p));
        snprintf(path, sizeof path, "%s/trainer_state.json", tmp);
        st = strata__json_write(path, j, err);
        cJSON_Delete(j);
        if (st) goto fail;
        /* the model's manifest grows into the checkpoint's */
        static const char *const extra[] = {"optimizer.safetensors", "trainer_state.json"};
        if ((st = strata_dir_commit(tmp, "checkpoint", extra, 2, err))) goto fail;
    }
    fsync_dir(tmp);
    /* an old folder of the same name is set aside, not deleted in place:
     * NAME is always either the old unit or the new one, never half of one */
    char old[4096];
    snprintf(old, sizeof old, "%s/.%s.old", p->out_dir, name);
    rm_tree(old);
    struct stat sb;
    if (lstat(fin, &sb) == 0 && rename(fin, old) != 0) {
        st = strata_error_set(err, STRATA_EIO, "%s: cannot rename to %s: %s", fin, old,
                              strerror(errno));
        goto fail;
    }
    if (rename(tmp, fin) != 0) {
        st = strata_error_set(err, STRATA_EIO, "%s: cannot rename to %s: %s", tmp, fin,
                              strerror(errno));
        goto fail;
    }
    fsync_dir(p->out_dir);
    rm_tree(old);
    return STRATA_OK;
fail:
    rm_tree(tmp);
    return strata_error_prefix(err, "checkpoint %s", fin);
}

/* A fingerprint field of trainer_state.json: 1 and *v when present. */
static int state_fp(const cJSON *j, const char *key, uint64_t *v) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, key);
    char *end = NULL;
    if (!cJSON_IsString(f)) return 0;
    *v = strtoull(f->valuestring, &end, 16);
    return end && !*end;
}

/* --resume continues the run trainer_state.json (at path) describes: the
 * same pairs and plan (by content; by path for a checkpoint from before
 * fingerprints) and every setting that shapes the result. --steps (the new
 * total), --save-every, --chunk and evaluation may change. */
static strata_status check_resume(const run *r, const cJSON *j, const char *path,
                                  strata_error *err) {
    const strata_train_params *p = r->p;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "args");
    if (!cJSON_IsObject(a))
        return strata_error_set(err, STRATA_EFORMAT, "%s: field \"args\" missing", path);
    const char *refuse = "%s: the run was started with %s %s; --resume with %s %s would change "
                         "it (give the same value, or start a new run with another --out)";
    uint64_t fp;
    const cJSON *ap = cJSON_GetObjectItemCaseSensitive(a, "pairs");
    const cJSON *al = cJSON_GetObjectItemCaseSensitive(a, "plan");
    if (state_fp(j, "pairs_fingerprint", &fp)) {
        if (fp != r->pairs_fp)
            return strata_error_set(err, STRATA_EINVAL, refuse, path, "--pairs",
                                    cJSON_IsString(ap) ? ap->valuestring : "?", "--pairs",
                                    p->pairs_path);
    } else if (cJSON_IsString(ap) && strcmp(ap->valuestring, p->pairs_path) != 0) {
        return strata_error_set(err, STRATA_EINVAL, refuse, path, "--pairs", ap->valuestring,
                                "--pairs", p->pairs_path);
    }
    if (state_fp(j, "plan_fingerprint", &fp)) {
        if (fp != r->plan.fingerprint)
            return strata_error_set(err, STRATA_EINVAL, refuse, path, "--plan",
                                    cJSON_IsString(al) ? al->valuestring : "?", "--plan",
                                    p->plan_dir);
    } else if (cJSON_IsString(al) && strcmp(al->valuestring, p->plan_dir) != 0) {
        return strata_error_set(err, STRATA_EINVAL, refuse, path, "--plan", al->valuestring,
                                "--plan", p->plan_dir);
    }
    const struct {
        const char *key, *opt;
        double now;
    } num[] = {{"lr", "--lr", p->lr},
               {"max_len", "--max-len", p->max_len},
               {"seed", "--seed", (double)p->seed},
               {"tau", "--tau", p->tau},
               {"warmup", "--warmup", (double)p->warmup},
               {"weight_decay", "--weight-decay", p->weight_decay},
               {"clip", "--clip", p->clip}};
    for (size_t i = 0; i < sizeof num / sizeof num[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, num[i].key);
        if (!cJSON_IsNumber(v) || v->valuedouble == num[i].now) continue;
        char was[64], now[64];
        snprintf(was, sizeof was, "%.17g", v->valuedouble);
        snprintf(now, sizeof now, "%.17g", num[i].now);
        return strata_error_set(err, STRATA_EINVAL, refuse, path, num[i].opt, was, num[i].opt, now);
    }
    const cJSON *sy = cJSON_GetObjectItemCaseSensitive(a, "symmetric");
    if (cJSON_IsBool(sy) && cJSON_IsTrue(sy) != (p->symmetric != 0))
        return strata_error_set(err, STRATA_EINVAL, "%s: the run was started %s --symmetric; "
                                "--resume %s it would change it", path,
                                cJSON_IsTrue(sy) ? "with" : "without",
                                p->symmetric ? "with" : "without");
    const cJSON *po = cJSON_GetObjectItemCaseSensitive(j, "pool");
    if (p->pool >= 0 && cJSON_IsString(po)) {
        const char *now = p->pool == STRATA_POOL_CLS ? "cls" : "mean";
        if (strcmp(po->valuestring, now) != 0)
            return strata_error_set(err, STRATA_EINVAL, refuse, path, "--pool", po->valuestring,
                                    "--pool", now);
    }
    return STRATA_OK;
}

static strata_status load_checkpoint(run *r, int64_t step, strata_error *err) {
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/checkpoint-%" PRId64, r->p->out_dir, step);
    strata_status st = r->p->contextual ? strata_ctx_load(&r->cm, dir, err)
                                        : strata_bert_load(&r->m, dir, err);
    if (st) return st;
    snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
    strata_safetensors sf;
    if ((st = strata_safetensors_load(&sf, path, err))) return st;
    const strata_tensor *tm = strata_safetensors_find(&sf, "exp_avg");
    const strata_tensor *tv = strata_safetensors_find(&sf, "exp_avg_sq");
    const strata_tensor *ts = strata_safetensors_find(&sf, "step");
    size_t n = r->cm ? r->cm->n_params : r->m->n_params;
    if (!tm || !tv || !ts || tm->dtype != STRATA_DTYPE_F32 || tv->dtype != STRATA_DTYPE_F32 ||
        (size_t)tm->count != n || (size_t)tv->count != n || ts->dtype != STRATA_DTYPE_I64 ||
        ts->count != 1) {
        strata_safetensors_free(&sf);
        return strata_error_set(err, STRATA_EFORMAT,
                                "%s: expected exp_avg, exp_avg_sq (F32 [%zu]) and step (I64 [1])",
                                path, n);
    }
    r->adam_m = strata_malloc_array(n, sizeof(float));
    r->adam_v = strata_malloc_array(n, sizeof(float));
    if (!r->adam_m || !r->adam_v) {
        strata_safetensors_free(&sf);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    memcpy(r->adam_m, tm->data, n * sizeof(float));
    memcpy(r->adam_v, tv->data, n * sizeof(float));
    int64_t s;
    memcpy(&s, ts->data, sizeof s);
    strata_safetensors_free(&sf);
    if (s != step)
        return strata_error_set(err, STRATA_EFORMAT, "%s: step %" PRId64 " but folder says %" PRId64,
                                path, s, step);
    snprintf(path, sizeof path, "%s/trainer_state.json", dir);
    cJSON *j;
    if ((st = strata__json_read(path, &j, err))) return st;
    if ((st = check_resume(r, j, path, err))) {
        cJSON_Delete(j);
        return st;
    }
    cJSON *rng = cJSON_GetObjectItemCaseSensitive(j, "rng_state");
    if (cJSON_IsArray(rng) && cJSON_GetArraySize(rng) == 4)
        for (int i = 0; i < 4; i++) {
            cJSON *e = cJSON_GetArrayItem(rng, i);
            if (cJSON_IsString(e)) r->rng.s[i] = strtoull(e->valuestring, NULL, 10);
        }
    /* a run resumes in the precision it ran in (fp32 before the key existed) */
    const cJSON *pj = cJSON_GetObjectItemCaseSensitive(j, "precision");
    strata_precision was = STRATA_PRECISION_FP32;
    int bad = pj && (!cJSON_IsString(pj) || strata_precision_parse(pj->valuestring, &was, NULL) ||
                     was == STRATA_PRECISION_AUTO);
    cJSON_Delete(j);
    if (bad)
        return strata_error_set(err, STRATA_EFORMAT, "%s: key \"precision\" must be fp32 or bf16", path);
    if (was != r->prec)
        return strata_error_set(err, STRATA_EINVAL,
                                "%s ran in %s; resume it with --precision %s (this run asks %s)",
                                dir, strata_precision_name(was), strata_precision_name(was),
                                strata_precision_name(r->prec));
    r->step = step;
    return STRATA_OK;
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
    strata_status st = strata_tokenizer_encode(r->tok, s, strata_pairs_text_len(&r->pairs, t),
                                               1, r->p->max_len, row, &n, err);
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
    if (p->warmup < -1 || p->steps < 0 || p->save_every < 0 || p->eval_every < 0 || p->chunk < 0)
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

strata_status strata_train_run(const strata_train_params *p, strata_error *err) {
    strata_status st = check_params(p, err);
    if (st) return st;
    run r;
    memset(&r, 0, sizeof r);
    r.p = p;
    strata_rng_seed(&r.rng, p->seed, 0x747261696eULL);
    if ((st = strata_precision_resolve(p->precision, &r.prec, err))) return st;
    if (r.prec == STRATA_PRECISION_INT8)
        return strata_error_set(err, STRATA_EINVAL,
                                "precision int8 is for inference (embed, eval), not training");
    if (p->contextual && r.prec != STRATA_PRECISION_FP32) {
        /* the contextual model's kernels are fp32 only */
        if (p->precision != STRATA_PRECISION_AUTO)
            return strata_error_set(err, STRATA_EINVAL,
                                    "--contextual trains in fp32 only (this run asks %s)",
                                    strata_precision_name(r.prec));
        r.prec = STRATA_PRECISION_FP32;
    }
    if ((st = strata_mkdirs(p->out_dir, err))) return st;

    /* where do we start? */
    int64_t resume_at;
    if ((st = latest_checkpoint(p->out_dir, p->resume, &resume_at, err))) return st;
    if (!p->resume && resume_at >= 0)
        return strata_error_set(err, STRATA_EINVAL,
                                "%s already holds checkpoint-%" PRId64
                                "; pass --resume to continue it or choose a new --out",
                                p->out_dir, resume_at);

    strata_pairs_options po = strata_pairs_default_options();
    po.progress = p->progress;
    if ((st = strata_pairs_load(&r.pairs, p->pairs_path, &po, err))) goto done;
    r.have_pairs = 1;
    r.pairs_fp = strata_pairs_fingerprint(&r.pairs);
    if ((st = plan_open(&r.plan, p->plan_dir, r.pairs.n, r.pairs_fp, p->pairs_path, err)))
        goto done;
    r.have_plan = 1;

    if (resume_at >= 0) {
        if ((st = load_checkpoint(&r, resume_at, err))) goto done;
    } else if (p->contextual) {
        if ((st = strata__ctx_run_model(&r, err))) goto done;
    } else if (p->init_dir) {
        if ((st = strata_bert_load(&r.m, p->init_dir, err))) goto done;
    } else {
        strata_bert_config cfg;
        strata_tokenizer *tok = NULL;
        if ((st = strata_bert_config_load(&cfg, p->config_path, err))) goto done;
        if ((st = strata_tokenizer_load(&tok, p->vocab_path, NULL, err))) goto done;
        if (strata_tokenizer_vocab_size(tok) > cfg.vocab_size) {
            st = strata_error_set(err, STRATA_EFORMAT,
                                  "%s: vocabulary has %d tokens but %s says vocab_size %d",
                                  p->vocab_path, strata_tokenizer_vocab_size(tok),
                                  p->config_path, cfg.vocab_size);
            strata_tokenizer_free(tok);
            goto done;
        }
        if ((st = strata_bert_create(&r.m, &cfg, tok, p->seed, err))) goto done;
    }
    if (r.cm && (st = strata__ctx_run_check(&r, err))) goto done;
    const strata_bert_config *bc = r.cm ? &r.cm->cfg.bert : &r.m->cfg;
    r.tok = r.cm ? r.cm->tok : r.m->tok;
    r.params = r.cm ? r.cm->params : r.m->params;
    r.n_params = r.cm ? r.cm->n_params : r.m->n_params;
    if (!r.tok) {
        st = strata_error_set(err, STRATA_EFORMAT, "the model has no vocabulary (vocab.txt or tokenizer.json)");
        goto done;
    }
    if (p->max_len > bc->max_position) {
        st = strata_error_set(err, STRATA_EINVAL, "--max-len %d exceeds the model's max_position %d",
                              p->max_len, bc->max_position);
        goto done;
    }
    r.pool = p->pool >= 0 ? (strata_pool)p->pool : bc->pool;
    if (r.m) {
        r.m->cfg.pool = r.pool;
        r.m->cfg.normalize = 1; /* trained for cosine similarity */
    }
    r.total = p->steps > 0 ? p->steps : r.plan.nb;
    r.warmup = p->warmup >= 0 ? p->warmup : r.total / 10;
    if (r.warmup > 0 && r.warmup >= r.total) {
        st = strata_error_set(err, STRATA_EINVAL,
                              "--warmup %" PRId64 " is not shorter than the run (%" PRId64
                              " steps): the learning rate would never reach its peak; leave "
                              "--warmup out (a tenth of the steps) or shorten it",
                              r.warmup, r.total);
        goto done;
    }

    size_t n = r.n_params;
    r.grads = strata_calloc(n, sizeof(float));
    if (!r.adam_m) r.adam_m = strata_calloc(n, sizeof(float));
    if (!r.adam_v) r.adam_v = strata_calloc(n, sizeof(float));
    int64_t B = r.plan.B;
    r.ids = strata_calloc((size_t)(2 * B * p->max_len), sizeof(int32_t));
    r.lens = strata_calloc((size_t)(2 * B), sizeof(int));
    r.cmask = strata_calloc((size_t)(B * r.plan.W), 1);
    r.pidx = strata_calloc((size_t)B, sizeof(int64_t));
    r.slot = strata_calloc((size_t)B, sizeof(int64_t));
    if (!r.grads || !r.adam_m || !r.adam_v || !r.ids || !r.lens || !r.cmask || !r.pidx || !r.slot) {
        st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    if (r.cm) {
        if ((st = strata__ctx_run_alloc(&r, err))) goto done;
    } else {
        strata_bert_bind(&r.m->cfg, r.grads, &r.gw);
        if ((st = strata_train_ws_create(&r.ws, &r.m->cfg, err))) goto done;
        if ((st = strata_train_ws_set_precision(r.ws, r.prec, err))) goto done;
    }
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

    char name[64];
    while (r.step < r.total) {
        cJSON *line = cJSON_CreateObject();
        if (!line) {
            st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
            goto done;
        }
        st = train_step(&r, line, err);
        if (!st && r.have_beir && p->eval_every > 0 &&
            (r.step % p->eval_every == 0 || r.step == r.total)) {
            double nd;
            st = evaluate(&r, &nd, err);
            if (!st) cJSON_AddNumberToObject(line, "ndcg@10", nd);
        }
        if (st) {
            cJSON_Delete(line);
            goto done;
        }
        log_line(&r, line);
        cJSON_Delete(line);
        strata_progress_report(&p->progress, "train", r.step, r.total, "steps");
        if ((p->save_every > 0 && r.step % p->save_every == 0) || r.step == r.total) {
            snprintf(name, sizeof name, "checkpoint-%" PRId64, r.step);
            if ((st = save_checkpoint(&r, name, 1, err))) goto done;
        }
    }
    st = save_checkpoint(&r, "final", 0, err);
done:
    run_free(&r);
    return st;
}
