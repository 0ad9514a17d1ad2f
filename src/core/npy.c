/*
 * npy.c — NumPy .npy read (memory-mapped, validated) and write (atomic).
 *
 * Format: "\x93NUMPY" major minor, header length (u16 for 1.0, u32 for 2.0 and
 * 3.0), a Python dict literal {'descr': '<f4', 'fortran_order': False,
 * 'shape': (N, D), } padded with spaces to a multiple of 64 and ending '\n'.
 */
#define _POSIX_C_SOURCE 200809L
#include "strata/io.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Maps a whole file read-only. Empty files map to NULL with len 0. */
static strata_status map_file(const char *path, void **map, size_t *len,
                              strata_error *err) {
    *map = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return strata_error_set(err, STRATA_EIO, "%s: cannot open: %s", path,
                                strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return strata_error_set(err, STRATA_EIO, "%s: not a regular file", path);
    }
    if (sb.st_size > 0) {
        void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            close(fd);
            return strata_error_set(err, STRATA_EIO, "%s: mmap failed: %s", path,
                                    strerror(errno));
        }
        *map = m;
        *len = (size_t)sb.st_size;
    }
    close(fd);
    return STRATA_OK;
}

static const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n')) p++;
    return p;
}

/* Finds 'key' : in the dict text; returns pointer after the colon. */
static const char *find_key(const char *h, const char *end, const char *key) {
    size_t kl = strlen(key);
    for (const char *p = h; p + kl + 2 <= end; p++) {
        if ((*p == '\'' || *p == '"') && p[kl + 1] == *p &&
            memcmp(p + 1, key, kl) == 0) {
            const char *q = skip_ws(p + kl + 2, end);
            if (q < end && *q == ':') return skip_ws(q + 1, end);
        }
    }
    return NULL;
}

