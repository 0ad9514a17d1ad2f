/*
 * test_allocfail.c — out-of-memory injection through the allocator hook
 * (strata_set_allocator): for each command's library path on a small input,
 * the n-th allocation fails, for every n from 1 until the path completes
 * without reaching the n-th allocation. Each failing run must:
 *   - return an error status with a message (err.status equal to it);
 *   - free everything it allocated (the hook counts live blocks; under
 *     `make asan` LeakSanitizer also checks what the hook cannot see);
 *   - leave no output file behind: no temporary file anywhere in the output
 *     folder, and none of the path's final outputs.
 * A run that reaches the n-th allocation and still succeeds has swallowed an
 * out-of-memory: also a failure.
 *
 * What the hook cannot see: allocations made by cJSON, zlib, zstd, utf8proc
 * and OpenBLAS (their own malloc), and the CLI's own code (cli/), which is
 * not in the library: each path here calls the library functions in the
 * order its command calls them.
 *
 * OpenMP: every path runs with one thread (strata_set_threads(1)), so the
 * allocation order, and hence the n-th allocation, is the same on every run.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <execinfo.h>
#include <ftw.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "strata/data.h"
#include "strata/embed.h"
#include "strata/embedder.h"
#include "strata/encoder.h"
#include "strata/eval.h"
#include "strata/io.h"
#include "strata/kmeans.h"
#include "strata/plan.h"
#include "strata/train.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* The failing allocator                                                     */
/* ------------------------------------------------------------------------ */

typedef struct failer {
    int64_t count;    /* allocations (malloc or realloc) so far            */
    int64_t fail_at;  /* the one that returns NULL (0: none)               */
    int64_t live;     /* blocks allocated and not yet freed                */
    int hit;          /* the failure was injected                          */
} failer;

static failer F;

/* STRATA_ALLOCFAIL_TRACE=1 prints the call stack of every injected failure
 * (resolve the addresses with addr2line -e build/tests/test_allocfail). */
static void trace(void) {
    static int on = -1;
    if (on < 0) on = getenv("STRATA_ALLOCFAIL_TRACE") != NULL;
    if (!on) return;
    void *frames[24];
    int n = backtrace(frames, 24);
    fprintf(stderr, "allocation %lld fails:", (long long)F.fail_at);
    for (int i = 1; i < n; i++) fprintf(stderr, " %p", frames[i]);
    fprintf(stderr, "\n");
}

static void *f_malloc(size_t size, void *ud) {
    (void)ud;
    if (++F.count == F.fail_at) {
        F.hit = 1;
        trace();
        return NULL;
    }
    void *p = malloc(size);
    if (p) F.live++;
    return p;
}

/* A realloc that shrinks a block is never failed: the library may ignore
 * such a failure (it keeps the larger block, as when trimming slack). */
static void *f_realloc(void *ptr, size_t size, void *ud) {
    (void)ud;
    if (ptr && size <= malloc_usable_size(ptr)) return realloc(ptr, size);
    if (++F.count == F.fail_at) {
        F.hit = 1;
        trace();
        return NULL;
    }
    void *p = realloc(ptr, size);
    if (p && !ptr) F.live++;
    return p;
}

static void f_free(void *ptr, void *ud) {
    (void)ud;
    F.live--;
    free(ptr);
}

static const strata_allocator FAILING = {f_malloc, f_realloc, f_free, NULL};

/* ------------------------------------------------------------------------ */
/* Output checks                                                             */
/* ------------------------------------------------------------------------ */

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* rm -rf, in process (the sweep runs thousands of times). */
static void rm_rf(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) == 0) nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Name of a file under dir (recursive) that contains ".tmp", or NULL. */
static const char *find_tmp(const char *dir) {
    static char found[1024];
    DIR *d = opendir(dir);
    if (!d) return NULL;
    struct dirent *e;
    const char *r = NULL;
    while (!r && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        if (strstr(e->d_name, ".tmp")) {
            snprintf(found, sizeof found, "%s", sub);
            r = found;
        } else {
            struct stat sb;
            if (stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode)) r = find_tmp(sub);
        }
    }
    closedir(d);
    return r;
}

/* A path: runs a command's library calls on the fixture, writing under
 * out (an empty folder); frees everything before returning. */
typedef strata_status (*path_fn)(const char *out, strata_error *err);

typedef struct path_spec {
    const char *name;
    path_fn fn;
    const char *finals[4]; /* outputs (relative to out) absent after a failure */
    const char *unit;      /* an output directory (relative to out) that must
                              not read as complete after a failure */
} path_spec;

