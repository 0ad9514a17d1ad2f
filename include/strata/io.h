/*
 * io.h — files between stages: line reader (plain, .gz, .zst), atomic output
 * files, NumPy .npy and safetensors.
 *
 * Every reader validates headers, shapes, dtypes, byte orders and offsets
 * against the file size before trusting anything, and reports problems as
 * "path: message" or "path:line: message".
 *
 * Thread-safety: loaded objects (strata_npy, strata_safetensors) are
 * read-only and may be shared; readers and writers are single-threaded.
 */
#ifndef STRATA_IO_H
#define STRATA_IO_H

#include <stdio.h>
#include "strata/strata.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Element types                                                             */
/* ------------------------------------------------------------------------ */

typedef enum strata_dtype {
    STRATA_DTYPE_F32 = 0,
    STRATA_DTYPE_F16,
    STRATA_DTYPE_BF16,
    STRATA_DTYPE_I32,
    STRATA_DTYPE_I64,
    STRATA_DTYPE_F64,
    STRATA_DTYPE_U8,
    STRATA_DTYPE_COUNT
} strata_dtype;

size_t strata_dtype_size(strata_dtype dt);
const char *strata_dtype_name(strata_dtype dt); /* "float32", ... */

/* IEEE half and bfloat16 conversions (round to nearest even). */
float strata_f16_to_f32(uint16_t h);
uint16_t strata_f32_to_f16(float f);
float strata_bf16_to_f32(uint16_t h);
uint16_t strata_f32_to_bf16(float f);

/* Converts n elements of type `dt` at src to float32 at dst. */
strata_status strata_convert_to_f32(float *dst, const void *src,
                                    strata_dtype dt, size_t n,
                                    strata_error *err);

/* ------------------------------------------------------------------------ */
/* Line reader: plain text, gzip or zstd (detected by magic bytes)           */
/* ------------------------------------------------------------------------ */

typedef struct strata_lines strata_lines;

#define STRATA_LINES_DEFAULT_MAX (1u << 20) /* 1 MiB per line */

/* Opens `path` ("-" is stdin) for line reading. Lines longer than max_line
 * bytes (0: STRATA_LINES_DEFAULT_MAX) are an error naming the line. */
strata_status strata_lines_open(strata_lines **out, const char *path,
                                size_t max_line, strata_error *err);

/* Reads the next line. Returns 1 with *line and *len set (trailing "\n" and
 * "\r\n" removed, the line NUL-terminated and valid until the next call),
 * 0 at end of file, -1 on error (err set: "path:line: ..."). A NUL byte
 * inside a line is an error. */
int strata_lines_next(strata_lines *r, const char **line, size_t *len,
                      strata_error *err);

/* 1-based number of the line last returned. */
int64_t strata_lines_lineno(const strata_lines *r);
/* Bytes consumed from the (decompressed) stream so far. */
int64_t strata_lines_bytes(const strata_lines *r);
const char *strata_lines_path(const strata_lines *r);
void strata_lines_close(strata_lines *r);

/* Checks that s[0..n) is valid UTF-8. Returns -1 if valid, else the byte
 * offset of the first invalid sequence. */
int64_t strata_utf8_invalid_at(const char *s, size_t n);

/* ------------------------------------------------------------------------ */
/* Atomic output files                                                       */
/* ------------------------------------------------------------------------ */

/* Write to `path.tmp.<pid>.<n>` and rename over `path` on commit, so readers
 * never see a half-written file and a failure leaves nothing behind. A
 * process killed mid-write leaves its temporary file; the next open of the
 * same path removes those whose <pid> no longer exists. */
typedef struct strata_atomic {
    FILE *fp;          /* write here between open and commit */
    char *tmp_path;    /* owned */
    char *final_path;  /* owned */
} strata_atomic;

strata_status strata_atomic_open(strata_atomic *a, const char *path,
                                 strata_error *err);
/* Flushes, fsyncs, closes and renames. On failure the temp file is removed. */
strata_status strata_atomic_commit(strata_atomic *a, strata_error *err);
/* Closes and removes the temp file. Safe to call after commit (no-op). */
void strata_atomic_abort(strata_atomic *a);

/* Writes `len` bytes atomically to path. */
strata_status strata_write_file(const char *path, const void *data,
                                size_t len, strata_error *err);

/* Reads a whole (small) file into a NUL-terminated buffer (caller frees with
 * strata_free). Files over max_bytes (0: 256 MiB) are refused. */
strata_status strata_read_file(const char *path, char **data, size_t *len,
                               size_t max_bytes, strata_error *err);

/* Creates a directory and its parents (like mkdir -p). */
strata_status strata_mkdirs(const char *path, strata_error *err);

/* Joins dir and name with '/' into a new string (caller frees). */
char *strata_path_join(const char *dir, const char *name);

/* ------------------------------------------------------------------------ */
/* Output directories written as a unit                                      */
/* ------------------------------------------------------------------------ */

/* A directory a command writes as a whole (a cluster, a plan, a model, a
 * training checkpoint) carries DIR/manifest.json, written last:
 *
 *   {"format": "strata-dir", "version": 1, "kind": "cluster",
 *    "complete": true, "files": [{"name": "assign.npy", "bytes": 24128}, ...]}
 *
 * Writers call strata_dir_begin before touching any file of the unit (the
 * manifest then says "complete": false), write each file atomically, and
 * call strata_dir_commit last. However a run ends, a reader then tells a
 * complete directory from a partial one, a new file beside old ones
 * included. Readers call strata_dir_check before reading. A directory
 * without manifest.json was not written by Strata (a Hugging Face model, a
 * hand-made assign.npy) or by a release before manifests, and is accepted
 * as it is. Kinds: "cluster", "plan", "model", "checkpoint". */

