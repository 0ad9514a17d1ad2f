/*
 * compare_load.c — see compare_load.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "compare_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/io.h"

/* ------------------------------------------------------------------------ */
/* Specs                                                                     */
/* ------------------------------------------------------------------------ */

/* Base name of path without a known extension, into buf. */
static void default_name(const char *path, char *buf, size_t n) {
    const char *s = strrchr(path, '/');
    s = s ? s + 1 : path;
    snprintf(buf, n, "%s", s);
    static const char *const ext[] = {".trec", ".txt", ".run", ".json", ".tsv"};
    size_t l = strlen(buf);
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t e = strlen(ext[i]);
        if (l > e && strcmp(buf + l - e, ext[i]) == 0) {
            buf[l - e] = '\0';
            break;
        }
    }
}

int cmp_parse_spec(const char *spec, cmp_group *g, char *msg, size_t n) {
    memset(g, 0, sizeof *g);
    g->spec = strdup(spec);
    if (!g->spec) {
        snprintf(msg, n, "out of memory");
        return -1;
    }
    char *s = g->spec, *eq = strchr(s, '=');
    if (eq && memchr(s, '/', (size_t)(eq - s)) == NULL) {
        *eq = '\0';
        g->name = s;
        s = eq + 1;
        if (!g->name[0]) {
            snprintf(msg, n, "'%s': empty run name before '='", spec);
            return -1;
        }
    }
    for (char *p = s;;) {
        char *c = strchr(p, ',');
        if (c) *c = '\0';
        if (!*p) {
            snprintf(msg, n, "'%s': empty path", spec);
            return -1;
        }
        if (g->n == (int)(sizeof g->f / sizeof *g->f)) {
            snprintf(msg, n, "'%s': more than %d seeds in one run", spec,
                     (int)(sizeof g->f / sizeof *g->f));
            return -1;
        }
        g->f[g->n++].path = p;
        if (!c) break;
        p = c + 1;
    }
    if (!g->name) {
        if (g->n > 1) {
            snprintf(msg, n, "'%s': a run of several seeds needs a name: NAME=%s", spec, spec);
            return -1;
        }
        default_name(g->f[0].path, g->name_buf, sizeof g->name_buf);
        g->name = g->name_buf;
    }
    return 0;
}

void cmp_group_free(cmp_group *g) {
    if (!g) return;
    for (int i = 0; i < g->n; i++) {
        strata_free(g->f[i].pq);
        free(g->f[i].has);
    }
    free(g->spec);
    memset(g, 0, sizeof *g);
}

/* 1 when the first non-blank byte of path is '{' (a JSON object). */
static int looks_json(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int c;
    while ((c = fgetc(f)) == ' ' || c == '\t' || c == '\n' || c == '\r') {
    }
    fclose(f);
    return c == '{';
}

int cmp_need_qrels(const cmp_group *g, int n) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < g[i].n; j++)
            if (!g[i].f[j].in_memory && !looks_json(g[i].f[j].path)) return 1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                   */
/* ------------------------------------------------------------------------ */

static strata_status load_trec(strata_beir *b, cmp_file *f, const cmp_options *o,
                               strata_error *err) {
    strata_run_read_options ro;
    memset(&ro, 0, sizeof ro);
    ro.unknown_query = o->skip_unknown ? STRATA_UNKNOWN_SKIP : STRATA_UNKNOWN_ERROR;
    ro.unknown_doc = o->unknown_doc;
    strata_run run;
    strata_status st = strata_run_read_trec(&run, b, f->path, &ro, err);
    if (st) return st;
    f->nq = b->queries.n;
    f->pq = strata_calloc((size_t)f->nq + 1, sizeof *f->pq);
    f->has = calloc((size_t)f->nq + 1, 1);
    if (!f->pq || !f->has) st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
    if (!st) st = strata_eval_metrics(b, &run, o->ignore_identical_ids, NULL, f->pq, err);
    if (st) strata_error_prefix(err, "%s", f->path);
    for (int64_t q = 0; !st && q < f->nq; q++) f->has[q] = run.off[q + 1] > run.off[q];
    strata_run_free(&run);
    return st;
}