/* Runs the sweep of one path; returns the number of injected failures. */
static int64_t sweep(const path_spec *ps) {
    char out[1024];
    snprintf(out, sizeof out, "%s/out-%s", tu_tmpdir(), ps->name);
    int64_t n;
    for (n = 1;; n++) {
        rm_rf(out);
        assert_int_equal(mkdir(out, 0755), 0);
        memset(&F, 0, sizeof F);
        F.fail_at = n;
        strata_set_allocator(&FAILING);
        strata_error err;
        strata_error_clear(&err);
        strata_status st = ps->fn(out, &err);
        strata_set_allocator(NULL);
        if (F.live != 0)
            fail_msg("%s: allocation %lld failed: %lld block(s) leaked (status %d: %s)", ps->name,
                     (long long)n, (long long)F.live, st, err.msg);
        if (!F.hit) {
            if (st != STRATA_OK)
                fail_msg("%s: fails without an injected failure: %s", ps->name, err.msg);
            break;
        }
        if (st == STRATA_OK)
            fail_msg("%s: allocation %lld of %lld failed, yet the path succeeded", ps->name,
                     (long long)n, (long long)F.count);
        if (st != STRATA_ENOMEM || err.status != st || !err.msg[0])
            fail_msg("%s: allocation %lld failed: status %d (%s) with message \"%s\"", ps->name,
                     (long long)n, st, strata_status_str(st), err.msg);
        const char *t = find_tmp(out);
        if (t) fail_msg("%s: allocation %lld failed and left %s", ps->name, (long long)n, t);
        if (ps->unit) {
            int found = 0;
            if (strata_dir_check(tu_join(out, ps->unit), NULL, &found, NULL) == STRATA_OK && found)
                fail_msg("%s: allocation %lld failed and left %s complete (%s)", ps->name,
                         (long long)n, ps->unit, err.msg);
        }
        for (int k = 0; k < 4 && ps->finals[k]; k++)
            if (tu_exists(tu_join(out, ps->finals[k])))
                fail_msg("%s: allocation %lld failed and left %s (%s)", ps->name, (long long)n,
                         ps->finals[k], err.msg);
    }
    rm_rf(out);
    return n - 1;
}

/* ------------------------------------------------------------------------ */
/* Fixture (made with the default allocator)                                 */
/* ------------------------------------------------------------------------ */

static const char *WORDS[] = {"alpha", "beta",  "gamma", "delta", "red",   "green",
                              "blue",  "river", "stone", "cloud", "night", "light"};
enum { NW = 12, NPAIRS = 24, DIM = 8 };

static char FX[512];

static const char *fx(const char *name) {
    return tu_join(FX, name);
}