#define STRATA_MANIFEST "manifest.json"

/* Creates dir (and parents) and writes DIR/manifest.json saying
 * {"kind": kind, "complete": false} atomically: from here until
 * strata_dir_commit the directory reads as incomplete. */
strata_status strata_dir_begin(const char *dir, const char *kind,
                               strata_error *err);

/* Writes DIR/manifest.json atomically saying complete, with the name
 * (relative to dir; "1_Pooling/config.json" is fine, ".." is not) and byte
 * size of each of files[0..n), which must exist. When the directory already
 * holds a complete manifest (no strata_dir_begin since: a unit written
 * inside this one, such as a model inside a checkpoint), its files stay
 * listed and kind replaces its kind. */
strata_status strata_dir_commit(const char *dir, const char *kind,
                                 const char *const *files, int n,
                                 strata_error *err);

/* Checks dir before it is read: when DIR/manifest.json exists it must say
 * complete (else "DIR: incomplete cluster directory ..."), its kind must
 * equal kind (NULL: any kind), and every listed file must exist with its
 * recorded size. *found (may be NULL) is set to 1 when a manifest exists.
 * A directory without manifest is STRATA_OK with *found = 0. */
strata_status strata_dir_check(const char *dir, const char *kind, int *found,
                               strata_error *err);

/* ------------------------------------------------------------------------ */
/* NumPy .npy                                                                */
/* ------------------------------------------------------------------------ */

#define STRATA_NPY_MAX_DIMS 8

/* A loaded array. `data` points into a read-only memory map of the file
 * (C order, little-endian, as validated). */
typedef struct strata_npy {
    strata_dtype dtype;
    int ndim;
    int64_t shape[STRATA_NPY_MAX_DIMS];
    int64_t count;      /* product of shape */
    const void *data;   /* count * dtype size bytes */
    void *map;          /* internal: mapping base */
    size_t map_len;     /* internal: mapping length */
} strata_npy;

/* Maps and validates an .npy file (versions 1.0-3.0; '<f4' '<f2' '<i4' '<i8'
 * '<f8' '|u1' '|b1'; fortran_order False; data size equal to the shape).
 * `data` is aligned to the element size: a file whose header leaves the
 * data at a misaligned offset (numpy never writes one) is copied once. */
strata_status strata_npy_load(strata_npy *out, const char *path,
                              strata_error *err);
void strata_npy_free(strata_npy *a);

/* Writes an .npy atomically. */
strata_status strata_npy_save(const char *path, strata_dtype dt, int ndim,
                              const int64_t *shape, const void *data,
                              strata_error *err);

/* A float32 matrix view [rows, cols]: zero-copy over the map when the file is
 * float32, converted (owned) when float16. 1-D files give cols = 1. */
typedef struct strata_mat {
    const float *data;  /* rows * cols */
    int64_t rows, cols;
    float *owned;       /* internal */
    strata_npy npy;     /* internal */
} strata_mat;

strata_status strata_mat_load(strata_mat *m, const char *path,
                              strata_error *err);
void strata_mat_free(strata_mat *m);

/* Streaming writer of a known shape, for outputs produced in row blocks.
 * The header is written at open; commit checks every byte arrived. */
typedef struct strata_npy_writer {
    strata_atomic file;
    strata_dtype dtype;
    size_t expect_bytes;
    size_t written_bytes;
} strata_npy_writer;

strata_status strata_npy_writer_open(strata_npy_writer *w, const char *path,
                                     strata_dtype dt, int ndim,
                                     const int64_t *shape, strata_error *err);
strata_status strata_npy_writer_write(strata_npy_writer *w, const void *data,
                                      size_t bytes, strata_error *err);
/* Writes float32 rows converting to the writer's dtype (F32 or F16). */
strata_status strata_npy_writer_write_f32(strata_npy_writer *w,
                                          const float *data, size_t n,
                                          strata_error *err);
strata_status strata_npy_writer_commit(strata_npy_writer *w,
                                       strata_error *err);
void strata_npy_writer_abort(strata_npy_writer *w);

/* ------------------------------------------------------------------------ */
/* safetensors                                                               */
/* ------------------------------------------------------------------------ */

typedef struct strata_tensor {
    char *name;            /* owned by the container */
    strata_dtype dtype;
    int ndim;
    int64_t shape[STRATA_NPY_MAX_DIMS];
    int64_t count;
    const void *data;      /* into the map (load) or caller memory (save) */
    size_t nbytes;
} strata_tensor;

typedef struct strata_safetensors {
    int n;                 /* number of tensors */
    strata_tensor *t;      /* sorted by name */
    char *metadata_json;   /* "__metadata__" object as JSON text, or NULL */
    void *map;             /* internal */
    size_t map_len;        /* internal */
} strata_safetensors;

/* Maps and validates a safetensors file: header length, JSON, dtypes (F32,
 * F16, BF16, I32, I64, F64), shapes, offsets inside the data area, offsets
 * not overlapping, sizes equal to shapes. */
strata_status strata_safetensors_load(strata_safetensors *st,
                                      const char *path, strata_error *err);
void strata_safetensors_free(strata_safetensors *st);

/* Binary search by exact name; NULL if absent. */
const strata_tensor *strata_safetensors_find(const strata_safetensors *st,
                                             const char *name);

/* Writes tensors (name, dtype, ndim, shape, data used; nbytes checked)
 * atomically, in the order given, 8-byte aligned data. metadata_json may be
 * NULL or a JSON object of string values. */
strata_status strata_safetensors_save(const char *path, int n,
                                      const strata_tensor *tensors,
                                      const char *metadata_json,
                                      strata_error *err);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_IO_H */
