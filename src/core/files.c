/*
 * files.c — line reader over plain/gzip/zstd streams, atomic output files,
 * whole-file reads, directories, UTF-8 validation, dtype conversions.
 */
#define _POSIX_C_SOURCE 200809L
#include "strata/io.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* ------------------------------------------------------------------------ */
/* dtypes and conversions                                                    */
/* ------------------------------------------------------------------------ */

size_t strata_dtype_size(strata_dtype dt) {
    switch (dt) {
    case STRATA_DTYPE_F32: return 4;
    case STRATA_DTYPE_F16: return 2;
    case STRATA_DTYPE_BF16: return 2;
    case STRATA_DTYPE_I32: return 4;
    case STRATA_DTYPE_I64: return 8;
    case STRATA_DTYPE_F64: return 8;
    case STRATA_DTYPE_U8: return 1;
    default: return 0;
    }
}

const char *strata_dtype_name(strata_dtype dt) {
    switch (dt) {
    case STRATA_DTYPE_F32: return "float32";
    case STRATA_DTYPE_F16: return "float16";
    case STRATA_DTYPE_BF16: return "bfloat16";
    case STRATA_DTYPE_I32: return "int32";
    case STRATA_DTYPE_I64: return "int64";
    case STRATA_DTYPE_F64: return "float64";
    case STRATA_DTYPE_U8: return "uint8";
    default: return "unknown";
    }
}

float strata_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalize */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t strata_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t exp = (x >> 23) & 0xff;
    uint32_t man = x & 0x7fffff;
    if (exp == 0xff) /* inf / nan */
        return (uint16_t)(sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0));
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00); /* overflow -> inf */
    if (e <= 0) {                                   /* subnormal or zero */
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++; /* may carry into exp: correct */
    return (uint16_t)half;
}

float strata_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t strata_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40); /* nan */
    uint32_t rounding = 0x7fff + ((x >> 16) & 1);
    return (uint16_t)((x + rounding) >> 16);
}

/* dst[i] = to_f32(16-bit value i of src), src unaligned (F16 and BF16). */
static void half_to_f32(float *dst, const void *src, size_t n, float (*to_f32)(uint16_t)) {
    const unsigned char *p = src;
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        dst[i] = to_f32(h);
    }
}

strata_status strata_convert_to_f32(float *dst, const void *src,
                                    strata_dtype dt, size_t n,
                                    strata_error *err) {
    size_t i;
    switch (dt) {
    case STRATA_DTYPE_F32: memcpy(dst, src, n * 4); break;
    case STRATA_DTYPE_F16: half_to_f32(dst, src, n, strata_f16_to_f32); break;
    case STRATA_DTYPE_BF16: half_to_f32(dst, src, n, strata_bf16_to_f32); break;
    case STRATA_DTYPE_F64: {
        const unsigned char *p = src;
        for (i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            dst[i] = (float)d;
        }
        break;
    }
    default:
        return strata_error_set(err, STRATA_EUNSUPPORTED,
                                "cannot convert %s to float32",
                                strata_dtype_name(dt));
    }
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* UTF-8                                                                     */
/* ------------------------------------------------------------------------ */

int64_t strata_utf8_invalid_at(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
        else return (int64_t)i;
        if (i + len > n) return (int64_t)i;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80) return (int64_t)i;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return (int64_t)i;
        i += len;
    }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Line reader                                                               */
/* ------------------------------------------------------------------------ */

enum { SRC_GZ, SRC_ZSTD };

struct strata_lines {
    char *path;
    int kind;
    gzFile gz;            /* plain and gzip (zlib reads plain transparently) */
    FILE *fp;             /* zstd input */
    ZSTD_DCtx *zd;
    unsigned char *zin;   /* zstd input buffer */
    size_t zin_cap, zin_len, zin_pos;
    int zeof;
    size_t zpending;      /* last ZSTD_decompressStream result: 0 when the
                             last frame is complete and flushed */
    char *buf;            /* decompressed bytes */
    size_t cap, len, pos;
    int eof;
    size_t max_line;
    int64_t lineno;
    int64_t bytes;
    char *line;           /* returned line (copy when it spans refills) */
    size_t line_cap;
};

#define CHUNK (1u << 20)

const char *strata_lines_path(const strata_lines *r) { return r->path; }
int64_t strata_lines_lineno(const strata_lines *r) { return r->lineno; }
int64_t strata_lines_bytes(const strata_lines *r) { return r->bytes; }

