/*
 * fuzz_tok_encode.h — shared by the tokenizer targets: loads a tokenizer,
 * encodes fixed texts and the input itself with it and checks every id is in
 * the vocabulary, the specials frame the ids, truncation keeps max_len, and
 * the basic tokenizer agrees on validity.
 */
#ifndef STRATA_FUZZ_TOK_ENCODE_H
#define STRATA_FUZZ_TOK_ENCODE_H

#include "fuzz_common.h"
#include "strata/encoder.h"

static inline void fuzz_word_cb(void *ud, const char *w, size_t len) {
    (void)ud;
    if (strlen(w) != len || len == 0) __builtin_trap();
}

static inline void fuzz_encode_check(const strata_tokenizer *tok, const char *text, size_t len) {
    int V = strata_tokenizer_vocab_size(tok);
    int cls = strata_tokenizer_special(tok, "[CLS]"), sep = strata_tokenizer_special(tok, "[SEP]");
    if (V < 1 || cls < 0 || sep < 0) __builtin_trap();
    strata_error err;
    strata_error_clear(&err);
    int32_t *ids = NULL;
    int n = 0;
    strata_status st = strata_tokenizer_encode_alloc(tok, text, len, 1, 0, &ids, &n, &err);
    fuzz_check_error(st, &err);
    if (st == STRATA_OK) {
        if (n < 2 || ids[0] != cls || ids[n - 1] != sep) __builtin_trap();
        for (int i = 0; i < n; i++) {
            if (ids[i] < 0 || ids[i] >= V) __builtin_trap();
            if (!strata_tokenizer_token(tok, ids[i])) __builtin_trap();
        }
        int32_t small[6];
        int m = 0;
        if (strata_tokenizer_encode(tok, text, len, 1, 6, small, &m, &err) != STRATA_OK)
            __builtin_trap();
        if (m < 2 || m > 6 || small[m - 1] != sep) __builtin_trap();
        for (int i = 0; i + 1 < m; i++)
            if (small[i] != ids[i]) __builtin_trap();
        strata_free(ids);
    }
    strata_tokenizer_options o = strata_tokenizer_default_options();
    strata_status sb = strata_tokenizer_basic(&o, text, len, fuzz_word_cb, NULL, &err);
    if ((sb == STRATA_OK) != (st == STRATA_OK)) __builtin_trap();
}

static inline void fuzz_encode_all(const strata_tokenizer *tok, const uint8_t *data,
                                   size_t size) {
    static const char *const texts[] = {
        "", "alpha beta", "Hello, World! naïve café", "running runs [SEP] x",
        "中文字符 and ﬁ ligature", "a\tb\nc\r\x01d", "[CLS][UNK] ##s"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        fuzz_encode_check(tok, texts[i], strlen(texts[i]));
    fuzz_encode_check(tok, (const char *)data, size);
}

/* Loads the tokenizer at path (a tokenizer.json or a vocab.txt folder) and
 * checks the contract: a failure explains itself and leaves no tokenizer;
 * an accepted one encodes the fixed texts and the input (fuzz_encode_all). */
static inline void fuzz_tokenizer_check(const char *path, const uint8_t *data, size_t size) {
    strata_tokenizer *tok = NULL;
    strata_error err;
    strata_error_clear(&err);
    strata_status st = strata_tokenizer_load(&tok, path, NULL, &err);
    fuzz_check_error(st, &err);
    if (st == STRATA_OK) {
        fuzz_encode_all(tok, data, size);
        strata_tokenizer_free(tok);
    } else if (tok) {
        __builtin_trap();
    }
}

#endif
