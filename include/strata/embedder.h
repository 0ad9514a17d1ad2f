/*
 * embedder.h — one interface over the ways Strata turns texts into
 * vectors: the hashed TF-IDF embedder (embed.h), a BERT model folder
 * (encoder.h) and a contextual model folder (contextual.h).
 *
 * A command that embeds (`strata embed`, `strata eval --model`) opens an
 * embedder by name and then calls it the same way whatever it is:
 *
 *   strata_embedder *e;
 *   strata_embedder_params p = strata_embedder_default_params();
 *   strata_embedder_open(&e, "hash" | "path/to/model", &p, &err);
 *   if (strata_embedder_needs_fit(e))          hash without --idf
 *       strata_embedder_fit(e, texts, lens, n, progress, &err);
 *   if (strata_embedder_contextual(e))         a contextual model
 *       strata_embedder_set_context(e, E, J, &err);
 *   strata_embedder_embed(e, texts, lens, n, progress, out, &err);
 *   strata_embedder_free(e);
 *
 * Errors about one text carry its index in err->item (strata_error_item):
 * "text K: invalid UTF-8 at byte 5", K counted within the call's texts.
 * Results do not depend on the thread count. An embedder is not shared
 * between threads while it is being fitted or given a context; embedding
 * is safe from one thread at a time (it uses OpenMP inside).
 */
#ifndef STRATA_EMBEDDER_H
#define STRATA_EMBEDDER_H

#include "strata/contextual.h"
#include "strata/embed.h"
#include "strata/encoder.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct strata_embedder strata_embedder;

typedef enum strata_embedder_kind {
    STRATA_EMBEDDER_HASH = 0,    /* the built-in hashed TF-IDF embedder  */
    STRATA_EMBEDDER_BERT = 1,    /* a BERT / sentence-transformers folder */
    STRATA_EMBEDDER_CONTEXTUAL = 2 /* a contextual model folder          */
} strata_embedder_kind;

typedef struct strata_embedder_params {
    strata_hash_params hash;   /* hash: dim, bigrams, nnz, seed (its
                                  progress is ignored: give it to the calls) */
    const char *idf;           /* hash: an IDF table to load (a file
                                  strata_hash_idf_save wrote) instead of
                                  fitting one; default NULL                 */
    strata_embed_params embed; /* BERT, contextual: max_len, batch_size,
                                  precision (its progress is ignored);
                                  BERT: prompt (text prepended to every
                                  text; NULL: see prompt_name)               */
    const char *prompt_name;   /* BERT: the folder's prompt of this name
                                  (error when absent, or with embed.prompt);
                                  NULL (default) with embed.prompt NULL: the
                                  folder's default prompt, if any           */
    int pool;                  /* BERT: -1 the folder's pooling (default),
                                  else a strata_pool                        */
    int normalize;             /* BERT: -1 the folder's (default), 0 or 1   */
} strata_embedder_params;

strata_embedder_params strata_embedder_default_params(void);

/* Opens model: "hash", or a folder, a contextual one (strata_ctx_is_model_dir)
 * or else a BERT one. Checks the parameters that apply to it (EINVAL) and
 * that none is set which does not: an IDF table, pooling or normalization
 * for a model they do not belong to, a precision other than fp32/auto for
 * the contextual model. *out is NULL on failure. */
strata_status strata_embedder_open(strata_embedder **out, const char *model,
                                   const strata_embedder_params *p,
                                   strata_error *err);
void strata_embedder_free(strata_embedder *e); /* accepts NULL */

strata_embedder_kind strata_embedder_kind_of(const strata_embedder *e);
/* The BERT model, NULL for other kinds (to read its prompts). */
const strata_bert *strata_embedder_bert(const strata_embedder *e);
/* BERT: replaces the prompt prepended to every text (text copied; NULL or
 * "" none). Other kinds: ESTATE. */
strata_status strata_embedder_set_prompt(strata_embedder *e, const char *text,
                                         strata_error *err);

/* Output dimensions D: rows written by strata_embedder_embed are [D]. */
int strata_embedder_dim(const strata_embedder *e);

/* 1 when the embedder must be fitted before it embeds (hash without an
 * IDF table), else 0. */
int strata_embedder_needs_fit(const strata_embedder *e);
/* hash: fits the IDF table on n texts (replacing any). Other kinds:
 * ESTATE (nothing to fit). Progress: stage "idf", unit "texts". */
strata_status strata_embedder_fit(strata_embedder *e, const char *const *texts,
                                  const size_t *lens, int64_t n,
                                  const strata_progress *progress,
                                  strata_error *err);
/* A sum over every process of a distributed run, in place: n int64 in
 * buf; returns 0, or -1 when the communication failed. The library never
 * calls MPI itself: the caller (the CLI under mpirun) supplies this. */
typedef int (*strata_allreduce_i64_fn)(void *ud, int64_t *buf, size_t n);

/* hash, collective: every process passes its own share of the fit texts
 * (the shares, in process order, make up the texts strata_embedder_fit
 * would be given); document frequencies and the text count are summed
 * with allreduce (exact integers), so the IDF table is bit-identical to a
 * fit on all the texts in one process, while each process counts only its
 * share and holds only the 2^20-bucket tables (about 12 MB). Every process
 * must call it, also one whose share failed: a failing share is reported
 * through the same reduction, so no process waits; the others then fail
 * with ESTATE "another process failed fitting the IDF table" (the fit of
 * a process's own share never returns ESTATE), and the caller reports the
 * failing process's own message. Errors about a text
 * carry its index within this share in err->item. Other kinds: ESTATE. */
strata_status strata_embedder_fit_shared(strata_embedder *e,
                                         const char *const *texts,
                                         const size_t *lens, int64_t n,
                                         const strata_progress *progress,
                                         strata_allreduce_i64_fn allreduce,
                                         void *ud, strata_error *err);
/* hash: writes its IDF table (strata_hash_idf_save); ESTATE before a fit
 * or for other kinds. */
strata_status strata_embedder_save_idf(const strata_embedder *e,
                                       const char *path, strata_error *err);

/* The contextual model, NULL for other kinds (to sample and embed a
 * context with strata_ctx_context_from_texts). */
const strata_ctx_model *strata_embedder_contextual(const strata_embedder *e);
/* Contextual: the context the texts are embedded with, E [J, C] (borrowed:
 * it must outlive the embedder's use; NULL: every slot the null vector).
 * J >= 1 (it may differ from the model's own). Other kinds: ESTATE. */
strata_status strata_embedder_set_context(strata_embedder *e, const float *E,
                                          int J, strata_error *err);

/* Embeds n texts (texts[i] has lens[i] bytes of UTF-8) into out [n, D],
 * overwritten. ESTATE when a hash embedder is not fitted or a contextual
 * one has no context. Progress: stage "embed", unit "texts". */
strata_status strata_embedder_embed(const strata_embedder *e,
                                    const char *const *texts,
                                    const size_t *lens, int64_t n,
                                    const strata_progress *progress,
                                    float *out, strata_error *err);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_EMBEDDER_H */
