/* eval_plot.h: the PNG figures of `mama eval` (and the training curves of `mama train`),
 * drawn with PLplot's C API on its pngcairo device. PLplot keeps global stream state, so
 * these functions are for one thread at a time; each call opens, draws and closes one
 * stream. 0, or -1 with a message. */
#ifndef MAMA_TOOLS_EVAL_PLOT_H
#define MAMA_TOOLS_EVAL_PLOT_H

#include <stddef.h>
#include <stdint.h>

/* ROC curves (curve c: m[c] points fpr[c], tpr[c], labelled names[c]; up to 8) with the
 * chance diagonal. */
int eval_plot_roc(const char *path, const char *title, const double *const *fpr,
                  const double *const *tpr, const int *m, const char *const *names, int n_curves,
                  char *err, size_t errlen);

/* K x K confusion matrix (row-major, true class = row), each cell shaded by its share of
 * its row and labelled with its count; class names on the axes. */
int eval_plot_confusion(const char *path, const char *title, const int64_t *conf, int K,
                        const char *const *names, char *err, size_t errlen);

/* Up to 8 named series of (x, y) over a shared x axis (e.g. loss terms per step). */
int eval_plot_series(const char *path, const char *title, const char *xlabel, const double *x, int n,
                     const double *const *ys, const char *const *names, int n_series, char *err,
                     size_t errlen);

#endif
