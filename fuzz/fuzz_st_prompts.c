/*
 * fuzz_st_prompts.c — libFuzzer target for the sentence-transformers
 * settings of a model folder: sentence_bert_config.json (the input's first
 * part) and config_sentence_transformers.json (the second part after
 * FUZZ_SEP, absent when there is none), read by strata_bert_load beside a
 * tiny valid model (its manifest.json removed, so the files can change). An
 * accepted folder must give a max_seq_length in 0..2^20 and embed a text,
 * with its default prompt and with each of its prompts, to finite rows.
 */
#include <math.h>

#include "fuzz_common.h"
#include "strata/encoder.h"

static const char *g_dir;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    g_dir = fuzz_tiny_model_unsealed("model");
    return 0;
}

static void embed_ok(const strata_bert *m, const char *prompt) {
    const char *text = "alpha beta";
    size_t tl = strlen(text);
    float out[8];
    strata_error err;
    strata_embed_params ep = strata_embed_default_params();
    ep.prompt = prompt;
    if (strata_bert_embed_texts(m, &text, &tl, 1, &ep, out, &err) == STRATA_OK) {
        for (int i = 0; i < 8; i++)
            if (!isfinite(out[i])) __builtin_trap();
    } else if (err.status != STRATA_EFORMAT) { /* only a prompt of invalid UTF-8 */
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *part[2];
    size_t len[2];
    int np = fuzz_split(data, size, part, len, 2);
    fuzz_write(fuzz_join(g_dir, "sentence_bert_config.json"), part[0], len[0]);
    const char *cp = fuzz_join(g_dir, "config_sentence_transformers.json");
    if (np >= 2) fuzz_write(cp, part[1], len[1]);
    else unlink(cp);
    strata_bert *m = NULL;
    strata_error err;
    strata_error_clear(&err);
    strata_status st = strata_bert_load(&m, g_dir, &err);
    fuzz_check_error(st, &err);
    if (st == STRATA_OK) {
        if (m->cfg.max_seq_length < 0 || m->cfg.max_seq_length > (1 << 20)) __builtin_trap();
        embed_ok(m, strata_bert_default_prompt(m));
        embed_ok(m, strata_bert_query_prompt(m));
        embed_ok(m, strata_bert_doc_prompt(m));
        strata_bert_free(m);
    } else if (m) {
        __builtin_trap();
    }
    return 0;
}
