/* ctx_cli.c — --context for `strata embed --contextual` and `strata eval`
 * with a contextual model (see ctx_cli.h). */
#include "ctx_cli.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "strata/io.h"

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* A stored context: [J, C] float32/float16 .npy. */
static strata_status load_npy(const strata_ctx_model *m, const char *path, int J_req,
                              cli_ctx *out, strata_error *err) {
    strata_mat e;
    strata_status st = strata_mat_load(&e, path, err);
    if (st) return st;
    int C = m->cfg.bert.hidden_size;
    if (e.cols != C || e.rows < 1 || e.rows > (1 << 20))
        st = strata_error_set(err, STRATA_EFORMAT,
                              "%s: a context must be [J, %d] (the model's width), got [%lld, %lld]",
                              path, C, (long long)e.rows, (long long)e.cols);
    else if (J_req > 0 && J_req != e.rows)
        st = strata_error_set(err, STRATA_EINVAL, "--context-size %d, but %s holds %lld vectors",
                              J_req, path, (long long)e.rows);
    if (!st) {
        out->J = (int)e.rows;
        out->E = strata_malloc_array((size_t)e.rows * C, sizeof(float));
        if (!out->E) st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
        else memcpy(out->E, e.data, sizeof(float) * (size_t)e.rows * C);
        out->what = "stored";
    }
    strata_mat_free(&e);
    return st;
}

/* One line per context slot into *out (strata_free): the sampled
 * document's id from idset, or "pair N" without one. */
static strata_status ids_lines(const strata_texts *idset, const int64_t *idx, int J, char **out,
                               strata_error *err) {
    size_t need = 1;
    char line[32];
    for (int j = 0; j < J; j++)
        need += idset ? strlen(strata_texts_id(idset, idx[j])) + 1
                      : (size_t)snprintf(line, sizeof line, "pair %lld\n", (long long)idx[j]);
    char *s = strata_malloc(need), *p = s;
    if (!s) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    for (int j = 0; j < J; j++)
        p += idset ? sprintf(p, "%s\n", strata_texts_id(idset, idx[j]))
                   : sprintf(p, "pair %lld\n", (long long)idx[j]);
    *p = '\0';
    *out = s;
    return STRATA_OK;
}

/* Samples and embeds the context from n texts; ids from a BEIR set or
 * "pair N". */
static strata_status from_texts(const strata_ctx_model *m, const char *const *t,
                                const size_t *l, int64_t n, const strata_texts *idset,
                                const cli_env *env, int max_len, int batch, cli_ctx *out,
                                const char *src, strata_error *err) {
    int J = out->J, C = m->cfg.bert.hidden_size;
    out->E = strata_malloc_array((size_t)J * C, sizeof(float));
    int64_t *idx = strata_malloc_array((size_t)J, sizeof(int64_t));
    strata_status st = STRATA_OK;
    if (!out->E || !idx) st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_embed_params ep = strata_embed_default_params();
    if (max_len > 0) ep.max_len = max_len;
    if (batch > 0) ep.batch_size = batch;
    ep.progress = env->progress;
    if (!st) st = strata_ctx_context_from_texts(m, t, l, n, J, env->seed, &ep, out->E, idx, err);
    if (st) {
        if (st == STRATA_EFORMAT) strata_error_prefix(err, "%s", src); /* "text K: ..." */
        goto done;
    }
    if ((st = ids_lines(idset, idx, J, &out->ids, err))) goto done;
    out->what = src;
done:
    strata_free(idx);
    return st;
}