static strata_status load_json(strata_beir *b, cmp_file *f, const cmp_options *o,
                               strata_error *err) {
    strata_unknown_ids u = !b->qrels_off ? STRATA_UNKNOWN_ADD
                           : o->skip_unknown ? STRATA_UNKNOWN_SKIP
                                             : STRATA_UNKNOWN_ERROR;
    strata_status st = strata_metrics_read_json(f->path, &b->queries, u, &f->pq, NULL, err);
    if (st) return st;
    f->nq = b->queries.n;
    f->has = calloc((size_t)f->nq + 1, 1);
    if (!f->has) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    for (int64_t q = 0; q < f->nq; q++) f->has[q] = f->pq[q].n != 0;
    return STRATA_OK;
}

/* Grows f's arrays to nq entries (new ones zero: not listed). */
static strata_status pad(cmp_file *f, int64_t nq, strata_error *err) {
    if (f->nq == nq) return STRATA_OK;
    strata_metrics *p = strata_realloc(f->pq, ((size_t)nq + 1) * sizeof *p);
    if (p) f->pq = p;
    unsigned char *h = realloc(f->has, (size_t)nq + 1);
    if (h) f->has = h;
    if (!p || !h) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    memset(f->pq + f->nq, 0, (size_t)(nq - f->nq) * sizeof *p);
    memset(f->has + f->nq, 0, (size_t)(nq - f->nq));
    f->nq = nq;
    return STRATA_OK;
}

/* Line (from 1) of the first line of run file path whose first field is
 * qid, or 0. Only used to point an error at a line. */
static int64_t qid_line(const char *path, const char *qid) {
    strata_lines *r;
    strata_error e;
    if (!path || strata_lines_open(&r, path, 0, &e)) return 0;
    const char *line;
    size_t len, ql = strlen(qid);
    int64_t found = 0;
    while (!found && strata_lines_next(r, &line, &len, &e) == 1) {
        while (*line == ' ' || *line == '\t') line++;
        if (strncmp(line, qid, ql) == 0 && (line[ql] == ' ' || line[ql] == '\t'))
            found = strata_lines_lineno(r);
    }
    strata_lines_close(r);
    return found;
}

/* Where file f has query q: "path:line" (runs) or "path". */
static const char *where(const cmp_file *f, const char *qid, char *buf, size_t n) {
    int64_t l = f->is_json || f->in_memory ? 0 : qid_line(f->path, qid);
    if (l > 0) snprintf(buf, n, "%s:%lld", f->path, (long long)l);
    else snprintf(buf, n, "%s", f->path);
    return buf;
}

/* Query-set checks with qrels (see compare_load.h). */
static strata_status check_with_qrels(const cli_env *env, const strata_beir *b, cmp_group *g,
                                      int n, const cmp_options *o, strata_error *err) {
    char wb[1200];
    int64_t none = 0, nj = 0;
    for (int64_t q = 0; q < b->queries.n; q++) {
        int judged = b->qrels_off[q + 1] > b->qrels_off[q];
        const char *qid = strata_texts_id(&b->queries, q);
        const cmp_file *have = NULL, *lack = NULL;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < g[i].n; j++) {
                const cmp_file *f = &g[i].f[j];
                if (f->is_json && f->has[q] && !judged)
                    return strata_error_set(err, STRATA_EFORMAT,
                                            "%s: query \"%s\" is not judged in the qrels (the "
                                            "metrics were computed with other qrels)",
                                            f->path, qid);
                if (f->is_json && judged && !f->has[q])
                    return strata_error_set(err, STRATA_EFORMAT,
                                            "%s: no entry for query \"%s\", which the qrels "
                                            "judge (the metrics were computed with other qrels)",
                                            f->path, qid);
                if (f->is_json || !judged) continue;
                if (f->has[q] && !have) have = f;
                if (!f->has[q] && !lack) lack = f;
            }
        nj += judged;
        if (judged && !have && lack) none++;
        if (have && lack && !o->allow_missing)
            return strata_error_set(err, STRATA_EFORMAT,
                                    "runs over different query sets: %s has no line for judged "
                                    "query \"%s\", which %s retrieves (--allow-missing scores "
                                    "it 0 in %s instead)",
                                    lack->path, qid, where(have, qid, wb, sizeof wb), lack->path);
    }
    if (nj == 0) return strata_error_set(err, STRATA_EFORMAT, "the qrels judge no query");
    if (none)
        cli_info(env, "note: %lld of %lld judged queries were retrieved by no run; they score 0 "
                 "in every run (trec_eval -c)", (long long)none, (long long)nj);
    return STRATA_OK;
}

