/*
 * test_interop.c — .npy and safetensors files cross the language boundary:
 * what strata writes, numpy reads with the same values (and a hand-written
 * safetensors parser in Python agrees); what numpy writes (incl. version-2.0
 * headers, 0-row arrays) strata reads, and what it must refuse (Fortran
 * order, a shape larger than the data, offsets past the end) it refuses with
 * a clear message.
 *
 * Reference: numpy (np.load / np.save / np.lib.format), driven by
 * tests/ref/interop.py. All comparisons are exact: the test values are
 * quarter-integers in [-12.5, 12.5], exactly representable in every dtype.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/io.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* Values shared with tests/ref/interop.py                                   */
/* ------------------------------------------------------------------------ */

static double value(strata_dtype dt, int64_t i) {
    int64_t v = (i * 37) % 101;
    if (dt == STRATA_DTYPE_U8) return (double)v;
    v -= 50;
    if (dt == STRATA_DTYPE_F32 || dt == STRATA_DTYPE_F16 || dt == STRATA_DTYPE_BF16)
        return (double)v / 4.0;
    return (double)v;
}

/* Fills a buffer of n elements of dt with the formula. */
static void *make(strata_dtype dt, int64_t n) {
    void *p = calloc((size_t)(n ? n : 1), strata_dtype_size(dt));
    for (int64_t i = 0; i < n; i++) {
        double v = value(dt, i);
        switch (dt) {
        case STRATA_DTYPE_F32: ((float *)p)[i] = (float)v; break;
        case STRATA_DTYPE_F16: ((uint16_t *)p)[i] = strata_f32_to_f16((float)v); break;
        case STRATA_DTYPE_BF16: ((uint16_t *)p)[i] = strata_f32_to_bf16((float)v); break;
        case STRATA_DTYPE_I32: ((int32_t *)p)[i] = (int32_t)v; break;
        case STRATA_DTYPE_I64: ((int64_t *)p)[i] = (int64_t)v; break;
        case STRATA_DTYPE_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
        default: fail_msg("dtype");
        }
    }
    return p;
}

static double get(strata_dtype dt, const void *p, int64_t i) {
    switch (dt) {
    case STRATA_DTYPE_F32: return ((const float *)p)[i];
    case STRATA_DTYPE_F16: return strata_f16_to_f32(((const uint16_t *)p)[i]);
    case STRATA_DTYPE_BF16: return strata_bf16_to_f32(((const uint16_t *)p)[i]);
    case STRATA_DTYPE_I32: return ((const int32_t *)p)[i];
    case STRATA_DTYPE_I64: return (double)((const int64_t *)p)[i];
    case STRATA_DTYPE_U8: return ((const uint8_t *)p)[i];
    default: fail_msg("dtype"); return 0;
    }
}

static const char *py_name(strata_dtype dt) {
    switch (dt) {
    case STRATA_DTYPE_F32: return "f32";
    case STRATA_DTYPE_F16: return "f16";
    case STRATA_DTYPE_I32: return "i32";
    case STRATA_DTYPE_I64: return "i64";
    case STRATA_DTYPE_U8: return "u8";
    default: return "?";
    }
}

static const strata_dtype k_npy_types[5] = {STRATA_DTYPE_F32, STRATA_DTYPE_F16, STRATA_DTYPE_I32,
                                            STRATA_DTYPE_I64, STRATA_DTYPE_U8};

/* ------------------------------------------------------------------------ */
/* .npy                                                                      */
/* ------------------------------------------------------------------------ */

