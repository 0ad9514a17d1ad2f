/*
 * test_io.c — line reader, atomic files, .npy and safetensors: round trips,
 * conversions, and bad input with clear errors.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "strata/io.h"
#include "testutil.h"

static void test_lines_plain_crlf(void **state) {
    (void)state;
    const char *p = tu_join(tu_tmpdir(), "crlf.txt");
    tu_write_str(p, "a\r\nbb\n\nccc");
    strata_lines *r;
    strata_error err;
    assert_int_equal(strata_lines_open(&r, p, 0, &err), STRATA_OK);
    const char *line;
    size_t len;
    assert_int_equal(strata_lines_next(r, &line, &len, &err), 1);
    assert_string_equal(line, "a");
    assert_int_equal(strata_lines_next(r, &line, &len, &err), 1);
    assert_string_equal(line, "bb");
    assert_int_equal(strata_lines_next(r, &line, &len, &err), 1);
    assert_int_equal(len, 0);
    assert_int_equal(strata_lines_next(r, &line, &len, &err), 1);
    assert_string_equal(line, "ccc");
    assert_int_equal(strata_lines_lineno(r), 4);
    assert_int_equal(strata_lines_next(r, &line, &len, &err), 0);
    strata_lines_close(r);
}

static void read_all_lines(const char *path, int expect) {
    strata_lines *r;
    strata_error err;
    assert_int_equal(strata_lines_open(&r, path, 0, &err), STRATA_OK);
    const char *line;
    size_t len;
    int n = 0, rc;
    char want[32];
    while ((rc = strata_lines_next(r, &line, &len, &err)) == 1) {
        snprintf(want, sizeof want, "line %d", n);
        assert_string_equal(line, want);
        n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, expect);
    strata_lines_close(r);
}

static void expect_truncated(const char *path);

static void test_lines_gz_zst(void **state) {
    (void)state;
    enum { N = 200000 };
    size_t cap = (size_t)N * 16, len = 0;
    char *text = malloc(cap);
    for (int i = 0; i < N; i++) len += (size_t)sprintf(text + len, "line %d\n", i);
    const char *gzp = tu_join(tu_tmpdir(), "x.gz");
    gzFile g = gzopen(gzp, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, text, (unsigned)len), (int)len);
    gzclose(g);
    read_all_lines(gzp, N);
    size_t zcap = ZSTD_compressBound(len);
    char *z = malloc(zcap);
    size_t zl = ZSTD_compress(z, zcap, text, len, 3);
    assert_false(ZSTD_isError(zl));
    const char *zp = tu_join(tu_tmpdir(), "x.zst");
    tu_write(zp, z, zl);
    read_all_lines(zp, N);
    /* a truncated zstd stream is an error, not a silent short read */
    tu_write(zp, z, zl / 2);
    expect_truncated(zp);
    free(z);
    free(text);
}

/* Reads every line of path; the reader must fail (not reach a clean end of
 * file) with an error naming the file. */
static void expect_truncated(const char *path) {
    strata_lines *r;
    strata_error err;
    assert_int_equal(strata_lines_open(&r, path, 0, &err), STRATA_OK);
    const char *line;
    size_t ll;
    int rc;
    long n = 0;
    while ((rc = strata_lines_next(r, &line, &ll, &err)) == 1) n++;
    strata_lines_close(r);
    if (rc != -1) fail_msg("%s: truncated input read as %ld complete lines", path, n);
    if (!strstr(err.msg, path) || !strstr(err.msg, "truncated"))
        fail_msg("%s: error does not name the file or say truncated: %s", path, err.msg);
}

/* Truncated compressed files where the cut falls on a boundary the
 * decoder can resume from (issue #15: read as shorter files, exit 0). Each
 * file holds 2 x 3000 lines; a cut at a frame / member end is a valid file
 * and is still read in full. */
