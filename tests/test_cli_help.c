/*
 * test_cli_help.c — defaults are written once: `strata CMD --help` prints
 * the defaults of the library's parameter structs (not values parsed before
 * --help), and every option table row of docs/CMD.md that states a numeric
 * default states the one --help prints.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "strata/compare.h"
#include "strata/embedder.h"
#include "strata/encoder.h"
#include "strata/eval.h"
#include "strata/io.h"
#include "strata/kmeans.h"
#include "strata/train.h"
#include "testutil.h"

/* The "(default X)" --help prints for --opt of cmd, copied to out; 0 when
 * the option shows none. */
static int help_default(const char *cmd, const char *opt, char *out, size_t n) {
    /* one line per option: wide enough not to wrap */
    assert_int_equal(tu_sh("COLUMNS=1000 %s %s --help", tu_strata(), cmd), 0);
    const char *h = tu_last_out();
    char key[64];
    snprintf(key, sizeof key, "  --%s ", opt);
    const char *line = strstr(h, key);
    if (!line) return 0;
    const char *end = strchr(line, '\n');
    const char *d = NULL;
    for (const char *p = line; p && p < end; p = strstr(p + 1, "(default "))
        if (strncmp(p, "(default ", 9) == 0) d = p + 9;
    if (!d || d >= end) return 0;
    const char *close = strchr(d, ')');
    snprintf(out, n, "%.*s", (int)(close - d), d);
    return 1;
}

static void expect_default(const char *cmd, const char *opt, double want) {
    char got[64];
    if (!help_default(cmd, opt, got, sizeof got))
        fail_msg("strata %s --help shows no default for --%s", cmd, opt);
    if (strtod(got, NULL) != want)
        fail_msg("strata %s --%s: --help says %s, the library's default is %g", cmd, opt, got,
                 want);
}

/* --help prints the parameter structs' defaults. */
static void test_help_prints_library_defaults(void **state) {
    (void)state;
    strata_embedder_params ep = strata_embedder_default_params();
    expect_default("embed", "dim", ep.hash.dim);
    expect_default("embed", "nnz", ep.hash.nnz);
    expect_default("embed", "encode-batch", ep.embed.batch_size);
    /* --max-len: the model's (0), else STRATA_EMBED_DEFAULT_MAX_LEN, said in words */
    assert_int_equal(ep.embed.max_len, 0);
    char dflt[64], words[96];
    snprintf(words, sizeof words, "max_seq_length from sentence_bert_config.json, else %d)",
             STRATA_EMBED_DEFAULT_MAX_LEN);
    assert_int_equal(help_default("embed", "max-len", dflt, sizeof dflt), 0);
    assert_non_null(strstr(tu_last_out(), words));
    assert_int_equal(help_default("eval", "max-len", dflt, sizeof dflt), 0);
    assert_non_null(strstr(tu_last_out(), words));
    expect_default("eval", "top-k", strata_eval_default_options().k);
    strata_train_params tp = strata_train_default_params();
    expect_default("train", "tau", tp.tau);
    expect_default("train", "lr", tp.lr);
    expect_default("train", "max-len", tp.max_len);
    expect_default("train", "weight-decay", tp.weight_decay);
    expect_default("hardness", "tau", tp.tau);
    strata_kmeans_params kp = strata_kmeans_default_params();
    expect_default("cluster", "niter", kp.niter);
    expect_default("cluster", "nredo", kp.nredo);
    strata_compare_params cp = strata_compare_default_params();
    expect_default("compare", "bootstrap", (double)cp.n_bootstrap);
    expect_default("compare", "confidence", cp.confidence);
}

/* Values given before --help do not show as defaults. */
static void test_help_ignores_parsed_values(void **state) {
    (void)state;
    char got[64];
    assert_int_equal(tu_sh("%s train --tau 0.5 --max-len 7 --help", tu_strata()), 0);
    assert_true(help_default("train", "tau", got, sizeof got));
    assert_int_equal(tu_sh("%s train --tau 0.5 --max-len 7 --help", tu_strata()), 0);
    assert_null(strstr(tu_last_out(), "(default 0.5)"));
    assert_null(strstr(tu_last_out(), "(default 7)"));
    assert_non_null(strstr(tu_last_out(), got));
}

