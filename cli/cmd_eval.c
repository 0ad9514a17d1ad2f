/*
 * cmd_eval.c — `strata eval`: exact top-k retrieval over a BEIR set from
 * embeddings, or an existing TREC run, scored with the BEIR metrics.
 *
 *   strata eval --beir DIR [--split test] (--model hash|MODEL_DIR |
 *       --doc-emb C.npy --query-emb Q.npy) [--top-k 100] [--cosine]
 *       [--ignore-identical-ids] [--run-out run.trec] [--out metrics.json]
 *   strata eval --run run.trec (--qrels qrels.tsv | --beir DIR [--split S])
 *       [--out metrics.json]
 */
#define _POSIX_C_SOURCE 200809L
#include "commands.h"
#include "ctx_cli.h"
#include "compare_load.h"
#include "mpi_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata/data.h"
#include "strata/embedder.h"
#include "strata/eval.h"
#include "strata/json.h"
#include "strata/io.h"

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

static const char *o_beir, *o_split = "test", *o_model, *o_cemb, *o_qemb;
static const char *o_run, *o_qrels, *o_run_out, *o_out, *o_run_name = "strata";
static const char *o_format = "json";
static double g_t0; /* when the command started: MTEB's evaluation_time */
/* 1 when --model is a BERT folder whose similarity_fn_name is cosine and
 * whose embeddings are not normalized: scored by cosine as
 * sentence-transformers scores it (normalized ones: cosine = inner product) */
static int g_model_cosine;
static int o_k, o_normalize, o_ignore_ids, o_skip_unknown;
static int o_max_len, o_batch, o_context_size;
static const char *o_context, *o_query_prompt, *o_doc_prompt;
static cli_strings o_compare_to;
static const char *o_compare_out;
static const char *o_precision;
static strata_precision g_prec = STRATA_PRECISION_FP32; /* resolved --precision */
/* under mpirun (mpi_cli.h): rank r holds corpus rows [g_c0, g_c1) */
static cli_mpi g_mpi;
static int64_t g_c0, g_c1;

/* A macro's value as a string literal (for help text). */
#define CLI_STR_(x) #x
#define CLI_XSTR(x) CLI_STR_(x)

