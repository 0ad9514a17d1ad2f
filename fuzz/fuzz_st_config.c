/*
 * fuzz_st_config.c — libFuzzer target for the sentence-transformers files
 * of a model folder: 1_Pooling/config.json (the input's first part) and
 * modules.json (the second part after FUZZ_SEP, absent when there is none),
 * read by strata_bert_load beside a tiny valid model (its manifest.json
 * removed). An accepted folder
 * must give CLS or mean pooling and embed a text to a finite row (unit norm
 * when modules.json asked for Normalize).
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const names[2] = {"1_Pooling/config.json", "modules.json"};
    fuzz_write_parts(g_dir, data, size, names, 2, 1);
    strata_bert *m = NULL;
    strata_error err;
    strata_error_clear(&err);
    strata_status st = strata_bert_load(&m, g_dir, &err);
    fuzz_check_error(st, &err);
    if (st == STRATA_OK) {
        if ((m->cfg.pool != STRATA_POOL_CLS && m->cfg.pool != STRATA_POOL_MEAN) ||
            (m->cfg.normalize != 0 && m->cfg.normalize != 1))
            __builtin_trap();
        const char *text = "alpha beta";
        size_t tl = strlen(text);
        float out[8];
        strata_embed_params ep = strata_embed_default_params();
        if (strata_bert_embed_texts(m, &text, &tl, 1, &ep, out, &err)) __builtin_trap();
        double n2 = 0;
        for (int i = 0; i < 8; i++) {
            if (!isfinite(out[i])) __builtin_trap();
            n2 += (double)out[i] * out[i];
        }
        if (m->cfg.normalize && fabs(n2 - 1) > 1e-4) __builtin_trap();
        strata_bert_free(m);
    } else if (m) {
        __builtin_trap();
    }
    return 0;
}