/* One row of a docs option table: 1 when it states a numeric default for
 * a single option whose --help shows a numeric default (and they agree),
 * else 0. */
static int check_row(const char *cmd, const char *docname, const char *line) {
    char opt[64];
    if (sscanf(line, "| `--%63[a-z0-9-]", opt) != 1) return 0;
    const char *cell_end = strchr(line + 1, '|');
    const char *second = strstr(line + 4, "--");
    if (!cell_end || (second && second < cell_end)) return 0; /* several options */
    const char *d = strstr(cell_end, "default");
    if (!d) return 0;
    d += 7;
    while (*d == ' ' || *d == ':' || *d == '`') d++;
    char want[64];
    if (!isdigit((unsigned char)*d) || !help_default(cmd, opt, want, sizeof want) ||
        !(isdigit((unsigned char)want[0]) || want[0] == '-'))
        return 0;
    char num[64]; /* digits, '.', 'e', '-'; "10,000" read as 10000 */
    size_t k = 0;
    for (; k < sizeof num - 1 && *d; d++) {
        if (*d == ',' && isdigit((unsigned char)d[1])) continue;
        if (!isdigit((unsigned char)*d) && !strchr(".e-", *d)) break;
        num[k++] = *d;
    }
    while (k && num[k - 1] == '.') k--; /* a sentence's full stop */
    num[k] = '\0';
    if (strtod(num, NULL) != strtod(want, NULL))
        fail_msg("docs/%s.md: --%s default %s, but strata %s --help says %s", docname, opt, num,
                 cmd, want);
    return 1;
}

/* Every row "| `--opt ...` | ... default N ..." of docs/CMD.md (one option
 * per row) agrees with --help's default for --opt when both are numbers. */
static void test_docs_agree_with_help(void **state) {
    (void)state;
    static const char *cmds[][2] = {{"embed", "embed"},     {"eval", "eval"},
                                    {"train", "train"},     {"cluster", "cluster"},
                                    {"plan", "plan"},       {"compare", "compare"},
                                    {"demo", "demo"},       {"hardness", "plan"}};
    int checked = 0;
    for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
        char path[256];
        snprintf(path, sizeof path, "docs/%s.md", cmds[c][1]);
        char *doc = tu_read(path, NULL);
        assert_non_null(doc);
        for (char *line = doc; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl) *nl = '\0';
            checked += check_row(cmds[c][0], cmds[c][1], line);
            line = nl ? nl + 1 : NULL;
        }
        free(doc);
    }
    print_message("%d documented defaults checked against --help\n", checked);
    assert_true(checked >= 6);
}

/* A slip in a command or option name gets "did you mean"; a word far from
 * every name does not. */
static void test_suggestions(void **state) {
    (void)state;
    assert_int_equal(tu_sh("%s trian", tu_strata()), 2);
    assert_non_null(strstr(tu_last_err(), "did you mean 'train'?"));
    assert_int_equal(tu_sh("%s xyzzy", tu_strata()), 2);
    assert_null(strstr(tu_last_err(), "did you mean"));
    assert_int_equal(tu_sh("%s plan --bach-size 3", tu_strata()), 2);
    assert_non_null(strstr(tu_last_err(), "did you mean --batch-size?"));
    /* a slip of an old spelling suggests the current name */
    assert_int_equal(tu_sh("%s eval --corpus-embs C.npy", tu_strata()), 2);
    assert_non_null(strstr(tu_last_err(), "did you mean --doc-emb?"));
    assert_int_equal(tu_sh("%s plan --query-feild q", tu_strata()), 2);
    assert_non_null(strstr(tu_last_err(), "did you mean --query-field?"));
    assert_int_equal(tu_sh("%s eval --completely-unknown 1", tu_strata()), 2);
    assert_null(strstr(tu_last_err(), "did you mean"));
}

/* Help wraps to the width it is given: no line of any command's help is
 * longer than COLUMNS unless it is one unbreakable word after the indent. */
