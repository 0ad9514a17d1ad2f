/* test_report.c — the HTML/SVG report builder. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strata/report.h"
#include "testutil.h"

static void test_report_page(void **state) {
    (void)state;
    strata_report *r = strata_report_new("Loss <curves> & more");
    assert_non_null(r);
    strata_report_heading(r, "Training");
    strata_report_paragraph(r, "a < b");
    double x[5] = {1, 2, 3, 4, 5}, y1[5] = {5, 4, NAN, 2, 1}, y2[5] = {1, 2, 3, 4, 5};
    strata_series s[2] = {{"random", x, y1, 5}, {"cluster", x, y2, 5}};
    strata_plot_options po = {.title = "loss", .xlabel = "step", .ylabel = "loss", .smooth = 1};
    strata_report_line_plot(r, &po, 2, s);
    const char *hdr[2] = {"strategy", "ndcg@10"};
    const char *cells[4] = {"random", "0.5", "cluster", "0.6"};
    strata_report_table(r, 2, hdr, 2, cells);
    const char *path = tu_join(tu_tmpdir(), "r.html");
    strata_error err;
    assert_int_equal(strata_report_write(r, path, &err), STRATA_OK);
    strata_report_free(r);
    char *html = tu_read(path, NULL);
    assert_non_null(html);
    assert_non_null(strstr(html, "<title>Loss &lt;curves&gt; &amp; more</title>"));
    assert_non_null(strstr(html, "<p>a &lt; b</p>"));
    /* the NaN point splits the first series into two polylines, plus one for the second */
    int polylines = 0;
    for (const char *p = html; (p = strstr(p, "<polyline")); p++) polylines++;
    assert_int_equal(polylines, 3);
    assert_non_null(strstr(html, "<td class=\"num\">0.6</td>"));
    assert_non_null(strstr(html, ">cluster</text>"));
    free(html);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_report_page)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
