/*
 * checkpoint.c — a training run's checkpoints: written atomically (a
 * temporary folder renamed), found again (the latest complete one; leftovers
 * of a killed run removed), and read back for an exact resume after the
 * run's options are checked against the ones it was started with.
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
strata_status strata__train_latest_checkpoint(const char *dir, int clean, int64_t *best_out,
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

static int cmp_i64_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

/* Removes every checkpoint-STEP/ folder of dir but the newest keep (by
 * step). Called after a checkpoint is complete, so what is kept includes a
 * complete one; a folder that cannot be listed or removed is left (disk
 * space, not correctness). */
void strata__train_prune_checkpoints(const char *dir, int keep) {
    DIR *d = opendir(dir);
    if (!d) return;
    int64_t *steps = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        long long s;
        char tail;
        if (sscanf(e->d_name, "checkpoint-%lld%c", &s, &tail) != 1) continue;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            int64_t *ns = strata_realloc(steps, nc * sizeof *ns);
            if (!ns) break;
            steps = ns;
            cap = nc;
        }
        steps[n++] = s;
    }
    closedir(d);
    if (n > (size_t)keep) {
        qsort(steps, n, sizeof *steps, cmp_i64_desc);
        char path[4096];
        for (size_t i = (size_t)keep; i < n; i++) {
            snprintf(path, sizeof path, "%s/checkpoint-%" PRId64, dir, steps[i]);
            rm_tree(path);
        }
    }
    strata_free(steps);
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
strata_status strata__train_save_checkpoint(run *r, const char *name, int with_state,
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

strata_status strata__train_load_checkpoint(run *r, int64_t step, strata_error *err) {
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