static void test_help_wraps(void **state) {
    (void)state;
    static const char *cmds[] = {"synth",    "inspect", "tokenize", "embed", "cluster", "plan",
                                 "hardness", "train",   "eval",     "compare", "demo"};
    for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
        assert_int_equal(tu_sh("COLUMNS=72 %s %s --help", tu_strata(), cmds[c]), 0);
        const char *h = tu_last_out();
        for (const char *line = h; *line;) {
            const char *nl = strchr(line, '\n');
            size_t len = nl ? (size_t)(nl - line) : strlen(line);
            if (len > 72) {
                const char *w = line;
                while (*w == ' ') w++;
                if (memchr(w, ' ', len - (size_t)(w - line)))
                    fail_msg("strata %s --help: a line of %zu > 72 columns: %.*s", cmds[c], len,
                             (int)len, line);
            }
            line = nl ? nl + 1 : line + len;
        }
    }
}

/* The pair-field options exist on every command that reads pairs and mean
 * the same: a file with other field names embeds to the same bytes. */
static void test_pair_fields_everywhere(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    const char *std = tu_join(dir, "std.jsonl"), *oth = tu_join(dir, "oth.jsonl");
    tu_write_str(std, "{\"query\": \"red apple\", \"positive\": \"an apple is red\", "
                      "\"source\": \"a\"}\n{\"query\": \"blue sky\", \"positive\": "
                      "\"the sky is blue\", \"source\": \"b\"}\n");
    tu_write_str(oth, "{\"q\": \"red apple\", \"p\": \"an apple is red\", \"s\": \"a\"}\n"
                      "{\"q\": \"blue sky\", \"p\": \"the sky is blue\", \"s\": \"b\"}\n");
    const char *e1 = tu_join(dir, "e1.npy"), *e2 = tu_join(dir, "e2.npy");
    assert_int_equal(tu_sh("%s embed --model hash --input %s --out %s --field positive --quiet",
                           tu_strata(), std, e1), 0);
    assert_int_equal(tu_sh("%s embed --model hash --input %s --out %s --field positive --quiet "
                           "--query-field q --positive-field p --source-field s",
                           tu_strata(), oth, e2), 0);
    size_t n1, n2;
    char *a = tu_read(e1, &n1), *b = tu_read(e2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1);
    free(a);
    free(b);
    /* without the options the other file is refused, naming the field */
    assert_int_not_equal(tu_sh("%s embed --model hash --input %s --out %s --quiet", tu_strata(),
                               oth, e2), 0);
    assert_non_null(strstr(tu_last_err(), "\"query\" missing"));
    static const char *readers[] = {"embed", "cluster", "plan", "hardness", "train", "inspect",
                                    "demo"};
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++) {
        assert_int_equal(tu_sh("COLUMNS=1000 %s %s --help", tu_strata(), readers[i]), 0);
        if (!strstr(tu_last_out(), "--query-field") || !strstr(tu_last_out(), "--source-field"))
            fail_msg("strata %s reads pairs but has no pair-field options", readers[i]);
    }
}

/* An old spelling parses as the option it names (the same bytes out) and
 * --help lists it under "Old spellings". */
