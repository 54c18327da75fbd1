/* fd.h: central finite differences for the engine's backward tests.
 * The loss is L = sum_i out_i * r_i (r fixed random), so dout = r. Gradients of fp32 code
 * are compared with loose tolerances (the fp32 forward limits FD accuracy to about
 * eps * |L| / h), tight enough that a wrong formula (errors of order 1) always fails. */
#ifndef MAMA_TEST_FD_H
#define MAMA_TEST_FD_H

#include <stddef.h>

typedef double (*fd_loss_fn)(void *ctx);

/* g (n) = dL/dx by central differences, perturbing x in place (restored afterwards). */
static inline void fd_grad(double *g, float *x, size_t n, fd_loss_fn loss, void *ctx, float h) {
    for (size_t i = 0; i < n; i++) {
        float old = x[i];
        float up = old + h, dn = old - h;
        x[i] = up;
        double lp = loss(ctx);
        x[i] = dn;
        double lm = loss(ctx);
        x[i] = old;
        g[i] = (lp - lm) / ((double)up - (double)dn);
    }
}

static inline double fd_dot(const float *a, const float *r, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * r[i];
    return s;
}

#endif