strata_status strata_lines_open(strata_lines **out, const char *path,
                                size_t max_line, strata_error *err) {
    *out = NULL;
    strata_lines *r = strata_calloc(1, sizeof *r);
    if (!r) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    r->path = strata_strdup(path);
    r->max_line = max_line ? max_line : STRATA_LINES_DEFAULT_MAX;
    r->cap = CHUNK;
    r->buf = strata_malloc(r->cap);
    if (!r->path || !r->buf) {
        strata_lines_close(r);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    int is_stdin = strcmp(path, "-") == 0;
    unsigned char magic[4] = {0};
    size_t nmagic = 0;
    if (!is_stdin) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            strata_error_set(err, STRATA_EIO, "%s: cannot open: %s", path,
                             strerror(errno));
            strata_lines_close(r);
            return STRATA_EIO;
        }
        nmagic = fread(magic, 1, 4, f);
        fclose(f);
    }
    if (nmagic == 4 && magic[0] == 0x28 && magic[1] == 0xb5 &&
        magic[2] == 0x2f && magic[3] == 0xfd) {
        r->kind = SRC_ZSTD;
        r->fp = fopen(path, "rb");
        r->zd = ZSTD_createDCtx();
        r->zin_cap = ZSTD_DStreamInSize();
        r->zin = strata_malloc(r->zin_cap);
        if (!r->fp || !r->zd || !r->zin) {
            strata_status st = r->fp ? STRATA_ENOMEM : STRATA_EIO; /* zd, zin: memory */
            strata_lines_close(r);
            return strata_error_set(err, st, "%s: cannot open zstd stream%s", path,
                                    st == STRATA_ENOMEM ? ": out of memory" : "");
        }
    } else {
        r->kind = SRC_GZ;
        r->gz = is_stdin ? gzdopen(dup(0), "rb") : gzopen(path, "rb");
        if (!r->gz) {
            strata_lines_close(r);
            return strata_error_set(err, STRATA_EIO, "%s: cannot open: %s",
                                    path, strerror(errno));
        }
        gzbuffer(r->gz, 1u << 17);
    }
    *out = r;
    return STRATA_OK;
}

/* Appends up to `want` decompressed bytes at buf+len. Returns bytes read,
 * 0 at EOF, -1 on error. */
static long fill(strata_lines *r, size_t want, strata_error *err) {
    char *dst = r->buf + r->len;
    if (r->kind == SRC_GZ) {
        int n = gzread(r->gz, dst, (unsigned)want);
        if (n < 0) {
            int errnum;
            const char *m = gzerror(r->gz, &errnum);
            strata_error_set(err, STRATA_EFORMAT, "%s:%lld: decompression error: %s",
                             r->path, (long long)r->lineno + 1, m);
            return -1;
        }
        if (n == 0 && !gzeof(r->gz)) {
            strata_error_set(err, STRATA_EIO, "%s: read error", r->path);
            return -1;
        }
        if (n == 0) {
            /* zlib hands out what it could decode and flags a stream that
             * stops inside a member (deflate data, or the CRC/length
             * trailer) as Z_BUF_ERROR; a shorter file is not a valid read */
            int errnum;
            gzerror(r->gz, &errnum);
            if (errnum == Z_BUF_ERROR) {
                strata_error_set(err, STRATA_EFORMAT,
                                 "%s:%lld: truncated gzip stream (unexpected end of file)",
                                 r->path, (long long)r->lineno + 1);
                return -1;
            }
        }
        return n;
    }
    /* zstd: at the end of the input the last frame must be complete (its
     * checksum included) and flushed, else the file was cut */
    ZSTD_outBuffer ob = {dst, want, 0};
    while (ob.pos == 0) {
        if (r->zin_pos == r->zin_len && !r->zeof) {
            r->zin_len = fread(r->zin, 1, r->zin_cap, r->fp);
            r->zin_pos = 0;
            if (r->zin_len == 0) {
                if (ferror(r->fp)) {
                    strata_error_set(err, STRATA_EIO, "%s: read error", r->path);
                    return -1;
                }
                r->zeof = 1;
            }
        }
        if (r->zeof && r->zpending == 0) return 0;
        ZSTD_inBuffer ib = {r->zin, r->zin_len, r->zin_pos};
        size_t rc = ZSTD_decompressStream(r->zd, &ob, &ib);
        r->zin_pos = ib.pos;
        if (ZSTD_isError(rc)) {
            strata_error_set(err, STRATA_EFORMAT, "%s:%lld: zstd error: %s", r->path,
                             (long long)r->lineno + 1, ZSTD_getErrorName(rc));
            return -1;
        }
        r->zpending = rc;
        if (r->zeof && rc != 0 && ob.pos == 0) {
            strata_error_set(err, STRATA_EFORMAT,
                             "%s:%lld: truncated zstd stream (the file ends inside a frame)",
                             r->path, (long long)r->lineno + 1);
            return -1;
        }
    }
    return (long)ob.pos;
}