static void test_old_spellings(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    const char *pairs = tu_join(dir, "sp.jsonl");
    char buf[8192];
    int k = 0;
    for (int i = 0; i < 40; i++)
        k += snprintf(buf + k, sizeof buf - (size_t)k,
                      "{\"query\": \"topic%d word%d\", \"positive\": \"word%d text%d about "
                      "topic%d\", \"source\": \"s%d\"}\n",
                      i % 5, i, i, i % 7, i % 5, i % 2);
    tu_write_str(pairs, buf);
    char q[512], d[512];
    snprintf(q, sizeof q, "%s", tu_join(dir, "sq.npy"));
    snprintf(d, sizeof d, "%s", tu_join(dir, "sd.npy"));
    assert_int_equal(tu_sh("%s embed --model hash --input %s --out %s --quiet", tu_strata(), pairs,
                           q), 0);
    assert_int_equal(tu_sh("%s embed --model hash --input %s --field positive --out %s --quiet",
                           tu_strata(), pairs, d), 0);
    char a1[512], a2[512];
    snprintf(a1, sizeof a1, "%s", tu_join(dir, "new"));
    snprintf(a2, sizeof a2, "%s", tu_join(dir, "old"));
    assert_int_equal(tu_sh("%s cluster --query-emb %s --doc-emb %s --clusters 3 --out %s --quiet",
                           tu_strata(), q, d, a1), 0);
    assert_int_equal(tu_sh("%s cluster --input %s --input2 %s --k 3 --out %s --quiet",
                           tu_strata(), q, d, a2), 0);
    size_t n1, n2;
    char *x = tu_read(tu_join(a1, "assign.npy"), &n1), *y = tu_read(tu_join(a2, "assign.npy"), &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(x, y, n1);
    free(x);
    free(y);
    /* a required option given by its old name counts as given */
    assert_int_not_equal(tu_sh("%s hardness --plan %s --q %s --d %s --out %s", tu_strata(),
                               tu_join(dir, "no-plan"), q, d, tu_join(dir, "h.json")), 0);
    assert_null(strstr(tu_last_err(), "missing required option"));
    assert_int_equal(tu_sh("%s hardness --help", tu_strata()), 0);
    assert_non_null(strstr(tu_last_out(), "--q means --query-emb"));
    assert_int_equal(tu_sh("COLUMNS=1000 %s eval --help", tu_strata()), 0);
    assert_non_null(strstr(tu_last_out(), "Old spellings"));
    assert_non_null(strstr(tu_last_out(), "--corpus-emb means --doc-emb"));
    /* the current names are listed, the old ones only under Old spellings */
    assert_non_null(strstr(tu_last_out(), "  --doc-emb C.npy"));
    assert_null(strstr(tu_last_out(), "  --corpus-emb C.npy"));
}

/* Options that do not apply to the chosen mode are a usage error (exit 2)
 * naming them, before any input is read. */
static void test_options_that_do_not_apply(void **state) {
    (void)state;
    static const struct {
        const char *args, *want;
    } cases[] = {
        {"embed --model hash --max-len 10 --pool cls --input x --out y",
         "--max-len and --pool do not apply to --model hash"},
        {"embed --model some/bert --dim 64 --input x --out y", "--dim does not apply to a BERT"},
        {"eval --run r.trec --qrels q.tsv --top-k 5", "--top-k does not apply to --run"},
        {"eval --beir b --doc-emb c.npy --query-emb q.npy --max-len 64",
         "--max-len does not apply to given embeddings"},
        {"eval --beir b --model hash --precision bf16", "--precision does not apply to --model hash"},
        {"plan --pairs x --batch-size 4 --strategy random --margin 0.1 --out p",
         "--margin does not apply without --query-emb/--doc-emb"},
        {"train --pairs x --plan y --out z --init m --vocab v.txt", "--vocab does not apply"},
        {"train --pairs x --plan y --out z --init m --steps 0", "--steps must be >= 1"},
        {"demo --init m --layers 3 --hidden 64", "--layers and --hidden do not apply to --init"},
        {"demo --pairs p.jsonl --beir b --topics 3", "--topics does not apply to --pairs"},
        {"demo --embed-model some/bert --dim 64", "--dim does not apply to a BERT --embed-model"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = tu_sh("%s %s", tu_strata(), cases[i].args);
        if (rc != 2 || !strstr(tu_last_err(), cases[i].want))
            fail_msg("strata %s: exit %d, stderr %s (wanted exit 2 and '%s')", cases[i].args, rc,
                     tu_last_err(), cases[i].want);
    }
}

/* Input of the wrong kind is named for what it is: an .npy given as pairs,
 * a DistilBERT folder given as a BERT model. */
static void test_wrong_kind_of_input(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char npy[512];
    snprintf(npy, sizeof npy, "%s", tu_join(dir, "m.npy"));
    float x[4] = {1, 2, 3, 4};
    int64_t shape[2] = {2, 2};
    strata_error err;
    assert_int_equal(strata_npy_save(npy, STRATA_DTYPE_F32, 2, shape, x, &err), STRATA_OK);
    assert_int_equal(tu_sh("%s embed --model hash --input %s --out %s --quiet", tu_strata(), npy,
                           tu_join(dir, "o.npy")), 1);
    assert_non_null(strstr(tu_last_err(), "a NumPy .npy matrix, not a text file"));
    char model[512];
    snprintf(model, sizeof model, "%s", tu_join(dir, "distil"));
    assert_int_equal(tu_sh("mkdir -p %s", model), 0);
    tu_write_str(tu_join(model, "config.json"),
                 "{\"model_type\": \"distilbert\", \"dim\": 768, \"n_layers\": 6, "
                 "\"n_heads\": 12, \"vocab_size\": 30522}\n");
    assert_int_equal(tu_sh("%s embed --model %s --input %s --out %s --quiet", tu_strata(), model,
                           npy, tu_join(dir, "o.npy")), 1);
    assert_non_null(strstr(tu_last_err(), "\"model_type\" is \"distilbert\""));
    assert_null(strstr(tu_last_err(), "hidden_size"));
}

/* A BEIR folder of 20 documents and 6 judged queries, DIR/tinyset. */
static void tiny_beir(char *beir, size_t cap) {
    const char *dir = tu_tmpdir();
    char q[600];
    snprintf(beir, cap, "%s", tu_join(dir, "tinyset"));
    snprintf(q, sizeof q, "%s/qrels", beir);
    assert_int_equal(tu_sh("mkdir -p %s", q), 0);
    char buf[4096];
    int k = 0;
    for (int i = 0; i < 20; i++)
        k += snprintf(buf + k, sizeof buf - (size_t)k,
                      "{\"_id\": \"d%d\", \"title\": \"\", \"text\": \"topic%d word%d "
                      "thing%d\"}\n", i, i % 4, i, i % 3);
    tu_write_str(tu_join(beir, "corpus.jsonl"), buf);
    k = 0;
    for (int i = 0; i < 6; i++)
        k += snprintf(buf + k, sizeof buf - (size_t)k,
                      "{\"_id\": \"q%d\", \"text\": \"topic%d word%d\"}\n", i, i % 4, i);
    tu_write_str(tu_join(beir, "queries.jsonl"), buf);
    k = snprintf(buf, sizeof buf, "query-id\tcorpus-id\tscore\n");
    for (int i = 0; i < 6; i++) k += snprintf(buf + k, sizeof buf - (size_t)k, "q%d\td%d\t1\n", i, i);
    tu_write_str(tu_join(q, "test.tsv"), buf);
}

/* eval --format mteb writes MTEB's results file: the task named after the
 * BEIR folder, the split's scores under MTEB's names, main_score nDCG@10,
 * the same numbers as Strata's own JSON. */
static void test_eval_mteb_format(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char beir[512];
    tiny_beir(beir, sizeof beir);
    char js[600], mt[600];
    snprintf(js, sizeof js, "%s", tu_join(dir, "m.json"));
    snprintf(mt, sizeof mt, "%s", tu_join(dir, "mteb.json"));
    assert_int_equal(tu_sh("%s eval --beir %s --model hash --out %s --quiet", tu_strata(), beir,
                           js), 0);
    assert_int_equal(tu_sh("%s eval --beir %s --model hash --out %s --format mteb --quiet",
                           tu_strata(), beir, mt), 0);
    char *a = tu_read(js, NULL), *b = tu_read(mt, NULL);
    cJSON *ja = cJSON_Parse(a), *jb = cJSON_Parse(b);
    assert_non_null(ja);
    assert_non_null(jb);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(jb, "task_name")), "tinyset");
    const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(jb, "scores"),
                                                              "test"), 0);
    assert_non_null(row);
    const cJSON *mean = cJSON_GetObjectItem(ja, "mean");
    assert_non_null(mean);
    static const char *const pairs[][2] = {{"ndcg_at_10", "ndcg@10"},   {"recall_at_10", "recall@10"},
                                           {"recall_at_100", "recall@100"}, {"mrr_at_10", "mrr@10"},
                                           {"map_at_100", "map@100"},   {"main_score", "ndcg@10"}};
    for (int i = 0; i < 6; i++)
        assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(row, pairs[i][0])) ==
                    cJSON_GetNumberValue(cJSON_GetObjectItem(mean, pairs[i][1])));
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(row, "hf_subset")), "default");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(jb, "evaluation_time")));
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    free(a);
    free(b);
    assert_int_equal(tu_sh("%s eval --beir %s --model hash --format xml --out %s", tu_strata(),
                           beir, mt), 2);
    assert_int_equal(tu_sh("%s eval --beir %s --model hash --format mteb", tu_strata(), beir), 2);
    assert_non_null(strstr(tu_last_err(), "--format does not apply without --out"));
}

