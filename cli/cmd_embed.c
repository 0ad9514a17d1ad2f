/* cmd_embed.c — `strata embed`: embed pairs or BEIR texts with a BERT model
 * folder or the built-in hashed TF-IDF embedder, into an .npy [N, D]; under
 * `mpirun -np P` each rank embeds its own rows of the one output
 * (mpi_cli.h). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "ctx_cli.h"
#include "mpi_cli.h"
#include "strata/data.h"
#include "strata/embedder.h"
#include "strata/io.h"

static const char *o_model = NULL;
static const char *o_input = NULL;
static const char *o_field = NULL;
static const char *o_out = NULL;
static int o_dim;
static int o_bigrams = 0;
static int o_nnz;
static const char *o_idf = NULL;
static const char *o_idf_out = NULL;
static int o_max_len;
static const char *o_pool = NULL;
static int o_normalize = 0;
static int o_no_normalize = 0;
static int o_batch;
static int o_fp16 = 0;
static const char *o_precision = NULL;
static const char *o_contextual = NULL;
static const char *o_prompt = NULL;
static const char *o_prompt_name = NULL;
static const char *o_query_prompt = NULL, *o_doc_prompt = NULL;
static const char *o_context = NULL;
static int o_context_size = 0;

/* A macro's value as a string literal (for help text). */
#define CLI_STR_(x) #x
#define CLI_XSTR(x) CLI_STR_(x)

static const cli_opt opts[] = {
    {"model", CLI_STRING, &o_model, "hash|DIR",
     "\"hash\" (built-in hashed TF-IDF) or a BERT model folder (or --contextual)", 0},
    {"input", CLI_STRING, &o_input, "PATH",
     "pairs file (JSONL/TSV, .gz/.zst) or BEIR folder", CLI_REQUIRED},
    {"field", CLI_STRING, &o_field, "NAME",
     "query|positive (pairs) or corpus|queries (BEIR); default query / corpus", 0},
    {"out", CLI_STRING, &o_out, "X.npy",
     "output matrix [N, D] (BEIR input also writes X.ids.txt)", CLI_REQUIRED},
    {"dim", CLI_INT, &o_dim, "D", "hash: output dims", CLI_SHOW_DEFAULT},
    {"bigrams", CLI_FLAG, &o_bigrams, NULL, "hash: also hash word bigrams", 0},
    {"nnz", CLI_INT, &o_nnz, "S", "hash: output dims per bucket", CLI_SHOW_DEFAULT},
    {"idf", CLI_STRING, &o_idf, "PATH",
     "hash: reuse this IDF table instead of fitting one", 0},
    {"idf-out", CLI_STRING, &o_idf_out, "PATH", "hash: save the fitted IDF table", 0},
    {"max-len", CLI_INT, &o_max_len, "N",
     "BERT: max tokens per text incl. [CLS]/[SEP] (default: the model's max_seq_length "
     "from sentence_bert_config.json, else " CLI_XSTR(STRATA_EMBED_DEFAULT_MAX_LEN) ")", 0},
    {"prompt", CLI_STRING, &o_prompt, "TEXT",
     "BERT: prepended to every text before tokenization, e.g. \"query: \" (\"\" none)", 0},
    {"query-prompt", CLI_STRING, &o_query_prompt, "TEXT",
     "BERT: the prompt of queries (--field query or queries), as eval and train take it", 0},
    {"doc-prompt", CLI_STRING, &o_doc_prompt, "TEXT",
     "BERT: the prompt of documents (--field positive or corpus), as eval and train take it", 0},
    {"prompt-name", CLI_STRING, &o_prompt_name, "NAME",
     "BERT: the folder's prompt of this name (config_sentence_transformers.json); default: "
     "its default_prompt_name, else none", 0},
    {"pool", CLI_STRING, &o_pool, "cls|mean",
     "BERT: pooling (default: the model's 1_Pooling/config.json, else mean)", 0},
    {"normalize", CLI_FLAG, &o_normalize, NULL, "BERT: L2-normalize (default: per modules.json)", 0},
    {"no-normalize", CLI_FLAG, &o_no_normalize, NULL, "BERT: do not L2-normalize", 0},
    {"encode-batch", CLI_INT, &o_batch, "N", "BERT: texts per forward batch", CLI_SHOW_DEFAULT},
    {"fp16", CLI_FLAG, &o_fp16, NULL, "write float16 instead of float32", 0},
    {"precision", CLI_STRING, &o_precision, "MODE", "BERT: " CLI_PRECISION_HELP, 0},
    {"contextual", CLI_STRING, &o_contextual, "DIR",
     "a contextual model folder (instead of --model; with --context)", 0},
    {"context", CLI_STRING, &o_context, "CORPUS|E.npy|null",
     "contextual: BEIR folder or pairs file to sample J documents from (writes "
     "context.npy + context.ids.txt beside --out), a stored context.npy, or null", 0},
    {"context-size", CLI_INT, &o_context_size, "J",
     "contextual: context documents (default: the model's)", 0},
    {"batch-size", CLI_INT, &o_batch, NULL, "encode-batch", CLI_ALIAS},
    {0},
};

