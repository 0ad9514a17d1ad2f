/*
 * tokenizer_internal.h — the tokenizer object, shared by tokenizer.c (the
 * encoding pipeline) and tokenizer_vocab.c (hash tables, loading, saving).
 * Not public.
 */
#ifndef STRATA_TOKENIZER_INTERNAL_H
#define STRATA_TOKENIZER_INTERNAL_H

#include "strata/encoder.h"

/* Open addressing over token byte strings; slot value = id, -1 empty. */
typedef struct vtable {
    int32_t *slot;   /* [cap] */
    size_t cap;      /* power of two */
} vtable;

struct strata_tokenizer {
    int V;                 /* vocabulary size */
    char *arena;           /* tokens, NUL-terminated, id order */
    size_t *tok_off;       /* [V] offset of token id in arena */
    int *tok_len;          /* [V] byte length */
    vtable full;           /* token -> id */
    vtable cont;           /* "##"-stripped continuation token -> id */
    int lowercase, strip_accents, cjk, clean_text;
    int max_word_chars;
    int unk, cls, sep, pad, mask;
    int special[5];        /* ids matched literally in raw text, -1 none */
    int n_special;
};

/* Token id as a NUL-terminated string. */
static inline const char *strata__tok_str(const strata_tokenizer *t, int id) {
    return t->arena + t->tok_off[id];
}

/* Id of key (the whole token, or for `cont` the token minus its "##") in
 * vt, -1 when absent. */
int strata__tok_find(const strata_tokenizer *t, const vtable *vt, int cont,
                     const char *key, size_t len);

#endif