static void test_lines_truncated_compressed(void **state) {
    (void)state;
    enum { N = 3000 };
    char *half[2];
    size_t hl[2];
    for (int h = 0; h < 2; h++) {
        half[h] = malloc((size_t)N * 16);
        hl[h] = 0;
        for (int i = 0; i < N; i++) hl[h] += (size_t)sprintf(half[h] + hl[h], "line %d\n", h * N + i);
    }
    const char *dir = tu_tmpdir();
    /* gzip: one member with a sync flush between the halves */
    const char *gzp = tu_join(dir, "t.gz");
    gzFile g = gzopen(gzp, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, half[0], (unsigned)hl[0]), (int)hl[0]);
    assert_int_equal(gzflush(g, Z_SYNC_FLUSH), Z_OK);
    assert_int_equal(gzwrite(g, half[1], (unsigned)hl[1]), (int)hl[1]);
    gzclose(g);
    size_t glen;
    char *gz = tu_read(gzp, &glen);
    read_all_lines(gzp, 2 * N);
    long at_flush = 0;
    /* where the sync flush ended: the empty stored block 00 00 ff ff */
    for (size_t i = 10; i + 4 <= glen; i++)
        if (memcmp(gz + i, "\x00\x00\xff\xff", 4) == 0) {
            at_flush = (long)i + 4;
            break;
        }
    assert_true(at_flush > 0);
    const char *cut = tu_join(dir, "cut.gz");
    tu_write(cut, gz, (size_t)at_flush); /* cut after the sync flush */
    expect_truncated(cut);
    tu_write(cut, gz, glen - 4); /* gzip trailer: length cut */
    expect_truncated(cut);
    tu_write(cut, gz, glen - 8); /* whole trailer cut */
    expect_truncated(cut);
    /* zstd: two frames, the second with a checksum */
    size_t zc = ZSTD_compressBound(hl[0]) + ZSTD_compressBound(hl[1]);
    char *z = malloc(zc);
    size_t z1 = ZSTD_compress(z, zc, half[0], hl[0], 3);
    assert_false(ZSTD_isError(z1));
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1)));
    size_t z2 = ZSTD_compress2(cc, z + z1, zc - z1, half[1], hl[1]);
    assert_false(ZSTD_isError(z2));
    ZSTD_freeCCtx(cc);
    const char *zp = tu_join(dir, "t.zst");
    tu_write(zp, z, z1 + z2);
    read_all_lines(zp, 2 * N);
    tu_write(zp, z, z1); /* cut at the frame boundary: a valid file */
    read_all_lines(zp, N);
    const char *zcut = tu_join(dir, "cut.zst");
    tu_write(zcut, z, z1 + z2 / 2); /* second frame cut */
    expect_truncated(zcut);
    tu_write(zcut, z, z1 + z2 - 4); /* checksum cut */
    expect_truncated(zcut);
    tu_write(zcut, z, z1 + z2 - 1); /* last checksum byte cut */
    expect_truncated(zcut);
    tu_write(zcut, z, 4); /* the magic alone */
    expect_truncated(zcut);
    free(z);
    free(gz);
    free(half[0]);
    free(half[1]);
}

static void test_lines_nul_and_long(void **state) {
    (void)state;
    const char *p = tu_join(tu_tmpdir(), "nul.txt");
    tu_write(p, "ok\nab\0cd\n", 9);
    strata_lines *r;
    strata_error err;
    const char *line;
    size_t len;
    assert_int_equal(strata_lines_open(&r, p, 0, &err), STRATA_OK);
    assert_int_equal(strata_lines_next(r, &line, &len, &err), 1);
    assert_int_equal(strata_lines_next(r, &line, &len, &err), -1);
    assert_non_null(strstr(err.msg, "nul.txt:2: NUL byte at column 3"));
    strata_lines_close(r);

    size_t big = (1u << 20) + 10;
    char *s = malloc(big + 1);
    memset(s, 'x', big);
    s[big] = '\n';
    p = tu_join(tu_tmpdir(), "long.txt");
    tu_write(p, s, big + 1);
    free(s);
    assert_int_equal(strata_lines_open(&r, p, 0, &err), STRATA_OK);
    assert_int_equal(strata_lines_next(r, &line, &len, &err), -1);
    assert_non_null(strstr(err.msg, "long.txt:1: line"));
    assert_non_null(strstr(err.msg, "exceeds the limit"));
    strata_lines_close(r);
}

static void test_utf8(void **state) {
    (void)state;
    assert_int_equal(strata_utf8_invalid_at("h\xc3\xa9llo", 6), -1);
    assert_int_equal(strata_utf8_invalid_at("ab\xff", 3), 2);
    assert_int_equal(strata_utf8_invalid_at("a\xc3", 2), 1);          /* truncated */
    assert_int_equal(strata_utf8_invalid_at("\xed\xa0\x80", 3), 0);    /* surrogate */
    assert_int_equal(strata_utf8_invalid_at("\xc0\xaf", 2), 0);        /* overlong */
    assert_int_equal(strata_utf8_invalid_at("\xf0\x9f\x98\x80", 4), -1);
}

static void test_half(void **state) {
    (void)state;
    /* every finite half round-trips through float exactly */
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        float f = strata_f16_to_f32((uint16_t)h);
        assert_int_equal(strata_f32_to_f16(f), h);
    }
    assert_float_equal(strata_f16_to_f32(0x3c00), 1.0f, 0);
    assert_float_equal(strata_f16_to_f32(0xc000), -2.0f, 0);
    assert_int_equal(strata_f32_to_f16(65520.0f), 0x7c00); /* rounds to inf */
    assert_float_equal(strata_bf16_to_f32(strata_f32_to_bf16(3.140625f)), 3.140625f, 0);
}