/* The defaults of the embedder's parameters (embed.h, encoder.h). */
static void defaults(void) {
    strata_embedder_params p = strata_embedder_default_params();
    o_dim = p.hash.dim;
    o_nnz = p.hash.nnz;
    o_max_len = p.embed.max_len;
    o_batch = p.embed.batch_size;
}

/* ------------------------------------------------------------------------ */
/* Texts to embed                                                            */
/* ------------------------------------------------------------------------ */

typedef struct text_set {
    int64_t n;
    const char **t;   /* [n] */
    size_t *len;      /* [n] */
    const strata_texts *ids; /* BEIR: ids to write, else NULL */
    /* texts the hash IDF is fitted on (pairs: queries + positives; BEIR: corpus) */
    int64_t fit_n;
    const char **fit_t;
    size_t *fit_len;
} text_set;

static void text_set_free(text_set *s) {
    strata_free(s->t);
    strata_free(s->len);
    if (s->fit_t != s->t) {
        strata_free(s->fit_t);
        strata_free(s->fit_len);
    }
}

static int fill_texts(const strata_texts *tx, const char ***t, size_t **len) {
    *t = strata_malloc_array((size_t)(tx->n > 0 ? tx->n : 1), sizeof(char *));
    *len = strata_malloc_array((size_t)(tx->n > 0 ? tx->n : 1), sizeof(size_t));
    if (!*t || !*len) return -1;
    for (int64_t i = 0; i < tx->n; i++) {
        (*t)[i] = strata_texts_get(tx, i);
        (*len)[i] = strlen((*t)[i]);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Progress over chunks                                                      */
/* ------------------------------------------------------------------------ */

typedef struct chunk_progress {
    const strata_progress *outer;
    int64_t offset, total;
} chunk_progress;

static void chunk_cb(void *ud, const char *stage, int64_t done, int64_t total,
                     const char *unit) {
    (void)total;
    chunk_progress *c = ud;
    if (strcmp(stage, "embed") != 0) return;
    strata_progress_report(c->outer, "embed", c->offset + done, c->total, unit);
}

static char *ids_path(const char *out) {
    size_t n = strlen(out);
    if (n > 4 && strcmp(out + n - 4, ".npy") == 0) n -= 4;
    char *p = strata_malloc(n + 9);
    if (!p) return NULL;
    memcpy(p, out, n);
    memcpy(p + n, ".ids.txt", 9);
    return p;
}

/* ------------------------------------------------------------------------ */
/* Run                                                                       */
/* ------------------------------------------------------------------------ */

/* Option combinations and ranges; 0 or the usage exit code. */
static int check_options(void) {
    if (!o_model == !o_contextual)
        return cli_usage_error(&cmd_embed, "give --model hash|DIR or --contextual DIR");
    if (o_contextual && !o_context)
        return cli_usage_error(&cmd_embed, "--contextual needs --context CORPUS|E.npy|null");
    if (!o_contextual && (o_context || o_context_size))
        return cli_usage_error(&cmd_embed, "--context and --context-size apply to --contextual");
    if (o_contextual && (o_pool || o_normalize || o_no_normalize))
        return cli_usage_error(&cmd_embed, "--contextual embeddings are the model's (mean of "
                               "the text positions, head, L2-normalized): no --pool/--normalize");
    if (o_context_size < 0) return cli_usage_error(&cmd_embed, "--context-size must be >= 1");
    int is_hash = o_model && strcmp(o_model, "hash") == 0;
    if (o_dim < 1 || o_dim > 65536) return cli_usage_error(&cmd_embed, "--dim must be in [1, 65536]");
    if (o_nnz < 1 || o_nnz > 64) return cli_usage_error(&cmd_embed, "--nnz must be in [1, 64]");
    if (o_max_len != 0 && o_max_len < 2)
        return cli_usage_error(&cmd_embed, "--max-len must be >= 2");
    if (!!o_prompt + !!o_prompt_name + !!o_query_prompt + !!o_doc_prompt > 1)
        return cli_usage_error(&cmd_embed, "give one of --prompt, --prompt-name, --query-prompt "
                               "and --doc-prompt");
    if (o_batch < 1) return cli_usage_error(&cmd_embed, "--encode-batch must be >= 1");
    if (o_normalize && o_no_normalize)
        return cli_usage_error(&cmd_embed, "--normalize and --no-normalize exclude each other");
    if (o_pool && strcmp(o_pool, "cls") != 0 && strcmp(o_pool, "mean") != 0)
        return cli_usage_error(&cmd_embed, "--pool must be cls or mean");
    if (o_idf && o_idf_out)
        return cli_usage_error(&cmd_embed, "--idf and --idf-out exclude each other");
    static const char *const hash_only[] = {"dim", "nnz", "bigrams", "idf", "idf-out", NULL};
    static const char *const bert_only[] = {"max-len", "pool", "normalize", "no-normalize",
                                            "encode-batch", "precision", "prompt",
                                            "prompt-name", "query-prompt", "doc-prompt", NULL};
    static const char *const not_ctx[] = {"pool", "normalize", "no-normalize", "precision",
                                          "prompt", "prompt-name", "query-prompt",
                                          "doc-prompt", NULL};
    int rc = is_hash ? cli_reject(&cmd_embed, bert_only,
                                  "to --model hash (they set the BERT encoder)")
                     : cli_reject(&cmd_embed, hash_only,
                                  "to a BERT or contextual model (they set the hash embedder)");
    if (!rc && o_contextual)
        rc = cli_reject(&cmd_embed, not_ctx, "to --contextual (it embeds in fp32, mean-pooled "
                        "and L2-normalized)");
    return rc;
}

/* Opens the embedder (a bad model fails before reading big inputs) and,
 * for a contextual model, resolves its context. */
static strata_status open_embedder(const cli_env *env, strata_precision prec,
                                   strata_embedder **e, cli_ctx *ctx, strata_error *err) {
    const char *model = o_contextual ? o_contextual : o_model;
    strata_embedder_params p = strata_embedder_default_params();
    p.hash.dim = o_dim;
    p.hash.bigrams = o_bigrams;
    p.hash.nnz = o_nnz;
    p.hash.seed = env->seed;
    p.idf = o_idf;
    p.embed.max_len = o_max_len;
    p.embed.batch_size = o_batch;
    p.embed.precision = prec;
    p.embed.prompt = o_prompt;
    p.prompt_name = o_prompt_name;
    if (o_pool) p.pool = strcmp(o_pool, "cls") == 0 ? STRATA_POOL_CLS : STRATA_POOL_MEAN;
    if (o_normalize || o_no_normalize) p.normalize = o_normalize;
    if (!o_contextual && strcmp(model, "hash") != 0 && strata_ctx_is_model_dir(model))
        return strata_error_set(err, STRATA_EINVAL, "%s is a contextual model: use "
                                "--contextual %s --context CORPUS", model, model);
    if (o_contextual && !strata_ctx_is_model_dir(model)) { /* strata_ctx_load says why */
        strata_ctx_model *m = NULL;
        strata_status st = strata_ctx_load(&m, model, err);
        strata_ctx_free(m);
        if (st) return st;
    }
    strata_status st = strata_embedder_open(e, model, &p, err);
    const strata_ctx_model *cm = st ? NULL : strata_embedder_contextual(*e);
    if (cm) {
        st = cli_ctx_resolve(env, cm, o_context, o_context_size, NULL, o_max_len, o_batch, ctx,
                             err);
        if (!st) st = strata_embedder_set_context(*e, ctx->E, ctx->J, err);
        if (!st) cli_info(env, "context: %s (%d slots)", ctx->what, ctx->J);
    }
    return st;
}

/* Reads the texts to embed (and those the hash IDF is fitted on). */
static strata_status load_inputs(const cli_env *env, int is_beir, int is_hash, const char *field,
                                 strata_beir *beir, int *have_beir, strata_pairs *pairs,
                                 int *have_pairs, text_set *ts, strata_error *err) {
    if (is_beir) {
        if (strata_beir_load(beir, o_input, NULL, env->progress, err)) return err->status;
        *have_beir = 1;
        const strata_texts *tx = strcmp(field, "corpus") == 0 ? &beir->corpus : &beir->queries;
        if (fill_texts(tx, &ts->t, &ts->len))
            return strata_error_set(err, STRATA_ENOMEM, "out of memory");
        ts->n = tx->n;
        ts->ids = tx;
        if (tx == &beir->corpus) {
            ts->fit_t = ts->t;
            ts->fit_len = ts->len;
            ts->fit_n = ts->n;
        } else if (is_hash && !o_idf) {
            if (fill_texts(&beir->corpus, &ts->fit_t, &ts->fit_len))
                return strata_error_set(err, STRATA_ENOMEM, "out of memory");
            ts->fit_n = beir->corpus.n;
        }
    } else {
        if (strata_pairs_load(pairs, o_input, &env->pairs, err)) return err->status;
        *have_pairs = 1;
        int which = strcmp(field, "positive") == 0;
        size_t n1 = (size_t)(pairs->n > 0 ? pairs->n : 1);
        ts->t = strata_malloc_array(n1, sizeof(char *));
        ts->len = strata_malloc_array(n1, sizeof(size_t));
        ts->fit_t = strata_malloc_array(2 * n1, sizeof(char *));
        ts->fit_len = strata_malloc_array(2 * n1, sizeof(size_t));
        if (!ts->t || !ts->len || !ts->fit_t || !ts->fit_len)
            return strata_error_set(err, STRATA_ENOMEM, "out of memory");
        ts->n = pairs->n;
        ts->fit_n = 2 * pairs->n;
        for (int64_t i = 0; i < 2 * pairs->n; i++) {
            ts->fit_t[i] = pairs->arena + pairs->off[i];
            ts->fit_len[i] = strata_pairs_text_len(pairs, i);
        }
        for (int64_t i = 0; i < pairs->n; i++) {
            ts->t[i] = ts->fit_t[2 * i + which];
            ts->len[i] = ts->fit_len[2 * i + which];
        }
    }
    return STRATA_OK;
}

/* An embedder's "text K: ..." for the chunk from text c0: the message
 * names the input, the absolute text (its id, or its pair) and the field. */
static void chunk_error(strata_error *err, strata_status st, const text_set *ts, int64_t c0,
                        const char *field) {
    if (err->item < 0) return;
    int64_t k = c0 + err->item;
    char msg[STRATA_ERROR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", strata_error_detail(err));
    if (ts->ids)
        strata_error_set(err, st, "%s: %s \"%s\": %s", o_input, field,
                         strata_texts_id(ts->ids, k), msg);
    else
        strata_error_set(err, st, "%s: pair %lld, field %s: %s", o_input, (long long)k, field,
                         msg);
}

/* The IDF fit: on all fit texts, or under MPI on this rank's share with
 * the counts summed across ranks (the same table); agreed. */
static strata_status fit_idf(const cli_env *env, const cli_mpi *mpi, strata_embedder *e,
                             const text_set *ts, strata_error *err) {
    strata_status st;
    if (mpi->size > 1) {
        int64_t f0, f1;
        cli_mpi_range(mpi, ts->fit_n, &f0, &f1);
        st = strata_embedder_fit_shared(e, ts->fit_t + f0, ts->fit_len + f0, f1 - f0,
                                        &env->progress, cli_mpi_allreduce_i64, NULL, err);
        if (st) cli_mpi_reitem(err, f0);
    } else {
        st = strata_embedder_fit(e, ts->fit_t, ts->fit_len, ts->fit_n, &env->progress, err);
    }
    if (st == STRATA_EFORMAT) /* "text K: invalid UTF-8 ..." */
        strata_error_prefix(err, "%s", o_input);
    /* ESTATE: another rank failed; its own message is the one reported */
    strata_status agreed = cli_mpi_agree(mpi, st == STRATA_ESTATE ? STRATA_OK : st, err);
    return agreed ? agreed : st;
}

/* Under `mpirun -np P` (mpi_cli.h) every rank loads the input, embeds its
 * own rows [N·r/P, N·(r+1)/P) and writes them at their offset of the one
 * output; rank 0 writes X.ids.txt and the context, and commits. */
static int run_ranks(const cli_env *env, const cli_mpi *mpi) {
    int urc = check_options();
    if (urc) return urc;
    int is_hash = o_model && strcmp(o_model, "hash") == 0;
    strata_precision prec = STRATA_PRECISION_FP32;
    if (!is_hash && !o_contextual) {
        int prc = cli_precision(&cmd_embed, o_precision, &prec);
        if (prc != CLI_OK) return prc;
    }

    struct stat sb;
    int is_beir = stat(o_input, &sb) == 0 && S_ISDIR(sb.st_mode);
    const char *field = o_field ? o_field : (is_beir ? "corpus" : "query");
    if (is_beir && strcmp(field, "corpus") != 0 && strcmp(field, "queries") != 0)
        return cli_usage_error(&cmd_embed, "--field must be corpus or queries for a BEIR folder");
    if (!is_beir && strcmp(field, "query") != 0 && strcmp(field, "positive") != 0)
        return cli_usage_error(&cmd_embed, "--field must be query or positive for a pairs file");
    /* --query-prompt / --doc-prompt: the field says which texts these are */
    int is_query = strcmp(field, "query") == 0 || strcmp(field, "queries") == 0;
    static const char *const qp[] = {"query-prompt", NULL}, *const dp[] = {"doc-prompt", NULL};
    int frc = is_query ? cli_reject(&cmd_embed, dp, "to queries (--field query or queries)")
                       : cli_reject(&cmd_embed, qp, "to documents (--field positive or corpus)");
    if (frc) return frc;
    if (o_query_prompt || o_doc_prompt) o_prompt = is_query ? o_query_prompt : o_doc_prompt;

    strata_error err;
    strata_error_clear(&err);
    strata_pairs pairs;
    strata_beir beir;
    memset(&pairs, 0, sizeof pairs);
    memset(&beir, 0, sizeof beir);
    text_set ts;
    memset(&ts, 0, sizeof ts);
    strata_embedder *e = NULL;
    cli_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    cli_npy_out w;
    memset(&w, 0, sizeof w);
    w.fd = -1;
    strata_atomic idsf;
    memset(&idsf, 0, sizeof idsf);
    char *idp = NULL;
    float *buf = NULL;
    int rc = CLI_OK, have_pairs = 0, have_beir = 0;
    int root = mpi->rank == 0; /* writes X.ids.txt, the IDF and the context */

    strata_status st = open_embedder(env, prec, &e, &ctx, &err);
    if (!st)
        st = load_inputs(env, is_beir, is_hash, field, &beir, &have_beir, &pairs, &have_pairs,
                         &ts, &err);
    if (!st && ts.n == 0)
        st = strata_error_set(&err, STRATA_EFORMAT, "%s: no texts to embed (field %s)", o_input,
                              field);
    if (cli_mpi_agree(mpi, st, &err)) goto fail;

    if (strata_embedder_needs_fit(e)) {
        if (fit_idf(env, mpi, e, &ts, &err)) goto fail;
        cli_info(env, "fitted IDF on %lld texts", (long long)ts.fit_n);
        st = o_idf_out && root ? strata_embedder_save_idf(e, o_idf_out, &err) : STRATA_OK;
        if (cli_mpi_agree(mpi, st, &err)) goto fail;
    }

    int D = strata_embedder_dim(e);
    /* this rank's rows: any for the hash embedder (row by row), whole calls
     * of `chunk` texts for BERT-family models (their batches) */
    int64_t r0, r1, chunk = cli_embed_chunk();
    if (is_hash) cli_mpi_range(mpi, ts.n, &r0, &r1);
    else cli_mpi_range_chunks(mpi, ts.n, chunk, &r0, &r1);
    if (cli_npy_out_open(&w, mpi, o_out, o_fp16 ? STRATA_DTYPE_F16 : STRATA_DTYPE_F32, ts.n, D,
                         r0, &err))
        goto fail;
    if (ts.ids && root) {
        if (!(idp = ids_path(o_out))) st = strata_error_set(&err, STRATA_ENOMEM, "out of memory");
        else st = strata_atomic_open(&idsf, idp, &err);
    }
    if (cli_mpi_agree(mpi, st, &err)) goto fail;
    if (r1 - r0 < chunk) chunk = r1 - r0;
    buf = strata_malloc_array((size_t)(chunk > 0 ? chunk : 1) * (size_t)D, sizeof(float));
    if (!buf) st = strata_error_set(&err, STRATA_ENOMEM, "out of memory");
    chunk_progress cp = {&env->progress, 0, r1 - r0};
    strata_progress prog = {chunk_cb, &cp, NULL};
    for (int64_t c0 = r0; c0 < r1 && !st; c0 += chunk) {
        int64_t cn = r1 - c0 < chunk ? r1 - c0 : chunk;
        cp.offset = c0 - r0;
        st = strata_embedder_embed(e, ts.t + c0, ts.len + c0, cn, &prog, buf, &err);
        if (st) chunk_error(&err, st, &ts, c0, field);
        else st = cli_npy_out_write_f32(&w, buf, cn, &err);
    }
    if (!st && ts.ids && root)
        for (int64_t i = 0; i < ts.n; i++) fprintf(idsf.fp, "%s\n", strata_texts_id(ts.ids, i));
    if (cli_mpi_agree(mpi, st, &err) || cli_npy_out_commit(&w, mpi, &err)) goto fail;
    if (ts.ids && root && strata_atomic_commit(&idsf, &err)) {
        remove(o_out);
        st = err.status;
    }
    if (!st && root && strata_embedder_contextual(e) && cli_ctx_save(&ctx, D, o_out, &err)) {
        remove(o_out);
        if (idp) remove(idp);
        st = err.status;
    }
    if (cli_mpi_agree(mpi, st, &err)) goto fail;
    cli_progress_done(env);
    cli_info(env, "wrote %s [%lld, %d] %s%s%s%s", o_out, (long long)ts.n, D,
             o_fp16 ? "float16" : "float32", idp ? " and " : "", idp ? idp : "",
             mpi->size > 1 ? " (MPI ranks)" : "");
    goto done;

fail:
    rc = cli_mpi_fail(mpi, &err);
done:
    cli_npy_out_abort(&w);
    strata_atomic_abort(&idsf);
    strata_free(idp);
    strata_free(buf);
    text_set_free(&ts);
    strata_embedder_free(e);
    cli_ctx_free(&ctx);
    if (have_pairs) strata_pairs_free(&pairs);
    if (have_beir) strata_beir_free(&beir);
    return rc;
}

static int run(const cli_env *env, int npos, char **pos) {
    (void)npos;
    (void)pos;
    cli_mpi mpi;
    cli_mpi_init(&mpi, env);
    return cli_mpi_finalize(&mpi, run_ranks(&mpi.env, &mpi));
}

const cli_command cmd_embed = {
    "embed",
    "embed pairs or BEIR texts with a BERT model or the hash embedder",
    NULL,
    "Writes one row per text, in input order, to an .npy matrix [N, D] "
    "(float32, or float16 with --fp16), streaming and atomically; for a BEIR "
    "folder also X.ids.txt (one id per line). --model hash fits an IDF table "
    "on the input (pairs: all queries and positives; BEIR: the corpus, also "
    "when embedding queries) unless --idf gives one, so queries and corpus "
    "share it; --idf-out saves it. A BERT model folder holds config.json, "
    "model.safetensors, vocab.txt or tokenizer.json, and optionally the "
    "sentence-transformers 1_Pooling/config.json, modules.json, sentence_bert_config.json "
    "(max_seq_length: the default --max-len; do_lower_case) and "
    "config_sentence_transformers.json (prompts: --prompt-name). A prompt is prepended to "
    "each text before tokenization, as sentence-transformers does. --contextual DIR "
    "embeds with a contextual model (docs/contextual.md): its first stage embeds J "
    "documents sampled from --context (seeded by --seed; a corpus with fewer than J "
    "documents is oversampled, every document floor(J/n) or ceil(J/n) times), stored "
    "as context.npy and context.ids.txt beside --out, and every text is embedded "
    "with them; give --context DIR/context.npy to embed queries with the same context. "
    "Results do not depend on --threads. Under `mpirun -np P` each rank embeds its own "
    "rows into the one output, byte-identical to one process (docs/embed.md, MPI).",
    opts,
    run,
    defaults,
    1,
};
