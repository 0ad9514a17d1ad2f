/*
 * report.h — a self-contained HTML report with inline SVG plots and tables,
 * used by `strata demo` and the experiment runner.
 *
 * The builder accumulates text; an allocation failure is remembered and
 * reported by strata_report_write, so callers need not check every call.
 * Not thread-safe (one builder per thread).
 */
#ifndef STRATA_REPORT_H
#define STRATA_REPORT_H

#include "strata/strata.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct strata_report strata_report;

/* One line of a plot: n points (x[i], y[i]); NaN y values leave gaps. */
typedef struct strata_series {
    const char *name;
    const double *x;  /* [n] */
    const double *y;  /* [n] */
    int n;
} strata_series;

typedef struct strata_plot_options {
    const char *title;
    const char *xlabel;
    const char *ylabel;
    int smooth;        /* moving-average window over points (0/1: none) */
    int log_x;         /* logarithmic x axis (x > 0) */
    int width, height; /* pixels; 0: 640 x 320 */
} strata_plot_options;

/* Returns NULL when out of memory. */
strata_report *strata_report_new(const char *title);
void strata_report_free(strata_report *r);

void strata_report_heading(strata_report *r, const char *text);   /* <h2> */
void strata_report_paragraph(strata_report *r, const char *text); /* <p>, escaped */
/* Raw HTML, not escaped: for the caller's own markup only. */
void strata_report_html(strata_report *r, const char *html);

/* A table of nrows x ncols cells (row-major strings, escaped); header may be
 * NULL. Cells that parse as numbers are right-aligned. */
void strata_report_table(strata_report *r, int ncols, const char *const *header,
                         int nrows, const char *const *cells);

/* A line plot of nseries series as inline SVG. */
void strata_report_line_plot(strata_report *r, const strata_plot_options *opt,
                             int nseries, const strata_series *series);

/* Writes the page atomically. */
strata_status strata_report_write(const strata_report *r, const char *path,
                                  strata_error *err);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_REPORT_H */