static void test_npy_roundtrip(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    float x[6] = {1, 2, 3, 4, 5.5f, -6};
    int64_t shape[2] = {3, 2};
    strata_error err;
    const char *p = tu_join(dir, "a.npy");
    assert_int_equal(strata_npy_save(p, STRATA_DTYPE_F32, 2, shape, x, &err), STRATA_OK);
    strata_npy a;
    assert_int_equal(strata_npy_load(&a, p, &err), STRATA_OK);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.shape[0], 3);
    assert_int_equal(a.shape[1], 2);
    assert_memory_equal(a.data, x, sizeof x);
    strata_npy_free(&a);
    int64_t iv[4] = {-1, 0, 1LL << 40, 7};
    int64_t s1 = 4;
    p = tu_join(dir, "i.npy");
    assert_int_equal(strata_npy_save(p, STRATA_DTYPE_I64, 1, &s1, iv, &err), STRATA_OK);
    assert_int_equal(strata_npy_load(&a, p, &err), STRATA_OK);
    assert_int_equal(a.dtype, STRATA_DTYPE_I64);
    assert_memory_equal(a.data, iv, sizeof iv);
    strata_npy_free(&a);
    assert_int_equal(tu_count_files(dir, ".tmp."), 0);
}

static void test_npy_bad(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    float x[6] = {0};
    int64_t shape[2] = {3, 2};
    strata_error err;
    const char *p = tu_join(dir, "b.npy");
    assert_int_equal(strata_npy_save(p, STRATA_DTYPE_F32, 2, shape, x, &err), STRATA_OK);
    size_t len;
    char *raw = tu_read(p, &len);
    /* drop the last 4 bytes: shape disagrees with size */
    tu_write(p, raw, len - 4);
    strata_npy a;
    assert_int_equal(strata_npy_load(&a, p, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "needs 24 data bytes but the file has 20"));
    /* big-endian descr is refused */
    char *be = strstr(raw + 10, "<f4");
    be[0] = '>';
    tu_write(p, raw, len);
    assert_int_equal(strata_npy_load(&a, p, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "descr"));
    /* not an npy at all */
    tu_write_str(p, "hello world, not numpy");
    assert_int_equal(strata_npy_load(&a, p, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "bad magic"));
    free(raw);
}

static void test_safetensors_roundtrip_and_bad(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    float w[6] = {1, 2, 3, 4, 5, 6};
    uint16_t h[3] = {0x3c00, 0x4000, 0xc000};
    strata_tensor t[2] = {
        {.name = "b.weight", .dtype = STRATA_DTYPE_F32, .ndim = 2, .shape = {2, 3}, .data = w, .nbytes = sizeof w},
        {.name = "a.bias", .dtype = STRATA_DTYPE_F16, .ndim = 1, .shape = {3}, .data = h, .nbytes = sizeof h},
    };
    strata_error err;
    const char *p = tu_join(dir, "m.safetensors");
    assert_int_equal(strata_safetensors_save(p, 2, t, "{\"format\":\"pt\"}", &err), STRATA_OK);
    strata_safetensors st;
    assert_int_equal(strata_safetensors_load(&st, p, &err), STRATA_OK);
    assert_int_equal(st.n, 2);
    const strata_tensor *b = strata_safetensors_find(&st, "b.weight");
    assert_non_null(b);
    assert_memory_equal(b->data, w, sizeof w);
    const strata_tensor *a = strata_safetensors_find(&st, "a.bias");
    float f[3];
    assert_int_equal(strata_convert_to_f32(f, a->data, a->dtype, 3, &err), STRATA_OK);
    assert_float_equal(f[2], -2.0f, 0);
    assert_null(strata_safetensors_find(&st, "missing"));
    assert_non_null(st.metadata_json);
    strata_safetensors_free(&st);
    /* truncate: offsets now past the end of the data */
    size_t len;
    char *raw = tu_read(p, &len);
    tu_write(p, raw, len - 8);
    assert_int_equal(strata_safetensors_load(&st, p, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "past the end of the data"));
    /* header length past end */
    raw[0] = (char)0xff;
    raw[1] = (char)0xff;
    raw[2] = (char)0xff;
    tu_write(p, raw, len);
    assert_int_equal(strata_safetensors_load(&st, p, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "header length"));
    free(raw);
    /* a second "__metadata__" object is refused (found by fuzzing: it leaked) */
    const char *hdr = "{\"__metadata__\":{\"a\":\"1\"},\"__metadata__\":{\"b\":\"2\"}}";
    size_t hl = strlen(hdr);
    unsigned char buf[128] = {0};
    buf[0] = (unsigned char)hl;
    memcpy(buf + 8, hdr, hl);
    tu_write(p, buf, 8 + hl);
    assert_int_equal(strata_safetensors_load(&st, p, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "\"__metadata__\" appears twice"));
}