/* 1 when `strata cmd --help` lists --name as one of its options (not as an
 * old spelling). */
static int lists_option(const char *cmd, const char *name) {
    assert_int_equal(tu_sh("COLUMNS=1000 %s %s --help", tu_strata(), cmd), 0);
    const char *h = tu_last_out();
    const char *old = strstr(h, "\nOld spellings");
    char key[80];
    snprintf(key, sizeof key, "\n  --%s ", name);
    const char *at = strstr(h, key);
    if (!at) { /* a flag at the end of its name */
        snprintf(key, sizeof key, "\n  --%s\n", name);
        at = strstr(h, key);
    }
    return at && (!old || at < old);
}

/* Every command's option table: the shared concepts have the shared names
 * (docs/README.md "One vocabulary"), each name one meaning, and no old
 * spelling is listed as an option. */
static void test_one_vocabulary(void **state) {
    (void)state;
    static const char *const cmds[] = {"synth", "inspect", "tokenize", "embed", "cluster",
                                       "plan", "hardness", "train", "eval", "compare", "demo"};
    static const struct {
        const char *name, *has[6]; /* the commands that have it; the others must not */
    } vocab[] = {
        {"query-emb", {"cluster", "plan", "hardness", "eval"}},
        {"doc-emb", {"cluster", "plan", "hardness", "eval"}},
        {"clusters", {"cluster", "demo"}},
        {"top-k", {"eval"}},
        {"batch-size", {"plan", "demo"}},
        {"encode-batch", {"embed", "eval"}},
        {"normalize", {"embed"}},
        {"cosine", {"eval"}},
        {"max-len", {"tokenize", "embed", "train", "eval", "demo"}},
        {"query-prompt", {"embed", "train", "eval"}},
        {"doc-prompt", {"embed", "train", "eval"}},
    };
    static const char *const old[] = {"input2", "filter-q", "filter-d", "corpus-emb", "q", "d",
                                      "k"};
    for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
        for (size_t v = 0; v < sizeof vocab / sizeof vocab[0]; v++) {
            int want = 0;
            for (int i = 0; i < 6 && vocab[v].has[i]; i++)
                want |= strcmp(vocab[v].has[i], cmds[c]) == 0;
            if (lists_option(cmds[c], vocab[v].name) != want)
                fail_msg("strata %s %s --%s", cmds[c], want ? "lacks" : "has", vocab[v].name);
        }
        for (size_t o = 0; o < sizeof old / sizeof old[0]; o++)
            if (lists_option(cmds[c], old[o]))
                fail_msg("strata %s lists the old spelling --%s as an option", cmds[c], old[o]);
    }
}