/* Without qrels: every file lists the same queries. */
static strata_status check_same_lists(const strata_beir *b, cmp_group *g, int n,
                                      strata_error *err) {
    for (int64_t q = 0; q < b->queries.n; q++) {
        const cmp_file *have = NULL, *lack = NULL;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < g[i].n; j++) {
                const cmp_file *f = &g[i].f[j];
                if (f->has[q] && !have) have = f;
                if (!f->has[q] && !lack) lack = f;
            }
        if (have && lack)
            return strata_error_set(err, STRATA_EFORMAT,
                                    "metrics over different query sets: %s has no entry for "
                                    "query \"%s\", which %s lists",
                                    lack->path, strata_texts_id(&b->queries, q), have->path);
    }
    return STRATA_OK;
}

strata_status cmp_load_all(const cli_env *env, strata_beir *b, cmp_group *g, int n,
                           const cmp_options *o, strata_error *err) {
    strata_status st = STRATA_OK;
    for (int i = 0; i < n && !st; i++)
        for (int j = 0; j < g[i].n && !st; j++) {
            cmp_file *f = &g[i].f[j];
            if (f->in_memory) continue; /* the model strata eval just scored */
            f->is_json = looks_json(f->path);
            if (!f->is_json && !b->qrels_off)
                return strata_error_set(err, STRATA_EINVAL,
                                        "%s is a run file: give --qrels FILE or --beir DIR",
                                        f->path);
            st = f->is_json ? load_json(b, f, o, err) : load_trec(b, f, o, err);
            cli_info(env, "%s: %s (%s)", g[i].name, f->path, f->is_json ? "metrics" : "run");
        }
    for (int i = 0; i < n && !st; i++)
        for (int j = 0; j < g[i].n && !st; j++) st = pad(&g[i].f[j], b->queries.n, err);
    if (st) return st;
    if (b->qrels_off) return check_with_qrels(env, b, g, n, o, err);
    return check_same_lists(b, g, n, err);
}

/* ------------------------------------------------------------------------ */
/* Inputs of strata_compare, and the report                                  */
/* ------------------------------------------------------------------------ */

