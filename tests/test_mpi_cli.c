/*
 * test_mpi_cli.c — `strata embed` and `strata eval` under `mpirun -np P`
 * give the same bytes as one process: the .npy, X.ids.txt, the IDF table and
 * the context (embed: hash, a tiny BERT, a tiny contextual model; pairs and
 * BEIR input; float32 and float16), the metrics JSON and the TREC run (eval:
 * given embeddings, --model hash and BERT, --cosine, --ignore-identical-ids,
 * duplicate documents whose tied scores straddle the rank boundaries), with
 * P = 2 and P = 3 (an uneven split). A failure only one rank sees (invalid
 * UTF-8 in its share, a NaN row in its shard) or an unwritable output ends
 * the job non-zero with the single-process message and no output file.
 *
 * The library hook (strata_embedder_fit_shared) is also tested without MPI,
 * against a stand-in allreduce. The MPI tests are skipped with a message
 * when mpirun is missing or the build has no MPI.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "strata/contextual.h"
#include "strata/embedder.h"
#include "strata/encoder.h"
#include "strata/io.h"
#include "testutil.h"

enum { V = 40, NPAIRS = 101, NDOCS = 61, NQ = 9 };

/* Open MPI's own plugins leak at exit: LeakSanitizer off for these runs */
#define MPIRUN                                                                              \
    "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 OMPI_ALLOW_RUN_AS_ROOT=1 " \
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader "                            \
    "mpirun --allow-run-as-root --oversubscribe -np"

static char g_dir[512];

/* Words w5..w39 of the tiny vocabulary; text i of a stream: 1..12 words. */
static void words(char *out, size_t cap, uint64_t *s, int maxw) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    int n = 1 + (int)((*s >> 33) % (uint64_t)maxw), k = 0;
    out[0] = '\0';
    for (int j = 0; j < n; j++) {
        *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
        k += snprintf(out + k, cap - (size_t)k, "%sw%d", j ? " " : "", 5 + (int)((*s >> 33) % 35));
    }
}