static strata_status from_beir(const strata_ctx_model *m, const strata_beir *b,
                               const char *src, const cli_env *env, int max_len, int batch,
                               cli_ctx *out, strata_error *err) {
    const strata_texts *c = &b->corpus;
    size_t n1 = (size_t)(c->n > 0 ? c->n : 1);
    const char **t = strata_malloc_array(n1, sizeof *t);
    size_t *l = strata_malloc_array(n1, sizeof *l);
    strata_status st = STRATA_OK;
    if (!t || !l) st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
    for (int64_t i = 0; !st && i < c->n; i++) {
        t[i] = strata_texts_get(c, i);
        l[i] = strlen(t[i]);
    }
    if (!st && c->n < 1) st = strata_error_set(err, STRATA_EFORMAT, "%s: empty corpus", src);
    if (!st) st = from_texts(m, t, l, c->n, c, env, max_len, batch, out, src, err);
    strata_free(t);
    strata_free(l);
    return st;
}

static strata_status from_pairs(const strata_ctx_model *m, const char *path, const cli_env *env,
                                int max_len, int batch, cli_ctx *out, strata_error *err) {
    strata_pairs pairs;
    strata_status st = strata_pairs_load(&pairs, path, &env->pairs, err);
    if (st) return st;
    size_t n1 = (size_t)(pairs.n > 0 ? pairs.n : 1);
    const char **t = strata_malloc_array(n1, sizeof *t);
    size_t *l = strata_malloc_array(n1, sizeof *l);
    if (!t || !l) st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
    for (int64_t i = 0; !st && i < pairs.n; i++) { /* the positives are the documents */
        t[i] = pairs.arena + pairs.off[2 * i + 1];
        l[i] = strata_pairs_text_len(&pairs, 2 * i + 1);
    }
    if (!st && pairs.n < 1) st = strata_error_set(err, STRATA_EFORMAT, "%s: no pairs", path);
    if (!st) st = from_texts(m, t, l, pairs.n, NULL, env, max_len, batch, out, path, err);
    strata_free(t);
    strata_free(l);
    strata_pairs_free(&pairs);
    return st;
}

strata_status cli_ctx_resolve(const cli_env *env, const strata_ctx_model *m, const char *spec,
                              int J_req, const strata_beir *fallback, int max_len, int batch,
                              cli_ctx *out, strata_error *err) {
    memset(out, 0, sizeof *out);
    out->J = J_req > 0 ? J_req : m->cfg.context_size;
    if (spec && strcmp(spec, "null") == 0) {
        out->what = "null";
        return STRATA_OK;
    }
    if (spec && ends_with(spec, ".npy")) return load_npy(m, spec, J_req, out, err);
    if (!spec) return from_beir(m, fallback, "the BEIR corpus", env, max_len, batch, out, err);
    struct stat sb;
    if (stat(spec, &sb) != 0)
        return strata_error_set(err, STRATA_EIO, "--context %s: no such file or folder", spec);
    if (!S_ISDIR(sb.st_mode)) return from_pairs(m, spec, env, max_len, batch, out, err);
    strata_beir b;
    strata_beir_options bo = strata_beir_default_options();
    bo.split = NULL;
    bo.progress = env->progress;
    strata_status st = strata_beir_load_ex(&b, spec, &bo, err);
    if (st) return st;
    st = from_beir(m, &b, spec, env, max_len, batch, out, err);
    strata_beir_free(&b);
    return st;
}

strata_status cli_ctx_save(const cli_ctx *c, int C, const char *out_path, strata_error *err) {
    if (!c->E || !c->ids) return STRATA_OK;
    const char *slash = strrchr(out_path, '/');
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - out_path) : 1, slash ? out_path : ".");
    char *np = strata_path_join(dir, "context.npy"), *ip = strata_path_join(dir, "context.ids.txt");
    strata_status st = STRATA_OK;
    if (!np || !ip) st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
    int64_t shape[2] = {c->J, C};
    if (!st) st = strata_npy_save(np, STRATA_DTYPE_F32, 2, shape, c->E, err);
    if (!st) st = strata_write_file(ip, c->ids, strlen(c->ids), err);
    if (st && np) remove(np);
    strata_free(np);
    strata_free(ip);
    return st;
}

void cli_ctx_free(cli_ctx *c) {
    strata_free(c->E);
    strata_free(c->ids);
    memset(c, 0, sizeof *c);
}