static void test_atomic_abort(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    const char *p = tu_join(dir, "out.bin");
    strata_atomic a;
    strata_error err;
    assert_int_equal(strata_atomic_open(&a, p, &err), STRATA_OK);
    fputs("partial", a.fp);
    strata_atomic_abort(&a);
    assert_false(tu_exists(p));
    assert_int_equal(tu_count_files(dir, "out.bin"), 0);
}

/* The directory manifest: incomplete from begin to commit; complete with
 * each listed file at its recorded size; a directory without manifest is
 * taken as is. */
static void test_dir_manifest(void **state) {
    (void)state;
    strata_error err;
    int found = -1;
    char dir[512]; /* tu_join's buffers rotate */
    snprintf(dir, sizeof dir, "%s", tu_join(tu_tmpdir(), "unit"));
    assert_int_equal(strata_dir_begin(dir, "cluster", &err), STRATA_OK); /* creates dir */
    tu_write_str(tu_join(dir, "a.txt"), "aaaa");
    assert_int_equal(strata_dir_check(dir, "cluster", &found, &err), STRATA_EFORMAT);
    assert_int_equal(found, 1);
    assert_non_null(strstr(err.msg, "incomplete cluster directory"));
    assert_non_null(strstr(err.msg, dir));
    tu_write_str(tu_join(dir, "b.txt"), "bb");
    const char *files[] = {"a.txt", "b.txt"};
    assert_int_equal(strata_dir_commit(dir, "cluster", files, 2, &err), STRATA_OK);
    assert_int_equal(strata_dir_check(dir, "cluster", &found, &err), STRATA_OK);
    assert_int_equal(strata_dir_check(dir, NULL, NULL, &err), STRATA_OK);
    assert_int_equal(strata_dir_check(dir, "plan", NULL, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "a cluster directory, expected a plan directory"));
    /* a file changed or removed after the commit */
    tu_write_str(tu_join(dir, "b.txt"), "bbb");
    assert_int_equal(strata_dir_check(dir, NULL, NULL, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "b.txt: 3 bytes, but"));
    tu_write_str(tu_join(dir, "b.txt"), "bb");
    unlink(tu_join(dir, "a.txt"));
    assert_int_equal(strata_dir_check(dir, NULL, NULL, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "a.txt: missing"));
    tu_write_str(tu_join(dir, "a.txt"), "aaaa");
    /* commit without begin extends a complete unit (a model in a checkpoint) */
    tu_write_str(tu_join(dir, "c.txt"), "c");
    const char *more[] = {"c.txt"};
    assert_int_equal(strata_dir_commit(dir, "checkpoint", more, 1, &err), STRATA_OK);
    assert_int_equal(strata_dir_check(dir, "checkpoint", NULL, &err), STRATA_OK);
    unlink(tu_join(dir, "b.txt"));
    assert_int_equal(strata_dir_check(dir, NULL, NULL, &err), STRATA_EFORMAT); /* b still listed */
    /* begin forgets the old list */
    assert_int_equal(strata_dir_begin(dir, "cluster", &err), STRATA_OK);
    assert_int_equal(strata_dir_commit(dir, "cluster", more, 1, &err), STRATA_OK);
    assert_int_equal(strata_dir_check(dir, NULL, NULL, &err), STRATA_OK);
    /* names outside the directory, and missing files, cannot be listed */
    const char *bad[] = {"../x"};
    assert_int_equal(strata_dir_commit(dir, "cluster", bad, 1, &err), STRATA_EINVAL);
    const char *absent[] = {"nope.txt"};
    assert_int_equal(strata_dir_commit(dir, "cluster", absent, 1, &err), STRATA_EIO);
    /* no manifest: taken as is */
    char plain[512];
    snprintf(plain, sizeof plain, "%s", tu_join(tu_tmpdir(), "plain"));
    assert_int_equal(strata_mkdirs(plain, &err), STRATA_OK);
    assert_int_equal(strata_dir_check(plain, "cluster", &found, &err), STRATA_OK);
    assert_int_equal(found, 0);
    /* a manifest.json that is not ours */
    tu_write_str(tu_join(plain, "manifest.json"), "{\"name\": \"x\"}");
    assert_int_equal(strata_dir_check(plain, NULL, NULL, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "\"format\""));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_plain_crlf),
        cmocka_unit_test(test_lines_gz_zst),
        cmocka_unit_test(test_lines_truncated_compressed),
        cmocka_unit_test(test_lines_nul_and_long),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_half),
        cmocka_unit_test(test_npy_roundtrip),
        cmocka_unit_test(test_npy_bad),
        cmocka_unit_test(test_safetensors_roundtrip_and_bad),
        cmocka_unit_test(test_atomic_abort),
        cmocka_unit_test(test_dir_manifest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
