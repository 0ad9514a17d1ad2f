/*
 * mpi_cli.h — `strata embed` and `strata eval` under Open MPI's mpirun.
 *
 * A command runs on P ranks when launched by `mpirun -np P` (Open MPI sets
 * OMPI_COMM_WORLD_SIZE) in a build with MPI (STRATA_HAVE_MPI); otherwise
 * everything here is the single-process path (rank 0 of 1) and a plain run
 * never initializes MPI. The library does not call MPI: these helpers pass
 * it collective hooks (strata_embedder_fit_shared) or do the communication
 * themselves (the output file, the top-k merge).
 *
 * Conventions: rank r owns rows [N·r/P, N·(r+1)/P) (cli_mpi_range; for
 * BERT-family embedders whole chunks of texts, cli_mpi_range_chunks). Ranks
 * other than 0 print nothing (their stdout and stderr go to /dev/null;
 * their cli_env is quiet). Every failure is agreed on (cli_mpi_agree)
 * before anything is committed: every rank then holds the message of the
 * lowest failing rank, rank 0 prints it once and every rank exits 1.
 */
#ifndef STRATA_MPI_CLI_H
#define STRATA_MPI_CLI_H

#include "cli.h"
#include "strata/data.h"
#include "strata/embedder.h"
#include "strata/eval.h"
#include "strata/io.h"

typedef struct cli_mpi {
    int on;      /* MPI initialized (launched by mpirun, MPI build) */
    int rank, size;
    cli_env env; /* the command's env; quiet, no progress on ranks > 0 */
} cli_mpi;

/* Initializes MPI when launched by mpirun (else rank 0 of 1) and copies
 * *env to m->env (quiet on ranks > 0). */
void cli_mpi_init(cli_mpi *m, const cli_env *env);
/* Finalizes MPI when it was initialized; returns rc. */
int cli_mpi_finalize(cli_mpi *m, int rc);

/* Rows [r0, r1) of n that this rank owns. */
void cli_mpi_range(const cli_mpi *m, int64_t n, int64_t *r0, int64_t *r1);

/* Texts per embedding call: the window in which a BERT-family embedder
 * sorts texts by length and cuts its batches, so its results depend on it
 * (a text's bits may change with its batch's composition). 8192, the
 * library's own window; $STRATA_EMBED_CHUNK (>= 1) overrides it, for tests
 * on tiny inputs (the same value must be given to the runs compared). */
int64_t cli_embed_chunk(void);

/* Rows [r0, r1) of n in whole chunks: rank r owns chunks [K·r/P, K·(r+1)/P)
 * of the K = ceil(n / chunk) chunks, so every embedding call, and with it
 * every batch, is the one a single process makes (byte-identical output). */
void cli_mpi_range_chunks(const cli_mpi *m, int64_t n, int64_t chunk, int64_t *r0,
                          int64_t *r1);

/* Embeds texts [r0, r1) in calls of `chunk` texts from r0 into out
 * [r1 - r0, D]; progress counts r1 - r0 texts; an error about a text names
 * its index from 0 (err->item, "text K"). */
strata_status cli_embed_rows(const strata_embedder *e, const char *const *t, const size_t *len,
                             int64_t r0, int64_t r1, int64_t chunk, const strata_progress *prog,
                             float *out, strata_error *err);

/* The int64 sum-allreduce hook (strata_allreduce_i64_fn); ud: the cli_mpi. */
int cli_mpi_allreduce_i64(void *ud, int64_t *buf, size_t n);

/* Collective: every rank passes its own status. Returns STRATA_OK when all
 * succeeded; else the status of the lowest failing rank, whose error is
 * copied into every rank's *err. Single process: returns st. */
strata_status cli_mpi_agree(const cli_mpi *m, strata_status st, strata_error *err);

/* The exit code of an agreed failure: rank 0 prints it (cli_fail), other
 * ranks stay silent. A usage-class status is reported as a failure (1). */
int cli_mpi_fail(const cli_mpi *m, const strata_error *err);

/* An error about text K of a call on a share starting at text `offset`:
 * rewritten as "text offset+K: ..." (err->item too), so messages name the
 * same text as in one process. Nothing when err->item < 0. */
void cli_mpi_reitem(strata_error *err, int64_t offset);

/* ------------------------------------------------------------------------ */
/* One .npy written by all ranks                                             */
/* ------------------------------------------------------------------------ */

/* An output matrix [rows, cols] of float32 or float16 where each rank
 * writes its rows [row0, row1): single process, the streaming atomic
 * writer; under MPI rank 0 creates the temporary file with the header and
 * its final size, every rank writes its rows at their offsets (pwrite), and
 * rank 0 renames it once every rank has written (no rank holds all rows). */
typedef struct cli_npy_out {
    strata_npy_writer w; /* rank 0 (and the single process) */
    int fd;              /* MPI ranks > 0: the temporary file; else -1 */
    int mpi;             /* 1: the MPI protocol */
    size_t hdr;          /* header bytes */
    size_t esz;          /* bytes per element */
    int64_t cols, next;  /* next row this rank writes */
    uint16_t *half;      /* float16 conversion buffer */
    size_t half_n;
} cli_npy_out;

/* Collective (agreed). */
strata_status cli_npy_out_open(cli_npy_out *o, const cli_mpi *m, const char *path,
                               strata_dtype dt, int64_t rows, int64_t cols, int64_t row0,
                               strata_error *err);
/* This rank's next n rows (float32, converted to the file's dtype). */
strata_status cli_npy_out_write_f32(cli_npy_out *o, const float *x, int64_t n,
                                    strata_error *err);
/* Collective: agrees on every rank's writes, then rank 0 renames (its
 * result agreed too). On failure nothing is left behind. */
strata_status cli_npy_out_commit(cli_npy_out *o, const cli_mpi *m, strata_error *err);
/* Removes the temporary file (rank 0); safe after commit. */
void cli_npy_out_abort(cli_npy_out *o);

/* ------------------------------------------------------------------------ */
/* eval: the corpus sharded across ranks                                     */
/* ------------------------------------------------------------------------ */

/* Rows [r0, r1) of a 2-D float32/float16 .npy as float32: the file is
 * mapped and only those rows are touched (float16 converted for them
 * only). rows/cols: the whole matrix. */
typedef struct cli_rows {
    strata_npy npy;
    const float *data; /* [r1 - r0, cols] */
    float *owned;
    int64_t rows, cols;
} cli_rows;

strata_status cli_rows_open(cli_rows *v, const char *path, int64_t r0, int64_t r1,
                            strata_error *err);
void cli_rows_close(cli_rows *v);

/* strata_eval_retrieve with the corpus sharded: this rank holds corpus rows
 * [c0, c1) in Cs and every query in Q [queries, D]; each rank searches its
 * shard for every judged query (strata_topk_ip, unscaled, indices made
 * global), rank 0 gathers the per-query lists and merges them with the
 * kernel's order (score descending, then lower corpus index), then scales
 * and filters exactly as strata_eval_retrieve: rank 0's *out equals the
 * single-process run, ties included. Other ranks get an empty run.
 * Collective (agreed). */
strata_status cli_mpi_retrieve(const cli_mpi *m, const strata_beir *b, const float *Cs,
                               int64_t c0, int64_t c1, const float *Q, int D,
                               const strata_eval_options *o, strata_run *out,
                               strata_error *err);

#endif
