/*
 * mpi_cli.c — the MPI side of `strata embed` and `strata eval` (mpi_cli.h):
 * start and stop, agreed failures, one .npy written by every rank at its
 * offsets, and the sharded top-k search merged on rank 0.
 */
#define _POSIX_C_SOURCE 200809L
#include "mpi_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef STRATA_HAVE_MPI
#include <mpi.h>
#endif

/* ------------------------------------------------------------------------ */
/* Start, stop, ranges                                                       */
/* ------------------------------------------------------------------------ */

void cli_mpi_init(cli_mpi *m, const cli_env *env) {
    memset(m, 0, sizeof *m);
    m->size = 1;
    m->env = *env;
#ifdef STRATA_HAVE_MPI
    if (getenv("OMPI_COMM_WORLD_SIZE")) {
        int provided;
        MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        m->on = 1;
        MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &m->size);
        if (m->rank > 0) {
            /* one voice: rank 0 prints the agreed messages and results */
            m->env.quiet = 1;
            memset(&m->env.progress, 0, sizeof m->env.progress);
            m->env.pairs.progress = m->env.progress;
            if (!freopen("/dev/null", "w", stderr)) { /* keep the old stderr */
            }
            if (!freopen("/dev/null", "w", stdout)) {
            }
        }
    }
#endif
}

int cli_mpi_finalize(cli_mpi *m, int rc) {
#ifdef STRATA_HAVE_MPI
    if (m->on) MPI_Finalize();
#endif
    m->on = 0;
    return rc;
}

void cli_mpi_range(const cli_mpi *m, int64_t n, int64_t *r0, int64_t *r1) {
    *r0 = n * m->rank / m->size;
    *r1 = n * (m->rank + 1) / m->size;
}

int64_t cli_embed_chunk(void) {
    const char *v = getenv("STRATA_EMBED_CHUNK");
    long long c = v ? atoll(v) : 0;
    return c >= 1 ? (int64_t)c : 8192;
}

void cli_mpi_range_chunks(const cli_mpi *m, int64_t n, int64_t chunk, int64_t *r0,
                          int64_t *r1) {
    int64_t K = (n + chunk - 1) / chunk;
    int64_t a = K * m->rank / m->size * chunk, b = K * (m->rank + 1) / m->size * chunk;
    *r0 = a < n ? a : n;
    *r1 = b < n ? b : n;
}

typedef struct offset_progress {
    const strata_progress *outer;
    int64_t offset, total;
} offset_progress;

static void offset_cb(void *ud, const char *stage, int64_t done, int64_t total,
                      const char *unit) {
    (void)total;
    offset_progress *c = ud;
    if (strcmp(stage, "embed") != 0) return;
    strata_progress_report(c->outer, "embed", c->offset + done, c->total, unit);
}

strata_status cli_embed_rows(const strata_embedder *e, const char *const *t, const size_t *len,
                             int64_t r0, int64_t r1, int64_t chunk, const strata_progress *prog,
                             float *out, strata_error *err) {
    int D = strata_embedder_dim(e);
    offset_progress op = {prog, 0, r1 - r0};
    strata_progress p = {offset_cb, &op, NULL};
    for (int64_t c0 = r0; c0 < r1; c0 += chunk) {
        int64_t cn = r1 - c0 < chunk ? r1 - c0 : chunk;
        op.offset = c0 - r0;
        strata_status st = strata_embedder_embed(e, t + c0, len + c0, cn, prog ? &p : NULL,
                                                 out + (size_t)(c0 - r0) * (size_t)D, err);
        if (st) {
            cli_mpi_reitem(err, c0);
            return st;
        }
    }
    return STRATA_OK;
}

