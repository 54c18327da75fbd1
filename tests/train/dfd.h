/* dfd.h: central finite differences of a naive DOUBLE reference, the independent oracle of
 * the training ops' backward tests. With the reference in double and h = 1e-5 the
 * difference quotient is exact to about 1e-9 relative, so what a test sees is the fp32
 * error of the engine alone, per element. */
#ifndef MAMA_TEST_DFD_H
#define MAMA_TEST_DFD_H

#include <stddef.h>
#include <stdlib.h>

typedef double (*dfd_fn)(const double *x, void *ctx);

/* g (n) = df/dx at x (n) by central differences with step h * max(1, |x_i|). */
static inline void dfd_grad(double *g, const double *x0, size_t n, dfd_fn f, void *ctx,
                            double h) {
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = x0[i];
    for (size_t i = 0; i < n; i++) {
        double s = h * (x0[i] > 1 || x0[i] < -1 ? (x0[i] < 0 ? -x0[i] : x0[i]) : 1.0);
        x[i] = x0[i] + s;
        double fp = f(x, ctx);
        x[i] = x0[i] - s;
        double fm = f(x, ctx);
        x[i] = x0[i];
        g[i] = (fp - fm) / (2 * s);
    }
    free(x);
}

static inline void dfd_widen(double *d, const float *f, size_t n) {
    for (size_t i = 0; i < n; i++) d[i] = f[i];
}

#endif