/* Pairs (JSONL, TSV, gzip, zstd, a short set), a BEIR folder, a run. */
static void fixture_texts(void) {
    /* pairs: JSONL, and the same as TSV */
    FILE *f = fopen(fx("pairs.jsonl"), "w");
    FILE *g = fopen(fx("pairs.tsv"), "w");
    assert_non_null(f);
    assert_non_null(g);
    for (int i = 0; i < NPAIRS; i++) {
        const char *a = WORDS[i % NW], *b = WORDS[(i * 5 + 1) % NW], *c = WORDS[(i * 7 + 3) % NW];
        fprintf(f, "{\"query\": \"%s %s\", \"positive\": \"%s %s %s\", \"source\": \"s%d\"}\n", a,
                b, a, c, b, i % 3);
        fprintf(g, "%s %s\t%s %s %s\ts%d\n", a, b, a, c, b, i % 3);
    }
    fclose(f);
    fclose(g);
    /* a short one for the paths whose every run costs the 12 MB IDF table */
    tu_write_str(fx("pairs4.jsonl"),
                 "{\"query\": \"alpha beta\", \"positive\": \"alpha gamma\"}\n"
                 "{\"query\": \"red\", \"positive\": \"green blue\", \"source\": \"x\"}\n"
                 "{\"query\": \"river stone\", \"positive\": \"stone cloud\"}\n"
                 "{\"query\": \"night\", \"positive\": \"light night\"}\n");
    /* BEIR: 12 documents, 4 queries, qrels; a run file */
    const char *beir = fx("beir");
    mkdir(beir, 0755);
    mkdir(tu_join(beir, "qrels"), 0755);
    f = fopen(tu_join(beir, "corpus.jsonl"), "w");
    for (int i = 0; i < 12; i++)
        fprintf(f, "{\"_id\": \"d%d\", \"title\": \"%s\", \"text\": \"%s %s\"}\n", i, WORDS[i],
                WORDS[(i + 1) % NW], WORDS[(i + 4) % NW]);
    fclose(f);
    f = fopen(tu_join(beir, "queries.jsonl"), "w");
    for (int i = 0; i < 4; i++)
        fprintf(f, "{\"_id\": \"q%d\", \"text\": \"%s %s\"}\n", i, WORDS[i * 3],
                WORDS[(i * 3 + 1) % NW]);
    fclose(f);
    tu_write_str(tu_join(beir, "qrels/test.tsv"),
                 "query-id\tcorpus-id\tscore\nq0\td0\t1\nq1\td3\t2\nq1\td4\t1\nq2\td6\t1\n"
                 "q3\td9\t1\n");
    tu_write_str(tu_join(beir, "qrels/train.tsv"), "q0\td1\t1\nq2\td5\t1\nq3\td9\t2\n");
    /* the pairs again, gzip- and zstd-compressed */
    size_t plen;
    char *ptxt = tu_read(fx("pairs.jsonl"), &plen);
    assert_non_null(ptxt);
    gzFile gz = gzopen(fx("pairs.jsonl.gz"), "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, ptxt, (unsigned)plen), (int)plen);
    gzclose(gz);
    size_t zcap = ZSTD_compressBound(plen);
    void *z = malloc(zcap);
    assert_non_null(z);
    size_t zl = ZSTD_compress(z, zcap, ptxt, plen, 3);
    assert_false(ZSTD_isError(zl));
    tu_write(fx("pairs.jsonl.zst"), z, zl);
    free(z);
    free(ptxt);
    tu_write_str(fx("run.trec"), "q0 Q0 d0 1 2.5 r\nq0 Q0 d1 2 1.5 r\nq1 Q0 d4 1 3 r\n"
                                 "q2 Q0 d6 1 0.5 r\nq3 Q0 d2 1 0.25 r\n");
}

/* tokenizer.json, a vocabulary folder with its config, and a tiny BERT. */
static void fixture_models(void) {
    strata_error err;
    /* tokenizer.json and a vocabulary folder with its config */
    mkdir(fx("vocab"), 0755);
    char voc[1024] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
    for (int i = 0; i < NW; i++) {
        strcat(voc, WORDS[i]);
        strcat(voc, "\n");
    }
    tu_write_str(tu_join(fx("vocab"), "vocab.txt"), voc);
    tu_write_str(tu_join(fx("vocab"), "tokenizer_config.json"), "{\"do_lower_case\": true}");
    tu_write_str(fx("tokenizer.json"),
                 "{\"normalizer\": {\"lowercase\": true}, \"model\": {\"type\": \"WordPiece\","
                 " \"unk_token\": \"[UNK]\", \"vocab\": {\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2,"
                 " \"[SEP]\": 3, \"alpha\": 4, \"##s\": 5}}}");
    /* a tiny BERT (V = 17, C = 8, 1 layer) */
    const char *model = fx("model");
    mkdir(model, 0755);
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"vocab_size\": %d, \"hidden_size\": 8, \"num_hidden_layers\": 1,"
             " \"num_attention_heads\": 2, \"intermediate_size\": 16,"
             " \"max_position_embeddings\": 16, \"model_type\": \"bert\"}",
             NW + 5);
    tu_write_str(tu_join(model, "config.json"), cfg);
    tu_write_str(tu_join(model, "vocab.txt"), voc);
    strata_bert_config bc;
    strata_tokenizer *tok = NULL;
    strata_bert *m = NULL;
    assert_int_equal(strata_bert_config_load(&bc, tu_join(model, "config.json"), &err), 0);
    assert_int_equal(strata_tokenizer_load(&tok, tu_join(model, "vocab.txt"), NULL, &err), 0);
    assert_int_equal(strata_bert_create(&m, &bc, tok, 3, &err), 0);
    /* prompts: loading and prepending them allocate too */
    assert_int_equal(strata_bert_set_prompt(m, "query", "alpha ", &err), 0);
    assert_int_equal(strata_bert_set_prompt(m, "document", "beta ", &err), 0);
    assert_int_equal(strata_bert_save(m, model, &err), 0);
    strata_bert_free(m);
}