int cli_mpi_allreduce_i64(void *ud, int64_t *buf, size_t n) {
    (void)ud;
    (void)buf;
    (void)n;
#ifdef STRATA_HAVE_MPI
    while (n > 0) {
        int c = n > (size_t)INT_MAX / 2 ? INT_MAX / 2 : (int)n;
        if (MPI_Allreduce(MPI_IN_PLACE, buf, c, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD) !=
            MPI_SUCCESS)
            return -1;
        buf += c;
        n -= (size_t)c;
    }
    return 0;
#else
    return -1;
#endif
}

strata_status cli_mpi_agree(const cli_mpi *m, strata_status st, strata_error *err) {
    if (!m->on || m->size < 2) return st;
#ifdef STRATA_HAVE_MPI
    int mine = st ? m->rank : m->size, first = m->size;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == m->size) return STRATA_OK;
    strata_error e;
    if (m->rank == first) e = *err;
    MPI_Bcast(&e, (int)sizeof e, MPI_BYTE, first, MPI_COMM_WORLD);
    *err = e;
    return e.status ? e.status : STRATA_EIO;
#else
    (void)err;
    return st;
#endif
}

int cli_mpi_fail(const cli_mpi *m, const strata_error *err) {
    int rc = m->rank == 0 ? cli_fail(err) : CLI_FAIL;
    return rc == CLI_USAGE ? CLI_FAIL : rc;
}

