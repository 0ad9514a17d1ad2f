/*
 * run.c — TREC run files (read and write) and the metrics JSON.
 *
 * A TREC run line is "qid Q0 docid rank score run_name". As in trec_eval,
 * the rank column is ignored: documents are ranked by score, ties by docid
 * descending.
 */
#define _POSIX_C_SOURCE 200809L
#include "strata/eval.h"
#include "strata/io.h"
#include "core/internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct run_line {
    int64_t q, d;
    double s;
    int64_t line;
    const char *did; /* into the corpus ids, resolved after reading */
} run_line;

static int cmp_qd(const void *a, const void *b) {
    const run_line *x = a, *y = b;
    if (x->q != y->q) return x->q < y->q ? -1 : 1;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

/* Query, then trec_eval's order: score descending, docid descending. */
static int cmp_q_trec(const void *a, const void *b) {
    const run_line *x = a, *y = b;
    if (x->q != y->q) return x->q < y->q ? -1 : 1;
    if (x->s > y->s) return -1;
    if (x->s < y->s) return 1;
    return strcmp(y->did, x->did);
}

/* Splits on runs of spaces/tabs; returns the field count (max + 1 when
 * more fields than max). */
static int split_ws(char *s, char **f, int max) {
    int n = 0;
    char *p = s;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        if (n == max) return max + 1;
        f[n++] = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        if (*p) *p++ = '\0';
    }
    return n;
}