strata_status cmp_inputs_make(const strata_beir *b, const cmp_group *g, int n, cmp_inputs *in,
                              strata_error *err) {
    memset(in, 0, sizeof *in);
    int total = 0;
    for (int i = 0; i < n; i++) total += g[i].n;
    in->nq = b->queries.n;
    in->groups = calloc((size_t)n, sizeof *in->groups);
    in->seeds = calloc((size_t)total + 1, sizeof *in->seeds);
    in->ids = calloc((size_t)in->nq + 1, sizeof *in->ids);
    if (!in->groups || !in->seeds || !in->ids) {
        cmp_inputs_free(in);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    for (int64_t q = 0; q < in->nq; q++) in->ids[q] = strata_texts_id(&b->queries, q);
    int k = 0;
    for (int i = 0; i < n; i++) {
        in->groups[i].name = g[i].name;
        in->groups[i].n_seeds = g[i].n;
        in->groups[i].seeds = in->seeds + k;
        for (int j = 0; j < g[i].n; j++) in->seeds[k++] = g[i].f[j].pq;
    }
    return STRATA_OK;
}

void cmp_inputs_free(cmp_inputs *in) {
    free(in->groups);
    free(in->seeds);
    free(in->ids);
    memset(in, 0, sizeof *in);
}

int cmp_report(const cli_env *env, const strata_compare_result *r, int show_t, const char *out,
               strata_error *err) {
    if (out && strata_compare_write_json(out, r, err)) return cli_fail(err);
    char *t = strata_compare_table(r, show_t);
    if (!t) {
        strata_error_set(err, STRATA_ENOMEM, "out of memory");
        return cli_fail(err);
    }
    cli_progress_done(env);
    fputs(t, stdout);
    fflush(stdout);
    strata_free(t);
    return CLI_OK;
}

/* ------------------------------------------------------------------------ */
/* strata eval --compare-to                                                  */
/* ------------------------------------------------------------------------ */

int cmp_eval_compare(const cli_env *env, const cli_command *cmd, strata_beir *b,
                     const char *name, const strata_metrics *pq, const strata_run *run,
                     const cli_strings *specs, const cmp_options *o, const char *out) {
    int n = specs->n + 1;
    cmp_group *g = calloc((size_t)n, sizeof *g);
    int *pairs = calloc((size_t)2 * n, sizeof *pairs);
    strata_error err;
    int rc = CLI_OK;
    if (!g || !pairs) {
        strata_error_set(&err, STRATA_ENOMEM, "out of memory");
        rc = cli_fail(&err);
    }
    char msg[600];
    for (int i = 0; !rc && i < specs->n; i++) {
        if (cmp_parse_spec(specs->v[i], &g[i], msg, sizeof msg))
            rc = cli_usage_error(cmd, "--compare-to %s", msg);
        for (int j = 0; !rc && j <= i; j++)
            if (strcmp(g[i].name, j < i ? g[j].name : name) == 0)
                rc = cli_usage_error(cmd,
                                     "--compare-to: two runs are named '%s': name them with "
                                     "NAME=PATH (this run is '%s', see --run-name)",
                                     g[i].name, name);
        pairs[2 * i] = i;
        pairs[2 * i + 1] = n - 1;
    }
    /* the run just scored, as the last group */
    cmp_group *me = g ? &g[n - 1] : NULL;
    if (!rc) {
        char label[300];
        snprintf(label, sizeof label, "the evaluated run '%s'", name);
        me->spec = strdup(label);
        me->name = name;
        me->n = 1;
        me->f[0].path = me->spec ? me->spec : name;
        me->f[0].in_memory = 1;
        me->f[0].nq = b->queries.n;
        me->f[0].pq = strata_malloc_array((size_t)b->queries.n + 1, sizeof *pq);
        me->f[0].has = calloc((size_t)b->queries.n + 1, 1);
        if (!me->f[0].pq || !me->f[0].has) {
            strata_error_set(&err, STRATA_ENOMEM, "out of memory");
            rc = cli_fail(&err);
        }
    }
    if (!rc) {
        memcpy(me->f[0].pq, pq, (size_t)b->queries.n * sizeof *pq);
        for (int64_t q = 0; q < b->queries.n; q++) me->f[0].has[q] = run->off[q + 1] > run->off[q];
        strata_compare_params p = strata_compare_default_params();
        p.seed = env->seed;
        p.progress = env->progress;
        p.pairs = pairs;
        p.n_pairs = n - 1;
        cmp_inputs in;
        memset(&in, 0, sizeof in);
        strata_compare_result r;
        memset(&r, 0, sizeof r);
        strata_status st = cmp_load_all(env, b, g, n, o, &err);
        if (!st) st = cmp_inputs_make(b, g, n, &in, &err);
        if (!st) st = strata_compare(in.groups, n, in.nq, in.ids, &p, &r, &err);
        if (st == STRATA_EINVAL) err.status = st = STRATA_EFORMAT; /* about the data */
        if (!st) printf("\n");
        rc = st ? cli_fail(&err) : cmp_report(env, &r, 0, out, &err);
        strata_compare_result_free(&r);
        cmp_inputs_free(&in);
    }
    for (int i = 0; g && i < n; i++) cmp_group_free(&g[i]);
    free(g);
    free(pairs);
    return rc;
}