static strata_tokenizer *vocab(void) {
    char buf[2048];
    int k = snprintf(buf, sizeof buf, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n");
    for (int i = 5; i < V; i++) k += snprintf(buf + k, sizeof buf - k, "w%d\n", i);
    const char *p = tu_join(g_dir, "vocab.txt");
    tu_write_str(p, buf);
    strata_tokenizer *tok;
    strata_error err;
    assert_int_equal(strata_tokenizer_load(&tok, p, NULL, &err), STRATA_OK);
    return tok;
}

static strata_bert_config tiny_config(void) {
    strata_bert_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = V;
    c.hidden_size = 32;
    c.num_layers = 2;
    c.num_heads = 4;
    c.intermediate_size = 64;
    c.max_position = 64;
    c.type_vocab_size = 2;
    c.layer_norm_eps = 1e-12;
    c.pool = STRATA_POOL_MEAN;
    return c;
}

/* pairs.jsonl (101 pairs), beir/ (61 documents, 5 of them duplicates of
 * others, 9 queries, one whose id is a document's), bert/, ctx/. */
static const char *fixture(void) {
    if (g_dir[0]) return g_dir;
    snprintf(g_dir, sizeof g_dir, "%s", tu_tmpdir());
    char a[256], b[256];
    uint64_t s = 7;
    FILE *f = fopen(tu_join(g_dir, "pairs.jsonl"), "w");
    assert_non_null(f);
    for (int i = 0; i < NPAIRS; i++) {
        words(a, sizeof a, &s, 6);
        words(b, sizeof b, &s, 12);
        fprintf(f, "{\"query\": \"%s\", \"positive\": \"%s\"}\n", a, b);
    }
    fclose(f);
    char beir[600], qd[700];
    snprintf(beir, sizeof beir, "%s/beir", g_dir);
    snprintf(qd, sizeof qd, "%s/qrels", beir);
    mkdir(beir, 0755);
    mkdir(qd, 0755);
    char docs[NDOCS][256];
    f = fopen(tu_join(beir, "corpus.jsonl"), "w");
    for (int i = 0; i < NDOCS; i++) {
        /* documents 20, 30, 40, 50, 60 repeat 1, 2, 3, 4, 5: equal scores
         * whose order is decided by the corpus index, across shards */
        if (i % 10 == 0 && i >= 20) memcpy(docs[i], docs[i / 10 - 1], sizeof docs[i]);
        else words(docs[i], sizeof docs[i], &s, 12);
        fprintf(f, "{\"_id\": \"d%d\", \"title\": \"\", \"text\": \"%s\"}\n", i, docs[i]);
    }
    fclose(f);
    f = fopen(tu_join(beir, "queries.jsonl"), "w");
    for (int i = 0; i < NQ; i++) {
        if (i < 5) snprintf(a, sizeof a, "%s", docs[i + 1]); /* ties at the top */
        else words(a, sizeof a, &s, 4);
        /* query d7 shares an id with a document (--ignore-identical-ids) */
        if (i == 6) fprintf(f, "{\"_id\": \"d7\", \"text\": \"%s\"}\n", a);
        else fprintf(f, "{\"_id\": \"q%d\", \"text\": \"%s\"}\n", i, a);
    }
    fclose(f);
    f = fopen(tu_join(qd, "test.tsv"), "w");
    fprintf(f, "query-id\tcorpus-id\tscore\n");
    for (int i = 0; i < NQ; i++) {
        if (i == 8) continue; /* a query without judgments is not searched */
        if (i == 6) fprintf(f, "d7\td%d\t1\n", 7);
        else fprintf(f, "q%d\td%d\t1\nq%d\td%d\t2\n", i, (i * 7) % NDOCS, i, (i * 13 + 5) % NDOCS);
    }
    fclose(f);
    strata_error err;
    strata_tokenizer *tok = vocab();
    strata_bert_config c = tiny_config();
    strata_bert *m;
    assert_int_equal(strata_bert_create(&m, &c, tok, 3, &err), STRATA_OK);
    assert_int_equal(strata_bert_save(m, tu_join(g_dir, "bert"), &err), STRATA_OK);
    strata_bert_free(m);
    strata_ctx_config cc;
    memset(&cc, 0, sizeof cc);
    cc.bert = tiny_config();
    cc.context_size = 6;
    cc.n_prompt = 2;
    strata_ctx_model *cm;
    tok = vocab();
    assert_int_equal(strata_ctx_create(&cm, &cc, tok, 5, &err), STRATA_OK);
    assert_int_equal(strata_ctx_save(cm, tu_join(g_dir, "ctx"), &err), STRATA_OK);
    strata_ctx_free(cm);
    return g_dir;
}

static void require_mpi(void) {
#ifndef STRATA_HAVE_MPI
    print_message("skipped: this build has no MPI (make MPI=1 with Open MPI's mpicc)\n");
    skip();
#endif
    if (tu_sh("command -v mpirun") != 0) {
        print_message("skipped: mpirun not installed\n");
        skip();
    }
}

static int files_equal(const char *a, const char *b) {
    size_t la, lb;
    char *x = tu_read(a, &la), *y = tu_read(b, &lb);
    int eq = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return eq;
}

/* "<dir>/<name>" in one of 16 rotating buffers. */
static const char *path(const char *name) {
    static char slots[16][700];
    static int k;
    char *p = slots[k++ % 16];
    snprintf(p, sizeof slots[0], "%s/%s", fixture(), name);
    return p;
}

static void assert_same(const char *a, const char *b) {
    if (!files_equal(a, b)) fail_msg("%s and %s differ", a, b);
}

/* Embeds with args into <tag>1.npy (one process) and <tag>2.npy, <tag>3.npy
 * (mpirun -np 2, 3) and checks the bytes of the .npy (and of the ids file
 * when ids, the files beside when extra, e.g. the IDF table). */
static void embed_check(const char *tag, const char *args, int ids, const char *extra) {
    char o[3][700], x[3][700];
    for (int p = 1; p <= 3; p++) {
        snprintf(o[p - 1], sizeof o[0], "%s/%s%d.npy", fixture(), tag, p);
        snprintf(x[p - 1], sizeof x[0], "%s/%s%d.%s", fixture(), tag, p, extra ? extra : "");
        char xo[2200] = "";
        if (extra && strcmp(extra, "idf") == 0) snprintf(xo, sizeof xo, "--idf-out %s", x[p - 1]);
        int rc = p == 1 ? tu_sh("%s embed %s --out %s %s --threads 1 --quiet", tu_strata(), args,
                                o[0], xo)
                        : tu_sh("%s %d %s embed %s --out %s %s --threads 1 --quiet", MPIRUN, p,
                                tu_strata(), args, o[p - 1], xo);
        if (rc != 0) fail_msg("%s (np %d) failed (%d): %s", tag, p, rc, tu_last_err());
    }
    for (int p = 2; p <= 3; p++) {
        assert_same(o[0], o[p - 1]);
        if (extra) assert_same(x[0], x[p - 1]);
        if (ids) {
            char a[720], b[720];
            snprintf(a, sizeof a, "%s/%s1.ids.txt", fixture(), tag);
            snprintf(b, sizeof b, "%s/%s%d.ids.txt", fixture(), tag, p);
            assert_same(a, b);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* embed                                                                     */
/* ------------------------------------------------------------------------ */

static void test_embed_hash(void **state) {
    (void)state;
    require_mpi();
    char a[1024];
    /* pairs: IDF on queries + positives, the fit shares differ from the rows */
    snprintf(a, sizeof a, "--model hash --input %s --bigrams --dim 64", path("pairs.jsonl"));
    embed_check("hq", a, 0, "idf");
    snprintf(a, sizeof a, "--model hash --input %s --field positive --fp16", path("pairs.jsonl"));
    embed_check("hp", a, 0, NULL);
    /* BEIR queries: the IDF is fitted on the corpus (61 texts), 9 rows */
    snprintf(a, sizeof a, "--model hash --input %s --field queries", path("beir"));
    embed_check("hbq", a, 1, "idf");
    snprintf(a, sizeof a, "--model hash --input %s", path("beir"));
    embed_check("hbc", a, 1, NULL);
}

static void test_embed_bert(void **state) {
    (void)state;
    require_mpi();
    char a[1024];
    /* calls of 16 texts (cut per rank as in one process), batches of 4 of
     * mixed lengths: many batches per rank */
    setenv("STRATA_EMBED_CHUNK", "16", 1);
    snprintf(a, sizeof a, "--model %s --input %s --encode-batch 4 --precision fp32",
             path("bert"), path("pairs.jsonl"));
    embed_check("bq", a, 0, NULL);
    snprintf(a, sizeof a, "--model %s --input %s --encode-batch 5 --fp16", path("bert"),
             path("beir"));
    embed_check("bc", a, 1, NULL);
    /* a prompt: every rank prepends it */
    snprintf(a, sizeof a, "--model %s --input %s --field positive --prompt \"w7 w8 \"",
             path("bert"), path("pairs.jsonl"));
    embed_check("bp", a, 0, NULL);
    unsetenv("STRATA_EMBED_CHUNK");
}

static void test_embed_contextual(void **state) {
    (void)state;
    require_mpi();
    char a[1024];
    /* the context is sampled from the corpus on every rank (same seed),
     * rank 0 writes context.npy + context.ids.txt */
    snprintf(a, sizeof a, "--contextual %s --context %s --input %s", path("ctx"), path("beir"),
             path("pairs.jsonl"));
    setenv("STRATA_EMBED_CHUNK", "16", 1);
    for (int p = 1; p <= 2; p++) {
        char d[700], o[800];
        snprintf(d, sizeof d, "%s/ctx%d", fixture(), p);
        mkdir(d, 0755);
        snprintf(o, sizeof o, "%s/x.npy", d);
        int rc = p == 1 ? tu_sh("%s embed %s --out %s --threads 1 --quiet", tu_strata(), a, o)
                        : tu_sh("%s 2 %s embed %s --out %s --threads 1 --quiet", MPIRUN,
                                tu_strata(), a, o);
        if (rc != 0) fail_msg("contextual (np %d) failed (%d): %s", p, rc, tu_last_err());
    }
    unsetenv("STRATA_EMBED_CHUNK");
    assert_same(path("ctx1/x.npy"), path("ctx2/x.npy"));
    assert_same(path("ctx1/context.npy"), path("ctx2/context.npy"));
    assert_same(path("ctx1/context.ids.txt"), path("ctx2/context.ids.txt"));
}

/* ------------------------------------------------------------------------ */
/* eval                                                                      */
/* ------------------------------------------------------------------------ */

/* Evaluates with args (one process, then -np 2 and 3) and compares the
 * metrics JSON, the run file and the summary line on stdout. */
static void eval_check(const char *tag, const char *args) {
    char m[3][700], r[3][700], out1[4096] = "";
    for (int p = 1; p <= 3; p++) {
        snprintf(m[p - 1], sizeof m[0], "%s/%s%d.json", fixture(), tag, p);
        snprintf(r[p - 1], sizeof r[0], "%s/%s%d.trec", fixture(), tag, p);
        int rc = p == 1 ? tu_sh("%s eval --beir %s %s --out %s --run-out %s --threads 1 --quiet",
                                tu_strata(), path("beir"), args, m[0], r[0])
                        : tu_sh("%s %d %s eval --beir %s %s --out %s --run-out %s --threads 1 "
                                "--quiet",
                                MPIRUN, p, tu_strata(), path("beir"), args, m[p - 1], r[p - 1]);
        if (rc != 0) fail_msg("eval %s (np %d) failed (%d): %s", tag, p, rc, tu_last_err());
        if (p == 1) snprintf(out1, sizeof out1, "%s", tu_last_out());
        else assert_string_equal(out1, tu_last_out());
    }
    for (int p = 2; p <= 3; p++) {
        assert_same(m[0], m[p - 1]);
        assert_same(r[0], r[p - 1]);
    }
}

static void test_eval_embeddings(void **state) {
    (void)state;
    require_mpi();
    /* the embeddings: hash, so duplicate documents tie exactly */
    assert_int_equal(tu_sh("%s embed --model hash --input %s --out %s --quiet", tu_strata(),
                           path("beir"), path("C.npy")), 0);
    assert_int_equal(tu_sh("%s embed --model hash --input %s --field queries --out %s --quiet",
                           tu_strata(), path("beir"), path("Q.npy")), 0);
    char a[1024];
    snprintf(a, sizeof a, "--doc-emb %s --query-emb %s --top-k 10", path("C.npy"), path("Q.npy"));
    eval_check("e1", a);
    snprintf(a, sizeof a, "--doc-emb %s --query-emb %s --cosine --ignore-identical-ids",
             path("C.npy"), path("Q.npy"));
    eval_check("e2", a);
    /* float16 embeddings, k larger than a shard */
    assert_int_equal(tu_sh("%s embed --model hash --input %s --fp16 --out %s --quiet",
                           tu_strata(), path("beir"), path("C16.npy")), 0);
    snprintf(a, sizeof a, "--doc-emb %s --query-emb %s --top-k 40", path("C16.npy"),
             path("Q.npy"));
    eval_check("e3", a);
}

static void test_eval_model(void **state) {
    (void)state;
    require_mpi();
    eval_check("mh", "--model hash --top-k 10 --ignore-identical-ids");
    char a[1024];
    snprintf(a, sizeof a, "--model %s --encode-batch 4 --precision fp32", path("bert"));
    setenv("STRATA_EMBED_CHUNK", "16", 1);
    eval_check("mb", a);
    /* contextual: every rank samples and embeds the same context */
    snprintf(a, sizeof a, "--model %s --encode-batch 4 --top-k 20", path("ctx"));
    eval_check("mc", a);
    unsetenv("STRATA_EMBED_CHUNK");
}

/* ------------------------------------------------------------------------ */
/* Failures                                                                  */
/* ------------------------------------------------------------------------ */

/* The "strata: error: ..." line of the last run's stderr (static). */
static const char *error_line(void) {
    static char line[2048];
    const char *e = strstr(tu_last_err(), "strata: error: ");
    if (!e) return "";
    size_t n = strcspn(e, "\n");
    snprintf(line, sizeof line, "%.*s", (int)n, e);
    return line;
}

/* One process and -np 2 fail with the same message, leaving no output. */
static void fail_check(const char *cmd, const char *out) {
    char msg1[2048];
    int rc = tu_sh("%s %s --threads 1", tu_strata(), cmd);
    assert_int_equal(rc, 1);
    snprintf(msg1, sizeof msg1, "%s", error_line());
    assert_true(msg1[0] != '\0');
    for (int p = 2; p <= 3; p++) {
        rc = tu_sh("%s %d %s %s --threads 1", MPIRUN, p, tu_strata(), cmd);
        if (rc == 0) fail_msg("np %d succeeded: %s", p, cmd);
        assert_string_equal(msg1, error_line());
        /* once, from rank 0 */
        const char *e = strstr(tu_last_err(), "strata: error: ");
        assert_null(strstr(e + 1, "strata: error: "));
        if (out) assert_false(tu_exists(out));
    }
    assert_int_equal(tu_count_files(fixture(), ".tmp."), 0);
}

static void test_failures(void **state) {
    (void)state;
    require_mpi();
    /* invalid UTF-8 in the last pair: only the last rank's share sees it */
    size_t n;
    char *txt = tu_read(path("pairs.jsonl"), &n);
    assert_non_null(txt);
    FILE *f = fopen(path("bad.jsonl"), "w");
    fwrite(txt, 1, n, f);
    fprintf(f, "{\"query\": \"w5 \xff w6\", \"positive\": \"w7\"}\n");
    fclose(f);
    free(txt);
    char c[1024];
    snprintf(c, sizeof c, "embed --model hash --input %s --out %s", path("bad.jsonl"),
             path("bad.npy"));
    fail_check(c, path("bad.npy"));
    snprintf(c, sizeof c, "embed --model %s --input %s --out %s", path("bert"),
             path("bad.jsonl"), path("bad.npy"));
    setenv("STRATA_EMBED_CHUNK", "16", 1);
    fail_check(c, path("bad.npy"));
    unsetenv("STRATA_EMBED_CHUNK");
    /* an unwritable output */
    snprintf(c, sizeof c, "embed --model hash --input %s --out %s/none/x.npy", path("pairs.jsonl"),
             fixture());
    fail_check(c, NULL);
    /* a NaN in the last corpus row: only the last shard sees it */
    assert_int_equal(tu_sh("%s embed --model hash --input %s --out %s --quiet", tu_strata(),
                           path("beir"), path("Cn.npy")), 0);
    assert_int_equal(tu_sh("%s embed --model hash --input %s --field queries --out %s --quiet",
                           tu_strata(), path("beir"), path("Qn.npy")), 0);
    strata_npy a;
    strata_error err;
    assert_int_equal(strata_npy_load(&a, path("Cn.npy"), &err), STRATA_OK);
    float *x = malloc((size_t)a.count * sizeof *x);
    memcpy(x, a.data, (size_t)a.count * sizeof *x);
    int64_t shape[2] = {a.shape[0], a.shape[1]};
    strata_npy_free(&a);
    x[(size_t)(NDOCS - 1) * shape[1] + 3] = NAN;
    remove(path("Cn.ids.txt"));
    remove(path("Qn.ids.txt"));
    assert_int_equal(strata_npy_save(path("Cn.npy"), STRATA_DTYPE_F32, 2, shape, x, &err), 0);
    free(x);
    snprintf(c, sizeof c, "eval --beir %s --doc-emb %s --query-emb %s --out %s --run-out %s",
             path("beir"), path("Cn.npy"), path("Qn.npy"), path("bad.json"), path("bad.trec"));
    fail_check(c, path("bad.json"));
    assert_false(tu_exists(path("bad.trec")));
}

/* ------------------------------------------------------------------------ */
/* The library hook, without MPI                                             */
/* ------------------------------------------------------------------------ */

/* A stand-in for a 2-process allreduce, seen from process 0: adds process
 * 1's contribution (its failure flag, then its text count and df). */
typedef struct fake_peer {
    int64_t failed;
    const strata_hash_idf *idf;
    int calls;
} fake_peer;

static int fake_allreduce(void *ud, int64_t *buf, size_t n) {
    fake_peer *p = ud;
    p->calls++;
    if (n == 1) {
        buf[0] += p->failed;
        return 0;
    }
    assert_int_equal(n, 1 + (size_t)STRATA_HASH_BUCKETS);
    buf[0] += p->idf->n_docs;
    for (size_t b = 0; b < STRATA_HASH_BUCKETS; b++) buf[1 + b] += p->idf->df[b];
    return 0;
}

/* strata_embedder_fit_shared on a share plus the other share's counts
 * embeds the same bytes as strata_embedder_fit on all the texts; a failed
 * peer makes it fail with ESTATE after one reduction. Runs without MPI. */
static void test_fit_shared_hook(void **state) {
    (void)state;
    enum { NT = 40, SPLIT = 17, DIM = 48 };
    char text[NT][256];
    const char *t[NT];
    size_t len[NT];
    uint64_t s = 99;
    for (int i = 0; i < NT; i++) {
        words(text[i], sizeof text[i], &s, 12);
        t[i] = text[i];
        len[i] = strlen(text[i]);
    }
    strata_error err;
    strata_embedder_params p = strata_embedder_default_params();
    p.hash.dim = DIM;
    p.hash.bigrams = 1;
    strata_embedder *all, *shared;
    assert_int_equal(strata_embedder_open(&all, "hash", &p, &err), STRATA_OK);
    assert_int_equal(strata_embedder_open(&shared, "hash", &p, &err), STRATA_OK);
    assert_int_equal(strata_embedder_fit(all, t, len, NT, NULL, &err), STRATA_OK);
    strata_hash_idf peer;
    assert_int_equal(strata_hash_idf_fit(&peer, t + SPLIT, len + SPLIT, NT - SPLIT, &p.hash, &err),
                     STRATA_OK);
    fake_peer fp = {0, &peer, 0};
    assert_int_equal(strata_embedder_fit_shared(shared, t, len, SPLIT, NULL, fake_allreduce, &fp,
                                                &err),
                     STRATA_OK);
    assert_int_equal(fp.calls, 2);
    float *a = malloc(sizeof(float) * NT * DIM), *b = malloc(sizeof(float) * NT * DIM);
    assert_int_equal(strata_embedder_embed(all, t, len, NT, NULL, a, &err), STRATA_OK);
    assert_int_equal(strata_embedder_embed(shared, t, len, NT, NULL, b, &err), STRATA_OK);
    assert_memory_equal(a, b, sizeof(float) * NT * DIM);
    /* only this share's counts: a different table (the test can fail) */
    fake_peer none = {0, &peer, 0};
    strata_hash_idf zero = peer;
    zero.n_docs = 0;
    zero.df = calloc(STRATA_HASH_BUCKETS, sizeof(int64_t));
    none.idf = &zero;
    assert_int_equal(strata_embedder_fit_shared(shared, t, len, SPLIT, NULL, fake_allreduce, &none,
                                                &err),
                     STRATA_OK);
    assert_int_equal(strata_embedder_embed(shared, t, len, NT, NULL, b, &err), STRATA_OK);
    assert_true(memcmp(a, b, sizeof(float) * NT * DIM) != 0);
    free(zero.df);
    /* a failed peer: ESTATE after the failure reduction alone, not fitted */
    fake_peer bad = {1, &peer, 0};
    assert_int_equal(strata_embedder_fit_shared(shared, t, len, SPLIT, NULL, fake_allreduce, &bad,
                                                &err),
                     STRATA_ESTATE);
    assert_int_equal(bad.calls, 1);
    assert_non_null(strstr(err.msg, "another process failed"));
    assert_int_equal(strata_embedder_needs_fit(shared), 1);
    /* a share with invalid UTF-8 reports its own text, and still reduces */
    const char *badt[2] = {"w5 w6", "w7 \xff"};
    size_t badl[2] = {5, 4};
    fake_peer ok = {0, &peer, 0};
    assert_int_equal(strata_embedder_fit_shared(shared, badt, badl, 2, NULL, fake_allreduce, &ok,
                                                &err),
                     STRATA_EFORMAT);
    assert_int_equal(ok.calls, 1);
    assert_int_equal(err.item, 1);
    strata_hash_idf_free(&peer);
    strata_embedder_free(all);
    strata_embedder_free(shared);
    free(a);
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_shared_hook),
        cmocka_unit_test(test_embed_hash),      cmocka_unit_test(test_embed_bert),
        cmocka_unit_test(test_embed_contextual), cmocka_unit_test(test_eval_embeddings),
        cmocka_unit_test(test_eval_model),       cmocka_unit_test(test_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