/* Surrogate embeddings of the pairs, a cluster folder, a plan with masks. */
static void fixture_surrogates(void) {
    strata_error err;
    /* surrogate embeddings of the pairs (hash embedder), clusters, a plan */
    strata_pairs p;
    assert_int_equal(strata_pairs_load(&p, fx("pairs.jsonl"), NULL, &err), 0);
    const char *t[2 * NPAIRS];
    size_t len[2 * NPAIRS];
    for (int i = 0; i < 2 * NPAIRS; i++) {
        t[i] = p.arena + p.off[i];
        len[i] = strata_pairs_text_len(&p, i);
    }
    strata_hash_params hp = strata_hash_default_params();
    hp.dim = DIM;
    strata_hash_idf idf;
    assert_int_equal(strata_hash_idf_fit(&idf, t, len, 2 * NPAIRS, &hp, &err), 0);
    float e[2 * NPAIRS * DIM], q[NPAIRS * DIM], d[NPAIRS * DIM];
    assert_int_equal(strata_hash_embed(&idf, t, len, 2 * NPAIRS, &hp, e, &err), 0);
    strata_hash_idf_free(&idf);
    for (int i = 0; i < NPAIRS; i++) {
        memcpy(q + i * DIM, e + (2 * i) * DIM, DIM * sizeof(float));
        memcpy(d + i * DIM, e + (2 * i + 1) * DIM, DIM * sizeof(float));
    }
    int64_t sh[2] = {NPAIRS, DIM};
    assert_int_equal(strata_npy_save(fx("q.npy"), STRATA_DTYPE_F32, 2, sh, q, &err), 0);
    assert_int_equal(strata_npy_save(fx("d.npy"), STRATA_DTYPE_F32, 2, sh, d, &err), 0);
    mkdir(fx("clusters"), 0755);
    int32_t assign[NPAIRS];
    for (int i = 0; i < NPAIRS; i++) assign[i] = (i / 3) % 3;
    int64_t na = NPAIRS, shc[2] = {3, DIM};
    assert_int_equal(strata_npy_save(tu_join(fx("clusters"), "assign.npy"), STRATA_DTYPE_I32, 1,
                                     &na, assign, &err),
                     0);
    assert_int_equal(strata_npy_save(tu_join(fx("clusters"), "centroids.npy"), STRATA_DTYPE_F32,
                                     2, shc, q, &err),
                     0);
    /* the plan for hardness and training: batches of 4 with a mask */
    strata_plan_data pd = {.n = NPAIRS, .source = p.source, .n_sources = p.n_sources,
                           .fq = q, .fd = d, .fdim = DIM};
    strata_plan_stage stage = {.strategy = STRATA_PLAN_SOURCE, .share = 1};
    strata_plan_params pp = strata_plan_default_params();
    pp.batch_size = 4;
    pp.filter = 1;
    pp.margin = 0.5;
    strata_plan plan;
    assert_int_equal(strata_plan_build(&plan, &pd, &stage, 1, &pp, &err), 0);
    assert_int_equal(strata_plan_save(&plan, fx("plan"), NULL, &err), 0);
    strata_plan_free(&plan);
    strata_pairs_free(&p);
}

static void make_fixture(void) {
    snprintf(FX, sizeof FX, "%s/fx", tu_tmpdir());
    mkdir(FX, 0755);
    fixture_texts();
    fixture_models();
    fixture_surrogates();
}

/* ------------------------------------------------------------------------ */
/* Paths, one per command                                                    */
/* ------------------------------------------------------------------------ */

/* inspect / every reader of pairs: JSONL, TSV, gzip, zstd, a BEIR folder
 * (train qrels as pairs), then the statistics. */
static strata_status path_pairs(const char *out, strata_error *err) {
    (void)out;
    const char *files[5] = {fx("pairs.jsonl"), fx("pairs.tsv"), fx("pairs.jsonl.gz"),
                            fx("pairs.jsonl.zst"), fx("beir")};
    for (int k = 0; k < 5; k++) {
        strata_pairs p;
        strata_status st = strata_pairs_load(&p, files[k], NULL, err);
        if (st) return st;
        strata_pairs_stats s;
        st = strata_pairs_stats_compute(&s, &p, err);
        if (!st) strata_pairs_stats_free(&s);
        strata_pairs_free(&p);
        if (st) return st;
    }
    return STRATA_OK;
}

/* eval's inputs: a BEIR folder with qrels, and a bare qrels file that
 * defines the ids (--run mode). */
static strata_status path_beir(const char *out, strata_error *err) {
    (void)out;
    strata_beir b;
    strata_beir_options o = strata_beir_default_options();
    o.split = "test";
    strata_status st = strata_beir_load_ex(&b, fx("beir"), &o, err);
    if (st) return st;
    strata_beir_free(&b);
    memset(&b, 0, sizeof b);
    o.unknown = STRATA_UNKNOWN_ADD;
    st = strata_beir_load_qrels(&b, tu_join(fx("beir"), "qrels/test.tsv"), &o, err);
    strata_beir_free(&b);
    return st;
}

/* tokenize: vocab.txt (+ tokenizer_config.json) and tokenizer.json, each
 * encoding a few texts; the vocabulary saved back. */
static strata_status path_tokenizer(const char *out, strata_error *err) {
    const char *srcs[2] = {fx("tokenizer.json"), fx("vocab")};
    static const char *texts[] = {"alpha beta gamma", "Alphas! naïve 中文", ""};
    for (int k = 0; k < 2; k++) {
        strata_tokenizer *tok = NULL;
        strata_status st = strata_tokenizer_load(&tok, srcs[k], NULL, err);
        if (st) return st;
        for (int i = 0; i < 3 && !st; i++) {
            int32_t *ids = NULL;
            int n;
            st = strata_tokenizer_encode_alloc(tok, texts[i], strlen(texts[i]), 1, 0, &ids, &n,
                                               err);
            strata_free(ids);
        }
        if (!st && k == 1) st = strata_tokenizer_save_vocab(tok, tu_join(out, "vocab.txt"), err);
        strata_tokenizer_free(tok);
        if (st) return st;
    }
    return STRATA_OK;
}

