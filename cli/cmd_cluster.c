/*
 * cmd_cluster.c — `strata cluster`: spherical or asymmetric (CDE) k-means on
 * .npy embeddings, per source, writing assign.npy, centroids.npy, stats.json.
 *
 * Under `mpirun -np P` (Open MPI sets OMPI_COMM_WORLD_SIZE) every rank maps
 * the inputs, touches only its own contiguous row range, and the library
 * combines exact fixed-point sums through the collective hooks below; rank 0
 * gathers the assignment and writes the outputs. A plain `strata cluster`
 * never initializes MPI.
 */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "strata/data.h"
#include "strata/io.h"
#include "strata/kmeans.h"

#ifdef STRATA_HAVE_MPI
#include <mpi.h>
#endif

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

static const char *o_input, *o_input2, *o_mode, *o_pairs, *o_init, *o_out;
static int o_k, o_per_source, o_niter, o_nredo, o_no_bounds;
static int64_t o_cluster_size, o_max_cluster_size, o_mppc, o_init_sample;

static const cli_opt opts[] = {
    {"query-emb", CLI_STRING, &o_input, "Q.npy", "embeddings [N, D], float32 or float16 (queries, or any rows)",
     CLI_REQUIRED},
    {"doc-emb", CLI_STRING, &o_input2, "D.npy", "document embeddings [N, D] of the same pairs (asymmetric)", 0},
    {"mode", CLI_STRING, &o_mode, "MODE", "spherical | asymmetric (default: asymmetric with --doc-emb)", 0},
    {"clusters", CLI_INT, &o_k, "K", "clusters (per source with --per-source)", 0},
    {"cluster-size", CLI_INT64, &o_cluster_size, "S", "K = ceil(n / S) (per source with --per-source)", 0},
    {"pairs", CLI_STRING, &o_pairs, "PAIRS", "pairs file, one per row, for sources and their names", 0},
    {"per-source", CLI_FLAG, &o_per_source, NULL, "cluster each source of --pairs separately", 0},
    {"niter", CLI_INT, &o_niter, "N", "Lloyd iterations", CLI_SHOW_DEFAULT},
    {"nredo", CLI_INT, &o_nredo, "N", "runs with different seeds, best kept", CLI_SHOW_DEFAULT},
    {"init", CLI_STRING, &o_init, "INIT", "kmeans++ | random (default kmeans++)", 0},
    {"init-sample", CLI_INT64, &o_init_sample, "M", "rows k-means++ draws from (default 16K+1024)", 0},
    {"max-cluster-size", CLI_INT64, &o_max_cluster_size, "S", "split larger clusters by recursive 2-means", 0},
    {"max-points-per-centroid", CLI_INT64, &o_mppc, "M",
     "train on a sample of K*M rows (default: every row)", 0},
    {"no-bounds", CLI_FLAG, &o_no_bounds, NULL, "plain Lloyd: re-score every row every iteration", 0},
    {"out", CLI_STRING, &o_out, "DIR", "output directory", CLI_REQUIRED},
    {"input", CLI_STRING, &o_input, NULL, "query-emb", CLI_ALIAS},
    {"input2", CLI_STRING, &o_input2, NULL, "doc-emb", CLI_ALIAS},
    {"k", CLI_INT, &o_k, NULL, "clusters", CLI_ALIAS},
    {0},
};

/* The k-means defaults (strata_kmeans_default_params). */
static void defaults(void) {
    strata_kmeans_params p = strata_kmeans_default_params();
    o_niter = p.niter;
    o_nredo = p.nredo;
    o_init_sample = p.init_sample;
    o_mppc = p.max_points_per_centroid;
}

/* ------------------------------------------------------------------------ */
/* MPI collective hooks                                                      */
/* ------------------------------------------------------------------------ */

