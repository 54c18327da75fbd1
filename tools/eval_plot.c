/* eval_plot.c: PNG figures with PLplot (see eval_plot.h). */
#include "tools/eval_plot.h"

#include <errno.h>
#include <math.h>
#include <plplot.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

/* PLplot's fatal errors end in exit(); its exit handler jumps back here instead so that the
 * tool reports the error and carries on. */
static jmp_buf plot_jmp;
static char plot_msg[256];

static int on_plplot_exit(PLCHAR_VECTOR msg) {
    snprintf(plot_msg, sizeof plot_msg, "%s", msg ? msg : "PLplot error");
    longjmp(plot_jmp, 1);
    return 1;
}

/* Checks that path can be written (PLplot/cairo would fail late and quietly). */
static int writable(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

/* Black on white: cmap0 index 0 is the background, 15 the axes colour. */
static void open_stream(const char *path, int w, int h) {
    plsexit(on_plplot_exit);
    plsdev("pngcairo");
    plsfnam(path);
    plspage(0, 0, w, h, 0, 0);
    plscolbg(255, 255, 255);
    plscol0(15, 0, 0, 0);
    plscol0(1, 200, 30, 30);
    plscol0(2, 30, 90, 200);
    plscol0(3, 30, 150, 60);
    plscol0(4, 150, 60, 170);
    plscol0(5, 230, 140, 20);
    plscol0(6, 20, 160, 170);
    plscol0(7, 120, 120, 120);
    plscol0(8, 170, 110, 50);
    plspause(0);
    plinit();
    plcol0(15);
}

int eval_plot_roc(const char *path, const char *title, const double *const *fpr,
                  const double *const *tpr, const int *m, const char *const *names, int n_curves,
                  char *err, size_t errlen) {
    if (n_curves < 1 || n_curves > 8) {
        snprintf(err, errlen, "%s: 1..8 ROC curves, not %d", path, n_curves);
        return -1;
    }
    if (writable(path, err, errlen)) return -1;
    if (setjmp(plot_jmp)) {
        snprintf(err, errlen, "%s: %s", path, plot_msg);
        return -1;
    }
    open_stream(path, 640, 640);
    plenv(0, 1, 0, 1, 1, 0);
    pllab("1 - specificity (false positive rate)", "sensitivity (true positive rate)", title);
    PLFLT dx[2] = {0, 1}, dy[2] = {0, 1};
    plcol0(7);
    pllsty(2);
    plline(2, dx, dy);
    pllsty(1);
    enum { MAXP = 4096 };
    static PLFLT x[MAXP], y[MAXP];
    for (int c = 0; c < n_curves; c++) {
        int step = m[c] > MAXP ? (m[c] + MAXP - 1) / MAXP : 1, k = 0;
        for (int i = 0; i < m[c] && k < MAXP - 1; i += step) x[k] = fpr[c][i], y[k] = tpr[c][i], k++;
        if (m[c] > 0) x[k] = fpr[c][m[c] - 1], y[k] = tpr[c][m[c] - 1], k++; /* always end at (1, 1) */
        plcol0(1 + c);
        plwidth(2);
        plline(k, x, y);
        plwidth(1);
        plptex(0.55, 0.05 + 0.05 * (n_curves - 1 - c), 1, 0, 0, names[c]);
    }
    plend();
    return 0;
}

int eval_plot_confusion(const char *path, const char *title, const int64_t *conf, int K,
                        const char *const *names, char *err, size_t errlen) {
    if (writable(path, err, errlen)) return -1;
    if (setjmp(plot_jmp)) {
        snprintf(err, errlen, "%s: %s", path, plot_msg);
        return -1;
    }
    open_stream(path, 640, 640);
    plenv(0, K, 0, K, 1, -2);  /* no axes: the cells carry their own labels */
    pllab("predicted", "true", title);
    /* cmap1: white -> blue by share of the row */
    PLFLT pos[2] = {0, 1}, r[2] = {1, 0.1}, g[2] = {1, 0.3}, b[2] = {1, 0.75};
    plscmap1l(1, 2, pos, r, g, b, NULL);
    for (int t = 0; t < K; t++) {
        int64_t row = 0;
        for (int p = 0; p < K; p++) row += conf[t * K + p];
        for (int p = 0; p < K; p++) {
            double share = row ? (double)conf[t * K + p] / (double)row : 0;
            /* true class 0 at the top, as in printed confusion matrices */
            PLFLT y0 = K - 1 - t, xs[4] = {p, p + 1, p + 1, p}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
            plcol1(share);
            plfill(4, xs, ys);
            plcol0(share > 0.6 ? 0 : 15);
            char cnt[32];
            snprintf(cnt, sizeof cnt, "%lld", (long long)conf[t * K + p]);
            plptex(p + 0.5, y0 + 0.45, 1, 0, 0.5, cnt);
        }
    }
    plcol0(15);
    plschr(0, 0.8);
    for (int k = 0; k < K; k++) {
        plmtex("b", 1.0, (k + 0.5) / K, 0.5, names[k]);          /* predicted, below */
        plmtex("lv", 1.0, (K - 1 - k + 0.5) / K, 1.0, names[k]);  /* true, left (class 0 on top) */
    }
    plend();
    return 0;
}

int eval_plot_series(const char *path, const char *title, const char *xlabel, const double *x, int n,
                     const double *const *ys, const char *const *names, int n_series, char *err,
                     size_t errlen) {
    if (n < 1 || n_series < 1 || n_series > 8) {
        snprintf(err, errlen, "%s: nothing to plot", path);
        return -1;
    }
    double x0 = x[0], x1 = x[n - 1], y0 = INFINITY, y1 = -INFINITY;
    for (int s = 0; s < n_series; s++)
        for (int i = 0; i < n; i++)
            if (isfinite(ys[s][i])) y0 = fmin(y0, ys[s][i]), y1 = fmax(y1, ys[s][i]);
    if (!isfinite(y0)) y0 = 0, y1 = 1;
    if (y1 - y0 < 1e-12) y0 -= 0.5, y1 += 0.5;
    if (x1 <= x0) x1 = x0 + 1;
    if (writable(path, err, errlen)) return -1;
    if (setjmp(plot_jmp)) {
        snprintf(err, errlen, "%s: %s", path, plot_msg);
        return -1;
    }
    open_stream(path, 800, 500);
    double pad = 0.05 * (y1 - y0);
    plenv(x0, x1, y0 - pad, y1 + pad, 0, 0);
    pllab(xlabel, "", title);
    static PLFLT px[8192], py[8192];
    int step = n > 8192 ? (n + 8191) / 8192 : 1;
    for (int s = 0; s < n_series; s++) {
        int k = 0;
        for (int i = 0; i < n && k < 8192; i += step)
            if (isfinite(ys[s][i])) px[k] = x[i], py[k] = ys[s][i], k++;
        plcol0(1 + s);
        plwidth(2);
        if (k > 1) plline(k, px, py);
        else if (k == 1) plpoin(1, px, py, 17);
        plwidth(1);
        /* the legend: one line per series at the top left */
        plptex(x0 + 0.02 * (x1 - x0), y1 + pad - (s + 1) * 0.06 * (y1 - y0 + 2 * pad), 1, 0, 0, names[s]);
    }
    plend();
    return 0;
}