/* Texts of a pairs set (queries and positives interleaved), owned. */
static strata_status pair_texts(const strata_pairs *p, const char ***t, size_t **len,
                                strata_error *err) {
    *t = strata_malloc_array((size_t)(2 * p->n), sizeof **t);
    *len = strata_malloc_array((size_t)(2 * p->n), sizeof **len);
    if (!*t || !*len) /* the caller frees both */
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    for (int64_t i = 0; i < 2 * p->n; i++) {
        (*t)[i] = p->arena + p->off[i];
        (*len)[i] = strata_pairs_text_len(p, i);
    }
    return STRATA_OK;
}

/* embed --model hash through the embedder interface (as `strata embed`
 * does): fit and save the IDF table, reopen with it, embed every pair text,
 * write a float16 .npy. */
static strata_status path_embed_hash(const char *out, strata_error *err) {
    strata_pairs p;
    strata_status st = strata_pairs_load(&p, fx("pairs4.jsonl"), NULL, err);
    if (st) return st;
    const char **t = NULL;
    size_t *len = NULL;
    float *buf = NULL;
    strata_embedder *e = NULL, *e2 = NULL;
    strata_npy_writer w;
    memset(&w, 0, sizeof w);
    strata_embedder_params ep = strata_embedder_default_params();
    ep.hash.dim = DIM;
    if ((st = pair_texts(&p, &t, &len, err))) goto done;
    if ((st = strata_embedder_open(&e, "hash", &ep, err))) goto done;
    if ((st = strata_embedder_fit(e, t, len, 2 * p.n, NULL, err))) goto done;
    if ((st = strata_embedder_save_idf(e, tu_join(out, "idf.npy"), err))) goto done;
    buf = strata_malloc_array((size_t)(2 * p.n) * DIM, sizeof(float));
    if (!buf) { st = strata_error_set(err, STRATA_ENOMEM, "out of memory"); goto done; }
    ep.idf = tu_join(out, "idf.npy");
    if ((st = strata_embedder_open(&e2, "hash", &ep, err))) goto done;
    if ((st = strata_embedder_embed(e2, t, len, 2 * p.n, NULL, buf, err))) goto done;
    int64_t shape[2] = {2 * p.n, DIM};
    if ((st = strata_npy_writer_open(&w, tu_join(out, "emb.npy"), STRATA_DTYPE_F16, 2, shape, err)))
        goto done;
    if ((st = strata_npy_writer_write_f32(&w, buf, (size_t)(2 * p.n) * DIM, err))) goto done;
    st = strata_npy_writer_commit(&w, err);
done:
    strata_npy_writer_abort(&w);
    strata_embedder_free(e);
    strata_embedder_free(e2);
    strata_free(buf);
    strata_free(t);
    strata_free(len);
    strata_pairs_free(&p);
    return st;
}

/* embed --model DIR through the embedder interface: the tiny BERT over
 * every pair text, batches of 5. */
static strata_status path_embed_bert(const char *out, strata_error *err) {
    strata_embedder *e = NULL;
    strata_embedder_params ep = strata_embedder_default_params();
    ep.embed.batch_size = 5;
    ep.embed.max_len = 6;
    ep.prompt_name = "query";
    strata_status st = strata_embedder_open(&e, fx("model"), &ep, err);
    if (st) return st;
    strata_pairs p;
    if ((st = strata_pairs_load(&p, fx("pairs.jsonl"), NULL, err))) {
        strata_embedder_free(e);
        return st;
    }
    const char **t = NULL;
    size_t *len = NULL;
    float *buf = NULL;
    if ((st = pair_texts(&p, &t, &len, err))) goto done;
    buf = strata_malloc_array((size_t)(2 * p.n) * 8, sizeof(float));
    if (!buf) { st = strata_error_set(err, STRATA_ENOMEM, "out of memory"); goto done; }
    if ((st = strata_embedder_embed(e, t, len, 2 * p.n, NULL, buf, err))) goto done;
    int64_t shape[2] = {2 * p.n, 8};
    st = strata_npy_save(tu_join(out, "emb.npy"), STRATA_DTYPE_F32, 2, shape, buf, err);
done:
    strata_free(buf);
    strata_free(t);
    strata_free(len);
    strata_pairs_free(&p);
    strata_embedder_free(e);
    return st;
}

/* cluster --pairs --per-source: asymmetric k-means on [q (+) d] per
 * source, best of 2, then assign.npy, centroids.npy and stats.json. */