void cli_mpi_reitem(strata_error *err, int64_t offset) {
    if (!err || err->item < 0 || offset == 0) return;
    int64_t k = err->item + offset;
    char msg[STRATA_ERROR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", strata_error_detail(err));
    strata_error_set(err, err->status, "%s", msg);
    strata_error_item(err, k);
}

/* ------------------------------------------------------------------------ */
/* The output .npy                                                           */
/* ------------------------------------------------------------------------ */

#ifdef STRATA_HAVE_MPI
/* Rank 0 creates the temporary file, writes the header and sets the final
 * size; every rank learns its name and the header length. */
static strata_status npy_open_shared(cli_npy_out *o, const cli_mpi *m, const char *path,
                                     strata_dtype dt, const int64_t *shape, strata_error *err) {
    strata_status st = STRATA_OK;
    int64_t meta[2] = {0, 0}; /* header bytes, name length */
    if (m->rank == 0) {
        st = strata_npy_writer_open(&o->w, path, dt, 2, shape, err);
        if (!st) {
            FILE *fp = o->w.file.fp;
            long h = fflush(fp) == 0 ? ftell(fp) : -1;
            if (h < 0 || ftruncate(fileno(fp), (off_t)((size_t)h + o->w.expect_bytes)) != 0)
                st = strata_error_set(err, STRATA_EIO, "%s: cannot size the output: %s", path,
                                      strerror(errno));
            meta[0] = h;
            meta[1] = (int64_t)strlen(o->w.file.tmp_path) + 1;
        }
    }
    if ((st = cli_mpi_agree(m, st, err))) return st;
    MPI_Bcast(meta, 2, MPI_INT64_T, 0, MPI_COMM_WORLD);
    char *tmp = malloc((size_t)meta[1]);
    if (tmp && m->rank == 0) memcpy(tmp, o->w.file.tmp_path, (size_t)meta[1]);
    char dummy = 0;
    /* a rank without the buffer still takes part, then fails */
    MPI_Bcast(tmp ? tmp : &dummy, tmp ? (int)meta[1] : 0, MPI_CHAR, 0, MPI_COMM_WORLD);
    o->hdr = (size_t)meta[0];
    if (!tmp) st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
    else if (m->rank > 0 && (o->fd = open(tmp, O_WRONLY)) < 0)
        st = strata_error_set(err, STRATA_EIO, "%s: cannot open the output on rank %d: %s",
                              path, m->rank, strerror(errno));
    free(tmp);
    return cli_mpi_agree(m, st, err);
}
#endif

strata_status cli_npy_out_open(cli_npy_out *o, const cli_mpi *m, const char *path,
                               strata_dtype dt, int64_t rows, int64_t cols, int64_t row0,
                               strata_error *err) {
    memset(o, 0, sizeof *o);
    o->fd = -1;
    o->cols = cols;
    o->next = row0;
    o->esz = strata_dtype_size(dt);
    int64_t shape[2] = {rows, cols};
    if (dt != STRATA_DTYPE_F32 && dt != STRATA_DTYPE_F16)
        return cli_mpi_agree(m, strata_error_set(err, STRATA_EINVAL, "%s: float32 or float16 "
                                                 "only", path), err);
    if (!m->on || m->size < 2) return strata_npy_writer_open(&o->w, path, dt, 2, shape, err);
#ifdef STRATA_HAVE_MPI
    o->mpi = 1;
    return npy_open_shared(o, m, path, dt, shape, err);
#else
    return strata_error_set(err, STRATA_EUNSUPPORTED, "no MPI in this build");
#endif
}

/* pwrite of all n bytes at off. */
static int pwrite_all(int fd, const void *p, size_t n, off_t off) {
    const char *c = p;
    while (n > 0) {
        ssize_t w = pwrite(fd, c, n, off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

strata_status cli_npy_out_write_f32(cli_npy_out *o, const float *x, int64_t n,
                                    strata_error *err) {
    size_t cnt = (size_t)n * (size_t)o->cols;
    if (!o->mpi) return strata_npy_writer_write_f32(&o->w, x, cnt, err);
    const void *src = x;
    if (o->esz == 2) {
        if (o->half_n < cnt) {
            uint16_t *h = realloc(o->half, cnt * sizeof *h);
            if (!h) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
            o->half = h;
            o->half_n = cnt;
        }
        for (size_t i = 0; i < cnt; i++) o->half[i] = strata_f32_to_f16(x[i]);
        src = o->half;
    }
    int fd = o->fd >= 0 ? o->fd : fileno(o->w.file.fp);
    off_t off = (off_t)(o->hdr + (size_t)o->next * (size_t)o->cols * o->esz);
    if (pwrite_all(fd, src, cnt * o->esz, off) != 0)
        return strata_error_set(err, STRATA_EIO, "%s: write failed: %s",
                                o->w.file.final_path ? o->w.file.final_path : "output",
                                strerror(errno));
    o->next += n;
    return STRATA_OK;
}

strata_status cli_npy_out_commit(cli_npy_out *o, const cli_mpi *m, strata_error *err) {
    if (!o->mpi) return strata_npy_writer_commit(&o->w, err);
    strata_status st = STRATA_OK;
    if (o->fd >= 0) { /* ranks > 0: on disk before rank 0 renames */
        if (fsync(o->fd) != 0 || close(o->fd) != 0)
            st = strata_error_set(err, STRATA_EIO, "output: write failed on rank %d: %s",
                                  m->rank, strerror(errno));
        o->fd = -1;
    }
    if ((st = cli_mpi_agree(m, st, err))) return st;
    if (m->rank == 0) {
        o->w.written_bytes = o->w.expect_bytes; /* every rank wrote its rows */
        st = strata_npy_writer_commit(&o->w, err);
    }
    return cli_mpi_agree(m, st, err);
}

void cli_npy_out_abort(cli_npy_out *o) {
    if (o->fd >= 0) close(o->fd);
    o->fd = -1;
    strata_npy_writer_abort(&o->w);
    free(o->half);
    o->half = NULL;
    o->half_n = 0;
}

/* ------------------------------------------------------------------------ */
/* Rows of an .npy                                                           */
/* ------------------------------------------------------------------------ */

strata_status cli_rows_open(cli_rows *v, const char *path, int64_t r0, int64_t r1,
                            strata_error *err) {
    memset(v, 0, sizeof *v);
    strata_status st = strata_npy_load(&v->npy, path, err);
    if (st) return st;
    if (v->npy.ndim != 2) {
        st = strata_error_set(err, STRATA_EFORMAT, "%s: expected a 2-D matrix [N, D], got %d-D",
                              path, v->npy.ndim);
    } else if (v->npy.dtype != STRATA_DTYPE_F32 && v->npy.dtype != STRATA_DTYPE_F16 &&
               v->npy.dtype != STRATA_DTYPE_F64) {
        st = strata_error_set(err, STRATA_EFORMAT, "%s: expected float32 or float16, got %s",
                              path, strata_dtype_name(v->npy.dtype));
    }
    if (st) {
        strata_npy_free(&v->npy);
        return st;
    }
    v->rows = v->npy.shape[0];
    v->cols = v->npy.shape[1];
    if (r1 > v->rows) r1 = v->rows; /* the caller checks the row count */
    if (r0 > r1) r0 = r1;
    size_t esz = strata_dtype_size(v->npy.dtype);
    const char *base = (const char *)v->npy.data + (size_t)r0 * (size_t)v->cols * esz;
    if (v->npy.dtype == STRATA_DTYPE_F32) {
        v->data = (const float *)base;
        return STRATA_OK;
    }
    size_t cnt = (size_t)(r1 - r0) * (size_t)v->cols;
    v->owned = strata_malloc_array(cnt ? cnt : 1, sizeof(float));
    if (!v->owned) return strata_error_set(err, STRATA_ENOMEM, "%s: out of memory", path);
    st = strata_convert_to_f32(v->owned, base, v->npy.dtype, cnt, err);
    v->data = v->owned;
    return st;
}

void cli_rows_close(cli_rows *v) {
    strata_free(v->owned);
    strata_npy_free(&v->npy);
    memset(v, 0, sizeof *v);
}

/* ------------------------------------------------------------------------ */
/* Sharded retrieval                                                         */
/* ------------------------------------------------------------------------ */

/* First row of X [n, D] holding a NaN or Inf, or -1. */
static int64_t first_nonfinite(const float *X, int64_t n, int D) {
    for (int64_t i = 0; i < n; i++)
        for (int d = 0; d < D; d++)
            if (!isfinite(X[(size_t)i * D + d])) return i;
    return -1;
}

/* (sa, ia) ranks above (sb, ib): higher score, then lower corpus index
 * (the order of strata_topk_ip). */
static int better(float sa, int64_t ia, float sb, int64_t ib) {
    return sa > sb || (sa == sb && ia < ib);
}

/* Merges the P sorted lists of kk entries (-1 ends a list) of one query
 * into the best kk: idx/sc [kk]. */
static void merge_lists(const int64_t *gi, const float *gs, int P, size_t stride, int kk,
                        int64_t *idx, float *sc, int *pos) {
    for (int p = 0; p < P; p++) pos[p] = 0;
    for (int j = 0; j < kk; j++) {
        int best = -1;
        for (int p = 0; p < P; p++) {
            if (pos[p] >= kk) continue;
            size_t a = (size_t)p * stride + (size_t)pos[p];
            if (gi[a] < 0) continue;
            if (best < 0) {
                best = p;
                continue;
            }
            size_t bb = (size_t)best * stride + (size_t)pos[best];
            if (better(gs[a], gi[a], gs[bb], gi[bb])) best = p;
        }
        if (best < 0) {
            idx[j] = -1;
            sc[j] = -INFINITY;
            continue;
        }
        size_t a = (size_t)best * stride + (size_t)pos[best]++;
        idx[j] = gi[a];
        sc[j] = gs[a];
    }
}

/* Rank 0: the run from the merged lists, as strata_eval_retrieve builds it. */
static strata_status build_run(const strata_beir *b, const int64_t *sel, int64_t ns,
                               const int64_t *idx, const float *sc, const float *qinv, int k,
                               int kk, int ignore_ids, strata_run *out, strata_error *err) {
    int64_t nqa = b->queries.n;
    out->off = strata_calloc((size_t)nqa + 1, sizeof *out->off);
    out->doc = strata_malloc_array((size_t)ns * k + 1, sizeof *out->doc);
    out->score = strata_malloc_array((size_t)ns * k + 1, sizeof *out->score);
    if (!out->off || !out->doc || !out->score)
        return strata_error_set(err, STRATA_ENOMEM, "eval: out of memory");
    out->nq = nqa;
    int64_t w = 0, s = 0;
    for (int64_t q = 0; q < nqa; q++) {
        if (s < ns && sel[s] == q) {
            const char *qid = strata_texts_id(&b->queries, q);
            int kept = 0;
            for (int j = 0; j < kk && kept < k; j++) {
                int64_t d = idx[(size_t)s * kk + j];
                if (d < 0) break;
                if (ignore_ids && strcmp(strata_texts_id(&b->corpus, d), qid) == 0) continue;
                float v = sc[(size_t)s * kk + j];
                out->doc[w] = d;
                out->score[w] = qinv ? v * qinv[s] : v; /* as heap_finish scales */
                w++;
                kept++;
            }
            s++;
        }
        out->off[q + 1] = w;
    }
    return STRATA_OK;
}

/* The judged queries (all without qrels) into sel; returns their count. */
static int64_t select_queries(const strata_beir *b, int64_t *sel) {
    int64_t ns = 0;
    for (int64_t q = 0; q < b->queries.n; q++)
        if (!b->qrels_off || b->qrels_off[q + 1] > b->qrels_off[q]) sel[ns++] = q;
    return ns;
}

/* Checks Cs (global rows c0..) then Q for NaN/Inf, with the messages of
 * strata_eval_retrieve; the corpus check is agreed first so the lowest bad
 * corpus row is reported as in one process. */
static strata_status check_finite(const cli_mpi *m, const strata_beir *b, const float *Cs,
                                  int64_t c0, int64_t c1, const float *Q, int D,
                                  strata_error *err) {
    strata_status st = STRATA_OK;
    int64_t bad = first_nonfinite(Cs, c1 - c0, D);
    if (bad >= 0)
        st = strata_error_set(err, STRATA_EFORMAT,
                              "eval: corpus embedding row %lld (id \"%s\") is not finite",
                              (long long)(c0 + bad), strata_texts_id(&b->corpus, c0 + bad));
    if ((st = cli_mpi_agree(m, st, err))) return st;
    bad = first_nonfinite(Q, b->queries.n, D);
    if (bad >= 0)
        return strata_error_set(err, STRATA_EFORMAT,
                                "eval: query embedding row %lld (id \"%s\") is not finite",
                                (long long)bad, strata_texts_id(&b->queries, bad));
    return STRATA_OK;
}

/* Gathers every rank's [ns, kk] lists on rank 0 (gi/gs [P, ns*kk]). */
static strata_status gather_lists(const cli_mpi *m, const int64_t *idx, const float *sc,
                                  size_t nres, int64_t *gi, float *gs, strata_error *err) {
    (void)m;
#ifdef STRATA_HAVE_MPI
    if (nres > (size_t)INT_MAX)
        return strata_error_set(err, STRATA_EUNSUPPORTED,
                                "eval under MPI: queries x top-k (%zu) exceeds 2^31-1", nres);
    if (MPI_Gather(idx, (int)nres, MPI_INT64_T, gi, (int)nres, MPI_INT64_T, 0, MPI_COMM_WORLD) !=
            MPI_SUCCESS ||
        MPI_Gather(sc, (int)nres, MPI_FLOAT, gs, (int)nres, MPI_FLOAT, 0, MPI_COMM_WORLD) !=
            MPI_SUCCESS)
        return strata_error_set(err, STRATA_EIO, "eval: gathering the top-k lists failed");
    return STRATA_OK;
#else
    memcpy(gi, idx, nres * sizeof *gi);
    memcpy(gs, sc, nres * sizeof *gs);
    (void)err;
    return STRATA_OK;
#endif
}

strata_status cli_mpi_retrieve(const cli_mpi *m, const strata_beir *b, const float *Cs,
                               int64_t c0, int64_t c1, const float *Q, int D,
                               const strata_eval_options *opt, strata_run *out,
                               strata_error *err) {
    memset(out, 0, sizeof *out);
    strata_eval_options o = *opt;
    int64_t nc = b->corpus.n, nqa = b->queries.n, nl = c1 - c0;
    strata_status st = STRATA_OK;
    if (o.k < 1) st = strata_error_set(err, STRATA_EINVAL, "eval: k must be >= 1 (got %d)", o.k);
    if (!st && D < 1) st = strata_error_set(err, STRATA_EINVAL, "eval: D must be >= 1 (got %d)", D);
    if (st) return cli_mpi_agree(m, st, err);
    if (o.k > nc) o.k = nc > 0 ? (int)nc : 1;
    if ((st = check_finite(m, b, Cs, c0, c1, Q, D, err))) return cli_mpi_agree(m, st, err);
    int kk = o.k + (o.ignore_identical_ids && o.k < nc ? 1 : 0);
    int64_t *sel = strata_malloc_array((size_t)nqa + 1, sizeof *sel);
    int64_t ns = sel ? select_queries(b, sel) : 0;
    size_t nres = (size_t)ns * (size_t)kk, P = (size_t)m->size;
    float *Qs = strata_malloc_array((size_t)ns * D + 1, sizeof *Qs);
    float *qinv = o.normalize ? strata_malloc_array((size_t)ns + 1, sizeof *qinv) : NULL;
    float *cinv = o.normalize ? strata_malloc_array((size_t)nl + 1, sizeof *cinv) : NULL;
    int64_t *idx = strata_malloc_array(nres + 1, sizeof *idx);
    float *sc = strata_malloc_array(nres + 1, sizeof *sc);
    int64_t *gi = NULL;
    float *gs = NULL;
    int *pos = NULL;
    if (m->rank == 0) {
        gi = strata_malloc_array(P * nres + 1, sizeof *gi);
        gs = strata_malloc_array(P * nres + 1, sizeof *gs);
        pos = strata_malloc_array(P, sizeof *pos);
    }
    if (!sel || !Qs || !idx || !sc || (o.normalize && (!qinv || !cinv)) ||
        (m->rank == 0 && (!gi || !gs || !pos)))
        st = strata_error_set(err, STRATA_ENOMEM, "eval: out of memory");
    if (!st) {
        for (int64_t i = 0; i < ns; i++)
            memcpy(Qs + (size_t)i * D, Q + (size_t)sel[i] * D, (size_t)D * sizeof(float));
        if (o.normalize) {
            strata_inv_norms(Qs, ns, D, qinv);
            strata_inv_norms(Cs, nl, D, cinv);
        }
        /* unscaled by the query norm: the merge compares what the
         * single-process heaps compare */
        st = strata_topk_ip(Qs, ns, Cs, nl, D, NULL, cinv, kk, idx, sc, o.progress, err);
    }
    if (!st)
        for (size_t i = 0; i < nres; i++)
            if (idx[i] >= 0) idx[i] += c0;
    if (!(st = cli_mpi_agree(m, st, err))) st = gather_lists(m, idx, sc, nres, gi, gs, err);
    if (!st && m->rank == 0) {
        for (int64_t s = 0; s < ns; s++) /* merged lists overwrite idx/sc */
            merge_lists(gi + (size_t)s * kk, gs + (size_t)s * kk, m->size, nres, kk,
                        idx + (size_t)s * kk, sc + (size_t)s * kk, pos);
        st = build_run(b, sel, ns, idx, sc, qinv, o.k, kk, o.ignore_identical_ids, out, err);
    }
    strata_free(sel);
    strata_free(Qs);
    strata_free(qinv);
    strata_free(cinv);
    strata_free(idx);
    strata_free(sc);
    strata_free(gi);
    strata_free(gs);
    strata_free(pos);
    st = cli_mpi_agree(m, st, err);
    if (st) strata_run_free(out);
    return st;
}