/* embed --query-prompt / --doc-prompt: the prompt of the field's kind, the
 * same bytes as --prompt with that text; the other kind is refused. */
static void test_embed_query_doc_prompts(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char vocab[512], model[512], pairs[512];
    snprintf(vocab, sizeof vocab, "%s", tu_join(dir, "pv.txt"));
    snprintf(model, sizeof model, "%s", tu_join(dir, "pmodel"));
    snprintf(pairs, sizeof pairs, "%s", tu_join(dir, "pp.jsonl"));
    tu_write_str(vocab, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nquery\npassage\n:\nred\nblue\nsky\n");
    tu_write_str(pairs, "{\"query\": \"red sky\", \"positive\": \"blue sky\"}\n");
    strata_tokenizer *tok;
    strata_error err;
    assert_int_equal(strata_tokenizer_load(&tok, vocab, NULL, &err), STRATA_OK);
    strata_bert_config c = {.vocab_size = 11, .hidden_size = 8, .num_layers = 1, .num_heads = 2,
                            .intermediate_size = 16, .max_position = 32, .type_vocab_size = 2,
                            .layer_norm_eps = 1e-12f, .pool = STRATA_POOL_MEAN};
    strata_bert *m;
    assert_int_equal(strata_bert_create(&m, &c, tok, 7, &err), STRATA_OK);
    assert_int_equal(strata_bert_save(m, model, &err), STRATA_OK);
    strata_bert_free(m);
    const char *outs[4] = {"pq1.npy", "pq2.npy", "pd1.npy", "pd2.npy"};
    char o[4][512];
    for (int i = 0; i < 4; i++) snprintf(o[i], sizeof o[i], "%s", tu_join(dir, outs[i]));
    const char *base = "embed --precision fp32 --quiet --input";
    assert_int_equal(tu_sh("%s %s %s --model %s --query-prompt 'query: ' --out %s", tu_strata(),
                           base, pairs, model, o[0]), 0);
    assert_int_equal(tu_sh("%s %s %s --model %s --prompt 'query: ' --out %s", tu_strata(), base,
                           pairs, model, o[1]), 0);
    assert_int_equal(tu_sh("%s %s %s --model %s --field positive --doc-prompt 'passage: ' --out %s",
                           tu_strata(), base, pairs, model, o[2]), 0);
    assert_int_equal(tu_sh("%s %s %s --model %s --field positive --out %s", tu_strata(), base,
                           pairs, model, o[3]), 0);
    size_t n0, n1, n2, n3;
    char *a = tu_read(o[0], &n0), *b = tu_read(o[1], &n1), *c2 = tu_read(o[2], &n2),
         *d = tu_read(o[3], &n3);
    assert_int_equal(n0, n1);
    assert_memory_equal(a, b, n0); /* --query-prompt = --prompt on queries */
    assert_int_equal(n2, n3);
    assert_true(memcmp(c2, d, n2) != 0); /* the document prompt changes the vectors */
    free(a), free(b), free(c2), free(d);
    assert_int_equal(tu_sh("%s %s %s --model %s --field positive --query-prompt x --out %s",
                           tu_strata(), base, pairs, model, o[0]), 2);
    assert_non_null(strstr(tu_last_err(), "--query-prompt does not apply to documents"));

    /* similarity_fn_name: read, checked, written back; eval ranks by what
     * it says or refuses it */
    char beir[512];
    tiny_beir(beir, sizeof beir);
    const char *stc = "config_sentence_transformers.json";
    tu_write_str(tu_join(model, stc), "{\"prompts\": {}, \"similarity_fn_name\": \"dot\"}\n");
    assert_int_equal(tu_sh("rm -f %s/manifest.json", model), 0); /* now a hand-edited folder */
    assert_int_equal(strata_bert_load(&m, model, &err), STRATA_OK);
    assert_string_equal(strata_bert_similarity(m), "dot");
    char again[512];
    snprintf(again, sizeof again, "%s", tu_join(dir, "pmodel2"));
    assert_int_equal(strata_bert_save(m, again, &err), STRATA_OK);
    strata_bert_free(m);
    char *cfg = tu_read(tu_join(again, stc), NULL);
    const char *key = strstr(cfg, "\"similarity_fn_name\"");
    assert_non_null(key);
    assert_true(strncmp(key + strcspn(key + 20, "\"") + 20, "\"dot\"", 5) == 0);
    free(cfg);
    assert_int_equal(tu_sh("%s eval --beir %s --model %s --precision fp32 --quiet", tu_strata(),
                           beir, model), 0);
    tu_write_str(tu_join(model, stc), "{\"similarity_fn_name\": \"manhattan\"}\n");
    assert_int_equal(tu_sh("%s eval --beir %s --model %s --quiet", tu_strata(), beir, model), 1);
    assert_non_null(strstr(tu_last_err(), "similarity_fn_name \"manhattan\""));
    tu_write_str(tu_join(model, stc), "{\"similarity_fn_name\": \"l2\"}\n");
    assert_int_not_equal(strata_bert_load(&m, model, &err), STRATA_OK);
    assert_non_null(strstr(err.msg, "similarity_fn_name"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_prints_library_defaults),
        cmocka_unit_test(test_help_ignores_parsed_values),
        cmocka_unit_test(test_docs_agree_with_help),
        cmocka_unit_test(test_suggestions),
        cmocka_unit_test(test_help_wraps),
        cmocka_unit_test(test_pair_fields_everywhere),
        cmocka_unit_test(test_old_spellings),
        cmocka_unit_test(test_options_that_do_not_apply),
        cmocka_unit_test(test_wrong_kind_of_input),
        cmocka_unit_test(test_eval_mteb_format),
        cmocka_unit_test(test_one_vocabulary),
        cmocka_unit_test(test_embed_query_doc_prompts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