static strata_status path_cluster(const char *out, strata_error *err) {
    strata_mat q, d;
    strata_status st = strata_mat_load(&q, fx("q.npy"), err);
    if (st) return st;
    if ((st = strata_mat_load(&d, fx("d.npy"), err))) {
        strata_mat_free(&q);
        return st;
    }
    strata_pairs p;
    if ((st = strata_pairs_load(&p, fx("pairs.jsonl"), NULL, err))) {
        strata_mat_free(&q);
        strata_mat_free(&d);
        return st;
    }
    strata_kmeans_input in = {.n_global = NPAIRS, .row0 = 0, .n_local = NPAIRS, .nparts = 2,
                              .x = {q.data, d.data}, .dim = {DIM, DIM}, .source = p.source,
                              .n_sources = p.n_sources};
    strata_kmeans_params kp = strata_kmeans_default_params();
    kp.k = 2;
    kp.niter = 4;
    kp.nredo = 2;
    strata_kmeans_result r;
    memset(&r, 0, sizeof r);
    st = strata_kmeans_fit(&r, &in, &kp, err);
    if (st) goto done;
    int64_t n = NPAIRS, shc[2] = {r.k, r.dim};
    if ((st = strata_npy_save(tu_join(out, "assign.npy"), STRATA_DTYPE_I32, 1, &n, r.assign, err)))
        goto done;
    if ((st = strata_npy_save(tu_join(out, "centroids.npy"), STRATA_DTYPE_F32, 2, shc,
                              r.centroids, err)))
        goto done;
    st = strata_kmeans_write_stats(tu_join(out, "stats.json"), &r, &kp,
                                   (const char *const *)p.source_names, err);
done:
    strata_kmeans_result_free(&r);
    strata_pairs_free(&p);
    strata_mat_free(&q);
    strata_mat_free(&d);
    return st;
}

/* plan --strategy cluster --order tsp --filter: pairs, text hashes,
 * clusters, surrogate embeddings, build (masks), save. */
static strata_status path_plan(const char *out, strata_error *err) {
    strata_pairs p;
    strata_status st = strata_pairs_load(&p, fx("pairs.jsonl"), NULL, err);
    if (st) return st;
    uint64_t *qh = strata_malloc_array((size_t)p.n, sizeof *qh);
    uint64_t *ph = strata_malloc_array((size_t)p.n, sizeof *ph);
    strata_plan_clusters c;
    memset(&c, 0, sizeof c);
    strata_plan_embeddings e;
    memset(&e, 0, sizeof e);
    strata_plan plan;
    memset(&plan, 0, sizeof plan);
    strata_plan_spec_stage *spec = NULL;
    int n_spec = 0;
    if (!qh || !ph) { st = strata_error_set(err, STRATA_ENOMEM, "out of memory"); goto done; }
    strata_plan_hash_texts(p.arena, p.off, p.n, qh, ph);
    if ((st = strata_plan_spec_parse("random:1,cluster:2", &spec, &n_spec, err))) goto done;
    if ((st = strata_plan_clusters_load(&c, fx("clusters"), NULL, p.n, err))) goto done;
    if ((st = strata_plan_embeddings_load(&e, fx("q.npy"), fx("d.npy"), p.n, err))) goto done;
    strata_plan_data pd = {.n = p.n, .source = p.source, .n_sources = p.n_sources, .qhash = qh,
                           .phash = ph, .fq = e.q, .fd = e.d, .fdim = e.dim};
    strata_plan_stage stages[2] = {
        {.strategy = spec[0].strategy, .share = spec[0].share, .name = "warmup"},
        {.strategy = STRATA_PLAN_CLUSTER, .assign = c.assign, .k = c.k, .centroids = c.centroids,
         .cdim = c.cdim, .share = spec[1].share}};
    strata_plan_params pp = strata_plan_default_params();
    pp.batch_size = 4;
    pp.epochs = 2;
    pp.order = STRATA_ORDER_TSP;
    pp.filter = 1;
    pp.margin = 0.2;
    if ((st = strata_plan_build(&plan, &pd, stages, 2, &pp, err))) goto done;
    st = strata_plan_save(&plan, tu_join(out, "plan"), "{\"strategy\": \"cluster\"}", err);
done:
    strata_plan_free(&plan);
    strata_plan_spec_free(spec, n_spec);
    strata_plan_embeddings_free(&e);
    strata_plan_clusters_free(&c);
    strata_free(qh);
    strata_free(ph);
    strata_pairs_free(&p);
    return st;
}

/* hardness --plan: the saved plan with its mask, the surrogate embeddings. */
static strata_status path_hardness(const char *out, strata_error *err) {
    (void)out;
    strata_plan plan;
    strata_status st = strata_plan_load(&plan, fx("plan"), err);
    if (st) return st;
    strata_plan_embeddings e;
    if ((st = strata_plan_embeddings_load(&e, fx("q.npy"), fx("d.npy"), NPAIRS, err))) {
        strata_plan_free(&plan);
        return st;
    }
    strata_hardness_batch *pb = strata_malloc_array((size_t)plan.n_batches, sizeof *pb);
    if (!pb) {
        st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
    } else {
        strata_hardness_summary sum;
        st = strata_hardness_compute(&plan, e.q, e.d, NPAIRS, e.dim, 0.05, 1, 0, pb, &sum, err);
    }
    strata_free(pb);
    strata_plan_embeddings_free(&e);
    strata_plan_free(&plan);
    return st;
}