static int parse_descr(const char *p, const char *end, strata_dtype *dt) {
    if (p >= end || (*p != '\'' && *p != '"')) return -1;
    char q = *p++;
    const char *s = p;
    while (p < end && *p != q) p++;
    if (p >= end) return -1;
    size_t n = (size_t)(p - s);
    static const struct { const char *d; strata_dtype t; } tab[] = {
        {"<f4", STRATA_DTYPE_F32}, {"<f2", STRATA_DTYPE_F16},
        {"<i4", STRATA_DTYPE_I32}, {"<i8", STRATA_DTYPE_I64},
        {"<f8", STRATA_DTYPE_F64}, {"|u1", STRATA_DTYPE_U8},
        {"|b1", STRATA_DTYPE_U8},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (n == 3 && memcmp(s, tab[i].d, 3) == 0) {
            *dt = tab[i].t;
            return 0;
        }
    return -2;
}

strata_status strata_npy_load(strata_npy *out, const char *path,
                              strata_error *err) {
    memset(out, 0, sizeof *out);
    void *map;
    size_t len;
    strata_status st = map_file(path, &map, &len, err);
    if (st) return st;
    const unsigned char *b = map;
    /* the message may read the header, so format it before unmapping */
#define FAIL(...)                                           \
    do {                                                    \
        strata_error_set(err, STRATA_EFORMAT, __VA_ARGS__); \
        if (map) munmap(map, len);                          \
        return STRATA_EFORMAT;                              \
    } while (0)
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        FAIL("%s: not a .npy file (bad magic)", path);
    int major = b[6];
    size_t hlen, hstart;
    if (major == 1) {
        hlen = (size_t)b[8] | ((size_t)b[9] << 8);
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) FAIL("%s: truncated .npy header", path);
        hlen = (size_t)b[8] | ((size_t)b[9] << 8) | ((size_t)b[10] << 16) |
               ((size_t)b[11] << 24);
        hstart = 12;
    } else {
        FAIL("%s: unsupported .npy version %d.%d", path, major, b[7]);
    }
    if (hlen > len - hstart) FAIL("%s: .npy header length %zu past end of file", path, hlen);
    const char *h = (const char *)b + hstart;
    const char *hend = h + hlen;
    const char *p = find_key(h, hend, "descr");
    if (!p) FAIL("%s: .npy header: field \"descr\" missing", path);
    int rc = parse_descr(p, hend, &out->dtype);
    if (rc == -1) FAIL("%s: .npy header: field \"descr\" malformed", path);
    if (rc == -2)
        FAIL("%s: .npy header: field \"descr\" has an unsupported dtype "
             "(supported: <f4 <f2 <i4 <i8 <f8 |u1 |b1, little-endian)", path);
    p = find_key(h, hend, "fortran_order");
    if (!p) FAIL("%s: .npy header: field \"fortran_order\" missing", path);
    if (hend - p >= 4 && memcmp(p, "True", 4) == 0)
        FAIL("%s: .npy header: field \"fortran_order\" is True; only C order is supported", path);
    if (!(hend - p >= 5 && memcmp(p, "False", 5) == 0))
        FAIL("%s: .npy header: field \"fortran_order\" malformed", path);
    p = find_key(h, hend, "shape");
    if (!p || *p != '(') FAIL("%s: .npy header: field \"shape\" missing or malformed", path);
    p++;
    int nd = 0;
    uint64_t count = 1;
    for (;;) {
        p = skip_ws(p, hend);
        if (p >= hend) FAIL("%s: .npy header: field \"shape\" malformed", path);
        if (*p == ')') break;
        if (!isdigit((unsigned char)*p)) FAIL("%s: .npy header: field \"shape\" malformed", path);
        uint64_t v = 0;
        while (p < hend && isdigit((unsigned char)*p)) {
            if (v > (UINT64_C(1) << 62) / 10) FAIL("%s: .npy header: field \"shape\" too large", path);
            v = v * 10 + (uint64_t)(*p++ - '0');
        }
        if (nd >= STRATA_NPY_MAX_DIMS) FAIL("%s: .npy header: more than %d dimensions", path, STRATA_NPY_MAX_DIMS);
        out->shape[nd++] = (int64_t)v;
        if (v && count > (UINT64_C(1) << 62) / v) FAIL("%s: .npy header: field \"shape\" overflows", path);
        count *= v;
        p = skip_ws(p, hend);
        if (p < hend && *p == ',') p++;
    }
    out->ndim = nd;
    out->count = (int64_t)count;
    size_t es = strata_dtype_size(out->dtype);
    size_t data_off = hstart + hlen;
    size_t need;
    if (strata_size_mul((size_t)count, es, &need))
        FAIL("%s: .npy shape overflows", path);
    if (len - data_off != need) {
        char shp[128] = "";
        size_t o = 0;
        for (int i = 0; i < nd && o < sizeof shp - 24; i++)
            o += (size_t)snprintf(shp + o, sizeof shp - o, "%s%lld", i ? ", " : "", (long long)out->shape[i]);
        FAIL("%s: .npy shape (%s) of %s needs %zu data bytes but the file has %zu",
             path, shp, strata_dtype_name(out->dtype), need, len - data_off);
    }
#undef FAIL
    out->data = b + data_off;
    out->map = map;
    out->map_len = len;
    /* numpy pads version 1.0 headers so the data starts 64-byte aligned, but
     * the format allows any header length, and other writers use that: data
     * at an offset that is not a multiple of the element size would make
     * every typed read by a caller a misaligned load (undefined behaviour).
     * Such data is copied once into an anonymous mapping (page-aligned),
     * which strata_npy_free releases like the file's map. */
    if (data_off % es != 0 && need > 0) {
        void *copy = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (copy == MAP_FAILED) {
            munmap(map, len);
            memset(out, 0, sizeof *out);
            return strata_error_set(err, STRATA_ENOMEM,
                                    "%s: cannot copy the unaligned .npy data (%zu bytes): %s",
                                    path, need, strerror(errno));
        }
        memcpy(copy, b + data_off, need);
        munmap(map, len);
        out->data = copy;
        out->map = copy;
        out->map_len = need;
    }
    return STRATA_OK;
}