strata_status strata_run_read_trec(strata_run *out, strata_beir *b,
                                   const char *path,
                                   strata_run_read_options *opt,
                                   strata_error *err) {
    if (!out || !b || !path)
        return strata_error_set(err, STRATA_EINVAL, "strata_run_read_trec: NULL argument");
    memset(out, 0, sizeof *out);
    strata_run_read_options o;
    memset(&o, 0, sizeof o);
    if (opt) o = *opt;
    o.n_skipped = 0;
    strata_lines *r = NULL;
    strata_status st = strata_lines_open(&r, path, 0, err);
    if (st) return st;
    const char *file = strata__base_name(path);
    run_line *v = NULL;
    int64_t n = 0, cap = 0;
    strata__buf buf = {0};
    const char *line;
    size_t len;
    int rc;
    while ((rc = strata_lines_next(r, &line, &len, err)) == 1) {
        int64_t ln = strata_lines_lineno(r);
        buf.len = 0;
        if (strata__buf_append(&buf, line, len + 1)) {
            st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
            break;
        }
        char *f[8];
        int nf = split_ws(buf.data, f, 6);
        if (nf == 0) continue;
        if (nf < 5 || nf > 6) {
            st = strata_error_set(err, STRATA_EFORMAT,
                                  "%s:%lld: expected 6 columns (qid Q0 docid rank score "
                                  "run_name), found %s%d",
                                  file, (long long)ln, nf > 6 ? "more than " : "",
                                  nf > 6 ? 6 : nf);
            break;
        }
        char *end;
        errno = 0;
        double s = strtod(f[4], &end);
        if (*end || errno == ERANGE || !isfinite(s)) {
            st = strata_error_set(err, STRATA_EFORMAT,
                                  "%s:%lld: field \"score\": \"%s\" is not a finite number", file,
                                  (long long)ln, f[4]);
            break;
        }
        int64_t q = strata_texts_find(&b->queries, f[0]);
        if (q < 0) {
            if (o.unknown_query == STRATA_UNKNOWN_ERROR) {
                st = strata_error_set(err, STRATA_EFORMAT,
                                      "%s:%lld: field \"qid\": unknown query \"%s\" (not in "
                                      "the queries or qrels)",
                                      file, (long long)ln, f[0]);
                break;
            }
            o.n_skipped++;
            continue;
        }
        int64_t d = strata_texts_find(&b->corpus, f[2]);
        if (d < 0) {
            if (o.unknown_doc == STRATA_UNKNOWN_ADD) {
                st = strata_texts_add(&b->corpus, f[2], "", &d, err);
                if (st) break;
            } else if (o.unknown_doc == STRATA_UNKNOWN_SKIP) {
                o.n_skipped++;
                continue;
            } else {
                st = strata_error_set(err, STRATA_EFORMAT,
                                      "%s:%lld: field \"docid\": unknown document \"%s\" (not "
                                      "in the corpus)",
                                      file, (long long)ln, f[2]);
                break;
            }
        }
        if (n == cap) {
            int64_t nc = cap ? cap * 2 : 4096;
            run_line *p = strata_realloc(v, (size_t)nc * sizeof *p);
            if (!p) {
                st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
                break;
            }
            v = p;
            cap = nc;
        }
        v[n].q = q;
        v[n].d = d;
        v[n].s = s;
        v[n].line = ln;
        v[n].did = NULL;
        n++;
    }
    if (rc < 0) st = err ? err->status : STRATA_EIO;
    strata_lines_close(r);
    strata__buf_free(&buf);
    if (!st && n > 1) {
        qsort(v, (size_t)n, sizeof *v, cmp_qd);
        for (int64_t i = 1; i < n; i++) {
            if (v[i].q == v[i - 1].q && v[i].d == v[i - 1].d) {
                st = strata_error_set(err, STRATA_EFORMAT,
                                      "%s:%lld: document \"%s\" listed twice for query \"%s\" "
                                      "(first at line %lld)",
                                      file, (long long)v[i].line,
                                      strata_texts_id(&b->corpus, v[i].d),
                                      strata_texts_id(&b->queries, v[i].q),
                                      (long long)v[i - 1].line);
                break;
            }
        }
    }
    if (!st) {
        /* corpus ids are stable now (no more additions) */
        for (int64_t i = 0; i < n; i++) v[i].did = strata_texts_id(&b->corpus, v[i].d);
        if (n > 1) qsort(v, (size_t)n, sizeof *v, cmp_q_trec);
        out->nq = b->queries.n;
        out->off = strata_calloc((size_t)b->queries.n + 1, sizeof *out->off);
        out->doc = strata_malloc_array((size_t)n + 1, sizeof *out->doc);
        out->score = strata_malloc_array((size_t)n + 1, sizeof *out->score);
        if (!out->off || !out->doc || !out->score) {
            st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
        } else {
            for (int64_t i = 0; i < n; i++) {
                out->doc[i] = v[i].d;
                out->score[i] = v[i].s;
                out->off[v[i].q + 1]++;
            }
            for (int64_t q = 0; q < b->queries.n; q++) out->off[q + 1] += out->off[q];
        }
    }
    strata_free(v);
    if (st) strata_run_free(out);
    if (opt) opt->n_skipped = o.n_skipped;
    return st;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */
/* ------------------------------------------------------------------------ */

/* 1 when s holds a character the TREC reader splits on. */
static int has_space(const char *s) {
    for (; *s; s++)
        if (isspace((unsigned char)*s)) return 1;
    return 0;
}

strata_status strata_run_write_trec(const strata_run *r, const strata_beir *b,
                                    const char *path, const char *name,
                                    strata_error *err) {
    if (!r || !b || !path)
        return strata_error_set(err, STRATA_EINVAL, "strata_run_write_trec: NULL argument");
    if (r->nq != b->queries.n)
        return strata_error_set(err, STRATA_EINVAL, "run has %lld queries, the BEIR set %lld",
                                (long long)r->nq, (long long)b->queries.n);
    if (!name || !*name) name = "strata";
    /* columns are whitespace-separated: an id holding whitespace would make
     * a run no reader (eval included) can read back */
    if (has_space(name))
        return strata_error_set(err, STRATA_EINVAL,
                                "%s: run name \"%s\" contains whitespace; a TREC run cannot "
                                "hold it", path, name);
    for (int64_t q = 0; q < r->nq; q++) {
        if (r->off[q + 1] == r->off[q]) continue;
        const char *qid = strata_texts_id(&b->queries, q);
        if (has_space(qid))
            return strata_error_set(err, STRATA_EFORMAT,
                                    "%s: query id \"%s\" (query %lld) contains whitespace; a TREC "
                                    "run cannot hold it", path, qid, (long long)q);
        for (int64_t j = r->off[q]; j < r->off[q + 1]; j++) {
            const char *did = strata_texts_id(&b->corpus, r->doc[j]);
            if (has_space(did))
                return strata_error_set(err, STRATA_EFORMAT,
                                        "%s: document id \"%s\" (corpus row %lld) contains "
                                        "whitespace; a TREC run cannot hold it", path, did,
                                        (long long)r->doc[j]);
        }
    }
    strata_atomic a;
    strata_status st = strata_atomic_open(&a, path, err);
    if (st) return st;
    for (int64_t q = 0; q < r->nq; q++) {
        const char *qid = strata_texts_id(&b->queries, q);
        for (int64_t j = r->off[q]; j < r->off[q + 1]; j++) {
            if (fprintf(a.fp, "%s Q0 %s %lld %.9g %s\n", qid,
                        strata_texts_id(&b->corpus, r->doc[j]),
                        (long long)(j - r->off[q] + 1), r->score[j], name) < 0) {
                strata_atomic_abort(&a);
                return strata_error_set(err, STRATA_EIO, "%s: write failed", path);
            }
        }
    }
    return strata_atomic_commit(&a, err);
}

/* ------------------------------------------------------------------------ */
/* Metrics JSON                                                              */
/* ------------------------------------------------------------------------ */

static cJSON *metrics_obj(const strata_metrics *m) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    if (!cJSON_AddNumberToObject(o, "ndcg@10", m->ndcg10) ||
        !cJSON_AddNumberToObject(o, "recall@10", m->recall10) ||
        !cJSON_AddNumberToObject(o, "recall@100", m->recall100) ||
        !cJSON_AddNumberToObject(o, "mrr@10", m->mrr10) ||
        !cJSON_AddNumberToObject(o, "map@100", m->map100)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

strata_status strata_metrics_write_json(const char *path, const strata_beir *b,
                                        const strata_metrics *mean,
                                        const strata_metrics *per_query,
                                        strata_error *err) {
    if (!path || !b || !mean)
        return strata_error_set(err, STRATA_EINVAL, "strata_metrics_write_json: NULL argument");
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    cJSON *m = ok ? metrics_obj(mean) : NULL;
    ok = ok && m && cJSON_AddItemToObject(root, "mean", m);
    if (!ok) cJSON_Delete(m);
    if (ok && per_query) {
        cJSON *pq = cJSON_AddObjectToObject(root, "per_query");
        ok = pq != NULL;
        for (int64_t q = 0; ok && q < b->queries.n; q++) {
            if (!per_query[q].n) continue;
            cJSON *o = metrics_obj(&per_query[q]);
            ok = o && cJSON_AddItemToObject(pq, strata_texts_id(&b->queries, q), o);
            if (!ok) cJSON_Delete(o);
        }
    }
    strata_status st;
    if (!ok) st = strata_error_set(err, STRATA_ENOMEM, "out of memory building %s", path);
    else st = strata__json_write(path, root, err);
    cJSON_Delete(root);
    return st;
}