/* train: two steps of a fresh tiny BERT (--config, --vocab) on the saved
 * plan (mask included),
 * GradCache chunks of 3, a checkpoint after each step, NDCG@10 on the BEIR
 * set; then resumed from checkpoint-1 to step 3. */
static strata_status path_train(const char *out, strata_error *err) {
    strata_train_params tp = strata_train_default_params();
    char pairs[512], plan[512], config[600], vocab[600], beir[512], dir[600];
    snprintf(pairs, sizeof pairs, "%s", fx("pairs.jsonl"));
    snprintf(plan, sizeof plan, "%s", fx("plan"));
    snprintf(config, sizeof config, "%s/config.json", fx("model"));
    snprintf(vocab, sizeof vocab, "%s/vocab.txt", fx("model"));
    snprintf(beir, sizeof beir, "%s", fx("beir"));
    snprintf(dir, sizeof dir, "%s/run", out);
    tp.pairs_path = pairs;
    tp.plan_dir = plan;
    tp.config_path = config;
    tp.vocab_path = vocab;
    tp.out_dir = dir;
    tp.max_len = 6;
    tp.query_prompt = "alpha ";
    tp.doc_prompt = "beta ";
    tp.lr = 1e-3;
    tp.warmup = 1;
    tp.chunk = 3;
    tp.steps = 2;
    tp.save_every = 1;
    tp.eval_beir = beir;
    tp.eval_every = 2;
    strata_status st = strata_train_run(&tp, err);
    if (st) return st;
    /* resume: drop the last checkpoint and the final model, continue to 3 */
    char ck[700];
    snprintf(ck, sizeof ck, "%s/checkpoint-2", dir);
    rm_rf(ck);
    snprintf(ck, sizeof ck, "%s/final", dir);
    rm_rf(ck);
    tp.steps = 3;
    tp.resume = 1;
    return strata_train_run(&tp, err);
}

/* eval --model DIR on the BEIR set: the tiny BERT embeds corpus and
 * queries, retrieval, metrics, run.trec and metrics.json. */
static strata_status path_eval(const char *out, strata_error *err) {
    strata_bert *m = NULL;
    strata_status st = strata_bert_load(&m, fx("model"), err);
    if (st) return st;
    strata_beir b;
    memset(&b, 0, sizeof b);
    strata_beir_options o = strata_beir_default_options();
    o.split = "test";
    if ((st = strata_beir_load_ex(&b, fx("beir"), &o, err))) {
        strata_bert_free(m);
        return st;
    }
    const strata_texts *sets[2] = {&b.corpus, &b.queries};
    const char **t = NULL;
    size_t *len = NULL;
    float *E[2] = {NULL, NULL};
    strata_run run;
    memset(&run, 0, sizeof run);
    strata_metrics *per = NULL;
    const int C = m->cfg.hidden_size;
    t = strata_malloc_array((size_t)b.corpus.n, sizeof *t);
    len = strata_malloc_array((size_t)b.corpus.n, sizeof *len);
    per = strata_malloc_array((size_t)b.queries.n, sizeof *per);
    if (!t || !len || !per) { st = strata_error_set(err, STRATA_ENOMEM, "out of memory"); goto done; }
    strata_embed_params ep = strata_embed_default_params();
    ep.max_len = 8;
    for (int s = 0; s < 2; s++) {
        for (int64_t i = 0; i < sets[s]->n; i++) {
            t[i] = strata_texts_get(sets[s], i);
            len[i] = strlen(t[i]);
        }
        E[s] = strata_malloc_array((size_t)sets[s]->n * (size_t)C, sizeof(float));
        if (!E[s]) { st = strata_error_set(err, STRATA_ENOMEM, "out of memory"); goto done; }
        if ((st = strata_bert_embed_texts(m, t, len, sets[s]->n, &ep, E[s], err))) goto done;
    }
    strata_eval_options eo = strata_eval_default_options();
    eo.k = 5;
    eo.normalize = 1;
    strata_metrics mean;
    if ((st = strata_eval_embeddings(&b, E[0], E[1], C, &eo, &mean, per, &run, err))) goto done;
    if ((st = strata_run_write_trec(&run, &b, tu_join(out, "run.trec"), "allocfail", err)))
        goto done;
    st = strata_metrics_write_json(tu_join(out, "metrics.json"), &b, &mean, per, err);
done:
    strata_run_free(&run);
    strata_free(per);
    strata_free(E[0]);
    strata_free(E[1]);
    strata_free(t);
    strata_free(len);
    strata_beir_free(&b);
    strata_bert_free(m);
    return st;
}