void strata_npy_free(strata_npy *a) {
    if (!a) return;
    if (a->map) munmap(a->map, a->map_len);
    memset(a, 0, sizeof *a);
}

static const char *descr_of(strata_dtype dt) {
    switch (dt) {
    case STRATA_DTYPE_F32: return "<f4";
    case STRATA_DTYPE_F16: return "<f2";
    case STRATA_DTYPE_I32: return "<i4";
    case STRATA_DTYPE_I64: return "<i8";
    case STRATA_DTYPE_F64: return "<f8";
    case STRATA_DTYPE_U8: return "|u1";
    default: return NULL;
    }
}

/* Builds a v1.0 header (64-byte aligned). Returns its length or 0. */
static size_t make_header(char *out, size_t cap, strata_dtype dt, int ndim,
                          const int64_t *shape) {
    char dict[512];
    size_t o = (size_t)snprintf(dict, sizeof dict,
                                "{'descr': '%s', 'fortran_order': False, 'shape': (",
                                descr_of(dt));
    for (int i = 0; i < ndim; i++)
        o += (size_t)snprintf(dict + o, sizeof dict - o, "%lld,%s",
                              (long long)shape[i], i + 1 < ndim ? " " : "");
    o += (size_t)snprintf(dict + o, sizeof dict - o, "), }");
    size_t total = 10 + o + 1;
    size_t padded = (total + 63) / 64 * 64;
    if (padded > cap || padded - 10 > 65535) return 0;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    size_t hl = padded - 10;
    out[8] = (char)(hl & 0xff);
    out[9] = (char)(hl >> 8);
    memcpy(out + 10, dict, o);
    memset(out + 10 + o, ' ', padded - 10 - o - 1);
    out[padded - 1] = '\n';
    return padded;
}

strata_status strata_npy_writer_open(strata_npy_writer *w, const char *path,
                                     strata_dtype dt, int ndim,
                                     const int64_t *shape, strata_error *err) {
    memset(w, 0, sizeof *w);
    if (!descr_of(dt))
        return strata_error_set(err, STRATA_EUNSUPPORTED, "%s: cannot write %s to .npy",
                                path, strata_dtype_name(dt));
    if (ndim < 0 || ndim > STRATA_NPY_MAX_DIMS)
        return strata_error_set(err, STRATA_EINVAL, "%s: bad ndim %d", path, ndim);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || strata_size_mul(count, (size_t)shape[i], &count))
            return strata_error_set(err, STRATA_EINVAL, "%s: bad shape", path);
    }
    if (strata_size_mul(count, strata_dtype_size(dt), &w->expect_bytes))
        return strata_error_set(err, STRATA_EINVAL, "%s: shape overflows", path);
    char hdr[1024];
    size_t hl = make_header(hdr, sizeof hdr, dt, ndim, shape);
    if (!hl) return strata_error_set(err, STRATA_EINVAL, "%s: header too long", path);
    strata_status st = strata_atomic_open(&w->file, path, err);
    if (st) return st;
    w->dtype = dt;
    if (fwrite(hdr, 1, hl, w->file.fp) != hl) {
        strata_atomic_abort(&w->file);
        return strata_error_set(err, STRATA_EIO, "%s: write failed", path);
    }
    return STRATA_OK;
}

strata_status strata_npy_writer_write(strata_npy_writer *w, const void *data,
                                      size_t bytes, strata_error *err) {
    if (!w->file.fp) return strata_error_set(err, STRATA_ESTATE, "npy writer not open");
    if (w->written_bytes + bytes > w->expect_bytes)
        return strata_error_set(err, STRATA_EINVAL, "%s: more data than the shape holds",
                                w->file.final_path);
    if (bytes && fwrite(data, 1, bytes, w->file.fp) != bytes)
        return strata_error_set(err, STRATA_EIO, "%s: write failed", w->file.final_path);
    w->written_bytes += bytes;
    return STRATA_OK;
}