int strata_lines_next(strata_lines *r, const char **line, size_t *len,
                      strata_error *err) {
    for (;;) {
        char *start = r->buf + r->pos;
        size_t avail = r->len - r->pos;
        char *nl = avail ? memchr(start, '\n', avail) : NULL;
        if (nl || (r->eof && avail > 0)) {
            size_t n = nl ? (size_t)(nl - start) : avail;
            r->pos += nl ? n + 1 : n;
            r->bytes += (int64_t)(nl ? n + 1 : n);
            r->lineno++;
            if (n > r->max_line) {
                strata_error_set(err, STRATA_EFORMAT,
                                 "%s:%lld: line of %zu bytes exceeds the limit of %zu bytes",
                                 r->path, (long long)r->lineno, n, r->max_line);
                return -1;
            }
            if (n > 0 && start[n - 1] == '\r') n--;
            start[n] = '\0'; /* overwrites '\n' or '\r' or the spare byte */
            char *nul = memchr(start, '\0', n);
            if (nul && r->lineno == 1 && n >= 6 && memcmp(start, "\x93NUMPY", 6) == 0) {
                strata_error_set(err, STRATA_EFORMAT, "%s: a NumPy .npy matrix, not a text "
                                 "file (lines of JSON or TSV expected here)", r->path);
                return -1;
            }
            if (nul) {
                strata_error_set(err, STRATA_EFORMAT, "%s:%lld: NUL byte at column %zu%s",
                                 r->path, (long long)r->lineno, (size_t)(nul - start) + 1,
                                 r->lineno == 1 ? " (a binary file? text lines expected)" : "");
                return -1;
            }
            *line = start;
            *len = n;
            return 1;
        }
        if (r->eof) return 0;
        /* Need more data: compact, grow if needed, refill. */
        if (avail > r->max_line + 2) {
            strata_error_set(err, STRATA_EFORMAT,
                             "%s:%lld: line exceeds the limit of %zu bytes",
                             r->path, (long long)r->lineno + 1, r->max_line);
            return -1;
        }
        if (r->pos > 0) {
            memmove(r->buf, start, avail);
            r->len = avail;
            r->pos = 0;
        }
        if (r->cap - r->len < CHUNK / 2 + 1) {
            size_t ncap = r->cap * 2;
            char *nb = strata_realloc(r->buf, ncap);
            if (!nb) {
                strata_error_set(err, STRATA_ENOMEM, "out of memory");
                return -1;
            }
            r->buf = nb;
            r->cap = ncap;
        }
        long got = fill(r, r->cap - r->len - 1, err); /* keep 1 spare byte */
        if (got < 0) return -1;
        if (got == 0) r->eof = 1;
        r->len += (size_t)got;
    }
}

void strata_lines_close(strata_lines *r) {
    if (!r) return;
    if (r->gz) gzclose(r->gz);
    if (r->fp) fclose(r->fp);
    if (r->zd) ZSTD_freeDCtx(r->zd);
    strata_free(r->zin);
    strata_free(r->buf);
    strata_free(r->line);
    strata_free(r->path);
    strata_free(r);
}

/* ------------------------------------------------------------------------ */
/* Atomic output                                                             */
/* ------------------------------------------------------------------------ */

/* Removes path.tmp.<pid>.<n> files left by processes that no longer exist
 * (a run killed mid-write): only temporaries of this output, only of dead
 * pids (kill(pid, 0) says ESRCH), so a write in progress elsewhere is left
 * alone. Best effort: nothing here can fail the write. */
static void remove_stale_tmp(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dlen = slash ? (size_t)(slash - path) : 0, blen = strlen(base);
    /* no allocation: a failure here must not be one the write could see */
    char dir[PATH_MAX];
    if (!blen || dlen >= sizeof dir) return;
    if (slash) {
        memcpy(dir, path, dlen ? dlen : 1);
        dir[dlen ? dlen : 1] = '\0';
    } else {
        strcpy(dir, ".");
    }
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        const char *nm = e->d_name;
        if (strncmp(nm, base, blen) != 0 || strncmp(nm + blen, ".tmp.", 5) != 0) continue;
        char *end;
        errno = 0;
        long pid = strtol(nm + blen + 5, &end, 10);
        if (errno || end == nm + blen + 5 || *end != '.' || pid <= 0 || pid == (long)getpid())
            continue;
        const char *q = end + 1;
        if (!*q) continue;
        while (*q >= '0' && *q <= '9') q++;
        if (*q) continue; /* not <base>.tmp.<pid>.<n> */
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or unknown */
        unlinkat(dirfd(d), nm, 0);
    }
    if (d) closedir(d);
}