/* eval --run RUN --qrels QRELS: a bare qrels file defines the ids, the run
 * is read against them (unknown documents added), then the metrics. */
static strata_status path_eval_run(const char *out, strata_error *err) {
    strata_beir b;
    memset(&b, 0, sizeof b);
    strata_beir_options o = strata_beir_default_options();
    o.unknown = STRATA_UNKNOWN_ADD;
    strata_status st = strata_beir_load_qrels(&b, tu_join(fx("beir"), "qrels/test.tsv"), &o, err);
    if (st) {
        strata_beir_free(&b);
        return st;
    }
    strata_run run;
    memset(&run, 0, sizeof run);
    strata_run_read_options ro;
    memset(&ro, 0, sizeof ro);
    ro.unknown_doc = STRATA_UNKNOWN_ADD;
    strata_metrics mean, *per = strata_malloc_array((size_t)b.queries.n, sizeof *per);
    if (!per) st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
    if (!st) st = strata_run_read_trec(&run, &b, fx("run.trec"), &ro, err);
    if (!st) st = strata_eval_metrics(&b, &run, 1, &mean, per, err);
    if (!st) st = strata_metrics_write_json(tu_join(out, "metrics.json"), &b, &mean, per, err);
    strata_run_free(&run);
    strata_free(per);
    strata_beir_free(&b);
    return st;
}

/* synth: the demo corpus, small. */
static strata_status path_synth(const char *out, strata_error *err) {
    strata_synth_params sp = strata_synth_default_params();
    sp.n_topics = 2;
    sp.pairs_per_source_topic = 2;
    sp.n_test_queries = 3;
    sp.n_subtopics = 2;
    sp.n_corpus = 10;
    return strata_synth_write(out, &sp, err);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

static const path_spec PATHS[] = {
    {"pairs", path_pairs, {NULL}, NULL},
    {"beir", path_beir, {NULL}, NULL},
    {"tokenizer", path_tokenizer, {"vocab.txt"}, NULL},
    {"embed_hash", path_embed_hash, {"emb.npy"}, NULL},
    {"embed_bert", path_embed_bert, {"emb.npy"}, NULL},
    {"cluster", path_cluster, {"stats.json"}, NULL},
    {"plan", path_plan, {NULL}, "plan"},
    {"hardness", path_hardness, {NULL}, NULL},
    {"train", path_train, {"run/final"}, NULL},
    {"eval", path_eval, {"metrics.json"}, NULL},
    {"eval_run", path_eval_run, {"metrics.json"}, NULL},
    {"synth", path_synth, {"beir/qrels/test.tsv"}, NULL},
};

static int setup(void **state) {
    (void)state;
    strata_set_threads(1);
    if (!FX[0]) make_fixture();
    return 0;
}

static void run_path(void **state, const char *name) {
    (void)state;
    for (size_t i = 0; i < sizeof PATHS / sizeof PATHS[0]; i++) {
        if (strcmp(PATHS[i].name, name) != 0) continue;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int64_t n = sweep(&PATHS[i]);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        print_message("%-10s %6lld allocations failed one at a time, %.1f s\n", name,
                      (long long)n,
                      (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
        assert_true(n > 0); /* the path allocates, so the sweep tested something */
        return;
    }
    fail_msg("no path %s", name);
}

#define PATH_TEST(name)                                     \
    static void test_##name(void **state) { run_path(state, #name); }
PATH_TEST(pairs)
PATH_TEST(beir)
PATH_TEST(tokenizer)
PATH_TEST(embed_hash)
PATH_TEST(embed_bert)
PATH_TEST(cluster)
PATH_TEST(plan)
PATH_TEST(hardness)
PATH_TEST(train)
PATH_TEST(eval)
PATH_TEST(eval_run)
PATH_TEST(synth)

int main(void) {
    /* thousands of runs, each writing and fsyncing its outputs: on a tmpfs
     * when there is one */
    if (!getenv("TMPDIR") && access("/dev/shm", W_OK) == 0) setenv("TMPDIR", "/dev/shm", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_pairs, setup),
        cmocka_unit_test_setup(test_beir, setup),
        cmocka_unit_test_setup(test_tokenizer, setup),
        cmocka_unit_test_setup(test_embed_hash, setup),
        cmocka_unit_test_setup(test_embed_bert, setup),
        cmocka_unit_test_setup(test_cluster, setup),
        cmocka_unit_test_setup(test_plan, setup),
        cmocka_unit_test_setup(test_hardness, setup),
        cmocka_unit_test_setup(test_train, setup),
        cmocka_unit_test_setup(test_eval, setup),
        cmocka_unit_test_setup(test_eval_run, setup),
        cmocka_unit_test_setup(test_synth, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