static const cli_opt opts[] = {
    {"beir", CLI_STRING, &o_beir, "DIR",
     "BEIR directory: corpus.jsonl, queries.jsonl, qrels/<split>.tsv", 0},
    {"split", CLI_STRING, &o_split, "NAME", "qrels split (default test)", 0},
    {"model", CLI_STRING, &o_model, "hash|DIR",
     "embed the corpus and queries with this model (hash embedder or a BERT model dir)", 0},
    {"doc-emb", CLI_STRING, &o_cemb, "C.npy",
     "precomputed corpus embeddings [corpus rows, D] (float32/float16)", 0},
    {"query-emb", CLI_STRING, &o_qemb, "Q.npy",
     "precomputed query embeddings [query rows, D], rows in queries.jsonl order", 0},
    {"top-k", CLI_INT, &o_k, "N", "documents retrieved per query", CLI_SHOW_DEFAULT},
    {"max-len", CLI_INT, &o_max_len, "N",
     "--model DIR: tokens per text (default: the model's max_seq_length from "
     "sentence_bert_config.json, else " CLI_XSTR(STRATA_EMBED_DEFAULT_MAX_LEN) ")", 0},
    {"query-prompt", CLI_STRING, &o_query_prompt, "TEXT",
     "BERT --model: prepended to every query (default: the folder's \"query\" prompt; "
     "\"\" none)", 0},
    {"doc-prompt", CLI_STRING, &o_doc_prompt, "TEXT",
     "BERT --model: prepended to every document (default: the folder's \"document\", "
     "\"passage\" or \"corpus\" prompt; \"\" none)", 0},
    {"encode-batch", CLI_INT, &o_batch, "N", "--model DIR: texts per forward batch",
     CLI_SHOW_DEFAULT},
    {"precision", CLI_STRING, &o_precision, "MODE", "--model DIR: " CLI_PRECISION_HELP, 0},
    {"context", CLI_STRING, &o_context, "CORPUS|E.npy|null",
     "contextual --model: where the context comes from (default: the BEIR corpus)", 0},
    {"context-size", CLI_INT, &o_context_size, "J",
     "contextual --model: context documents (default: the model's)", 0},
    {"cosine", CLI_FLAG, &o_normalize, NULL,
     "score by cosine (divide by both norms) instead of raw inner product", 0},
    {"ignore-identical-ids", CLI_FLAG, &o_ignore_ids, NULL,
     "drop retrieved documents whose id equals the query id (BEIR: ArguAna, Quora)", 0},
    {"run-out", CLI_STRING, &o_run_out, "PATH", "write the TREC run file here", 0},
    {"run-name", CLI_STRING, &o_run_name, "NAME",
     "run name column of --run-out, and this run's name for --compare-to (default strata; "
     "with --run the file name)", 0},
    {"out", CLI_STRING, &o_out, "PATH", "write metrics JSON (mean and per query) here", 0},
    {"format", CLI_STRING, &o_format, "json|mteb",
     "--out's layout: Strata's (mean and per query) or MTEB's results file (the mean scores "
     "of the split, task named after the BEIR folder)", CLI_SHOW_DEFAULT},
    {"run", CLI_STRING, &o_run, "PATH", "evaluate this TREC run file instead of searching", 0},
    {"qrels", CLI_STRING, &o_qrels, "PATH",
     "qrels file (query-id corpus-id score; overrides DIR/qrels/<split>.tsv)", 0},
    {"skip-unknown", CLI_FLAG, &o_skip_unknown, NULL,
     "skip (and count) qrels/run lines naming unknown ids instead of failing", 0},
    {"compare-to", CLI_STRINGS, &o_compare_to, "[NAME=]RUN",
     "compare with a TREC run or metrics JSON on the same queries (as strata compare)", 0},
    {"compare-out", CLI_STRING, &o_compare_out, "PATH", "write that comparison as JSON here", 0},
    {"corpus-emb", CLI_STRING, &o_cemb, NULL, "doc-emb", CLI_ALIAS},
    {"k", CLI_INT, &o_k, NULL, "top-k", CLI_ALIAS},
    {"batch-size", CLI_INT, &o_batch, NULL, "encode-batch", CLI_ALIAS},
    {"normalize", CLI_FLAG, &o_normalize, NULL, "cosine", CLI_ALIAS},
    {0}};

/* The defaults of retrieval (eval.h) and of the embedder (embedder.h). */
static void defaults(void) {
    o_k = strata_eval_default_options().k;
    strata_embedder_params p = strata_embedder_default_params();
    o_max_len = p.embed.max_len;
    o_batch = p.embed.batch_size;
}

static const char description[] =
    "Exact top-k retrieval by inner product (blocked sgemm + per-query heap) over a BEIR set, "
    "scored with nDCG@10, Recall@10, Recall@100, MRR@10 and MAP@100 exactly as trec_eval / "
    "pytrec_eval compute them (BEIR's numbers). Give embeddings (--doc-emb/--query-emb, "
    "rows in corpus.jsonl/queries.jsonl order; C.ids.txt/Q.ids.txt next to them are checked "
    "when present) or --model; or score an existing run with --run and --qrels (or --beir). "
    "Prints a one-line summary on stdout. A contextual --model (docs/contextual.md) takes "
    "its context from the BEIR corpus (J documents sampled with --seed) unless --context "
    "names another corpus, a stored context.npy or null. Under `mpirun -np P` the corpus is "
    "sharded across ranks and the top-k lists merged, with the same results as one process. "
    "See docs/eval.md.";

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* "X.npy" -> "X.ids.txt" (caller frees), NULL on OOM. */
static char *ids_path(const char *npy) {
    size_t n = strlen(npy);
    size_t base = n >= 4 && strcmp(npy + n - 4, ".npy") == 0 ? n - 4 : n;
    char *p = malloc(base + 9);
    if (!p) return NULL;
    memcpy(p, npy, base);
    memcpy(p + base, ".ids.txt", 9);
    return p;
}