strata_status strata_atomic_open(strata_atomic *a, const char *path,
                                 strata_error *err) {
    static unsigned counter = 0;
    remove_stale_tmp(path);
    memset(a, 0, sizeof *a);
    size_t n = strlen(path) + 64;
    a->tmp_path = strata_malloc(n);
    a->final_path = strata_strdup(path);
    if (!a->tmp_path || !a->final_path) {
        strata_atomic_abort(a);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    unsigned c = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
    snprintf(a->tmp_path, n, "%s.tmp.%ld.%u", path, (long)getpid(), c);
    a->fp = fopen(a->tmp_path, "wb");
    if (!a->fp) {
        strata_error_set(err, STRATA_EIO, "%s: cannot create: %s", path,
                         strerror(errno));
        strata_free(a->tmp_path);
        strata_free(a->final_path);
        memset(a, 0, sizeof *a);
        return STRATA_EIO;
    }
    return STRATA_OK;
}

strata_status strata_atomic_commit(strata_atomic *a, strata_error *err) {
    if (!a->fp) return strata_error_set(err, STRATA_ESTATE, "atomic file not open");
    int bad = fflush(a->fp) != 0 || ferror(a->fp);
    if (!bad) bad = fsync(fileno(a->fp)) != 0;
    int e = errno;
    if (fclose(a->fp) != 0) bad = 1;
    a->fp = NULL;
    if (bad || rename(a->tmp_path, a->final_path) != 0) {
        if (!bad) e = errno;
        strata_error_set(err, STRATA_EIO, "%s: write failed: %s", a->final_path,
                         strerror(e));
        unlink(a->tmp_path);
        strata_free(a->tmp_path);
        strata_free(a->final_path);
        a->tmp_path = a->final_path = NULL;
        return STRATA_EIO;
    }
    strata_free(a->tmp_path);
    strata_free(a->final_path);
    a->tmp_path = a->final_path = NULL;
    return STRATA_OK;
}

void strata_atomic_abort(strata_atomic *a) {
    if (!a) return;
    if (a->fp) fclose(a->fp);
    if (a->tmp_path) unlink(a->tmp_path);
    strata_free(a->tmp_path);
    strata_free(a->final_path);
    memset(a, 0, sizeof *a);
}

strata_status strata_write_file(const char *path, const void *data,
                                size_t len, strata_error *err) {
    strata_atomic a;
    strata_status st = strata_atomic_open(&a, path, err);
    if (st) return st;
    if (len && fwrite(data, 1, len, a.fp) != len) {
        strata_atomic_abort(&a);
        return strata_error_set(err, STRATA_EIO, "%s: write failed", path);
    }
    return strata_atomic_commit(&a, err);
}

strata_status strata_read_file(const char *path, char **data, size_t *len,
                               size_t max_bytes, strata_error *err) {
    *data = NULL;
    if (len) *len = 0;
    if (!max_bytes) max_bytes = (size_t)256 << 20;
    FILE *f = fopen(path, "rb");
    if (!f)
        return strata_error_set(err, STRATA_EIO, "%s: cannot open: %s", path,
                                strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return strata_error_set(err, STRATA_EIO, "%s: not a regular file", path);
    }
    if ((size_t)sb.st_size > max_bytes) {
        fclose(f);
        return strata_error_set(err, STRATA_EFORMAT, "%s: file of %lld bytes exceeds %zu",
                                path, (long long)sb.st_size, max_bytes);
    }
    size_t n = (size_t)sb.st_size;
    char *buf = strata_malloc(n + 1);
    if (!buf) {
        fclose(f);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    if (fread(buf, 1, n, f) != n) {
        fclose(f);
        strata_free(buf);
        return strata_error_set(err, STRATA_EIO, "%s: read failed", path);
    }
    fclose(f);
    buf[n] = '\0';
    *data = buf;
    if (len) *len = n;
    return STRATA_OK;
}

strata_status strata_mkdirs(const char *path, strata_error *err) {
    char *p = strata_strdup(path);
    if (!p) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    for (char *s = p + 1; ; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                strata_error_set(err, STRATA_EIO, "%s: cannot create directory: %s",
                                 p, strerror(errno));
                strata_free(p);
                return STRATA_EIO;
            }
            *s = c;
            if (c == '\0') break;
        }
    }
    strata_free(p);
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return strata_error_set(err, STRATA_EIO, "%s: not a directory", path);
    return STRATA_OK;
}

char *strata_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *s = strata_malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, dir, a);
    size_t k = a;
    if (a && dir[a - 1] != '/') s[k++] = '/';
    memcpy(s + k, name, b + 1);
    return s;
}
