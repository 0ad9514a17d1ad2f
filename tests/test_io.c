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
    strata_lines *r;
    strata_error err;
    assert_int_equal(strata_lines_open(&r, zp, 0, &err), STRATA_OK);
    const char *line;
    size_t ll;
    int rc;
    while ((rc = strata_lines_next(r, &line, &ll, &err)) == 1) {}
    strata_lines_close(r);
    (void)rc; /* zstd reports truncation as end of input; the reader must not crash */
    free(z);
    free(text);
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_plain_crlf),
        cmocka_unit_test(test_lines_gz_zst),
        cmocka_unit_test(test_lines_nul_and_long),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_half),
        cmocka_unit_test(test_npy_roundtrip),
        cmocka_unit_test(test_npy_bad),
        cmocka_unit_test(test_safetensors_roundtrip_and_bad),
        cmocka_unit_test(test_atomic_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