#ifdef STRATA_HAVE_MPI
static int mpi_allreduce_i64(void *ud, int64_t *buf, size_t n) {
    (void)ud;
    while (n > 0) {
        int c = n > (size_t)INT_MAX / 2 ? INT_MAX / 2 : (int)n;
        if (MPI_Allreduce(MPI_IN_PLACE, buf, c, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
            return -1;
        buf += c;
        n -= (size_t)c;
    }
    return 0;
}

static int mpi_bcast(void *ud, void *buf, size_t bytes, int root) {
    (void)ud;
    char *p = buf;
    while (bytes > 0) {
        int c = bytes > (size_t)INT_MAX / 2 ? INT_MAX / 2 : (int)bytes;
        if (MPI_Bcast(p, c, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS) return -1;
        p += c;
        bytes -= (size_t)c;
    }
    return 0;
}
#endif

/* ------------------------------------------------------------------------ */
/* Input: this rank's rows of an .npy matrix as float32                      */
/* ------------------------------------------------------------------------ */

typedef struct rows_view {
    strata_npy npy;
    const float *data; /* [r1 - r0, D] */
    float *owned;
    int64_t rows, cols;
} rows_view;

static strata_status rows_open(rows_view *v, const char *path, strata_error *err) {
    memset(v, 0, sizeof *v);
    strata_status st = strata_npy_load(&v->npy, path, err);
    if (st) return st;
    if (v->npy.ndim != 2) {
        strata_npy_free(&v->npy);
        return strata_error_set(err, STRATA_EFORMAT, "%s: expected a 2-D matrix [N, D], got %d-D",
                                path, v->npy.ndim);
    }
    if (v->npy.dtype != STRATA_DTYPE_F32 && v->npy.dtype != STRATA_DTYPE_F16 &&
        v->npy.dtype != STRATA_DTYPE_F64) {
        strata_error_set(err, STRATA_EFORMAT, "%s: expected float32 or float16, got %s", path,
                         strata_dtype_name(v->npy.dtype));
        strata_npy_free(&v->npy);
        return STRATA_EFORMAT;
    }
    v->rows = v->npy.shape[0];
    v->cols = v->npy.shape[1];
    return STRATA_OK;
}

/* Points data at rows [r0, r1): zero-copy for float32 (only those pages of
 * the map are ever touched), converted for float16/float64. */
static strata_status rows_range(rows_view *v, int64_t r0, int64_t r1, const char *path,
                                strata_error *err) {
    size_t esz = strata_dtype_size(v->npy.dtype);
    const char *base = (const char *)v->npy.data + (size_t)r0 * (size_t)v->cols * esz;
    if (v->npy.dtype == STRATA_DTYPE_F32) {
        v->data = (const float *)base;
        return STRATA_OK;
    }
    size_t cnt = (size_t)(r1 - r0) * (size_t)v->cols;
    v->owned = strata_malloc_array(cnt > 0 ? cnt : 1, sizeof(float));
    if (!v->owned) return strata_error_set(err, STRATA_ENOMEM, "%s: out of memory", path);
    strata_status st = strata_convert_to_f32(v->owned, base, v->npy.dtype, cnt, err);
    if (st) return st;
    v->data = v->owned;
    return STRATA_OK;
}

static void rows_close(rows_view *v) {
    strata_free(v->owned);
    strata_npy_free(&v->npy);
    memset(v, 0, sizeof *v);
}

/* ------------------------------------------------------------------------ */
/* The command                                                               */
/* ------------------------------------------------------------------------ */

extern const cli_command cmd_cluster;

/* The option checks (usage errors, exit 2) and the k-means parameters;
 * *asym_out: asymmetric mode ([q (+) d]). */
static int parse_options(const cli_env *env, strata_kmeans_params *p, int *asym_out) {
    const cli_command *cmd = &cmd_cluster;
    int asym;
    if (!o_mode) asym = o_input2 != NULL;
    else if (strcmp(o_mode, "spherical") == 0) asym = 0;
    else if (strcmp(o_mode, "asymmetric") == 0) asym = 1;
    else return cli_usage_error(cmd, "--mode must be spherical or asymmetric, got '%s'", o_mode);
    if (asym && !o_input2) return cli_usage_error(cmd, "--mode asymmetric needs --doc-emb");
    if (!asym && o_input2) return cli_usage_error(cmd, "--doc-emb is only used with --mode asymmetric");
    if ((o_k > 0) == (o_cluster_size > 0))
        return cli_usage_error(cmd, "give exactly one of --clusters K (>= 1) or --cluster-size S (>= 1)");
    if (o_k < 0 || o_cluster_size < 0) return cli_usage_error(cmd, "--clusters and --cluster-size must be >= 1");
    if (o_per_source && !o_pairs) return cli_usage_error(cmd, "--per-source needs --pairs");
    if (o_niter < 1 || o_nredo < 1) return cli_usage_error(cmd, "--niter and --nredo must be >= 1");
    if (o_max_cluster_size < 0 || o_mppc < 0 || o_init_sample < 0)
        return cli_usage_error(cmd, "limits must be >= 0");
    *p = strata_kmeans_default_params();
    if (o_init && strcmp(o_init, "random") == 0) p->init = STRATA_KMEANS_INIT_RANDOM;
    else if (o_init && strcmp(o_init, "kmeans++") != 0)
        return cli_usage_error(cmd, "--init must be kmeans++ or random, got '%s'", o_init);
    p->k = o_k;
    p->cluster_size = o_cluster_size;
    p->niter = o_niter;
    p->nredo = o_nredo;
    p->init_sample = o_init_sample;
    p->max_cluster_size = o_max_cluster_size;
    p->max_points_per_centroid = o_mppc;
    p->bounds = !o_no_bounds;
    p->seed = env->seed;
    *asym_out = asym;
    return CLI_OK;
}

/* Opens --query-emb (and --doc-emb) and --pairs, and checks them against
 * each other and --clusters. */
static strata_status open_inputs(const cli_env *env, rows_view *q, rows_view *d,
                                 strata_pairs *pairs, int *have_pairs, int asym,
                                 strata_error *err) {
    strata_status st;
    if ((st = rows_open(q, o_input, err))) return st;
    const int64_t N = q->rows;
    if (asym) {
        if ((st = rows_open(d, o_input2, err))) return st;
        if (d->rows != q->rows || d->cols != q->cols) {
            return strata_error_set(err, STRATA_EFORMAT,
                                    "%s has shape [%lld, %lld] but %s has [%lld, %lld]; asymmetric mode "
                                    "needs one row of each per pair, same D",
                                    o_input, (long long)q->rows, (long long)q->cols, o_input2,
                                    (long long)d->rows, (long long)d->cols);
        }
    }
    if (N < 1)
        return strata_error_set(err, STRATA_EFORMAT, "%s: no rows", o_input);
    if (N > INT32_MAX)
        return strata_error_set(err, STRATA_EUNSUPPORTED, "%s: more than 2^31-1 rows", o_input);
    if (o_pairs) {
        if ((st = strata_pairs_load(pairs, o_pairs, &env->pairs, err))) return st;
        *have_pairs = 1;
        if (pairs->n != N)
            return strata_error_set(err, STRATA_EFORMAT, "%s has %lld pairs but %s has %lld rows",
                                    o_pairs, (long long)pairs->n, o_input, (long long)N);
    }
    if (!o_per_source && o_k > N)
        return strata_error_set(err, STRATA_EINVAL, "K (%d) exceeds the number of rows (%lld) in %s",
                                o_k, (long long)N, o_input);
    return STRATA_OK;
}

/* Writes the cluster folder o_out as one unit (assign.npy, centroids.npy,
 * stats.json; marked incomplete first, its manifest written last). */
static strata_status write_unit(const strata_kmeans_result *res, const strata_kmeans_params *p,
                                const strata_pairs *pairs, const int32_t *all_assign, int64_t N,
                                strata_error *err) {
    strata_status st;
    /* one unit: marked incomplete first, its manifest written last */
    if ((st = strata_dir_begin(o_out, "cluster", err))) return st;
    char *pa = strata_path_join(o_out, "assign.npy");
    char *pc = strata_path_join(o_out, "centroids.npy");
    char *ps = strata_path_join(o_out, "stats.json");
    int64_t sa = N, sc[2] = {res->k, res->dim};
    if (!pa || !pc || !ps) st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
    if (!st) st = strata_npy_save(pa, STRATA_DTYPE_I32, 1, &sa, all_assign, err);
    if (!st) st = strata_npy_save(pc, STRATA_DTYPE_F32, 2, sc, res->centroids, err);
    if (!st)
        st = strata_kmeans_write_stats(ps, res, p,
                                       o_per_source ? (const char *const *)pairs->source_names : NULL,
                                       err);
    static const char *const unit[] = {"assign.npy", "centroids.npy", "stats.json"};
    if (!st) st = strata_dir_commit(o_out, "cluster", unit, 3, err);
    strata_free(pa);
    strata_free(pc);
    strata_free(ps);
    return st;
}

static int run(const cli_env *env, int npos, char **pos) {
    (void)npos;
    (void)pos;
    /* --- option checks (usage errors, exit 2) --- */
    int asym = 0;
    strata_kmeans_params p;
    int urc = parse_options(env, &p, &asym);
    if (urc) return urc;

    /* --- MPI, only when launched by mpirun --- */
    int rank = 0, size = 1, mpi_on = 0;
    strata_kmeans_comm comm;
    memset(&comm, 0, sizeof comm);
#ifdef STRATA_HAVE_MPI
    if (getenv("OMPI_COMM_WORLD_SIZE")) {
        int provided;
        MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        mpi_on = 1;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        comm.rank = rank;
        comm.size = size;
        comm.allreduce_i64 = mpi_allreduce_i64;
        comm.bcast = mpi_bcast;
        if (size > 1) p.comm = &comm;
    }
#endif
    if (rank == 0) p.progress = env->progress;

    strata_error err;
    strata_error_clear(&err);
    strata_status st = STRATA_OK;
    rows_view q, d;
    memset(&q, 0, sizeof q);
    memset(&d, 0, sizeof d);
    strata_pairs pairs;
    memset(&pairs, 0, sizeof pairs);
    int have_pairs = 0;
    strata_kmeans_result res;
    memset(&res, 0, sizeof res);
    int32_t *all_assign = NULL;
    int64_t N = 0, r0 = 0, r1 = 0;

    if ((st = open_inputs(env, &q, &d, &pairs, &have_pairs, asym, &err))) goto done;
    N = q.rows;
    r0 = N * rank / size;
    r1 = N * (rank + 1) / size;
    if ((st = rows_range(&q, r0, r1, o_input, &err))) goto done;
    if (asym && (st = rows_range(&d, r0, r1, o_input2, &err))) goto done;

    strata_kmeans_input in;
    memset(&in, 0, sizeof in);
    in.n_global = N;
    in.row0 = r0;
    in.n_local = r1 - r0;
    in.nparts = asym ? 2 : 1;
    in.x[0] = q.data;
    in.dim[0] = q.cols;
    in.name[0] = o_input;
    if (asym) {
        in.x[1] = d.data;
        in.dim[1] = d.cols;
        in.name[1] = o_input2;
    }
    if (o_per_source) {
        in.source = pairs.source + r0;
        in.n_sources = pairs.n_sources;
    }
    if (rank == 0)
        cli_info(env, "cluster: %lld rows x %lld dims (%s), %s, %d thread(s)%s", (long long)N,
                 (long long)(q.cols * (asym ? 2 : 1)), asym ? "asymmetric [q+d]" : "spherical",
                 o_per_source ? "per source" : "all rows", env->threads,
                 size > 1 ? ", MPI ranks" : "");
    if ((st = strata_kmeans_fit(&res, &in, &p, &err))) goto done;

    /* --- gather the assignment on rank 0 --- */
    if (rank == 0) {
        all_assign = strata_malloc_array((size_t)N, sizeof(int32_t));
        if (!all_assign) {
            st = strata_error_set(&err, STRATA_ENOMEM, "out of memory");
            goto done;
        }
    }
#ifdef STRATA_HAVE_MPI
    if (size > 1) {
        int *counts = malloc(sizeof(int) * (size_t)size), *displs = malloc(sizeof(int) * (size_t)size);
        for (int r = 0; r < size; r++) {
            int64_t a = N * r / size, b = N * (r + 1) / size;
            counts[r] = (int)(b - a);
            displs[r] = (int)a;
        }
        MPI_Gatherv(res.assign, (int)(r1 - r0), MPI_INT32_T, all_assign, counts, displs,
                    MPI_INT32_T, 0, MPI_COMM_WORLD);
        free(counts);
        free(displs);
    } else
#endif
        if (rank == 0)
        memcpy(all_assign, res.assign, (size_t)N * sizeof(int32_t));

    if (rank == 0) {
        st = write_unit(&res, &p, &pairs, all_assign, N, &err);
        if (!st) {
            cli_progress_done(env);
            int empty = 0;
            for (int c = 0; c < res.k; c++) empty += res.size[c] == 0;
            cli_info(env,
                     "cluster: K=%d (%d split, %d empty), objective %.6f (mean cos %.4f), "
                     "imbalance %.3f, %lld points used, %.2fs -> %s",
                     res.k, res.n_split, empty, res.objective,
                     res.objective / (double)N / res.nparts,
                     strata_kmeans_imbalance(res.size, 0, res.k), (long long)res.n_used,
                     res.seconds, o_out);
        }
    }

done:
    strata_free(all_assign);
    strata_kmeans_result_free(&res);
    if (have_pairs) strata_pairs_free(&pairs);
    rows_close(&q);
    rows_close(&d);
    int rc = CLI_OK;
    if (st) rc = rank == 0 ? cli_fail(&err) : CLI_FAIL;
#ifdef STRATA_HAVE_MPI
    if (mpi_on) MPI_Finalize();
#endif
    (void)mpi_on;
    return rc;
}

const cli_command cmd_cluster = {
    "cluster",
    "spherical / asymmetric k-means on embeddings, per source -> assign.npy, centroids.npy, stats.json",
    NULL,
    "Spherical k-means (rows and centroids unit-normalized, score = cosine) or CDE's\n"
    "asymmetric k-means on pairs (--query-emb Q.npy --doc-emb D.npy: a pair [q+d] is scored\n"
    "against centroids [d_m+q_m], i.e. q.d_m + d.q_m). Every row is used for training\n"
    "unless --max-points-per-centroid is given. Results are identical for any thread\n"
    "count and under `mpirun -np P`. See docs/cluster.md.",
    opts,
    run,
    defaults, 1};