static void test_npy_strata_to_numpy(void **state) {
    (void)state;
    TU_REQUIRE_PY("numpy");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", tu_join(tu_tmpdir(), "npy_out"));
    strata_error err;
    assert_int_equal(strata_mkdirs(dir, &err), STRATA_OK);
    FILE *man = fopen(tu_join(dir, "manifest.txt"), "w");
    assert_non_null(man);
    for (int k = 0; k < 5; k++) {
        strata_dtype dt = k_npy_types[k];
        int64_t shapes[3][2] = {{5, 3}, {7, 0}, {0, 4}};
        for (int s = 0; s < 3; s++) {
            int ndim = shapes[s][1] ? 2 : 1;
            int64_t n = shapes[s][0] * (ndim == 2 ? shapes[s][1] : 1);
            void *buf = make(dt, n);
            char name[64];
            snprintf(name, sizeof name, "s_%s_%d.npy", py_name(dt), s);
            assert_int_equal(strata_npy_save(tu_join(dir, name), dt, ndim, shapes[s], buf, &err),
                             STRATA_OK);
            if (ndim == 2)
                fprintf(man, "%s %s %lld,%lld\n", name, py_name(dt), (long long)shapes[s][0],
                        (long long)shapes[s][1]);
            else
                fprintf(man, "%s %s %lld\n", name, py_name(dt), (long long)shapes[s][0]);
            free(buf);
        }
    }
    /* the streaming writer, float32 rows converted to float16 */
    int64_t shp[2] = {4, 3};
    strata_npy_writer w;
    assert_int_equal(strata_npy_writer_open(&w, tu_join(dir, "s_stream.npy"), STRATA_DTYPE_F16, 2,
                                            shp, &err), STRATA_OK);
    float *rows = make(STRATA_DTYPE_F32, 12);
    assert_int_equal(strata_npy_writer_write_f32(&w, rows, 6, &err), STRATA_OK);
    assert_int_equal(strata_npy_writer_write_f32(&w, rows + 6, 6, &err), STRATA_OK);
    assert_int_equal(strata_npy_writer_commit(&w, &err), STRATA_OK);
    free(rows);
    fprintf(man, "s_stream.npy f16 4,3\n");
    fclose(man);
    if (tu_sh("%s tests/ref/interop.py check-npy '%s'", tu_python(), dir) != 0)
        fail_msg("numpy disagrees: %s", tu_last_err());
    assert_non_null(strstr(tu_last_out(), "ok 16"));
}

static void test_npy_numpy_to_strata(void **state) {
    (void)state;
    TU_REQUIRE_PY("numpy");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", tu_join(tu_tmpdir(), "npy_in"));
    strata_error err;
    assert_int_equal(strata_mkdirs(dir, &err), STRATA_OK);
    if (tu_sh("%s tests/ref/interop.py write-npy '%s'", tu_python(), dir) != 0)
        fail_msg("interop.py write-npy: %s", tu_last_err());
    strata_npy a;
    for (int k = 0; k < 5; k++) {
        strata_dtype dt = k_npy_types[k];
        for (int d = 1; d <= 2; d++) {
            char name[64];
            snprintf(name, sizeof name, "np_%s_%dd.npy", py_name(dt), d);
            if (strata_npy_load(&a, tu_join(dir, name), &err) != STRATA_OK)
                fail_msg("%s: %s", name, err.msg);
            assert_int_equal(a.dtype, dt);
            assert_int_equal(a.ndim, d);
            assert_int_equal(a.count, d == 2 ? 15 : 7);
            if (d == 2) {
                assert_int_equal(a.shape[0], 5);
                assert_int_equal(a.shape[1], 3);
            }
            for (int64_t i = 0; i < a.count; i++)
                if (get(dt, a.data, i) != value(dt, i))
                    fail_msg("%s[%lld] = %g, numpy wrote %g", name, (long long)i,
                             get(dt, a.data, i), value(dt, i));
            strata_npy_free(&a);
        }
    }
    /* a 0-row array */
    assert_int_equal(strata_npy_load(&a, tu_join(dir, "np_f32_empty.npy"), &err), STRATA_OK);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.shape[0], 0);
    assert_int_equal(a.shape[1], 4);
    assert_int_equal(a.count, 0);
    strata_npy_free(&a);
    /* a version-2.0 header (4-byte header length) */
    strata_mat m;
    if (strata_mat_load(&m, tu_join(dir, "np_v2.npy"), &err) != STRATA_OK) fail_msg("%s", err.msg);
    assert_int_equal(m.rows, 4);
    assert_int_equal(m.cols, 6);
    for (int64_t i = 0; i < 24; i++) assert_true(m.data[i] == (float)value(STRATA_DTYPE_F32, i));
    strata_mat_free(&m);
    /* float16 through the matrix view is converted */
    assert_int_equal(strata_mat_load(&m, tu_join(dir, "np_f16_2d.npy"), &err), STRATA_OK);
    for (int64_t i = 0; i < 15; i++) assert_true(m.data[i] == (float)value(STRATA_DTYPE_F16, i));
    strata_mat_free(&m);
    /* Fortran order is refused with a message naming the field */
    assert_int_equal(strata_npy_load(&a, tu_join(dir, "np_fortran.npy"), &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "np_fortran.npy"));
    assert_non_null(strstr(err.msg, "fortran_order"));
    /* a shape that disagrees with the data size */
    assert_int_equal(strata_npy_load(&a, tu_join(dir, "np_short.npy"), &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "np_short.npy"));
    assert_non_null(strstr(err.msg, "needs 60 data bytes but the file has 48"));
}