/* When <emb>.ids.txt exists, checks it lists t's ids in order. */
static strata_status check_ids(const char *emb, const strata_texts *t, const char *what,
                               strata_error *err) {
    char *p = ids_path(emb);
    if (!p) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    FILE *f = fopen(p, "rb");
    if (!f) {
        free(p);
        return STRATA_OK;
    }
    fclose(f);
    strata_lines *r;
    strata_status st = strata_lines_open(&r, p, 0, err);
    if (st) {
        free(p);
        return st;
    }
    const char *line;
    size_t len;
    int rc;
    int64_t i = 0;
    while ((rc = strata_lines_next(r, &line, &len, err)) == 1) {
        if (i >= t->n) {
            st = strata_error_set(err, STRATA_EFORMAT, "%s:%lld: more ids than the %lld %s",
                                  p, (long long)strata_lines_lineno(r), (long long)t->n, what);
            break;
        }
        if (strcmp(line, strata_texts_id(t, i)) != 0) {
            st = strata_error_set(err, STRATA_EFORMAT,
                                  "%s:%lld: id \"%s\" but the %s have \"%s\" at row %lld "
                                  "(embeddings not in BEIR order)",
                                  p, (long long)strata_lines_lineno(r), line, what,
                                  strata_texts_id(t, i), (long long)i);
            break;
        }
        i++;
    }
    if (rc < 0) st = err->status;
    if (!st && i != t->n)
        st = strata_error_set(err, STRATA_EFORMAT, "%s: %lld ids, the %s have %lld", p,
                              (long long)i, what, (long long)t->n);
    strata_lines_close(r);
    free(p);
    return st;
}

/* Pointers and lengths of the n texts of t (caller frees both). */
static int text_ptrs(const strata_texts *t, const char ***p, size_t **len) {
    *p = malloc((size_t)(t->n ? t->n : 1) * sizeof **p);
    *len = malloc((size_t)(t->n ? t->n : 1) * sizeof **len);
    if (!*p || !*len) return -1;
    for (int64_t i = 0; i < t->n; i++) {
        (*p)[i] = strata_texts_get(t, i);
        (*len)[i] = (size_t)(t->off[i + 1] - t->off[i] - 1);
    }
    return 0;
}

/* The queries worth embedding: those with judgments (strata_eval_retrieve
 * searches only those), or all when there are no qrels. Compacts qt/ql to
 * them in place, their indices to idx; returns their count. */
static int64_t judged_queries(const strata_beir *b, const char **qt, size_t *ql, int64_t *idx) {
    int64_t n = 0;
    for (int64_t q = 0; q < b->queries.n; q++)
        if (!b->qrels_off || b->qrels_off[q + 1] > b->qrels_off[q]) {
            qt[n] = qt[q];
            ql[n] = ql[q];
            idx[n++] = q;
        }
    return n;
}

/* Rows i < n of Qc to rows idx[i] of Q [queries, D] (the other rows zero:
 * never searched). */
static void spread_rows(float *Q, int64_t queries, const float *Qc, const int64_t *idx,
                        int64_t n, int D) {
    memset(Q, 0, (size_t)queries * (size_t)D * sizeof *Q);
    for (int64_t i = 0; i < n; i++)
        memcpy(Q + (size_t)idx[i] * D, Qc + (size_t)i * D, (size_t)D * sizeof *Q);
}

/* Embeds corpus and queries with --model: "hash" (IDF fitted on the corpus,
 * default hash parameters, as `strata embed --model hash` does for a BEIR
 * folder), a BERT model folder (its pooling/normalization, max 128 tokens)
 * or a contextual one (its context from --context or the BEIR corpus).
 * *C [corpus rows g_c0..g_c1, D] and *Q [queries.n, D] are malloc'd; under
 * MPI the IDF is fitted on the ranks' corpus rows and summed. */
