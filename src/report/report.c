/*
 * report.c — HTML page with inline SVG line plots and tables.
 */
#define _POSIX_C_SOURCE 200809L
#include "strata/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

struct strata_report {
    strata__buf body;
    char *title;
    int oom;
    int n_plots;
};

/* Okabe & Ito's colour-blind-safe palette (yellow last: faint on white),
 * and a dash pattern per series as a second cue that survives greyscale. */
static const char *const palette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                      "#E69F00", "#56B4E9", "#000000", "#F0E442"};
#define NPAL (sizeof palette / sizeof palette[0])
static const char *const dashes[] = {"none", "6,3", "2,2", "8,3,2,3", "1,3", "10,4"};
#define NDASH (sizeof dashes / sizeof dashes[0])

static void put(strata_report *r, const char *s) {
    if (!r->oom && strata__buf_append(&r->body, s, strlen(s))) r->oom = 1;
}

static void putf(strata_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(strata_report *r, const char *fmt, ...) {
    if (r->oom) return;
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        put(r, tmp);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        r->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    put(r, big);
    free(big);
}

static void put_escaped(strata_report *r, const char *s) {
    if (r->oom) return;
    for (; s && *s; s++) {
        switch (*s) {
        case '<': put(r, "&lt;"); break;
        case '>': put(r, "&gt;"); break;
        case '&': put(r, "&amp;"); break;
        case '"': put(r, "&quot;"); break;
        default: {
            char c[2] = {*s, 0};
            put(r, c);
        }
        }
    }
}

strata_report *strata_report_new(const char *title) {
    strata_report *r = strata_calloc(1, sizeof *r);
    if (!r) return NULL;
    r->title = strata_strdup(title ? title : "Strata report");
    if (!r->title) {
        strata_free(r);
        return NULL;
    }
    return r;
}

void strata_report_free(strata_report *r) {
    if (!r) return;
    strata__buf_free(&r->body);
    strata_free(r->title);
    strata_free(r);
}

void strata_report_heading(strata_report *r, const char *text) {
    put(r, "<h2>");
    put_escaped(r, text);
    put(r, "</h2>\n");
}

void strata_report_paragraph(strata_report *r, const char *text) {
    put(r, "<p>");
    put_escaped(r, text);
    put(r, "</p>\n");
}

void strata_report_html(strata_report *r, const char *html) { put(r, html); }

static int is_number(const char *s) {
    if (!s || !*s) return 0;
    char *end;
    strtod(s, &end);
    while (*end == '%' || *end == ' ') end++;
    return *end == '\0';
}

void strata_report_table(strata_report *r, int ncols, const char *const *header,
                         int nrows, const char *const *cells) {
    put(r, "<table>\n");
    if (header) {
        put(r, "<tr>");
        for (int c = 0; c < ncols; c++) {
            put(r, "<th>");
            put_escaped(r, header[c]);
            put(r, "</th>");
        }
        put(r, "</tr>\n");
    }
    for (int i = 0; i < nrows; i++) {
        put(r, "<tr>");
        for (int c = 0; c < ncols; c++) {
            const char *v = cells[(size_t)i * (size_t)ncols + (size_t)c];
            put(r, is_number(v) ? "<td class=\"num\">" : "<td>");
            put_escaped(r, v ? v : "");
            put(r, "</td>");
        }
        put(r, "</tr>\n");
    }
    put(r, "</table>\n");
}

/* "Nice" tick step for a range: 1, 2 or 5 times a power of ten. */
static double nice_step(double range, int target) {
    if (!(range > 0)) return 1;
    double raw = range / target;
    double p = pow(10, floor(log10(raw)));
    double m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void fmt_tick(char *b, size_t n, double v) {
    if (fabs(v) < 1e-12) v = 0;
    double a = fabs(v);
    if (a != 0 && (a >= 1e5 || a < 1e-3)) snprintf(b, n, "%.1e", v);
    else snprintf(b, n, "%.4g", v);
}

void strata_report_line_plot(strata_report *r, const strata_plot_options *opt,
                             int nseries, const strata_series *series) {
    int W = opt->width > 0 ? opt->width : 640, Hh = opt->height > 0 ? opt->height : 320;
    const double ml = 64, mr = 150, mt = 28, mb = 44;
    double pw = W - ml - mr, ph = Hh - mt - mb;
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    int win = opt->smooth > 1 ? opt->smooth : 1;
    /* smoothed copies */
    double **ys = calloc((size_t)(nseries > 0 ? nseries : 1), sizeof *ys);
    if (!ys) {
        r->oom = 1;
        return;
    }
    for (int s = 0; s < nseries; s++) {
        const strata_series *se = &series[s];
        ys[s] = malloc(sizeof(double) * (size_t)(se->n > 0 ? se->n : 1));
        if (!ys[s]) {
            r->oom = 1;
            continue;
        }
        for (int i = 0; i < se->n; i++) {
            double acc = 0;
            int cnt = 0;
            for (int j = i - win + 1; j <= i; j++)
                if (j >= 0 && isfinite(se->y[j])) {
                    acc += se->y[j];
                    cnt++;
                }
            ys[s][i] = cnt ? acc / cnt : NAN;
            double x = opt->log_x ? log10(se->x[i]) : se->x[i];
            if (!isfinite(x) || !isfinite(ys[s][i])) continue;
            if (x < xmin) xmin = x;
            if (x > xmax) xmax = x;
            if (ys[s][i] < ymin) ymin = ys[s][i];
            if (ys[s][i] > ymax) ymax = ys[s][i];
        }
    }
    if (!(xmax > xmin)) { xmin -= 1; xmax += 1; }
    if (!(ymax > ymin)) { ymin -= 1; ymax += 1; }
    double ypad = 0.05 * (ymax - ymin);
    ymin -= ypad;
    ymax += ypad;
    put(r, "<figure>\n");
    putf(r, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n",
         W, Hh, W, Hh);
    putf(r, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"#fff\" stroke=\"#999\"/>\n",
         ml, mt, pw, ph);
    if (opt->title) {
        putf(r, "<text x=\"%.0f\" y=\"16\" font-size=\"13\" font-weight=\"bold\">", ml);
        put_escaped(r, opt->title);
        put(r, "</text>\n");
    }
#define X(v) (ml + ((v) - xmin) / (xmax - xmin) * pw)
#define Y(v) (mt + ph - ((v) - ymin) / (ymax - ymin) * ph)
    double ys_step = nice_step(ymax - ymin, 5);
    for (double t = ceil(ymin / ys_step) * ys_step; t <= ymax + 1e-12; t += ys_step) {
        char b[32];
        fmt_tick(b, sizeof b, t);
        putf(r, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
             ml, ml + pw, Y(t), Y(t), ml - 4, Y(t) + 4, b);
    }
    double xs_step = opt->log_x ? 1 : nice_step(xmax - xmin, 6);
    for (double t = ceil(xmin / xs_step) * xs_step; t <= xmax + 1e-12; t += xs_step) {
        char b[32];
        fmt_tick(b, sizeof b, opt->log_x ? pow(10, t) : t);
        putf(r, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
             X(t), X(t), mt, mt + ph, X(t), mt + ph + 14, b);
    }
    if (opt->xlabel) {
        putf(r, "<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\">", ml + pw / 2, Hh - 8);
        put_escaped(r, opt->xlabel);
        put(r, "</text>\n");
    }
    if (opt->ylabel) {
        putf(r, "<text transform=\"translate(14,%.0f) rotate(-90)\" text-anchor=\"middle\">",
             mt + ph / 2);
        put_escaped(r, opt->ylabel);
        put(r, "</text>\n");
    }
    for (int s = 0; s < nseries; s++) {
        const strata_series *se = &series[s];
        const char *col = palette[(size_t)s % NPAL], *dash = dashes[(size_t)s % NDASH];
        if (!ys[s]) continue;
        int open = 0;
        for (int i = 0; i < se->n; i++) {
            double x = opt->log_x ? log10(se->x[i]) : se->x[i];
            if (!isfinite(x) || !isfinite(ys[s][i])) {
                if (open) put(r, "\"/>\n");
                open = 0;
                continue;
            }
            if (!open) {
                putf(r, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" stroke-dasharray=\"%s\" points=\"",
                     col, dash);
                open = 1;
            }
            putf(r, "%.1f,%.1f ", X(x), Y(ys[s][i]));
        }
        if (open) put(r, "\"/>\n");
        if (se->n <= 12)
            for (int i = 0; i < se->n; i++) {
                double x = opt->log_x ? log10(se->x[i]) : se->x[i];
                if (isfinite(x) && isfinite(ys[s][i]))
                    putf(r, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", X(x),
                         Y(ys[s][i]), col);
            }
        double ly = mt + 12 + 16 * s;
        putf(r, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\" "
                "stroke-dasharray=\"%s\"/><text x=\"%.0f\" y=\"%.1f\">",
             ml + pw + 10, ml + pw + 28, ly, ly, col, dash, ml + pw + 32, ly + 4);
        put_escaped(r, se->name ? se->name : "");
        put(r, "</text>\n");
    }
#undef X
#undef Y
    put(r, "</svg>\n");
    if (win > 1) putf(r, "<figcaption>moving average over %d points</figcaption>\n", win);
    put(r, "</figure>\n");
    for (int s = 0; s < nseries; s++) free(ys[s]);
    free(ys);
    r->n_plots++;
}

strata_status strata_report_write(const strata_report *r, const char *path,
                                  strata_error *err) {
    if (r->oom) return strata_error_set(err, STRATA_ENOMEM, "%s: out of memory building report", path);
    /* the title, escaped, through a scratch builder */
    strata_report t = {0};
    put_escaped(&t, r->title);
    const char *title = t.body.data ? t.body.data : "";
    strata__buf page = {0};
    int bad = t.oom || strata__buf_printf(
        &page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>%s</title>\n"
        "<style>body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px}"
        "th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}"
        "figure{margin:1em 0}figcaption{font-size:small;color:#666}</style>\n"
        "</head><body>\n<h1>%s</h1>\n",
        title, title);
    strata__buf_free(&t.body);
    bad = bad || strata__buf_append(&page, r->body.data ? r->body.data : "", r->body.len);
    bad = bad || strata__buf_printf(&page, "<hr><p style=\"font-size:small;color:#666\">"
                                           "strata %s</p>\n</body></html>\n",
                                    strata_version());
    if (bad) {
        strata__buf_free(&page);
        return strata_error_set(err, STRATA_ENOMEM, "%s: out of memory", path);
    }
    strata_status st = strata_write_file(path, page.data, page.len, err);
    strata__buf_free(&page);
    return st;
}