/* ------------------------------------------------------------------------ */
/* safetensors                                                               */
/* ------------------------------------------------------------------------ */

static void test_safetensors_strata_to_python(void **state) {
    (void)state;
    TU_REQUIRE_PY("numpy");
    void *f32 = make(STRATA_DTYPE_F32, 15), *f16 = make(STRATA_DTYPE_F16, 4);
    void *bf16 = make(STRATA_DTYPE_BF16, 6), *i64 = make(STRATA_DTYPE_I64, 6);
    strata_tensor t[4] = {
        {.name = "w.f32", .dtype = STRATA_DTYPE_F32, .ndim = 2, .shape = {3, 5}, .data = f32, .nbytes = 60},
        {.name = "w.f16", .dtype = STRATA_DTYPE_F16, .ndim = 1, .shape = {4}, .data = f16, .nbytes = 8},
        {.name = "w.bf16", .dtype = STRATA_DTYPE_BF16, .ndim = 2, .shape = {2, 3}, .data = bf16, .nbytes = 12},
        {.name = "w.i64", .dtype = STRATA_DTYPE_I64, .ndim = 1, .shape = {6}, .data = i64, .nbytes = 48},
    };
    const char *p = tu_join(tu_tmpdir(), "strata.safetensors");
    strata_error err;
    assert_int_equal(strata_safetensors_save(p, 4, t, "{\"format\":\"pt\",\"who\":\"strata\"}", &err),
                     STRATA_OK);
    if (tu_sh("%s tests/ref/interop.py check-st '%s'", tu_python(), p) != 0)
        fail_msg("python disagrees: %s", tu_last_err());
    free(f32);
    free(f16);
    free(bf16);
    free(i64);
}

static void test_safetensors_python_to_strata(void **state) {
    (void)state;
    TU_REQUIRE_PY("numpy");
    char p[1024];
    snprintf(p, sizeof p, "%s", tu_join(tu_tmpdir(), "py.safetensors"));
    if (tu_sh("%s tests/ref/interop.py write-st '%s'", tu_python(), p) != 0)
        fail_msg("interop.py write-st: %s", tu_last_err());
    strata_safetensors st;
    strata_error err;
    if (strata_safetensors_load(&st, p, &err) != STRATA_OK) fail_msg("%s", err.msg);
    assert_int_equal(st.n, 4);
    struct { const char *name; strata_dtype dt; int64_t n; } want[4] = {
        {"x.f32", STRATA_DTYPE_F32, 14}, {"x.f16", STRATA_DTYPE_F16, 9},
        {"x.bf16", STRATA_DTYPE_BF16, 5}, {"x.i32", STRATA_DTYPE_I32, 4}};
    for (int k = 0; k < 4; k++) {
        const strata_tensor *t = strata_safetensors_find(&st, want[k].name);
        assert_non_null(t);
        assert_int_equal(t->dtype, want[k].dt);
        assert_int_equal(t->count, want[k].n);
        for (int64_t i = 0; i < t->count; i++)
            if (get(t->dtype, t->data, i) != value(want[k].dt, i))
                fail_msg("%s[%lld] = %g, python wrote %g", want[k].name, (long long)i,
                         get(t->dtype, t->data, i), value(want[k].dt, i));
    }
    assert_non_null(st.metadata_json);
    assert_non_null(strstr(st.metadata_json, "np"));
    strata_safetensors_free(&st);
    /* offsets past the end of the file */
    snprintf(p, sizeof p, "%s", tu_join(tu_tmpdir(), "bad.safetensors"));
    assert_int_equal(tu_sh("%s tests/ref/interop.py write-st-bad '%s'", tu_python(), p), 0);
    assert_int_equal(strata_safetensors_load(&st, p, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "bad.safetensors"));
    assert_non_null(strstr(err.msg, "past the end"));
    assert_non_null(strstr(err.msg, "x.i32"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy_strata_to_numpy),
        cmocka_unit_test(test_npy_numpy_to_strata),
        cmocka_unit_test(test_safetensors_strata_to_python),
        cmocka_unit_test(test_safetensors_python_to_strata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