static strata_status embed_with_model(const cli_env *env, const strata_beir *b, float **C,
                                      float **Q, int *D, strata_error *err) {
    const char **ct = NULL, **qt = NULL;
    size_t *cl = NULL, *ql = NULL;
    strata_status st = STRATA_OK;
    strata_embedder *e = NULL;
    cli_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    *C = *Q = NULL;
    /* the queries are embedded compactly (only those searched), then
     * spread to their rows of *Q */
    int64_t *qidx = malloc((size_t)(b->queries.n ? b->queries.n : 1) * sizeof *qidx), nq = 0;
    if (!qidx || text_ptrs(&b->corpus, &ct, &cl) || text_ptrs(&b->queries, &qt, &ql))
        st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
    if (!st) nq = judged_queries(b, qt, ql, qidx);
    strata_embedder_params p = strata_embedder_default_params();
    p.embed.max_len = o_max_len;
    p.embed.batch_size = o_batch;
    p.embed.precision = g_prec;
    if (!st) st = strata_embedder_open(&e, o_model, &p, err);
    const strata_bert *bm = st ? NULL : strata_embedder_bert(e);
    if (bm) {
        const char *sim = strata_bert_similarity(bm);
        if (strcmp(sim, "cosine") != 0 && strcmp(sim, "dot") != 0)
            st = strata_error_set(err, STRATA_EUNSUPPORTED, "%s: similarity_fn_name \"%s\": "
                                  "strata eval ranks by inner product or cosine", o_model, sim);
        g_model_cosine = strcmp(sim, "cosine") == 0 && !bm->cfg.normalize;
    }
    int64_t c0 = g_c0, nc = g_c1 - g_c0; /* this rank's corpus rows */
    if (g_mpi.size > 1 && !(st = cli_mpi_agree(&g_mpi, st, err)) && strata_embedder_needs_fit(e)) {
        st = strata_embedder_fit_shared(e, ct + c0, cl + c0, nc, &env->progress,
                                        cli_mpi_allreduce_i64, NULL, err);
        if (st) cli_mpi_reitem(err, c0);
        /* ESTATE: another rank failed; its own message is the one reported */
        strata_status agreed = cli_mpi_agree(&g_mpi, st == STRATA_ESTATE ? STRATA_OK : st, err);
        st = agreed ? agreed : st;
    } else if (!st && strata_embedder_needs_fit(e)) {
        st = strata_embedder_fit(e, ct, cl, b->corpus.n, &env->progress, err);
    }
    const strata_ctx_model *cm = st ? NULL : strata_embedder_contextual(e);
    if (cm) {
        st = cli_ctx_resolve(env, cm, o_context, o_context_size, b, o_max_len, o_batch, &ctx, err);
        if (!st) st = strata_embedder_set_context(e, ctx.E, ctx.J, err);
        if (!st) cli_info(env, "context: %s (%d slots)", ctx.what, ctx.J);
    }
    if (!st) {
        *D = strata_embedder_dim(e);
        *C = malloc((size_t)(nc ? nc : 1) * *D * sizeof **C);
        *Q = malloc((size_t)(nq ? nq : 1) * *D * sizeof **Q);
        if (!*C || !*Q) st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    const strata_bert *bert = st ? NULL : strata_embedder_bert(e);
    if (bert && (st = strata_embedder_set_prompt(e, o_doc_prompt ? o_doc_prompt
                                                 : strata_bert_doc_prompt(bert), err)))
        strata_error_prefix(err, "--doc-prompt");
    /* in calls of cli_embed_chunk() texts, as a rank's shard is cut */
    if (!st) st = cli_embed_rows(e, ct, cl, c0, c0 + nc, cli_embed_chunk(), &env->progress, *C, err);
    if (!st && bert &&
        (st = strata_embedder_set_prompt(e, o_query_prompt ? o_query_prompt
                                         : strata_bert_query_prompt(bert), err)))
        strata_error_prefix(err, "--query-prompt");
    if (!st) st = cli_embed_rows(e, qt, ql, 0, nq, cli_embed_chunk(), &env->progress, *Q, err);
    if (st && e && strata_embedder_kind_of(e) == STRATA_EMBEDDER_HASH)
        strata_error_prefix(err, "--model hash");
    if (!st) {
        float *full = malloc((size_t)(b->queries.n ? b->queries.n : 1) * *D * sizeof *full);
        if (!full) {
            st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
        } else {
            spread_rows(full, b->queries.n, *Q, qidx, nq, *D);
            free(*Q);
            *Q = full;
        }
    }
    strata_embedder_free(e);
    cli_ctx_free(&ctx);
    free(ct);
    free(cl);
    free(qt);
    free(ql);
    free(qidx);
    if (st) {
        free(*C);
        free(*Q);
        *C = *Q = NULL;
    }
    return st;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The results file MTEB writes for a retrieval task (mteb >= 1.12): the
 * split's mean scores under MTEB's names, main_score = nDCG@10, the task
 * named after the BEIR folder (or the qrels file). */
static strata_status write_mteb(const char *path, const strata_metrics *m, strata_error *err) {
    const char *src = o_beir ? o_beir : o_qrels ? o_qrels : "strata";
    size_t n = strlen(src);
    while (n > 1 && src[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && src[s - 1] != '/') s--;
    char task[256];
    snprintf(task, sizeof task, "%.*s", (int)(n - s), src + s);
    cJSON *j = cJSON_CreateObject(), *sc = cJSON_CreateObject(), *split = cJSON_CreateArray(),
          *row = cJSON_CreateObject(), *lang = cJSON_CreateArray();
    if (!j || !sc || !split || !row || !lang) {
        cJSON_Delete(j), cJSON_Delete(sc), cJSON_Delete(split), cJSON_Delete(row),
            cJSON_Delete(lang);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    cJSON_AddNullToObject(j, "dataset_revision");
    cJSON_AddStringToObject(j, "task_name", task);
    cJSON_AddStringToObject(j, "mteb_version", "1.12.0");
    cJSON_AddNumberToObject(row, "ndcg_at_10", m->ndcg10);
    cJSON_AddNumberToObject(row, "recall_at_10", m->recall10);
    cJSON_AddNumberToObject(row, "recall_at_100", m->recall100);
    cJSON_AddNumberToObject(row, "mrr_at_10", m->mrr10);
    cJSON_AddNumberToObject(row, "map_at_100", m->map100);
    cJSON_AddNumberToObject(row, "main_score", m->ndcg10);
    cJSON_AddStringToObject(row, "hf_subset", "default");
    cJSON_AddItemToArray(lang, cJSON_CreateString("eng-Latn"));
    cJSON_AddItemToObject(row, "languages", lang);
    cJSON_AddItemToArray(split, row);
    cJSON_AddItemToObject(sc, o_split, split);
    cJSON_AddItemToObject(j, "scores", sc);
    cJSON_AddNumberToObject(j, "evaluation_time", now_s() - g_t0);
    cJSON_AddNullToObject(j, "kg_co2_emissions");
    strata_status st = strata_json_write(path, j, err);
    cJSON_Delete(j);
    return st;
}

static void print_summary(const strata_metrics *m) {
    printf("ndcg@10 %.5f  recall@10 %.5f  recall@100 %.5f  mrr@10 %.5f  map@100 %.5f  "
           "queries %lld\n",
           m->ndcg10, m->recall10, m->recall100, m->mrr10, m->map100, (long long)m->n);
    fflush(stdout);
}

/* Writes the metrics JSON (when asked), prints the summary, then the
 * comparison with the --compare-to runs. udoc: how those runs' unknown
 * document ids are treated (as for --run). */
static int finish(const cli_env *env, strata_beir *b, const strata_metrics *mean,
                  const strata_metrics *pq, const strata_run *run, strata_unknown_ids udoc,
                  strata_error *err) {
    if (o_out && (strcmp(o_format, "mteb") == 0 ? write_mteb(o_out, mean, err)
                                                : strata_metrics_write_json(o_out, b, mean, pq, err)))
        return cli_fail(err);
    cli_progress_done(env);
    print_summary(mean);
    if (!o_compare_to.n) return CLI_OK;
    if (!b->qrels_off) return cli_usage_error(&cmd_eval, "--compare-to needs qrels");
    cmp_options co = {o_ignore_ids, o_skip_unknown, udoc, 0};
    /* this run's name: --run-name, or with --run the file's base name */
    char name[256];
    const char *base = o_run ? strrchr(o_run, '/') : NULL;
    snprintf(name, sizeof name, "%s", o_run && strcmp(o_run_name, "strata") == 0
                                          ? (base ? base + 1 : o_run) : o_run_name);
    return cmp_eval_compare(env, &cmd_eval, b, name, pq, run, &o_compare_to, &co,
                            o_compare_out);
}

/* ------------------------------------------------------------------------ */
/* Modes                                                                     */
/* ------------------------------------------------------------------------ */

static int eval_run_file(const cli_env *env) {
    if (g_mpi.rank > 0) return CLI_OK; /* under mpirun: nothing to share, rank 0 scores */
    strata_error err;
    strata_beir b;
    memset(&b, 0, sizeof b);
    strata_beir_options bo = strata_beir_default_options();
    bo.progress = env->progress;
    bo.unknown = o_skip_unknown ? STRATA_UNKNOWN_SKIP : STRATA_UNKNOWN_ERROR;
    strata_run_read_options ro;
    memset(&ro, 0, sizeof ro);
    ro.unknown_query = o_skip_unknown ? STRATA_UNKNOWN_SKIP : STRATA_UNKNOWN_ERROR;
    strata_status st;
    if (o_beir) {
        bo.split = o_qrels ? NULL : o_split;
        st = strata_beir_load_ex(&b, o_beir, &bo, &err);
        if (!st && o_qrels) st = strata_beir_load_qrels(&b, o_qrels, &bo, &err);
        ro.unknown_doc = ro.unknown_query;
    } else {
        bo.unknown = STRATA_UNKNOWN_ADD; /* the qrels define the ids */
        st = strata_beir_load_qrels(&b, o_qrels, &bo, &err);
        ro.unknown_doc = STRATA_UNKNOWN_ADD;
    }
    if (st) {
        strata_beir_free(&b);
        return cli_fail(&err);
    }
    strata_run run;
    st = strata_run_read_trec(&run, &b, o_run, &ro, &err);
    if (st) {
        strata_beir_free(&b);
        return cli_fail(&err);
    }
    if (b.n_skipped_query || b.n_skipped_doc)
        cli_info(env, "qrels: skipped %lld lines with unknown query-id, %lld with unknown corpus-id",
                 (long long)b.n_skipped_query, (long long)b.n_skipped_doc);
    if (ro.n_skipped) cli_info(env, "run: skipped %lld lines with unknown ids", (long long)ro.n_skipped);
    strata_metrics mean, *pq = calloc((size_t)b.queries.n + 1, sizeof *pq);
    int rc;
    if (!pq) {
        strata_error_set(&err, STRATA_ENOMEM, "out of memory");
        rc = cli_fail(&err);
    } else if (strata_eval_metrics(&b, &run, o_ignore_ids, &mean, pq, &err)) {
        rc = cli_fail(&err);
    } else {
        rc = finish(env, &b, &mean, pq, &run, ro.unknown_doc, &err);
    }
    free(pq);
    strata_run_free(&run);
    strata_beir_free(&b);
    return rc;
}

static int eval_embeddings(const cli_env *env) {
    strata_error err;
    strata_beir b;
    strata_beir_options bo = strata_beir_default_options();
    bo.progress = env->progress;
    bo.unknown = o_skip_unknown ? STRATA_UNKNOWN_SKIP : STRATA_UNKNOWN_ERROR;
    bo.split = o_qrels ? NULL : o_split;
    if (strata_beir_load_ex(&b, o_beir, &bo, &err)) return cli_fail(&err);
    if (o_qrels && strata_beir_load_qrels(&b, o_qrels, &bo, &err)) {
        strata_beir_free(&b);
        return cli_fail(&err);
    }
    if (b.n_skipped_query || b.n_skipped_doc)
        cli_info(env, "qrels: skipped %lld lines with unknown query-id, %lld with unknown corpus-id",
                 (long long)b.n_skipped_query, (long long)b.n_skipped_doc);
    cli_info(env, "%s: %lld documents, %lld queries, %lld judgments", o_beir,
             (long long)b.corpus.n, (long long)b.queries.n, (long long)b.n_qrels);

    strata_mat C, Q;
    memset(&C, 0, sizeof C);
    memset(&Q, 0, sizeof Q);
    cli_rows Cr; /* under MPI: this rank's corpus rows of --doc-emb */
    memset(&Cr, 0, sizeof Cr);
    if (o_model && strcmp(o_model, "hash") != 0) /* batches as one process cuts them */
        cli_mpi_range_chunks(&g_mpi, b.corpus.n, cli_embed_chunk(), &g_c0, &g_c1);
    else
        cli_mpi_range(&g_mpi, b.corpus.n, &g_c0, &g_c1);
    strata_status st = STRATA_OK;
    float *mc = NULL, *mq = NULL; /* --model embeddings (owned) */
    if (o_model) {
        int D = 0;
        st = embed_with_model(env, &b, &mc, &mq, &D, &err);
        if (!st) {
            C.data = mc;
            C.rows = b.corpus.n;
            C.cols = D;
            Q.data = mq;
            Q.rows = b.queries.n;
            Q.cols = D;
        }
    } else if (g_mpi.size > 1) {
        st = cli_rows_open(&Cr, o_cemb, g_c0, g_c1, &err);
        C.data = Cr.data;
        C.rows = Cr.rows;
        C.cols = Cr.cols;
        if (!st) st = strata_mat_load(&Q, o_qemb, &err);
    } else {
        st = strata_mat_load(&C, o_cemb, &err);
        if (!st) st = strata_mat_load(&Q, o_qemb, &err);
    }
    if (!st && C.rows != b.corpus.n)
        st = strata_error_set(&err, STRATA_EFORMAT,
                              "%s: %lld rows, but the corpus has %lld documents", o_cemb,
                              (long long)C.rows, (long long)b.corpus.n);
    if (!st && Q.rows != b.queries.n)
        st = strata_error_set(&err, STRATA_EFORMAT, "%s: %lld rows, but there are %lld queries",
                              o_qemb, (long long)Q.rows, (long long)b.queries.n);
    if (!st && C.cols != Q.cols)
        st = strata_error_set(&err, STRATA_EFORMAT,
                              "embedding dims differ: %s has %lld columns, %s has %lld", o_cemb,
                              (long long)C.cols, o_qemb, (long long)Q.cols);
    if (!st && (C.cols < 1 || C.cols > (1 << 24)))
        st = strata_error_set(&err, STRATA_EFORMAT, "%s: unsupported embedding dim %lld", o_cemb,
                              (long long)C.cols);
    if (!st && !o_model) st = check_ids(o_cemb, &b.corpus, "corpus documents", &err);
    if (!st && !o_model) st = check_ids(o_qemb, &b.queries, "queries", &err);
    strata_metrics mean, *pq = NULL;
    memset(&mean, 0, sizeof mean);
    strata_run run;
    memset(&run, 0, sizeof run);
    if (!st) {
        pq = calloc((size_t)b.queries.n + 1, sizeof *pq);
        if (!pq) st = strata_error_set(&err, STRATA_ENOMEM, "out of memory");
    }
    if (!st) {
        strata_eval_options eo = strata_eval_default_options();
        eo.k = o_k;
        eo.normalize = o_normalize || g_model_cosine;
        eo.ignore_identical_ids = o_ignore_ids;
        eo.progress = env->progress;
        if (g_mpi.size > 1) { /* the corpus sharded, the lists merged on rank 0 */
            if (!(st = cli_mpi_agree(&g_mpi, st, &err)))
                st = cli_mpi_retrieve(&g_mpi, &b, C.data, g_c0, g_c1, Q.data, (int)C.cols, &eo,
                                      &run, &err);
        } else {
            st = strata_eval_retrieve(&b, C.data, Q.data, (int)C.cols, &eo, &run, &err);
        }
    } else {
        st = cli_mpi_agree(&g_mpi, st, &err);
    }
    /* rank 0 scores and writes */
    if (!st && b.qrels_off && g_mpi.rank == 0)
        st = strata_eval_metrics(&b, &run, 0, &mean, pq, &err);
    if (!st && o_run_out && g_mpi.rank == 0)
        st = strata_run_write_trec(&run, &b, o_run_out, o_run_name, &err);
    int rc;
    if (st) rc = cli_mpi_fail(&g_mpi, &err);
    else rc = g_mpi.rank > 0 ? CLI_OK : finish(env, &b, &mean, pq, &run, bo.unknown, &err);
    free(pq);
    strata_run_free(&run);
    if (o_model) {
        free(mc);
        free(mq);
    } else {
        if (!Cr.npy.data) strata_mat_free(&C);
        strata_mat_free(&Q);
    }
    cli_rows_close(&Cr);
    strata_beir_free(&b);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Entry                                                                     */
/* ------------------------------------------------------------------------ */

extern const cli_command cmd_eval;

static int run_ranks(const cli_env *env) {
    if (strcmp(o_format, "json") != 0 && strcmp(o_format, "mteb") != 0)
        return cli_usage_error(&cmd_eval, "--format must be json or mteb, not '%s'", o_format);
    static const char *const fmt[] = {"format", NULL};
    int frc = o_out ? CLI_OK : cli_reject(&cmd_eval, fmt, "without --out (it is --out's layout)");
    if (frc) return frc;
    if (o_k < 1) return cli_usage_error(&cmd_eval, "--top-k must be >= 1 (got %d)", o_k);
    if (o_compare_out && !o_compare_to.n)
        return cli_usage_error(&cmd_eval, "--compare-out needs --compare-to");
    if (o_run) {
        if (o_model || o_cemb || o_qemb)
            return cli_usage_error(&cmd_eval,
                                   "--run scores an existing run: do not combine it with "
                                   "--model, --doc-emb or --query-emb");
        if (!o_qrels && !o_beir)
            return cli_usage_error(&cmd_eval, "--run needs --qrels FILE or --beir DIR");
        if (o_run_out) return cli_usage_error(&cmd_eval, "--run-out needs a search (not --run)");
        static const char *const search[] = {"top-k", "cosine", "max-len", "encode-batch",
                                             "precision", "context", "context-size",
                                             "query-prompt", "doc-prompt", NULL};
        int rc = cli_reject(&cmd_eval, search, "to --run (they set the search, which an existing "
                            "run has done)");
        if (rc) return rc;
        return eval_run_file(env);
    }
    if (!o_beir) return cli_usage_error(&cmd_eval, "give --beir DIR (or --run with --qrels)");
    if (o_k < 100)
        cli_info(env, "note: --top-k %d < 100: recall@100 and map@100 see only %d documents", o_k,
                 o_k);
    if (o_model && (o_cemb || o_qemb))
        return cli_usage_error(&cmd_eval, "give either --model or --doc-emb/--query-emb");
    if ((o_context || o_context_size) && (!o_model || !strata_ctx_is_model_dir(o_model)))
        return cli_usage_error(&cmd_eval, "--context and --context-size need a contextual --model");
    if (o_context_size < 0) return cli_usage_error(&cmd_eval, "--context-size must be >= 1");
    if (!o_model && (!o_cemb || !o_qemb))
        return cli_usage_error(&cmd_eval,
                               "give --doc-emb and --query-emb (or --model hash|DIR)");
    static const char *const encoder[] = {"max-len", "encode-batch", "precision", "query-prompt",
                                          "doc-prompt", NULL};
    int rc = !o_model ? cli_reject(&cmd_eval, encoder, "to given embeddings (they set the "
                                   "encoder of --model DIR)")
             : strcmp(o_model, "hash") == 0
                 ? cli_reject(&cmd_eval, encoder, "to --model hash (they set a BERT encoder)")
                 : CLI_OK;
    if (rc) return rc;
    if ((o_query_prompt || o_doc_prompt) && strata_ctx_is_model_dir(o_model))
        return cli_usage_error(&cmd_eval, "--query-prompt and --doc-prompt apply to a BERT "
                               "--model DIR, not a contextual one");
    if (o_max_len != 0 && o_max_len < 2)
        return cli_usage_error(&cmd_eval, "--max-len must be >= 2");
    if (o_precision && strcmp(o_precision, "fp32") != 0 && strcmp(o_precision, "auto") != 0 &&
        strata_ctx_is_model_dir(o_model))
        return cli_usage_error(&cmd_eval, "a contextual --model embeds in fp32 only");
    if (o_model && strcmp(o_model, "hash") != 0 && !strata_ctx_is_model_dir(o_model)) {
        int prc = cli_precision(&cmd_eval, o_precision, &g_prec);
        if (prc != CLI_OK) return prc;
    }
    return eval_embeddings(env);
}

/* Under `mpirun -np P` (mpi_cli.h) a search shards the corpus across
 * ranks; only rank 0 prints and writes. */
static int run(const cli_env *env, int npos, char **pos) {
    (void)npos;
    (void)pos;
    g_t0 = now_s();
    cli_mpi_init(&g_mpi, env);
    return cli_mpi_finalize(&g_mpi, run_ranks(&g_mpi.env));
}

const cli_command cmd_eval = {
    "eval", "retrieval metrics (nDCG@10, Recall, MRR, MAP) on a BEIR set", NULL, description,
    opts, run, defaults, 0};
