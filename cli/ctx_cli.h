/*
 * ctx_cli.h — the context of a contextual model for `strata embed` and
 * `strata eval` (--context CORPUS|E.npy|null, --context-size J).
 */
#ifndef STRATA_CTX_CLI_H
#define STRATA_CTX_CLI_H

#include "cli.h"
#include "strata/contextual.h"
#include "strata/data.h"

typedef struct cli_ctx {
    float *E;      /* [J, C] malloc'd (strata_malloc); NULL: null context */
    int J;         /* context slots                                         */
    char *ids;     /* one line per slot: the sampled document's id (BEIR
                      _id, or "pair N" for a pairs file); NULL when the
                      context came from an .npy or is null                 */
    const char *what; /* "null", "stored", or the corpus path             */
} cli_ctx;

/* Resolves spec: "null" (every slot v_null), a path ending in .npy (a
 * stored context [J, C], e.g. an earlier context.npy), a BEIR folder (its
 * corpus) or a pairs file (its positives). spec NULL: the corpus of
 * fallback (eval: the BEIR set being scored). J_req > 0 overrides the
 * model's J (for an .npy it must equal its rows). The sample is
 * strata_ctx_sample(n, J, seed, 0), oversampled when the corpus has fewer
 * than J documents. max_len/batch: the embedding parameters. */
strata_status cli_ctx_resolve(const cli_env *env, const strata_ctx_model *m,
                              const char *spec, int J_req,
                              const strata_beir *fallback, int max_len,
                              int batch, cli_ctx *out, strata_error *err);

/* Writes DIR/context.npy [J, C] float32 and DIR/context.ids.txt (when
 * ids), each atomically, DIR being the folder of out_path. Nothing when
 * the context is null or was read from an .npy. */
strata_status cli_ctx_save(const cli_ctx *c, int C, const char *out_path,
                           strata_error *err);

void cli_ctx_free(cli_ctx *c);

#endif