strata_status strata_npy_writer_write_f32(strata_npy_writer *w,
                                          const float *data, size_t n,
                                          strata_error *err) {
    if (w->dtype == STRATA_DTYPE_F32)
        return strata_npy_writer_write(w, data, n * 4, err);
    if (w->dtype != STRATA_DTYPE_F16)
        return strata_error_set(err, STRATA_EINVAL, "npy writer: float32 rows into %s",
                                strata_dtype_name(w->dtype));
    uint16_t tmp[1024];
    while (n) {
        size_t m = n < 1024 ? n : 1024;
        for (size_t i = 0; i < m; i++) tmp[i] = strata_f32_to_f16(data[i]);
        strata_status st = strata_npy_writer_write(w, tmp, m * 2, err);
        if (st) return st;
        data += m;
        n -= m;
    }
    return STRATA_OK;
}

strata_status strata_npy_writer_commit(strata_npy_writer *w, strata_error *err) {
    if (w->written_bytes != w->expect_bytes) {
        strata_error_set(err, STRATA_ESTATE, "%s: wrote %zu of %zu data bytes",
                         w->file.final_path, w->written_bytes, w->expect_bytes);
        strata_atomic_abort(&w->file);
        return STRATA_ESTATE;
    }
    return strata_atomic_commit(&w->file, err);
}

void strata_npy_writer_abort(strata_npy_writer *w) {
    if (w) strata_atomic_abort(&w->file);
}

strata_status strata_npy_save(const char *path, strata_dtype dt, int ndim,
                              const int64_t *shape, const void *data,
                              strata_error *err) {
    strata_npy_writer w;
    strata_status st = strata_npy_writer_open(&w, path, dt, ndim, shape, err);
    if (st) return st;
    st = strata_npy_writer_write(&w, data, w.expect_bytes, err);
    if (st) {
        strata_npy_writer_abort(&w);
        return st;
    }
    return strata_npy_writer_commit(&w, err);
}

strata_status strata_mat_load(strata_mat *m, const char *path, strata_error *err) {
    memset(m, 0, sizeof *m);
    strata_status st = strata_npy_load(&m->npy, path, err);
    if (st) return st;
    if (m->npy.ndim < 1 || m->npy.ndim > 2) {
        strata_npy_free(&m->npy);
        return strata_error_set(err, STRATA_EFORMAT, "%s: expected a 1-D or 2-D array, got %d-D",
                                path, m->npy.ndim);
    }
    m->rows = m->npy.shape[0];
    m->cols = m->npy.ndim == 2 ? m->npy.shape[1] : 1;
    if (m->npy.dtype == STRATA_DTYPE_F32) {
        m->data = m->npy.data;
        return STRATA_OK;
    }
    if (m->npy.dtype != STRATA_DTYPE_F16 && m->npy.dtype != STRATA_DTYPE_F64) {
        strata_error_set(err, STRATA_EFORMAT, "%s: expected float32 or float16, got %s",
                         path, strata_dtype_name(m->npy.dtype));
        strata_npy_free(&m->npy);
        return STRATA_EFORMAT;
    }
    m->owned = strata_malloc_array((size_t)m->npy.count, sizeof(float));
    if (!m->owned) {
        strata_npy_free(&m->npy);
        return strata_error_set(err, STRATA_ENOMEM, "%s: out of memory", path);
    }
    strata_convert_to_f32(m->owned, m->npy.data, m->npy.dtype, (size_t)m->npy.count, NULL);
    strata_npy_free(&m->npy);
    m->data = m->owned;
    return STRATA_OK;
}

void strata_mat_free(strata_mat *m) {
    if (!m) return;
    strata_free(m->owned);
    strata_npy_free(&m->npy);
    memset(m, 0, sizeof *m);
}

/* Shared with safetensors.c */
strata_status strata__map_file(const char *path, void **map, size_t *len,
                               strata_error *err) {
    return map_file(path, map, len, err);
}
